//! Semaphores, mutexes, condition variables and shared variables in scenarios: the language, the runner's explanations, and the checker on the user-level mailbox and its broken variants.

use std::path::PathBuf;

use ipclab_sim::check::{self, CheckOptions, Kind, Output};
use ipclab_sim::lang::{compile, Program};
use ipclab_sim::runner::{run, RunOptions};
use ipclab_sim::verdict::Verdict;

fn scenario(name: &str) -> Program {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.ipc"));
    let source = std::fs::read(&path).expect("a readable scenario");
    compile(&format!("{name}.ipc"), &source, &[]).expect("compiles")
}

fn program(source: &str) -> Program {
    match compile("t.ipc", source.as_bytes(), &[]) {
        Ok(p) => p,
        Err(d) => panic!("does not compile:\n{}", d.render(false)),
    }
}

fn errors(source: &str) -> String {
    match compile("t.ipc", source.as_bytes(), &[]) {
        Ok(_) => panic!("compiles, but should not"),
        Err(d) => d.render(false),
    }
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

fn assert_replays(p: &Program, report: &check::CheckReport, kind: Kind) {
    let finding = report.finding(kind).expect("a finding of this kind");
    let text = finding.schedule.to_string();
    let schedule = check::Schedule::parse(&text).expect("parses back");
    let run = check::replay(p, &schedule, 3).expect("replays");
    assert_eq!(Kind::of(&run.verdict), Some(kind), "{text}");
}

#[test]
fn the_user_level_mailbox_with_while_loops_is_proved_safe() {
    let r = check::check(&scenario("usermbox-condvar"), &options()).unwrap();
    assert!(r.is_proof_of_safety(), "{r}");
}

#[test]
fn the_checker_finds_the_if_instead_of_while_bug_and_it_replays() {
    let p = scenario("usermbox-if-not-while");
    let r = check::check(&p, &options()).unwrap();
    assert_eq!(r.answer(), "assertion_failed", "{r}");
    assert_replays(&p, &r, Kind::AssertionFailed);
}

#[test]
fn the_checker_finds_the_lost_wake_up_of_signalling_without_the_mutex() {
    let p = scenario("usermbox-signal-without-mutex");
    let r = check::check(&p, &options()).unwrap();
    assert!(!r.findings.is_empty(), "{r}");
    assert!(
        r.finding(Kind::BlockedForever).is_some() || r.finding(Kind::Deadlock).is_some(),
        "{r}"
    );
}

#[test]
fn the_semaphore_protected_counter_is_proved_exact_and_without_p_and_v_it_is_not() {
    let p = scenario("semaphore-mutex");
    assert!(check::check(&p, &options()).unwrap().is_proof_of_safety());
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/semaphore-mutex.ipc"),
    )
    .unwrap()
    .replace("P(s);", "")
    .replace("V(s);", "");
    let broken = program(&source);
    let r = check::check(&broken, &options()).unwrap();
    assert_eq!(r.answer(), "assertion_failed", "{r}");
    assert_replays(&broken, &r, Kind::AssertionFailed);
}

#[test]
fn a_lock_order_deadlock_is_explained_with_the_owners() {
    let p = program(
        r#"
mutex a;
mutex b;
process P { lock(a); yield; lock(b); }
process Q { lock(b); yield; lock(a); }
expect deadlock;
"#,
    );
    let r = check::check(&p, &options()).unwrap();
    assert_eq!(r.answer(), "deadlock", "{r}");
    assert_replays(&p, &r, Kind::Deadlock);
    let text = r.to_string();
    assert!(text.contains("lock(b) [held by Q]"), "{text}");
}

#[test]
fn a_waiter_on_a_mutex_whose_owner_exited_is_blocked_forever_and_told_why() {
    let p = program(
        r#"
mutex m;
process Owner { lock(m); }
process Waiter { sleep 5; lock(m); }
expect blocked_forever(Waiter);
"#,
    );
    let result = run(&p, RunOptions::default()).unwrap();
    let text = result.verdict.explain().join("\n");
    assert!(
        matches!(result.verdict, Verdict::BlockedForever { .. }),
        "{text}"
    );
    assert!(
        text.contains("lock(m) [owner Owner has terminated]"),
        "{text}"
    );
}

#[test]
fn a_p_no_process_can_v_is_blocked_forever_not_a_deadlock_with_whoever_waits_on_it() {
    // B holds `s` but its code never `V`s it: A's `P` waits for nobody,
    // and B waits for A. No cycle: A is blocked forever, B with it.
    let p = program(
        "semaphore s(0);\n\
         process A { P(s); send(B, 1); }\n\
         process B { recv(A, x); }",
    );
    let result = run(&p, RunOptions::default()).unwrap();
    let text = result.verdict.explain().join("\n");
    let Verdict::BlockedForever { stuck } = &result.verdict else {
        panic!("{text}");
    };
    assert_eq!(stuck.len(), 2, "{text}");
    assert!(
        text.contains("A waits in P(s) [count 0]: no live process can ever satisfy it"),
        "{text}"
    );
    // With a `V(s)` in B's code (after its receive) the same stuck world is
    // a cycle: B could raise `s` once A sent, and A sends once B raised it.
    let p = program(
        "semaphore s(0);\n\
         process A { P(s); send(B, 1); }\n\
         process B { recv(A, x); V(s); }",
    );
    let result = run(&p, RunOptions::default()).unwrap();
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{}",
        result.verdict.explain().join("\n")
    );
}

