//! The runner's verdicts: each kind produced and explained, the step and tick limits, and `expect` matching.

use ipclab_sim::lang::{compile, Expectation, Program};
use ipclab_sim::runner::{run, RunOptions, RunResult};
use ipclab_sim::trace::{ProcView, TraceEvent};
use ipclab_sim::verdict::Verdict;

fn program(source: &str) -> Program {
    match compile("test.ipc", source.as_bytes(), &[]) {
        Ok(program) => program,
        Err(diagnostics) => panic!("{}", diagnostics.render(false)),
    }
}

fn run_source(source: &str) -> RunResult {
    run(&program(source), RunOptions::default()).expect("boots")
}

fn text(result: &RunResult) -> String {
    result.verdict.explain().join("\n")
}

#[test]
fn completes_when_every_process_exits() {
    let result = run_source(
        "process A { send(B, 1); recv(B, x); }\n\
         process B { recv(A, y); send(A, y + 1); }",
    );
    assert_eq!(result.verdict, Verdict::Completes);
    assert_eq!(text(&result), "completes: every process exited");
    let last = result.trace.steps.last().unwrap();
    assert!(last
        .states
        .iter()
        .all(|s| matches!(s, ProcView::Exited { code: 0 })));
}

#[test]
fn deadlock_prints_the_cycle_in_kernel_terms() {
    let result = run_source(
        "const N = 10;\n\
         kernel { buffer_slots = 8; }\n\
         mailbox prodMbox(capacity = 4);\n\
         mailbox consMbox(capacity = 4);\n\
         process Producer { loop { produce item; recv(prodMbox, c); send(consMbox, item); } }\n\
         process Consumer { repeat N { send(prodMbox, 0); }\n\
           loop { recv(consMbox, i); send(prodMbox, 0); consume i; } }",
    );
    let Verdict::Deadlock { cycle, others } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(cycle.len(), 2);
    assert!(others.is_empty());
    assert!(text(&result).contains(
        "Producer waits in send(consMbox) [full 4/4] -> \
         Consumer waits in send(prodMbox) [full 4/4] -> Producer"
    ));
}

#[test]
fn deadlock_names_processes_stuck_behind_the_cycle() {
    let result = run_source(
        "process A { recv(B, x); }\n\
         process B { recv(A, x); }\n\
         process C { recv(A, x); }",
    );
    let Verdict::Deadlock { cycle, others } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(cycle.len(), 2);
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].process, "C");
    assert!(text(&result).contains("also stuck: C waits in recv(A) [nothing queued]"));
}

#[test]
fn two_receives_from_any_are_a_deadlock() {
    let result = run_source(
        "process A { recv(ANY, x); send(B, 1); }\n\
         process B { recv(ANY, x); send(A, 1); }",
    );
    assert!(
        text(&result).contains("A waits in recv(ANY) [nothing queued] -> B waits in recv(ANY)"),
        "{}",
        text(&result)
    );
}

#[test]
fn blocked_forever_on_a_terminated_peer_says_so_once() {
    let result = run_source(
        "process Receiver { recv(Sender, a); recv(Sender, b); }\n\
         process Sender { send(Receiver, 1); }",
    );
    let Verdict::BlockedForever { stuck } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(stuck.len(), 1);
    assert_eq!(stuck[0].process, "Receiver");
    assert_eq!(stuck[0].why, "recv(Sender) [Sender has terminated]");
}

#[test]
fn blocked_forever_on_a_rendezvous_send_to_a_terminated_receiver() {
    let result = run_source(
        "kernel { buffer_slots = 0; }\n\
         process Receiver { recv(Sender, a); }\n\
         process Sender { send(Receiver, 1); send(Receiver, 2); }",
    );
    assert!(
        text(&result).contains("Sender waits in send(Receiver) [Receiver has terminated]"),
        "{}",
        text(&result)
    );
}

#[test]
fn a_receive_from_a_terminated_sender_names_what_it_left_with_another_tag() {
    let result = run_source(
        "process S { send(R, 10, tag = 1); }\n\
         process R { recv(S, a, tag = 3); }",
    );
    let Verdict::BlockedForever { stuck } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(
        stuck[0].why,
        "recv(S, tag 3) [S has terminated; 1 queued, none from S with tag 3]"
    );
    // Nothing left behind: the reason is the termination alone.
    let result = run_source("process S { exit; }\nprocess R { recv(S, a, tag = 3); }");
    assert!(
        text(&result).contains("R waits in recv(S, tag 3) [S has terminated]\n")
            || text(&result).ends_with("R waits in recv(S, tag 3) [S has terminated]"),
        "{}",
        text(&result)
    );
}

#[test]
fn a_recv_any_waits_only_for_processes_whose_sends_may_name_it() {
    // B's only send names C, which has exited: nobody can ever send to A.
    let result = run_source(
        "process A { recv(ANY, x); send(B, 1); }\n\
         process B { recv(A, y); send(C, 2); }\n\
         process C { print \"c exits\"; }",
    );
    let Verdict::BlockedForever { stuck } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(
        stuck[0].why,
        "recv(ANY) [nothing queued]: no live process can ever satisfy it"
    );
    // A computed destination may name A: then it is a cycle.
    let result = run_source(
        "process A { recv(ANY, x); send(B, 1); }\n\
         process B { let to = A; recv(A, y); send(to, 2); }",
    );
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{}",
        text(&result)
    );
}

