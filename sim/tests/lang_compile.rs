//! Compiling scenarios: the lecture example, constants and overrides, declarations and the compiled form.

use ipclab_sim::lang::{compile, disassemble, Expectation, Instruction, Policy, Program};
use ipclab_syscalls::{Pid, Sysno};

const LECTURE: &str = r#"// Indirect addressing with credits (lecture example)
const N = 2;                      // overridable: -D N=3
kernel { buffer_slots = 8; policy = classic; }
mailbox prodMbox(capacity = 4);
mailbox consMbox(capacity = 4);

process Producer[2] {
    loop {
        produce item;
        recv(prodMbox, credit);
        send(consMbox, item);
    }
}
process Consumer {
    repeat N { send(prodMbox, credit); }
    loop {
        recv(consMbox, item);
        send(prodMbox, credit);
        consume item;
    }
}
expect runs;   // or: deadlock, completes, blocked_forever(Producer[1]), starvation(Producer[0]), error, assertion_failed
"#;

fn compile_ok(source: &str) -> Program {
    match compile("test.ipc", source.as_bytes(), &[]) {
        Ok(program) => program,
        Err(diagnostics) => panic!("{}", diagnostics.render(false)),
    }
}

fn syscalls(program: &Program, decl: usize) -> Vec<Sysno> {
    program.processes[decl]
        .code
        .instructions
        .iter()
        .filter_map(|i| match i {
            Instruction::Syscall { sysno, .. } => Some(*sysno),
            _ => None,
        })
        .collect()
}

#[test]
fn the_lecture_example_compiles_into_declarations_and_instances() {
    let program = compile_ok(LECTURE);
    assert_eq!(program.kernel.buffer_slots, Some(8));
    assert_eq!(program.kernel.policy, Some(Policy::Classic));
    assert_eq!(program.mailboxes.len(), 2);
    assert_eq!(program.mailboxes[1].name, "consMbox");
    assert_eq!(program.mailboxes[1].capacity, 4);
    assert_eq!(program.processes.len(), 2);
    assert_eq!(program.processes[0].count, 2);
    let labels: Vec<&str> = program.instances.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(labels, ["Producer[0]", "Producer[1]", "Consumer"]);
    assert_eq!(program.expect, Some(Expectation::Runs));
    assert_eq!(program.instance_of("Consumer"), Some(2));
    assert_eq!(program.instance_of("Producer[1]"), Some(1));
    assert_eq!(program.instance_of("Nobody"), None);
    assert!(program.mem_words >= 2);
}

#[test]
fn mailbox_names_compile_to_mailbox_calls() {
    let program = compile_ok(LECTURE);
    assert_eq!(syscalls(&program, 0), [Sysno::MboxRecv, Sysno::MboxSend]);
    assert_eq!(
        syscalls(&program, 1),
        [Sysno::MboxSend, Sysno::MboxRecv, Sysno::MboxSend]
    );
}

#[test]
fn spans_of_instructions_point_into_the_source() {
    let program = compile_ok(LECTURE);
    let pc = program.processes[0]
        .code
        .instructions
        .iter()
        .position(|i| matches!(i, Instruction::Syscall { .. }))
        .unwrap();
    let span = program.span_of(0, pc as u32);
    assert_eq!(program.line_col(span), (10, 9));
    assert_eq!(
        &program.source[span.start as usize..span.end as usize],
        "recv(prodMbox, credit)"
    );
}

#[test]
fn overriding_a_constant_changes_its_value() {
    let program = compile("t.ipc", LECTURE.as_bytes(), &[("N".to_string(), 3)]).expect("compiles");
    let pushes_three = program.processes[1]
        .code
        .instructions
        .contains(&Instruction::Push(3));
    assert!(pushes_three);
}

#[test]
fn constants_can_size_instances_and_mailboxes() {
    let source = "const K = 3; const C = K * 2; mailbox m(capacity = C);\n\
                  process W[K] { send(m, index); }\nexpect completes;";
    let program = compile_ok(source);
    assert_eq!(program.instances.len(), 3);
    assert_eq!(program.mailboxes[0].capacity, 6);
    // 4 * 2 = 8: the kernel's default mailbox quota, the most that boots.
    let program = compile("t.ipc", source.as_bytes(), &[("K".to_string(), 4)]).expect("compiles");
    assert_eq!(program.instances.len(), 4);
    assert_eq!(program.mailboxes[0].capacity, 8);
}

#[test]
fn process_references_compile_to_the_pids_of_a_fresh_kernel() {
    let program =
        compile_ok("process A[2] { send(B, index); }\nprocess B { recv(A[1], x); recv(ANY, x); }");
    // The pid is the call's first argument: pushed, or fused into the call.
    let passes = |decl: usize, pid: Pid| {
        program.processes[decl]
            .code
            .instructions
            .iter()
            .any(|i| match i {
                Instruction::Push(value) => *value == pid.to_raw() as i64,
                Instruction::CallWith { args, .. } => args[0] == pid.to_raw() as i64,
                _ => false,
            })
    };
    assert!(passes(1, Pid::new(1, 1)));
    assert!(passes(0, Pid::new(2, 1)));
}

