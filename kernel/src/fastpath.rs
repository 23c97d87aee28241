//! The fast path: a send into a free slot, and a receive from a slot, without the general decode.
//!
//! As in seL4's `fastpath.c`, the commonest message calls (`send`, `recv`,
//! `mbox_send`, `mbox_recv`) are tried first by a short path that reads
//! the registers itself and checks every condition under which the general
//! path would do something else: a waiting receiver to hand the message
//! to, a blocked sender that might be older, a full pool, a bad argument.
//! When any check fails, nothing has changed and the call takes the
//! general path ([`Kernel::trap`] falls through to the decoder). When all
//! pass, the fast path does exactly what the general path would: the same
//! state, the same result registers, the same trace events in the same
//! order. The test harnesses hold it to that by running every send and
//! receive both ways (`docs/kernel.md`, "The fast path").

use ipclab_syscalls::{
    tag_from_raw, Errno, Handle, MessageStatus, Pid, Regs, Reply, RetRegs, Source, Syscall, Sysno,
    Tag, TagFilter, Timeout, UserAddr, MAX_MESSAGE_LEN,
};

use crate::process::Pending;
use crate::trace::CopyEnd;
use crate::umem::in_bounds;
use crate::{Dest, Event, Kernel, ProcessState, TraceSink, TrapOutcome, UserMemory};

/// The calls the fast path may take; every other call goes straight to
/// the general path. The test harnesses check these calls against the
/// general path.
#[doc(hidden)]
pub const FAST_PATH_CALLS: [Sysno; 4] =
    [Sysno::Send, Sysno::Recv, Sysno::MboxSend, Sysno::MboxRecv];

/// A send the fast path may take: decoded, in bounds, within the eager limit.
struct FastSend {
    buf: UserAddr,
    len: u64,
    tag: Tag,
    call: Syscall,
}

/// A receive the fast path may take: decoded and in bounds.
struct FastRecv {
    from: Source,
    tag: TagFilter,
    buf: UserAddr,
    cap: u64,
    call: Syscall,
}

