//! Waiting and progress: a process blocked in an MPI call, and the re-examination after every MPI state change that completes it.
//!
//! A blocking call, `waitall`/`waitany`, `probe` and `buffer_detach` block
//! with an [`MpiBlock`] as their pending work. No partner completes them
//! directly: after every MPI call and exit, `mpi_progress` looks at each
//! waiting process again, completes those whose wait is over, and renames
//! what the others wait for, so that their [`BlockReason::Mpi`] names the
//! partner of the first request still not done (the wait-for graph's
//! edge).

use heapless::Vec;
use ipclab_syscalls::{Errno, MpiStatus, Pid, RetRegs, SendMode, Source, TagFilter, UserAddr};

use super::{
    errno_regs, read_word, value_regs, write_word, MpiBlock, MpiCall, RequestKind, RequestOp,
    MAX_WAIT_COUNT,
};
use crate::config::MAX_PROCS;
use crate::process::Pending;
use crate::{BlockReason, Kernel, ProcessState, TraceSink, TrapOutcome, UserMemory};

/// The (index, table slot) of each non-null handle a `wait*` names.
pub(super) type WaitSlots = Vec<(u64, usize), { MAX_WAIT_COUNT as usize }>;

impl Kernel {
    /// A blocking call waits for its internal request (or returns at once
    /// when it has already completed).
    pub(super) fn wait_internal(
        &mut self,
        caller: Pid,
        slot: usize,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, RetRegs> {
        let Some(request) = self.request(slot).copied() else {
            return Ok(TrapOutcome::Complete(value_regs(0)));
        };
        if let Some(regs) = request.done {
            self.free_request(slot);
            return if regs[0] == 0 {
                Ok(TrapOutcome::Complete(regs))
            } else {
                Err(regs)
            };
        }
        let call = match request.kind() {
            RequestKind::Send(mode) => MpiCall::Send(mode),
            RequestKind::Recv => MpiCall::Recv,
        };
        let reason = BlockReason::Mpi {
            call,
            request: Some(request.kind()),
            peer: request.peer(),
            tag: request.tag(),
        };
        let pending = Pending::Mpi(MpiBlock::Request { slot: slot as u16 });
        match self.mpi_block(caller, reason, pending, sink) {
            Ok(outcome) => Ok(outcome),
            Err(regs) => {
                self.free_request(slot);
                Err(regs)
            }
        }
    }

    /// `EDEADLK` when a blocking call of `caller` waiting for `peer` would
    /// close a cycle the kernel refuses; asked before the call changes
    /// anything, so that a refused call changes nothing.
    pub(super) fn mpi_refusal(&self, caller: Pid, peer: Source) -> Option<Errno> {
        if !self.config.refuse_deadlock {
            return None;
        }
        let reason = BlockReason::Mpi {
            call: MpiCall::Recv,
            request: None,
            peer,
            tag: TagFilter::Any,
        };
        self.refusal(caller, reason, ipclab_syscalls::Timeout::Never, &|_| false)
    }

    pub(super) fn mpi_block(
        &mut self,
        caller: Pid,
        reason: BlockReason,
        pending: Pending,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, RetRegs> {
        self.block(
            caller,
            reason,
            pending,
            ipclab_syscalls::Timeout::Never,
            sink,
        )
        .map_err(errno_regs)
    }

    /// Re-examines every process blocked in an MPI call: completes those
    /// whose wait is over, and renames what the others wait for.
    pub(crate) fn mpi_progress(&mut self, mem: &mut impl UserMemory, sink: &mut impl TraceSink) {
        let waiting: Vec<(Pid, MpiBlock), MAX_PROCS> = self
            .procs
            .iter()
            .filter_map(|p| match (p.state, p.pending) {
                (ProcessState::Blocked(_), Some(Pending::Mpi(b))) => Some((p.pid, b)),
                _ => None,
            })
            .collect();
        for (pid, block) in waiting {
            let finished = match block {
                MpiBlock::Request { slot } => {
                    let slot = slot as usize;
                    match self.request(slot).and_then(|r| r.done) {
                        Some(regs) => {
                            self.free_request(slot);
                            Some(regs)
                        }
                        None => None,
                    }
                }
                MpiBlock::Wait {
                    handles,
                    count,
                    any,
                } => self.try_finish_wait(pid, handles, u64::from(count), any, mem),
                MpiBlock::Probe { comm, from, tag } => {
                    match self.oldest_candidate(pid, comm, from, tag) {
                        Some(c) => Some(self.candidate_status(comm, c).to_regs(1)),
                        None if self.is_dead_under_notify(from) => {
                            Some(errno_regs(Errno::EDEADPEER))
                        }
                        None => None,
                    }
                }
                MpiBlock::Detach => {
                    if self.buffered_of(pid).next().is_none() {
                        let a = self.attached_buffer(pid);
                        self.mpi.attached.retain(|a| a.pid != pid);
                        a.map(|a| [0, a.addr, a.size, 0])
                    } else {
                        None
                    }
                }
            };
            match finished {
                Some(regs) => self.complete(pid, regs, sink),
                None => {
                    // Name the request it still waits for (the first one).
                    let reason = match block {
                        MpiBlock::Wait { .. } => {
                            let call = match self.reason_of(pid) {
                                Some(BlockReason::Mpi { call, .. }) => call,
                                _ => MpiCall::Wait,
                            };
                            self.wait_reason(pid, call, Pending::Mpi(block), mem)
                        }
                        MpiBlock::Detach => Some(self.detach_reason(pid)),
                        _ => None,
                    };
                    if let (Some(reason), Ok(pcb)) = (reason, self.pcb_mut(pid)) {
                        pcb.state = ProcessState::Blocked(reason);
                    }
                }
            }
        }
    }

    /// The requests a `waitall`/`waitany` names: (index, table slot) of
    /// each non-null handle, in order.
    ///
    /// # Errors
    /// `EFAULT` (the array is not the caller's memory), `EBADRQC` (a handle
    /// is not a live request of the caller), `EINVAL` with `r1` = the index
    /// of the second naming of a request named twice (erroneous in MPI:
    /// completing the first naming frees the request, and the second then
    /// names nothing, so the wait could never end). Nothing changes.
    pub(super) fn wait_slots(
        &self,
        pid: Pid,
        handles: UserAddr,
        count: u64,
        mem: &impl UserMemory,
    ) -> Result<WaitSlots, RetRegs> {
        let mut slots = WaitSlots::new();
        for i in 0..count.min(MAX_WAIT_COUNT) {
            let h = read_word(mem, pid, handles + 8 * i).map_err(errno_regs)?;
            if h == 0 {
                continue;
            }
            let slot = self.lookup(pid, h).map_err(errno_regs)?;
            if slots.iter().any(|&(_, s)| s == slot) {
                return Err([Errno::EINVAL.number(), i, 0, 0]);
            }
            let _ = slots.push((i, slot));
        }
        Ok(slots)
    }

    /// The result of a `waitall`/`waitany` whose requests are done (they are
    /// freed and their handles nulled), or `None` while it must wait.
    pub(super) fn try_finish_wait(
        &mut self,
        pid: Pid,
        handles: UserAddr,
        count: u64,
        any: bool,
        mem: &mut impl UserMemory,
    ) -> Option<RetRegs> {
        // The call checked its handles before it waited; only the caller's
        // own receive writing over the array can spoil them since, and
        // then the wait ends with the error rather than waiting on nothing.
        let slots = match self.wait_slots(pid, handles, count, mem) {
            Ok(slots) => slots,
            Err(regs) => return Some(regs),
        };
        if slots.is_empty() {
            // Every handle null: the empty status (MPI-3.1 §3.7.3), and
            // `MPI_UNDEFINED` as `waitany`'s index.
            let value = if any { u64::MAX } else { count };
            return Some(MpiStatus::EMPTY.to_regs(value));
        }
        if any {
            let &(i, slot) = slots
                .iter()
                .find(|(_, s)| self.request(*s).is_some_and(|r| r.done.is_some()))?;
            let regs = self.request(slot)?.done?;
            self.free_request(slot);
            let _ = write_word(mem, pid, handles + 8 * i, 0);
            // The index even when the request failed (a truncated
            // receive): it is freed, and the caller must know which.
            return Some([regs[0], i, regs[2], regs[3]]);
        }
        // Every result first, so that nothing is freed unless all are done.
        let mut results: Vec<RetRegs, { MAX_WAIT_COUNT as usize }> = Vec::new();
        for &(_, slot) in &slots {
            let _ = results.push(self.request(slot)?.done?);
        }
        let mut result = MpiStatus::default().to_regs(count);
        let mut failed = None;
        for (&(i, slot), &regs) in slots.iter().zip(&results) {
            self.free_request(slot);
            let _ = write_word(mem, pid, handles + 8 * i, 0);
            if regs[0] != 0 && failed.is_none() {
                failed = Some(regs);
            }
            result = [0, count, regs[2], regs[3]];
        }
        Some(failed.unwrap_or(result))
    }

    /// What a `wait*` call waits for: the first of its requests not done.
    pub(super) fn wait_reason(
        &self,
        pid: Pid,
        call: MpiCall,
        pending: Pending,
        mem: &mut impl UserMemory,
    ) -> Option<BlockReason> {
        let Pending::Mpi(MpiBlock::Wait { handles, count, .. }) = pending else {
            return None;
        };
        for i in 0..u64::from(count) {
            let h = read_word(mem, pid, handles + 8 * i).ok()?;
            if h == 0 {
                continue;
            }
            let slot = self.lookup(pid, h).ok()?;
            let r = self.request(slot)?;
            if r.done.is_none() {
                return Some(BlockReason::Mpi {
                    call,
                    request: Some(r.kind()),
                    peer: r.peer(),
                    tag: r.tag(),
                });
            }
        }
        None
    }

    pub(super) fn detach_reason(&self, pid: Pid) -> BlockReason {
        let first = self
            .buffered_of(pid)
            .map(|(_, r)| *r)
            .min_by_key(|r| match r.op {
                RequestOp::Send { seq, .. } => seq,
                RequestOp::Recv { seq, .. } => seq,
            });
        BlockReason::Mpi {
            call: MpiCall::BufferDetach,
            request: Some(RequestKind::Send(SendMode::Buffered)),
            peer: first.map_or(Source::Any, |r| r.peer()),
            tag: first.map_or(TagFilter::Any, |r| r.tag()),
        }
    }
}
