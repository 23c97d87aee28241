//! The request table: a request is put in a slot, named by a handle, completed, then freed.
//!
//! Every MPI operation lives in one bounded table of [`RequestSlot`]s. A
//! handle is the slot and its generation; the generation survives the
//! request, so a stale handle is refused (`EBADRQC`). A process holds at
//! most [`MAX_REQUESTS_PER_PROCESS`] user requests (those it has handles
//! to); the internal request of a blocking call does not count (a process
//! makes one blocking call at a time, so it has at most one, and a valid
//! program with 16 requests pending may still call `MPI_Recv`), nor does a
//! buffered message, since nobody holds it. A request is first completed (its result
//! is kept in `done`) and freed later: a user request by `wait` or `test`,
//! an internal one when its blocking call returns, a buffered message at
//! once (and an exit frees the dead process's requests outright).

use ipclab_syscalls::{CommId, Errno, Pid, RequestHandle, RetRegs, SendMode, Tag, UserAddr};

use super::{value_regs, Holder, Request, RequestOp, RequestSlot};
use crate::config::MAX_REQUESTS_PER_PROCESS;
use crate::{Kernel, UserMemory};

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

    /// The user requests `pid` holds (handles it may wait for).
    pub(crate) fn user_requests_of(&self, pid: Pid) -> usize {
        self.requests()
            .filter(|(_, r)| r.owner == pid && r.holder == Holder::User)
            .count()
    }

    /// Why a request of `owner` held by `holder` cannot be put in the
    /// table now, if it cannot: a user request when the owner holds its
    /// most (`EMFILE`), or the table is full (`ENOSPC`). Asked before a
    /// call changes anything.
    pub(super) fn cannot_insert(&self, owner: Pid, holder: Holder) -> Option<Errno> {
        if holder == Holder::User && self.user_requests_of(owner) >= MAX_REQUESTS_PER_PROCESS {
            return Some(Errno::EMFILE);
        }
        let free = self.mpi.requests.iter().any(|s| s.request.is_none());
        if !free && self.mpi.requests.is_full() {
            return Some(Errno::ENOSPC);
        }
        None
    }

    /// [`Kernel::cannot_insert`] for an `MPI_Ibsend`, which takes two
    /// entries: its buffered message and the user request for it.
    pub(super) fn cannot_insert_two(&self, owner: Pid) -> Option<Errno> {
        if let Some(errno) = self.cannot_insert(owner, Holder::User) {
            return Some(errno);
        }
        let table = &self.mpi.requests;
        let free = table.iter().filter(|s| s.request.is_none()).count();
        (free + (table.capacity() - table.len()) < 2).then_some(Errno::ENOSPC)
    }

    /// The user request of an `MPI_Ibsend` whose message is buffered: a
    /// send of the caller's own `buf` (the buffer the request guards),
    /// complete from the start. Its arrival number is 0: it is never
    /// matched (only a pending send is), and its message has its own.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn insert_completed_send(
        &mut self,
        owner: Pid,
        comm: CommId,
        to: Pid,
        buf: UserAddr,
        len: u64,
        tag: Tag,
        mem: &impl UserMemory,
    ) -> Result<usize, Errno> {
        let request = Request {
            owner,
            comm,
            op: RequestOp::Send {
                mode: SendMode::Buffered,
                to,
                buf,
                len,
                tag,
                seq: 0,
            },
            holder: Holder::User,
            done: Some(value_regs(0)),
        };
        self.insert_request(request, mem)
    }

    /// Puts `request` in a free slot; returns the slot. Callers have asked
    /// [`Kernel::cannot_insert`] first (before the call changed anything).
    /// `mem` is read (never written) for the new generation of a user
    /// request ([`Kernel::fresh_generation`]).
    pub(super) fn insert_request(
        &mut self,
        request: Request,
        mem: &impl UserMemory,
    ) -> Result<usize, Errno> {
        debug_assert_eq!(self.cannot_insert(request.owner, request.holder), None);
        let slot = match self.mpi.requests.iter().position(|s| s.request.is_none()) {
            Some(slot) => slot,
            None => {
                self.mpi
                    .requests
                    .push(RequestSlot {
                        generation: 0,
                        request: None,
                    })
                    .map_err(|_| Errno::ENOSPC)?;
                self.mpi.requests.len() - 1
            }
        };
        // Only a request the user gets a handle to takes a new generation.
        // An internal or buffered one is never named by a handle
        // ([`Kernel::lookup`] refuses any handle to it), so a stale handle
        // stays stale without one.
        if request.holder == Holder::User || self.mpi.requests[slot].generation == 0 {
            let generation = self.fresh_generation(slot, request.owner, mem);
            self.mpi.requests[slot].generation = generation;
        }
        self.mpi.requests[slot].request = Some(request);
        Ok(slot)
    }

    /// The generation a new user request in `slot` takes: the lowest, 1 to
    /// 255, that no word of its owner's memory holds as a handle to
    /// `slot`. A handle the owner kept (a stale copy, a request it never
    /// waited for) then stays stale, as with a counter; but a loop that
    /// starts a request and waits for it (which nulls its handle) comes
    /// back to the state it started from, so the checker sees the loop as
    /// a loop and not as 255 copies of it. A copy held elsewhere (sent to
    /// another process) is not seen. With all 255 held, the next after the
    /// slot's current one.
    fn fresh_generation(&self, slot: usize, owner: Pid, mem: &impl UserMemory) -> u8 {
        let mut held = [false; 256];
        held[0] = true;
        let size = self.pcb_ref(owner).map_or(0, |p| p.memory_size);
        let mut chunk = [0u8; 256];
        let mut addr = 0u64;
        while addr < size {
            let n = (size - addr).min(chunk.len() as u64) as usize;
            if mem.read(owner, addr, &mut chunk[..n]).is_err() {
                break;
            }
            for word in chunk[..n].chunks_exact(8) {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(word);
                let handle = RequestHandle(u64::from_le_bytes(bytes));
                if handle.slot() as usize == slot && handle.generation() <= 0xff {
                    held[handle.generation() as usize] = true;
                }
            }
            addr += n as u64;
        }
        match (1..=255u8).find(|&g| !held[g as usize]) {
            Some(g) => g,
            None => match self.mpi.requests[slot].generation.wrapping_add(1) {
                0 => 1,
                g => g,
            },
        }
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