#[test]
fn processes_waiting_in_one_call_whose_code_makes_the_other_half_deadlock() {
    // Each waits where the other waits, and only the other could answer
    // once it got past: a cycle, as two recv(ANY) callers that both send.
    for (source, cycle) in [
        (
            "mailbox box(capacity = 0);\n\
             process A { recv(box, x); send(box, 1); }\n\
             process B { recv(box, y); send(box, 2); }",
            "A waits in recv(box) [empty] -> B waits in recv(box) [empty] -> A",
        ),
        (
            "mailbox box(capacity = 0);\n\
             process A { send(box, 1); recv(box, x); }\n\
             process B { send(box, 2); recv(box, y); }",
            "A waits in send(box) [rendezvous: no receiver waiting] -> B waits in send(box) \
             [rendezvous: no receiver waiting] -> A",
        ),
        (
            "semaphore s(0);\n\
             process A { P(s); V(s); }\n\
             process B { P(s); V(s); }",
            "A waits in P(s) [count 0] -> B waits in P(s) [count 0] -> A",
        ),
    ] {
        let result = run_source(source);
        assert!(
            matches!(result.verdict, Verdict::Deadlock { .. }),
            "{source}\n{}",
            text(&result)
        );
        assert!(text(&result).contains(cycle), "{}", text(&result));
    }
}

#[test]
fn blocked_forever_on_a_mailbox_no_live_process_can_fill() {
    // The dispatcher leaves without sending stop messages: the workers wait
    // on a mailbox that only they hold. They compete for a message; none of
    // them can send one while it waits: no cycle, no deadlock.
    let result = run_source(
        "mailbox jobs(capacity = 2);\n\
         process Dispatcher { send(jobs, 1); }\n\
         process Worker[3] { loop { recv(jobs, job); } }",
    );
    let Verdict::BlockedForever { stuck } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(stuck.len(), 3);
    assert_eq!(
        stuck[0].why,
        "recv(jobs) [empty]: no live process can ever satisfy it \
         (Worker[1], Worker[2] wait there too)"
    );
}

#[test]
fn blocked_forever_when_the_only_other_holder_of_a_mailbox_exited() {
    let result = run_source(
        "mailbox box(capacity = 1);\n\
         process Reader { recv(box, x); recv(box, y); }\n\
         process Writer { send(box, 1); }",
    );
    assert!(
        text(&result)
            .contains("Reader waits in recv(box) [empty]: no live process can ever satisfy it"),
        "{}",
        text(&result)
    );
}

#[test]
fn runs_reports_progress_and_names_the_starving_process() {
    let result = run_source(
        "process Producer[2] { loop { produce item; recv(Consumer, c); send(Consumer, item); } }\n\
         process Consumer { send(Producer[0], 0);\n\
           loop { recv(Producer[0], i); send(Producer[0], 0); consume i; } }",
    );
    let Verdict::Runs {
        progress, starving, ..
    } = &result.verdict
    else {
        panic!("{}", text(&result));
    };
    assert_eq!(progress.len(), 3);
    assert!(progress[0].produced > 100);
    assert!(progress[2].consumed > 100);
    assert_eq!(progress[1].calls, 0);
    assert_eq!(starving.len(), 1);
    assert_eq!(starving[0].process, "Producer[1]");
    assert!(
        text(&result).contains("starving: Producer[1] (waits in recv(Consumer) [nothing queued])")
    );
    assert_eq!(result.steps, RunOptions::default().max_steps);
}

#[test]
fn runs_without_starvation_when_everyone_progresses() {
    let result = run_source(
        "process A { loop { send(B, 1); recv(B, x); } }\n\
         process B { loop { recv(A, x); send(A, x); } }",
    );
    let Verdict::Runs {
        starving, progress, ..
    } = &result.verdict
    else {
        panic!("{}", text(&result));
    };
    assert!(starving.is_empty());
    assert!(progress.iter().all(|p| p.calls > 100));
}

#[test]
fn a_process_blocked_forever_while_others_run_is_starving() {
    let result = run_source(
        "process Looper { loop { compute 1; produce item; } }\n\
         process Waiter { recv(Looper, x); }",
    );
    let Verdict::Runs { starving, .. } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(starving.len(), 1);
    assert_eq!(starving[0].process, "Waiter");
}

#[test]
fn an_unchecked_failed_call_is_an_error_at_its_line_and_column() {
    let result = run_source(
        "kernel { policy = notify; }\n\
         process Receiver {\n\
             recv(Sender, a);\n\
             recv(Sender, b);\n\
         }\n\
         process Sender { send(Receiver, 1); }",
    );
    let Verdict::Error {
        process,
        message,
        line,
        column,
    } = &result.verdict
    else {
        panic!("{}", text(&result));
    };
    assert_eq!(process, "Receiver");
    assert_eq!((*line, *column), (4, 1));
    assert!(message.contains("EDEADPEER"), "{message}");
    assert!(text(&result).starts_with("error: Receiver at line 4, column 1:"));
}

#[test]
fn a_checked_failed_call_lets_the_program_recover() {
    let result = run_source(
        "kernel { policy = notify; }\n\
         process Receiver { recv(Sender, a); let r = recv(Sender, b); assert r == EDEADPEER; }\n\
         process Sender { send(Receiver, 1); }",
    );
    assert_eq!(result.verdict, Verdict::Completes, "{}", text(&result));
}

#[test]
fn a_runtime_error_is_an_error_verdict() {
    let result = run_source("process P {\n let z = 0;\n print 1 / z;\n}");
    let Verdict::Error { line, .. } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(*line, 3);
}

#[test]
fn a_failed_assertion_stops_the_run_at_its_place() {
    let result = run_source(
        "process P {\n\
           let x = 1;\n\
           repeat 3 { x = x * 2; }\n\
           assert x == 7;\n\
           print \"never\";\n\
         }",
    );
    let Verdict::AssertionFailed {
        process,
        message,
        line,
        ..
    } = &result.verdict
    else {
        panic!("{}", text(&result));
    };
    assert_eq!(process, "P");
    assert_eq!(*line, 4);
    assert!(message.contains("x == 7"), "{message}");
    assert!(result.output.is_empty());
}

