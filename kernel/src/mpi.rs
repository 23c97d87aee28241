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
//! # Invariants (checked by `check_invariants`)
//! - an internal request's owner is blocked on it; a user request's owner
//!   is alive; no process holds more than [`MAX_REQUESTS_PER_PROCESS`];
//! - no posted receive matches a queued message or a pending send;
//! - buffered messages lie inside their owner's attached buffer, apart.

use heapless::Vec;
use ipclab_syscalls::{
    CommId, Errno, MpiStatus, Pid, RankFilter, RequestHandle, RetRegs, SendMode, Source, Syscall,
    Tag, TagFilter, UserAddr,
};

use crate::config::{
    MAX_ATTACHED, MAX_COMMS, MAX_COMM_SIZE, MAX_EAGER_LIMIT, MAX_PROCS, MAX_REQUESTS,
    MAX_REQUESTS_PER_PROCESS, MAX_SLOTS,
};
use crate::process::Pending;
use crate::trace::{CopyEnd, UndeliverableReason};
use crate::umem::{copy_user_to_user, in_bounds};
use crate::{
    BlockReason, Dest, Event, Kernel, Policy, ProcessState, TraceSink, TrapOutcome, UserMemory,
};

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

/// The oldest candidate a receive could take.
#[derive(Clone, Copy)]
enum Candidate {
    /// An eager message, at this index of `messages`.
    Slot(usize),
    /// A pending send request, in this table slot.
    Sender(usize),
}

fn value_regs(value: u64) -> RetRegs {
    [0, value, 0, 0]
}