impl Kernel {
    /// Tries `regs` from `caller` (running, already counted, with
    /// `caller_size` bytes of memory) on the fast path. `None`: nothing
    /// changed, take the general path.
    #[inline(always)]
    pub(crate) fn fastpath(
        &mut self,
        caller: Pid,
        caller_size: u64,
        regs: &Regs,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Option<TrapOutcome> {
        let [a0, a1, a2, a3, flags, ticks] = regs.args;
        match regs.sysno {
            n if n == Sysno::Send as u64 => {
                let to = Pid::from_raw(a0).ok()?;
                let send =
                    self.fast_send_args(caller_size, a1, a2, a3, flags, ticks, |tag, t| {
                        Syscall::Send {
                            to,
                            buf: a1,
                            len: a2,
                            tag,
                            timeout: t,
                        }
                    })?;
                let receiver = self.process(to)?;
                // A receiver waiting in `recv` may take the message
                // directly; an exited one makes the send an error or
                // undeliverable.
                if to == caller
                    || matches!(receiver.pending, Some(Pending::Recv { .. }))
                    || matches!(receiver.state, ProcessState::Exited(_))
                {
                    return None;
                }
                if receiver.queued as usize >= self.quota_of(Dest::Process(to)) {
                    return None;
                }
                self.fast_enqueue(caller, Dest::Process(to), send, mem, sink)
            }
            n if n == Sysno::MboxSend as u64 => {
                let handle = Handle::from_raw(a0).ok()?;
                let send =
                    self.fast_send_args(caller_size, a1, a2, a3, flags, ticks, |tag, t| {
                        Syscall::MboxSend {
                            handle,
                            buf: a1,
                            len: a2,
                            tag,
                            timeout: t,
                        }
                    })?;
                // Any receiver waiting might wait at this mailbox.
                if self.blocked_receivers != 0 {
                    return None;
                }
                let dest = Dest::Mailbox(self.mailbox_of(caller, handle).ok()?);
                if self.queued_at(dest) >= self.quota_of(dest) {
                    return None;
                }
                self.fast_enqueue(caller, dest, send, mem, sink)
            }
            n if n == Sysno::Recv as u64 => {
                let from = Source::from_raw(a0).ok()?;
                let recv =
                    self.fast_recv_args(caller_size, from, a1, a2, a3, flags, ticks, |tag, t| {
                        Syscall::Recv {
                            from,
                            tag,
                            buf: a2,
                            cap: a3,
                            timeout: t,
                        }
                    })?;
                if let Source::Pid(from) = from {
                    if from == caller || self.process(from).is_none() {
                        return None;
                    }
                }
                self.fast_dequeue(caller, Dest::Process(caller), recv, mem, sink)
            }
            n if n == Sysno::MboxRecv as u64 => {
                let handle = Handle::from_raw(a0).ok()?;
                let recv = self.fast_recv_args(
                    caller_size,
                    Source::Any,
                    a1,
                    a2,
                    a3,
                    flags,
                    ticks,
                    |tag, t| Syscall::MboxRecv {
                        handle,
                        tag,
                        buf: a2,
                        cap: a3,
                        timeout: t,
                    },
                )?;
                let at = Dest::Mailbox(self.mailbox_of(caller, handle).ok()?);
                self.fast_dequeue(caller, at, recv, mem, sink)
            }
            _ => None,
        }
    }

    /// Decodes and checks a send's buffer, length, tag and timeout
    /// registers, and that the pool has a free slot; `call` builds the
    /// call for the trace.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn fast_send_args(
        &self,
        caller_size: u64,
        buf: u64,
        len: u64,
        tag: u64,
        flags: u64,
        ticks: u64,
        call: impl FnOnce(Tag, Timeout) -> Syscall,
    ) -> Option<FastSend> {
        let tag = tag_from_raw(tag).ok()?;
        let timeout = Timeout::from_raw(flags, ticks).ok()?;
        if len > MAX_MESSAGE_LEN
            || len > self.config.eager_limit as u64
            || !in_bounds(caller_size, buf, len)
            || self.pool.len() + self.mpi.messages.len() >= self.config.buffer_slots
        {
            return None;
        }
        Some(FastSend {
            buf,
            len,
            tag,
            call: call(tag, timeout),
        })
    }