#[test]
fn the_step_limit_ends_a_run_that_loops_forever() {
    let source = "process P { loop { yield; } }";
    let options = RunOptions {
        max_steps: 50,
        ..RunOptions::default()
    };
    let result = run(&program(source), options).unwrap();
    assert_eq!(result.verdict.keyword(), "runs");
    assert_eq!(result.steps, 50);
    assert_eq!(result.trace.steps.len(), 50);
}

#[test]
fn the_tick_limit_ends_a_run_that_computes_forever() {
    let source = "process P { loop { compute 100; } }";
    let options = RunOptions {
        max_ticks: 1_000,
        ..RunOptions::default()
    };
    let result = run(&program(source), options).unwrap();
    assert_eq!(result.verdict.keyword(), "runs");
    assert!(
        result.ticks >= 1_000 && result.ticks < 1_100,
        "{}",
        result.ticks
    );
    assert!(result.steps < 20);
}

#[test]
fn a_sleeping_world_is_not_stuck_the_clock_jumps_to_the_timer() {
    let result = run_source(
        "process A { sleep 500; send(B, 1); }\n\
         process B { recv(A, x); }",
    );
    assert_eq!(result.verdict, Verdict::Completes, "{}", text(&result));
    assert!(result.ticks >= 500);
    assert!(
        result.steps < 20,
        "idle ticks are one step: {}",
        result.steps
    );
}

#[test]
fn recording_off_keeps_the_verdict_and_drops_the_steps() {
    let source = "process A { send(B, 1); } process B { recv(A, x); }";
    let options = RunOptions {
        record: false,
        ..RunOptions::default()
    };
    let result = run(&program(source), options).unwrap();
    assert_eq!(result.verdict, Verdict::Completes);
    assert!(result.trace.steps.is_empty());
    assert!(result.steps > 0);
}

#[test]
fn expect_lines_match_only_the_verdict_they_name() {
    let deadlock = run_source("process A { recv(B, x); } process B { recv(A, x); }");
    assert!(deadlock.verdict.matches(&Expectation::Deadlock));
    assert!(!deadlock.verdict.matches(&Expectation::Completes));
    assert!(!deadlock.verdict.matches(&Expectation::Runs));

    let forever = run_source(
        "process R { recv(S, a); recv(S, b); }\n\
         process S { send(R, 1); }\n\
         process Bystander { print \"hi\"; }",
    );
    let blocked = |label: &str, instance| Expectation::BlockedForever {
        instance,
        label: label.to_string(),
    };
    assert!(forever.verdict.matches(&blocked("R", 0)));
    assert!(!forever.verdict.matches(&blocked("S", 1)));
    assert!(!forever.verdict.matches(&Expectation::Deadlock));

    let starving = run_source(
        "process P[2] { loop { recv(C, c); send(C, 1); } }\n\
         process C { send(P[0], 0); loop { recv(P[0], i); send(P[0], 0); } }",
    );
    let starvation = |label: &str, instance| Expectation::Starvation {
        instance,
        label: label.to_string(),
    };
    assert!(starving.verdict.matches(&starvation("P[1]", 1)));
    assert!(!starving.verdict.matches(&starvation("P[0]", 0)));
    assert!(starving.verdict.matches(&Expectation::Runs));

    // A scenario's own expect line is what the CLI checks.
    let source = "process A { recv(B, x); } process B { recv(A, x); } expect deadlock;";
    let p = program(source);
    let result = run(&p, RunOptions::default()).unwrap();
    assert!(result.verdict.matches(p.expect.as_ref().unwrap()));
}

#[test]
fn every_step_records_every_process_state() {
    let result = run_source(
        "kernel { buffer_slots = 0; }\n\
         process S { send(R, 1); }\n\
         process R { compute 3; recv(S, x); }",
    );
    assert_eq!(result.trace.labels, ["S", "R"]);
    for step in &result.trace.steps {
        assert_eq!(step.states.len(), 2);
    }
    let blocked_on_rendezvous = result.trace.steps.iter().any(|s| {
        s.states[0]
            == ProcView::Blocked {
                reason: "send(R) [rendezvous: no matching recv posted]".into(),
            }
    });
    assert!(blocked_on_rendezvous);
}

#[test]
fn a_timer_that_fires_at_a_steps_tick_comes_after_what_the_step_did() {
    // L's `produce` runs in step 1; T's sleep ends when that step's tick
    // comes, so the trace says the produce first, the wake-up after.
    let result = run_source("process T { sleep 2; }\nprocess L { loop { produce x; } }");
    let step = &result.trace.steps[1];
    let position = |wanted: fn(&TraceEvent) -> bool| step.events.iter().position(wanted);
    let produce = position(|e| matches!(e, TraceEvent::Produce { .. }));
    let timer = position(|e| matches!(e, TraceEvent::Timer { .. }));
    assert!(
        produce.is_some() && timer.is_some() && produce < timer,
        "{:?}",
        step.events
    );
}

#[test]
fn receivers_of_any_whose_code_never_sends_are_blocked_forever_not_a_cycle() {
    // The boss fed them and exited; neither worker can serve the other.
    let result = run_source(
        "process Boss { send(Worker[0], 1); send(Worker[1], 2); }\n\
         process Worker[2] { loop { recv(ANY, job); consume job; } }",
    );
    assert!(
        matches!(result.verdict, Verdict::BlockedForever { .. }),
        "{}",
        text(&result)
    );
    // With a send in their code, each could have fed the other: a cycle.
    let result = run_source("process Worker[2] { recv(ANY, job); send(Worker[1 - index], job); }");
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{}",
        text(&result)
    );
}

