//! Sends: a send meets the oldest matching posted receive, or goes eager into a kernel slot, or stays pending.
//!
//! `start_send` checks the call, copies a `bsend` message into the
//! attached buffer, and puts the send in the request table; `match_send`
//! then tries, in order, a posted receive (a user-to-user copy, through
//! `deliver`) and, for a standard send that fits, the eager path
//! (`send_eager`: a copy into a kernel slot, and the send completes). A send
//! that does neither stays pending (rendezvous) until a receive takes it;
//! so does a `bsend` copy, but its sender no longer waits for it.

use heapless::Vec;
use ipclab_syscalls::{CommId, Errno, Pid, RetRegs, SendMode, Source, Tag, UserAddr};

use super::recv::Candidate;
use super::{errno_regs, value_regs, Holder, MpiMessage, Request, RequestOp};
use crate::config::{MAX_EAGER_LIMIT, MAX_REQUESTS};
use crate::trace::{CopyEnd, UndeliverableReason};
use crate::umem::{copy_user_to_user, in_bounds};
use crate::{Dest, Event, Kernel, TraceSink, UserMemory};

impl Kernel {
    /// Starts a send; `None` when it completed without a request the caller
    /// waits for (a buffered send).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_send(
        &mut self,
        caller: Pid,
        comm: CommId,
        mode: SendMode,
        to: Pid,
        buf: UserAddr,
        len: u64,
        tag: Tag,
        holder: Holder,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<Option<usize>, RetRegs> {
        let e = errno_regs;
        let memory = self.pcb_ref(caller).map_err(e)?.memory_size;
        if !in_bounds(memory, buf, len) {
            return Err(e(Errno::EFAULT));
        }
        if self.is_dead_under_notify(Source::Pid(to)) {
            return Err(e(Errno::EDEADPEER));
        }
        if mode == SendMode::Ready && self.oldest_posted_recv(caller, comm, to, tag).is_none() {
            return Err(e(Errno::ENORECV));
        }
        let holder = if mode == SendMode::Buffered {
            Holder::Buffered
        } else {
            holder
        };
        // A blocking send that no posted receive takes and that cannot go
        // eager will block: refused now if it must be, before its request
        // exists.
        let completes_at_once = self.oldest_posted_recv(caller, comm, to, tag).is_some()
            || (mode == SendMode::Standard && self.can_buffer_mpi(to, len));
        if holder == Holder::Internal && !completes_at_once {
            if let Some(errno) = self.mpi_refusal(caller, Source::Pid(to)) {
                return Err(e(errno));
            }
        }
        // Refused before anything is copied or numbered: a failed call
        // changes nothing.
        if let Some(errno) = self.cannot_insert(caller, holder) {
            return Err(e(errno));
        }
        let buf = if mode == SendMode::Buffered {
            self.copy_to_attached(caller, buf, len, mem, sink)?
        } else {
            buf
        };
        let seq = self.next_arrival();
        let request = Request {
            owner: caller,
            comm,
            op: RequestOp::Send {
                mode,
                to,
                buf,
                len,
                tag,
                seq,
            },
            holder,
            done: None,
        };
        let slot = self.insert_request(request, mem).map_err(e)?;
        if holder == Holder::Buffered {
            // Accepted: the message now lives in the attached buffer.
            self.stats.accepted += 1;
        }
        self.match_send(slot, mem, sink);
        Ok((holder != Holder::Buffered).then_some(slot))
    }

