//! The lecture's questions, answered by the checker: credit schemes with direct and indirect addressing, one and two producers and consumers.

use ipclab_sim::check::{self, CheckOptions, Kind, Output, SearchOrder};
use ipclab_sim::lang::{compile, Program};

fn program(source: &str) -> Program {
    compile("t.ipc", source.as_bytes(), &[]).expect("compiles")
}

fn options() -> CheckOptions {
    CheckOptions {
        output: Output::None,
        progress_bar: false,
        jobs: 1,
        max_states: 2_000_000,
        ..CheckOptions::default()
    }
}

const DIRECT_1_1: &str = r#"
const N = 2;
process Producer {
    let item = 0;
    loop { produce item; recv(Consumer, credit); send(Consumer, item); }
}
process Consumer {
    repeat N { send(Producer, 0); }
    loop { recv(Producer, item); send(Producer, 0); consume item; }
}
"#;

const DIRECT_2_1: &str = r#"
const N = 2;
process Producer[2] {
    let item = 0;
    loop { produce item; recv(Consumer, credit); send(Consumer, item); }
}
process Consumer {
    repeat N { send(Producer[0], 0); }
    loop { recv(Producer[0], item); send(Producer[0], 0); consume item; }
}
"#;

const DIRECT_ANY_2_2: &str = r#"
const N = 2;
process Producer[2] {
    let item = 0;
    loop { produce item; recv(ANY, credit); let c = status.source; send(c, item); }
}
process Consumer[2] {
    let k = 0;
    while k < N { send(Producer[(index + k) % 2], 0); k = k + 1; }
    loop { recv(ANY, item); send(status.source, 0); consume item; }
}
"#;

const INDIRECT_1_1: &str = r#"
const N = 2;
kernel { buffer_slots = 4; }
mailbox prodMbox(capacity = 4);
mailbox consMbox(capacity = 4);
process Producer {
    let item = 0;
    loop { produce item; recv(prodMbox, credit); send(consMbox, item); }
}
process Consumer {
    repeat N { send(prodMbox, 0); }
    loop { recv(consMbox, item); send(prodMbox, 0); consume item; }
}
"#;

const INDIRECT_2_2: &str = r#"
const N = 2;
kernel { buffer_slots = 4; }
mailbox prodMbox(capacity = 4);
mailbox consMbox(capacity = 4);
process Producer[2] {
    let item = 0;
    loop { produce item; recv(prodMbox, credit); send(consMbox, item); }
}
process Consumer[2] {
    repeat N { send(prodMbox, 0); }
    loop { recv(consMbox, item); send(prodMbox, 0); consume item; }
}
"#;

/// Both send twice before receiving: with one slot, both can block in a send.
const SEND_SEND_RECV: &str = r#"
kernel { buffer_slots = 1; }
process A { send(B, 1); send(B, 2); recv(B, x); recv(B, y); }
process B { send(A, 1); send(A, 2); recv(A, x); recv(A, y); }
"#;

const HEAD_TO_HEAD: &str = r#"
kernel { buffer_slots = 0; }
process A { send(B, 1); recv(B, x); }
process B { send(A, 2); recv(A, y); }
"#;

fn assert_replays(p: &Program, report: &check::CheckReport, kind: Kind) {
    let finding = report.finding(kind).expect("a finding of this kind");
    let text = finding.schedule.to_string();
    let schedule = check::Schedule::parse(&text).expect("parses back");
    let run = check::replay(p, &schedule, 3).expect("replays");
    assert_eq!(
        Kind::of(&run.verdict),
        Some(kind),
        "replay verdict {:?} for schedule\n{text}",
        run.verdict
    );
}

#[test]
fn direct_credits_one_producer_one_consumer_are_safe() {
    let r = check::check(&program(DIRECT_1_1), &options()).unwrap();
    assert!(r.is_proof_of_safety(), "{r}");
}

#[test]
fn direct_credits_with_two_producers_starve_the_second() {
    let p = program(DIRECT_2_1);
    let r = check::check(&p, &options()).unwrap();
    assert!(r.bound.is_none(), "{r}");
    assert_eq!(r.answer(), "starvation", "{r}");
    let f = r.finding(Kind::Starvation).unwrap();
    let text = format!("{:?}", f.verdict);
    assert!(text.contains("Producer[1]"), "{text}");
    assert_replays(&p, &r, Kind::Starvation);
}