#[test]
fn a_computed_call_to_the_process_itself_says_why_it_is_refused() {
    for (call, why) in [
        (
            "send(W[index], 1)",
            "send failed with EINVAL (invalid argument): a process cannot send to itself",
        ),
        (
            "recv(W[index], x)",
            "recv failed with EINVAL (invalid argument): a process cannot receive from itself",
        ),
    ] {
        let result = run_source(&format!("process W[2] {{ {call}; }}"));
        assert!(text(&result).contains(why), "{}", text(&result));
    }
    // EINVAL for another reason does not claim it.
    let result = run_source("process W[2] { send(W[1 - index], 1, timeout = -1); }");
    assert!(!text(&result).contains("itself"), "{}", text(&result));
}

#[test]
fn a_block_reason_says_when_the_kernel_buffer_caps_a_mailbox_or_a_tag_is_unmatched() {
    // Capacity 4, but the kernel has 2 slots: full at 2, and it says why.
    let result = run_source(
        "kernel { buffer_slots = 2; mailbox_quota = 4; }\n\
         mailbox m(capacity = 4);\n\
         process S { loop { send(m, 1); } }",
    );
    assert!(
        text(&result).contains("send(m) [full 2/2: the kernel buffer has 2 slots]"),
        "{}",
        text(&result)
    );
    // A rendezvous whose waiting receiver wants another tag.
    let result = run_source(
        "mailbox m(capacity = 0);\n\
         process R { recv(m, x, tag = 3); }\n\
         process S { send(m, 1, tag = 7); }",
    );
    assert!(
        text(&result)
            .contains("send(m) [rendezvous: no receiver waiting for its tag; R wants tag 3]"),
        "{}",
        text(&result)
    );
    // The same of a direct send, and of a receive posted for another sender.
    let result = run_source(
        "kernel { buffer_slots = 0; }\n\
         process R { recv(S, x, tag = 3); }\n\
         process S { send(R, 1, tag = 7); }",
    );
    assert!(
        text(&result)
            .contains("send(R) [rendezvous: no receiver waiting for its tag; R wants tag 3]"),
        "{}",
        text(&result)
    );
    let result = run_source(
        "kernel { buffer_slots = 0; }\n\
         process R { recv(T, x); }\n\
         process S { send(R, 1); }\n\
         process T { recv(S, y); }",
    );
    assert!(
        text(&result).contains("send(R) [rendezvous: no receiver waiting for it; R waits for T]"),
        "{}",
        text(&result)
    );
}

fn deadlocked_of(result: &RunResult) -> Vec<String> {
    match &result.verdict {
        Verdict::Runs { deadlocked, .. } => deadlocked.iter().map(|s| s.process.clone()).collect(),
        other => panic!("expected runs: {other:?}"),
    }
}

#[test]
fn a_cycle_beside_a_live_process_is_named_deadlocked_under_runs() {
    let result = run_source(
        "process A { recv(B, x); }\n\
         process B { recv(A, x); }\n\
         process Spinner { loop { yield; } }",
    );
    assert_eq!(deadlocked_of(&result), ["A", "B"]);
    assert!(
        text(&result).contains(
            "deadlocked, while others run (none of them can free these): \
             A waits in recv(B) [nothing queued] -> B waits in recv(A) [nothing queued] -> A"
        ),
        "{}",
        text(&result)
    );
    let dot = ipclab_sim::render::waitfor_dot(&result.verdict, "t");
    assert!(dot.contains("\"A\" -> \"B\""), "{dot}");
}

#[test]
fn a_cycle_that_a_live_process_or_a_timer_may_still_break_is_not_deadlocked() {
    // B waits for the spinner, which may still send; a timeout may fire;
    // a recv(ANY) may be answered by the spinner.
    for source in [
        "process A { recv(B, x); }\nprocess B { recv(Spinner, x); }\n\
         process Spinner { loop { yield; } }",
        "process A { recv(B, x, timeout = 5000); }\nprocess B { recv(A, x); }\n\
         process Spinner { loop { yield; } }",
        "process A { recv(ANY, x); }\nprocess B { recv(A, x); }\n\
         process Spinner { loop { yield; } }",
    ] {
        let result = run_source(source);
        assert!(
            deadlocked_of(&result).is_empty(),
            "{source}: {}",
            text(&result)
        );
    }
}

#[test]
fn a_thousand_processes_pair_up_and_complete() {
    let program = program(
        "process P[500] {\n\
             send(Q[index], index);\n\
             recv(Q[index], answer);\n\
             assert answer == index + 1;\n\
         }\n\
         process Q[500] {\n\
             recv(P[index], x);\n\
             send(P[index], x + 1);\n\
         }",
    );
    assert_eq!(program.instances.len(), 1000);
    let options = RunOptions {
        max_steps: 100_000,
        record: false,
        ..RunOptions::default()
    };
    let result = run(&program, options).unwrap();
    assert_eq!(result.verdict, Verdict::Completes, "{}", text(&result));
    assert_eq!(result.stats.delivered, 1000);
}

#[test]
fn a_very_long_sleep_ends_at_the_tick_limit_instead_of_ticking_forever() {
    let source = "process P { sleep 9223372036854775807; }";
    let options = RunOptions {
        max_ticks: 10_000,
        ..RunOptions::default()
    };
    let result = run(&program(source), options).unwrap();
    assert_eq!(result.verdict.keyword(), "runs");
    assert_eq!(result.ticks, 10_000);
}

#[test]
fn runs_at_the_tick_limit_says_the_tick_limit() {
    let options = RunOptions::default();
    let result = run(
        &program("process A { sleep 1000000000; print \"woke\"; }"),
        options,
    )
    .expect("boots");
    assert_eq!(result.ticks, options.max_ticks);
    assert!(result.steps < options.max_steps);
    let lines = result.verdict.explain_at(result.limit(&options));
    assert_eq!(
        lines[0],
        "runs: still live at the tick limit (100000 ticks)"
    );
}

