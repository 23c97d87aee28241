//! The bytecode VM against a tiny fake kernel that answers system calls.

use ipclab_sim::lang::{compile, complete_syscall, run, ProcState, Program, VmEvent};
use ipclab_syscalls::{Errno, Handle, MessageStatus, Pid, Reply, RetRegs, Source, Syscall};

fn compile_ok(source: &str) -> Program {
    match compile("vm.ipc", source.as_bytes(), &[]) {
        Ok(program) => program,
        Err(diagnostics) => panic!("{}", diagnostics.render(false)),
    }
}

fn ok(value: u64) -> RetRegs {
    Reply::to_regs(Ok(Reply::value(value)))
}

fn error(errno: Errno) -> RetRegs {
    Reply::to_regs(Err(errno))
}

/// Runs `instance` until it stops, answering each system call with `kernel`.
fn drive(
    program: &Program,
    instance: usize,
    mut kernel: impl FnMut(Syscall, &mut ProcState) -> RetRegs,
) -> (Vec<VmEvent>, ProcState) {
    let mut state = ProcState::new(program, instance);
    let mut events = Vec::new();
    for _ in 0..1000 {
        let event = run(program, instance, &mut state, 10_000);
        events.push(event.clone());
        match event {
            VmEvent::Syscall { regs, .. } => {
                let call = Syscall::decode(&regs).expect("the compiler encodes valid calls");
                if let Syscall::Exit { .. } = call {
                    break;
                }
                let ret = kernel(call, &mut state);
                complete_syscall(program, instance, &mut state, ret);
            }
            VmEvent::Compute { .. }
            | VmEvent::Produce { .. }
            | VmEvent::Consume { .. }
            | VmEvent::Print { .. } => {}
            _ => break,
        }
    }
    (events, state)
}

fn no_kernel(call: Syscall, _: &mut ProcState) -> RetRegs {
    panic!("unexpected system call {call:?}")
}

