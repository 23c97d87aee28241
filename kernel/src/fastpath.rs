//! The fast path: a direct send into a free slot, and a direct receive from a slot, without the general decode.
//!
//! As in seL4's `fastpath.c`, the two commonest message calls are tried
//! first by a short path that reads the registers itself and checks every
//! condition under which the general path would do something else: a
//! waiting receiver to hand the message to, a blocked sender that might be
//! older, a full pool, a bad argument. When any check fails, nothing has
//! changed and the call takes the general path ([`Kernel::trap`] falls
//! through to the decoder). When all pass, the fast path does exactly what
//! the general path would: the same state, the same result registers, the
//! same trace events in the same order. `tests/tests/model.rs` and the
//! unit tests below hold it to that by running every call both ways.
//!
//! What the general path costs and why this exists: `docs/kernel.md`,
//! "Size and speed".

use ipclab_syscalls::{
    tag_from_raw, Errno, MessageStatus, Pid, Regs, Reply, Source, Syscall, Sysno, TagFilter,
    Timeout, MAX_MESSAGE_LEN,
};

use crate::process::Pending;
use crate::trace::CopyEnd;
use crate::umem::in_bounds;
use crate::{Dest, Event, Kernel, ProcessState, TraceSink, TrapOutcome, UserMemory};

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
        if regs.sysno == Sysno::Send as u64 {
            self.fast_send(caller, caller_size, regs, mem, sink)
        } else if regs.sysno == Sysno::Recv as u64 {
            self.fast_recv(caller, caller_size, regs, mem, sink)
        } else {
            None
        }
    }

    /// `send(to, buf, len, tag)` when `to` is alive and not waiting in a
    /// receive, and the message fits a free slot within `to`'s quota: the
    /// message is copied into the slot and the send completes.
    #[inline(always)]
    fn fast_send(
        &mut self,
        caller: Pid,
        caller_size: u64,
        regs: &Regs,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Option<TrapOutcome> {
        let [to, buf, len, tag, flags, ticks] = regs.args;
        let to = Pid::from_raw(to).ok()?;
        let tag = tag_from_raw(tag).ok()?;
        let timeout = Timeout::from_raw(flags, ticks).ok()?;
        if len > MAX_MESSAGE_LEN || len > self.config.eager_limit as u64 || to == caller {
            return None;
        }
        if !in_bounds(caller_size, buf, len) {
            return None;
        }
        let receiver = self.process(to)?;
        // A receiver waiting in `recv` may take the message directly; an
        // exited one makes the send an error or undeliverable.
        if matches!(receiver.pending, Some(Pending::Recv { .. }))
            || matches!(receiver.state, ProcessState::Exited(_))
        {
            return None;
        }
        let quota = self.config.receiver_quota.min(self.config.buffer_slots);
        if self.pool.len() + self.mpi.messages.len() >= self.config.buffer_slots
            || receiver.queued as usize >= quota
        {
            return None;
        }
        let now = self.now;
        // Cannot fail: fewer than `buffer_slots` (at most `MAX_SLOTS`) hold
        // a message.
        let data = self.pool.vacant()?;
        let call = Syscall::Send {
            to,
            buf,
            len,
            tag,
            timeout,
        };
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
        let dest = Dest::Process(to);
        self.pool.commit(id, caller, dest, tag);
        let queued = match self.procs.get_mut(to.index as usize) {
            Some(pcb) => {
                pcb.queued += 1;
                pcb.queued
            }
            None => 0,
        };
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

    /// `recv(from | ANY, tag | ANY, buf, cap)` when no sender is blocked
    /// anywhere (so the oldest candidate is in a slot) and a slot holds a
    /// matching message that fits: it is copied out and the receive
    /// completes.
    #[inline(always)]
    fn fast_recv(
        &mut self,
        caller: Pid,
        caller_size: u64,
        regs: &Regs,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Option<TrapOutcome> {
        if self.blocked_senders != 0 {
            return None;
        }
        let [from, tag, buf, cap, flags, ticks] = regs.args;
        let from = Source::from_raw(from).ok()?;
        let tag = TagFilter::from_raw(tag).ok()?;
        let timeout = Timeout::from_raw(flags, ticks).ok()?;
        if let Source::Pid(from) = from {
            if from == caller || self.process(from).is_none() {
                return None;
            }
        }
        if !in_bounds(caller_size, buf, cap) {
            return None;
        }
        let at = Dest::Process(caller);
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
        let call = Syscall::Recv {
            from,
            tag,
            buf,
            cap,
            timeout,
        };
        sink.event(now, &Event::Syscall { pid: caller, call });
        if mem.write(caller, buf, &message.data).is_err() {
            return Some(self.fast_return(caller, Reply::to_regs(Err(Errno::EFAULT)), sink));
        }
        let message = self.pool.remove(position);
        if let Some(pcb) = self.procs.get_mut(caller.index as usize) {
            pcb.queued = pcb.queued.wrapping_sub(1);
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

    #[inline(always)]
    fn fast_return(
        &self,
        caller: Pid,
        result: ipclab_syscalls::RetRegs,
        sink: &mut impl TraceSink,
    ) -> TrapOutcome {
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
    use ipclab_syscalls::{Pid, Regs, Source, Syscall, TagFilter, Timeout};

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
}
