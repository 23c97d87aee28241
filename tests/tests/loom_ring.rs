//! loom model: the keyboard's interrupt ring, the handler on one CPU and the device thread on another (no character lost, duplicated or reordered; overruns counted).
//!
//! The handler pushes "hi\n" into a ring of two slots and never waits: a
//! push onto a full ring is an overrun. The device thread pops until the
//! handler is done and the ring is empty. Every character is received
//! once, in order, or counted as an overrun. The broken variant publishes
//! the new tail with `Relaxed`: loom finds the execution in which the
//! device thread reads the slot before the character is in it.
#![cfg(loom)]

use ipclab_kernel::ring::Ring;
use ipclab_kernel::sync::Ordering;
use loom::sync::atomic::AtomicBool;
use loom::sync::Arc;

fn ring(publish: Ordering) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(move || {
        let ring: Arc<Ring<2>> = Arc::new(Ring::new());
        let done = Arc::new(AtomicBool::new(false));
        let handler = {
            let (ring, done) = (ring.clone(), done.clone());
            loom::thread::spawn(move || {
                let mut pushed = Vec::new();
                for &c in b"hi\n" {
                    if ring.push_publishing(c, publish).is_ok() {
                        pushed.push(c);
                    }
                }
                done.store(true, Ordering::Release);
                pushed
            })
        };
        let mut received = Vec::new();
        loop {
            let finished = done.load(Ordering::Acquire);
            match ring.pop() {
                Some(c) => received.push(c),
                None if finished => break,
                None => loom::thread::yield_now(),
            }
        }
        let pushed = handler.join().unwrap();
        assert_eq!(
            received, pushed,
            "received exactly what was pushed, in order"
        );
        assert_eq!(received.len() + ring.overruns(), 3, "every overrun counted");
    });
}

#[test]
fn the_interrupt_ring_loses_and_duplicates_nothing_and_counts_overruns() {
    ring(Ordering::Release);
}

#[test]
#[should_panic(expected = "received exactly what was pushed")]
fn loom_finds_the_ring_that_publishes_with_relaxed() {
    ring(Ordering::Relaxed);
}