    /// Decodes and checks a receive's tag, buffer, capacity and timeout
    /// registers, when no sender is blocked; `call` builds the call for
    /// the trace.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn fast_recv_args(
        &self,
        caller_size: u64,
        from: Source,
        tag: u64,
        buf: u64,
        cap: u64,
        flags: u64,
        ticks: u64,
        call: impl FnOnce(TagFilter, Timeout) -> Syscall,
    ) -> Option<FastRecv> {
        // A blocked sender may hold a message older than any in a slot.
        if self.blocked_senders != 0 {
            return None;
        }
        let tag = TagFilter::from_raw(tag).ok()?;
        let timeout = Timeout::from_raw(flags, ticks).ok()?;
        if !in_bounds(caller_size, buf, cap) {
            return None;
        }
        Some(FastRecv {
            from,
            tag,
            buf,
            cap,
            call: call(tag, timeout),
        })
    }

    /// Copies `send`'s message into a free slot for `dest`, which has room
    /// and no receiver waiting for it, and completes the send.
    #[inline(always)]
    fn fast_enqueue(
        &mut self,
        caller: Pid,
        dest: Dest,
        send: FastSend,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Option<TrapOutcome> {
        let FastSend {
            buf,
            len,
            tag,
            call,
        } = send;
        let now = self.now;
        // Cannot fail: fewer than `buffer_slots` (at most `MAX_SLOTS`) hold
        // a message.
        let data = self.pool.vacant()?;
        sink.event(now, &Event::Syscall { pid: caller, call });
        // Cannot fail: `len` is within the eager limit, at most the slot size.
        let _ = data.resize(len as usize, 0);
        if mem.read(caller, buf, data).is_err() {
            // The general path answers the same: nothing was accepted.
            return Some(self.fast_return(caller, Reply::to_regs(Err(Errno::EFAULT)), sink));
        }
        let id = self.next_arrival();
        self.stats.accepted += 1;
        self.stats.copies_to_kernel += 1;
        self.stats.bytes_copied += len;
        sink.event(
            now,
            &Event::Copy {
                from: CopyEnd::User {
                    pid: caller,
                    addr: buf,
                },
                to: CopyEnd::Kernel { message: id },
                bytes: len,
            },
        );
        self.pool.commit(id, caller, dest, tag);
        let queued = self.queued_counter(dest).map_or(0, |n| {
            *n = n.wrapping_add(1);
            *n
        });
        sink.event(
            now,
            &Event::Enqueue {
                message: id,
                from: caller,
                dest,
                tag,
                len,
                queued,
            },
        );
        Some(self.fast_return(caller, Reply::to_regs(Ok(Reply::value(0))), sink))
    }

    /// Takes the oldest message at `at` that `recv` accepts, when one is in
    /// a slot and fits, and completes the receive. Only called when no
    /// sender is blocked, so that message is the oldest candidate.
    #[inline(always)]
    fn fast_dequeue(
        &mut self,
        caller: Pid,
        at: Dest,
        recv: FastRecv,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Option<TrapOutcome> {
        let FastRecv {
            from,
            tag,
            buf,
            cap,
            call,
        } = recv;
        let position = self
            .pool
            .position(|m| m.dest == at && from.accepts(m.from) && tag.accepts(m.tag))?;
        let message = &self.pool[position];
        let status = MessageStatus {
            source: message.from,
            tag: message.tag,
            len: message.len(),
        };
        if status.len > cap {
            return None;
        }
        let now = self.now;
        sink.event(now, &Event::Syscall { pid: caller, call });
        if mem.write(caller, buf, &message.data).is_err() {
            return Some(self.fast_return(caller, Reply::to_regs(Err(Errno::EFAULT)), sink));
        }
        let message = self.pool.remove(position);
        if let Some(n) = self.queued_counter(at) {
            *n = n.wrapping_sub(1);
        }
        self.stats.delivered += 1;
        self.stats.copies_to_user += 1;
        self.stats.bytes_copied += message.len;
        sink.event(
            now,
            &Event::Copy {
                from: CopyEnd::Kernel {
                    message: message.id,
                },
                to: CopyEnd::User {
                    pid: caller,
                    addr: buf,
                },
                bytes: message.len,
            },
        );
        sink.event(
            now,
            &Event::Deliver {
                message: message.id,
                from: message.from,
                to: caller,
                dest: at,
                tag: message.tag,
                len: message.len,
                direct: false,
            },
        );
        // No sender is blocked, so the freed slot has no one to refill.
        Some(self.fast_return(caller, Reply::to_regs(Ok(Reply::received(status))), sink))
    }

    /// The count of messages queued at `dest`, which the caller has
    /// checked is a live process or mailbox (so the slot is enough).
    #[inline(always)]
    fn queued_counter(&mut self, dest: Dest) -> Option<&mut u32> {
        match dest {
            Dest::Process(pid) => self
                .procs
                .get_mut(pid.index as usize)
                .map(|p| &mut p.queued),
            Dest::Mailbox(m) => self.mailbox_queued.get_mut(m.0 as usize),
        }
    }

    #[inline(always)]
    fn fast_return(&self, caller: Pid, result: RetRegs, sink: &mut impl TraceSink) -> TrapOutcome {
        sink.event(
            self.now,
            &Event::Return {
                pid: caller,
                result,
            },
        );
        TrapOutcome::Complete(result)
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Handle, Pid, Regs, Source, Syscall, TagFilter, Timeout};

    use crate::testing::*;
    use crate::{Config, TrapOutcome};

    fn send_regs(to: Pid, len: u64, timeout: Timeout) -> Regs {
        Syscall::Send {
            to,
            buf: SEND_BUF,
            len,
            tag: 5,
            timeout,
        }
        .encode()
    }

    fn recv_regs(from: Source, cap: u64) -> Regs {
        Syscall::Recv {
            from,
            tag: TagFilter::Any,
            buf: RECV_BUF,
            cap,
            timeout: Timeout::Never,
        }
        .encode()
    }

    /// Runs `regs` from `pid` on the fast path alone.
    fn fast(w: &mut World, pid: Pid, regs: Regs) -> Option<TrapOutcome> {
        w.run(pid);
        let size = w.k.process(pid).unwrap().memory_size;
        let outcome = w.k.fastpath(pid, size, &regs, &mut w.mem, &mut w.sink);
        w.check();
        outcome
    }

    /// The fast path declines `regs` from `pid` and changes nothing.
    fn declines(w: &mut World, pid: Pid, regs: Regs) {
        w.run(pid);
        let (before, events) = (w.k.clone(), w.sink.0.len());
        assert_eq!(fast(w, pid, regs), None, "{regs:?} took the fast path");
        assert!(w.k == before && w.sink.0.len() == events);
    }

    #[test]
    fn a_send_into_a_free_slot_and_the_receive_that_takes_it_go_the_fast_path() {
        let mut w = World::new(Config::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        w.write(s, SEND_BUF, b"fast");
        let sent = fast(&mut w, s, send_regs(r, 4, Timeout::Never));
        assert!(matches!(sent, Some(TrapOutcome::Complete([0, ..]))));
        assert_eq!(w.k.messages().len(), 1);
        let got = fast(&mut w, r, recv_regs(Source::Pid(s), 64));
        assert!(matches!(got, Some(TrapOutcome::Complete([0, 4, _, 5]))));
        assert_eq!(w.read(r, RECV_BUF, 4), b"fast");
        assert_eq!(w.k.messages().len(), 0);
        let stats = w.k.stats();
        assert_eq!((stats.copies_to_kernel, stats.copies_to_user), (1, 1));
    }

    #[test]
    fn the_fast_path_declines_every_send_the_general_path_treats_otherwise() {
        let mut w = World::with(|c| {
            c.buffer_slots = 2;
            c.receiver_quota = 1;
            c.eager_limit = 16;
        });
        let (s, r, other) = (w.spawn(1), w.spawn(1), w.spawn(1));
        // Bad arguments: a stale pid, itself, out of bounds, too long.
        declines(&mut w, s, send_regs(Pid::new(40, 1), 4, Timeout::Never));
        declines(&mut w, s, send_regs(s, 4, Timeout::Never));
        declines(&mut w, s, send_regs(r, 17, Timeout::Never));
        let mut regs = send_regs(r, 4, Timeout::Never);
        regs.args[1] = MEMORY - 2;
        declines(&mut w, s, regs);
        // A receiver waiting: the message goes to it directly.
        blocked(w.recv(r, Source::Any, TagFilter::Any, 64, Timeout::Never));
        declines(&mut w, s, send_regs(r, 4, Timeout::Never));
        ok(w.send(s, r, b"x", 0, Timeout::Never));
        w.completion(r);
        // The receiver's quota is full.
        ok(w.send(s, r, b"y", 0, Timeout::Never));
        declines(&mut w, s, send_regs(r, 4, Timeout::NonBlocking));
        // The receiver has exited.
        w.exit(other, 0);
        declines(&mut w, s, send_regs(other, 4, Timeout::Never));
    }

    #[test]
    fn the_fast_path_declines_every_receive_the_general_path_treats_otherwise() {
        let mut w = World::with(|c| c.receiver_quota = 1);
        let (s, r, t) = (w.spawn(1), w.spawn(1), w.spawn(1));
        // Nothing queued: the general path blocks the receiver.
        declines(&mut w, r, recv_regs(Source::Any, 64));
        ok(w.send(s, r, b"hello", 0, Timeout::Never));
        // Too small a buffer, a source with nothing queued, itself, out of
        // bounds.
        declines(&mut w, r, recv_regs(Source::Any, 2));
        declines(&mut w, r, recv_regs(Source::Pid(t), 64));
        declines(&mut w, r, recv_regs(Source::Pid(r), 64));
        let mut regs = recv_regs(Source::Any, 64);
        regs.args[2] = MEMORY;
        declines(&mut w, r, regs);
        // A blocked sender might hold an older message.
        blocked(w.send(t, r, b"later", 0, Timeout::Never));
        declines(&mut w, r, recv_regs(Source::Any, 64));
    }

    fn mbox_send_regs(handle: Handle, len: u64) -> Regs {
        Syscall::MboxSend {
            handle,
            buf: SEND_BUF,
            len,
            tag: 3,
            timeout: Timeout::Never,
        }
        .encode()
    }

    fn mbox_recv_regs(handle: Handle, tag: TagFilter) -> Regs {
        Syscall::MboxRecv {
            handle,
            tag,
            buf: RECV_BUF,
            cap: 64,
            timeout: Timeout::Never,
        }
        .encode()
    }

    fn handle(outcome: TrapOutcome) -> Handle {
        Handle::from_raw(ok(outcome)).unwrap()
    }

    #[test]
    fn a_mailbox_send_into_room_and_the_receive_that_takes_it_go_the_fast_path() {
        let mut w = World::new(Config::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        let hs = handle(w.mbox_create(s, "box", 2));
        let hr = handle(w.mbox_open(r, "box"));
        w.write(s, SEND_BUF, b"via");
        let sent = fast(&mut w, s, mbox_send_regs(hs, 3));
        assert!(matches!(sent, Some(TrapOutcome::Complete([0, ..]))));
        let got = fast(&mut w, r, mbox_recv_regs(hr, TagFilter::Tag(3)));
        assert!(matches!(got, Some(TrapOutcome::Complete([0, 3, _, 3]))));
        assert_eq!(w.read(r, RECV_BUF, 3), b"via");
    }

    #[test]
    fn the_fast_path_declines_every_mailbox_call_the_general_path_treats_otherwise() {
        let mut w = World::new(Config::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        let hs = handle(w.mbox_create(s, "box", 1));
        let hr = handle(w.mbox_open(r, "box"));
        let rendezvous = handle(w.mbox_create(s, "zero", 0));
        // A handle that names nothing, and a mailbox of capacity 0.
        declines(&mut w, s, mbox_send_regs(Handle::from_raw(9).unwrap(), 1));
        declines(&mut w, s, mbox_send_regs(rendezvous, 1));
        // Empty: the general path blocks the receiver, which then waits.
        declines(&mut w, r, mbox_recv_regs(hr, TagFilter::Any));
        blocked(w.mbox_recv(r, hr, 64));
        declines(&mut w, s, mbox_send_regs(hs, 1));
        ok(w.mbox_send(s, hs, b"a", 3));
        w.completion(r);
        // Full; a tag that matches nothing.
        ok(w.mbox_send(s, hs, b"b", 3));
        declines(&mut w, s, mbox_send_regs(hs, 1));
        declines(&mut w, r, mbox_recv_regs(hr, TagFilter::Tag(4)));
        // Destroyed.
        ok(w.call(s, Syscall::MboxDestroy { handle: hs }));
        declines(&mut w, r, mbox_recv_regs(hr, TagFilter::Any));
    }

    #[test]
    fn only_the_calls_the_harnesses_check_can_take_the_fast_path() {
        let mut w = World::new(Config::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        let h = handle(w.mbox_create(s, "box", 2));
        ok(w.send(s, r, b"queued", 3, Timeout::Never));
        // Arguments that a message call would accept on the fast path.
        let args = [r.to_raw(), SEND_BUF, 4, 3, 0, 0];
        for sysno in ipclab_syscalls::Sysno::ALL {
            if super::FAST_PATH_CALLS.contains(&sysno) {
                continue;
            }
            let mut regs = Regs::new(sysno as u64, args);
            declines(&mut w, s, regs);
            regs.args[0] = h.to_raw();
            declines(&mut w, s, regs);
        }
    }
}
