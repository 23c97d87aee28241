//! The keyboard scenarios end to end: typed keys reach the user process in order through interrupt, ring, semaphore, driver and mailbox; a ring typed into faster than it is read reports its overruns.

use std::path::PathBuf;

use ipclab_sim::lang::{compile, Program};
use ipclab_sim::runner::{run, RunOptions, RunResult};
use ipclab_sim::trace::TraceEvent;
use ipclab_sim::verdict::Verdict;

fn scenario(name: &str) -> Program {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.ipc"));
    let source = std::fs::read(&path).expect("a readable scenario");
    compile(&format!("{name}.ipc"), &source, &[]).expect("compiles")
}

fn run_scenario(name: &str) -> RunResult {
    let program = scenario(name);
    let result = run(&program, RunOptions::default()).expect("boots");
    let expect = program.expect.as_ref().expect("an expect line");
    assert!(
        result.verdict.matches(expect),
        "{name}: {:?}",
        result.verdict
    );
    result
}

fn events(result: &RunResult) -> impl Iterator<Item = &TraceEvent> {
    result.trace.steps.iter().flat_map(|s| s.events.iter())
}

/// The character codes `User` printed (`getchar() = 72`).
fn typed(result: &RunResult) -> Vec<u8> {
    result
        .output
        .iter()
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn every_key_reaches_getchar_in_order_converted_to_upper_case() {
    let result = run_scenario("keyboard");
    assert!(matches!(result.verdict, Verdict::Completes));
    assert_eq!(typed(&result), b"HELLO\n", "{:?}", result.output);
    let interrupts: String = events(&result)
        .filter_map(|e| match e {
            TraceEvent::Interrupt {
                character,
                semaphore,
                ..
            } => {
                assert_eq!(semaphore, "chars");
                Some(character.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(interrupts, "'h''e''l''l''o''\\n'");
    assert!(!events(&result).any(|e| matches!(e, TraceEvent::Overrun { .. })));
    // The driver read each key with dev_read after its P.
    let reads = events(&result)
        .filter(|e| matches!(e, TraceEvent::Syscall { call, .. } if call == "dev_read(keyboard)"))
        .count();
    assert_eq!(reads, 6);
}

#[test]
fn a_full_ring_drops_keys_with_a_reported_and_counted_overrun() {
    let result = run_scenario("keyboard-overrun");
    let overruns: Vec<(String, u64, usize)> = events(&result)
        .filter_map(|e| match e {
            TraceEvent::Overrun {
                character,
                overruns,
                capacity,
                ..
            } => Some((character.clone(), *overruns, *capacity)),
            _ => None,
        })
        .collect();
    assert!(!overruns.is_empty(), "no overrun reported");
    // Counted: the n-th drop says n, and the ring is the declared 2.
    for (k, (_, count, capacity)) in overruns.iter().enumerate() {
        assert_eq!((*count, *capacity), (k as u64 + 1, 2));
    }
    let stored: Vec<u8> = events(&result)
        .filter_map(|e| match e {
            TraceEvent::Interrupt { character, .. } => character.as_bytes().get(1).copied(),
            _ => None,
        })
        .collect();
    // Every typed key was stored or dropped, never lost silently.
    assert_eq!(stored.len() + overruns.len(), b"abcdef".len());
    // The user gets exactly the stored keys, in typed order.
    assert_eq!(typed(&result), stored);
    let Verdict::BlockedForever { stuck } = &result.verdict else {
        panic!("{:?}", result.verdict);
    };
    assert!(stuck
        .iter()
        .any(|s| s.process == "Driver" && s.why.contains("waits for keyboard input")));
}

fn run_source(source: &str) -> RunResult {
    let program = compile("t.ipc", source.as_bytes(), &[]).expect("compiles");
    run(&program, RunOptions::default()).expect("boots")
}

#[test]
fn a_device_semaphore_that_a_process_also_raises_can_be_part_of_a_deadlock() {
    // Driver's second P(chars) waits for Helper's V(chars), Helper waits
    // for Driver's send: a circular wait, not a wait for the keyboard.
    let result = run_source(
        "semaphore chars(0);\n\
         device keyboard(ring = 4, semaphore = chars) { at 1: \"a\"; }\n\
         process Driver { P(chars); let c = dev_read(keyboard); P(chars); send(Helper, c); }\n\
         process Helper { recv(Driver, x); V(chars); }",
    );
    let Verdict::Deadlock { cycle, .. } = &result.verdict else {
        panic!("{:?}", result.verdict);
    };
    assert_eq!(cycle.len(), 2);
    // Without the helper's V, the same wait is for the keyboard alone.
    let result = run_source(
        "semaphore chars(0);\n\
         device keyboard(ring = 4, semaphore = chars) { at 1: \"a\"; }\n\
         process Driver { P(chars); let c = dev_read(keyboard); P(chars); send(Helper, c); }\n\
         process Helper { recv(Driver, x); }",
    );
    let explained = result.verdict.explain().join("\n");
    assert!(
        explained.contains("waits for keyboard input (no more input scheduled)"),
        "{explained}"
    );
}

#[test]
fn the_run_ends_when_every_process_has_exited_with_input_still_to_come() {
    let result = run_source(
        "semaphore chars(0);\n\
         device keyboard(ring = 4, semaphore = chars) { at 50: \"xyz\"; }\n\
         process A { print \"bye\"; }",
    );
    assert_eq!(result.verdict, Verdict::Completes);
    assert!(result.ticks < 50, "the clock ran on to {}", result.ticks);
    assert_eq!(
        events(&result)
            .filter(|e| matches!(e, TraceEvent::Interrupt { .. }))
            .count(),
        0
    );
}
