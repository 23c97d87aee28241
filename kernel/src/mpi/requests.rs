//! The request table: a request is put in a slot, named by a handle, completed, then freed.
//!
//! Every MPI operation lives in one bounded table of [`RequestSlot`]s. A
//! handle is the slot and its generation; the generation survives the
//! request, so a stale handle is refused (`EBADRQC`). A process holds at
//! most [`MAX_REQUESTS_PER_PROCESS`] requests; a buffered message does not
//! count, since nobody holds it. A request is first completed (its result
//! is kept in `done`) and freed later: a user request by `wait` or `test`,
//! an internal one when its blocking call returns, a buffered message at
//! once (and an exit frees the dead process's requests outright).

use ipclab_syscalls::{Errno, Pid, RequestHandle, RetRegs};

use super::{Holder, Request, RequestSlot};
use crate::config::MAX_REQUESTS_PER_PROCESS;
use crate::Kernel;

impl Kernel {
    pub(super) fn request(&self, slot: usize) -> Option<&Request> {
        self.mpi.requests.get(slot).and_then(|s| s.request.as_ref())
    }

    fn request_mut(&mut self, slot: usize) -> Option<&mut Request> {
        self.mpi
            .requests
            .get_mut(slot)
            .and_then(|s| s.request.as_mut())
    }

    /// The slot of the caller's live user request named by `handle`.
    pub(super) fn lookup(&self, caller: Pid, handle: u64) -> Result<usize, Errno> {
        let handle = RequestHandle(handle);
        let slot = handle.slot() as usize;
        match self.mpi.requests.get(slot) {
            Some(RequestSlot {
                generation,
                request: Some(r),
            }) if u64::from(*generation) == handle.generation()
                && r.owner == caller
                && r.holder == Holder::User =>
            {
                Ok(slot)
            }
            _ => Err(Errno::EBADRQC),
        }
    }

    fn requests_held_by(&self, pid: Pid) -> usize {
        self.requests()
            .filter(|(_, r)| r.owner == pid && r.holder != Holder::Buffered)
            .count()
    }

    /// Why a request of `owner` held by `holder` cannot be put in the
    /// table now, if it cannot: the owner holds its most (`EMFILE`), or the
    /// table is full (`ENOSPC`). Asked before a call changes anything.
    pub(super) fn cannot_insert(&self, owner: Pid, holder: Holder) -> Option<Errno> {
        if holder != Holder::Buffered && self.requests_held_by(owner) >= MAX_REQUESTS_PER_PROCESS {
            return Some(Errno::EMFILE);
        }
        let free = self.mpi.requests.iter().any(|s| s.request.is_none());
        if !free && self.mpi.requests.is_full() {
            return Some(Errno::ENOSPC);
        }
        None
    }

    /// Puts `request` in a free slot; returns the slot. Callers have asked
    /// [`Kernel::cannot_insert`] first (before the call changed anything).
    pub(super) fn insert_request(&mut self, request: Request) -> Result<usize, Errno> {
        debug_assert_eq!(self.cannot_insert(request.owner, request.holder), None);
        if let Some(slot) = self.mpi.requests.iter().position(|s| s.request.is_none()) {
            let entry = &mut self.mpi.requests[slot];
            // Only a request the user gets a handle to takes a new
            // generation. An internal or buffered one is never named by a
            // handle ([`Kernel::lookup`] refuses any handle to it), so a
            // stale handle stays stale without one; and a blocking send
            // in a loop does not make every round a new kernel state for
            // the checker (255 generations of the same slot).
            if request.holder == Holder::User {
                entry.generation = match entry.generation.wrapping_add(1) {
                    0 => 1,
                    g => g,
                };
            }
            entry.request = Some(request);
            return Ok(slot);
        }
        self.mpi
            .requests
            .push(RequestSlot {
                generation: 1,
                request: Some(request),
            })
            .map_err(|_| Errno::ENOSPC)?;
        Ok(self.mpi.requests.len() - 1)
    }

    pub(super) fn handle_of(&self, slot: usize) -> RequestHandle {
        RequestHandle::new(slot as u16, self.mpi.requests[slot].generation)
    }

    pub(super) fn free_request(&mut self, slot: usize) {
        if let Some(s) = self.mpi.requests.get_mut(slot) {
            s.request = None;
        }
    }

    /// Marks a request complete with `regs`; a buffered message is freed at once.
    pub(super) fn finish_request(&mut self, slot: usize, regs: RetRegs) {
        let buffered = self.request(slot).map(|r| r.holder) == Some(Holder::Buffered);
        if buffered {
            self.free_request(slot);
        } else if let Some(r) = self.request_mut(slot) {
            r.done = Some(regs);
        }
    }

    /// The caller's buffered messages not yet delivered.
    pub(super) fn buffered_of(&self, pid: Pid) -> impl Iterator<Item = (RequestHandle, &Request)> {
        self.requests()
            .filter(move |(_, r)| r.owner == pid && r.holder == Holder::Buffered)
    }
}
