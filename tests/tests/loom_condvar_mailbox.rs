//! loom model: the lecture's user-level mailbox, a bounded buffer guarded by a mutex and a condition variable.
//!
//! One producer puts two items into a buffer of one slot; two consumers
//! take one each. A consumer waits while the buffer is empty, a producer
//! while it is full, and each signals after changing it (Mesa semantics:
//! a woken waiter must check again). The broken variant checks with `if`
//! instead of `while`: loom finds the execution in which the other
//! consumer takes the item between the signal and the wake-up, and the
//! woken one takes from an empty buffer.
//!
//! This is the algorithm of `scenarios/user-mailbox*.ipc` at host level
//! (loom's `Mutex` and `Condvar`); the kernel's own objects are checked by
//! the scenario checker.
#![cfg(loom)]

use std::collections::VecDeque;

use loom::sync::{Arc, Condvar, Mutex};

struct Mailbox {
    items: Mutex<VecDeque<u32>>,
    changed: Condvar,
    recheck: bool,
}

impl Mailbox {
    fn put(&self, item: u32) {
        let mut items = self.items.lock().unwrap();
        while items.len() == 1 {
            items = self.changed.wait(items).unwrap();
        }
        items.push_back(item);
        self.changed.notify_all();
    }

    fn take(&self) -> u32 {
        let mut items = self.items.lock().unwrap();
        if self.recheck {
            while items.is_empty() {
                items = self.changed.wait(items).unwrap();
            }
        } else if items.is_empty() {
            // The bug: `if`, not `while`.
            items = self.changed.wait(items).unwrap();
        }
        let item = items.pop_front().expect("took from an empty buffer");
        self.changed.notify_all();
        item
    }
}

fn user_mailbox(recheck: bool) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(move || {
        let mailbox = Arc::new(Mailbox {
            items: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
            recheck,
        });
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let mailbox = mailbox.clone();
                loom::thread::spawn(move || mailbox.take())
            })
            .collect();
        mailbox.put(1);
        mailbox.put(2);
        let mut got: Vec<u32> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2], "each item taken exactly once");
    });
}

#[test]
fn the_user_level_mailbox_with_while_gives_each_item_to_one_consumer() {
    user_mailbox(true);
}

#[test]
#[should_panic(expected = "took from an empty buffer")]
fn loom_finds_the_consumer_that_checks_with_if() {
    user_mailbox(false);
}