#[test]
fn a_wait_no_process_signals_is_blocked_forever_and_the_checker_agrees() {
    let source = "mutex m;\n\
         condvar c;\n\
         process A { lock(m); wait(c, m); unlock(m); send(B, 1); }\n\
         process B { recv(A, x); }\n\
         expect blocked_forever(A);";
    let p = program(source);
    let result = run(&p, RunOptions::default()).unwrap();
    let text = result.verdict.explain().join("\n");
    assert!(
        text.contains("A waits in wait(c, m) [not signalled]: no live process can ever satisfy it"),
        "{text}"
    );
    let report = check::check(&p, &options()).expect("checks");
    assert!(report.finding(Kind::Deadlock).is_none(), "{report:?}");
    assert_replays(&p, &report, Kind::BlockedForever);
}

#[test]
fn philosophers_in_one_declaration_deadlock_in_the_cycle_of_their_own_forks() {
    // One body for all three: which forks a philosopher takes (and gives
    // back) is chosen by `index`, and the wait-for graph follows that
    // choice per instance, so the cycle is the real one, 0 -> 1 -> 2 -> 0.
    let p = program(
        "semaphore fork0(1); semaphore fork1(1); semaphore fork2(1);\n\
         process Phil[3] { loop {\n\
           if index == 0 { P(fork0); } else if index == 1 { P(fork1); } else { P(fork2); }\n\
           yield;\n\
           if index == 0 { P(fork1); } else if index == 1 { P(fork2); } else { P(fork0); }\n\
           consume index;\n\
           if index == 0 { V(fork1); } else if index == 1 { V(fork2); } else { V(fork0); }\n\
           if index == 0 { V(fork0); } else if index == 1 { V(fork1); } else { V(fork2); }\n\
         } }",
    );
    let result = run(&p, RunOptions::default()).unwrap();
    let text = result.verdict.explain().join("\n");
    let Verdict::Deadlock { cycle, others } = &result.verdict else {
        panic!("{text}");
    };
    assert_eq!(cycle.len(), 3, "{text}");
    assert!(others.is_empty(), "{text}");
    assert!(
        text.contains("Phil[0] waits in P(fork1) [count 0] -> Phil[1] waits in P(fork2)"),
        "{text}"
    );
}

#[test]
fn unlocking_a_mutex_one_does_not_hold_is_a_program_error_and_the_expression_form_gives_eperm() {
    let p = program("mutex m;\nprocess P { unlock(m); }\nexpect error;");
    let result = run(&p, RunOptions::default()).unwrap();
    let text = result.verdict.explain().join("\n");
    assert!(
        matches!(result.verdict, Verdict::Error { line: 2, .. }),
        "{text}"
    );
    assert!(text.contains("unlock failed with EPERM"), "{text}");
    let p = program(
        "mutex m;\nprocess P { let r = unlock(m); assert r == EPERM; lock(m); assert lock(m) == EDEADLK; }\nexpect completes;",
    );
    let result = run(&p, RunOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
}

#[test]
fn p_with_nonblocking_or_a_timeout_gives_its_errno_in_expression_form() {
    let p = program(
        r#"
semaphore s(initial = 0);
process P {
    assert P(s, nonblocking) == EAGAIN;
    assert P(s, timeout = 3) == ETIMEDOUT;
    V(s);
    assert P(s, nonblocking) == OK;
}
expect completes;
"#,
    );
    let result = run(&p, RunOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
}

#[test]
fn objects_are_handles_after_the_mailboxes_and_shared_arrays_are_per_word() {
    let p = program(
        r#"
semaphore s(initial = 2);
mailbox box(capacity = 1);
shared buf[3];
process Writer { buf[2] = 7; buf[0] = buf[2] + 1; V(s); }
process Reader { P(s); P(s); P(s); assert buf[0] == 8; send(box, buf[2]); recv(box, x); assert x == 7; }
expect completes;
"#,
    );
    assert_eq!(p.objects.len(), 2);
    let result = run(&p, RunOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Completes, "{:?}", result.verdict);
}

#[test]
fn misusing_an_object_is_a_compile_error_with_a_hint() {
    let text = errors("mutex m;\nprocess P { P(m); }");
    assert!(text.contains("`m` is a mutex, not a semaphore"), "{text}");
    let text = errors("semaphore s(initial = -1);\nprocess P { }");
    assert!(text.contains("initial count -1 is out of range"), "{text}");
    let text = errors("condvar c;\nprocess P { let x = c; }");
    assert!(text.contains("condvar `c` is not a value"), "{text}");
    let text = errors("mutex m;\nprocess P { let m = 1; }");
    assert!(
        text.contains("`m` is mutex, not a variable") || text.contains("`m` is a mutex"),
        "{text}"
    );
    let text = errors("mutex m;\ncondvar c;\nprocess P { wait(c); }");
    assert!(text.contains("wait(c, m)"), "{text}");
    let many: String = (0..17).map(|i| format!("mutex m{i};\n")).collect();
    let text = errors(&format!("{many}process P {{ }}"));
    assert!(
        text.contains("too many mailboxes and synchronisation objects"),
        "{text}"
    );
}

#[test]
fn a_shared_load_of_zero_shows_its_value_in_the_trace() {
    use ipclab_sim::trace::TraceEvent;
    let p = program(
        "shared count;\nprocess A { let x = count; count = x + 1; let y = count; print y; }\n",
    );
    let result = run(&p, RunOptions::default()).unwrap();
    let returns: Vec<&str> = result
        .trace
        .steps
        .iter()
        .flat_map(|s| &s.events)
        .filter_map(|e| match e {
            TraceEvent::Return { result, .. } => Some(result.as_str()),
            _ => None,
        })
        .collect();
    // The load of 0, the store (no value to tell), the load of 1.
    assert_eq!(returns, ["ok 0", "ok", "ok 1"]);
}
