//! The checker's answers are sound: the item abstraction only where it is exact, a starvation lasso that starves what it names, bounds and end states that find what they promise.

use ipclab_sim::check::{self, Bound, CheckOptions, Kind, Output, SearchOrder};
use ipclab_sim::lang::{compile, Program};
use ipclab_sim::verdict::Verdict;

fn program(source: &str) -> Program {
    compile("t.ipc", source.as_bytes(), &[]).expect("compiles")
}

/// Depth-first, breadth-first with one worker and with two.
const EVERY_ORDER: [(SearchOrder, usize); 3] = [
    (SearchOrder::DepthFirst, 1),
    (SearchOrder::BreadthFirst, 1),
    (SearchOrder::BreadthFirst, 2),
];

fn options() -> CheckOptions {
    CheckOptions {
        output: Output::None,
        progress_bar: false,
        jobs: 1,
        ..CheckOptions::default()
    }
}

// Items: a program whose assertions or branches read item values is checked with the real values.

/// Per-pair FIFO: the consumer sees 1, 2, 3 in order, in every schedule.
const IN_ORDER: &str = "process P { repeat 3 { produce item; send(C, item); } }\n\
    process C {\n\
        let last = 0;\n\
        repeat 3 { recv(P, x); assert x == last + 1; last = x; consume x; }\n\
    }";

/// The third item fails the producer's assertion, in every schedule.
const THIRD_ITEM_FAILS: &str =
    "process P { repeat 3 { produce item; send(C, item); assert item < 3; } }\n\
    process C { repeat 3 { recv(P, x); consume x; } }";

#[test]
fn an_assertion_on_received_items_that_always_holds_is_proved() {
    let report = check::check(&program(IN_ORDER), &options()).expect("checks");
    assert!(report.is_proof_of_safety(), "{report}");
    assert!(report.exact_items);
    assert_eq!(report.items_exact_because, Some(4));
}

#[test]
fn an_assertion_that_fails_on_the_third_item_is_found() {
    let report = check::check(&program(THIRD_ITEM_FAILS), &options()).expect("checks");
    assert!(report.finding(Kind::AssertionFailed).is_some(), "{report}");
    assert_eq!(report.items_exact_because, Some(1));
}

#[test]
fn an_item_read_back_from_the_attached_bsend_buffer_is_checked_with_its_real_value() {
    // MPI_Bsend copies item 2 into `pool`; read back after the detach it
    // fails the assertion on every schedule. With every item 1 it would
    // hold, and the check would claim a proof.
    let source = "process S { let pool[4]; MPI_Buffer_attach(pool, 32);\n\
        produce a; produce b; MPI_Bsend(b, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
        MPI_Buffer_detach(&pool, &bytes); let v = pool[0]; assert v == 1; }\n\
        process R { MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st); }";
    for (order, jobs) in EVERY_ORDER {
        let options = CheckOptions {
            order,
            jobs,
            ..options()
        };
        let report = check::check(&program(source), &options).expect("checks");
        assert!(report.finding(Kind::AssertionFailed).is_some(), "{report}");
        assert_eq!(report.items_exact_because, Some(3));
    }
}

#[test]
fn the_credit_scheme_keeps_the_abstraction_and_its_proof() {
    let source = "const N = 2;\n\
        process Producer { loop { produce item; recv(Consumer, credit); send(Consumer, item); } }\n\
        process Consumer { repeat N { send(Producer, 0); }\n\
            loop { recv(Producer, item); send(Producer, 0); consume item; } }";
    let report = check::check(&program(source), &options()).expect("checks");
    assert!(report.is_proof_of_safety(), "{report}");
    assert!(!report.exact_items);
    assert_eq!(report.items_exact_because, None);
}

// Starvation: the saved lasso starves every process listed under it; `expect starvation(P)` gets P's lasso; without the analysis nothing is claimed of starvation.

/// Either worker can be kept out forever, but never both at once: whoever
/// holds the semaphore produces.
fn grabbing(expect: &str) -> String {
    format!(
        "semaphore s(initial = 1);\n\
         process W[2] {{ loop {{ if P(s, nonblocking) == OK {{ produce x; V(s); }} }} }}\n\
         expect {expect};"
    )
}