#[test]
fn direct_credits_with_any_and_status_source_work_for_two_of_each() {
    let r = check::check(&program(DIRECT_ANY_2_2), &options()).unwrap();
    assert!(r.is_proof_of_safety(), "{r}");
}

#[test]
fn indirect_credits_are_safe_for_one_and_for_two_of_each() {
    for source in [INDIRECT_1_1, INDIRECT_2_2] {
        let r = check::check(&program(source), &options()).unwrap();
        assert!(r.is_proof_of_safety(), "{r}");
    }
}

#[test]
fn sends_before_receives_deadlock_when_the_buffer_is_too_small_and_the_counterexample_replays() {
    let p = program(SEND_SEND_RECV);
    let r = check::check(&p, &options()).unwrap();
    assert_eq!(r.answer(), "deadlock", "{r}");
    let f = r.finding(Kind::Deadlock).unwrap();
    assert!(f.critical_step.is_some());
    assert_replays(&p, &r, Kind::Deadlock);
}

#[test]
fn head_to_head_rendezvous_sends_deadlock_from_the_start() {
    let p = program(HEAD_TO_HEAD);
    let mut o = options();
    o.order = SearchOrder::BreadthFirst;
    let r = check::check(&p, &o).unwrap();
    let f = r.finding(Kind::Deadlock).expect("deadlock");
    assert_eq!(f.schedule.prefix.len(), 2, "{r}");
    assert_eq!(f.critical_step, Some(0), "{r}");
    assert_replays(&p, &r, Kind::Deadlock);
}

#[test]
fn reduction_stores_fewer_states_and_gives_the_same_answer() {
    for source in [DIRECT_1_1, DIRECT_2_1, INDIRECT_2_2, DIRECT_ANY_2_2] {
        let p = program(source);
        let reduced = check::check(&p, &options()).unwrap();
        let full = check::check(
            &p,
            &CheckOptions {
                reduction: false,
                ..options()
            },
        )
        .unwrap();
        assert_eq!(reduced.answer(), full.answer());
        assert!(
            reduced.stats.states < full.stats.states,
            "{} vs {}",
            reduced.stats.states,
            full.stats.states
        );
    }
}

#[test]
fn breadth_first_with_several_workers_gives_the_same_answer_as_one() {
    for source in [DIRECT_2_1, INDIRECT_2_2, SEND_SEND_RECV, DIRECT_ANY_2_2] {
        let p = program(source);
        let dfs = check::check(&p, &options()).unwrap();
        let answers: Vec<_> = [1, 4]
            .iter()
            .map(|&jobs| {
                let r = check::check(
                    &p,
                    &CheckOptions {
                        order: SearchOrder::BreadthFirst,
                        jobs,
                        ..options()
                    },
                )
                .unwrap();
                (r.answer(), r.stats.states)
            })
            .collect();
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0].0, dfs.answer());
        // The cycle proviso is static: every order explores the same states.
        assert_eq!(answers[0].1, dfs.stats.states);
    }
}

/// The bundled scenarios the jobs test checks (small enough for a test).
const BUNDLED: &[&str] = &[
    "credit-direct",
    "credit-direct-producers",
    "credit-direct-consumers",
    "credit-direct-many",
    "credit-indirect",
    "credit-indirect-producers",
    "credit-indirect-overflow",
    "deadlock-recv-first",
    "refuse-deadlock",
    "dead-sender-timeout",
    "mailbox-many-to-one",
    "mpi-exchange-eager0",
    "mpi-exchange-isend",
];

