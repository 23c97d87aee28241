//! Stress: the credit and mailbox scenarios on every core (`--threads`), with many sequence-numbered messages.
//!
//! Each consumer asserts, in the scenario, that every item arrives in its
//! sender's order with no gap and no repeat (a lost, duplicated or
//! reordered message is an `assertion_failed` verdict). At the end the run
//! must complete, the kernel's invariants must hold, and its counters must
//! add up: every message accepted was delivered, none is left buffered.
//! The deterministic runner's multi-CPU mode is checked here too.

use ipclab_sim::lang::{compile, Program};
use ipclab_sim::runner::{run, RunOptions, Schedule};
use ipclab_sim::threads::{run_threaded, ThreadOptions};
use ipclab_sim::verdict::{Limit, Verdict};

fn program(source: &str, defines: &[(String, i64)]) -> Program {
    match compile("stress.ipc", source.as_bytes(), defines) {
        Ok(p) => p,
        Err(d) => panic!("{}", d.render(false)),
    }
}

/// Credits, direct addressing, PAIRS independent producer/consumer pairs.
const CREDIT: &str = r#"
const PAIRS = 4;
const N = 3;
const M = 2000;

process Producer[PAIRS] {
    let k = 0;
    let credit;
    repeat M {
        recv(Consumer[index], credit);
        send(Consumer[index], k);
        k = k + 1;
    }
}

process Consumer[PAIRS] {
    let expected = 0;
    let item;
    repeat N { send(Producer[index], 0); }
    repeat M {
        recv(Producer[index], item);
        assert item == expected;
        expected = expected + 1;
        if expected + N <= M { send(Producer[index], 0); }
    }
}

expect completes;
"#;

/// Many producers into one mailbox, one consumer checking each sender's order.
const MAILBOX_FIFO: &str = r#"
const PRODUCERS = 4;
const M = 2000;
const BIG = 1000000;

mailbox box(capacity = 4);

process Producer[PRODUCERS] {
    let k = 0;
    repeat M {
        send(box, index * BIG + k);
        k = k + 1;
    }
}

process Consumer {
    let next[PRODUCERS];
    let item;
    repeat PRODUCERS * M {
        recv(box, item);
        assert item % BIG == next[item / BIG];
        next[item / BIG] = next[item / BIG] + 1;
    }
    let p = 0;
    repeat PRODUCERS {
        assert next[p] == M;
        p = p + 1;
    }
}

expect completes;
"#;

/// Many producers and many consumers on one mailbox (the totals are checked
/// by the kernel's counters).
const MAILBOX_MANY: &str = r#"
const PRODUCERS = 3;
const CONSUMERS = 3;
const M = 1500;

mailbox box(capacity = 2);

process Producer[PRODUCERS] {
    repeat M { send(box, index); }
}

process Consumer[CONSUMERS] {
    let item;
    repeat M { recv(box, item); }
}

expect completes;
"#;

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 16)
}

fn stress(source: &str, messages: u64, rounds: usize) {
    let program = program(source, &[]);
    for round in 0..rounds {
        let result = run_threaded(
            &program,
            ThreadOptions {
                cpus: cores(),
                max_steps: u64::MAX,
                ..ThreadOptions::default()
            },
        )
        .unwrap();
        assert_eq!(
            result.verdict,
            Verdict::Completes,
            "round {round}: {:?}",
            result.verdict
        );
        assert_eq!(result.invariants, Ok(()), "round {round}");
        let s = result.stats;
        assert_eq!(
            s.delivered, messages,
            "round {round}: every message delivered"
        );
        assert_eq!(s.accepted, s.delivered, "round {round}: none lost or left");
        assert_eq!(s.undeliverable, 0, "round {round}");
    }
}

#[test]
fn the_credit_scheme_on_every_core_loses_duplicates_and_reorders_nothing() {
    // Items plus credits.
    stress(CREDIT, 4 * 2000 * 2, 3);
}

#[test]
fn a_mailbox_on_every_core_keeps_each_senders_order() {
    stress(MAILBOX_FIFO, 4 * 2000, 3);
}

#[test]
fn many_producers_and_consumers_on_one_mailbox_on_every_core_lose_nothing() {
    stress(MAILBOX_MANY, 3 * 1500, 3);
}