fn prints(events: &[VmEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            VmEvent::Print { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn last(events: &[VmEvent]) -> &VmEvent {
    events.last().expect("at least one event")
}

fn line_of(program: &Program, event: &VmEvent) -> usize {
    let span = match event {
        VmEvent::RuntimeError { span, .. }
        | VmEvent::AssertFailed { span, .. }
        | VmEvent::SyscallFailed { span, .. }
        | VmEvent::Syscall { span, .. } => *span,
        other => panic!("no span in {other:?}"),
    };
    program.line_col(span).0
}

#[test]
fn arithmetic_follows_precedence_and_truncates_division() {
    let program =
        compile_ok("process P { print \"sum\", 2 + 3 * 4, 7 / 2, -7 % 3, 10 - 20, (1 + 2) * 3; }");
    let (events, _) = drive(&program, 0, no_kernel);
    assert_eq!(prints(&events), ["sum 14 3 -1 -10 9"]);
    assert_eq!(last(&events), &VmEvent::Exited { code: 0 });
}

#[test]
fn overflow_wraps_instead_of_panicking() {
    let program = compile_ok(
        "const BIG = 9223372036854775807;\n\
         process P { let x = BIG; x = x + 1; print x; x = -x; print x; print x / -1; }",
    );
    let (events, _) = drive(&program, 0, no_kernel);
    let min = i64::MIN.to_string();
    assert_eq!(prints(&events), [min.clone(), min.clone(), min]);
}

#[test]
fn comparisons_and_logic_give_zero_or_one_and_short_circuit() {
    let program = compile_ok(
        "process P { let z = 0;\n\
         print 1 < 2, 2 <= 1, 3 == 3, 3 != 3, 4 > 5, 5 >= 5, !0, !7;\n\
         print 0 && 1 / z, 1 || 1 / z, 2 && 3, 0 || 0; }",
    );
    let (events, _) = drive(&program, 0, no_kernel);
    assert_eq!(prints(&events), ["1 0 1 0 0 1 1 0", "0 1 1 0"]);
}

#[test]
fn loops_repeat_while_break_and_continue_count_as_expected() {
    let program = compile_ok(
        "const N = 3;\n\
         process P {\n\
           let total = 0;\n\
           repeat N { total = total + 1; }\n\
           let i = 0;\n\
           while i < 10 { i = i + 1; if i % 2 == 0 { continue; } total = total + 10; }\n\
           loop { total = total + 100; if total > 500 { break; } }\n\
           repeat 0 - 5 { total = 0; }\n\
           print total;\n\
         }",
    );
    let (events, _) = drive(&program, 0, no_kernel);
    assert_eq!(prints(&events), ["553"]);
}

#[test]
fn if_else_if_else_picks_one_branch() {
    let program = compile_ok(
        "process P { let k = 0; repeat 3 {\n\
           if k == 0 { print \"zero\"; } else if k == 1 { print \"one\"; } else { print \"many\"; }\n\
           k = k + 1; } }",
    );
    let (events, _) = drive(&program, 0, no_kernel);
    assert_eq!(prints(&events), ["zero", "one", "many"]);
}

#[test]
fn arrays_hold_words_and_check_their_bounds() {
    let program = compile_ok(
        "process P {\n\
           let a[4];\n\
           let k = 0;\n\
           while k < 4 { a[k] = k * k; k = k + 1; }\n\
           print a[0] + a[1] + a[2] + a[3];\n\
           print a[k];\n\
         }",
    );
    let (events, _) = drive(&program, 0, no_kernel);
    assert_eq!(prints(&events), ["14"]);
    let VmEvent::RuntimeError { message, .. } = last(&events) else {
        panic!("{events:?}");
    };
    assert!(message.contains("index 4 is out of range"), "{message}");
    assert_eq!(line_of(&program, last(&events)), 6);
}

#[test]
fn division_by_zero_is_a_runtime_error_at_its_line() {
    let program = compile_ok("process P {\n  let z = 0;\n  print 1 / z;\n  print \"never\";\n}");
    let (events, state) = drive(&program, 0, no_kernel);
    let VmEvent::RuntimeError { message, .. } = last(&events) else {
        panic!("{events:?}");
    };
    assert_eq!(message, "division by zero");
    assert_eq!(line_of(&program, last(&events)), 3);
    assert!(state.finished);
    assert!(prints(&events).is_empty());
}

#[test]
fn a_failed_assertion_reports_its_condition() {
    let program = compile_ok("process P {\n  let x = 2;\n  assert x == 3;\n}");
    let (events, _) = drive(&program, 0, no_kernel);
    let VmEvent::AssertFailed { text, .. } = last(&events) else {
        panic!("{events:?}");
    };
    assert_eq!(text, "x == 3");
    assert_eq!(line_of(&program, last(&events)), 3);
}

#[test]
fn a_statement_form_call_that_fails_is_a_program_error() {
    let program = compile_ok("process Q { }\nprocess P {\n  send(Q, 5);\n  print \"after\";\n}");
    let (events, _) = drive(&program, 1, |call, _| {
        assert!(matches!(call, Syscall::Send { to, .. } if to == Pid::new(0, 1)));
        error(Errno::ESRCH)
    });
    match last(&events) {
        VmEvent::SyscallFailed { errno, call, .. } => {
            assert_eq!(*errno, Errno::ESRCH);
            assert_eq!(*call, "send");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(line_of(&program, last(&events)), 3);
}

#[test]
fn an_expression_form_call_gives_the_errno_to_the_program() {
    let program = compile_ok(
        "process Q { }\n\
         process P {\n\
           let r = recv(Q, x, timeout = 5);\n\
           if r == ETIMEDOUT { print \"timed out\", r; }\n\
           r = recv(Q, x, nonblocking);\n\
           print r == EAGAIN, status.error;\n\
           print recv(Q, x) == OK;\n\
         }",
    );
    let mut answers = vec![error(Errno::ETIMEDOUT), error(Errno::EAGAIN), ok(8)].into_iter();
    let mut timeouts = Vec::new();
    let (events, _) = drive(&program, 1, |call, _| {
        if let Syscall::Recv { timeout, .. } = call {
            timeouts.push(timeout);
        }
        answers.next().unwrap()
    });
    assert_eq!(prints(&events), ["timed out 110", "1 11", "1"]);
    use ipclab_syscalls::Timeout;
    assert_eq!(
        timeouts,
        [Timeout::After(5), Timeout::NonBlocking, Timeout::Never]
    );
}

#[test]
fn a_receive_fills_the_variable_and_the_status() {
    let program = compile_ok(
        "process A[2] { }\n\
         process P { recv(ANY, x, tag = 7); print x, status.source, status.tag, status.len; }",
    );
    let (events, _) = drive(&program, 2, |call, state| {
        let Syscall::Recv {
            from,
            tag,
            buf,
            cap,
            ..
        } = call
        else {
            panic!("{call:?}");
        };
        assert_eq!(from, Source::Any);
        assert_eq!(tag, ipclab_syscalls::TagFilter::Tag(7));
        assert_eq!(cap, 8);
        let start = buf as usize;
        state.memory[start..start + 8].copy_from_slice(&42i64.to_le_bytes());
        Reply::to_regs(Ok(Reply::received(MessageStatus {
            source: Pid::new(1, 1),
            tag: 7,
            len: 8,
        })))
    });
    assert_eq!(prints(&events), ["42 1 7 8"]);
}

#[test]
fn an_array_is_sent_whole_from_process_memory() {
    let program = compile_ok(
        "process Q { }\nprocess P { let buf[16]; buf[15] = 99; send(Q, buf, tag = 3); }",
    );
    let (events, _) = drive(&program, 1, |call, state| {
        let Syscall::Send {
            to, buf, len, tag, ..
        } = call
        else {
            panic!("{call:?}");
        };
        assert_eq!((to, len, tag), (Pid::new(0, 1), 128, 3));
        let last_word = buf as usize + 15 * 8;
        let bytes: [u8; 8] = state.memory[last_word..last_word + 8].try_into().unwrap();
        assert_eq!(i64::from_le_bytes(bytes), 99);
        ok(0)
    });
    assert_eq!(last(&events), &VmEvent::Exited { code: 0 });
}

#[test]
fn a_computed_value_is_sent_from_a_hidden_word() {
    let program = compile_ok("process Q { }\nprocess P { send(Q, 6 * 7); }");
    let (events, _) = drive(&program, 1, |call, state| {
        let Syscall::Send { buf, len, .. } = call else {
            panic!("{call:?}");
        };
        assert_eq!(len, 8);
        assert_eq!(state.word(buf as u32), Some(42));
        ok(0)
    });
    assert_eq!(last(&events), &VmEvent::Exited { code: 0 });
}

#[test]
fn declared_mailboxes_are_handles_in_declaration_order() {
    let program = compile_ok(
        "mailbox a(capacity = 1);\nmailbox b(capacity = 2);\n\
         process P { send(b, 1); recv(a, x); mbox_send(1, 2); }",
    );
    let mut seen = Vec::new();
    let (_, _) = drive(&program, 0, |call, _| {
        seen.push(call);
        ok(0)
    });
    assert!(matches!(
        seen[0],
        Syscall::MboxSend {
            handle: Handle(1),
            ..
        }
    ));
    assert!(matches!(
        seen[1],
        Syscall::MboxRecv {
            handle: Handle(0),
            ..
        }
    ));
    assert!(matches!(
        seen[2],
        Syscall::MboxSend {
            handle: Handle(1),
            ..
        }
    ));
}

#[test]
fn produce_gives_increasing_items_and_consume_reports_them() {
    let program = compile_ok("process P { repeat 2 { produce item; consume item; } }");
    let (events, _) = drive(&program, 0, no_kernel);
    let values: Vec<(bool, i64)> = events
        .iter()
        .filter_map(|e| match e {
            VmEvent::Produce { value, .. } => Some((true, *value)),
            VmEvent::Consume { value, .. } => Some((false, *value)),
            _ => None,
        })
        .collect();
    assert_eq!(values, [(true, 1), (false, 1), (true, 2), (false, 2)]);
}

#[test]
fn compute_sleep_yield_and_exit_become_events_and_calls() {
    let program = compile_ok("process P { compute 3; sleep 4; yield; exit 7; }");
    let mut calls = Vec::new();
    let (events, _) = drive(&program, 0, |call, _| {
        calls.push(call);
        ok(0)
    });
    assert!(matches!(events[0], VmEvent::Compute { ticks: 3, .. }));
    assert_eq!(calls, [Syscall::Sleep { ticks: 4 }, Syscall::Yield]);
    let VmEvent::Syscall { regs, .. } = last(&events) else {
        panic!("{events:?}");
    };
    assert_eq!(Syscall::decode(regs), Ok(Syscall::Exit { code: 7 }));
}

#[test]
fn a_negative_sleep_is_a_runtime_error() {
    let program = compile_ok("process P { let t = -1; sleep t; }");
    let (events, _) = drive(&program, 0, no_kernel);
    assert!(
        matches!(last(&events), VmEvent::RuntimeError { message, .. } if message.contains("sleep"))
    );
}

#[test]
fn a_dynamic_instance_index_is_checked_at_run_time() {
    let program = compile_ok(
        "process W[2] { }\nprocess P {\n  let i = 0;\n  repeat 3 { send(W[i], i); i = i + 1; }\n}",
    );
    let mut targets = Vec::new();
    let (events, _) = drive(&program, 2, |call, _| {
        if let Syscall::Send { to, .. } = call {
            targets.push(to);
        }
        ok(0)
    });
    assert_eq!(targets, [Pid::new(0, 1), Pid::new(1, 1)]);
    let VmEvent::RuntimeError { message, .. } = last(&events) else {
        panic!("{events:?}");
    };
    assert!(message.contains("W[2] does not exist"), "{message}");
    assert_eq!(line_of(&program, last(&events)), 4);
}

#[test]
fn index_and_self_name_the_instance() {
    let program = compile_ok("process A { }\nprocess W[3] { print index, self, W[index]; }");
    let (events, _) = drive(&program, 3, no_kernel);
    assert_eq!(prints(&events), ["2 3 3"]);
}

#[test]
fn a_replying_server_sends_back_to_the_status_source() {
    let program =
        compile_ok("process C[2] { }\nprocess S { recv(ANY, x); send(status.source, x + 1); }");
    let (_, _) = drive(&program, 2, |call, state| match call {
        Syscall::Recv { buf, .. } => {
            let start = buf as usize;
            state.memory[start..start + 8].copy_from_slice(&5i64.to_le_bytes());
            Reply::to_regs(Ok(Reply::received(MessageStatus {
                source: Pid::new(1, 1),
                tag: 0,
                len: 8,
            })))
        }
        Syscall::Send { to, buf, .. } => {
            assert_eq!(to, Pid::new(1, 1));
            assert_eq!(state.word(buf as u32), Some(6));
            ok(0)
        }
        other => panic!("{other:?}"),
    });
}

#[test]
fn mbox_create_gives_a_handle_or_a_negative_errno() {
    let program = compile_ok(
        "process P {\n\
           let h = mbox_create(\"jobs\", capacity = 2);\n\
           let g = mbox_open(\"nope\");\n\
           print h, g == -ENOENT;\n\
           mbox_send(h, 1);\n\
           close(h);\n\
         }",
    );
    let (events, _) = drive(&program, 0, |call, state| match call {
        Syscall::MboxCreate {
            name,
            name_len,
            capacity,
        } => {
            let start = name as usize;
            assert_eq!(&state.memory[start..start + name_len as usize], b"jobs");
            assert_eq!(capacity, 2);
            ok(5)
        }
        Syscall::MboxOpen { .. } => error(Errno::ENOENT),
        Syscall::MboxSend { handle, .. } => {
            assert_eq!(handle, Handle(5));
            ok(0)
        }
        Syscall::Close { handle } => {
            assert_eq!(handle, Handle(5));
            ok(0)
        }
        other => panic!("{other:?}"),
    });
    assert_eq!(prints(&events), ["5 1"]);
    assert_eq!(last(&events), &VmEvent::Exited { code: 0 });
}

#[test]
fn a_long_local_loop_stops_at_the_budget_and_resumes() {
    let program = compile_ok("process P { let x = 0; while x < 1000 { x = x + 1; } print x; }");
    let mut state = ProcState::new(&program, 0);
    assert_eq!(run(&program, 0, &mut state, 100), VmEvent::Budget);
    let snapshot = state.clone();
    assert_eq!(snapshot, state);
    let mut event = VmEvent::Budget;
    for _ in 0..1000 {
        event = run(&program, 0, &mut state, 100);
        if event != VmEvent::Budget {
            break;
        }
    }
    assert!(matches!(event, VmEvent::Print { ref text, .. } if text == "1000"));
}

#[test]
fn a_finished_process_keeps_reporting_its_exit() {
    let program = compile_ok("process P { }");
    let mut state = ProcState::new(&program, 0);
    assert_eq!(
        run(&program, 0, &mut state, 10),
        VmEvent::Exited { code: 0 }
    );
    assert_eq!(
        run(&program, 0, &mut state, 10),
        VmEvent::Exited { code: 0 }
    );
    assert!(state.finished);
}

#[test]
fn running_with_a_call_pending_is_reported_not_a_panic() {
    let program = compile_ok("process Q { }\nprocess P { send(Q, 1); }");
    let mut state = ProcState::new(&program, 1);
    assert!(matches!(
        run(&program, 1, &mut state, 100),
        VmEvent::Syscall { .. }
    ));
    assert!(matches!(
        run(&program, 1, &mut state, 100),
        VmEvent::RuntimeError { .. }
    ));
    assert!(matches!(
        run(&program, 99, &mut ProcState::new(&program, 99), 100),
        VmEvent::RuntimeError { .. }
    ));
}

#[test]
fn print_separates_every_part_by_one_space_even_an_empty_first_one() {
    let program =
        compile_ok("process A { print \"\", 1, \"x\"; print 1, \"\", 2; print \"a\", \"\"; }");
    let (events, _) = drive(&program, 0, no_kernel);
    assert_eq!(prints(&events), [" 1 x", "1  2", "a "]);
}

#[test]
fn a_computed_negative_receive_tag_is_a_runtime_error_not_any() {
    // -1 is how ANY travels in the registers: it must not pass for it.
    let program =
        compile_ok("process A { let t = -1; let x; let r = recv(B, x, tag = t); }\nprocess B {}");
    let (events, _) = drive(&program, 0, no_kernel);
    match last(&events) {
        VmEvent::RuntimeError { message, .. } => {
            assert!(
                message.contains("tag must not be negative, got -1"),
                "{message}"
            );
        }
        other => panic!("expected a runtime error, got {other:?}"),
    }
}

#[test]
fn a_call_with_constant_arguments_reports_the_span_of_the_whole_call() {
    // The fused call used to report its first argument's span (`B`).
    let program = compile_ok("process A { let r = send(B, 1, tag = 7); }\nprocess B {}");
    let (events, _) = drive(&program, 0, |_, _| ok(0));
    let span = match &events[0] {
        VmEvent::Syscall { span, .. } => *span,
        other => panic!("expected the call, got {other:?}"),
    };
    assert_eq!(program.text_at(span), "send(B, 1, tag = 7)");
}
