//! Deadlock refusal: would this blocking call close a cycle in the wait-for graph?
//!
//! Only definite waits count: a process blocked in `send` to a pid, or in
//! `recv` from a pid, waits for exactly that process. A receive from `ANY`
//! or a wait on a mailbox could be satisfied by several processes, so it is
//! not an edge here (the simulator's deadlock analysis covers those). This
//! is the rule Minix applies. A `lock` waits for exactly the mutex's owner,
//! so lock-order cycles are refused too.

use ipclab_syscalls::{Pid, Source};

use crate::config::MAX_PROCS;
use crate::{BlockReason, Kernel};

impl Kernel {
    /// The one process `reason` waits for, if it waits for exactly one.
    pub fn definite_partner(reason: BlockReason) -> Option<Pid> {
        match reason {
            BlockReason::Send { to, .. } => Some(to),
            BlockReason::Recv {
                from: Source::Pid(from),
                ..
            } => Some(from),
            BlockReason::Mpi {
                peer: Source::Pid(peer),
                ..
            } => Some(peer),
            BlockReason::MutexLock { owner, .. } => Some(owner),
            _ => None,
        }
    }

    /// Would `caller`, blocking for `reason`, close a wait-for cycle?
    pub(crate) fn would_close_cycle(&self, caller: Pid, reason: BlockReason) -> bool {
        let mut next = Kernel::definite_partner(reason);
        // A cycle visits each process at most once.
        for _ in 0..MAX_PROCS {
            match next {
                Some(pid) if pid == caller => return true,
                Some(pid) => next = self.reason_of(pid).and_then(Kernel::definite_partner),
                None => return false,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Errno, Source, TagFilter, Timeout};

    use crate::testing::*;

    #[test]
    fn a_call_that_would_close_a_cycle_is_edeadlk_when_refusal_is_on() {
        let mut w = World::with(|c| {
            c.refuse_deadlock = true;
            c.buffer_slots = 0;
        });
        let (a, b, c) = (w.spawn(1), w.spawn(1), w.spawn(1));
        blocked(w.send(a, b, b"x", 0, Timeout::Never));
        blocked(w.recv(b, Source::Pid(c), TagFilter::Any, 8, Timeout::Never));
        assert_eq!(
            failed(w.recv(c, Source::Pid(a), TagFilter::Any, 8, Timeout::Never)),
            Errno::EDEADLK
        );
        assert!(!w.is_blocked(c));
        // A receive from ANY is no definite edge: it may block.
        blocked(w.recv(c, Source::Any, TagFilter::Any, 8, Timeout::Never));
    }

    #[test]
    fn a_deadlocking_call_blocks_when_refusal_is_off() {
        let mut w = World::with(|c| c.buffer_slots = 0);
        let (a, b) = (w.spawn(1), w.spawn(1));
        blocked(w.send(a, b, b"x", 0, Timeout::Never));
        // b receives from a: that completes, it does not block.
        ok(w.recv(b, Source::Pid(a), TagFilter::Any, 8, Timeout::Never));
        blocked(w.recv(a, Source::Pid(b), TagFilter::Any, 8, Timeout::Never));
        blocked(w.recv(b, Source::Pid(a), TagFilter::Any, 8, Timeout::Never));
        assert!(w.is_blocked(a) && w.is_blocked(b));
    }

    #[test]
    fn two_processes_receiving_from_each_other_are_refused() {
        let mut w = World::with(|c| c.refuse_deadlock = true);
        let (a, b) = (w.spawn(1), w.spawn(1));
        blocked(w.recv(a, Source::Pid(b), TagFilter::Any, 8, Timeout::Never));
        assert_eq!(
            failed(w.recv(b, Source::Pid(a), TagFilter::Any, 8, Timeout::Never)),
            Errno::EDEADLK
        );
    }
}