#[test]
fn one_worker_and_two_give_the_same_answers_and_counts_on_bundled_scenarios() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    for name in BUNDLED {
        let file = dir.join(format!("{name}.ipc"));
        let source = std::fs::read(&file).unwrap();
        let p = compile(&format!("{name}.ipc"), &source, &[]).expect("compiles");
        let run = |jobs: usize| check::check(&p, &CheckOptions { jobs, ..options() }).unwrap();
        let (one, two) = (run(1), run(2));
        assert_eq!(one.order, SearchOrder::DepthFirst, "{name}");
        assert_eq!(two.order, SearchOrder::BreadthFirst, "{name}");
        let kinds = |r: &check::CheckReport| r.findings.iter().map(|f| f.kind).collect::<Vec<_>>();
        assert_eq!(kinds(&one), kinds(&two), "{name}:\n{one}\n{two}");
        assert_eq!(one.bound, two.bound, "{name}");
        if one.bound.is_none() {
            assert_eq!(one.stats.states, two.stats.states, "{name}");
            assert_eq!(one.stats.transitions, two.stats.transitions, "{name}");
        }
        for (a, b) in one.findings.iter().zip(&two.findings) {
            // The same graph, numbered alike: the same counterexamples.
            assert_eq!(a.schedule.prefix, b.schedule.prefix, "{name}");
            assert_eq!(a.schedule.cycle, b.schedule.cycle, "{name}");
            assert_eq!(a.critical_step, b.critical_step, "{name}");
        }
    }
}

#[test]
fn a_timeout_that_may_fire_is_explored_both_ways() {
    let p = program(
        r#"
process R { let r = recv(S, x, timeout = 5); assert r == 0; }
process S { send(R, 1); }
"#,
    );
    let r = check::check(&p, &options()).unwrap();
    assert_eq!(r.answer(), "assertion_failed", "{r}");
    let f = r.finding(Kind::AssertionFailed).unwrap();
    assert!(f
        .schedule
        .prefix
        .iter()
        .any(|c| matches!(c, check::Choice::Timer(0))));
    assert_replays(&p, &r, Kind::AssertionFailed);
}

