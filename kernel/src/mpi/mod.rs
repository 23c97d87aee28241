//! MPI-style point-to-point: communicators and ranks, the four send modes, non-blocking requests, probe, matched by (source, tag, communicator).
//!
//! Chapter: `docs/mpi.md`. The model, in short:
//!
//! - A **communicator** is a list of pids; a rank is a position in it. The
//!   embedder creates them ([`Kernel::create_communicator`]); the first is
//!   `COMM_WORLD` ([`CommId::WORLD`]). Every MPI message carries its
//!   communicator as its context; plain `send`/`recv`/mailbox messages have
//!   context 0 and live in the other pool, so the two never match.
//! - Every MPI operation is a **request** in one bounded table: a send
//!   (`mpi_send`, `isend`, a buffered message) or a posted receive
//!   (`mpi_recv`, `irecv`). A blocking call is "start a request, then wait
//!   for it" (its request is internal: no handle, freed when the call
//!   returns).
//! - A **send** first looks for a posted receive that matches (oldest
//!   posting first) and copies user to user; otherwise a standard send that
//!   fits the eager limit and finds a slot (within the receiver quota) is
//!   copied into a kernel slot and completes; otherwise it stays pending
//!   (rendezvous) until a receive matches it. `ssend` never goes eager,
//!   `bsend` copies into the attached buffer and the copy travels as a
//!   pending send that the process no longer waits for, `rsend` is
//!   `ENORECV` unless a receive is posted.
//! - A **receive** takes the oldest matching candidate in arrival order,
//!   whether it sits in a slot or in a pending send request (one arrival
//!   counter for both: non-overtaking per pair), or else stays posted.
//! - A process **waiting** (blocking call, `waitall`, `waitany`, `probe`,
//!   `buffer_detach`) is re-examined after every MPI state change
//!   ([`Kernel::mpi_progress`]); its [`BlockReason::Mpi`] names the partner
//!   of the first request it still waits for, which gives the wait-for graph
//!   its edge.
//!
//! The code, one concept per file: the request table (`requests`), sends
//! (`send`), receives and matching (`recv`), waiting and progress
//! (`wait`), a process's exit (`terminate`) and the call dispatcher
//! (`calls`). This file holds the types, the state and the queries; the
//! unit tests are in `tests`.
//!
//! # Invariants (checked by `check_invariants`)
//! - an internal request's owner is blocked on it; a user request's owner
//!   is alive; no process holds more than [`MAX_REQUESTS_PER_PROCESS`];
//! - no posted receive matches a queued message or a pending send;
//! - buffered messages lie inside their owner's attached buffer, apart.
//!
//! [`BlockReason::Mpi`]: crate::BlockReason::Mpi

mod calls;
mod recv;
mod requests;
mod send;
mod terminate;
#[cfg(test)]
mod tests;
mod wait;

use heapless::Vec;
use ipclab_syscalls::{
    CommId, Errno, MpiStatus, Pid, RankFilter, RequestHandle, RetRegs, SendMode, Source, Tag,
    TagFilter, UserAddr,
};

use crate::config::{
    MAX_ATTACHED, MAX_COMMS, MAX_COMM_SIZE, MAX_EAGER_LIMIT, MAX_REQUESTS,
    MAX_REQUESTS_PER_PROCESS, MAX_SLOTS,
};
use crate::{Kernel, Policy, UserMemory};

/// The most handles one `waitall`/`waitany` may name.
pub const MAX_WAIT_COUNT: u64 = MAX_REQUESTS_PER_PROCESS as u64;

/// What a request does: a send in some mode, or a receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// A send in this mode.
    Send(SendMode),
    /// A posted receive.
    Recv,
}

/// The MPI call a process is blocked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MpiCall {
    /// `mpi_send` in this mode.
    Send(SendMode),
    /// `mpi_recv`.
    Recv,
    /// `waitall` on one request (`MPI_Wait`).
    Wait,
    /// `waitall` on several.
    Waitall,
    /// `waitany`.
    Waitany,
    /// `probe`.
    Probe,
    /// `buffer_detach`: waits for the buffered messages to be delivered.
    BufferDetach,
}

/// A communicator: its members, rank = position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Communicator {
    /// The pid of each rank.
    pub members: Vec<Pid, MAX_COMM_SIZE>,
}

/// Who frees a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Holder {
    /// The process, through its handle (`wait`/`test`).
    User,
    /// A blocking call of the owner, when it returns.
    Internal,
    /// Nobody waits: a buffered message, freed when delivered.
    Buffered,
}

/// The operation of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestOp {
    /// A send of `len` bytes at `buf` (for a buffered message: inside the
    /// attached buffer) to `to`; `seq` is its place in arrival order.
    Send {
        mode: SendMode,
        to: Pid,
        buf: UserAddr,
        len: u64,
        tag: Tag,
        seq: u64,
    },
    /// A receive into `buf` (capacity `cap`); `seq` is its posting order.
    Recv {
        from: Source,
        tag: TagFilter,
        buf: UserAddr,
        cap: u64,
        seq: u64,
    },
}

