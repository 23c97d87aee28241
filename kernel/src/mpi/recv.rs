//! Receives and matching: a receive takes the oldest matching candidate, an eager message or a pending send, in arrival order.
//!
//! One arrival counter orders both kinds of candidate, so messages between
//! a pair never overtake each other whichever path each took. A receive
//! that finds no candidate stays posted, and the next matching send finds
//! it (`oldest_posted_recv`, oldest posting first). `deliver` is where a
//! match ends either way: it copies the message into the receive's buffer
//! and completes both sides. The buffer's size plays no part in matching:
//! a message too long for the receive that matches it is truncated there,
//! never passed on to a later receive (MPI-3.1 §3.5, order).

use ipclab_syscalls::{CommId, Errno, MpiStatus, Pid, RetRegs, Source, Tag, TagFilter, UserAddr};

use super::{errno_regs, value_regs, Holder, Request, RequestOp};
use crate::trace::CopyEnd;
use crate::umem::{copy_user_to_user, in_bounds};
use crate::{Dest, Event, Kernel, TraceSink, UserMemory};

/// The oldest candidate a receive could take.
#[derive(Clone, Copy)]
pub(super) enum Candidate {
    /// An eager message, at this index of `messages`.
    Slot(usize),
    /// A pending send request, in this table slot.
    Sender(usize),
}

impl Kernel {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_recv(
        &mut self,
        caller: Pid,
        comm: CommId,
        from: Source,
        tag: TagFilter,
        buf: UserAddr,
        cap: u64,
        holder: Holder,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<usize, RetRegs> {
        let e = errno_regs;
        let memory = self.pcb_ref(caller).map_err(e)?.memory_size;
        if !in_bounds(memory, buf, cap) {
            return Err(e(Errno::EFAULT));
        }
        // A candidate too long for `cap` is still the one this receive
        // takes: MPI truncates it (`deliver`), it does not skip it.
        if self.oldest_candidate(caller, comm, from, tag).is_none() {
            if self.is_dead_under_notify(from) {
                return Err(e(Errno::EDEADPEER));
            }
            if holder == Holder::Internal {
                // A blocking receive with nothing to take will block:
                // refused now if it must be, before its request exists.
                if let Some(errno) = self.mpi_refusal(caller, from) {
                    return Err(e(errno));
                }
            }
        }
        if let Some(errno) = self.cannot_insert(caller, holder) {
            return Err(e(errno));
        }
        let seq = self.next_queue_order();
        let request = Request {
            owner: caller,
            comm,
            op: RequestOp::Recv {
                from,
                tag,
                buf,
                cap,
                seq,
            },
            holder,
            done: None,
        };
        let slot = self.insert_request(request, mem).map_err(e)?;
        if let Some(c) = self.oldest_candidate(caller, comm, from, tag) {
            self.deliver(c, slot, mem, sink);
        }
        Ok(slot)
    }

    /// The oldest posted receive of `to` in `comm` that accepts a message
    /// from `from` with `tag`.
    pub(super) fn oldest_posted_recv(
        &self,
        from: Pid,
        comm: CommId,
        to: Pid,
        tag: Tag,
    ) -> Option<usize> {
        self.mpi
            .requests
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.request.as_ref().map(|r| (i, r)))
            .filter(|(_, r)| r.is_posted_recv() && r.owner == to && r.comm == comm)
            .filter_map(|(i, r)| match r.op {
                RequestOp::Recv {
                    from: f,
                    tag: t,
                    seq,
                    ..
                } if f.accepts(from) && t.accepts(tag) => Some((seq, i)),
                _ => None,
            })
            .min_by_key(|(seq, _)| *seq)
            .map(|(_, i)| i)
    }