#[test]
fn runs_at_the_step_limit_says_the_step_limit() {
    let options = RunOptions::default();
    let result = run(&program("process A { loop { compute 1; } }"), options).expect("boots");
    let lines = result.verdict.explain_at(result.limit(&options));
    assert_eq!(lines[0], "runs: still live at the step limit (1000 steps)");
    // Without the run's options nobody can tell which limit it was.
    assert_eq!(
        text(&result).lines().next(),
        Some("runs: still live when the run stopped")
    );
}

#[test]
fn a_busy_waiting_process_runs_but_makes_no_progress() {
    let result = run_source(
        "process A { loop { let r = recv(B, x, nonblocking); } }\n\
         process B { loop { produce x; } }",
    );
    let Verdict::Runs { starving, .. } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(starving.len(), 1, "{}", text(&result));
    assert_eq!(starving[0].process, "A");
    assert_eq!(
        starving[0].why,
        "runs, but makes no progress: its calls keep failing with EAGAIN"
    );
}

#[test]
fn a_process_kept_off_the_cpu_is_ready_but_not_scheduled() {
    let result = run_source(
        "process Low { loop { produce x; } }\n\
         process High priority 3 { loop { produce y; } }",
    );
    let Verdict::Runs { starving, .. } = &result.verdict else {
        panic!("{}", text(&result));
    };
    assert_eq!(starving.len(), 1, "{}", text(&result));
    assert_eq!(starving[0].process, "Low");
    assert_eq!(starving[0].why, "ready but not scheduled");
}