/// One entry of the request table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// The process that started it.
    pub owner: Pid,
    /// Its communicator.
    pub comm: CommId,
    /// What it does.
    pub op: RequestOp,
    /// Who frees it.
    pub holder: Holder,
    /// Its result once complete (MPI status registers), until freed.
    pub done: Option<RetRegs>,
}

impl Request {
    /// Send or receive.
    pub fn kind(&self) -> RequestKind {
        match self.op {
            RequestOp::Send { mode, .. } => RequestKind::Send(mode),
            RequestOp::Recv { .. } => RequestKind::Recv,
        }
    }

    /// The partner it waits for: the destination of a send, the source of a
    /// receive (`Any` for `MPI_ANY_SOURCE`).
    pub fn peer(&self) -> Source {
        match self.op {
            RequestOp::Send { to, .. } => Source::Pid(to),
            RequestOp::Recv { from, .. } => from,
        }
    }

    /// The tag it sends, or the tags it accepts.
    pub fn tag(&self) -> TagFilter {
        match self.op {
            RequestOp::Send { tag, .. } => TagFilter::Tag(tag),
            RequestOp::Recv { tag, .. } => tag,
        }
    }

    fn is_pending_send(&self) -> bool {
        self.done.is_none() && matches!(self.op, RequestOp::Send { .. })
    }

    fn is_posted_recv(&self) -> bool {
        self.done.is_none() && matches!(self.op, RequestOp::Recv { .. })
    }
}

/// A slot of the request table: the generation survives the request, so a
/// stale handle is refused (`EBADRQC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestSlot {
    /// 1 to 255; the next request in this slot takes the next one.
    pub generation: u8,
    /// The live request, if any.
    pub request: Option<Request>,
}

/// An eager MPI message in a kernel slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MpiMessage {
    /// Its id and place in arrival order.
    pub id: u64,
    pub from: Pid,
    pub to: Pid,
    pub comm: CommId,
    pub tag: Tag,
    pub data: Vec<u8, MAX_EAGER_LIMIT>,
}

/// A buffer a process attached for `bsend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attached {
    pub pid: Pid,
    pub addr: UserAddr,
    pub size: u64,
}

/// What the kernel owns in a process's memory right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OwnedKind {
    /// The buffer of a send request not yet freed: the process must not write it.
    SendBuffer,
    /// The buffer of a receive request not yet freed: the process must not read or write it.
    RecvBuffer,
    /// The attached `bsend` buffer: the process must not touch it.
    Attached,
}

/// A range of a process's memory the kernel owns (see [`Kernel::owned_buffers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OwnedBuffer {
    /// The request that owns it (`NULL` for the attached buffer).
    pub request: RequestHandle,
    pub addr: UserAddr,
    pub len: u64,
    pub kind: OwnedKind,
}

/// The MPI part of the kernel state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MpiState {
    pub(crate) comms: Vec<Communicator, MAX_COMMS>,
    pub(crate) requests: Vec<RequestSlot, MAX_REQUESTS>,
    pub(crate) messages: Vec<MpiMessage, MAX_SLOTS>,
    pub(crate) attached: Vec<Attached, MAX_ATTACHED>,
}

/// What a process blocked in an MPI call waits for (its `Pending`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum MpiBlock {
    /// A blocking `mpi_send`/`mpi_recv`: its internal request.
    Request { slot: u16 },
    /// `waitall` (`any` false) or `waitany` over the handles at `handles`.
    Wait {
        handles: UserAddr,
        count: u16,
        any: bool,
    },
    /// `probe`.
    Probe {
        comm: CommId,
        from: Source,
        tag: TagFilter,
    },
    /// `buffer_detach`.
    Detach,
}

impl Kernel {
    // ---- embedder interface ----

    /// Creates a communicator whose rank `r` is `members[r]` (the embedder's
    /// call, at boot: the first is `COMM_WORLD`).
    ///
    /// # Errors
    /// `ENOSPC` (table full), `EINVAL` (empty, more than
    /// [`MAX_COMM_SIZE`] members, or a pid twice), `ESRCH` (a stale pid).
    pub fn create_communicator(&mut self, members: &[Pid]) -> Result<CommId, Errno> {
        if members.is_empty() || members.len() > MAX_COMM_SIZE {
            return Err(Errno::EINVAL);
        }
        let mut list = Vec::new();
        for (i, &pid) in members.iter().enumerate() {
            self.pcb_ref(pid)?;
            if members[..i].contains(&pid) {
                return Err(Errno::EINVAL);
            }
            let _ = list.push(pid);
        }
        self.mpi
            .comms
            .push(Communicator { members: list })
            .map_err(|_| Errno::ENOSPC)?;
        Ok(CommId(self.mpi.comms.len() as u16))
    }

    /// The members of communicator `comm`, by rank.
    pub fn communicator(&self, comm: CommId) -> Option<&[Pid]> {
        self.comm(comm).map(|c| &c.members[..])
    }