fn starving(verdict: &Verdict) -> Vec<String> {
    match verdict {
        Verdict::Runs { starving, .. } => starving.iter().map(|s| s.process.clone()).collect(),
        other => panic!("not a runs verdict: {other:?}"),
    }
}

#[test]
fn a_lasso_lists_only_the_processes_it_starves_and_names_the_others_apart() {
    let program = program(&grabbing("runs"));
    let report = check::check(&program, &options()).expect("checks");
    let finding = report.finding(Kind::Starvation).expect("starvation found");
    assert_eq!(starving(&finding.verdict), ["W[0]"]);
    assert_eq!(report.also_starving, ["W[1]"]);
    let replayed = check::replay(&program, &finding.schedule, 3).expect("replays");
    assert_eq!(starving(&replayed.verdict), ["W[0]"]);
}

#[test]
fn the_process_expect_names_gets_the_saved_lasso() {
    let program = program(&grabbing("starvation(W[1])"));
    let report = check::check(&program, &options()).expect("checks");
    let finding = report.finding(Kind::Starvation).expect("starvation found");
    assert_eq!(starving(&finding.verdict), ["W[1]"]);
    let replayed = check::replay(&program, &finding.schedule, 3).expect("replays");
    assert!(replayed.verdict.matches(program.expect.as_ref().unwrap()));
}

#[test]
fn without_the_analysis_no_proof_mentions_starvation() {
    let program = program(&grabbing("runs"));
    let options = CheckOptions {
        starvation: false,
        ..options()
    };
    let report = check::check(&program, &options).expect("checks");
    assert!(report.findings.is_empty());
    assert!(!report.starvation_checked);
    let text = report.to_string();
    assert!(text.contains("starvation was not looked for"), "{text}");
    assert!(!text.contains("errs or starves"), "{text}");
}

// Bounds and end states: `--max-depth N` finds what lies N steps away in every order; `--require-empty` flags a message never received.

/// A ring of three receives: every schedule deadlocks after three steps.
const RING: &str = "process A { recv(C, x); send(B, 1); }\n\
    process B { recv(A, x); send(C, 1); }\n\
    process C { recv(B, x); send(A, 1); }";

#[test]
fn a_deadlock_exactly_max_depth_steps_away_is_found_in_every_order() {
    for (order, jobs) in EVERY_ORDER {
        let options = CheckOptions {
            order,
            jobs,
            max_depth: 3,
            ..options()
        };
        let report = check::check(&program(RING), &options).expect("checks");
        let deadlock = report.finding(Kind::Deadlock);
        assert!(deadlock.is_some(), "{order:?} x{jobs}: {report}");
        assert_eq!(deadlock.unwrap().schedule.prefix.len(), 3);
        assert_eq!(
            report.stats.max_depth, 3,
            "{order:?} x{jobs}: the farthest state is 3 steps away"
        );
        let shallower = CheckOptions {
            max_depth: 2,
            ..options
        };
        let report = check::check(&program(RING), &shallower).expect("checks");
        assert!(
            report.findings.is_empty() && report.bound.is_some(),
            "{report}"
        );
    }
}

#[test]
fn the_time_limit_is_looked_at_before_every_expansion_in_every_order() {
    // Thousands of states; a limit that has run out before the search
    // starts must stop it at once, not after a thousand expansions (a
    // state of a large scenario can take milliseconds to expand).
    let source = "process W[4] { repeat 6 { yield; } }";
    for (order, jobs) in EVERY_ORDER {
        let options = CheckOptions {
            order,
            jobs,
            time_limit: Some(std::time::Duration::from_nanos(1)),
            ..options()
        };
        let report = check::check(&program(source), &options).expect("checks");
        assert_eq!(
            report.bound,
            Some(Bound::Time),
            "{order:?} x{jobs}: {report}"
        );
        assert!(report.stats.states < 10, "{order:?} x{jobs}: {report}");
    }
}