/// Every reason a process blocked with in the run, in order.
fn block_reasons(result: &RunResult, process: &str) -> Vec<String> {
    result
        .trace
        .steps
        .iter()
        .flat_map(|s| &s.events)
        .filter_map(|e| match e {
            ipclab_sim::trace::TraceEvent::Block { process: p, reason } if p == process => {
                Some(reason.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_tag_filtered_recv_says_what_is_queued_and_not_taken() {
    let result = run_source(
        "mailbox m(capacity = 2);\n\
         process S { send(m, 1, tag = 1); send(R2, 2, tag = 1); }\n\
         process R { recv(m, x, tag = 2); }\n\
         process R2 { compute 5; recv(S, x, tag = 2); }",
    );
    assert_eq!(
        block_reasons(&result, "R"),
        ["recv(m, tag 2) [1 queued, none with tag 2]"]
    );
    // The sender is gone, and what it left has another tag.
    assert!(
        text(&result).contains(
            "R2 waits in recv(S, tag 2) [S has terminated; 1 queued, none from S with tag 2]"
        ),
        "{}",
        text(&result)
    );

    let result = run_source(
        "process S { send(R, 1, tag = 1); recv(R, y); }\n\
         process R { recv(S, x, tag = 2); }",
    );
    assert_eq!(
        block_reasons(&result, "R"),
        ["recv(S, tag 2) [1 queued, none from S with tag 2]"]
    );
    assert_eq!(block_reasons(&result, "S"), ["recv(R) [nothing queued]"]);
}

#[test]
fn a_run_that_ends_on_its_last_allowed_step_or_tick_gets_the_ending_verdict_not_runs() {
    let limited = |source: &str, max_steps: u64, max_ticks: u64| {
        let options = RunOptions {
            max_steps,
            max_ticks,
            ..RunOptions::default()
        };
        run(&program(source), options).expect("boots")
    };
    // Step 0 prints, step 1 exits: the run is over at the limit of 2 steps.
    let result = limited("process A { print \"hi\"; }", 2, 100_000);
    assert_eq!(result.verdict, Verdict::Completes, "{}", text(&result));
    // The third step closes the ring: every process is blocked.
    let ring = "process A { recv(C, x); }\nprocess B { recv(A, x); }\nprocess C { recv(B, x); }";
    let result = limited(ring, 3, 100_000);
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{}",
        text(&result)
    );
    // The sleep ends on the last tick allowed, and the process exits.
    let result = limited("process A { sleep 99; }", 1_000, 100);
    assert_eq!(result.verdict, Verdict::Completes, "{}", text(&result));
    // Still sleeping at the limit: live.
    let result = limited("process A { sleep 500; }", 1_000, 100);
    assert!(
        matches!(result.verdict, Verdict::Runs { .. }),
        "{}",
        text(&result)
    );
}

#[test]
fn a_yield_is_a_call_that_succeeds() {
    let result = run_source("process B { repeat 3 { yield; } }");
    assert_eq!(result.verdict, Verdict::Completes);
    let options = RunOptions {
        max_steps: 10,
        ..RunOptions::default()
    };
    let result = run(&program("process B { loop { yield; } }"), options).expect("boots");
    match &result.verdict {
        Verdict::Runs {
            progress, starving, ..
        } => {
            assert_eq!(progress[0].calls, 10, "{progress:?}");
            assert!(starving.is_empty(), "{starving:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_send_waiting_for_a_pool_slot_waits_for_the_receivers_of_the_pool() {
    // The one slot holds X's message to Y; S's send to the terminated R
    // waits for that slot (classic: then it is accepted and reported),
    // and Y waits for S: a cycle through the buffer, not a dead end.
    let result = run_source(
        "kernel { buffer_slots = 1; }\n\
         process R { print \"R exits\"; }\n\
         process X { send(Y, 5); }\n\
         process Y { recv(S, go); recv(X, v); }\n\
         process S { yield; yield; send(R, 1); send(Y, 2); }",
    );
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{}",
        text(&result)
    );
    assert!(
        text(&result).contains("send(R) [kernel buffer full 1/1; R has terminated]"),
        "{}",
        text(&result)
    );
}

#[test]
fn a_pool_slot_held_in_a_mailbox_waits_only_for_the_holders_that_receive_from_it() {
    // The one slot holds A's message in mb, and only X receives from mb.
    // X's send then waits for that slot, and A (which never receives from
    // mb, and whose exit would not end mb while X holds it) cannot free
    // it: X is blocked forever, not in a cycle with A.
    let result = run_source(
        "kernel { buffer_slots = 1; }\n\
         mailbox mb(capacity = 1);\n\
         semaphore go(initial = 0);\n\
         process A { send(mb, 1); V(go); send(mb, 2); }\n\
         process D { P(never); }\n\
         semaphore never(initial = 0);\n\
         process X { P(go); send(D, 3); recv(mb, y); }",
    );
    assert!(
        matches!(result.verdict, Verdict::BlockedForever { .. }),
        "{}",
        text(&result)
    );
    // With a receive of mb in A's code, A could free the slot: a cycle.
    let result = run_source(
        "kernel { buffer_slots = 1; }\n\
         mailbox mb(capacity = 1);\n\
         semaphore go(initial = 0);\n\
         process A { send(mb, 1); V(go); send(mb, 2); recv(mb, z); }\n\
         process D { P(never); }\n\
         semaphore never(initial = 0);\n\
         process X { P(go); send(D, 3); recv(mb, y); }",
    );
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{}",
        text(&result)
    );
}

#[test]
fn a_receive_counts_the_messages_held_by_blocked_senders_it_passes_over() {
    // Rendezvous: S's tag-1 message waits in S, not in a slot.
    let result = run_source(
        "kernel { buffer_slots = 0; }\n\
         process S { send(R, 1, tag = 1); }\n\
         process R { recv(S, x, tag = 2); }",
    );
    assert!(
        text(&result)
            .contains("recv(S, tag 2) [1 held by a blocked sender, none from S with tag 2]"),
        "{}",
        text(&result)
    );
}

#[test]
fn a_mailbox_wait_waits_for_the_holders_whose_code_makes_the_other_half_of_the_call() {
    // Everyone holds both mailboxes, but only C sends to m0 and only A to
    // m1: the cycle is A -> C -> B -> A, and B (which never sends to m0)
    // is no partner of A.
    let result = run_source(
        "mailbox m0(capacity = 1);\nmailbox m1(capacity = 1);\n\
         process A { recv(m0, x); send(m1, 1); }\n\
         process B { recv(m1, x); send(C, 1); }\n\
         process C { recv(B, x); send(m0, 1); }",
    );
    let explained = text(&result);
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{explained}"
    );
    assert!(
        explained.contains(
            "A waits in recv(m0) [empty] -> C waits in recv(B) [nothing queued] -> B waits in recv(m1) [empty] -> A"
        ),
        "{explained}"
    );
}

#[test]
fn a_process_that_reopens_or_destroys_mailboxes_is_a_partner_of_every_mailbox_wait() {
    // B's `send(d, ...)` goes to x once `close(0)` and `mbox_open` reuse
    // handle 0; and a destroy ends a wait with EIDRM. Both are cycles.
    for source in [
        "mailbox d(capacity = 1);\n\
         process A { let h = mbox_create(\"x\", 1); send(B, h); mbox_recv(h, v); }\n\
         process B { recv(A, hh); close(0); let h = mbox_open(\"x\"); recv(A, q); send(d, 1); }",
        "process A { let h = mbox_create(\"x\", 1); send(B, 0); recv(B, go); mbox_destroy(h); }\n\
         process B { recv(A, z); let h = mbox_open(\"x\"); let r = mbox_recv(h, v); send(A, 1); }",
    ] {
        let result = run_source(source);
        assert!(
            matches!(result.verdict, Verdict::Deadlock { .. }),
            "{}",
            text(&result)
        );
    }
}

#[test]
fn receivers_with_disjoint_tag_filters_do_not_compete_and_can_deadlock() {
    let result = run_source(
        "mailbox box(capacity = 2);\n\
         process R1 { recv(box, a, tag = 5); send(box, 1, tag = 0); }\n\
         process R2 { recv(box, b, tag = 0); send(box, 2, tag = 5); }",
    );
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{}",
        text(&result)
    );
}

#[test]
fn an_mpi_waitall_waits_for_every_pending_request_whatever_their_order() {
    // Rank 0 waits for a message from rank 1 (which waits for rank 0) and
    // one from rank 2 (which has exited): the cycle through rank 1 is there
    // whichever request comes first in the array.
    let source = |first: i64| {
        format!(
            "process Rank[3] {{\n\
             let reqs[2];\n\
             MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
             if rank == 0 {{\n\
             MPI_Irecv(y, 1, MPI_INT, {first}, 0, MPI_COMM_WORLD, &reqs[0]);\n\
             MPI_Irecv(z, 1, MPI_INT, {}, 0, MPI_COMM_WORLD, &reqs[1]);\n\
             MPI_Waitall(2, reqs, MPI_STATUSES_IGNORE);\n\
             MPI_Send(x, 1, MPI_INT, 1, 5, MPI_COMM_WORLD);\n\
             }}\n\
             if rank == 1 {{ MPI_Recv(x, 1, MPI_INT, 0, 5, MPI_COMM_WORLD, &st); }}\n\
             }}",
            3 - first
        )
    };
    for first in [1, 2] {
        let result = run_source(&source(first));
        assert!(
            matches!(result.verdict, Verdict::Deadlock { .. }),
            "first {first}: {}",
            text(&result)
        );
        assert!(
            text(&result).contains("[not all complete] -> Rank[1] waits in MPI_Recv"),
            "{}",
            text(&result)
        );
    }
}

#[test]
fn a_limit_of_one_step_is_said_in_the_singular() {
    let options = RunOptions {
        max_steps: 1,
        ..RunOptions::default()
    };
    let result = run(&program("process A { loop { yield; } }"), options).expect("boots");
    let lines = result.verdict.explain_at(result.limit(&options));
    assert_eq!(
        lines.first().map(String::as_str),
        Some("runs: still live at the step limit (1 step)")
    );
}

#[test]
fn blocked_senders_messages_are_received_in_the_order_they_were_sent() {
    // One slot holds A's first message; A's second blocks at step 1, B's
    // at step 5. When R starts receiving, A's second moves into the freed
    // slot and is still older than B's: R gets 1, 2, 3.
    for (setup, send, recv) in [
        ("kernel { buffer_slots = 1; }", "send(R, ", "recv(ANY, "),
        (
            "kernel { buffer_slots = 8; receiver_quota = 1; }",
            "send(R, ",
            "recv(ANY, ",
        ),
        ("mailbox box(capacity = 1);", "send(box, ", "recv(box, "),
    ] {
        let source = format!(
            "{setup}\n\
             process A {{ {send}1); {send}2); }}\n\
             process B {{ sleep 3; {send}3); }}\n\
             process R {{ sleep 20; let last = 0;\n\
               repeat 3 {{ {recv}x); assert x == last + 1; last = x; }} }}\n\
             expect completes;"
        );
        let result = run_source(&source);
        assert_eq!(
            result.verdict,
            Verdict::Completes,
            "{setup}: {}",
            text(&result)
        );
    }
}

fn starving_names(result: &RunResult) -> Vec<String> {
    match &result.verdict {
        Verdict::Runs { starving, .. } => starving.iter().map(|s| s.process.clone()).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_process_kept_waiting_while_another_only_computes_is_starving_as_check_says() {
    // A runs all along without progress; B waits for it forever. `check`
    // finds B starving on a fair cycle; `run` says the same. A, whose code
    // has nothing that counts as progress, is not judged.
    let result = run_source(
        "process A { loop { compute 1; } }\n\
         process B { recv(A, x); }",
    );
    assert_eq!(starving_names(&result), ["B"], "{}", text(&result));
}

#[test]
fn a_process_kept_waiting_by_a_sleeper_starves_wherever_the_step_limit_falls() {
    // At the limit A is asleep or just awake, depending on the parity of
    // the limit; B is kept waiting all the same.
    let program = program(
        "process A { loop { sleep 10; } }\n\
         process B { recv(A, x); }",
    );
    for max_steps in [999, 1000] {
        let options = RunOptions {
            max_steps,
            ..RunOptions::default()
        };
        let result = run(&program, options).expect("boots");
        assert_eq!(
            starving_names(&result),
            ["B"],
            "{max_steps}: {}",
            text(&result)
        );
    }
}

#[test]
fn a_process_in_one_long_sleep_of_its_own_is_not_starving() {
    // Nobody keeps B from progressing: its own timer will wake it.
    let result = run_source(
        "process A { loop { compute 1; } }\n\
         process B { sleep 5000; produce x; }",
    );
    assert!(starving_names(&result).is_empty(), "{}", text(&result));
    // Kept waiting by another, in a call with no timer, it starves.
    let result = run_source(
        "process A { loop { compute 1; } }\n\
         process B { sleep 5; recv(A, x); }",
    );
    assert_eq!(starving_names(&result), ["B"], "{}", text(&result));
}

#[test]
fn a_world_only_waiting_for_a_timer_at_the_tick_limit_starves_nobody() {
    let result = run_source(
        "process A { sleep 1000000; send(B, 1); }\n\
         process B { recv(A, x); }",
    );
    assert!(starving_names(&result).is_empty(), "{}", text(&result));
}

#[test]
fn a_standard_mpi_send_that_fits_the_eager_limit_but_finds_no_slot_says_so() {
    // One kernel slot: rank 0's first message takes it, its second waits
    // (the slot rank 1 may use is taken), and rank 1's first finds the
    // kernel buffer full. 8 bytes is under the eager limit: no rendezvous.
    let result = run_source(
        "kernel { buffer_slots = 1; }\n\
         process Rank[2] {\n\
             let x = 0;\n\
             MPI_Send(x, 1, MPI_INT, 1 - index, 0, MPI_COMM_WORLD);\n\
             MPI_Send(x, 1, MPI_INT, 1 - index, 0, MPI_COMM_WORLD);\n\
             MPI_Recv(x, 1, MPI_INT, 1 - index, 0, MPI_COMM_WORLD, &st);\n\
             MPI_Recv(x, 1, MPI_INT, 1 - index, 0, MPI_COMM_WORLD, &st);\n\
         }",
    );
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{}",
        text(&result)
    );
    let text = text(&result);
    assert!(
        text.contains(
            "Rank[0] waits in MPI_Send(to Rank[1], tag 0) [full 1/1: no matching recv posted]"
        ),
        "{text}"
    );
    assert!(
        text.contains("Rank[1] waits in MPI_Send(to Rank[0], tag 0) [kernel buffer full 1/1: no matching recv posted]"),
        "{text}"
    );
    assert!(!text.contains("rendezvous"), "{text}");
}

#[test]
fn a_run_shorter_than_a_round_names_nobody_starving() {
    // Seven processes and a quantum of 4 ticks: a round is 28 steps. In 10
    // steps most have not had their turn; none was passed over.
    let source = "mailbox box(capacity = 4);\n\
                  process P[6] { loop { produce x; send(box, x); } }\n\
                  process C { loop { recv(box, y); consume y; } }";
    let short = run(
        &program(source),
        RunOptions {
            max_steps: 10,
            ..RunOptions::default()
        },
    )
    .expect("boots");
    let Verdict::Runs { starving, .. } = &short.verdict else {
        panic!("{}", text(&short));
    };
    assert!(starving.is_empty(), "{}", text(&short));
    // A process kept off the CPU for longer than a round is still named.
    let kept_off = run(
        &program(
            "process Hi priority 5 { loop { produce x; } }\n\
             process Lo priority 0 { loop { produce y; } }",
        ),
        RunOptions {
            max_steps: 40,
            ..RunOptions::default()
        },
    )
    .expect("boots");
    assert!(
        text(&kept_off).contains("starving: Lo (ready but not scheduled)"),
        "{}",
        text(&kept_off)
    );
}

#[test]
fn a_branch_on_the_rank_before_mpi_comm_rank_stores_it_is_taken_by_every_instance() {
    // `rank` reads 0 until MPI_Comm_rank runs: both instances P(a) first.
    let result = run_source(
        "semaphore a(initial = 0);\n\
         process W[2] {\n\
             if rank == 0 { P(a); V(a); } else { compute 1; }\n\
             MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
         }",
    );
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{}",
        text(&result)
    );
    assert!(
        text(&result)
            .contains("W[0] waits in P(a) [count 0] -> W[1] waits in P(a) [count 0] -> W[0]"),
        "{}",
        text(&result)
    );
}