    /// The rank of `pid` in `comm`.
    pub fn rank_of(&self, comm: CommId, pid: Pid) -> Option<u32> {
        self.comm(comm)?
            .members
            .iter()
            .position(|&p| p == pid)
            .map(|r| r as u32)
    }

    /// Every live request with its handle.
    pub fn requests(&self) -> impl Iterator<Item = (RequestHandle, &Request)> {
        self.mpi.requests.iter().enumerate().filter_map(|(i, s)| {
            s.request
                .as_ref()
                .map(|r| (RequestHandle::new(i as u16, s.generation), r))
        })
    }

    /// Eager MPI messages waiting in kernel slots, in arrival order.
    pub fn mpi_messages(&self) -> &[MpiMessage] {
        &self.mpi.messages
    }

    /// The buffer `pid` attached for `bsend`, if any.
    pub fn attached_buffer(&self, pid: Pid) -> Option<Attached> {
        self.mpi.attached.iter().copied().find(|a| a.pid == pid)
    }

    /// The ranges of `pid`'s memory the kernel owns now: the buffers of its
    /// requests not yet freed and its attached buffer. A process that
    /// touches one races with the kernel (`docs/mpi.md`, "Buffer races").
    ///
    /// A user request owns its buffer until `wait` or a successful `test`
    /// frees it, even once complete: MPI says so, and it keeps the rule
    /// independent of the schedule (an eager send completes at once, a
    /// rendezvous one later; touching either buffer before the wait is the
    /// same mistake). A buffered message owns its copy inside the attached
    /// buffer, not the process's buffer.
    pub fn owned_buffers(&self, pid: Pid) -> impl Iterator<Item = OwnedBuffer> + '_ {
        let requests = self.requests().filter_map(move |(handle, r)| {
            let owns = match r.holder {
                Holder::User => true,
                Holder::Internal => r.done.is_none(),
                Holder::Buffered => false,
            };
            if r.owner != pid || !owns {
                return None;
            }
            Some(match r.op {
                RequestOp::Send { buf, len, .. } => OwnedBuffer {
                    request: handle,
                    addr: buf,
                    len,
                    kind: OwnedKind::SendBuffer,
                },
                RequestOp::Recv { buf, cap, .. } => OwnedBuffer {
                    request: handle,
                    addr: buf,
                    len: cap,
                    kind: OwnedKind::RecvBuffer,
                },
            })
        });
        let attached = self.attached_buffer(pid).map(|a| OwnedBuffer {
            request: RequestHandle::NULL,
            addr: a.addr,
            len: a.size,
            kind: OwnedKind::Attached,
        });
        requests.chain(attached)
    }

    // ---- lookups ----

    fn comm(&self, comm: CommId) -> Option<&Communicator> {
        self.mpi.comms.get((comm.0 as usize).checked_sub(1)?)
    }

    fn member(&self, comm: CommId, rank: u32) -> Result<Pid, Errno> {
        self.comm(comm)
            .and_then(|c| c.members.get(rank as usize).copied())
            .ok_or(Errno::EINVAL)
    }

    fn source_of(&self, comm: CommId, filter: RankFilter) -> Result<Source, Errno> {
        match filter {
            RankFilter::Any => Ok(Source::Any),
            RankFilter::Rank(r) => self.member(comm, r).map(Source::Pid),
        }
    }

    fn status(&self, comm: CommId, from: Pid, tag: Tag, len: u64) -> MpiStatus {
        MpiStatus {
            source: self.rank_of(comm, from).unwrap_or(u32::MAX),
            tag,
            len,
        }
    }

    fn is_dead_under_notify(&self, peer: Source) -> bool {
        match peer {
            Source::Pid(p) => {
                self.config.policy == Policy::Notify
                    && self.process(p).is_none_or(|p| p.is_exited())
            }
            Source::Any => false,
        }
    }

    /// Buffered (`bsend`) messages not yet delivered: accepted, held in
    /// attached buffers.
    pub(crate) fn mpi_buffered_count(&self) -> usize {
        self.requests()
            .filter(|(_, r)| r.holder == Holder::Buffered)
            .count()
    }
}

fn value_regs(value: u64) -> RetRegs {
    [0, value, 0, 0]
}

fn errno_regs(errno: Errno) -> RetRegs {
    [errno.number(), 0, 0, 0]
}

fn read_word(mem: &impl UserMemory, pid: Pid, addr: u64) -> Result<u64, Errno> {
    let mut bytes = [0u8; 8];
    mem.read(pid, addr, &mut bytes).map_err(|_| Errno::EFAULT)?;
    Ok(u64::from_le_bytes(bytes))
}

fn write_word(mem: &mut impl UserMemory, pid: Pid, addr: u64, value: u64) -> Result<(), Errno> {
    mem.write(pid, addr, &value.to_le_bytes())
        .map_err(|_| Errno::EFAULT)
}