#[test]
fn bounds_say_which_one_ended_the_search() {
    let p = program(INDIRECT_2_2);
    let r = check::check(
        &p,
        &CheckOptions {
            max_states: 50,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(r.bound, Some(check::Bound::States));
    assert!(!r.is_proof_of_safety());
}

#[test]
fn the_buffer_sweep_finds_the_smallest_safe_buffer() {
    let report = check::sweep(
        HEAD_TO_HEAD.as_bytes(),
        "h.ipc",
        &[],
        check::SweepKey::Buffer,
        &[0, 1, 2]
            .map(check::SweepValue::Value)
            .into_iter()
            .chain([check::SweepValue::Infinite])
            .collect::<Vec<_>>(),
        &options(),
    )
    .unwrap();
    // 3 to 63 were not checked: the bound is said of the settings checked.
    assert_eq!(
        report.summary,
        "deadlocks only when the kernel buffer holds fewer than 1 message, \
         of the settings checked (3 to 63 not checked)",
        "{report}"
    );
}

/// Deadlocks at 0 (both sends fail, A waits), is safe at 1 (only the first
/// is buffered, A sends the tagged message), deadlocks again from 2 (both
/// are buffered).
const SAFE_ONLY_AT_ONE: &str = "process A {\n\
      let r1 = send(B, 1, nonblocking);\n\
      let r2 = send(B, 2, nonblocking);\n\
      if r1 == r2 { recv(B, y); } else { send(B, 5, tag = 7); }\n\
    }\n\
    process B { recv(A, z, tag = 7); }";

#[test]
fn a_sweep_bound_names_the_settings_above_it_that_it_did_not_check() {
    let sweep = |values: &[check::SweepValue]| {
        check::sweep(
            SAFE_ONLY_AT_ONE.as_bytes(),
            "s.ipc",
            &[],
            check::SweepKey::Buffer,
            values,
            &options(),
        )
        .unwrap()
        .summary
    };
    use check::SweepValue::{Infinite, Value};
    assert_eq!(
        sweep(&[Value(0), Value(1)]),
        "deadlocks only when the kernel buffer holds fewer than 1 message, \
         of the settings checked (2 to 64 not checked)"
    );
    assert_eq!(
        sweep(&[Value(0), Value(1), Value(2), Infinite]),
        "deadlock at 0, 2 and inf (64 messages); safe at 1"
    );
}

#[test]
fn a_sweep_with_a_gap_claims_no_bound_it_did_not_check() {
    let source = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/credit-indirect.ipc"
    ))
    .expect("bundled scenario");
    let sweep = |values: &[u64]| {
        let values: Vec<_> = values
            .iter()
            .map(|&v| check::SweepValue::Value(v))
            .collect();
        check::sweep(
            &source,
            "credit-indirect.ipc",
            &[],
            check::SweepKey::Buffer,
            &values,
            &options(),
        )
        .unwrap()
    };
    // 3 is safe: without it the table cannot say where the bound lies.
    let gap = sweep(&[4, 2, 1, 0]);
    assert_eq!(
        gap.summary,
        "deadlocks at 0 to 2, safe at 4; 3 not checked (sweep it for the exact bound), nor 5 to 64"
    );
    let rows: Vec<String> = gap.rows.iter().map(|r| r.value.to_string()).collect();
    assert_eq!(
        rows,
        ["0", "1", "2", "4"],
        "the table runs from the smallest setting up"
    );
    assert_eq!(
        sweep(&[0, 1, 2, 3, 4]).summary,
        "deadlocks only when the kernel buffer holds fewer than 3 messages, \
         of the settings checked (5 to 64 not checked)"
    );
    // A setting left out between two failing ones may be safe (1 of
    // credit-indirect deadlocks, but a program may be safe there): named
    // with the others not checked.
    assert_eq!(
        sweep(&[0, 2, 3]).summary,
        "deadlocks only when the kernel buffer holds fewer than 3 messages, \
         of the settings checked (1 and 4 to 64 not checked)"
    );
    // Safe only at `inf`, and 0 not checked: a gap below the table and up to
    // the kernel's largest buffer.
    let with_inf = check::sweep(
        &source,
        "credit-indirect.ipc",
        &[],
        check::SweepKey::Buffer,
        &[
            check::SweepValue::Value(1),
            check::SweepValue::Value(2),
            check::SweepValue::Infinite,
        ],
        &options(),
    )
    .unwrap();
    assert_eq!(
        with_inf.summary,
        format!(
            "deadlocks at 1 and 2, safe at inf ({} messages); 0 and 3 to {} not checked \
             (sweep them for the exact bound)",
            ipclab_kernel::config::MAX_SLOTS,
            ipclab_kernel::config::MAX_SLOTS - 1
        )
    );
}

#[test]
fn a_sweep_claims_nothing_below_its_lowest_setting_nor_of_rows_without_an_answer() {
    // Fails only when the buffer holds exactly 1 message: the first
    // nonblocking send fits, the second does not.
    let source =
        "process A { let r1 = send(B, 1, nonblocking); let r2 = send(B, 2, nonblocking);\n\
                  if r1 == OK && r2 != OK { assert false; } send(B, 3, tag = 5); }\n\
                  process B { let z; recv(A, z, tag = 5); }\n";
    let sweep = |values: &[u64], options: &CheckOptions, file: &str, source: &str| {
        let values: Vec<check::SweepValue> = values
            .iter()
            .map(|&v| check::SweepValue::Value(v))
            .collect();
        check::sweep(
            source.as_bytes(),
            file,
            &[],
            check::SweepKey::Buffer,
            &values,
            options,
        )
        .unwrap()
        .summary
    };
    assert_eq!(
        sweep(&[0, 1, 2], &options(), "nm.ipc", source),
        "safe at 0 and 2; assertion_failed at 1"
    );
    assert_eq!(
        sweep(&[1, 2, 3], &options(), "nm.ipc", source),
        "fails (assertion_failed) at 1, safe at 2 and 3; 0 not checked (sweep it for the exact bound), nor 4 to 64"
    );
    // Rows a bound stopped are no answer, not unsafe.
    let credit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/credit-indirect.ipc"
    ))
    .unwrap();
    let small = CheckOptions {
        max_states: 100,
        ..options()
    };
    assert_eq!(
        sweep(&[0, 1, 2, 3, 4], &small, "credit-indirect.ipc", &credit),
        "deadlock at 0 to 2; no answer at 3 and 4"
    );
}