#[test]
fn a_stuck_state_stored_before_the_states_bound_is_judged_in_every_order() {
    // 14 states in all (the deadlock is one state, whichever of A and B
    // blocked first), the last one the deadlock: a bound of 14 stores it
    // without expanding it.
    let source = "process A { repeat 5 { yield; } recv(B, x); }\nprocess B { recv(A, y); }";
    let full = check::check(&program(source), &options()).expect("checks");
    assert_eq!(full.stats.states, 14, "{full}");
    for (order, jobs) in EVERY_ORDER {
        let options = CheckOptions {
            order,
            jobs,
            max_states: 14,
            ..options()
        };
        let report = check::check(&program(source), &options).expect("checks");
        assert!(
            report.finding(Kind::Deadlock).is_some(),
            "{order:?} x{jobs}: {report}"
        );
    }
}

#[test]
fn require_empty_flags_a_message_its_receiver_never_takes() {
    let direct = "process A { send(B, 1); send(B, 2); }\nprocess B { recv(A, x); }";
    let mailbox = "mailbox box(capacity = 4);\n\
        process A { send(box, 1); send(box, 2); }\nprocess B { recv(box, x); }";
    for source in [direct, mailbox] {
        let asked = CheckOptions {
            require_empty: true,
            ..options()
        };
        let report = check::check(&program(source), &asked).expect("checks");
        let finding = report.finding(Kind::NotEmpty).expect("a message is left");
        assert!(
            report
                .to_string()
                .contains("1 message is never received (undeliverable)"),
            "{report}"
        );
        let replayed = check::replay(&program(source), &finding.schedule, 1).expect("replays");
        assert_eq!(replayed.stats.undeliverable, 1);
        let not_asked = check::check(&program(source), &options()).expect("checks");
        assert!(not_asked.is_proof_of_safety(), "{not_asked}");
    }
    let all_taken = "process A { send(B, 1); send(B, 2); }\nprocess B { recv(A, x); recv(A, y); }";
    let asked = CheckOptions {
        require_empty: true,
        ..options()
    };
    assert!(check::check(&program(all_taken), &asked)
        .unwrap()
        .is_proof_of_safety());
}

#[test]
fn require_empty_searches_on_past_a_lost_message_and_finds_what_follows() {
    // B exits without receiving: A's message is lost, and C, waiting on B,
    // is blocked forever only after that. Both are found, in every order,
    // and the expectation holds as it does without the option.
    let source = "process A { let x = 1; send(B, x); }\n\
        process B { compute 1; }\n\
        process C { let y = 0; recv(B, y); }\n\
        expect blocked_forever(C);";
    let p = program(source);
    for (order, jobs) in EVERY_ORDER {
        let asked = CheckOptions {
            require_empty: true,
            order,
            jobs,
            ..options()
        };
        let report = check::check(&p, &asked).expect("checks");
        assert!(report.finding(Kind::NotEmpty).is_some(), "{report}");
        let stuck = report
            .finding(Kind::BlockedForever)
            .unwrap_or_else(|| panic!("{order:?} x{jobs}: {report}"));
        let expect = p.expect.as_ref().expect("an expect line");
        assert!(stuck.verdict.matches(expect), "{report}");
        let run = check::replay(&p, &stuck.schedule, 1).expect("replays");
        assert_eq!(Kind::of(&run.verdict), Some(Kind::BlockedForever));
        // B always exits unread: the loss is certain from the start.
        assert_eq!(
            report.finding(Kind::NotEmpty).unwrap().critical_step,
            Some(0)
        );
    }
}

// Exited processes: left out of the state only once the kernel will not read their memory.

/// S learns which helper sent first (`v` is 2 or 3), `MPI_Bsend`s it and
/// exits; R takes it only after S has exited, from S's attached buffer.
fn bsend_after_exit(want: u32) -> String {
    format!(
        "kernel {{ policy = notify; eager_limit = 0; }}\n\
         process S {{\n\
             let pool[2];\n\
             recv(ANY, a); let v = status.source; recv(ANY, a);\n\
             let r1 = recv(H[0], z); let r2 = recv(H[1], z);\n\
             MPI_Buffer_attach(pool, 16);\n\
             MPI_Bsend(v, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);\n\
         }}\n\
         process R {{\n\
             let r = recv(S, z);\n\
             MPI_Recv(x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, &st);\n\
             assert x == {want};\n\
         }}\n\
         process H[2] {{ send(S, 0); }}"
    )
}

