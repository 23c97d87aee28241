//! CLI tests of `ipclab check` and `ipclab replay`: the lecture's answers with exit codes, saved counterexamples that replay, sweeps, bounds, bad schedules.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Both send twice before receiving: deadlocks when the kernel buffer holds
/// fewer than 3 messages, and not from the start (the critical step is 2).
const SEND_SEND_RECV: &str = "\
// Both send twice before receiving.
const SLOTS = 2;
kernel { buffer_slots = SLOTS; }
process A { send(B, 1); send(B, 2); recv(B, x); recv(B, y); }
process B { send(A, 1); send(A, 2); recv(A, x); recv(A, y); }
";

/// The head-to-head exchange with plain sends.
const HEAD_TO_HEAD: &str = "\
// Head-to-head: both send first, then receive.
kernel { buffer_slots = 0; }
process A { send(B, 1); recv(B, x); }
process B { send(A, 2); recv(A, y); }
expect deadlock;
";

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ipclab-cli-check-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `ipclab` in `dir` (so default outputs land there, not in the repository).
fn ipclab_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipclab"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The schedule of the report's `that schedule: ipclab replay ...` line
/// (an ending that contradicts the `expect` line), unquoted.
fn that_schedule(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains("that schedule: ipclab replay"))
        .unwrap_or_else(|| panic!("a replay command in:\n{text}"));
    let schedule = line.split("--schedule ").nth(1).unwrap_or_default();
    schedule.trim_matches('\'').to_string()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn both(output: &Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        code(output),
        stdout(output),
        stderr(output)
    )
}

/// The `N` of `counterexample: N steps`.
fn counterexample_steps(text: &str) -> usize {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("counterexample:"))
        .unwrap_or_else(|| panic!("no counterexample line in\n{text}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn credit_indirect_overflow_deadlocks_and_its_saved_counterexample_replays() {
    let dir = scratch("overflow");
    let out = ipclab_in(
        &dir,
        &["check", "credit-indirect-overflow", "--output", "cex"],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "expect deadlock agrees: {}", both(&out));
    assert!(
        text.starts_with("check credit-indirect-overflow.ipc: DEADLOCK"),
        "{text}"
    );
    assert!(text.contains("space exhausted"), "{text}");
    assert!(
        text.contains("Producer waits in send(consMbox) [full 4/4]"),
        "{text}"
    );
    assert!(text.contains("critical step:"), "{text}");
    assert!(
        text.contains("saved to cex/credit-indirect-overflow-deadlock.schedule"),
        "{text}"
    );
    assert!(
        text.contains(
            "replay the deadlock: ipclab replay credit-indirect-overflow --schedule \
             cex/credit-indirect-overflow-deadlock.schedule"
        ),
        "{text}"
    );
    assert!(
        text.contains("expected deadlock: a schedule shows it"),
        "{text}"
    );
    let saved = std::fs::read_to_string(dir.join("cex/credit-indirect-overflow-deadlock.schedule"))
        .unwrap();
    assert!(saved.starts_with("ipclab-schedule 1\n"), "{saved}");
    assert!(saved.contains("# kind: deadlock"), "{saved}");
    assert!(saved.contains("# critical step: "), "{saved}");

    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "credit-indirect-overflow",
            "--schedule",
            "cex/credit-indirect-overflow-deadlock.schedule",
        ],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        text.contains("schedule from cex/credit-indirect-overflow-deadlock.schedule"),
        "{text}"
    );
    assert!(text.contains("critical step: "), "{text}");
    assert!(text.contains("every schedule deadlocks"), "{text}");
    assert!(
        text.contains("deadlock: the processes below wait for each other in a cycle"),
        "{text}"
    );
    assert!(
        text.contains("counterexample (deadlock): reproduced ✓"),
        "{text}"
    );
}