    /// Copies a buffered send's message into the caller's attached buffer;
    /// returns where it went.
    fn copy_to_attached(
        &mut self,
        caller: Pid,
        buf: UserAddr,
        len: u64,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<UserAddr, RetRegs> {
        // `r3`: the attached buffer's size, 0 with none, so the error can
        // say which of the two it is.
        let attached_size = self.attached_buffer(caller).map_or(0, |a| a.size);
        let no_room = |available: u64| [Errno::ENOBUFS.number(), len, available, attached_size];
        let Some(attached) = self.attached_buffer(caller) else {
            return Err(no_room(0));
        };
        // First fit among the gaps the caller's buffered messages leave.
        let mut used: Vec<(u64, u64), MAX_REQUESTS> = self
            .buffered_of(caller)
            .filter_map(|(_, r)| match r.op {
                RequestOp::Send { buf, len, .. } => Some((buf, buf + len)),
                RequestOp::Recv { .. } => None,
            })
            .collect();
        used.sort_unstable();
        let mut at = attached.addr;
        let mut largest = 0;
        let end = attached.addr + attached.size;
        let mut found = None;
        for &(start, stop) in used.iter().chain([(end, end)].iter()) {
            let gap = start.saturating_sub(at);
            largest = largest.max(gap);
            if found.is_none() && gap >= len {
                found = Some(at);
            }
            at = at.max(stop);
        }
        let Some(to) = found else {
            return Err(no_room(largest));
        };
        copy_user_to_user(mem, caller, buf, caller, to, len).map_err(errno_regs)?;
        self.count_copy_user_to_user(caller, buf, caller, to, len, sink);
        Ok(to)
    }

    /// A new send request (in `slot`) meets the posted receives: the oldest
    /// matching one takes it directly (truncating it if it is too small:
    /// `deliver`); otherwise a standard send that fits goes eager.
    fn match_send(&mut self, slot: usize, mem: &mut impl UserMemory, sink: &mut impl TraceSink) {
        let Some(request) = self.request(slot).copied() else {
            return;
        };
        let RequestOp::Send {
            mode, to, len, tag, ..
        } = request.op
        else {
            return;
        };
        let dead = self.process(to).is_none_or(|p| p.is_exited());
        if dead && request.holder == Holder::Buffered {
            // A buffered message for a terminated rank (under `classic`;
            // `notify` refused the call) is accepted and reported at once,
            // as a plain send to the dead is (`docs/kernel.md`).
            if let RequestOp::Send { seq, .. } = request.op {
                self.report_sent_to_exited(seq, request.owner, to, sink);
            }
            self.finish_request(slot, value_regs(0));
            return;
        }
        if !dead {
            if let Some(recv) = self.oldest_posted_recv(request.owner, request.comm, to, tag) {
                self.deliver(Candidate::Sender(slot), recv, mem, sink);
                return;
            }
        }
        if mode == SendMode::Standard && self.can_buffer_mpi(to, len) {
            self.send_eager(slot, mem, sink);
        }
    }

    /// Can an MPI message of `len` bytes to `to` go into a slot now? The
    /// pool's slots are shared with the plain calls.
    pub(super) fn can_buffer_mpi(&self, to: Pid, len: u64) -> bool {
        let queued = self.mpi.messages.iter().filter(|m| m.to == to).count();
        len <= self.config.eager_limit as u64
            && self.pool.len() + self.mpi.messages.len() < self.config.buffer_slots
            && queued < self.config.receiver_quota.min(self.config.buffer_slots)
    }

    /// Copies a pending send into a kernel slot and completes it.
    fn send_eager(&mut self, slot: usize, mem: &mut impl UserMemory, sink: &mut impl TraceSink) {
        let Some(Request {
            owner,
            comm,
            op:
                RequestOp::Send {
                    to,
                    buf,
                    len,
                    tag,
                    seq,
                    ..
                },
            ..
        }) = self.request(slot).copied()
        else {
            return;
        };
        let mut data: Vec<u8, MAX_EAGER_LIMIT> = Vec::new();
        if data.resize(len as usize, 0).is_err() || mem.read(owner, buf, &mut data).is_err() {
            self.finish_request(slot, errno_regs(Errno::EFAULT));
            return;
        }
        self.stats.accepted += 1;
        self.stats.copies_to_kernel += 1;
        self.stats.bytes_copied += len;
        sink.event(
            self.now,
            &Event::Copy {
                from: CopyEnd::User {
                    pid: owner,
                    addr: buf,
                },
                to: CopyEnd::Kernel { message: seq },
                bytes: len,
            },
        );
        if self.process(to).is_none_or(|p| p.is_exited()) {
            // Under `classic`, a send to a terminated rank completes and
            // its message is reported undeliverable, as a plain one is;
            // queued, it would hold a slot for good and never be reported.
            self.report_sent_to_exited(seq, owner, to, sink);
            self.finish_request(slot, value_regs(0));
            return;
        }
        let _ = self.mpi.messages.push(MpiMessage {
            id: seq,
            from: owner,
            to,
            comm,
            tag,
            data,
        });
        let queued = self.mpi.messages.iter().filter(|m| m.to == to).count() as u32;
        sink.event(
            self.now,
            &Event::Enqueue {
                message: seq,
                from: owner,
                dest: Dest::Process(to),
                tag,
                len,
                queued,
            },
        );
        self.finish_request(slot, value_regs(0));
    }

    /// Counts and reports message `seq` from `from` as undeliverable: it was
    /// sent to `to`, which had terminated.
    fn report_sent_to_exited(&mut self, seq: u64, from: Pid, to: Pid, sink: &mut impl TraceSink) {
        self.stats.undeliverable += 1;
        sink.event(
            self.now,
            &Event::Undeliverable {
                message: seq,
                from,
                dest: Dest::Process(to),
                reason: UndeliverableReason::SentToExited,
            },
        );
    }
}