#[test]
fn a_bsend_message_delivered_after_its_sender_exited_keeps_the_senders_memory_in_the_state() {
    // Either helper may go first, so either assertion fails in some
    // schedule; when the dead sender's memory was dropped, the two values
    // in its buffer were one state and one of the two was "proved".
    for want in [2, 3] {
        let p = program(&bsend_after_exit(want));
        let mut counts = Vec::new();
        for (order, jobs) in EVERY_ORDER {
            let options = CheckOptions {
                order,
                jobs,
                ..options()
            };
            let report = check::check(&p, &options).expect("checks");
            let finding = report
                .finding(Kind::AssertionFailed)
                .unwrap_or_else(|| panic!("want {want}, {order:?} x{jobs}: {report}"));
            let run = check::replay(&p, &finding.schedule, 3).expect("replays");
            assert_eq!(Kind::of(&run.verdict), Some(Kind::AssertionFailed));
            counts.push((report.stats.states, report.stats.transitions));
        }
        assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
    }
}

// Expectations naming a process: the schedule found is one that shows it.

#[test]
fn expect_blocked_forever_finds_a_schedule_that_blocks_the_named_process() {
    // One message, two receivers: either may be the one left waiting.
    for (first, second) in [("A", "B"), ("B", "A")] {
        let source = format!(
            "mailbox box(capacity = 1);\n\
             process X {{ send(box, 1); }}\n\
             process {first} {{ recv(box, a); }}\n\
             process {second} {{ recv(box, b); }}\n\
             expect blocked_forever(A);"
        );
        let p = program(&source);
        let report = check::check(&p, &options()).expect("checks");
        let finding = report.finding(Kind::BlockedForever).expect("found");
        let expect = p.expect.clone().expect("an expect line");
        assert!(finding.verdict.matches(&expect), "{first} first: {report}");
        let run = check::replay(&p, &finding.schedule, 3).expect("replays");
        assert!(run.verdict.matches(&expect), "{:?}", run.verdict);
    }
}

#[test]
fn a_depth_first_search_cut_by_the_depth_bound_still_finds_a_violation_that_far_away() {
    // Depth-first meets the state after the loop first through extra
    // polls, farther from the start than its shortest path; the deadlock
    // is 5 steps away by the shortest.
    let source = "shared flag;\n\
        process W { loop { let f = flag; if f == 1 { break; } } recv(C, y); }\n\
        process S { flag = 1; }\n\
        process C { recv(W, z); }";
    let options = CheckOptions {
        order: SearchOrder::DepthFirst,
        max_depth: 5,
        ..options()
    };
    let report = check::check(&program(source), &options).expect("checks");
    let deadlock = report
        .finding(Kind::Deadlock)
        .expect("a deadlock within 5 steps");
    assert_eq!(deadlock.schedule.prefix.len(), 5, "{report}");
}

#[test]
fn under_any_call_progress_a_yield_is_progress() {
    let source = "process A { recv(B, x); print x; }\nprocess B { loop { yield; } }";
    let options = CheckOptions {
        progress: check::ProgressKind::AnyCall,
        ..options()
    };
    let report = check::check(&program(source), &options).expect("checks");
    let finding = report.finding(Kind::Starvation).expect("A starves");
    assert_eq!(starving(&finding.verdict), ["A"], "{report}");
}

#[test]
fn a_lasso_never_leaves_a_timer_enabled_all_along_its_cycle_unfired() {
    // B spins; A waits with a timeout that keeps expiring. A cycle of B's
    // steps alone would leave A's timer enabled forever and never fire it:
    // not weakly fair. The lasso's cycle fires it.
    let source =
        "process A { loop { let r = recv(B, x, timeout = 2); if r == OK { consume x; } } }\n\
        process B { loop { yield; } }";
    let p = program(source);
    let report = check::check(&p, &options()).expect("checks");
    let finding = report.finding(Kind::Starvation).expect("A starves");
    assert!(
        finding.schedule.cycle.contains(&check::Choice::Timer(0)),
        "{}",
        finding.schedule
    );
    let run = check::replay(&p, &finding.schedule, 3).expect("replays");
    assert_eq!(starving(&run.verdict), ["A"]);
}