#[test]
fn credit_direct_is_proved_safe() {
    let dir = scratch("direct");
    let out = ipclab_in(&dir, &["check", "credit-direct"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        text.starts_with("check credit-direct.ipc: no violation"),
        "{text}"
    );
    assert!(
        text.contains("space exhausted: no schedule deadlocks"),
        "{text}"
    );
    assert!(
        text.contains("answer: safe (space exhausted: a proof)"),
        "{text}"
    );
    assert!(
        text.contains(
            "expected runs: no schedule violates it, every schedule runs forever (a proof)"
        ),
        "{text}"
    );
    // Nothing to save, so no directory appears.
    assert!(!dir.join("ipclab-counterexamples").exists());
}

#[test]
fn credit_direct_producers_starve_producer_1_and_the_lasso_replays() {
    let dir = scratch("producers");
    let out = ipclab_in(&dir, &["check", "credit-direct-producers"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        text.starts_with("check credit-direct-producers.ipc: STARVATION"),
        "{text}"
    );
    assert!(text.contains("Producer[1]"), "{text}");
    assert!(text.contains("then a cycle of"), "{text}");
    assert!(
        text.contains("starvation: a schedule runs forever"),
        "{text}"
    );
    assert!(
        text.contains("expected starvation(Producer[1]): a schedule shows it"),
        "{text}"
    );
    let file = "ipclab-counterexamples/credit-direct-producers-starvation.schedule";
    assert!(dir.join(file).is_file(), "{text}");
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "credit-direct-producers",
            "--schedule",
            file,
            "--repeat",
            "2",
        ],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(text.contains("the cycle starts"), "{text}");
    assert!(
        text.contains("counterexample (starvation): reproduced ✓"),
        "{text}"
    );
    // A lasso replayed without its cycle would show nothing: refused.
    let args = ["replay", "credit-direct-producers", "--schedule", file];
    let out = ipclab_in(&dir, &[&args[..], &["--repeat", "0"]].concat());
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("0 is not in 1..=10000"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_lasso_names_a_process_that_never_ran_in_its_cycle_not_scheduled() {
    let dir = scratch("not-scheduled");
    let args = ["replay", "credit-direct-producers", "--schedule", "| 0"];
    let out = ipclab_in(&dir, &[&args[..], &["--repeat", "1", "-q"]].concat());
    let text = stdout(&out);
    assert!(
        text.contains("starving: Consumer (ready but not scheduled)"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_check_of_processes_at_different_priorities_says_it_does_not_model_them() {
    let dir = scratch("priorities");
    let note = "priorities are not modelled";
    std::fs::write(
        dir.join("prio.ipc"),
        "process Hi priority 5 { loop { produce x; yield; } }\n\
         process Logger priority 0 { loop { produce y; yield; } }\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "prio.ipc", "--no-save"]);
    assert!(stdout(&out).contains(note), "{}", both(&out));
    // One priority for all, or priorities switched off: nothing to say.
    std::fs::write(
        dir.join("off.ipc"),
        "kernel { priorities = false; }\n\
         process Hi priority 5 { yield; }\nprocess Lo { yield; }\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "off.ipc", "--no-save"]);
    assert!(!stdout(&out).contains(note), "{}", both(&out));
    let out = ipclab_in(&dir, &["check", "credit-direct", "--no-save"]);
    assert!(!stdout(&out).contains(note), "{}", both(&out));
}

#[test]
fn expect_starvation_under_priorities_the_checker_ignores_gets_no_answer() {
    let dir = scratch("priorities-starve");
    // `ipclab run` starves Logger: Hi always has the CPU. Under weak
    // fairness among all ready processes nothing starves it, and that says
    // nothing about the priority scheduler the expect line is about.
    std::fs::write(
        dir.join("prio.ipc"),
        "process Hi priority 5 { loop { produce x; yield; } }\n\
         process Logger priority 0 { loop { produce y; yield; } }\n\
         expect starvation(Logger);\n",
    )
    .unwrap();
    let run = ipclab_in(&dir, &["run", "prio.ipc", "-q"]);
    assert_eq!(code(&run), 0, "{}", both(&run));
    let out = ipclab_in(&dir, &["check", "prio.ipc", "--no-save"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(text.contains("no answer either way"), "{text}");
    assert!(!text.contains("does not match"), "{text}");
    let strict = ipclab_in(&dir, &["check", "prio.ipc", "--no-save", "--strict"]);
    assert_eq!(code(&strict), 3, "{}", both(&strict));
    // With one priority for all, the same program's answer is certain.
    std::fs::write(
        dir.join("same.ipc"),
        "process Hi { loop { produce x; yield; } }\n\
         process Logger { loop { produce y; yield; } }\n\
         expect starvation(Logger);\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "same.ipc", "--no-save"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(stdout(&out).contains("does not match"), "{}", both(&out));
}

#[test]
fn a_deadlock_while_a_third_process_runs_is_named_under_the_starvation() {
    let dir = scratch("deadlock-beside");
    std::fs::write(
        dir.join("beside.ipc"),
        "process A { recv(B, x); send(B, 1); }\n\
         process B { recv(A, y); send(A, 1); }\n\
         process C { loop { produce z; consume z; } }\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "beside.ipc", "--no-save"]);
    let text = stdout(&out);
    assert!(text.starts_with("check beside.ipc: STARVATION"), "{text}");
    assert!(
        text.contains(
            "deadlocked, while others run (none of them can free these): A waits in recv(B)"
        ),
        "{text}"
    );
    // A starvation that no cycle explains has no such line: the producers
    // of credit-direct-producers wait for a consumer that runs.
    let out = ipclab_in(&dir, &["check", "credit-direct-producers", "--no-save"]);
    let text = stdout(&out);
    assert!(text.contains("STARVATION"), "{text}");
    assert!(!text.contains("deadlocked, while others run"), "{text}");
}

#[test]
fn two_processes_that_both_receive_first_from_one_mailbox_deadlock() {
    let dir = scratch("mbox-both-recv");
    std::fs::write(
        dir.join("both.ipc"),
        "mailbox box(capacity = 1);\n\
         process A { recv(box, x); send(box, 1); }\n\
         process B { recv(box, y); send(box, 2); }\n\
         expect deadlock;\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "both.ipc", "--no-save"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(text.starts_with("check both.ipc: DEADLOCK"), "{text}");
    assert!(
        text.contains("A waits in recv(box) [empty] -> B waits in recv(box) [empty] -> A"),
        "{text}"
    );
}

#[test]
fn expect_completes_of_a_program_that_can_run_forever_does_not_match_and_the_schedule_replays() {
    let dir = scratch("completes-forever");
    std::fs::write(
        dir.join("spin.ipc"),
        "process A { loop { yield; } }\nprocess B { send(A, 1); }\nexpect completes;\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "spin.ipc", "--no-save"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        text.contains("every schedule runs forever: no end where every process exits"),
        "{text}"
    );
    assert!(
        text.contains("expected completes: some schedule runs forever, does not match ✗"),
        "{text}"
    );
    // The schedule shown replays as a run that goes on: `runs`, not `completes`.
    let schedule = that_schedule(&text);
    assert!(schedule.contains('|'), "a lasso: {schedule}");
    let out = ipclab_in(&dir, &["replay", "spin.ipc", "--schedule", &schedule, "-q"]);
    assert!(stdout(&out).starts_with("runs"), "{}", both(&out));
    assert_eq!(code(&out), 1, "{}", both(&out));
}

#[test]
fn expect_runs_of_a_program_whose_processes_can_all_exit_does_not_match() {
    let dir = scratch("runs-ends");
    std::fs::write(
        dir.join("both-exit.ipc"),
        "process A { send(B, 1); }\nprocess B { recv(A, x); }\nexpect runs;\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "both-exit.ipc", "--no-save"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        text.contains("every schedule completes: every process exits"),
        "{text}"
    );
    assert!(
        text.contains(
            "expected runs: some schedule completes (every process exits), does not match ✗"
        ),
        "{text}"
    );
    let schedule = that_schedule(&text);
    let out = ipclab_in(
        &dir,
        &["replay", "both-exit.ipc", "--schedule", &schedule, "-q"],
    );
    assert!(stdout(&out).starts_with("completes"), "{}", both(&out));
}

#[test]
fn expect_completes_holds_when_a_polling_loop_ends_under_every_fair_schedule() {
    // A polls a semaphore that B raises: an unfair schedule keeps B off the
    // CPU forever, a fair one cannot, so every (fair) schedule completes.
    let dir = scratch("completes-poll");
    std::fs::write(
        dir.join("poll.ipc"),
        "semaphore s(0);\n\
         process A { let r = P(s, nonblocking); while r != OK { r = P(s, nonblocking); } }\n\
         process B { V(s); }\nexpect completes;\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "poll.ipc", "--no-save"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        text.contains(
            "expected completes: no schedule violates it, every schedule completes (a proof) ✓"
        ),
        "{text}"
    );
}

#[test]
fn an_mpi_test_loop_for_a_message_never_sent_starves_under_run_and_check() {
    let dir = scratch("mpi-test-never");
    std::fs::write(
        dir.join("never.ipc"),
        "process Rank[2] {\n\
             let x = 0;\n\
             MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
             if rank == 0 { MPI_Send(x, 1, MPI_INT, 1, 2, MPI_COMM_WORLD); }\n\
             else {\n\
                 let flag = 0;\n\
                 MPI_Irecv(x, 1, MPI_INT, 0, 3, MPI_COMM_WORLD, &req);\n\
                 while flag == 0 { MPI_Test(&req, &flag, &st); }\n\
             }\n\
         }\n\
         expect completes;\n",
    )
    .unwrap();
    // A test that finds nothing is no progress, as a call failing with EAGAIN.
    let out = ipclab_in(&dir, &["run", "never.ipc", "-q"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(text.contains("starving: Rank[1]"), "{text}");
    let out = ipclab_in(&dir, &["check", "never.ipc", "--no-save"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(text.starts_with("check never.ipc: STARVATION"), "{text}");
    assert!(
        text.contains(
            "starving: Rank[1] (runs, but makes no progress: its MPI_Test calls keep finding nothing)"
        ),
        "{text}"
    );
}

#[test]
fn deadlock_recv_first_deadlocks_from_the_start() {
    let dir = scratch("recv-first");
    let out = ipclab_in(&dir, &["check", "deadlock-recv-first", "--no-save"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        text.starts_with("check deadlock-recv-first.ipc: DEADLOCK"),
        "{text}"
    );
    assert!(text.contains("A waits in recv(B)"), "{text}");
    assert!(text.contains("critical step: from the start"), "{text}");
    // It produces nothing: no word about items.
    assert!(!text.contains("items are abstract"), "{text}");
    // Not saved: the replay command carries the schedule inline, and works.
    let command = text
        .lines()
        .find_map(|l| l.strip_prefix("replay the deadlock: ipclab "))
        .unwrap_or_else(|| panic!("no replay command in\n{text}"));
    assert!(command.contains("--schedule '0 1'"), "{command}");
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "deadlock-recv-first",
            "--schedule",
            "0 1",
            "--quiet",
        ],
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(stdout(&out).starts_with("deadlock:"), "{}", both(&out));
    assert!(!dir.join("ipclab-counterexamples").exists());
}

#[test]
fn a_buffer_sweep_prints_a_table_and_the_smallest_safe_buffer() {
    let dir = scratch("sweep");
    std::fs::write(dir.join("h2h.ipc"), HEAD_TO_HEAD).unwrap();
    let out = ipclab_in(&dir, &["check", "h2h.ipc", "--sweep", "buffer=0,1,2,inf"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "a setting deadlocks: {}", both(&out));
    assert!(text.contains("buffer  answer"), "{text}");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("space exhausted"))
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(rows[0].trim_start().starts_with("0  deadlock"), "{text}");
    assert!(rows[3].trim_start().starts_with("inf  safe"), "{text}");
    assert!(
        text.contains("deadlocks only when the kernel buffer holds fewer than 1 message"),
        "{text}"
    );
    std::fs::write(dir.join("ssr.ipc"), SEND_SEND_RECV).unwrap();
    let out = ipclab_in(&dir, &["check", "ssr.ipc", "--sweep", "buffer=0,1,2,3,inf"]);
    assert!(
        stdout(&out).contains("deadlocks only when the kernel buffer holds fewer than 3 messages"),
        "{}",
        both(&out)
    );
}

#[test]
fn the_mpi_head_to_head_exchange_deadlocks_only_below_the_eager_limit() {
    let dir = scratch("mpi-sweep");
    let out = ipclab_in(
        &dir,
        &[
            "check",
            "mpi-exchange-eager",
            "--sweep",
            "eager=0,32,63,64,inf",
        ],
    );
    let text = stdout(&out);
    assert!(
        text.contains("deadlocks only when the eager limit is below 64 bytes"),
        "{}",
        both(&out)
    );
}

#[test]
fn breadth_first_counterexamples_are_no_longer_than_depth_first_ones() {
    let dir = scratch("bfs");
    std::fs::write(dir.join("ssr.ipc"), SEND_SEND_RECV).unwrap();
    for scenario in ["credit-indirect-overflow", "ssr.ipc"] {
        let dfs = ipclab_in(&dir, &["check", scenario, "--no-save"]);
        let bfs = ipclab_in(&dir, &["check", scenario, "--no-save", "--bfs"]);
        assert_eq!(code(&dfs), code(&bfs));
        assert!(stdout(&bfs).contains("breadth-first"), "{}", both(&bfs));
        assert!(
            counterexample_steps(&stdout(&bfs)) <= counterexample_steps(&stdout(&dfs)),
            "{}\n{}",
            stdout(&bfs),
            stdout(&dfs)
        );
    }
}

#[test]
fn one_and_two_workers_give_the_same_answer() {
    let dir = scratch("jobs");
    let answer = |jobs: &str| {
        let out = ipclab_in(
            &dir,
            &[
                "check",
                "credit-direct-producers",
                "--bfs",
                "--jobs",
                jobs,
                "--no-save",
            ],
        );
        let text = stdout(&out);
        // Everything but the worker count and the timing: the answer,
        // the counts, the counterexample.
        let kept: Vec<String> = text
            .lines()
            .map(|l| match l.split_once("reduction on: ") {
                Some((_, counts)) => counts.split(", depth").next().unwrap().to_string(),
                None => l.to_string(),
            })
            .collect();
        (code(&out), kept)
    };
    let one = answer("1");
    let two = answer("2");
    assert_eq!(one.0, 0);
    assert_eq!(one, two);
}

#[test]
fn compare_reduction_reports_both_counts() {
    let dir = scratch("compare");
    let out = ipclab_in(&dir, &["check", "credit-direct", "--compare-reduction"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(text.contains("reduction on: "), "{text}");
    assert!(text.contains("without reduction: "), "{text}");
}

#[test]
fn a_bound_without_a_violation_is_no_proof_and_fails_only_under_strict() {
    let dir = scratch("bound");
    let out = ipclab_in(&dir, &["check", "credit-indirect", "--max-states", "20"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(text.contains("bound reached: max-states"), "{text}");
    assert!(text.contains("bound reached: no proof"), "{text}");
    let out = ipclab_in(
        &dir,
        &["check", "credit-indirect", "--max-states", "20", "--strict"],
    );
    assert_eq!(code(&out), 3, "{}", both(&out));
}

#[test]
fn without_an_expect_line_a_violation_exits_1_and_a_proof_0() {
    let dir = scratch("no-expect");
    std::fs::write(dir.join("ssr.ipc"), SEND_SEND_RECV).unwrap();
    let out = ipclab_in(&dir, &["check", "ssr.ipc", "--quiet", "--no-save"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        stdout(&out).starts_with("check ssr.ipc: DEADLOCK"),
        "{}",
        both(&out)
    );
    let out = ipclab_in(
        &dir,
        &["check", "ssr.ipc", "-D", "SLOTS=3", "--quiet", "--no-save"],
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(stdout(&out).contains("answer: safe"), "{}", both(&out));
}

#[test]
fn an_answer_that_contradicts_expect_exits_1() {
    let dir = scratch("mismatch");
    let source = HEAD_TO_HEAD.replace("expect deadlock", "expect completes");
    std::fs::write(dir.join("h2h.ipc"), source).unwrap();
    let out = ipclab_in(&dir, &["check", "h2h.ipc", "--no-save"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        stdout(&out).contains("expected completes: some schedule ends in deadlock, does not match"),
        "{}",
        both(&out)
    );
}

#[test]
fn the_critical_step_is_marked_on_the_replayed_timeline() {
    let dir = scratch("critical");
    std::fs::write(dir.join("ssr.ipc"), SEND_SEND_RECV).unwrap();
    let out = ipclab_in(
        &dir,
        &["check", "ssr.ipc", "--output", "s.schedule", "--timeline"],
    );
    let text = stdout(&out);
    assert!(
        text.contains("critical step: after step 2"),
        "{}",
        both(&out)
    );
    assert!(text.contains("saved to s.schedule"), "{text}");
    // The check's own timeline and the replay's both mark it under step 1 (rows count from 0).
    for text in [
        text.clone(),
        stdout(&ipclab_in(
            &dir,
            &["replay", "ssr.ipc", "--schedule", "s.schedule"],
        )),
    ] {
        let lines: Vec<&str> = text.lines().collect();
        let marker = lines
            .iter()
            .position(|l| l.contains("▲ critical step: after this step, every schedule deadlocks"))
            .unwrap_or_else(|| panic!("no marker in\n{text}"));
        let row = lines[..marker]
            .iter()
            .rev()
            .find(|l| {
                l.trim_start()
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            })
            .unwrap();
        assert!(row.trim_start().starts_with("1 "), "{row}\n{text}");
    }
}

#[test]
fn a_bad_schedule_is_a_usage_error_with_a_reason() {
    let dir = scratch("bad-schedule");
    let out = ipclab_in(
        &dir,
        &["replay", "deadlock-recv-first", "--schedule", "0 banana"],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    let err = stderr(&out);
    assert!(
        err.contains("neither a schedule file nor a schedule"),
        "{err}"
    );
    assert!(
        err.contains("`banana` is neither an instance number"),
        "{err}"
    );
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "deadlock-recv-first",
            "--schedule",
            "nope/x.schedule",
        ],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("no schedule file `nope/x.schedule`"),
        "{}",
        both(&out)
    );
    // A schedule made for another scenario: instance 5 does not exist here.
    let out = ipclab_in(
        &dir,
        &["replay", "deadlock-recv-first", "--schedule", "0 5"],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("the schedule does not fit"),
        "{}",
        both(&out)
    );
    // A file that is not a schedule.
    std::fs::write(dir.join("junk.schedule"), "hello\n").unwrap();
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "deadlock-recv-first",
            "--schedule",
            "junk.schedule",
        ],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("not an ipclab schedule"),
        "{}",
        both(&out)
    );
}

#[test]
fn bad_options_are_usage_errors() {
    let dir = scratch("usage");
    for args in [
        &["check", "credit-direct", "--sweep", "quota=1"][..],
        // A sweep saves no counterexample: asking for one is refused.
        &[
            "check",
            "credit-direct",
            "--sweep",
            "buffer=1",
            "--output",
            "x.schedule",
        ],
        // Nor does it compare reductions: refused, not ignored.
        &[
            "check",
            "credit-direct",
            "--sweep",
            "buffer=0,1",
            "--compare-reduction",
        ],
        &["check", "credit-direct", "--time-limit", "0"],
        &["check", "credit-direct", "--jobs", "0"],
        &["check", "credit-direct", "--max-states", "0"],
        &["check", "credit-direct", "--progress", "sometimes"],
        &["check", "no-such-scenario"],
        &["replay", "credit-direct"],
    ] {
        let out = ipclab_in(&dir, args);
        assert_eq!(code(&out), 2, "{args:?}: {}", both(&out));
    }
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = scratch("quiet-stderr");
    let out = ipclab_in(&dir, &["check", "credit-indirect"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn an_expected_starvation_is_not_checked_without_the_analysis() {
    let dir = scratch("no-starvation");
    std::fs::write(
        dir.join("s.ipc"),
        "semaphore s(initial = 1);\n\
         process W[2] { loop { if P(s, nonblocking) == OK { produce x; V(s); } } }\n\
         expect starvation(W[1]);\n",
    )
    .unwrap();
    let checked = ipclab_in(&dir, &["check", "s.ipc", "--jobs", "1", "--no-save"]);
    assert_eq!(code(&checked), 0);
    let off = ipclab_in(
        &dir,
        &[
            "check",
            "s.ipc",
            "--jobs",
            "1",
            "--no-save",
            "--no-starvation",
        ],
    );
    let text = String::from_utf8_lossy(&off.stdout);
    assert!(text.contains("not checked (--no-starvation)"), "{text}");
    assert!(!text.contains("does not match"), "{text}");
    let strict = ipclab_in(
        &dir,
        &[
            "check",
            "s.ipc",
            "--jobs",
            "1",
            "--no-save",
            "--no-starvation",
            "--strict",
        ],
    );
    assert_eq!(
        code(&strict),
        3,
        "no answer either way: inconclusive under --strict"
    );
}

#[test]
fn a_hand_edited_schedule_gets_notes_for_the_comments_it_cannot_use() {
    let dir = scratch("hand-edited");
    std::fs::write(dir.join("h2h.ipc"), HEAD_TO_HEAD).unwrap();
    std::fs::write(
        dir.join("bogus.schedule"),
        "ipclab-schedule 1\n# kind: frobnicate\n# critical step: 99\n0 1\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["replay", "h2h.ipc", "--schedule", "bogus.schedule"]);
    let text = stdout(&out);
    assert!(
        text.contains("`# kind: frobnicate` names no kind of violation"),
        "{text}"
    );
    assert!(
        text.contains("`# critical step: 99` lies past its 2 steps"),
        "{text}"
    );
    let out = ipclab_in(&dir, &["replay", "h2h.ipc", "--schedule", "5"]);
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("there is no instance 5 (the scenario has 2: 0 to 1)"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_schedule_that_runs_out_early_says_so_rather_than_blaming_a_limit() {
    let dir = scratch("runs-out");
    std::fs::write(dir.join("h2h.ipc"), HEAD_TO_HEAD).unwrap();
    let out = ipclab_in(&dir, &["replay", "h2h.ipc", "--schedule", "0", "-q"]);
    let text = stdout(&out);
    assert!(
        text.contains("runs: the schedule ends after 1 step, with processes still able to go on"),
        "{text}"
    );
    assert!(!text.contains("limit"), "{text}");
}

#[test]
fn a_schedule_records_its_overrides_and_replay_notes_a_mismatch() {
    let dir = scratch("overrides");
    std::fs::write(dir.join("ssr.ipc"), SEND_SEND_RECV).unwrap();
    let out = ipclab_in(&dir, &["check", "ssr.ipc", "-D", "SLOTS=1", "--jobs", "1"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let saved = dir.join("ipclab-counterexamples/ssr-deadlock.schedule");
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(text.contains("# overrides: -D SLOTS=1"), "{text}");
    let path = saved.display().to_string();
    let with = ipclab_in(
        &dir,
        &[
            "replay",
            "ssr.ipc",
            "-D",
            "SLOTS=1",
            "--schedule",
            &path,
            "-q",
        ],
    );
    assert!(
        !stdout(&with).contains("note: the schedule was made with"),
        "{}",
        both(&with)
    );
    let without = ipclab_in(&dir, &["replay", "ssr.ipc", "--schedule", &path, "-q"]);
    assert!(
        stdout(&without)
            .contains("note: the schedule was made with -D SLOTS=1 and is replayed with no -D"),
        "{}",
        both(&without)
    );
}

#[test]
fn an_inline_schedule_replayed_with_overrides_gets_no_note_about_them() {
    let dir = scratch("overrides-inline");
    std::fs::write(dir.join("ssr.ipc"), SEND_SEND_RECV).unwrap();
    let out = ipclab_in(
        &dir,
        &[
            "check",
            "ssr.ipc",
            "-D",
            "SLOTS=1",
            "--jobs",
            "1",
            "--no-save",
        ],
    );
    assert_eq!(code(&out), 1, "{}", both(&out));
    // The command `check` prints, typed as it says: an inline schedule
    // carries no comments, so nothing says it was made with other values.
    let text = stdout(&out);
    let command = text
        .lines()
        .find_map(|line| line.strip_prefix("replay the deadlock: "))
        .unwrap_or_else(|| panic!("no replay command in {text}"));
    assert!(command.contains("-D SLOTS=1"), "{command}");
    let schedule = command
        .split("--schedule '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no inline schedule in {command}"));
    let replayed = ipclab_in(
        &dir,
        &[
            "replay",
            "ssr.ipc",
            "-D",
            "SLOTS=1",
            "--schedule",
            schedule,
            "-q",
        ],
    );
    assert_eq!(code(&replayed), 0, "{}", both(&replayed));
    assert!(
        !both(&replayed).contains("note: the schedule was made with"),
        "{}",
        both(&replayed)
    );
}

#[test]
fn a_program_steered_by_clock_gets_no_proof_and_no_certain_answer() {
    let dir = scratch("clock");
    // `run` deadlocks (clock() is 5 when A tests it); the checker's clock
    // stays at 0, so every state it explores takes the other branch.
    std::fs::write(
        dir.join("clock.ipc"),
        "process A { compute 5;\nlet t = clock(); if t > 3 { recv(B, x); } send(B, 1); }\n\
         process B { recv(A, y); }\nexpect deadlock;\n",
    )
    .unwrap();
    let run = ipclab_in(&dir, &["run", "clock.ipc", "-q"]);
    assert_eq!(code(&run), 0, "{}", both(&run));
    let out = ipclab_in(&dir, &["check", "clock.ipc", "--no-save"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(!text.contains("(a proof)"), "{}", both(&out));
    assert!(
        text.contains("clock() is not modelled: line 2"),
        "{}",
        both(&out)
    );
    assert!(
        text.contains("expected deadlock: does not hold with clock() at 0, but line 2 uses clock(): no answer either way"),
        "{}",
        both(&out)
    );
    let strict = ipclab_in(&dir, &["check", "clock.ipc", "--no-save", "--strict"]);
    assert_eq!(code(&strict), 3, "{}", both(&strict));
    // Only printed, clock() changes no answer: a proof as before.
    let out = ipclab_in(&dir, &["check", "mailbox-rendezvous", "--no-save"]);
    assert!(stdout(&out).contains("(a proof)"), "{}", both(&out));
}

#[test]
fn an_expected_starvation_of_a_process_with_no_progress_statement_is_not_checked() {
    let dir = scratch("not-judged");
    std::fs::write(
        dir.join("nj.ipc"),
        "process A { recv(B, x); send(B, 1); }\nprocess B { recv(A, y); send(A, 2); }\n\
         process C { loop { produce z; yield; } }\nexpect starvation(A);\n",
    )
    .unwrap();
    // Under --progress produce, A (no produce) is not judged.
    let args = ["check", "nj.ipc", "--no-save", "--progress", "produce"];
    let out = ipclab_in(&dir, &args);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        stdout(&out).contains("expected starvation(A): not checked: A has no progress statement"),
        "{}",
        both(&out)
    );
    // The hint names another definition, not the one in use.
    assert!(
        stdout(&out).contains("the default, --progress items, judges it by its produce"),
        "{}",
        both(&out)
    );
    // By default, A (no items) is judged by its calls and starves, as
    // `run` says.
    let out = ipclab_in(&dir, &["check", "nj.ipc", "--no-save"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        stdout(&out).contains("a schedule shows it ✓"),
        "{}",
        both(&out)
    );
    // A process that only computes has nothing to be kept from, under any
    // --progress: the expectation cannot hold, and no option is proposed.
    std::fs::write(
        dir.join("spin.ipc"),
        "process Spinner { loop { compute 1; } }\nprocess B { recv(Spinner, x); }\n\
         expect starvation(Spinner);\n",
    )
    .unwrap();
    let out = ipclab_in(
        &dir,
        &["check", "spin.ipc", "--no-save", "--progress", "any-call"],
    );
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        stdout(&out).contains("Spinner can reach no produce, consume or system call"),
        "{}",
        both(&out)
    );
    assert!(
        !stdout(&out).contains("--progress any-call judges"),
        "{}",
        both(&out)
    );
}

#[test]
fn an_instance_whose_own_branch_only_computes_is_not_judged_for_starvation() {
    // W[0] takes the `index == 0` branch, which only computes: as for a
    // process declared on its own that only computes, neither `run` nor
    // `check` names it starving, and `expect starvation(W[0])` says why.
    let dir = scratch("branch-computes");
    std::fs::write(
        dir.join("branch.ipc"),
        "process W[2] { if index == 0 { loop { compute 1; } } else { loop { yield; } } }\n\
         expect starvation(W[0]);\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "branch.ipc", "--no-save"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        stdout(&out).contains("W[0] can reach no produce, consume or system call"),
        "{}",
        both(&out)
    );
    assert!(!stdout(&out).contains("STARVATION"), "{}", both(&out));
    let out = ipclab_in(&dir, &["run", "branch.ipc", "-q"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(!stdout(&out).contains("starving"), "{}", both(&out));
}

#[test]
fn run_check_and_replay_say_alike_why_a_retrying_process_starves() {
    let dir = scratch("retry");
    let cases = [
        (
            "timeout.ipc",
            "process A { loop { let r = recv(B, x, timeout = 1); if r == OK { consume x; } } }\n\
             process B { loop { produce y; yield; } }\nexpect starvation(A);\n",
            "starving: A (runs, but makes no progress: its calls keep failing with ETIMEDOUT)",
        ),
        (
            "poll.ipc",
            "process A { loop { let r = recv(B, x, nonblocking); if r == OK { consume x; } } }\n\
             process B { loop { produce y; yield; } }\nexpect starvation(A);\n",
            "starving: A (runs, but makes no progress: its calls keep failing with EAGAIN)",
        ),
    ];
    for (file, source, why) in cases {
        std::fs::write(dir.join(file), source).unwrap();
        let run = ipclab_in(&dir, &["run", file, "-q", "--width", "200"]);
        assert!(stdout(&run).contains(why), "{}", both(&run));
        let check = ipclab_in(&dir, &["check", file]);
        assert!(stdout(&check).contains(why), "{}", both(&check));
        let schedule = format!(
            "ipclab-counterexamples/{}-starvation.schedule",
            &file[..file.len() - 4]
        );
        let replay = ipclab_in(
            &dir,
            &[
                "replay",
                file,
                "--schedule",
                &schedule,
                "-q",
                "--width",
                "200",
            ],
        );
        assert!(stdout(&replay).contains(why), "{}", both(&replay));
    }
}

#[test]
fn replay_refuses_choices_past_a_program_error_and_notes_another_scenario() {
    let dir = scratch("past-error");
    std::fs::write(
        dir.join("div.ipc"),
        "process A { let z = 0; let x = 5 / z; print x; }\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["replay", "div.ipc", "--schedule", "0 0 0"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains(
            "step 2: the run ended at step 1 with a program error; the schedule has 2 more choices"
        ),
        "{}",
        both(&out)
    );
    let out = ipclab_in(&dir, &["replay", "div.ipc", "--schedule", "0"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    // A schedule saved for one scenario, replayed on another.
    let out = ipclab_in(&dir, &["check", "deadlock-recv-first", "-q"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let saved = "ipclab-counterexamples/deadlock-recv-first-deadlock.schedule";
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "credit-indirect-overflow",
            "--schedule",
            saved,
            "-q",
        ],
    );
    assert!(
        stdout(&out).contains("note: the schedule was made for deadlock-recv-first.ipc and is replayed on credit-indirect-overflow.ipc"),
        "{}",
        both(&out)
    );
    // A timer of an instance the scenario does not have.
    let out = ipclab_in(&dir, &["replay", "credit-direct", "--schedule", "t5"]);
    assert!(
        stderr(&out).contains("there is no instance 5"),
        "{}",
        both(&out)
    );
}

#[test]
fn schedule_files_with_a_byte_order_mark_replay_and_directories_are_named() {
    let dir = scratch("bom");
    let out = ipclab_in(&dir, &["check", "deadlock-recv-first", "-q"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let saved = dir.join("ipclab-counterexamples/deadlock-recv-first-deadlock.schedule");
    let text = std::fs::read_to_string(&saved).unwrap();
    std::fs::write(dir.join("bom.schedule"), format!("\u{feff}{text}")).unwrap();
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "deadlock-recv-first",
            "--schedule",
            "bom.schedule",
            "-q",
        ],
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(stdout(&out).contains("reproduced ✓"), "{}", both(&out));
    std::fs::write(dir.join("bad.schedule"), b"ipclab-schedule 1\n0 \xff 1\n").unwrap();
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "deadlock-recv-first",
            "--schedule",
            "bad.schedule",
        ],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("bad.schedule is not UTF-8 text: byte 0xff at line 2, column 3"),
        "{}",
        both(&out)
    );
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "deadlock-recv-first",
            "--schedule",
            "ipclab-counterexamples",
        ],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(stderr(&out).contains("is a directory"), "{}", both(&out));
}

#[test]
fn a_counterexample_that_cannot_be_saved_is_said_on_stderr_even_when_quiet() {
    let dir = scratch("unsaved");
    std::fs::write(dir.join("afile"), "").unwrap();
    let out = ipclab_in(
        &dir,
        &[
            "check",
            "deadlock-recv-first",
            "-q",
            "--output",
            "afile/sub",
        ],
    );
    assert!(
        stderr(&out).contains("could not save the deadlock counterexample: afile/sub/deadlock-recv-first-deadlock.schedule:"),
        "{}",
        both(&out)
    );
    // The replay command then carries the schedule inline.
    let out = ipclab_in(
        &dir,
        &["check", "deadlock-recv-first", "--output", "afile/sub"],
    );
    assert!(!stdout(&out).contains("--schedule afile"), "{}", both(&out));
    let out = ipclab_in(
        &dir,
        &["check", "deadlock-recv-first", "--output", "x", "--no-save"],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
}

#[test]
fn huge_time_limits_mean_no_limit_and_inf_is_one_sweep_row_with_its_number() {
    let dir = scratch("limits");
    for limit in ["1e20", "18446744073709551616", "1e400"] {
        let out = ipclab_in(
            &dir,
            &["check", "credit-direct", "-q", "--time-limit", limit],
        );
        assert_eq!(code(&out), 0, "{limit}: {}", both(&out));
        assert!(
            stdout(&out).contains("(a proof)"),
            "{limit}: {}",
            both(&out)
        );
    }
    let out = ipclab_in(
        &dir,
        &["check", "credit-direct", "-q", "--time-limit", "NaN"],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    let out = ipclab_in(
        &dir,
        &["check", "credit-direct", "--sweep", "buffer=64,inf"],
    );
    let rows = stdout(&out)
        .lines()
        .filter(|l| l.contains("space exhausted"))
        .count();
    assert_eq!(rows, 1, "{}", both(&out));
}

#[test]
fn a_sweep_value_past_any_number_is_said_too_large_not_a_non_number() {
    let dir = scratch("sweep-values");
    let out = ipclab_in(
        &dir,
        &[
            "check",
            "credit-direct",
            "--sweep",
            "eager=99999999999999999999",
        ],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("`99999999999999999999` is too large a number"),
        "{}",
        both(&out)
    );
    let out = ipclab_in(&dir, &["check", "credit-direct", "--sweep", "eager=many"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("`many` is neither a number nor `inf`"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_bounded_search_without_reduction_says_it_was_bounded_too() {
    let dir = scratch("compare-bounded");
    std::fs::write(
        dir.join("count.ipc"),
        "process A { let n = 0; loop { n = n + 1; send(B, n); } }\n\
         process B { loop { recv(A, x); assert x > 0; } }\n",
    )
    .unwrap();
    let out = ipclab_in(
        &dir,
        &[
            "check",
            "count.ipc",
            "--no-save",
            "--max-states",
            "500",
            "--compare-reduction",
        ],
    );
    assert!(
        stdout(&out).contains("(bound reached: max-states; there are more)"),
        "{}",
        both(&out)
    );
}

#[test]
fn control_characters_in_a_mailbox_name_reach_neither_the_report_nor_the_timeline_raw() {
    let dir = scratch("control-name");
    std::fs::write(
        dir.join("esc.ipc"),
        "process A { let h = mbox_create(\"\x1b[31mZ\x07\\n\", capacity = 0); mbox_send(h, 1); }\n\
         process B { recv(A, x); }\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "esc.ipc", "--no-save", "--timeline"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
    // In the report, in a state cell of the timeline, and in its verdict.
    assert!(
        text.contains("  A waits in send(\\e[31mZ\\x07\\n) [rendezvous"),
        "{text}"
    );
    assert!(text.contains(" BLK send(\\e[31mZ\\x07\\n)"), "{text}");
    // No line starts with the rest of a name cut by a raw newline.
    assert!(!text.lines().any(|l| l.starts_with(')')), "{text}");
}

#[test]
fn a_strict_sweep_of_a_program_steered_by_clock_is_inconclusive() {
    let dir = scratch("sweep-clock");
    std::fs::write(
        dir.join("c2.ipc"),
        "process A { let t = clock(); if t > 5 { recv(B, y); } send(B, 1); }\n\
         process B { recv(A, x); }\nexpect completes;\n",
    )
    .unwrap();
    let out = ipclab_in(
        &dir,
        &["check", "c2.ipc", "--sweep", "buffer=0,1", "--strict"],
    );
    assert_eq!(code(&out), 3, "{}", both(&out));
    assert!(
        stdout(&out).contains("\nno answer at 0 and 1\n"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_sweep_whose_rows_agree_claims_only_the_settings_it_checked() {
    let dir = scratch("every-setting");
    let out = ipclab_in(
        &dir,
        &["check", "credit-indirect", "--sweep", "buffer=3,inf"],
    );
    assert!(
        stdout(&out).contains("safe at every setting checked: 3 and inf (64 messages)"),
        "{}",
        both(&out)
    );
    // Rows that rest on clock() at 0 are no answer, not violations.
    let out = ipclab_in(&dir, &["check", "mailbox-async", "--sweep", "buffer=0,inf"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        stdout(&out).contains("\nno answer at 0 and inf (64 messages)\n"),
        "{}",
        both(&out)
    );
    // A number above the kernel's largest setting is a usage error naming
    // the option, not a row the kernel refuses to boot.
    let out = ipclab_in(&dir, &["check", "credit-direct", "--sweep", "buffer=2,65"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("`65` is above the kernel's largest setting, 64 kernel buffer slots"),
        "{}",
        both(&out)
    );
    let out = ipclab_in(
        &dir,
        &[
            "check",
            "mailbox-async",
            "--sweep",
            "buffer=0,inf",
            "--strict",
        ],
    );
    assert_eq!(code(&out), 3, "{}", both(&out));
}

#[test]
fn a_process_whose_calls_complete_but_that_never_produces_is_said_so() {
    let dir = scratch("busy");
    std::fs::write(
        dir.join("spin.ipc"),
        "process A { produce x; loop { yield; } }\nprocess B { loop { produce y; consume y; } }\n",
    )
    .unwrap();
    let why = "starving: A (runs and its calls complete, but it neither produces nor consumes)";
    let check = ipclab_in(&dir, &["check", "spin.ipc"]);
    assert!(stdout(&check).contains(why), "{}", both(&check));
    let schedule = "ipclab-counterexamples/spin-starvation.schedule";
    let replay = ipclab_in(
        &dir,
        &[
            "replay",
            "spin.ipc",
            "--schedule",
            schedule,
            "-q",
            "--width",
            "200",
        ],
    );
    assert!(stdout(&replay).contains(why), "{}", both(&replay));
}

#[test]
fn replay_reads_a_pipe_names_an_assertion_and_escapes_what_it_quotes() {
    let dir = scratch("replay-more");
    std::fs::write(dir.join("s.schedule"), "ipclab-schedule 1\n0 1\n").unwrap();
    // A path that is not a regular file (as `<(...)` gives) is read.
    let out = ipclab_in(
        &dir,
        &["replay", "deadlock-recv-first", "--schedule", "/dev/null"],
    );
    assert!(
        stderr(&out).contains("/dev/null: not an ipclab schedule: the text is empty"),
        "{}",
        both(&out)
    );
    std::fs::write(dir.join("nul.schedule"), b"ipclab-schedule 1\n1\0\n").unwrap();
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "deadlock-recv-first",
            "--schedule",
            "nul.schedule",
        ],
    );
    assert!(
        stderr(&out)
            .contains("nul.schedule looks like a binary file (a NUL byte at line 2, column 2)"),
        "{}",
        both(&out)
    );
    assert!(!stderr(&out).contains('\0'), "{}", both(&out));
    // A device that never ends is refused at its first byte, not read.
    let out = ipclab_in(
        &dir,
        &["replay", "deadlock-recv-first", "--schedule", "/dev/zero"],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("/dev/zero looks like a binary file"),
        "{}",
        both(&out)
    );
    std::fs::write(dir.join("a.ipc"), "process A { assert 1 == 2; }\n").unwrap();
    let out = ipclab_in(&dir, &["replay", "a.ipc", "--schedule", "0 0"]);
    assert!(
        stderr(&out).contains("ended at step 1 with a failed assertion"),
        "{}",
        both(&out)
    );
    let out = ipclab_in(&dir, &["check", "a.ipc", "--no-save"]);
    assert!(
        stdout(&out).contains("counterexample: 1 step\n"),
        "{}",
        both(&out)
    );
    // -D with a constant's own value makes the same scenario: no note.
    std::fs::write(
        dir.join("dn.ipc"),
        "const N = 10;\nprocess A { repeat N { yield; } recv(B, x); }\nprocess B { recv(A, y); }\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "dn.ipc", "-q", "--output", "dn.schedule"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "dn.ipc",
            "-D",
            "N=10",
            "--schedule",
            "dn.schedule",
            "-q",
        ],
    );
    assert!(!stdout(&out).contains("note:"), "{}", both(&out));
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "dn.ipc",
            "-D",
            "N=11",
            "--schedule",
            "dn.schedule",
            "-q",
        ],
    );
    assert!(
        stdout(&out).contains("note: the schedule was made with no -D"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_starvation_schedule_whose_cycle_is_unfair_is_refused_and_replays_without_the_claim() {
    let dir = scratch("unfair");
    std::fs::write(
        dir.join("s.ipc"),
        "process A { loop { send(B, x); recv(B, x); } }\n\
         process B { loop { recv(A, y); send(A, y); } }\n\
         process S { loop { yield; } }\n",
    )
    .unwrap();
    // Only S runs in the cycle, while A stays ready: not weakly fair, so
    // not the starvation `check` looks for (and proves absent).
    let proof = ipclab_in(&dir, &["check", "s.ipc", "-q"]);
    assert_eq!(code(&proof), 0, "{}", both(&proof));
    std::fs::write(
        dir.join("unfair.schedule"),
        "ipclab-schedule 1\n# kind: starvation\n2\n| 2\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["replay", "s.ipc", "--schedule", "unfair.schedule"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot replay s.ipc: the cycle is not weakly fair: A is ready in every state of it and never runs"),
        "{err}"
    );
    assert!(!err.contains("another scenario"), "{err}");
    // Without the claim, the same schedule replays as it is.
    std::fs::write(dir.join("plain.schedule"), "ipclab-schedule 1\n2\n| 2\n").unwrap();
    let out = ipclab_in(
        &dir,
        &["replay", "s.ipc", "--schedule", "plain.schedule", "-q"],
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        stdout(&out).contains("starving: A (ready but not scheduled)"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_schedule_that_does_not_fit_names_the_overrides_it_was_made_with() {
    let dir = scratch("misfit-overrides");
    std::fs::write(dir.join("ssr.ipc"), SEND_SEND_RECV).unwrap();
    // At SLOTS=0 the first sends block, so the deadlock schedule made at
    // SLOTS=1 asks for a process that is not ready.
    let out = ipclab_in(&dir, &["check", "ssr.ipc", "-D", "SLOTS=1", "--jobs", "1"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let path = dir
        .join("ipclab-counterexamples/ssr-deadlock.schedule")
        .display()
        .to_string();
    let out = ipclab_in(
        &dir,
        &["replay", "ssr.ipc", "-D", "SLOTS=0", "--schedule", &path],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains(
            "it was made with -D SLOTS=1 and is replayed with -D SLOTS=0: \
             replay it with the same -D values"
        ),
        "{}",
        both(&out)
    );
}

#[test]
fn choices_left_after_the_run_ended_say_how_it_ended() {
    let dir = scratch("too-long");
    let out = ipclab_in(
        &dir,
        &["replay", "deadlock-recv-first", "--schedule", "0 1 0"],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "step 3: the run ended at step 2 with a deadlock; the schedule has 1 more choice \
             than the run can take"
        ),
        "{err}"
    );
    // A lasso whose cycle cannot go round is said so, not counted unrolled.
    let out = ipclab_in(
        &dir,
        &["replay", "deadlock-recv-first", "--schedule", "0 1 | 0"],
    );
    assert!(
        stderr(&out).contains(
            "the run ended at step 2 with a deadlock, so the schedule's cycle cannot repeat"
        ),
        "{}",
        both(&out)
    );
    // Nothing says it was made elsewhere: no guess that it was.
    assert!(!err.contains("another scenario"), "{err}");
    std::fs::write(dir.join("one.ipc"), "process A { }\n").unwrap();
    let out = ipclab_in(&dir, &["replay", "one.ipc", "--schedule", "0 0 0"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains(
            "the run ended at step 1 with every process exited; the schedule has 2 more choices"
        ),
        "{}",
        both(&out)
    );
}

#[test]
fn an_output_path_that_is_a_file_is_said_to_be_no_directory() {
    let dir = scratch("output-file");
    std::fs::write(dir.join("plainfile"), "hi\n").unwrap();
    let out = ipclab_in(
        &dir,
        &["check", "deadlock-recv-first", "--output", "plainfile"],
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        stderr(&out).contains(
            "could not save the deadlock counterexample: plainfile is a file, not a directory"
        ),
        "{}",
        both(&out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("plainfile")).unwrap(),
        "hi\n"
    );
    // A name ending in `.schedule/` is a directory, as its slash says.
    let out = ipclab_in(
        &dir,
        &["check", "deadlock-recv-first", "--output", "cx.schedule/"],
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(dir
        .join("cx.schedule/deadlock-recv-first-deadlock.schedule")
        .is_file());
    // Under a device: not a directory, not "File exists".
    if Path::new("/dev/null").exists() {
        let out = ipclab_in(
            &dir,
            &[
                "check",
                "deadlock-recv-first",
                "--output",
                "/dev/null/x.schedule",
            ],
        );
        assert!(
            stderr(&out).contains(
                "could not save the deadlock counterexample: /dev/null is not a directory"
            ),
            "{}",
            both(&out)
        );
    }
}

#[test]
fn a_replayed_json_trace_gives_its_own_length_as_max_steps() {
    let dir = scratch("replay-json");
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "deadlock-recv-first",
            "--schedule",
            "0 1",
            "--json",
        ],
    );
    let text = stdout(&out);
    let header = text.lines().next().unwrap_or("");
    assert!(header.contains("\"max_steps\":2"), "{header}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("\"type\":\"step\""))
            .count(),
        2,
        "{text}"
    );
}

#[test]
fn output_that_cannot_be_written_is_an_error() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    for args in [
        &["run", "credit-direct"][..],
        &["check", "--help"],
        &["--version"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ipclab"))
            .args(args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {}", both(&out));
        assert!(
            stderr(&out).contains("could not write the output"),
            "{args:?}: {}",
            both(&out)
        );
    }
}

#[test]
fn an_isend_still_pending_at_its_senders_exit_is_flagged_by_require_empty() {
    let dir = scratch("isend-exit");
    std::fs::write(
        dir.join("ie.ipc"),
        "kernel { eager_limit = 0; }\n\
         process Rank[2] { let x = 1; \
         if index == 0 { MPI_Isend(x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, &req); } }\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "ie.ipc", "--require-empty"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(text.starts_with("check ie.ipc: NOT_EMPTY"), "{text}");
    assert!(
        text.contains("1 message is never received (cancelled): its sender exited"),
        "{text}"
    );
    // Its replay reproduces it, and the totals count the cancelled send.
    let path = dir.join("ipclab-counterexamples/ie-not_empty.schedule");
    let path = path.display().to_string();
    let out = ipclab_in(&dir, &["replay", "ie.ipc", "--schedule", &path]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(stdout(&out).contains("1 send cancelled"), "{}", both(&out));
    // Without the option the program is safe: the send was cancelled, not lost.
    let out = ipclab_in(&dir, &["check", "ie.ipc", "--no-save"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
}

#[test]
fn a_counterexample_that_fires_a_timer_says_time_is_abstract() {
    let dir = scratch("timer-note");
    std::fs::write(
        dir.join("t.ipc"),
        "process A { let r = recv(B, x, timeout = 10); if r != OK { exit; } send(B, 1); }\n\
         process B { sleep 3; send(A, 1); recv(A, y); }\nexpect completes;\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "t.ipc", "--no-save"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        text.contains("it fires a timer (tK): time is abstract here"),
        "{text}"
    );
    // A counterexample without a timer has no such line.
    let out = ipclab_in(&dir, &["check", "deadlock-recv-first", "--no-save"]);
    assert!(
        !stdout(&out).contains("time is abstract here"),
        "{}",
        both(&out)
    );
}

#[test]
fn how_schedules_end_under_priorities_or_clock_gets_no_answer_either_way() {
    let dir = scratch("ending-unknown");
    // A poller above its releaser: under fair turns it completes, under the
    // priority scheduler it spins forever. The checker does not model that.
    std::fs::write(
        dir.join("pr.ipc"),
        "semaphore s(initial = 0);\n\
         process A priority 7 { let r = P(s, nonblocking); while r != 0 { r = P(s, nonblocking); } }\n\
         process B { V(s); }\nexpect completes;\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "pr.ipc", "--strict", "--no-save"]);
    assert_eq!(code(&out), 3, "{}", both(&out));
    assert!(
        stdout(&out).contains("priorities are not modelled and may keep a process off the CPU forever: no answer either way"),
        "{}",
        both(&out)
    );
    // With clock() at 0 this program spins forever: "does not hold" there.
    std::fs::write(
        dir.join("ck.ipc"),
        "process A { let t = clock(); if t == 0 { loop { yield; } } }\n\
         process B { compute 1; }\nexpect completes;\n",
    )
    .unwrap();
    let out = ipclab_in(&dir, &["check", "ck.ipc", "--no-save"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        stdout(&out).contains("expected completes: does not hold with clock() at 0"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_replayed_trace_orders_each_step_s_events_as_run_does() {
    let dir = scratch("replay-json-order");
    // The event types of a trace, step by step (ticks and the RUN/READY
    // views differ by design: time is abstract in a replay).
    let types = |out: &Output| -> Vec<String> {
        stdout(out)
            .lines()
            .filter_map(|line| {
                let at = line.find("\"type\":\"")? + 8;
                let rest = &line[at..];
                Some(rest[..rest.find('"')?].to_string())
            })
            .filter(|t| t != "run")
            .collect()
    };
    let run = ipclab_in(&dir, &["run", "deadlock-recv-first", "--json"]);
    let replay = ipclab_in(
        &dir,
        &[
            "replay",
            "deadlock-recv-first",
            "--schedule",
            "0 1",
            "--json",
        ],
    );
    assert_eq!(code(&replay), 0, "{}", both(&replay));
    let (run, replay) = (types(&run), types(&replay));
    assert!(
        run.starts_with(&["step".to_string(), "switch".into(), "syscall".into()]),
        "{run:?}"
    );
    assert_eq!(run, replay);
}

#[test]
fn a_proof_for_an_mpi_program_names_the_buffering_it_holds_for_and_the_sweep() {
    let dir = scratch("eager-note");
    let out = ipclab_in(&dir, &["check", "mpi-exchange-eager"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        text.contains("note: proved with eager_limit = 64 B and buffer_slots = 8")
            && text.contains("ipclab check mpi-exchange-eager --sweep eager=0,inf"),
        "{text}"
    );
    // Not for a program without MPI, nor for a counterexample.
    let out = ipclab_in(&dir, &["check", "credit-direct"]);
    assert!(
        !stdout(&out).contains("note: proved with"),
        "{}",
        both(&out)
    );
    let out = ipclab_in(&dir, &["check", "mpi-exchange-large"]);
    assert!(
        !stdout(&out).contains("note: proved with"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_schedule_file_without_choices_is_refused_and_a_foreign_one_claims_nothing() {
    let dir = scratch("replay-foreign");
    // Cut short in its comments: no choices left.
    std::fs::write(dir.join("cut.schedule"), "ipclab-schedule 1\n# scenario: ").unwrap();
    let out = ipclab_in(
        &dir,
        &["replay", "credit-direct", "--schedule", "cut.schedule"],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).contains("schedule file `cut.schedule` has no choices"),
        "{}",
        both(&out)
    );
    // A deadlock counterexample of one scenario, replayed on another it fits.
    let out = ipclab_in(&dir, &["check", "deadlock-recv-first", "-q"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let saved = "ipclab-counterexamples/deadlock-recv-first-deadlock.schedule";
    let out = ipclab_in(
        &dir,
        &[
            "replay",
            "credit-direct",
            "--schedule",
            saved,
            "--color",
            "never",
        ],
    );
    let text = stdout(&out);
    assert!(
        text.starts_with("note: the schedule was made for deadlock-recv-first.ipc"),
        "the note comes first: {text}"
    );
    assert!(
        text.contains("are that scenario's: not used here"),
        "{text}"
    );
    assert!(
        !text.contains("every schedule deadlocks"),
        "no marker: {text}"
    );
    assert!(!text.contains("counterexample (deadlock)"), "{text}");
    // Judged by credit-direct's `expect runs`, as an inline schedule is.
    assert_eq!(code(&out), 0, "{}", both(&out));
}

#[test]
fn an_expected_deadlock_among_some_processes_while_others_run_says_why_it_does_not_match() {
    // A and B deadlock; C runs forever. `deadlock` is a stuck world, so
    // the expectation does not match, and both commands say why.
    let dir = scratch("partial-deadlock");
    std::fs::write(
        dir.join("partial.ipc"),
        "process A { recv(B, x); send(B, 1); }\n\
         process B { recv(A, y); send(A, 1); }\n\
         process C { loop { produce item; consume item; } }\n\
         expect deadlock;\n",
    )
    .unwrap();
    let note = "A and B deadlock while others run";
    let out = ipclab_in(&dir, &["check", "partial.ipc"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        stdout(&out).contains(&format!(
            "expected deadlock: no schedule shows it (space exhausted); {note}"
        )),
        "{}",
        both(&out)
    );
    let out = ipclab_in(&dir, &["run", "partial.ipc", "-q", "--width", "400"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        stdout(&out).contains(&format!("expected deadlock: got starvation(A, B): {note}")),
        "{}",
        both(&out)
    );
}