    /// The oldest message for `receiver` in `comm` that `from`/`tag`
    /// accept: an eager message or a pending send, in arrival order.
    pub(super) fn oldest_candidate(
        &self,
        receiver: Pid,
        comm: CommId,
        from: Source,
        tag: TagFilter,
    ) -> Option<Candidate> {
        let in_slot = self
            .mpi
            .messages
            .iter()
            .enumerate()
            .find(|(_, m)| {
                m.to == receiver && m.comm == comm && from.accepts(m.from) && tag.accepts(m.tag)
            })
            .map(|(i, m)| (m.id, Candidate::Slot(i)));
        let in_sender = self
            .mpi
            .requests
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.request.as_ref().map(|r| (i, r)))
            .filter(|(_, r)| r.is_pending_send() && r.comm == comm && from.accepts(r.owner))
            .filter_map(|(i, r)| match r.op {
                RequestOp::Send {
                    to, tag: t, seq, ..
                } if to == receiver && tag.accepts(t) => Some((seq, Candidate::Sender(i))),
                _ => None,
            })
            .min_by_key(|(seq, _)| *seq);
        match (in_slot, in_sender) {
            (Some(a), Some(b)) => Some(if a.0 < b.0 { a.1 } else { b.1 }),
            (a, b) => a.or(b).map(|x| x.1),
        }
    }

    pub(super) fn candidate_status(&self, comm: CommId, candidate: Candidate) -> MpiStatus {
        match candidate {
            Candidate::Slot(i) => {
                let m = &self.mpi.messages[i];
                self.status(comm, m.from, m.tag, m.data.len() as u64)
            }
            Candidate::Sender(slot) => match self.request(slot) {
                Some(Request {
                    owner,
                    op: RequestOp::Send { tag, len, .. },
                    ..
                }) => self.status(comm, *owner, *tag, *len),
                _ => MpiStatus::default(),
            },
        }
    }

    /// Delivers `candidate` into the posted receive `recv` and completes both.
    ///
    /// A message longer than the receive's buffer is truncated, as MPI does
    /// (MPI-3.1, "Blocking Receive": an overflow is an error): the receive takes it all the same, gets the part
    /// that fits, and completes with `EMSGSIZE` (`MPI_ERR_TRUNCATE`) and
    /// the message's real length in its status; the message is consumed
    /// (counted delivered, traced `Truncated`) and its send completes.
    pub(super) fn deliver(
        &mut self,
        candidate: Candidate,
        recv: usize,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) {
        let Some(Request {
            owner: receiver,
            comm,
            op: RequestOp::Recv { buf, cap, .. },
            ..
        }) = self.request(recv).copied()
        else {
            return;
        };
        let (from, tag, len, id, direct) = match candidate {
            Candidate::Slot(i) => {
                let m = self.mpi.messages.remove(i);
                let len = m.data.len() as u64;
                let copied = &m.data[..len.min(cap) as usize];
                if mem.write(receiver, buf, copied).is_err() {
                    self.finish_request(recv, errno_regs(Errno::EFAULT));
                    return;
                }
                self.stats.copies_to_user += 1;
                self.stats.bytes_copied += copied.len() as u64;
                sink.event(
                    self.now,
                    &Event::Copy {
                        from: CopyEnd::Kernel { message: m.id },
                        to: CopyEnd::User {
                            pid: receiver,
                            addr: buf,
                        },
                        bytes: copied.len() as u64,
                    },
                );
                (m.from, m.tag, len, m.id, false)
            }
            Candidate::Sender(slot) => {
                let Some(Request {
                    owner,
                    holder,
                    op:
                        RequestOp::Send {
                            buf: from_buf,
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
                let copied = len.min(cap);
                if let Err(errno) = copy_user_to_user(mem, owner, from_buf, receiver, buf, copied) {
                    self.finish_request(recv, errno_regs(errno));
                    return;
                }
                self.count_copy_user_to_user(owner, from_buf, receiver, buf, copied, sink);
                if holder != Holder::Buffered {
                    // A buffered message was accepted when `bsend` returned.
                    self.stats.accepted += 1;
                }
                self.finish_request(slot, value_regs(0));
                (owner, tag, len, seq, true)
            }
        };
        self.stats.delivered += 1;
        sink.event(
            self.now,
            &Event::Deliver {
                message: id,
                from,
                to: receiver,
                dest: Dest::Process(receiver),
                tag,
                len,
                direct,
            },
        );
        let status = self.status(comm, from, tag, len);
        if len > cap {
            sink.event(
                self.now,
                &Event::Truncated {
                    message: id,
                    to: receiver,
                    len,
                    copied: cap,
                },
            );
            self.finish_request(recv, status.error_regs(Errno::EMSGSIZE));
        } else {
            self.finish_request(recv, status.to_regs(1));
        }
    }
}