#[test]
fn a_process_with_no_items_is_judged_by_its_calls_as_run_judges_it() {
    // A and B wait for each other while C runs forever: `run` names both
    // as starving; so must the checker, though neither produces or consumes.
    let source = "process A { recv(B, x); send(B, 1); }\n\
                  process B { recv(A, y); send(A, 2); }\n\
                  process C { loop { produce z; yield; } }";
    let p = program(source);
    let run = ipclab_sim::runner::run(&p, ipclab_sim::runner::RunOptions::default()).expect("runs");
    assert_eq!(starving(&run.verdict), ["A", "B"]);
    let report = check::check(&p, &options()).expect("checks");
    let finding = report.finding(Kind::Starvation).expect("A and B starve");
    assert_eq!(starving(&finding.verdict), ["A", "B"], "{report}");
    let replayed = check::replay(&p, &finding.schedule, 3).expect("replays");
    assert_eq!(starving(&replayed.verdict), ["A", "B"]);
}

#[test]
fn a_proof_names_the_processes_starvation_was_not_judged_for() {
    // A has no `produce` or `consume`: by default it is judged by its
    // calls, as `run` judges it; under `--progress produce` it is not judged.
    let source = "process A { recv(B, x); print x; }\nprocess B { send(A, 1); produce item; }";
    let report = check::check(&program(source), &options()).expect("checks");
    assert!(report.is_proof_of_safety(), "{report}");
    assert!(report.not_judged.is_empty(), "{report}");
    let produce = CheckOptions {
        progress: check::ProgressKind::Produce,
        ..options()
    };
    let report = check::check(&program(source), &produce).expect("checks");
    assert!(report.is_proof_of_safety(), "{report}");
    assert_eq!(report.not_judged, ["A"]);
    assert!(
        report
            .to_string()
            .contains("not judged for starvation (no progress statement): A"),
        "{report}"
    );
}

#[test]
fn a_lasso_found_under_any_call_progress_replays_as_starvation() {
    let source = "process A { loop { yield; } }\n\
        process B { loop { let r = recv(A, x, nonblocking); } }";
    let options = CheckOptions {
        progress: check::ProgressKind::AnyCall,
        ..options()
    };
    let p = program(source);
    let report = check::check(&p, &options).expect("checks");
    let finding = report.finding(Kind::Starvation).expect("B starves");
    let text = finding.schedule.to_string();
    assert!(text.contains("# progress: any-call"), "{text}");
    let schedule = check::Schedule::parse(&text).expect("parses back");
    let run = check::replay(&p, &schedule, 3).expect("replays");
    assert_eq!(starving(&run.verdict), ["B"]);
}

#[test]
fn a_single_output_file_gets_the_schedule_the_expect_line_asks_about() {
    // A nearer deadlock (Q, T) and, on other schedules, P blocked forever.
    let source = "shared flag;\n\
        process P { recv(Q, v); }\n\
        process Q { let f = flag; if f == 1 { recv(T, a); } else { yield; yield; yield; yield; } }\n\
        process T { flag = 1; recv(Q, b); }\n\
        expect blocked_forever(P);";
    let dir = std::env::temp_dir().join(format!("ipclab-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("one.schedule");
    let options = CheckOptions {
        output: Output::File(file.clone()),
        ..options()
    };
    let report = check::check(&program(source), &options).expect("checks");
    assert!(report.finding(Kind::Deadlock).is_some(), "{report}");
    let saved = std::fs::read_to_string(&file).expect("saved");
    assert!(saved.contains("# kind: blocked_forever"), "{saved}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_replayed_step_draws_the_process_that_ran_on_the_cpu_as_run_does() {
    use ipclab_sim::trace::ProcView;
    // A produces (stays runnable), then blocks in recv; B's send wakes it.
    let p = program("process A { produce item; recv(B, x); }\nprocess B { send(A, 1); }");
    let schedule = check::Schedule::parse("ipclab-schedule 1\n0 0 1\n").expect("parses");
    let run = check::replay(&p, &schedule, 1).expect("replays");
    let states: Vec<_> = run.trace.steps.iter().map(|s| s.states.clone()).collect();
    assert_eq!(
        states[0],
        [ProcView::Running, ProcView::Ready],
        "A produced"
    );
    assert!(
        matches!(states[1][0], ProcView::Blocked { .. }) && states[1][1] == ProcView::Ready,
        "A blocked in recv: {:?}",
        states[1]
    );
    assert_eq!(
        states[2],
        [ProcView::Ready, ProcView::Running],
        "B's send woke A"
    );
}
