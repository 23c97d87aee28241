//! Deadlock refusal: would this blocking call close a cycle in the wait-for graph?
//!
//! Only definite waits count: a wait that exactly one process can end,
//! and that nothing else (a timer) ends. That is a process blocked in
//! `send` to a pid that only the receiver can take the message from (a
//! rendezvous, or the receiver's quota full), in `recv` from a pid, in an
//! MPI call waiting for one rank, or in `lock` of a mutex (its owner). A
//! receive from `ANY`, a wait on a mailbox, and a send that waits only for
//! a free slot of the shared pool (any receiver frees one) could be ended
//! by several processes, and a wait with a timeout ends by itself, so none
//! of those is an edge here (the simulator's deadlock analysis covers
//! them). This is the rule Minix applies; Minix has no shared pool and no
//! timeouts, hence the two refinements. Chapter: `docs/kernel.md`,
//! "Deadlock refusal".

use ipclab_syscalls::{Pid, Source, Timeout};

use crate::config::MAX_PROCS;
use crate::{BlockReason, Dest, Kernel};

impl Kernel {
    /// The one process `reason` names as its partner, if it names one (a
    /// send's receiver, a receive's sender, an MPI peer, a mutex's owner).
    /// Whether only that partner can end the wait depends on the state:
    /// see [`Kernel::definite_wait`].
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

    /// The one process that can end a wait for `reason` now, if exactly
    /// one can. A buffered send that waits for a slot while its receiver's
    /// quota has room waits for the pool, which any receive frees.
    pub fn definite_wait(&self, reason: BlockReason) -> Option<Pid> {
        let partner = Kernel::definite_partner(reason)?;
        if let BlockReason::Send {
            to,
            rendezvous: false,
        } = reason
        {
            let dest = Dest::Process(to);
            if self.queued_at(dest) < self.quota_of(dest) {
                return None;
            }
        }
        Some(partner)
    }

    /// Would `caller`, blocking for `reason` with `timeout`, close a cycle
    /// of definite waits? `woken` are processes this very call wakes
    /// before it blocks (waiting receivers it fails with `EMSGSIZE`): they
    /// wait for nothing.
    pub(crate) fn would_close_cycle(
        &self,
        caller: Pid,
        reason: BlockReason,
        timeout: Timeout,
        woken: &dyn Fn(Pid) -> bool,
    ) -> bool {
        if matches!(timeout, Timeout::After(_)) {
            return false;
        }
        let mut next = self.definite_wait(reason);
        // A cycle visits each process at most once.
        for _ in 0..MAX_PROCS {
            match next {
                Some(pid) if pid == caller => return true,
                Some(pid) if woken(pid) => return false,
                Some(pid) => {
                    let timed = self.process(pid).is_some_and(|p| p.deadline.is_some());
                    if timed {
                        return false;
                    }
                    next = self.reason_of(pid).and_then(|r| self.definite_wait(r));
                }
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

    #[test]
    fn a_send_that_waits_only_for_a_slot_of_the_pool_is_not_refused() {
        // One slot, held by x's message to y. a's send to b waits for any
        // slot (b's quota has room), which y's receive frees: no cycle.
        let mut w = World::with(|c| {
            c.refuse_deadlock = true;
            c.buffer_slots = 1;
        });
        let (a, b, x, y) = (w.spawn(1), w.spawn(1), w.spawn(1), w.spawn(1));
        ok(w.send(x, y, b"1", 0, Timeout::Never));
        blocked(w.send(a, b, b"2", 0, Timeout::Never));
        blocked(w.send(b, a, b"3", 0, Timeout::Never));
        // The slot frees, a's message takes it, b's waits on.
        ok(w.recv(y, Source::Pid(x), TagFilter::Any, 8, Timeout::Never));
        assert!(!w.is_blocked(a) && w.is_blocked(b));
    }

    #[test]
    fn a_send_held_by_its_receivers_full_quota_is_a_definite_wait() {
        let mut w = World::with(|c| {
            c.refuse_deadlock = true;
            c.receiver_quota = 1;
        });
        let (a, b, c) = (w.spawn(1), w.spawn(1), w.spawn(1));
        ok(w.send(a, b, b"1", 0, Timeout::Never));
        blocked(w.send(a, b, b"2", 0, Timeout::Never));
        blocked(w.recv(b, Source::Pid(c), TagFilter::Any, 8, Timeout::Never));
        // Only b can take a's messages, so a waits for b, b for c, and c
        // waiting for a would close the cycle.
        assert_eq!(
            failed(w.recv(c, Source::Pid(a), TagFilter::Any, 8, Timeout::Never)),
            Errno::EDEADLK
        );
    }

    #[test]
    fn a_wait_with_a_timeout_ends_by_itself_and_closes_no_cycle() {
        let mut w = World::with(|c| c.refuse_deadlock = true);
        let (a, b) = (w.spawn(1), w.spawn(1));
        blocked(w.recv(a, Source::Pid(b), TagFilter::Any, 8, Timeout::After(5)));
        // a's wait times out, so b's is no deadlock...
        blocked(w.recv(b, Source::Pid(a), TagFilter::Any, 8, Timeout::Never));
        // ...and a timed call never closes a cycle itself.
        let (c, d) = (w.spawn(1), w.spawn(1));
        blocked(w.recv(c, Source::Pid(d), TagFilter::Any, 8, Timeout::Never));
        blocked(w.recv(d, Source::Pid(c), TagFilter::Any, 8, Timeout::After(3)));
    }

    #[test]
    fn a_refused_call_changes_nothing() {
        let mut w = World::with(|c| c.refuse_deadlock = true);
        let (a, b) = (w.spawn(1), w.spawn(1));
        blocked(w.recv(a, Source::Pid(b), TagFilter::Any, 8, Timeout::Never));
        w.run(b);
        let before = w.k.clone();
        assert_eq!(
            failed(w.recv(b, Source::Pid(a), TagFilter::Any, 8, Timeout::Never)),
            Errno::EDEADLK
        );
        assert_eq!(w.k.stats().syscalls, before.stats().syscalls + 1);
        let mut after = w.k.clone();
        after.stats = before.stats;
        assert!(after == before, "only the call counter moved");
    }
}
