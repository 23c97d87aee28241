//! Send and receive, direct (to a process) and indirect (to a mailbox): matching, buffering, rendezvous.
//!
//! One algorithm serves both kinds of addressing; a [`Dest`] says where a
//! message goes. Chapter: `docs/kernel.md`, "Blocking rules".
//!
//! A send, in order:
//! 1. a receiver already waiting at the destination for this message gets
//!    it straight from the sender's memory (no kernel slot);
//! 2. otherwise, if the message fits a slot (the eager limit), a slot is
//!    free and the destination is under its quota, it is copied into a slot
//!    and the send completes;
//! 3. otherwise the sender blocks until a receive takes the message
//!    (rendezvous) or a slot frees up for it.
//!
//! A receive takes the oldest matching candidate in arrival order, whether
//! it sits in a slot or in a blocked sender; this is what keeps messages
//! from one sender to one receiver in order (non-overtaking).

use ipclab_syscalls::{
    Errno, MessageStatus, Pid, Reply, RetRegs, Source, Tag, TagFilter, Timeout, UserAddr,
};

use crate::process::Pending;
use crate::trace::{CopyEnd, UndeliverableReason};
use crate::umem::{copy_user_to_user, in_bounds};
use crate::{
    BlockReason, Dest, Event, Kernel, Policy, ProcessState, TraceSink, TrapOutcome, UserMemory,
};

/// A send's arguments after decoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendArgs {
    pub dest: Dest,
    pub buf: UserAddr,
    pub len: u64,
    pub tag: Tag,
    pub timeout: Timeout,
}

/// A receive's arguments after decoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecvArgs {
    pub at: Dest,
    pub from: Source,
    pub tag: TagFilter,
    pub buf: UserAddr,
    pub cap: u64,
    pub timeout: Timeout,
}

/// The oldest message a receive could take.
enum Candidate {
    /// In the pool, at this index.
    Slot(usize),
    /// Held by this blocked sender.
    Sender(Pid),
}

/// A receiver blocked for a message: its place in line and its buffer.
#[derive(Clone, Copy, Debug)]
struct Waiter {
    seq: u64,
    pid: Pid,
    buf: UserAddr,
}

fn ok(value: u64) -> Result<RetRegs, Errno> {
    Ok(Reply::to_regs(Ok(Reply::value(value))))
}

