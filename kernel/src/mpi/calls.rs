//! The MPI calls: decode each call's arguments against the caller and the communicator, then start, wait or answer.
//!
//! `perform_mpi` is the trap entry's part for the MPI numbers. Each arm
//! checks what the process passed (membership, ranks, handles, user
//! addresses), then hands the work to the request table, the send and
//! receive paths, or a wait; after every call, whatever its outcome,
//! `mpi_progress` re-examines the waiting processes.

use ipclab_syscalls::{
    CommId, Errno, MpiStatus, Pid, RetRegs, SendMode, Source, Syscall, TagFilter,
};

use super::{
    errno_regs, read_word, value_regs, write_word, Attached, Holder, MpiBlock, MpiCall,
    MAX_WAIT_COUNT,
};
use crate::process::Pending;
use crate::umem::in_bounds;
use crate::{BlockReason, Kernel, TraceSink, TrapOutcome, UserMemory};

impl Kernel {
    /// Performs an MPI call (the trap entry's part for the MPI numbers).
    pub(crate) fn perform_mpi(
        &mut self,
        caller: Pid,
        call: Syscall,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, RetRegs> {
        let outcome = self.perform_mpi_inner(caller, call, mem, sink);
        self.mpi_progress(mem, sink);
        outcome
    }

    fn perform_mpi_inner(
        &mut self,
        caller: Pid,
        call: Syscall,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, RetRegs> {
        let done = |regs: RetRegs| Ok(TrapOutcome::Complete(regs));
        let e = errno_regs;
        match call {
            Syscall::CommRank { comm } => {
                let rank = self.rank_of(comm, caller).ok_or(e(Errno::EINVAL))?;
                done(value_regs(u64::from(rank)))
            }
            Syscall::CommSize { comm } => {
                let size = self.comm(comm).ok_or(e(Errno::EINVAL))?.members.len();
                done(value_regs(size as u64))
            }
            Syscall::MpiSend {
                mode,
                buf,
                len,
                dest,
                tag,
                comm,
            }
            | Syscall::Isend {
                mode,
                buf,
                len,
                dest,
                tag,
                comm,
            } => {
                let blocking = matches!(call, Syscall::MpiSend { .. });
                self.member_check(comm, caller).map_err(e)?;
                let to = self.member(comm, dest).map_err(e)?;
                let holder = if blocking {
                    Holder::Internal
                } else {
                    Holder::User
                };
                // `MPI_Ibsend` takes two entries: the buffered message and
                // the request its caller waits on. Both are asked for
                // before anything changes.
                let ibsend = !blocking && mode == SendMode::Buffered;
                if ibsend {
                    if let Some(errno) = self.cannot_insert_two(caller) {
                        return Err(e(errno));
                    }
                }
                let slot =
                    self.start_send(caller, comm, mode, to, buf, len, tag, holder, mem, sink)?;
                match slot {
                    // `MPI_Ibsend`: the message is in the attached buffer,
                    // so its request is complete at once; the caller still
                    // gets it, to wait on, and its buffer stays the
                    // kernel's until then, as MPI says of every
                    // nonblocking send (`docs/mpi.md`, "Buffer races").
                    None if ibsend => {
                        let slot = self.insert_completed_send(caller, comm, to, buf, len, tag, mem);
                        done(value_regs(self.handle_of(slot.map_err(e)?).0))
                    }
                    // `MPI_Bsend` returns once its message is buffered.
                    None => done(value_regs(0)),
                    Some(slot) if blocking => self.wait_internal(caller, slot, sink),
                    Some(slot) => done(value_regs(self.handle_of(slot).0)),
                }
            }
            Syscall::MpiRecv {
                buf,
                cap,
                source,
                tag,
                comm,
            }
            | Syscall::Irecv {
                buf,
                cap,
                source,
                tag,
                comm,
            } => {
                let blocking = matches!(call, Syscall::MpiRecv { .. });
                self.member_check(comm, caller).map_err(e)?;
                let from = self.source_of(comm, source).map_err(e)?;
                let holder = if blocking {
                    Holder::Internal
                } else {
                    Holder::User
                };
                let slot = self.start_recv(caller, comm, from, tag, buf, cap, holder, mem, sink)?;
                if blocking {
                    self.wait_internal(caller, slot, sink)
                } else {
                    done(value_regs(self.handle_of(slot).0))
                }
            }
            Syscall::Waitall { handles, count } | Syscall::Waitany { handles, count } => {
                let any = matches!(call, Syscall::Waitany { .. });
                if count > MAX_WAIT_COUNT {
                    return Err(e(Errno::EINVAL));
                }
                let size = self.pcb_ref(caller).map_err(e)?.memory_size;
                if !in_bounds(size, handles, count * 8) {
                    return Err(e(Errno::EFAULT));
                }
                self.wait_slots(caller, handles, count, mem)?;
                if let Some(regs) = self.try_finish_wait(caller, handles, count, any, mem) {
                    return done(regs);
                }
                let call = match (any, count) {
                    (true, _) => MpiCall::Waitany,
                    (false, 1) => MpiCall::Wait,
                    (false, _) => MpiCall::Waitall,
                };
                let pending = Pending::Mpi(MpiBlock::Wait {
                    handles,
                    count: count as u16,
                    any,
                });
                let reason =
                    self.wait_reason(caller, call, pending, mem)
                        .unwrap_or(BlockReason::Mpi {
                            call,
                            request: None,
                            peer: Source::Any,
                            tag: TagFilter::Any,
                        });
                self.mpi_block(caller, reason, pending, sink)
            }
            Syscall::Test { handle } => {
                let size = self.pcb_ref(caller).map_err(e)?.memory_size;
                if !in_bounds(size, handle, 8) {
                    return Err(e(Errno::EFAULT));
                }
                let h = read_word(mem, caller, handle).map_err(e)?;
                if h == 0 {
                    // Complete at once with the empty status (MPI-3.1 §3.7.3).
                    return done(MpiStatus::EMPTY.to_regs(1));
                }
                let slot = self.lookup(caller, h).map_err(e)?;
                match self.request(slot).and_then(|r| r.done) {
                    None => done(value_regs(0)),
                    Some(regs) => {
                        self.free_request(slot);
                        let _ = write_word(mem, caller, handle, 0);
                        // Flag 1 even when the request failed (a
                        // truncated receive): it is complete and freed.
                        let regs = [regs[0], 1, regs[2], regs[3]];
                        if regs[0] != 0 {
                            return Err(regs);
                        }
                        done(regs)
                    }
                }
            }
            Syscall::Probe { source, tag, comm } | Syscall::Iprobe { source, tag, comm } => {
                self.member_check(comm, caller).map_err(e)?;
                let from = self.source_of(comm, source).map_err(e)?;
                if let Some(c) = self.oldest_candidate(caller, comm, from, tag) {
                    let status = self.candidate_status(comm, c);
                    return done(status.to_regs(1));
                }
                if matches!(call, Syscall::Iprobe { .. }) {
                    return done(value_regs(0));
                }
                if self.is_dead_under_notify(from) {
                    return Err(e(Errno::EDEADPEER));
                }
                let reason = BlockReason::Mpi {
                    call: MpiCall::Probe,
                    request: None,
                    peer: from,
                    tag,
                };
                self.mpi_block(
                    caller,
                    reason,
                    Pending::Mpi(MpiBlock::Probe { comm, from, tag }),
                    sink,
                )
            }
            Syscall::BufferAttach { addr, size } => {
                let memory = self.pcb_ref(caller).map_err(e)?.memory_size;
                if !in_bounds(memory, addr, size) {
                    return Err(e(Errno::EFAULT));
                }
                if self.attached_buffer(caller).is_some() {
                    return Err(e(Errno::EINVAL));
                }
                self.mpi
                    .attached
                    .push(Attached {
                        pid: caller,
                        addr,
                        size,
                    })
                    .map_err(|_| e(Errno::ENOSPC))?;
                done(value_regs(0))
            }
            Syscall::BufferDetach => {
                let attached = self.attached_buffer(caller).ok_or(e(Errno::EINVAL))?;
                if self.buffered_of(caller).next().is_none() {
                    self.mpi.attached.retain(|a| a.pid != caller);
                    return done([0, attached.addr, attached.size, 0]);
                }
                let reason = self.detach_reason(caller);
                self.mpi_block(caller, reason, Pending::Mpi(MpiBlock::Detach), sink)
            }
            _ => Err(e(Errno::ENOSYS)),
        }
    }

    fn member_check(&self, comm: CommId, caller: Pid) -> Result<(), Errno> {
        self.rank_of(comm, caller).map(|_| ()).ok_or(Errno::EINVAL)
    }
}