#[test]
fn a_call_with_constant_arguments_is_fused_in_place() {
    let program = compile_ok("process A { send(B, 7); }\nprocess B { recv(A, x); }");
    let code = &program.processes[1].code.instructions;
    // recv(A, x): source, tag, buffer, capacity, timeout, flags, all constant.
    let Instruction::CallWith { sysno, args, .. } = &code[0] else {
        panic!("expected a fused call first, got {:?}", code[0]);
    };
    assert_eq!(*sysno, Sysno::Recv);
    assert_eq!(args[0], Pid::new(0, 1).to_raw() as i64);
    // The pushes after the first and the syscall stay where they were.
    assert!(code[1..6].iter().all(|i| matches!(i, Instruction::Push(_))));
    assert!(matches!(
        code[6],
        Instruction::Syscall {
            sysno: Sysno::Recv,
            ..
        }
    ));
}

#[test]
fn a_call_with_a_computed_argument_is_not_fused() {
    let program = compile_ok("process A[2] { send(A[1 - index], index); recv(ANY, x); }");
    let code = &program.processes[0].code.instructions;
    let fused: Vec<Sysno> = code
        .iter()
        .filter_map(|i| match i {
            Instruction::CallWith { sysno, .. } => Some(*sysno),
            _ => None,
        })
        .collect();
    // The send's pid and value are computed; the receive's arguments are not.
    assert_eq!(fused, [Sysno::Recv]);
}

#[test]
fn every_kernel_option_is_read() {
    let program = compile_ok(
        "kernel { buffer_slots = 0; eager_limit = 64; receiver_quota = 2; mailbox_quota = 3;\n\
         policy = notify; refuse_deadlock = true; quantum = 5; priorities = true; }\n\
         process P priority 3 { exit; }",
    );
    let kernel = program.kernel;
    assert_eq!(kernel.buffer_slots, Some(0));
    assert_eq!(kernel.eager_limit, Some(64));
    assert_eq!(kernel.receiver_quota, Some(2));
    assert_eq!(kernel.mailbox_quota, Some(3));
    assert_eq!(kernel.policy, Some(Policy::Notify));
    assert_eq!(kernel.refuse_deadlock, Some(true));
    assert_eq!(kernel.quantum, Some(5));
    assert_eq!(kernel.priorities, Some(true));
    assert_eq!(program.processes[0].priority, Some(3));
}

#[test]
fn every_verdict_parses() {
    let cases = [
        ("completes", Expectation::Completes),
        ("deadlock", Expectation::Deadlock),
        ("runs", Expectation::Runs),
        ("error", Expectation::Error),
        ("assertion_failed", Expectation::AssertionFailed),
        (
            "blocked_forever(P[1])",
            Expectation::BlockedForever {
                instance: 1,
                label: "P[1]".to_string(),
            },
        ),
        (
            "starvation(Q)",
            Expectation::Starvation {
                instance: 2,
                label: "Q".to_string(),
            },
        ),
    ];
    for (text, expected) in cases {
        let source = format!("process P[2] {{ }}\nprocess Q {{ }}\nexpect {text};");
        assert_eq!(compile_ok(&source).expect, Some(expected), "{text}");
    }
}

#[test]
fn the_disassembly_names_the_system_calls() {
    let program = compile_ok(LECTURE);
    let listing = disassemble(&program, 0);
    assert!(listing.contains("syscall mbox_recv"), "{listing}");
    assert!(listing.contains("item @"), "{listing}");
    assert!(disassemble(&program, 9).contains("no process"));
}

#[test]
fn the_whole_statement_set_compiles() {
    compile_ok(
        r#"
const SIZE = 16;
mailbox jobs(capacity = 0);
process Server priority 1 {
    let buf[SIZE];
    let count = 0;
    while count < 3 {
        let r = recv(ANY, buf, tag = ANY, timeout = 10);
        if r == ETIMEDOUT { print "timeout"; continue; }
        else if r != OK { exit r; }
        print "from", status.source, "tag", status.tag, "len", status.len;
        buf[0] = buf[1] * 2 + buf[2] % 3 - -1;
        count = count + 1;
    }
    let h = mbox_create("dyn", capacity = 2);
    assert h >= 0 && !(h < 0) || false;
    mbox_send(h, 5, tag = 1, nonblocking);
    mbox_recv(h, x);
    close(h);
    let t = clock();
    let me = getpid();
    sleep 2;
    yield;
    compute 3;
    repeat 2 { break; }
    loop { break; }
}
process Client[2] {
    let msg[SIZE];
    msg[index] = self;
    send(Server, msg, tag = index);
    send(Client[1 - index], 7, nonblocking);
    recv(Client[(index + 1) % 2], v, timeout = 0);
    send(jobs, v);
}
expect completes;
"#,
    );
}

#[test]
fn a_leading_byte_order_mark_is_skipped_and_columns_stay_right() {
    let program = compile("bom.ipc", b"\xef\xbb\xbfprocess A { }", &[]).unwrap();
    assert_eq!(program.processes[0].name, "A");
    let errors = compile("bom.ipc", b"\xef\xbb\xbfprocess A { x = ; }", &[]).unwrap_err();
    assert_eq!((errors.errors[0].line, errors.errors[0].column), (1, 17));
    // Only at the start: elsewhere it is still a stray character.
    assert!(compile("bom.ipc", "process A { }\n\u{feff}".as_bytes(), &[]).is_err());
}

#[test]
fn override_values_read_like_literals() {
    use ipclab_sim::lang::integer_literal;
    assert_eq!(integer_literal("0x10"), Ok(16));
    assert_eq!(integer_literal("1_0"), Ok(10));
    assert_eq!(integer_literal("-3"), Ok(-3));
    assert!(integer_literal("three").is_err());
}