impl Kernel {
    /// Performs a send by `caller`. Arguments have been decoded; the
    /// destination has been checked to exist (a stale pid or a bad handle
    /// never gets here).
    pub(crate) fn send(
        &mut self,
        caller: Pid,
        args: SendArgs,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, Errno> {
        let memory_size = self.pcb_ref(caller)?.memory_size;
        if !in_bounds(memory_size, args.buf, args.len) {
            return Err(Errno::EFAULT);
        }
        let dead_receiver = match args.dest {
            Dest::Process(to) => self.pcb_ref(to)?.is_exited(),
            Dest::Mailbox(_) => false,
        };
        if dead_receiver && self.config.policy == Policy::Notify {
            return Err(Errno::EDEADPEER);
        }
        // The oldest waiting receiver whose buffer fits gets the message;
        // those before it whose buffer is too small are failed with
        // `EMSGSIZE`, but only once the send is sure to happen (delivered,
        // buffered or blocked): a send that fails changes nothing.
        // One scan finds both; a too-small waiter is rare, so failing them
        // scans again only when there is one.
        let (fitting, too_small) = if dead_receiver {
            (None, None)
        } else {
            self.waiters_for(caller, args)
        };
        let any_too_small =
            |before: Option<u64>| too_small.is_some_and(|seq| before.is_none_or(|b| seq < b));
        if let Some(receiver) = fitting {
            if any_too_small(Some(receiver.seq)) {
                self.fail_too_small(caller, args, Some(receiver.seq), sink);
            }
            self.deliver_direct(caller, args, (receiver.pid, receiver.buf), mem, sink)?;
            return Ok(TrapOutcome::Complete(ok(0)?));
        }
        if self.can_buffer(args.dest, args.len) {
            if any_too_small(None) {
                self.fail_too_small(caller, args, None, sink);
            }
            self.accept_into_slot(caller, args, None, mem, sink)?;
            return Ok(TrapOutcome::Complete(ok(0)?));
        }
        let reason = match args.dest {
            Dest::Process(to) => BlockReason::Send {
                to,
                rendezvous: self.is_rendezvous(args.dest, args.len),
            },
            Dest::Mailbox(mailbox) => BlockReason::MboxSend {
                mailbox,
                rendezvous: self.is_rendezvous(args.dest, args.len),
            },
        };
        // The too-small waiters are woken before the sender blocks: they
        // close no cycle.
        let woken = |pid: Pid| any_too_small(None) && self.is_too_small_waiter(caller, args, pid);
        if let Some(errno) = self.refusal(caller, reason, args.timeout, &woken) {
            return Err(errno);
        }
        if any_too_small(None) {
            self.fail_too_small(caller, args, None, sink);
        }
        let seq = self.next_arrival();
        let pending = Pending::Send {
            dest: args.dest,
            buf: args.buf,
            len: args.len,
            tag: args.tag,
            seq,
        };
        self.enter_block(caller, reason, pending, args.timeout, sink)
    }

    /// Performs a receive by `caller` at `args.at` (its own pid, or a
    /// mailbox it holds).
    pub(crate) fn recv(
        &mut self,
        caller: Pid,
        args: RecvArgs,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, RetRegs> {
        let memory_size = self.pcb_ref(caller).map_err(err_regs)?.memory_size;
        if !in_bounds(memory_size, args.buf, args.cap) {
            return Err(err_regs(Errno::EFAULT));
        }
        if let Some(candidate) = self.oldest_match(args.at, args.from, args.tag) {
            let status = self.status_of(&candidate);
            if status.len > args.cap {
                // Nothing changes: the message stays first in line and the
                // receiver learns how long it is.
                return Err(Reply::error_with_status(Errno::EMSGSIZE, status));
            }
            match candidate {
                Candidate::Slot(index) => {
                    self.deliver_from_slot(caller, index, args.buf, mem, sink)
                        .map_err(err_regs)?;
                    self.refill(mem, sink);
                }
                Candidate::Sender(sender) => {
                    self.take_from_blocked_sender(caller, sender, args.buf, mem, sink)
                        .map_err(err_regs)?;
                }
            }
            return Ok(TrapOutcome::Complete(Reply::to_regs(Ok(Reply::received(
                status,
            )))));
        }
        if let Source::Pid(from) = args.from {
            let sender_dead = self.pcb_ref(from).map_err(err_regs)?.is_exited();
            if sender_dead && self.config.policy == Policy::Notify {
                return Err(err_regs(Errno::EDEADPEER));
            }
        }
        let reason = match args.at {
            Dest::Process(_) => BlockReason::Recv {
                from: args.from,
                tag: args.tag,
            },
            Dest::Mailbox(mailbox) => BlockReason::MboxRecv {
                mailbox,
                tag: args.tag,
            },
        };
        if let Some(errno) = self.refusal(caller, reason, args.timeout, &|_| false) {
            return Err(err_regs(errno));
        }
        let seq = self.next_queue_order();
        let pending = Pending::Recv {
            at: args.at,
            from: args.from,
            tag: args.tag,
            buf: args.buf,
            cap: args.cap,
            seq,
        };
        self.enter_block(caller, reason, pending, args.timeout, sink)
            .map_err(err_regs)
    }

    /// Why `caller` may not block for `reason` with `timeout`, if it may
    /// not: it asked not to wait (`EAGAIN`, `ETIMEDOUT` for a timeout of
    /// 0), or waiting would close a wait-for cycle the kernel refuses
    /// (`EDEADLK`). Callers ask before they change anything, so that a
    /// refused call changes nothing; `woken` as for `would_close_cycle`.
    pub(crate) fn refusal(
        &self,
        caller: Pid,
        reason: BlockReason,
        timeout: Timeout,
        woken: &dyn Fn(Pid) -> bool,
    ) -> Option<Errno> {
        match timeout {
            Timeout::NonBlocking => Some(Errno::EAGAIN),
            Timeout::After(0) => Some(Errno::ETIMEDOUT),
            _ if self.config.refuse_deadlock
                && self.would_close_cycle(caller, reason, timeout, woken) =>
            {
                Some(Errno::EDEADLK)
            }
            _ => None,
        }
    }

    /// Blocks `caller`, or fails at once when it asked not to wait or when
    /// waiting would close a wait-for cycle the kernel refuses
    /// ([`Kernel::refusal`]).
    pub(crate) fn block(
        &mut self,
        caller: Pid,
        reason: BlockReason,
        pending: Pending,
        timeout: Timeout,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, Errno> {
        if let Some(errno) = self.refusal(caller, reason, timeout, &|_| false) {
            return Err(errno);
        }
        self.enter_block(caller, reason, pending, timeout, sink)
    }

    /// Blocks `caller`, whose call [`Kernel::refusal`] has already let
    /// block (callers that ask before they change anything, so that a
    /// refused call changes nothing, do not ask twice).
    pub(crate) fn enter_block(
        &mut self,
        caller: Pid,
        reason: BlockReason,
        pending: Pending,
        timeout: Timeout,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, Errno> {
        let deadline = match timeout {
            Timeout::After(ticks) => Some(self.now.saturating_add(ticks)),
            _ => None,
        };
        let now = self.now;
        let pcb = self.pcb_mut(caller)?;
        pcb.state = ProcessState::Blocked(reason);
        pcb.pending = Some(pending);
        pcb.deadline = deadline;
        self.count_pending(Some(pending), 1);
        sink.event(
            now,
            &Event::Block {
                pid: caller,
                reason,
            },
        );
        Ok(TrapOutcome::Blocked(reason))
    }

    /// Would a message of `len` bytes to `dest` go by rendezvous even with
    /// every slot free?
    #[inline]
    fn is_rendezvous(&self, dest: Dest, len: u64) -> bool {
        len > self.config.eager_limit as u64 || self.quota_of(dest) == 0
    }

    /// Can a message of `len` bytes to `dest` go into a slot now?
    #[inline]
    pub(crate) fn can_buffer(&self, dest: Dest, len: u64) -> bool {
        len <= self.config.eager_limit as u64
            && self.pool.len() + self.mpi.messages.len() < self.config.buffer_slots
            && self.queued_at(dest) < self.quota_of(dest)
    }

    /// A pending receive that this message from `caller` would go to: its
    /// place in line, capacity and buffer.
    fn receive_for(op: &Pending, caller: Pid, args: SendArgs) -> Option<(u64, u64, UserAddr)> {
        match *op {
            Pending::Recv {
                at,
                from,
                tag,
                seq,
                cap,
                buf,
            } if at == args.dest && from.accepts(caller) && tag.accepts(args.tag) => {
                Some((seq, cap, buf))
            }
            _ => None,
        }
    }

    /// The oldest receiver blocked at `args.dest` that accepts this message
    /// and has room for it, and the place in line of the oldest that
    /// accepts it but has not.
    fn waiters_for(&self, caller: Pid, args: SendArgs) -> (Option<Waiter>, Option<u64>) {
        let mut fitting: Option<Waiter> = None;
        let mut too_small: Option<u64> = None;
        let waiting = self
            .pending_where(|op| Kernel::receive_for(op, caller, args).is_some())
            .filter_map(|(pid, op)| Some((pid, Kernel::receive_for(&op, caller, args)?)));
        for (pid, (seq, cap, buf)) in waiting {
            if args.len <= cap {
                if fitting.is_none_or(|w| seq < w.seq) {
                    fitting = Some(Waiter { seq, pid, buf });
                }
            } else if too_small.is_none_or(|s| seq < s) {
                too_small = Some(seq);
            }
        }
        (fitting, too_small)
    }

    /// The oldest receiver blocked at `args.dest` that accepts this message
    /// but has no room for it.
    fn oldest_too_small(&self, caller: Pid, args: SendArgs) -> Option<Waiter> {
        self.pending_where(|op| {
            Kernel::receive_for(op, caller, args).is_some_and(|(_, cap, _)| cap < args.len)
        })
        .filter_map(|(pid, op)| {
            let (seq, _, buf) = Kernel::receive_for(&op, caller, args)?;
            Some(Waiter { seq, pid, buf })
        })
        .min_by_key(|w| w.seq)
    }

    /// Is `pid` blocked at `args.dest` for this message with a buffer too
    /// small for it?
    fn is_too_small_waiter(&self, caller: Pid, args: SendArgs, pid: Pid) -> bool {
        self.process(pid)
            .and_then(|p| p.pending)
            .and_then(|op| Kernel::receive_for(&op, caller, args))
            .is_some_and(|(_, cap, _)| cap < args.len)
    }

    /// Fails the waiting receivers whose buffer is too small for this
    /// message (those before `before` in line, or all), oldest first, with
    /// `EMSGSIZE` and the message's status, so that each can retry with
    /// room for it.
    fn fail_too_small(
        &mut self,
        caller: Pid,
        args: SendArgs,
        before: Option<u64>,
        sink: &mut impl TraceSink,
    ) {
        let status = MessageStatus {
            source: caller,
            tag: args.tag,
            len: args.len,
        };
        // Each one failed is no longer waiting: the next search finds the next.
        while let Some(waiter) = self
            .oldest_too_small(caller, args)
            .filter(|w| before.is_none_or(|b| w.seq < b))
        {
            self.complete(
                waiter.pid,
                Reply::error_with_status(Errno::EMSGSIZE, status),
                sink,
            );
        }
    }

    /// Copies the sender's message straight into a waiting receiver.
    fn deliver_direct(
        &mut self,
        caller: Pid,
        args: SendArgs,
        (receiver, buf): (Pid, UserAddr),
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        copy_user_to_user(mem, caller, args.buf, receiver, buf, args.len)?;
        let id = self.next_arrival();
        self.count_copy_user_to_user(caller, args.buf, receiver, buf, args.len, sink);
        self.stats.accepted += 1;
        self.stats.delivered += 1;
        sink.event(
            self.now,
            &Event::Deliver {
                message: id,
                from: caller,
                to: receiver,
                dest: args.dest,
                tag: args.tag,
                len: args.len,
                direct: true,
            },
        );
        let status = MessageStatus {
            source: caller,
            tag: args.tag,
            len: args.len,
        };
        self.complete(receiver, Reply::to_regs(Ok(Reply::received(status))), sink);
        Ok(())
    }

    /// Copies the sender's message into a new slot (or, for a terminated
    /// receiver under `classic`, accepts it and reports it undeliverable).
    /// `arrived` is its arrival number when it has one already (a blocked
    /// send's message moving into a slot keeps its place in arrival order);
    /// `None` for a new send, which is the newest.
    fn accept_into_slot(
        &mut self,
        sender: Pid,
        args: SendArgs,
        arrived: Option<u64>,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        // The bytes go straight into the slot they will stay in; it becomes
        // the message only at the commit below, so a fault changes nothing.
        // Cannot fail: `can_buffer` checked that a slot is free and that
        // len is within the eager limit, which is at most the slot size.
        let data = self.pool.vacant().ok_or(Errno::EAGAIN)?;
        // Only bytes beyond the slot's last message are zeroed here.
        data.resize(args.len as usize, 0)
            .map_err(|_| Errno::EMSGSIZE)?;
        mem.read(sender, args.buf, data)
            .map_err(|_| Errno::EFAULT)?;
        let id = arrived.unwrap_or_else(|| self.next_arrival());
        self.stats.accepted += 1;
        self.stats.copies_to_kernel += 1;
        self.stats.bytes_copied += args.len;
        sink.event(
            self.now,
            &Event::Copy {
                from: CopyEnd::User {
                    pid: sender,
                    addr: args.buf,
                },
                to: CopyEnd::Kernel { message: id },
                bytes: args.len,
            },
        );
        let receiver_dead = match args.dest {
            Dest::Process(to) => self.process(to).is_none_or(|p| p.is_exited()),
            Dest::Mailbox(_) => false,
        };
        if receiver_dead {
            self.stats.undeliverable += 1;
            sink.event(
                self.now,
                &Event::Undeliverable {
                    message: id,
                    from: sender,
                    dest: args.dest,
                    reason: UndeliverableReason::SentToExited,
                },
            );
            return Ok(());
        }
        self.pool.commit(id, sender, args.dest, args.tag);
        self.count_queued(args.dest, 1);
        let queued = self.queued_at(args.dest) as u32;
        sink.event(
            self.now,
            &Event::Enqueue {
                message: id,
                from: sender,
                dest: args.dest,
                tag: args.tag,
                len: args.len,
                queued,
            },
        );
        Ok(())
    }

    /// The oldest message at `at` that `from` and `tag` accept, in a slot or
    /// in a blocked sender.
    #[inline]
    fn oldest_match(&self, at: Dest, from: Source, tag: TagFilter) -> Option<Candidate> {
        let in_slot = self
            .pool
            .iter()
            .enumerate()
            .filter(|(_, m)| m.dest == at && from.accepts(m.from) && tag.accepts(m.tag))
            .map(|(i, m)| (m.id, Candidate::Slot(i)))
            .next();
        let in_sender = self
            .pending_where(|op| match *op {
                Pending::Send { dest, tag: t, .. } => dest == at && tag.accepts(t),
                _ => false,
            })
            .filter(|(pid, _)| from.accepts(*pid))
            .filter_map(|(pid, op)| match op {
                Pending::Send { seq, .. } => Some((seq, Candidate::Sender(pid))),
                _ => None,
            })
            .min_by_key(|(seq, _)| *seq);
        match (in_slot, in_sender) {
            (Some(a), Some(b)) => Some(if a.0 < b.0 { a.1 } else { b.1 }),
            (Some(a), None) => Some(a.1),
            (None, Some(b)) => Some(b.1),
            (None, None) => None,
        }
    }

    #[inline]
    fn status_of(&self, candidate: &Candidate) -> MessageStatus {
        match *candidate {
            Candidate::Slot(index) => {
                let m = &self.pool[index];
                MessageStatus {
                    source: m.from,
                    tag: m.tag,
                    len: m.len(),
                }
            }
            Candidate::Sender(pid) => match self.process(pid).and_then(|p| p.pending) {
                Some(Pending::Send { tag, len, .. }) => MessageStatus {
                    source: pid,
                    tag,
                    len,
                },
                // A candidate sender always has a pending send.
                _ => MessageStatus {
                    source: pid,
                    tag: 0,
                    len: 0,
                },
            },
        }
    }

    fn deliver_from_slot(
        &mut self,
        receiver: Pid,
        index: usize,
        buf: UserAddr,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        mem.write(receiver, buf, &self.pool[index].data)
            .map_err(|_| Errno::EFAULT)?;
        let message = self.pool.remove(index);
        self.count_queued(message.dest, -1);
        self.stats.delivered += 1;
        self.stats.copies_to_user += 1;
        self.stats.bytes_copied += message.len;
        sink.event(
            self.now,
            &Event::Copy {
                from: CopyEnd::Kernel {
                    message: message.id,
                },
                to: CopyEnd::User {
                    pid: receiver,
                    addr: buf,
                },
                bytes: message.len,
            },
        );
        sink.event(
            self.now,
            &Event::Deliver {
                message: message.id,
                from: message.from,
                to: receiver,
                dest: message.dest,
                tag: message.tag,
                len: message.len,
                direct: false,
            },
        );
        Ok(())
    }

    fn take_from_blocked_sender(
        &mut self,
        receiver: Pid,
        sender: Pid,
        buf: UserAddr,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        let Some(Pending::Send {
            dest,
            buf: from_buf,
            len,
            tag,
            seq,
        }) = self.process(sender).and_then(|p| p.pending)
        else {
            return Err(Errno::ESRCH);
        };
        copy_user_to_user(mem, sender, from_buf, receiver, buf, len)?;
        self.count_copy_user_to_user(sender, from_buf, receiver, buf, len, sink);
        self.stats.accepted += 1;
        self.stats.delivered += 1;
        sink.event(
            self.now,
            &Event::Deliver {
                message: seq,
                from: sender,
                to: receiver,
                dest,
                tag,
                len,
                direct: true,
            },
        );
        self.complete(sender, Reply::to_regs(Ok(Reply::value(0))), sink);
        Ok(())
    }

    /// Counts and traces a copy from one process's memory to another's.
    pub(crate) fn count_copy_user_to_user(
        &mut self,
        from: Pid,
        from_addr: u64,
        to: Pid,
        to_addr: u64,
        len: u64,
        sink: &mut impl TraceSink,
    ) {
        self.stats.copies_user_to_user += 1;
        self.stats.bytes_copied += len;
        sink.event(
            self.now,
            &Event::Copy {
                from: CopyEnd::User {
                    pid: from,
                    addr: from_addr,
                },
                to: CopyEnd::User {
                    pid: to,
                    addr: to_addr,
                },
                bytes: len,
            },
        );
    }

    /// After slots or quota freed up: moves blocked senders' messages into
    /// slots, oldest first, and completes their sends.
    pub(crate) fn refill(&mut self, mem: &mut impl UserMemory, sink: &mut impl TraceSink) {
        loop {
            let next = self
                .pending_where(|op| matches!(op, Pending::Send { .. }))
                .filter_map(|(pid, op)| match op {
                    Pending::Send {
                        dest,
                        buf,
                        len,
                        tag,
                        seq,
                    } => Some((seq, pid, dest, buf, len, tag)),
                    _ => None,
                })
                .filter(|&(_, _, dest, _, len, _)| self.can_buffer(dest, len))
                .min_by_key(|(seq, ..)| *seq);
            let Some((seq, sender, dest, buf, len, tag)) = next else {
                return;
            };
            let args = SendArgs {
                dest,
                buf,
                len,
                tag,
                timeout: Timeout::Never,
            };
            let result = self.accept_into_slot(sender, args, Some(seq), mem, sink);
            self.complete(
                sender,
                Reply::to_regs(result.map(|()| Reply::value(0))),
                sink,
            );
        }
    }
}

pub(crate) fn err_regs(errno: Errno) -> RetRegs {
    Reply::to_regs(Err(errno))
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Errno, MessageStatus, Reply, Source, TagFilter, Timeout};

    use crate::testing::*;
    use crate::{BlockReason, Event, TrapOutcome};

    const ANY: Source = Source::Any;
    const ANY_TAG: TagFilter = TagFilter::Any;

    fn status_of(regs: ipclab_syscalls::RetRegs) -> MessageStatus {
        Reply::from_regs(regs).unwrap().status().unwrap()
    }

    #[test]
    fn send_completes_at_once_when_a_slot_is_free() {
        let mut w = World::new(Default::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        ok(w.send(s, r, b"hello", 7, Timeout::Never));
        assert_eq!(w.k.messages().len(), 1);
        let regs = done(w.recv(r, ANY, ANY_TAG, 64, Timeout::Never));
        let status = status_of(regs);
        assert_eq!((status.source, status.tag, status.len), (s, 7, 5));
        assert_eq!(w.read(r, RECV_BUF, 5), b"hello");
        assert_eq!(w.k.stats().copies_to_kernel, 1);
        assert_eq!(w.k.stats().copies_to_user, 1);
    }

    #[test]
    fn send_blocks_when_the_buffer_is_full() {
        let mut w = World::with(|c| c.buffer_slots = 2);
        let (s, r) = (w.spawn(1), w.spawn(1));
        ok(w.send(s, r, b"1", 0, Timeout::Never));
        ok(w.send(s, r, b"2", 0, Timeout::Never));
        assert_eq!(
            w.send(s, r, b"3", 0, Timeout::Never),
            TrapOutcome::Blocked(BlockReason::Send {
                to: r,
                rendezvous: false
            })
        );
        // The receive frees a slot: the blocked message moves in and the
        // sender completes.
        ok(w.recv(r, ANY, ANY_TAG, 8, Timeout::Never));
        assert!(!w.is_blocked(s));
        assert_eq!(w.completion(s), [0, 0, 0, 0]);
        for expected in [b"2", b"3"] {
            ok(w.recv(r, ANY, ANY_TAG, 8, Timeout::Never));
            assert_eq!(w.read(r, RECV_BUF, 1), expected);
        }
    }

    #[test]
    fn nonblocking_send_to_a_full_buffer_is_eagain_and_changes_nothing() {
        let mut w = World::with(|c| c.buffer_slots = 1);
        let (s, r) = (w.spawn(1), w.spawn(1));
        ok(w.send(s, r, b"1", 0, Timeout::Never));
        let before = w.k.messages().len();
        assert_eq!(
            failed(w.send(s, r, b"2", 0, Timeout::NonBlocking)),
            Errno::EAGAIN
        );
        assert_eq!(w.k.messages().len(), before);
        assert!(!w.is_blocked(s));
    }

    #[test]
    fn recv_blocks_when_nothing_is_queued() {
        let mut w = World::new(Default::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        assert_eq!(
            w.recv(r, Source::Pid(s), ANY_TAG, 8, Timeout::Never),
            TrapOutcome::Blocked(BlockReason::Recv {
                from: Source::Pid(s),
                tag: ANY_TAG
            })
        );
        assert_eq!(
            failed(w.recv(s, ANY, ANY_TAG, 8, Timeout::NonBlocking)),
            Errno::EAGAIN
        );
    }

    #[test]
    fn a_receiver_already_waiting_gets_the_message_directly() {
        let mut w = World::new(Default::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        blocked(w.recv(r, ANY, ANY_TAG, 8, Timeout::Never));
        ok(w.send(s, r, b"direct", 3, Timeout::Never));
        assert!(w.k.messages().is_empty());
        let status = status_of(w.completion(r));
        assert_eq!((status.source, status.tag, status.len), (s, 3, 6));
        assert_eq!(w.read(r, RECV_BUF, 6), b"direct");
        assert_eq!(w.k.stats().copies_user_to_user, 1);
        assert_eq!(w.k.stats().copies_to_kernel, 0);
        assert!(w
            .events()
            .iter()
            .any(|e| matches!(e, Event::Deliver { direct: true, .. })));
    }

    #[test]
    fn blocked_senders_wake_in_fifo_order() {
        let mut w = World::with(|c| c.buffer_slots = 0);
        let r = w.spawn(1);
        let senders: [_; 3] = core::array::from_fn(|_| w.spawn(1));
        for (i, &s) in senders.iter().enumerate() {
            blocked(w.send(s, r, &[i as u8], 0, Timeout::Never));
        }
        for (i, &s) in senders.iter().enumerate() {
            let status = status_of(done(w.recv(r, ANY, ANY_TAG, 8, Timeout::Never)));
            assert_eq!(status.source, s);
            assert_eq!(w.read(r, RECV_BUF, 1), [i as u8]);
            assert_eq!(w.completion(s), [0, 0, 0, 0]);
        }
    }

    #[test]
    fn a_blocked_message_that_moves_into_a_slot_keeps_its_place_in_arrival_order() {
        // One slot, held by a's first message; a's second and then b's
        // message wait in their blocked senders. The first receive frees
        // the slot and a's second moves in; it arrived before b's, so the
        // next receive takes it, not b's.
        for slots_or_quota in [false, true] {
            let mut w = World::with(|c| {
                if slots_or_quota {
                    c.buffer_slots = 8;
                    c.receiver_quota = 1;
                } else {
                    c.buffer_slots = 1;
                }
            });
            let (a, b, r) = (w.spawn(1), w.spawn(1), w.spawn(1));
            ok(w.send(a, r, b"1", 0, Timeout::Never));
            blocked(w.send(a, r, b"2", 0, Timeout::Never));
            blocked(w.send(b, r, b"3", 0, Timeout::Never));
            let got: std::vec::Vec<u8> = (0..3)
                .map(|_| {
                    done(w.recv(r, ANY, ANY_TAG, 8, Timeout::Never));
                    w.read(r, RECV_BUF, 1)[0]
                })
                .collect();
            assert_eq!(got, *b"123", "quota: {slots_or_quota}");
            w.k.check_invariants().unwrap();
        }
    }

    #[test]
    fn a_mailbox_serves_blocked_senders_messages_in_arrival_order() {
        let mut w = World::with(|c| c.buffer_slots = 8);
        let (a, b, r) = (w.spawn(1), w.spawn(1), w.spawn(1));
        let h = ipclab_syscalls::Handle(ok(w.mbox_create(a, "one", 1)) as u32);
        let hb = ipclab_syscalls::Handle(ok(w.mbox_open(b, "one")) as u32);
        let hr = ipclab_syscalls::Handle(ok(w.mbox_open(r, "one")) as u32);
        ok(w.mbox_send(a, h, b"1", 0));
        blocked(w.mbox_send(a, h, b"2", 0));
        blocked(w.mbox_send(b, hb, b"3", 0));
        let got: std::vec::Vec<u8> = (0..3)
            .map(|_| {
                done(w.mbox_recv(r, hr, 8));
                w.read(r, RECV_BUF, 1)[0]
            })
            .collect();
        assert_eq!(got, *b"123");
    }

    #[test]
    fn blocked_receivers_wake_in_fifo_order() {
        let mut w = World::new(Default::default());
        let owner = w.spawn(1);
        let h = ipclab_syscalls::Handle(ok(w.mbox_create(owner, "q", 4)) as u32);
        let receivers: [_; 3] = core::array::from_fn(|_| w.spawn(1));
        for &r in &receivers {
            let h = ipclab_syscalls::Handle(ok(w.mbox_open(r, "q")) as u32);
            blocked(w.mbox_recv(r, h, 8));
        }
        for (i, &r) in receivers.iter().enumerate() {
            ok(w.mbox_send(owner, h, &[i as u8], 0));
            assert_eq!(status_of(w.completion(r)).source, owner);
            assert_eq!(w.read(r, RECV_BUF, 1), [i as u8]);
            for &later in &receivers[i + 1..] {
                assert!(w.is_blocked(later));
            }
        }
    }

    #[test]
    fn capacity_zero_is_a_rendezvous() {
        let mut w = World::with(|c| c.buffer_slots = 0);
        let (s, r) = (w.spawn(1), w.spawn(1));
        assert_eq!(
            w.send(s, r, b"hi", 0, Timeout::Never),
            TrapOutcome::Blocked(BlockReason::Send {
                to: r,
                rendezvous: true
            })
        );
        ok(w.recv(r, ANY, ANY_TAG, 8, Timeout::Never));
        assert_eq!(w.read(r, RECV_BUF, 2), b"hi");
        assert_eq!(w.completion(s), [0, 0, 0, 0]);
        assert_eq!(w.k.stats().copies_to_kernel, 0);
        assert_eq!(w.k.stats().copies_user_to_user, 1);
    }

    #[test]
    fn a_message_above_the_eager_limit_goes_by_rendezvous_user_to_user() {
        let mut w = World::with(|c| c.eager_limit = 16);
        let (s, r) = (w.spawn(1), w.spawn(1));
        let big: std::vec::Vec<u8> = (0..200u8).collect();
        assert_eq!(
            w.send(s, r, &big, 0, Timeout::Never),
            TrapOutcome::Blocked(BlockReason::Send {
                to: r,
                rendezvous: true
            })
        );
        assert!(w.k.messages().is_empty(), "slots stay free");
        let status = status_of(done(w.recv(r, ANY, ANY_TAG, 256, Timeout::Never)));
        assert_eq!(status.len, 200);
        assert_eq!(w.read(r, RECV_BUF, 200), big);
        assert_eq!(w.k.stats().copies_user_to_user, 1);
        assert_eq!(w.k.stats().bytes_copied, 200);
        assert_eq!(w.completion(s), [0, 0, 0, 0]);
    }

    #[test]
    fn the_receiver_quota_blocks_a_sender_while_slots_are_free() {
        let mut w = World::with(|c| {
            c.buffer_slots = 8;
            c.receiver_quota = 2;
        });
        let (s, r, other) = (w.spawn(1), w.spawn(1), w.spawn(1));
        ok(w.send(s, r, b"1", 0, Timeout::Never));
        ok(w.send(s, r, b"2", 0, Timeout::Never));
        assert_eq!(
            failed(w.send(s, r, b"3", 0, Timeout::NonBlocking)),
            Errno::EAGAIN
        );
        // Another receiver still has room.
        ok(w.send(s, other, b"x", 0, Timeout::Never));
        assert_eq!(w.k.queued_at(crate::Dest::Process(r)), 2);
        assert_eq!(w.k.quota_of(crate::Dest::Process(r)), 2);
    }

    #[test]
    fn the_mailbox_capacity_blocks_a_sender_while_slots_are_free() {
        let mut w = World::with(|c| c.buffer_slots = 8);
        let s = w.spawn(1);
        let h = ipclab_syscalls::Handle(ok(w.mbox_create(s, "two", 2)) as u32);
        ok(w.mbox_send(s, h, b"1", 0));
        ok(w.mbox_send(s, h, b"2", 0));
        assert!(matches!(
            w.mbox_send(s, h, b"3", 0),
            TrapOutcome::Blocked(BlockReason::MboxSend {
                rendezvous: false,
                ..
            })
        ));
        assert_eq!(w.k.messages().len(), 2);
    }

    #[test]
    fn messages_from_one_sender_to_one_receiver_never_overtake() {
        // One slot: the first message is buffered, the second waits in its
        // blocked sender, a third sender's message must not pass either.
        let mut w = World::with(|c| c.buffer_slots = 1);
        let (s, r) = (w.spawn(1), w.spawn(1));
        ok(w.send(s, r, b"a", 1, Timeout::Never));
        blocked(w.send(s, r, b"b", 2, Timeout::Never));
        let first = status_of(done(w.recv(r, Source::Pid(s), ANY_TAG, 8, Timeout::Never)));
        assert_eq!(first.tag, 1);
        // The blocked "b" moved into the freed slot; a new send from s now
        // must come after it.
        assert_eq!(w.completion(s), [0, 0, 0, 0]);
        blocked(w.send(s, r, b"c", 3, Timeout::Never));
        let tags: std::vec::Vec<u32> = (0..2)
            .map(|_| status_of(done(w.recv(r, Source::Pid(s), ANY_TAG, 8, Timeout::Never))).tag)
            .collect();
        assert_eq!(tags, [2, 3]);
    }

    #[test]
    fn a_tag_filter_takes_the_oldest_message_with_that_tag() {
        let mut w = World::new(Default::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        for (tag, byte) in [(1, b"a"), (2, b"b"), (1, b"c")] {
            ok(w.send(s, r, byte, tag, Timeout::Never));
        }
        ok(w.recv(r, ANY, TagFilter::Tag(1), 8, Timeout::Never));
        assert_eq!(w.read(r, RECV_BUF, 1), b"a");
        ok(w.recv(r, ANY, TagFilter::Tag(1), 8, Timeout::Never));
        assert_eq!(w.read(r, RECV_BUF, 1), b"c");
        ok(w.recv(r, ANY, ANY_TAG, 8, Timeout::Never));
        assert_eq!(w.read(r, RECV_BUF, 1), b"b");
    }

    #[test]
    fn a_too_small_buffer_is_emsgsize_with_the_real_length_and_the_message_stays_queued() {
        let mut w = World::new(Default::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        ok(w.send(s, r, b"0123456789", 9, Timeout::Never));
        let regs = done(w.recv(r, ANY, ANY_TAG, 4, Timeout::Never));
        assert_eq!(errno(regs), Some(Errno::EMSGSIZE));
        let pending = ipclab_syscalls::Reply {
            value: regs[1],
            extra0: regs[2],
            extra1: regs[3],
        }
        .status()
        .unwrap();
        assert_eq!((pending.len, pending.source, pending.tag), (10, s, 9));
        assert_eq!(w.k.messages().len(), 1);
        assert_eq!(w.k.stats().delivered, 0);
        ok(w.recv(r, ANY, ANY_TAG, 10, Timeout::Never));
        assert_eq!(w.read(r, RECV_BUF, 10), b"0123456789");
    }

    #[test]
    fn a_waiting_receiver_with_a_too_small_buffer_gets_emsgsize_and_the_message_is_queued() {
        let mut w = World::new(Default::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        blocked(w.recv(r, ANY, ANY_TAG, 2, Timeout::Never));
        ok(w.send(s, r, b"toolong", 0, Timeout::Never));
        let regs = w.completion(r);
        assert_eq!(errno(regs), Some(Errno::EMSGSIZE));
        assert_eq!(regs[1], 7);
        assert_eq!(w.k.messages().len(), 1);
    }

    #[test]
    fn a_blocked_recv_times_out_with_etimedout() {
        let mut w = World::new(Default::default());
        let r = w.spawn(1);
        blocked(w.recv(r, ANY, ANY_TAG, 8, Timeout::After(3)));
        assert_eq!(w.k.next_timer(), Some(3));
        w.tick();
        w.tick();
        assert!(w.is_blocked(r));
        assert_eq!(w.tick().timers_fired, 1);
        assert_eq!(errno(w.completion(r)), Some(Errno::ETIMEDOUT));
        assert_eq!(w.k.next_timer(), None);
    }

    #[test]
    fn a_blocked_send_times_out_and_its_message_is_not_accepted() {
        let mut w = World::with(|c| c.buffer_slots = 0);
        let (s, r) = (w.spawn(1), w.spawn(1));
        blocked(w.send(s, r, b"x", 0, Timeout::After(1)));
        w.tick();
        assert_eq!(errno(w.completion(s)), Some(Errno::ETIMEDOUT));
        assert_eq!(w.k.stats().accepted, 0);
        assert_eq!(
            failed(w.recv(r, ANY, ANY_TAG, 8, Timeout::NonBlocking)),
            Errno::EAGAIN
        );
    }

    #[test]
    fn a_zero_timeout_fails_at_once_instead_of_blocking() {
        let mut w = World::new(Default::default());
        let r = w.spawn(1);
        assert_eq!(
            failed(w.recv(r, ANY, ANY_TAG, 8, Timeout::After(0))),
            Errno::ETIMEDOUT
        );
    }

    #[test]
    fn the_canonical_state_does_not_depend_on_which_slots_hold_the_messages() {
        // Both end with "2" then "3" queued; receiving "1" before or after
        // sending "2" puts them in slots (1, 0) or (0, 1).
        let state = |receive_first: bool| {
            let mut w = World::new(Default::default());
            let (s, r) = (w.spawn(1), w.spawn(1));
            ok(w.send(s, r, b"1", 0, Timeout::Never));
            if receive_first {
                ok(w.recv(r, ANY, ANY_TAG, 8, Timeout::Never));
            }
            ok(w.send(s, r, b"2", 0, Timeout::Never));
            if !receive_first {
                ok(w.recv(r, ANY, ANY_TAG, 8, Timeout::Never));
            }
            ok(w.send(s, r, b"3", 0, Timeout::Never));
            w.check();
            let queued: std::vec::Vec<_> = w.k.messages().iter().map(|m| m.data.clone()).collect();
            assert_eq!(queued, [b"2", b"3"]);
            let mut bytes = std::vec::Vec::new();
            w.k.encode_canonical(&mut |b: &[u8]| bytes.extend_from_slice(b));
            bytes
        };
        assert_eq!(state(true), state(false));
    }

    #[test]
    fn send_to_oneself_is_einval() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        assert_eq!(failed(w.send(p, p, b"x", 0, Timeout::Never)), Errno::EINVAL);
        assert_eq!(
            failed(w.recv(p, Source::Pid(p), ANY_TAG, 8, Timeout::Never)),
            Errno::EINVAL
        );
    }

    #[test]
    fn a_send_that_fails_leaves_a_too_small_receiver_waiting() {
        // No slot, so the send could only block; without waiting, EAGAIN.
        // The receiver's buffer is too small, but no message came: it is
        // not told of one (EMSGSIZE) and waits on.
        for timeout in [Timeout::NonBlocking, Timeout::After(0)] {
            let mut w = World::with(|c| c.buffer_slots = 0);
            let (s, r) = (w.spawn(1), w.spawn(1));
            blocked(w.recv(r, Source::Any, TagFilter::Any, 2, Timeout::Never));
            w.run(s);
            let before = w.k.clone();
            assert!(matches!(
                failed(w.send(s, r, b"12345678", 0, timeout)),
                Errno::EAGAIN | Errno::ETIMEDOUT
            ));
            assert!(w.is_blocked(r));
            let mut after = w.k.clone();
            after.stats = before.stats;
            assert!(after == before, "a failed send changes nothing");
        }
    }

    #[test]
    fn a_send_that_blocks_fails_the_too_small_receiver_with_the_size() {
        let mut w = World::with(|c| c.buffer_slots = 0);
        let (s, r) = (w.spawn(1), w.spawn(1));
        blocked(w.recv(r, Source::Any, TagFilter::Any, 2, Timeout::Never));
        blocked(w.send(s, r, b"12345678", 0, Timeout::Never));
        let regs = w.completion(r);
        assert_eq!(errno(regs), Some(Errno::EMSGSIZE));
        assert_eq!(regs[1], 8, "the receiver learns the length");
        // With room for it, the receiver takes it from the blocked sender.
        ok(w.recv(r, Source::Any, TagFilter::Any, 8, Timeout::Never));
        assert!(!w.is_blocked(s));
    }
}