fn errno_regs(errno: Errno) -> RetRegs {
    [errno.number(), 0, 0, 0]
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

    fn request(&self, slot: usize) -> Option<&Request> {
        self.mpi.requests.get(slot).and_then(|s| s.request.as_ref())
    }

    fn request_mut(&mut self, slot: usize) -> Option<&mut Request> {
        self.mpi
            .requests
            .get_mut(slot)
            .and_then(|s| s.request.as_mut())
    }

    /// The slot of the caller's live user request named by `handle`.
    fn lookup(&self, caller: Pid, handle: u64) -> Result<usize, Errno> {
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

    /// Puts `request` in a free slot; returns the slot.
    fn insert_request(&mut self, request: Request) -> Result<usize, Errno> {
        if request.holder != Holder::Buffered
            && self.requests_held_by(request.owner) >= MAX_REQUESTS_PER_PROCESS
        {
            return Err(Errno::EMFILE);
        }
        if let Some(slot) = self.mpi.requests.iter().position(|s| s.request.is_none()) {
            let entry = &mut self.mpi.requests[slot];
            entry.generation = match entry.generation.wrapping_add(1) {
                0 => 1,
                g => g,
            };
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

    fn handle_of(&self, slot: usize) -> RequestHandle {
        RequestHandle::new(slot as u16, self.mpi.requests[slot].generation)
    }

    fn free_request(&mut self, slot: usize) {
        if let Some(s) = self.mpi.requests.get_mut(slot) {
            s.request = None;
        }
    }

    /// Marks a request complete with `regs`; a buffered message is freed at once.
    fn finish_request(&mut self, slot: usize, regs: RetRegs) {
        let buffered = self.request(slot).map(|r| r.holder) == Some(Holder::Buffered);
        if buffered {
            self.free_request(slot);
        } else if let Some(r) = self.request_mut(slot) {
            r.done = Some(regs);
        }
    }

    // ---- the calls ----

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
                let slot =
                    self.start_send(caller, comm, mode, to, buf, len, tag, holder, mem, sink)?;
                match slot {
                    // A buffered send completes at once: `MPI_Ibsend` gives `MPI_REQUEST_NULL`.
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
                for i in 0..count {
                    let h = read_word(mem, caller, handles + 8 * i).map_err(e)?;
                    if h != 0 {
                        self.lookup(caller, h).map_err(e)?;
                    }
                }
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
                    return done(MpiStatus::default().to_regs(1));
                }
                let slot = self.lookup(caller, h).map_err(e)?;
                match self.request(slot).and_then(|r| r.done) {
                    None => done(value_regs(0)),
                    Some(regs) => {
                        self.free_request(slot);
                        let _ = write_word(mem, caller, handle, 0);
                        if regs[0] != 0 {
                            return Err(regs);
                        }
                        done([0, 1, regs[2], regs[3]])
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

    fn is_dead_under_notify(&self, peer: Source) -> bool {
        match peer {
            Source::Pid(p) => {
                self.config.policy == Policy::Notify
                    && self.process(p).is_none_or(|p| p.is_exited())
            }
            Source::Any => false,
        }
    }

    /// Starts a send; `None` when it completed without a request the caller
    /// waits for (a buffered send).
    #[allow(clippy::too_many_arguments)]
    fn start_send(
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
        let (buf, holder) = if mode == SendMode::Buffered {
            (
                self.copy_to_attached(caller, buf, len, mem, sink)?,
                Holder::Buffered,
            )
        } else {
            (buf, holder)
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
        let slot = self.insert_request(request).map_err(e)?;
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
        let no_room = |available: u64| [Errno::ENOBUFS.number(), len, available, 0];
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

    /// The caller's buffered messages not yet delivered.
    fn buffered_of(&self, pid: Pid) -> impl Iterator<Item = (RequestHandle, &Request)> {
        self.requests()
            .filter(move |(_, r)| r.owner == pid && r.holder == Holder::Buffered)
    }

    #[allow(clippy::too_many_arguments)]
    fn start_recv(
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
        if let Some(c) = self.oldest_candidate(caller, comm, from, tag) {
            let status = self.candidate_status(comm, c);
            if status.len > cap {
                // Nothing changes: the message stays first in line.
                return Err(status.error_regs(Errno::EMSGSIZE));
            }
        } else if self.is_dead_under_notify(from) {
            return Err(e(Errno::EDEADPEER));
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
        let slot = self.insert_request(request).map_err(e)?;
        if let Some(c) = self.oldest_candidate(caller, comm, from, tag) {
            self.deliver(c, slot, mem, sink);
        }
        Ok(slot)
    }

    /// A blocking call waits for its internal request (or returns at once
    /// when it has already completed).
    fn wait_internal(
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

    fn mpi_block(
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

    // ---- matching ----

    /// The oldest posted receive of `to` in `comm` that accepts a message
    /// from `from` with `tag`.
    fn oldest_posted_recv(&self, from: Pid, comm: CommId, to: Pid, tag: Tag) -> Option<usize> {
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
    fn oldest_candidate(
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

    fn candidate_status(&self, comm: CommId, candidate: Candidate) -> MpiStatus {
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

    /// A new send request (in `slot`) meets the posted receives: the oldest
    /// matching one takes it directly; otherwise a standard send that fits
    /// goes eager. A posted receive too small for it completes with
    /// `EMSGSIZE` and the next one is tried.
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
        loop {
            if dead {
                break;
            }
            let Some(recv) = self.oldest_posted_recv(request.owner, request.comm, to, tag) else {
                break;
            };
            let cap = match self.request(recv).map(|r| r.op) {
                Some(RequestOp::Recv { cap, .. }) => cap,
                _ => 0,
            };
            if len > cap {
                let status = self.status(request.comm, request.owner, tag, len);
                self.finish_request(recv, status.error_regs(Errno::EMSGSIZE));
                continue;
            }
            self.deliver(Candidate::Sender(slot), recv, mem, sink);
            return;
        }
        if mode == SendMode::Standard && self.can_buffer_mpi(to, len) {
            self.send_eager(slot, mem, sink);
        }
    }

    /// Can an MPI message of `len` bytes to `to` go into a slot now? The
    /// pool's slots are shared with the plain calls.
    fn can_buffer_mpi(&self, to: Pid, len: u64) -> bool {
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

    /// Delivers `candidate` into the posted receive `recv` and completes both.
    fn deliver(
        &mut self,
        candidate: Candidate,
        recv: usize,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) {
        let Some(Request {
            owner: receiver,
            comm,
            op: RequestOp::Recv { buf, .. },
            ..
        }) = self.request(recv).copied()
        else {
            return;
        };
        let (from, tag, len, id, direct) = match candidate {
            Candidate::Slot(i) => {
                let m = self.mpi.messages.remove(i);
                let len = m.data.len() as u64;
                if mem.write(receiver, buf, &m.data).is_err() {
                    self.finish_request(recv, errno_regs(Errno::EFAULT));
                    return;
                }
                self.stats.copies_to_user += 1;
                self.stats.bytes_copied += len;
                sink.event(
                    self.now,
                    &Event::Copy {
                        from: CopyEnd::Kernel { message: m.id },
                        to: CopyEnd::User {
                            pid: receiver,
                            addr: buf,
                        },
                        bytes: len,
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
                if let Err(errno) = copy_user_to_user(mem, owner, from_buf, receiver, buf, len) {
                    self.finish_request(recv, errno_regs(errno));
                    return;
                }
                self.count_copy_user_to_user(owner, from_buf, receiver, buf, len, sink);
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
        self.finish_request(recv, status.to_regs(1));
    }

    // ---- waiting ----

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

    /// The result of a `waitall`/`waitany` whose requests are done (they are
    /// freed and their handles nulled), or `None` while it must wait.
    fn try_finish_wait(
        &mut self,
        pid: Pid,
        handles: UserAddr,
        count: u64,
        any: bool,
        mem: &mut impl UserMemory,
    ) -> Option<RetRegs> {
        let mut slots: Vec<(u64, usize), { MAX_WAIT_COUNT as usize }> = Vec::new();
        for i in 0..count {
            let h = read_word(mem, pid, handles + 8 * i).ok()?;
            if h == 0 {
                continue;
            }
            let slot = self.lookup(pid, h).ok()?;
            let _ = slots.push((i, slot));
        }
        if slots.is_empty() {
            let value = if any { u64::MAX } else { count };
            return Some(MpiStatus::default().to_regs(value));
        }
        if any {
            let &(i, slot) = slots
                .iter()
                .find(|(_, s)| self.request(*s).is_some_and(|r| r.done.is_some()))?;
            let regs = self.request(slot)?.done?;
            self.free_request(slot);
            let _ = write_word(mem, pid, handles + 8 * i, 0);
            return Some(if regs[0] == 0 {
                [0, i, regs[2], regs[3]]
            } else {
                regs
            });
        }
        if !slots
            .iter()
            .all(|(_, s)| self.request(*s).is_some_and(|r| r.done.is_some()))
        {
            return None;
        }
        let mut result = MpiStatus::default().to_regs(count);
        let mut failed = None;
        for &(i, slot) in &slots {
            let regs = self.request(slot)?.done?;
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
    fn wait_reason(
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

    fn detach_reason(&self, pid: Pid) -> BlockReason {
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

    // ---- termination ----

    /// Settles the MPI state when `dead` terminates (called by `terminate`):
    /// its requests are cancelled (a pending send's message was never
    /// accepted: traced, not lost), its buffered messages stay deliverable,
    /// eager messages for it are reported undeliverable; under `notify`,
    /// requests of others that name it complete with `EDEADPEER`.
    pub(crate) fn mpi_terminate(
        &mut self,
        dead: Pid,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) {
        let now = self.now;
        for slot in 0..self.mpi.requests.len() {
            let Some(r) = self.request(slot).copied() else {
                continue;
            };
            if r.owner == dead && r.holder != Holder::Buffered {
                if let (None, RequestOp::Send { seq, to, .. }) = (r.done, r.op) {
                    sink.event(
                        now,
                        &Event::Undeliverable {
                            message: seq,
                            from: dead,
                            dest: Dest::Process(to),
                            reason: UndeliverableReason::SendCancelled,
                        },
                    );
                }
                self.free_request(slot);
            }
        }
        let mut index = 0;
        while index < self.mpi.messages.len() {
            if self.mpi.messages[index].to == dead {
                let m = self.mpi.messages.remove(index);
                self.stats.undeliverable += 1;
                sink.event(
                    now,
                    &Event::Undeliverable {
                        message: m.id,
                        from: m.from,
                        dest: Dest::Process(dead),
                        reason: UndeliverableReason::ReceiverExited,
                    },
                );
            } else {
                index += 1;
            }
        }
        if self.config.policy == Policy::Notify {
            for slot in 0..self.mpi.requests.len() {
                let Some(r) = self.request(slot).copied() else {
                    continue;
                };
                if r.done.is_some() || r.peer() != Source::Pid(dead) {
                    continue;
                }
                if r.holder == Holder::Buffered {
                    if let RequestOp::Send { seq, .. } = r.op {
                        self.stats.undeliverable += 1;
                        sink.event(
                            now,
                            &Event::Undeliverable {
                                message: seq,
                                from: r.owner,
                                dest: Dest::Process(dead),
                                reason: UndeliverableReason::ReceiverExited,
                            },
                        );
                    }
                }
                self.finish_request(slot, errno_regs(Errno::EDEADPEER));
            }
        }
        self.mpi_progress(mem, sink);
    }
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

fn read_word(mem: &impl UserMemory, pid: Pid, addr: u64) -> Result<u64, Errno> {
    let mut bytes = [0u8; 8];
    mem.read(pid, addr, &mut bytes).map_err(|_| Errno::EFAULT)?;
    Ok(u64::from_le_bytes(bytes))
}

fn write_word(mem: &mut impl UserMemory, pid: Pid, addr: u64, value: u64) -> Result<(), Errno> {
    mem.write(pid, addr, &value.to_le_bytes())
        .map_err(|_| Errno::EFAULT)
}

impl Kernel {
    /// Buffered (`bsend`) messages not yet delivered: accepted, held in
    /// attached buffers.
    pub(crate) fn mpi_buffered_count(&self) -> usize {
        self.requests()
            .filter(|(_, r)| r.holder == Holder::Buffered)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{
        CommId, Errno, MpiStatus, Pid, RankFilter, SendMode, Source, Syscall, TagFilter, Timeout,
    };

    use crate::testing::*;
    use crate::{BlockReason, MpiCall, Policy, RequestKind, TrapOutcome};

    const W: CommId = CommId::WORLD;
    const REQ: u64 = 1024;

    fn world(ranks: usize, f: impl FnOnce(&mut crate::Config)) -> (World, std::vec::Vec<Pid>) {
        let mut w = World::with(f);
        let pids: std::vec::Vec<Pid> = (0..ranks).map(|_| w.spawn(1)).collect();
        assert_eq!(w.k.create_communicator(&pids), Ok(W));
        (w, pids)
    }

    fn send(
        w: &mut World,
        p: Pid,
        mode: SendMode,
        dest: u32,
        bytes: &[u8],
        tag: u32,
    ) -> TrapOutcome {
        w.write(p, SEND_BUF, bytes);
        w.call(
            p,
            Syscall::MpiSend {
                mode,
                buf: SEND_BUF,
                len: bytes.len() as u64,
                dest,
                tag,
                comm: W,
            },
        )
    }

    fn isend(w: &mut World, p: Pid, mode: SendMode, dest: u32, bytes: &[u8], tag: u32) -> u64 {
        w.write(p, SEND_BUF, bytes);
        ok(w.call(
            p,
            Syscall::Isend {
                mode,
                buf: SEND_BUF,
                len: bytes.len() as u64,
                dest,
                tag,
                comm: W,
            },
        ))
    }

    fn recv(w: &mut World, p: Pid, source: RankFilter, tag: TagFilter, cap: u64) -> TrapOutcome {
        w.call(
            p,
            Syscall::MpiRecv {
                buf: RECV_BUF,
                cap,
                source,
                tag,
                comm: W,
            },
        )
    }

    fn irecv(w: &mut World, p: Pid, source: RankFilter, cap: u64) -> u64 {
        ok(w.call(
            p,
            Syscall::Irecv {
                buf: RECV_BUF,
                cap,
                source,
                tag: TagFilter::Any,
                comm: W,
            },
        ))
    }

    fn wait(w: &mut World, p: Pid, handle: u64) -> TrapOutcome {
        w.write(p, REQ, &handle.to_le_bytes());
        w.call(
            p,
            Syscall::Waitall {
                handles: REQ,
                count: 1,
            },
        )
    }

    #[test]
    fn rank_and_size_come_from_the_communicator() {
        let (mut w, p) = world(3, |_| {});
        assert_eq!(ok(w.call(p[2], Syscall::CommRank { comm: W })), 2);
        assert_eq!(ok(w.call(p[0], Syscall::CommSize { comm: W })), 3);
        assert_eq!(
            failed(w.call(p[0], Syscall::CommSize { comm: CommId(2) })),
            Errno::EINVAL
        );
    }

    #[test]
    fn a_standard_send_below_the_eager_limit_completes_at_once_and_the_status_names_the_rank() {
        let (mut w, p) = world(2, |_| {});
        ok(send(&mut w, p[0], SendMode::Standard, 1, b"hi", 7));
        assert_eq!(w.k.mpi_messages().len(), 1);
        let regs = done(recv(&mut w, p[1], RankFilter::Any, TagFilter::Any, 8));
        let status = MpiStatus::from_regs(regs);
        assert_eq!((status.source, status.tag, status.len), (0, 7, 2));
        assert_eq!(w.read(p[1], RECV_BUF, 2), b"hi");
    }

    #[test]
    fn head_to_head_sends_deadlock_above_the_eager_limit_and_complete_below_it() {
        for (limit, deadlocks) in [(64, false), (4, true), (0, true)] {
            let (mut w, p) = world(2, |c| c.eager_limit = limit);
            let a = send(&mut w, p[0], SendMode::Standard, 1, &[1; 8], 0);
            let b = send(&mut w, p[1], SendMode::Standard, 0, &[2; 8], 0);
            if deadlocks {
                assert!(matches!(
                    a,
                    TrapOutcome::Blocked(BlockReason::Mpi {
                        call: MpiCall::Send(SendMode::Standard),
                        peer: Source::Pid(_),
                        ..
                    })
                ));
                blocked(b);
            } else {
                ok(a);
                ok(b);
            }
        }
    }

    #[test]
    fn a_synchronous_send_never_goes_eager_and_completes_when_the_receive_matches() {
        let (mut w, p) = world(2, |_| {});
        blocked(send(&mut w, p[0], SendMode::Synchronous, 1, b"x", 0));
        assert!(w.k.mpi_messages().is_empty());
        ok(recv(&mut w, p[1], RankFilter::Rank(0), TagFilter::Any, 8));
        assert_eq!(w.completion(p[0])[0], 0);
    }

    #[test]
    fn a_ready_send_without_a_posted_receive_is_enorecv_and_with_one_is_delivered() {
        let (mut w, p) = world(2, |_| {});
        assert_eq!(
            failed(send(&mut w, p[0], SendMode::Ready, 1, b"x", 0)),
            Errno::ENORECV
        );
        let r = irecv(&mut w, p[1], RankFilter::Rank(0), 8);
        ok(send(&mut w, p[0], SendMode::Ready, 1, b"y", 0));
        let regs = done(wait(&mut w, p[1], r));
        assert_eq!(MpiStatus::from_regs(regs).len, 1);
        assert_eq!(w.read(p[1], RECV_BUF, 1), b"y");
        assert_eq!(w.read(p[1], REQ, 8), 0u64.to_le_bytes(), "handle nulled");
    }

    #[test]
    fn a_buffered_send_needs_attached_space_and_reports_both_sizes() {
        let (mut w, p) = world(2, |c| c.eager_limit = 0);
        let regs = done(send(&mut w, p[0], SendMode::Buffered, 1, &[5; 16], 0));
        assert_eq!(errno(regs), Some(Errno::ENOBUFS));
        assert_eq!((regs[1], regs[2]), (16, 0));
        ok(w.call(
            p[0],
            Syscall::BufferAttach {
                addr: 512,
                size: 24,
            },
        ));
        ok(send(&mut w, p[0], SendMode::Buffered, 1, &[5; 16], 0));
        let regs = done(send(&mut w, p[0], SendMode::Buffered, 1, &[6; 16], 0));
        assert_eq!(
            (errno(regs), regs[1], regs[2]),
            (Some(Errno::ENOBUFS), 16, 8)
        );
        // Detach waits for the buffered message to be received.
        blocked(w.call(p[0], Syscall::BufferDetach));
        ok(recv(&mut w, p[1], RankFilter::Rank(0), TagFilter::Any, 16));
        assert_eq!(w.read(p[1], RECV_BUF, 16), [5; 16]);
        assert_eq!(w.completion(p[0]), [0, 512, 24, 0]);
    }

    #[test]
    fn an_isend_request_completes_when_matched_and_test_reports_it() {
        let (mut w, p) = world(2, |c| c.eager_limit = 0);
        let h = isend(&mut w, p[0], SendMode::Standard, 1, b"abc", 1);
        w.write(p[0], REQ, &h.to_le_bytes());
        assert_eq!(ok(w.call(p[0], Syscall::Test { handle: REQ })), 0);
        assert_eq!(w.k.owned_buffers(p[0]).count(), 1);
        ok(recv(&mut w, p[1], RankFilter::Any, TagFilter::Tag(1), 8));
        // Complete but not yet freed: the buffer is still the kernel's.
        assert_eq!(w.k.owned_buffers(p[0]).count(), 1);
        assert_eq!(ok(w.call(p[0], Syscall::Test { handle: REQ })), 1);
        assert_eq!(w.k.owned_buffers(p[0]).count(), 0);
        // The handle is null now; a stale handle is EBADRQC.
        w.write(p[0], REQ, &h.to_le_bytes());
        assert_eq!(
            failed(w.call(p[0], Syscall::Test { handle: REQ })),
            Errno::EBADRQC
        );
    }

    #[test]
    fn a_wait_on_a_pending_request_names_its_partner() {
        let (mut w, p) = world(2, |_| {});
        let h = irecv(&mut w, p[1], RankFilter::Rank(0), 8);
        assert_eq!(
            wait(&mut w, p[1], h),
            TrapOutcome::Blocked(BlockReason::Mpi {
                call: MpiCall::Wait,
                request: Some(RequestKind::Recv),
                peer: Source::Pid(p[0]),
                tag: TagFilter::Any,
            })
        );
        ok(send(&mut w, p[0], SendMode::Standard, 1, b"z", 3));
        assert_eq!(MpiStatus::from_regs(w.completion(p[1])).tag, 3);
    }

    #[test]
    fn any_source_takes_the_oldest_arrival_and_each_pair_stays_in_order() {
        let (mut w, p) = world(3, |c| c.eager_limit = 8);
        ok(send(&mut w, p[2], SendMode::Standard, 0, b"c1", 0));
        ok(send(&mut w, p[1], SendMode::Standard, 0, b"b1", 0));
        ok(send(&mut w, p[2], SendMode::Standard, 0, b"c2", 0));
        let order: std::vec::Vec<u32> = (0..3)
            .map(|_| {
                MpiStatus::from_regs(done(recv(&mut w, p[0], RankFilter::Any, TagFilter::Any, 8)))
                    .source
            })
            .collect();
        assert_eq!(order, [2, 1, 2]);
    }

    #[test]
    fn mpi_and_plain_messages_never_match_each_other() {
        let (mut w, p) = world(2, |_| {});
        ok(send(&mut w, p[0], SendMode::Standard, 1, b"m", 0));
        assert_eq!(
            failed(w.recv(p[1], Source::Any, TagFilter::Any, 8, Timeout::NonBlocking)),
            Errno::EAGAIN
        );
        ok(w.send(p[0], p[1], b"p", 0, Timeout::Never));
        let regs = done(recv(&mut w, p[1], RankFilter::Any, TagFilter::Any, 8));
        assert_eq!(w.read(p[1], RECV_BUF, 1), b"m");
        assert_eq!(MpiStatus::from_regs(regs).len, 1);
    }

    #[test]
    fn probe_blocks_until_a_message_is_there_and_iprobe_only_looks() {
        let (mut w, p) = world(2, |_| {});
        let probe = Syscall::Iprobe {
            source: RankFilter::Any,
            tag: TagFilter::Any,
            comm: W,
        };
        assert_eq!(ok(w.call(p[1], probe)), 0);
        blocked(w.call(
            p[1],
            Syscall::Probe {
                source: RankFilter::Rank(0),
                tag: TagFilter::Any,
                comm: W,
            },
        ));
        ok(send(&mut w, p[0], SendMode::Standard, 1, &[0; 24], 4));
        assert_eq!(MpiStatus::from_regs(w.completion(p[1])).len, 24);
        assert_eq!(ok(w.call(p[1], probe)), 1);
        assert_eq!(w.k.mpi_messages().len(), 1, "probing receives nothing");
    }

    #[test]
    fn exit_cancels_requests_and_notify_wakes_partners_with_edeadpeer() {
        let (mut w, p) = world(3, |c| {
            c.policy = Policy::Notify;
            c.eager_limit = 0;
        });
        isend(&mut w, p[0], SendMode::Standard, 1, b"x", 0);
        blocked(recv(&mut w, p[2], RankFilter::Rank(0), TagFilter::Any, 8));
        w.exit(p[0], 0);
        assert_eq!(w.k.requests().count(), 0);
        assert_eq!(errno(w.completion(p[2])), Some(Errno::EDEADPEER));
        assert_eq!(
            failed(recv(&mut w, p[1], RankFilter::Rank(0), TagFilter::Any, 8)),
            Errno::EDEADPEER
        );
    }

    #[test]
    fn the_mpi_state_survives_a_canonical_round_trip() {
        let (mut w, p) = world(2, |c| c.eager_limit = 2);
        ok(send(&mut w, p[0], SendMode::Standard, 1, b"a", 0));
        isend(&mut w, p[0], SendMode::Synchronous, 1, b"bb", 0);
        irecv(&mut w, p[0], RankFilter::Rank(1), 8);
        let mut bytes = std::vec::Vec::new();
        w.k.encode_canonical(&mut |b: &[u8]| bytes.extend_from_slice(b));
        let mut fresh = World::with(|c| c.eager_limit = 2);
        fresh.spawn(1);
        fresh.spawn(1);
        fresh.k.restore_canonical(&bytes).unwrap();
        fresh.check();
        let mut again = std::vec::Vec::new();
        fresh
            .k
            .encode_canonical(&mut |b: &[u8]| again.extend_from_slice(b));
        assert_eq!(again, bytes);
        // Order survives: "a" then "bb".
        ok(recv(
            &mut fresh,
            p[1],
            RankFilter::Rank(0),
            TagFilter::Any,
            8,
        ));
        assert_eq!(fresh.read(p[1], RECV_BUF, 1), b"a");
    }
}