#[test]
fn a_short_run_still_names_a_blocked_process_and_one_passed_over_by_priority() {
    let short = |source: &str| {
        let result = run(
            &program(source),
            RunOptions {
                max_steps: 12,
                ..RunOptions::default()
            },
        )
        .expect("boots");
        text(&result)
    };
    // B has blocked on a partner that never sends: the round does not matter.
    let blocked = short("process A { loop { compute 1; } }\nprocess B { recv(A, x); }");
    assert!(
        blocked.contains("starving: B (waits in recv(A)"),
        "{blocked}"
    );
    // L is passed over at every step by a higher priority.
    let passed_over = short("process H priority 7 { loop { compute 1; } }\nprocess L { yield; }");
    assert!(
        passed_over.contains("starving: L (ready but not scheduled)"),
        "{passed_over}"
    );
}

#[test]
fn a_refused_send_tag_or_shared_index_says_why() {
    let result = run_source(
        "process A { let t = 0 - 1; send(B, 1, tag = t); }\n\
         process B { recv(A, x); }",
    );
    let explained = text(&result).replace("\n  ", " ");
    assert!(
        matches!(result.verdict, Verdict::Error { .. })
            && explained.contains("send failed with EINVAL (invalid argument): tag -1 is no tag"),
        "{explained}"
    );
    for (access, index) in [("c[i] = 1;", "5"), ("let y = c[i];", "5")] {
        let result = run_source(&format!(
            "shared c[2];\nprocess A {{ let i = {index}; {access} }}"
        ));
        let explained = text(&result).replace("\n  ", " ");
        assert!(
            matches!(result.verdict, Verdict::Error { .. })
                && explained.contains("index 5 is out of range for shared `c` of 2 words"),
            "{explained}"
        );
    }
}

