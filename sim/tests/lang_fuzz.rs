//! Fuzzing the compiler and the VM: random bytes and mutated scenarios never panic.
//!
//! Each case either compiles, in which case every instance is run for a few
//! events against a kernel that answers every call with success or an error,
//! or yields diagnostics whose message and rendering are non-empty. Runs on
//! the test harness's default thread stack: deep nesting must be a
//! diagnostic, not a stack overflow.

use ipclab_sim::lang::{compile, complete_syscall, run, ProcState, VmEvent};
use ipclab_syscalls::Errno;
use proptest::prelude::*;

const EXAMPLE: &str = r#"// Indirect addressing with credits (lecture example)
const N = 2;
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
    let buf[4];
    repeat N { send(prodMbox, credit); }
    loop {
        recv(consMbox, item);
        let r = send(Producer[item % 2], item, timeout = 3);
        if r != OK && status.source >= 0 { buf[item % 4] = item / (r - 110); }
        send(prodMbox, credit);
        consume item;
        print "got", item, status.len;
        assert item > 0 || !(item < 0);
    }
}
expect blocked_forever(Producer[1]);
"#;

fn check(source: &[u8]) {
    match compile("fuzz.ipc", source, &[]) {
        Ok(program) => {
            for instance in 0..program.instances.len() {
                let mut state = ProcState::new(&program, instance);
                for step in 0..40u64 {
                    match run(&program, instance, &mut state, 500) {
                        VmEvent::Syscall { .. } => {
                            let ret = if step % 3 == 2 {
                                [Errno::EAGAIN.number(), 0, 0, 0]
                            } else {
                                [0, 8, step, 0]
                            };
                            complete_syscall(&program, instance, &mut state, ret);
                        }
                        VmEvent::Exited { .. }
                        | VmEvent::RuntimeError { .. }
                        | VmEvent::AssertFailed { .. }
                        | VmEvent::SyscallFailed { .. } => break,
                        _ => {}
                    }
                }
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.first_message().is_empty());
            assert!(!diagnostics.errors.is_empty());
            assert!(!diagnostics.render(false).is_empty());
        }
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn apply(source: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = source.to_vec();
    for mutation in mutations {
        let length = bytes.len().max(1);
        match *mutation {
            Mutation::Flip(at, bit) => {
                if let Some(byte) = bytes.get_mut(at % length) {
                    *byte ^= 1 << (bit % 8);
                }
            }
            Mutation::Insert(at, byte) => bytes.insert(at % (bytes.len() + 1), byte),
            Mutation::Delete(at) => {
                if !bytes.is_empty() {
                    bytes.remove(at % length);
                }
            }
            Mutation::Truncate(at) => bytes.truncate(at % length),
            Mutation::Duplicate(at, span) => {
                let start = at % length;
                let end = (start + span % 64).min(bytes.len());
                let copy: Vec<u8> = bytes[start..end].to_vec();
                let position = end;
                bytes.splice(position..position, copy);
            }
        }
    }
    bytes
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Inserted bytes favour the language's own punctuation, which finds more parser paths.
    let interesting = prop_oneof![
        any::<u8>(),
        proptest::sample::select(b"{}()[];,=+-*/%!<>&|\".0123456789_ aZ\n".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (any::<usize>(), interesting).prop_map(|(a, b)| Mutation::Insert(a, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn random_token_soup_never_panics(
        words in proptest::collection::vec(
            proptest::sample::select(vec![
                "process", "P", "Q[2]", "{", "}", "(", ")", "[", "]", ";", ",", "=", "send",
                "recv", "loop", "repeat", "while", "if", "else", "let", "x", "buf", "1", "0",
                "-", "+", "/", "%", "!", "&&", "||", "status", ".", "source", "ANY", "tag",
                "timeout", "nonblocking", "mailbox", "m", "capacity", "const", "N", "kernel",
                "expect", "runs", "produce", "consume", "print", "\"t\"", "assert", "break",
                "exit", "index", "self", "mbox_create", "compute", "sleep", "Q",
            ]),
            0..120,
        )
    ) {
        check(words.join(" ").as_bytes());
    }

    #[test]
    fn mutations_of_a_valid_scenario_never_panic(
        mutations in proptest::collection::vec(mutation(), 1..8)
    ) {
        check(&apply(EXAMPLE.as_bytes(), &mutations));
    }

    #[test]
    fn deep_nesting_never_overflows_the_stack(
        depth in 0usize..3000,
        opener in proptest::sample::select(vec!["(", "loop {", "-", "!", "if 1 {", "x[", "f("]),
    ) {
        let source = format!("process P {{ x = {}", opener.repeat(depth));
        check(source.as_bytes());
        let source = format!("process P {{ {} }}", opener.repeat(depth));
        check(source.as_bytes());
    }
}

#[test]
fn the_fuzz_example_itself_compiles() {
    assert!(compile("fuzz.ipc", EXAMPLE.as_bytes(), &[]).is_ok());
}

#[test]
fn a_very_long_line_is_a_diagnostic() {
    let line = format!("process P {{ {} }}", "x = 1; ".repeat(20_000)) + &"@".repeat(10_000);
    check(line.as_bytes());
}
