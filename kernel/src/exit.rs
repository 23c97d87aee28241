//! Termination: `exit` releases a process's handles and settles everything that involves it.
//!
//! Under either policy: the process's handles are closed, messages queued
//! for it are reported undeliverable (never dropped silently), and messages
//! it sent that are still queued stay deliverable (they were sent). Its
//! partners, the processes blocked sending to it or receiving from it by
//! name, then:
//! - `classic`: stay blocked, as in the lecture; the simulator explains why;
//! - `notify`: get `EDEADPEER`.
//!
//! A mutex the process held stays locked by a dead owner; under `notify`
//! its waiters get `EDEADPEER` too (`sync_objects.rs`, "Termination").

use ipclab_syscalls::{Errno, Pid, Source};

use crate::config::MAX_PROCS;
use crate::process::Pending;
use crate::trace::UndeliverableReason;
use crate::{Dest, Event, Kernel, Policy, ProcessState, TraceSink, UserMemory};

impl Kernel {
    /// Terminates `pid` with `code`, whatever state it is in (the embedder
    /// uses this to kill a process that hit a runtime error; `exit` uses it
    /// for the caller). A process that is already exited is left alone.
    ///
    /// # Errors
    /// `ESRCH` when `pid` is stale.
    pub fn terminate(
        &mut self,
        pid: Pid,
        code: i64,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        let now = self.now;
        let pcb = self.pcb_mut(pid)?;
        if pcb.is_exited() {
            return Ok(());
        }
        pcb.state = ProcessState::Exited(code);
        let op = pcb.pending.take();
        pcb.deadline = None;
        pcb.completion = None;
        let handles = pcb.handles.drain();
        sink.event(now, &Event::Exit { pid, code });
        self.count_pending(op, -1);
        for object in handles.into_iter().flatten() {
            self.release_object(object, sink);
        }
        self.drop_queued_at(
            Dest::Process(pid),
            UndeliverableReason::ReceiverExited,
            sink,
        );
        if self.config.policy == Policy::Notify {
            self.notify_partners(pid, sink);
        }
        self.sync_terminate(pid, sink);
        self.mpi_terminate(pid, mem, sink);
        self.refill(mem, sink);
        Ok(())
    }

    /// Reports every message queued at `dest` undeliverable for `reason`
    /// and frees its slot: a message leaves the pool exactly once, and
    /// never silently.
    pub(crate) fn drop_queued_at(
        &mut self,
        dest: Dest,
        reason: UndeliverableReason,
        sink: &mut impl TraceSink,
    ) {
        let now = self.now;
        let mut index = 0;
        while index < self.pool.len() {
            if self.pool[index].dest == dest {
                let message = self.pool.remove(index);
                self.count_queued(message.dest, -1);
                self.stats.undeliverable += 1;
                sink.event(
                    now,
                    &Event::Undeliverable {
                        message: message.id,
                        from: message.from,
                        dest: message.dest,
                        reason,
                    },
                );
            } else {
                index += 1;
            }
        }
    }