#[test]
fn a_receive_too_small_for_its_message_names_both_sizes() {
    // At the trap (the message is there): both sizes.
    let result = run_source(
        "process A { let buf[4]; send(B, buf); }\n\
         process B { yield; recv(A, x); }",
    );
    let explained = text(&result).replace('\n', " ");
    assert!(
        explained.contains("EMSGSIZE") && explained.contains("the message is 32 B, the buffer 8 B"),
        "{explained}"
    );
    // Woken by the send (it blocked first): the message's length.
    let result = run_source(
        "process B { recv(A, x); }\n\
         process A { let buf[4]; send(B, buf); }",
    );
    let explained = text(&result).replace("\n  ", " ");
    assert!(
        explained.contains("the message is 32 B, longer than the buffer; it stays queued"),
        "{explained}"
    );
    // On a mailbox, `recv` compiles to `mbox_recv`: the error names the
    // call the program wrote.
    let result = run_source(
        "mailbox m(capacity = 1);\n\
         process A { let buf[2]; send(m, buf); recv(m, x); }",
    );
    let explained = text(&result).replace("\n  ", " ");
    assert!(
        explained.contains("at line 2, column 39: recv failed with EMSGSIZE"),
        "{explained}"
    );
}

#[test]
fn a_declared_mailbox_is_its_own_handle_in_the_handle_calls() {
    // `mbox_send(replies, ...)` must reach `replies` (handle 1), not the
    // first mailbox: the plain `recv(replies, x)` then finds the message.
    let result = run_source(
        "mailbox requests(capacity = 1);\n\
         mailbox replies(capacity = 1);\n\
         process A { mbox_send(replies, 5); recv(replies, x); assert x == 5; close(replies); \
         let r = mbox_send(replies, 1); assert r == EBADF; }",
    );
    assert_eq!(result.verdict, Verdict::Completes, "{}", text(&result));
}

#[test]
fn a_send_above_the_eager_limit_says_that_is_why_it_is_a_rendezvous() {
    let result = run_source(
        "kernel { eager_limit = 8; }\n\
         mailbox box(capacity = 2);\n\
         process S { let a[4]; send(box, a); send(R, a); send(R, 1); }\n\
         process R { sleep 5; let b[4]; recv(box, b); sleep 5; recv(S, b); recv(S, c); }",
    );
    assert_eq!(result.verdict, Verdict::Completes, "{}", text(&result));
    assert_eq!(
        block_reasons(&result, "S"),
        [
            "send(box) [32 B is above the eager limit of 8 B; rendezvous: no receiver waiting]",
            "send(R) [32 B is above the eager limit of 8 B; rendezvous: no matching recv posted]",
        ]
    );
}

#[test]
fn a_process_that_waits_for_itself_is_not_said_to_wait_for_others() {
    // A rendezvous MPI send to its own rank: only its own receive, which
    // comes after, could match it.
    let result = run_source(
        "kernel { eager_limit = 0; }\n\
         process R[2] {\n\
             MPI_Comm_rank(MPI_COMM_WORLD, &rank);\n\
             let x = 1;\n\
             if rank == 0 { MPI_Send(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD); }\n\
         }",
    );
    let explained = text(&result);
    assert!(
        matches!(result.verdict, Verdict::Deadlock { .. }),
        "{explained}"
    );
    assert!(
        explained.starts_with("deadlock: the process below waits for itself"),
        "{explained}"
    );
}