#[test]
fn a_threaded_run_of_a_deadlock_halts_with_the_deadlock() {
    let source = r#"
        process A { let x; recv(B, x); }
        process B { let x; recv(A, x); }
        expect deadlock;
    "#;
    let result = run_threaded(
        &program(source, &[]),
        ThreadOptions {
            cpus: 2,
            max_steps: 1000,
            ..ThreadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(result.verdict.keyword(), "deadlock");
}

#[test]
fn a_threaded_run_counts_exits_as_steps_as_the_deterministic_runner_does() {
    // A locks and exits (2 steps), B's lock then waits on a dead owner.
    let source = "mutex m;\nprocess A { lock(m); }\nprocess B { lock(m); unlock(m); }";
    let p = program(source, &[]);
    let deterministic =
        ipclab_sim::runner::run(&p, ipclab_sim::runner::RunOptions::default()).expect("boots");
    let threaded = |max_steps| {
        run_threaded(
            &p,
            ThreadOptions {
                cpus: 1,
                max_steps,
                ..ThreadOptions::default()
            },
        )
        .unwrap()
    };
    let full = threaded(1000);
    assert_eq!(full.verdict.keyword(), "blocked_forever");
    assert_eq!(full.steps, deterministic.steps, "{:?}", full.verdict);
    // Cut one step short, A's exit has not happened: still live.
    assert_eq!(threaded(full.steps - 1).verdict.keyword(), "runs");
}

#[test]
fn a_threaded_run_stops_at_the_step_limit_with_runs() {
    let source = r#"
        process P { loop { send(Q, 1); } }
        process Q { let x; loop { recv(P, x); } }
        expect runs;
    "#;
    let result = run_threaded(
        &program(source, &[]),
        ThreadOptions {
            cpus: 2,
            max_steps: 5000,
            ..ThreadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(result.verdict.keyword(), "runs");
    assert_eq!(result.steps, 5000);
    assert_eq!(result.invariants, Ok(()));
}

#[test]
fn a_threaded_run_waiting_past_the_tick_limit_ends_there_with_runs_at_once() {
    // Every process waits for a timer 2^63 ticks away: the clock jumps to
    // the deterministic runner's tick limit and the run ends there, live,
    // instead of ticking 2^63 times under the kernel lock.
    let sleeps = "process A { sleep 9223372036854775807; print \"woke\", clock(); }";
    let waits = "process A { let x; recv(B, x, timeout = 9223372036854775807); }\n\
                 process B { let y; recv(A, y); }";
    for source in [sleeps, waits] {
        let program = program(source, &[]);
        let started = std::time::Instant::now();
        let result = run_with_watchdog(&program, 10, std::time::Duration::from_secs(10))
            .unwrap_or_else(|| panic!("still running after 10 s: {source}"));
        assert!(started.elapsed().as_secs() < 5, "{source}: slow");
        assert_eq!(result.verdict.keyword(), "runs", "{source}");
        assert_eq!(result.limit, Some(Limit::Ticks(100_000)), "{source}");
        assert_eq!(result.ticks, 100_000, "{source}");
        assert!(result.output.is_empty(), "{source}: {:?}", result.output);
        assert_eq!(result.invariants, Ok(()), "{source}");
        // Without --threads: the same verdict, at the same limit.
        let options = RunOptions::default();
        let deterministic = run(&program, options).unwrap();
        assert_eq!(deterministic.limit(&options), result.limit, "{source}");
    }
}

#[test]
fn a_threaded_run_sleeping_within_the_tick_limit_wakes_at_its_timer() {
    let source = "process A { sleep 99999; print \"woke\", clock(); }";
    let result = run_with_watchdog(
        &program(source, &[]),
        10,
        std::time::Duration::from_secs(10),
    )
    .expect("finishes");
    assert_eq!(result.verdict, Verdict::Completes);
    assert_eq!(result.output, ["A: woke 99999"]);
    assert_eq!(result.limit, None);
}

#[test]
fn the_deterministic_runner_interleaves_several_cpus_and_repeats_itself() {
    let program = program(MAILBOX_FIFO, &[("M".to_string(), 30)]);
    for schedule in [Schedule::RoundRobin, Schedule::Random] {
        let options = RunOptions {
            cpus: 3,
            schedule,
            seed: 7,
            max_steps: 100_000,
            ..RunOptions::default()
        };
        let first = run(&program, options).unwrap();
        let again = run(&program, options).unwrap();
        assert_eq!(first.verdict, Verdict::Completes, "{schedule:?}");
        assert_eq!(first.steps, again.steps, "{schedule:?}: deterministic");
        // Several processes were on a CPU at once in some step.
        let most_running = first
            .trace
            .steps
            .iter()
            .map(|s| {
                s.states
                    .iter()
                    .filter(|v| matches!(v, ipclab_sim::trace::ProcView::Running))
                    .count()
            })
            .max()
            .unwrap();
        assert!(
            most_running > 1,
            "{schedule:?}: at most {most_running} running"
        );
        assert!(
            most_running <= 3,
            "{schedule:?}: {most_running} running on 3 CPUs"
        );
    }
}

/// A bundled scenario (`scenarios/NAME.ipc`), compiled as `ipclab run NAME` would.
fn bundled(name: &str) -> Program {
    let path = format!("{}/../scenarios/{name}.ipc", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(path).expect("a bundled scenario");
    program(&source, &[])
}

/// Runs `program` on 2 CPUs in a thread of its own; `None` when it has not
/// finished within `limit` (a deadlocked CPU cannot be stopped, so the run
/// is left behind and the test fails).
fn run_with_watchdog(
    program: &Program,
    max_steps: u64,
    limit: std::time::Duration,
) -> Option<ipclab_sim::threads::ThreadedResult> {
    let (done, finished) = std::sync::mpsc::channel();
    let program = program.clone();
    std::thread::spawn(move || {
        let options = ThreadOptions {
            cpus: 2,
            max_steps,
            ..ThreadOptions::default()
        };
        let _ = done.send(run_threaded(&program, options).unwrap());
    });
    finished.recv_timeout(limit).ok()
}

#[test]
fn a_credit_scheme_stopped_at_the_step_limit_on_two_cpus_runs_every_time() {
    // The race this catches is at the halt (a process put back to ready
    // while its call was still pending, picked by the other CPU): one in
    // a few dozen runs hit it, so the scenarios run many short runs.
    for name in ["credit-direct", "credit-direct-many"] {
        let program = bundled(name);
        for round in 0..300 {
            let result = run_threaded(
                &program,
                ThreadOptions {
                    cpus: 2,
                    max_steps: 300,
                    ..ThreadOptions::default()
                },
            )
            .unwrap();
            assert_eq!(
                result.verdict.keyword(),
                "runs",
                "{name}, round {round}: {:?}",
                result.verdict
            );
            assert_eq!(result.invariants, Ok(()), "{name}, round {round}");
        }
    }
}

#[test]
fn mpi_scenarios_whose_kernel_copies_a_running_ranks_buffer_finish_on_two_cpus() {
    // MPI_Recv taking a buffered or eager message copies from the sending
    // rank's memory while that rank runs on the other CPU; these used to
    // deadlock (kernel lock against the rank's state) in most runs.
    let limit = std::time::Duration::from_secs(5);
    for name in [
        "mpi-exchange-bsend",
        "mpi-exchange-isend",
        "mpi-isend-overlap",
        "mpi-isend-race",
        "mpi-test-poll",
    ] {
        let program = bundled(name);
        for round in 0..40 {
            let Some(result) = run_with_watchdog(&program, 100_000, limit) else {
                panic!("{name}, round {round}: no verdict within {limit:?}");
            };
            // mpi-isend-race expects its buffer race, which the threaded
            // mode does not check (docs/concurrency.md): it must finish.
            if name != "mpi-isend-race" {
                assert_eq!(result.verdict, Verdict::Completes, "{name}, round {round}");
            }
        }
    }
}

#[test]
fn a_threaded_run_of_processes_that_never_call_stops_at_the_step_limit() {
    // Only calls counted as steps once: a busy loop never reached the
    // limit nor saw the halt, and the run never ended.
    let source = r#"
        process Spin { let x = 0; loop { x = x + 1; } }
        process Work { loop { compute 1; } }
        expect runs;
    "#;
    let program = program(source, &[]);
    let Some(result) = run_with_watchdog(&program, 2000, std::time::Duration::from_secs(5)) else {
        panic!("no verdict within 5 s");
    };
    assert_eq!(result.verdict.keyword(), "runs", "{:?}", result.verdict);
    assert_eq!(result.steps, 2000);
}

#[test]
fn a_threaded_run_names_the_producer_the_lecture_code_starves() {
    // The threaded mode once reported no starving process at all, so
    // `expect starvation(Producer[1])` never matched.
    let program = bundled("credit-direct-producers");
    let expected = program.expect.clone().expect("an expect line");
    for cpus in [1, 2] {
        for round in 0..10 {
            let result = run_threaded(
                &program,
                ThreadOptions {
                    cpus,
                    max_steps: 1000,
                    ..ThreadOptions::default()
                },
            )
            .unwrap();
            let Verdict::Runs { starving, .. } = &result.verdict else {
                panic!("{cpus} CPUs, round {round}: {:?}", result.verdict);
            };
            assert!(
                result.verdict.matches(&expected),
                "{cpus} CPUs, round {round}: starving {starving:?}"
            );
            assert_eq!(starving[0].why, "waits in recv(Consumer) [nothing queued]");
        }
    }
}