    fn notify_partners(&mut self, dead: Pid, sink: &mut impl TraceSink) {
        let partners: heapless::Vec<Pid, MAX_PROCS> = self
            .pending_where(|op| match *op {
                Pending::Send { dest, .. } => dest == Dest::Process(dead),
                Pending::Recv { from, .. } => from == Source::Pid(dead),
                Pending::Sleep | Pending::Mpi(_) | Pending::Sync { .. } => false,
            })
            .map(|(pid, _)| pid)
            .collect();
        for pid in partners {
            self.fail(pid, Errno::EDEADPEER, sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Errno, Source, TagFilter, Timeout};

    use crate::testing::*;
    use crate::{BlockReason, Event, Policy, ProcessState, UndeliverableReason};

    fn undeliverable(w: &World) -> std::vec::Vec<UndeliverableReason> {
        w.events()
            .iter()
            .filter_map(|e| match e {
                Event::Undeliverable { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn under_classic_partners_of_a_dead_process_stay_blocked() {
        let mut w = World::with(|c| {
            c.policy = Policy::Classic;
            c.buffer_slots = 0;
        });
        let (dead, s, r) = (w.spawn(1), w.spawn(1), w.spawn(1));
        blocked(w.send(s, dead, b"x", 0, Timeout::Never));
        blocked(w.recv(r, Source::Pid(dead), TagFilter::Any, 8, Timeout::Never));
        w.exit(dead, 0);
        assert_eq!(w.k.process(dead).unwrap().state, ProcessState::Exited(0));
        assert!(w.is_blocked(s) && w.is_blocked(r));
        // A timeout still ends the wait.
        assert_eq!(w.k.next_timer(), None);
    }

    #[test]
    fn under_notify_partners_of_a_dead_process_get_edeadpeer() {
        let mut w = World::with(|c| {
            c.policy = Policy::Notify;
            c.buffer_slots = 0;
        });
        let (dead, s, r, bystander) = (w.spawn(1), w.spawn(1), w.spawn(1), w.spawn(1));
        blocked(w.send(s, dead, b"x", 0, Timeout::Never));
        blocked(w.recv(r, Source::Pid(dead), TagFilter::Any, 8, Timeout::Never));
        blocked(w.recv(bystander, Source::Any, TagFilter::Any, 8, Timeout::Never));
        w.exit(dead, 3);
        assert_eq!(errno(w.completion(s)), Some(Errno::EDEADPEER));
        assert_eq!(errno(w.completion(r)), Some(Errno::EDEADPEER));
        assert!(w.is_blocked(bystander), "a receive from ANY is no partner");
        // Later calls naming the dead process fail at once.
        assert_eq!(
            failed(w.send(s, dead, b"x", 0, Timeout::Never)),
            Errno::EDEADPEER
        );
        assert_eq!(
            failed(w.recv(r, Source::Pid(dead), TagFilter::Any, 8, Timeout::Never)),
            Errno::EDEADPEER
        );
    }

    #[test]
    fn messages_queued_for_a_dead_process_are_reported_undeliverable() {
        for policy in [Policy::Classic, Policy::Notify] {
            let mut w = World::with(|c| c.policy = policy);
            let (s, dead) = (w.spawn(1), w.spawn(1));
            ok(w.send(s, dead, b"1", 0, Timeout::Never));
            ok(w.send(s, dead, b"2", 0, Timeout::Never));
            w.exit(dead, 0);
            assert!(w.k.messages().is_empty());
            assert_eq!(w.k.stats().undeliverable, 2);
            assert_eq!(undeliverable(&w), [UndeliverableReason::ReceiverExited; 2]);
        }
    }

    #[test]
    fn messages_a_dead_process_sent_stay_deliverable() {
        for policy in [Policy::Classic, Policy::Notify] {
            let mut w = World::with(|c| c.policy = policy);
            let (dead, r) = (w.spawn(1), w.spawn(1));
            ok(w.send(dead, r, b"last words", 0, Timeout::Never));
            w.exit(dead, 0);
            let regs = done(w.recv(r, Source::Pid(dead), TagFilter::Any, 64, Timeout::Never));
            assert_eq!(regs[0], 0);
            assert_eq!(w.read(r, RECV_BUF, 10), b"last words");
        }
    }

    #[test]
    fn under_classic_a_send_to_a_dead_process_is_accepted_and_undeliverable_when_there_is_room() {
        let mut w = World::with(|c| c.policy = Policy::Classic);
        let (s, dead) = (w.spawn(1), w.spawn(1));
        w.exit(dead, 0);
        ok(w.send(s, dead, b"x", 0, Timeout::Never));
        assert_eq!(w.k.stats().accepted, 1);
        assert_eq!(undeliverable(&w), [UndeliverableReason::SentToExited]);
        assert!(w.k.messages().is_empty());
    }

    #[test]
    fn under_classic_a_send_to_a_dead_process_blocks_when_there_is_no_room() {
        let mut w = World::with(|c| {
            c.policy = Policy::Classic;
            c.buffer_slots = 1;
        });
        let (s, dead, other) = (w.spawn(1), w.spawn(1), w.spawn(1));
        ok(w.send(s, other, b"fill", 0, Timeout::Never));
        w.exit(dead, 0);
        assert_eq!(
            w.send(s, dead, b"x", 0, Timeout::Never),
            crate::TrapOutcome::Blocked(BlockReason::Send {
                to: dead,
                rendezvous: false
            })
        );
        // When room appears the message is accepted and reported.
        ok(w.recv(other, Source::Any, TagFilter::Any, 8, Timeout::Never));
        assert_eq!(w.completion(s), [0, 0, 0, 0]);
        assert_eq!(undeliverable(&w), [UndeliverableReason::SentToExited]);
    }

    #[test]
    fn a_rendezvous_to_a_dead_process_blocks_forever_under_classic() {
        let mut w = World::with(|c| c.buffer_slots = 0);
        let (s, dead) = (w.spawn(1), w.spawn(1));
        w.exit(dead, 0);
        blocked(w.send(s, dead, b"x", 0, Timeout::Never));
        assert_eq!(w.k.stats().accepted, 0);
    }

    #[test]
    fn exit_closes_handles_and_the_last_one_destroys_the_mailbox() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        let h = ipclab_syscalls::Handle(ok(w.mbox_create(p, "mine", 2)) as u32);
        ok(w.mbox_send(p, h, b"x", 0));
        w.exit(p, 0);
        assert_eq!(w.k.mailboxes().count(), 0);
        assert_eq!(undeliverable(&w), [UndeliverableReason::MailboxDestroyed]);
    }

    #[test]
    fn terminating_twice_changes_nothing() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        w.exit(p, 1);
        w.k.terminate(p, 2, &mut w.mem, &mut w.sink).unwrap();
        assert_eq!(w.k.process(p).unwrap().state, ProcessState::Exited(1));
    }
}
