//! Exploration support for a model checker: a canonical encoding of the kernel state, its restoration, and firing a timer on demand.
//!
//! A checker stores millions of kernel states; the [`Kernel`] struct is
//! sized for the largest tables (hundreds of kilobytes), while a scenario's
//! live state is a few hundred bytes. [`Kernel::encode_canonical`] writes the
//! live state as a compact byte string, [`Kernel::restore_canonical`] puts it
//! back into a kernel booted for the same processes (touching only live
//! entries, so it is cheap), and [`Kernel::hash_canonical`] hashes the same
//! bytes. Chapter: `docs/checking.md`, "State and canonical form".
//!
//! # What the canonical form leaves out
//! Only what cannot change future behaviour in a world whose clock the
//! checker never advances and whose scheduler choices the checker makes:
//! - the clock (`now`), the counters (`stats`), the ready-queue order
//!   (`ready_seq`) and the quantum left;
//! - deadline values: only whether a deadline exists (a timer may fire at
//!   any moment in abstract time), and a sleep's `until`;
//! - the process names, priorities and memory sizes, and the boot
//!   configuration: fixed at boot, taken from the kernel restored into;
//! - the raw values of sequence numbers that matter only by their order:
//!   message ids and blocked senders' places in arrival order, and waiting
//!   receivers' places, are replaced by ranks taken within the queues that
//!   read them ([`crate::canonical_order`]), so neither the raw numbers nor
//!   how two queues interleaved in time makes a new state. Without this,
//!   every loop that sends a message would make a new state forever.
//!
//! The MPI state (communicators, the request table with its slot
//! generations, eager MPI messages, attached buffers) is encoded after the
//! mailboxes; MPI sequence numbers are ranked with the others of their kind
//! (sends and eager messages among arrivals, posted receives among waiting
//! receivers). Slot messages, plain and MPI, are written in rank order.
//!
//! The synchronisation objects (semaphores with their counts, mutexes with
//! their owners, condition variables, shared segments with their words)
//! come last; their waiters' places are ranked among all synchronisation
//! waiters, and a handle is encoded as its object's number (kind and slot;
//! a mailbox's number is its slot).
//!
//! # Invariants
//! Restoring an encoding into a kernel booted for the same scenario gives a
//! kernel that behaves, for every later sequence of calls, dispatches,
//! exits and [`Kernel::fire_timer`]s, as the encoded one does (up to the
//! fields above, which only traces show).

use core::hash::Hasher;

use ipclab_syscalls::{Errno, Pid, Reply, RetRegs, Source, TagFilter};

use crate::canonical_order::{Chain, Orders};
use crate::config::{MAX_HANDLES, MAX_PROCS, MAX_REQUESTS, MAX_SLOTS};
use crate::mpi::{MpiBlock, MpiMessage, RequestOp, RequestSlot};
use crate::process::Pending;
use crate::trace::TimerKind;
use crate::{Attached, Communicator, Holder, MpiCall, Request, RequestKind};
use crate::{BlockReason, Dest, Event, Kernel, Mailbox, MailboxId, ProcessState};
use crate::{CondvarId, MutexId, Object, SemaphoreId};
use crate::{HandleTable, TraceSink};
use ipclab_syscalls::{CommId, SendMode};

/// A byte string that is not a canonical encoding for this kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError;

/// Writes unsigned LEB128 varints and raw bytes to a byte consumer.
struct Writer<'a, F: FnMut(&[u8])> {
    out: &'a mut F,
}

impl<F: FnMut(&[u8])> Writer<'_, F> {
    #[inline]
    fn var(&mut self, mut v: u64) {
        if v < 0x80 {
            // Most numbers: one byte, a fixed-size piece.
            (self.out)(&[v as u8]);
            return;
        }
        let mut buf = [0u8; 10];
        let mut n = 0;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                buf[n] = byte;
                n += 1;
                break;
            }
            buf[n] = byte | 0x80;
            n += 1;
        }
        // Fixed-size pieces for the common lengths (a pid takes 3 bytes).
        match n {
            2 => (self.out)(&buf[..2]),
            3 => (self.out)(&buf[..3]),
            _ => (self.out)(&buf[..n]),
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.var(b.len() as u64);
        (self.out)(b);
    }

    fn pid(&mut self, pid: Pid) {
        self.var(pid.to_raw());
    }

    fn dest(&mut self, dest: Dest) {
        match dest {
            Dest::Process(pid) => {
                self.var(0);
                self.pid(pid);
            }
            Dest::Mailbox(m) => {
                self.var(1);
                self.var(u64::from(m.0));
            }
        }
    }

    fn source(&mut self, source: Source) {
        match source {
            Source::Any => self.var(0),
            Source::Pid(pid) => self.var(1 + pid.to_raw()),
        }
    }

    fn tag_filter(&mut self, tag: TagFilter) {
        match tag {
            TagFilter::Any => self.var(0),
            TagFilter::Tag(t) => self.var(1 + u64::from(t)),
        }
    }

    fn request_kind(&mut self, kind: RequestKind) {
        match kind {
            RequestKind::Send(mode) => self.var(mode as u64),
            RequestKind::Recv => self.var(4),
        }
    }

    fn mpi_call(&mut self, call: MpiCall) {
        self.var(match call {
            MpiCall::Send(mode) => mode as u64,
            MpiCall::Recv => 4,
            MpiCall::Wait => 5,
            MpiCall::Waitall => 6,
            MpiCall::Waitany => 7,
            MpiCall::Probe => 8,
            MpiCall::BufferDetach => 9,
        });
    }

    fn regs(&mut self, regs: Option<RetRegs>) {
        match regs {
            None => self.var(0),
            Some(regs) => {
                self.var(1);
                for r in regs {
                    self.var(r);
                }
            }
        }
    }
}

/// Reads what [`Writer`] wrote.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn var(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let (&byte, rest) = self.bytes.split_first().ok_or(DecodeError)?;
            self.bytes = rest;
            if shift >= 64 {
                return Err(DecodeError);
            }
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError)
    }

    fn small<T: TryFrom<u64>>(&mut self) -> Result<T, DecodeError> {
        T::try_from(self.var()?).map_err(|_| DecodeError)
    }

    fn bytes(&mut self) -> Result<&[u8], DecodeError> {
        let n: usize = self.small()?;
        if n > self.bytes.len() {
            return Err(DecodeError);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn pid(&mut self) -> Result<Pid, DecodeError> {
        Pid::from_raw(self.var()?).map_err(|_| DecodeError)
    }

    fn dest(&mut self) -> Result<Dest, DecodeError> {
        match self.var()? {
            0 => Ok(Dest::Process(self.pid()?)),
            1 => Ok(Dest::Mailbox(MailboxId(self.small()?))),
            _ => Err(DecodeError),
        }
    }

    fn source(&mut self) -> Result<Source, DecodeError> {
        match self.var()? {
            0 => Ok(Source::Any),
            raw => Pid::from_raw(raw - 1)
                .map(Source::Pid)
                .map_err(|_| DecodeError),
        }
    }

    fn tag_filter(&mut self) -> Result<TagFilter, DecodeError> {
        match self.var()? {
            0 => Ok(TagFilter::Any),
            raw => Ok(TagFilter::Tag(
                u32::try_from(raw - 1).map_err(|_| DecodeError)?,
            )),
        }
    }

    fn mode(&mut self) -> Result<SendMode, DecodeError> {
        SendMode::from_raw(self.var()?).map_err(|_| DecodeError)
    }

    fn request_kind(&mut self) -> Result<RequestKind, DecodeError> {
        match self.var()? {
            4 => Ok(RequestKind::Recv),
            raw => SendMode::from_raw(raw)
                .map(RequestKind::Send)
                .map_err(|_| DecodeError),
        }
    }

    fn mpi_call(&mut self) -> Result<MpiCall, DecodeError> {
        Ok(match self.var()? {
            4 => MpiCall::Recv,
            5 => MpiCall::Wait,
            6 => MpiCall::Waitall,
            7 => MpiCall::Waitany,
            8 => MpiCall::Probe,
            9 => MpiCall::BufferDetach,
            raw => MpiCall::Send(SendMode::from_raw(raw).map_err(|_| DecodeError)?),
        })
    }

    fn comm(&mut self) -> Result<CommId, DecodeError> {
        CommId::from_raw(self.var()?).map_err(|_| DecodeError)
    }

    fn regs(&mut self) -> Result<Option<RetRegs>, DecodeError> {
        match self.var()? {
            0 => Ok(None),
            _ => {
                let mut regs: RetRegs = [0; 4];
                for reg in &mut regs {
                    *reg = self.var()?;
                }
                Ok(Some(regs))
            }
        }
    }
}

/// Sorted live sequence numbers; a number's rank is its place (from 1).
struct Ranks {
    sorted: heapless::Vec<u64, { 2 * MAX_SLOTS + MAX_PROCS + MAX_REQUESTS }>,
}

impl Ranks {
    /// Empty, filled in place by the `*_ranks` functions: a table is 10 KB,
    /// and returning one by value copied it (a fifth of the checker's time).
    const fn new() -> Ranks {
        Ranks {
            sorted: heapless::Vec::new(),
        }
    }

    fn rank(&self, seq: u64) -> u64 {
        self.sorted.binary_search(&seq).map_or(0, |i| i as u64 + 1)
    }
}

/// The queue of a message or blocked sender at `dest` (a process's plain
/// messages, or a mailbox's).
fn dest_chain(dest: Dest) -> Chain {
    match dest {
        Dest::Process(pid) => Chain::new(0, pid.to_raw()),
        Dest::Mailbox(m) => Chain::new(1, u64::from(m.0)),
    }
}

/// The queue of MPI messages, sends and posted receives of `rank` (its
/// pid) in `comm`.
fn mpi_chain(pid: Pid, comm: CommId) -> Chain {
    // A pid is 48 bits, a communicator's number 8.
    Chain::new(2, (pid.to_raw() << 8) | (comm.to_raw() & 0xff))
}

/// Blocked plain senders, oldest first: a freed slot takes the oldest
/// that fits, whatever its destination.
const BLOCKED_SENDERS: Chain = Chain::new(3, 0);

/// One process's undelivered buffered messages, oldest first (what
/// `MPI_Buffer_detach` names as the one it waits for).
fn buffered_chain(owner: Pid) -> Chain {
    Chain::new(4, owner.to_raw())
}

impl Kernel {
    /// Arrival numbers ranked within the queues that read them
    /// ([`canonical_order`](crate::canonical_order)): messages and blocked
    /// or pending sends at their destination, blocked plain senders among
    /// themselves, a process's buffered messages among themselves. A
    /// request already complete is no longer in a queue: it ranks 0.
    fn arrival_ranks(&self, ranks: &mut Orders) {
        ranks.clear();
        for m in self.pool.iter() {
            ranks.add(m.id, dest_chain(m.dest), None);
        }
        for p in &self.procs {
            if let Some(Pending::Send { seq, dest, .. }) = p.pending {
                ranks.add(seq, dest_chain(dest), Some(BLOCKED_SENDERS));
            }
        }
        for m in &self.mpi.messages {
            ranks.add(m.id, mpi_chain(m.to, m.comm), None);
        }
        for (_, r) in self.requests() {
            if let (RequestOp::Send { seq, to, .. }, None) = (r.op, r.done) {
                let buffered = (r.holder == Holder::Buffered).then(|| buffered_chain(r.owner));
                ranks.add(seq, mpi_chain(to, r.comm), buffered);
            }
        }
        ranks.finish();
    }

    /// Waiting receivers' numbers ranked within their queue: a plain
    /// receiver's destination, an MPI receive's rank and communicator. A
    /// complete receive ranks 0.
    fn receiver_ranks(&self, ranks: &mut Orders) {
        ranks.clear();
        for p in &self.procs {
            if let Some(Pending::Recv { seq, at, .. }) = p.pending {
                ranks.add(seq, dest_chain(at), None);
            }
        }
        for (_, r) in self.requests() {
            if let (RequestOp::Recv { seq, .. }, None) = (r.op, r.done) {
                ranks.add(seq, mpi_chain(r.owner, r.comm), None);
            }
        }
        ranks.finish();
    }

    /// Writes the canonical encoding of the state (see the module
    /// documentation for what it leaves out) to `out`, in pieces.
    pub fn encode_canonical(&self, out: &mut impl FnMut(&[u8])) {
        let (mut arrivals, mut receivers) = (Orders::new(), Orders::new());
        let mut sync_waiters = Ranks::new();
        self.arrival_ranks(&mut arrivals);
        self.receiver_ranks(&mut receivers);
        self.sync_waiter_ranks(&mut sync_waiters);
        let mut w = Writer { out };
        w.var(self.procs.len() as u64);
        for p in &self.procs {
            w.pid(p.pid);
            match p.state {
                ProcessState::Ready => w.var(0),
                ProcessState::Running => w.var(1),
                ProcessState::Exited(code) => {
                    w.var(2);
                    w.var(code as u64);
                }
                ProcessState::Blocked(reason) => {
                    w.var(3);
                    match reason {
                        BlockReason::Send { to, rendezvous } => {
                            w.var(0);
                            w.pid(to);
                            w.var(u64::from(rendezvous));
                        }
                        BlockReason::Recv { from, tag } => {
                            w.var(1);
                            w.source(from);
                            w.tag_filter(tag);
                        }
                        BlockReason::MboxSend {
                            mailbox,
                            rendezvous,
                        } => {
                            w.var(2);
                            w.var(u64::from(mailbox.0));
                            w.var(u64::from(rendezvous));
                        }
                        BlockReason::MboxRecv { mailbox, tag } => {
                            w.var(3);
                            w.var(u64::from(mailbox.0));
                            w.tag_filter(tag);
                        }
                        // The wake-up tick is a deadline value: left out.
                        BlockReason::Sleep { .. } => w.var(4),
                        BlockReason::Mpi {
                            call,
                            request,
                            peer,
                            tag,
                        } => {
                            w.var(5);
                            w.mpi_call(call);
                            match request {
                                None => w.var(0),
                                Some(kind) => {
                                    w.var(1);
                                    w.request_kind(kind);
                                }
                            }
                            w.source(peer);
                            w.tag_filter(tag);
                        }
                        BlockReason::SemP { sem } => {
                            w.var(6);
                            w.var(u64::from(sem.0));
                        }
                        BlockReason::MutexLock { mutex, owner } => {
                            w.var(7);
                            w.var(u64::from(mutex.0));
                            w.pid(owner);
                        }
                        BlockReason::CondWait { condvar, mutex } => {
                            w.var(8);
                            w.var(u64::from(condvar.0));
                            w.var(u64::from(mutex.0));
                        }
                    }
                }
            }
            let mut handles = 0u64;
            for (handle, _) in p.handles.iter() {
                handles |= 1 << handle.0;
            }
            w.var(handles);
            for (_, object) in p.handles.iter() {
                // A mailbox's number is its slot: encodings without other
                // kinds of objects are as they were.
                w.var(object.to_raw());
            }
            match p.pending {
                None => w.var(0),
                Some(Pending::Send {
                    dest,
                    buf,
                    len,
                    tag,
                    seq,
                }) => {
                    w.var(1);
                    w.dest(dest);
                    w.var(buf);
                    w.var(len);
                    w.var(u64::from(tag));
                    w.var(arrivals.rank(seq));
                }
                Some(Pending::Recv {
                    at,
                    from,
                    tag,
                    buf,
                    cap,
                    seq,
                }) => {
                    w.var(2);
                    w.dest(at);
                    w.source(from);
                    w.tag_filter(tag);
                    w.var(buf);
                    w.var(cap);
                    w.var(receivers.rank(seq));
                }
                Some(Pending::Sleep) => w.var(3),
                Some(Pending::Mpi(block)) => {
                    w.var(4);
                    match block {
                        MpiBlock::Request { slot } => {
                            w.var(0);
                            w.var(u64::from(slot));
                        }
                        MpiBlock::Wait {
                            handles,
                            count,
                            any,
                        } => {
                            w.var(1);
                            w.var(handles);
                            w.var(u64::from(count));
                            w.var(u64::from(any));
                        }
                        MpiBlock::Probe { comm, from, tag } => {
                            w.var(2);
                            w.var(comm.to_raw());
                            w.source(from);
                            w.tag_filter(tag);
                        }
                        MpiBlock::Detach => w.var(3),
                    }
                }
                Some(Pending::Sync { seq }) => {
                    w.var(5);
                    w.var(sync_waiters.rank(seq));
                }
            }
            w.var(u64::from(p.deadline.is_some()));
            match p.completion {
                None => w.var(0),
                Some(regs) => {
                    w.var(1);
                    for r in regs {
                        w.var(r);
                    }
                }
            }
        }
        w.var(self.pool.len() as u64);
        // In rank order: the pool's own order interleaves the queues as
        // they happened to arrive.
        let mut in_order: heapless::Vec<(u64, &crate::Message), MAX_SLOTS> = heapless::Vec::new();
        for m in self.pool.iter() {
            let _ = in_order.push((arrivals.rank(m.id), m));
        }
        in_order.sort_unstable_by_key(|&(rank, _)| rank);
        for &(rank, m) in &in_order {
            w.var(rank);
            w.pid(m.from);
            w.dest(m.dest);
            w.var(u64::from(m.tag));
            w.bytes(&m.data);
        }
        w.var(self.mailboxes.len() as u64);
        for slot in &self.mailboxes {
            match slot {
                None => w.var(0),
                Some(mb) => {
                    w.var(1);
                    w.bytes(mb.name.as_bytes());
                    w.var(u64::from(mb.capacity));
                    match mb.creator {
                        None => w.var(0),
                        Some(pid) => w.var(1 + pid.to_raw()),
                    }
                    w.var(u64::from(mb.refs));
                    w.var(u64::from(mb.destroyed));
                }
            }
        }
        self.encode_mpi(&mut w, &arrivals, &receivers);
        self.encode_sync(&mut w);
        self.encode_keyboard(&mut w);
    }

    fn encode_mpi<F: FnMut(&[u8])>(
        &self,
        w: &mut Writer<'_, F>,
        arrivals: &Orders,
        receivers: &Orders,
    ) {
        let mpi = &self.mpi;
        w.var(mpi.comms.len() as u64);
        for c in &mpi.comms {
            w.var(c.members.len() as u64);
            for &pid in &c.members {
                w.pid(pid);
            }
        }
        w.var(mpi.requests.len() as u64);
        for slot in &mpi.requests {
            w.var(u64::from(slot.generation));
            let Some(r) = slot.request else {
                w.var(0);
                continue;
            };
            w.var(1);
            w.pid(r.owner);
            w.var(r.comm.to_raw());
            match r.op {
                RequestOp::Send {
                    mode,
                    to,
                    buf,
                    len,
                    tag,
                    seq,
                } => {
                    w.var(0);
                    w.var(mode as u64);
                    w.pid(to);
                    w.var(buf);
                    w.var(len);
                    w.var(u64::from(tag));
                    w.var(arrivals.rank(seq));
                }
                RequestOp::Recv {
                    from,
                    tag,
                    buf,
                    cap,
                    seq,
                } => {
                    w.var(1);
                    w.source(from);
                    w.tag_filter(tag);
                    w.var(buf);
                    w.var(cap);
                    w.var(receivers.rank(seq));
                }
            }
            w.var(match r.holder {
                Holder::User => 0,
                Holder::Internal => 1,
                Holder::Buffered => 2,
            });
            w.regs(r.done);
        }
        w.var(mpi.messages.len() as u64);
        // In rank order, as the pool.
        let mut in_order: heapless::Vec<(u64, usize), MAX_SLOTS> = heapless::Vec::new();
        for (index, m) in mpi.messages.iter().enumerate() {
            let _ = in_order.push((arrivals.rank(m.id), index));
        }
        in_order.sort_unstable();
        for &(rank, index) in &in_order {
            let m = &mpi.messages[index];
            w.var(rank);
            w.pid(m.from);
            w.pid(m.to);
            w.var(m.comm.to_raw());
            w.var(u64::from(m.tag));
            w.bytes(&m.data);
        }
        w.var(mpi.attached.len() as u64);
        for a in &mpi.attached {
            w.pid(a.pid);
            w.var(a.addr);
            w.var(a.size);
        }
    }

    /// Reads what `encode_mpi` wrote; returns the largest arrival and
    /// receiver ranks it restored.
    fn restore_mpi(&mut self, r: &mut Reader<'_>) -> Result<(u64, u64), DecodeError> {
        let (mut max_arrival, mut max_receiver) = (0, 0);
        let mpi = &mut self.mpi;
        mpi.comms.clear();
        let comms: usize = r.small()?;
        for _ in 0..comms {
            let n: usize = r.small()?;
            let mut members = heapless::Vec::new();
            for _ in 0..n {
                members.push(r.pid()?).map_err(|_| DecodeError)?;
            }
            mpi.comms
                .push(Communicator { members })
                .map_err(|_| DecodeError)?;
        }
        mpi.requests.clear();
        let slots: usize = r.small()?;
        for _ in 0..slots {
            let generation = r.small()?;
            let request = match r.var()? {
                0 => None,
                _ => {
                    let owner = r.pid()?;
                    let comm = r.comm()?;
                    let op = match r.var()? {
                        0 => {
                            let mode = r.mode()?;
                            let to = r.pid()?;
                            let (buf, len, tag) = (r.var()?, r.var()?, r.small()?);
                            let seq = r.var()?;
                            max_arrival = max_arrival.max(seq);
                            RequestOp::Send {
                                mode,
                                to,
                                buf,
                                len,
                                tag,
                                seq,
                            }
                        }
                        1 => {
                            let (from, tag) = (r.source()?, r.tag_filter()?);
                            let (buf, cap, seq) = (r.var()?, r.var()?, r.var()?);
                            max_receiver = max_receiver.max(seq);
                            RequestOp::Recv {
                                from,
                                tag,
                                buf,
                                cap,
                                seq,
                            }
                        }
                        _ => return Err(DecodeError),
                    };
                    let holder = match r.var()? {
                        0 => Holder::User,
                        1 => Holder::Internal,
                        2 => Holder::Buffered,
                        _ => return Err(DecodeError),
                    };
                    let done = r.regs()?;
                    Some(Request {
                        owner,
                        comm,
                        op,
                        holder,
                        done,
                    })
                }
            };
            mpi.requests
                .push(RequestSlot {
                    generation,
                    request,
                })
                .map_err(|_| DecodeError)?;
        }
        mpi.messages.clear();
        let messages: usize = r.small()?;
        for _ in 0..messages {
            let id = r.var()?;
            max_arrival = max_arrival.max(id);
            let (from, to, comm, tag) = (r.pid()?, r.pid()?, r.comm()?, r.small()?);
            let data = heapless::Vec::from_slice(r.bytes()?).map_err(|_| DecodeError)?;
            mpi.messages
                .push(MpiMessage {
                    id,
                    from,
                    to,
                    comm,
                    tag,
                    data,
                })
                .map_err(|_| DecodeError)?;
        }
        mpi.attached.clear();
        let attached: usize = r.small()?;
        for _ in 0..attached {
            let (pid, addr, size) = (r.pid()?, r.var()?, r.var()?);
            mpi.attached
                .push(Attached { pid, addr, size })
                .map_err(|_| DecodeError)?;
        }
        Ok((max_arrival, max_receiver))
    }

    /// Hashes the canonical encoding: equal for two kernels that behave
    /// alike from here on (see the module documentation).
    pub fn hash_canonical<H: Hasher>(&self, h: &mut H) {
        self.encode_canonical(&mut |b: &[u8]| h.write(b));
    }

    /// Puts the state encoded by [`Kernel::encode_canonical`] into this
    /// kernel, which must have been booted for the same processes (names,
    /// priorities and memory sizes are kept from it). The clock is left as
    /// it is; the counters restart (counting the buffered messages as
    /// accepted, so the kernel's invariants hold); ready-queue order is reset.
    ///
    /// # Errors
    /// [`DecodeError`] when `bytes` is not such an encoding (the kernel may
    /// then be half restored: restore a good encoding before using it).
    /// Only the structure is checked: bytes that decode but describe a
    /// state no kernel reaches (a ready process with a pending call) are
    /// restored as they are. The checker restores only its own encodings;
    /// run [`Kernel::check_invariants`] after restoring bytes of unknown
    /// origin (checking every restore would cost the checker a scan of
    /// every table per state).
    pub fn restore_canonical(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let mut r = Reader { bytes };
        let procs: usize = r.small()?;
        if procs != self.procs.len() {
            return Err(DecodeError);
        }
        let mut max_arrival = 0;
        let mut max_receiver = 0;
        let mut max_sync = 0;
        for index in 0..procs {
            let pid = r.pid()?;
            let state = match r.var()? {
                0 => ProcessState::Ready,
                1 => ProcessState::Running,
                2 => ProcessState::Exited(r.var()? as i64),
                3 => ProcessState::Blocked(match r.var()? {
                    0 => BlockReason::Send {
                        to: r.pid()?,
                        rendezvous: r.var()? != 0,
                    },
                    1 => BlockReason::Recv {
                        from: r.source()?,
                        tag: r.tag_filter()?,
                    },
                    2 => BlockReason::MboxSend {
                        mailbox: MailboxId(r.small()?),
                        rendezvous: r.var()? != 0,
                    },
                    3 => BlockReason::MboxRecv {
                        mailbox: MailboxId(r.small()?),
                        tag: r.tag_filter()?,
                    },
                    4 => BlockReason::Sleep { until: 0 },
                    5 => BlockReason::Mpi {
                        call: r.mpi_call()?,
                        request: match r.var()? {
                            0 => None,
                            _ => Some(r.request_kind()?),
                        },
                        peer: r.source()?,
                        tag: r.tag_filter()?,
                    },
                    6 => BlockReason::SemP {
                        sem: SemaphoreId(r.small()?),
                    },
                    7 => BlockReason::MutexLock {
                        mutex: MutexId(r.small()?),
                        owner: r.pid()?,
                    },
                    8 => BlockReason::CondWait {
                        condvar: CondvarId(r.small()?),
                        mutex: MutexId(r.small()?),
                    },
                    _ => return Err(DecodeError),
                }),
                _ => return Err(DecodeError),
            };
            let mask = r.var()?;
            if mask >> MAX_HANDLES != 0 {
                return Err(DecodeError);
            }
            // `insert` fills the lowest free slot: fill every slot up to the
            // highest one used, then empty the gaps.
            let mut handles = HandleTable::default();
            let used = u64::BITS - mask.leading_zeros();
            for slot in 0..used {
                let object = if mask & (1 << slot) != 0 {
                    Object::from_raw(r.var()?).ok_or(DecodeError)?
                } else {
                    Object::Mailbox(MailboxId(u16::MAX))
                };
                handles.insert(object).map_err(|_| DecodeError)?;
            }
            for slot in 0..used {
                if mask & (1 << slot) == 0 {
                    let _ = handles.remove(ipclab_syscalls::Handle(slot));
                }
            }
            let pending = match r.var()? {
                0 => None,
                1 => {
                    let dest = r.dest()?;
                    let (buf, len, tag) = (r.var()?, r.var()?, r.small()?);
                    let seq = r.var()?;
                    max_arrival = max_arrival.max(seq);
                    Some(Pending::Send {
                        dest,
                        buf,
                        len,
                        tag,
                        seq,
                    })
                }
                2 => {
                    let at = r.dest()?;
                    let (from, tag) = (r.source()?, r.tag_filter()?);
                    let (buf, cap, seq) = (r.var()?, r.var()?, r.var()?);
                    max_receiver = max_receiver.max(seq);
                    Some(Pending::Recv {
                        at,
                        from,
                        tag,
                        buf,
                        cap,
                        seq,
                    })
                }
                3 => Some(Pending::Sleep),
                4 => Some(Pending::Mpi(match r.var()? {
                    0 => MpiBlock::Request { slot: r.small()? },
                    1 => MpiBlock::Wait {
                        handles: r.var()?,
                        count: r.small()?,
                        any: r.var()? != 0,
                    },
                    2 => MpiBlock::Probe {
                        comm: r.comm()?,
                        from: r.source()?,
                        tag: r.tag_filter()?,
                    },
                    3 => MpiBlock::Detach,
                    _ => return Err(DecodeError),
                })),
                5 => {
                    let seq = r.var()?;
                    max_sync = max_sync.max(seq);
                    Some(Pending::Sync { seq })
                }
                _ => return Err(DecodeError),
            };
            // Abstract time: a deadline is "set", its value does not matter.
            let deadline = (r.var()? != 0).then_some(0);
            let completion = match r.var()? {
                0 => None,
                _ => {
                    let mut regs: RetRegs = [0; 4];
                    for reg in &mut regs {
                        *reg = r.var()?;
                    }
                    Some(regs)
                }
            };
            let pcb = &mut self.procs[index];
            pcb.pid = pid;
            pcb.state = state;
            pcb.handles = handles;
            pcb.pending = pending;
            pcb.deadline = deadline;
            pcb.completion = completion;
            pcb.ready_seq = 0;
            pcb.quantum_left = 0;
        }
        self.pool.clear();
        let messages: usize = r.small()?;
        for _ in 0..messages {
            let id = r.var()?;
            max_arrival = max_arrival.max(id);
            let from = r.pid()?;
            let dest = r.dest()?;
            let tag = r.small()?;
            let bytes = r.bytes()?;
            self.pool
                .push(id, from, dest, tag, bytes)
                .map_err(|_| DecodeError)?;
        }
        self.mailboxes.clear();
        let mailboxes: usize = r.small()?;
        for _ in 0..mailboxes {
            let slot = match r.var()? {
                0 => None,
                _ => {
                    let name = core::str::from_utf8(r.bytes()?).map_err(|_| DecodeError)?;
                    let name = heapless::String::try_from(name).map_err(|_| DecodeError)?;
                    let capacity = r.small()?;
                    let creator = match r.var()? {
                        0 => None,
                        raw => Some(Pid::from_raw(raw - 1).map_err(|_| DecodeError)?),
                    };
                    Some(Mailbox {
                        name,
                        capacity,
                        creator,
                        refs: r.small()?,
                        destroyed: r.var()? != 0,
                    })
                }
            };
            self.mailboxes.push(slot).map_err(|_| DecodeError)?;
        }
        let (mpi_arrival, mpi_receiver) = self.restore_mpi(&mut r)?;
        self.restore_sync(&mut r)?;
        self.restore_keyboard(&mut r)?;
        if !r.bytes.is_empty() {
            return Err(DecodeError);
        }
        self.arrivals = max_arrival.max(mpi_arrival);
        self.queue_order = max_receiver.max(mpi_receiver).max(max_sync);
        self.recount();
        // The counters restart, consistent with what is buffered.
        self.stats = crate::Stats {
            accepted: (self.pool.len() + self.mpi.messages.len() + self.mpi_buffered_count())
                as u64,
            ..crate::Stats::default()
        };
        Ok(())
    }

    /// Recomputes the counters the kernel keeps to skip scans (messages
    /// queued per destination, blocked senders and receivers) from the
    /// pool and the process table.
    fn recount(&mut self) {
        self.blocked_senders = 0;
        self.blocked_receivers = 0;
        self.mailbox_queued = [0; crate::config::MAX_MAILBOXES];
        for index in 0..self.procs.len() {
            self.procs[index].queued = 0;
            let op = self.procs[index].pending;
            self.count_pending(op, 1);
        }
        for index in 0..self.pool.len() {
            let dest = self.pool[index].dest;
            self.count_queued(dest, 1);
        }
    }

    /// Does `pid` wait in a call whose timer (a timeout or a sleep) could fire?
    pub fn has_timer(&self, pid: Pid) -> bool {
        self.process(pid)
            .is_some_and(|p| p.deadline.is_some() && p.block_reason().is_some())
    }

    /// Fires `pid`'s timer now, whatever the clock says: a timed call fails
    /// with `ETIMEDOUT`, a sleep returns 0, exactly as when the clock
    /// reaches the deadline in [`Kernel::tick`]. A checker uses this to
    /// explore "the timeout fires here" at every point of a blocked call.
    ///
    /// # Errors
    /// `ESRCH` for a stale pid, `EINVAL` when `pid` has no timer set.
    pub fn fire_timer(&mut self, pid: Pid, sink: &mut impl TraceSink) -> Result<(), Errno> {
        let pcb = self.pcb_ref(pid)?;
        if pcb.deadline.is_none() || pcb.block_reason().is_none() {
            return Err(Errno::EINVAL);
        }
        let is_sleep = matches!(pcb.pending, Some(Pending::Sleep));
        let kind = if is_sleep {
            TimerKind::SleepDone
        } else {
            TimerKind::Timeout
        };
        sink.event(self.now, &Event::Timer { pid, kind });
        if is_sleep {
            self.complete(pid, Reply::to_regs(Ok(Reply::value(0))), sink);
        } else {
            self.fail(pid, Errno::ETIMEDOUT, sink);
        }
        Ok(())
    }
}

/// Synchronisation objects (`sync_objects.rs`): encoded after the MPI
/// state, in slot order (free slots as 0). Waiters' order is in their
/// `Pending::Sync`, ranked among all synchronisation waiters.
impl Kernel {
    fn sync_waiter_ranks(&self, ranks: &mut Ranks) {
        let sorted = &mut ranks.sorted;
        sorted.clear();
        for p in &self.procs {
            if let Some(Pending::Sync { seq }) = p.pending {
                let _ = sorted.push(seq);
            }
        }
        sorted.sort_unstable();
    }

    fn encode_sync<F: FnMut(&[u8])>(&self, w: &mut Writer<'_, F>) {
        let s = &self.sync;
        w.var(s.semaphores.len() as u64);
        for slot in &s.semaphores {
            match slot {
                None => w.var(0),
                Some(sem) => {
                    w.var(1);
                    w.bytes(sem.name.as_bytes());
                    w.var(u64::from(sem.count));
                    w.var(u64::from(sem.refs));
                }
            }
        }
        w.var(s.mutexes.len() as u64);
        for slot in &s.mutexes {
            match slot {
                None => w.var(0),
                Some(m) => {
                    w.var(1);
                    w.bytes(m.name.as_bytes());
                    match m.owner {
                        None => w.var(0),
                        Some(pid) => w.var(1 + pid.to_raw()),
                    }
                    w.var(u64::from(m.refs));
                }
            }
        }
        w.var(s.condvars.len() as u64);
        for slot in &s.condvars {
            match slot {
                None => w.var(0),
                Some(c) => {
                    w.var(1);
                    w.bytes(c.name.as_bytes());
                    w.var(u64::from(c.refs));
                }
            }
        }
        w.var(s.shared.len() as u64);
        for slot in &s.shared {
            match slot {
                None => w.var(0),
                Some(sh) => {
                    w.var(1);
                    w.bytes(sh.name.as_bytes());
                    w.var(u64::from(sh.refs));
                    w.var(sh.words.len() as u64);
                    for &word in &sh.words {
                        w.var(word);
                    }
                }
            }
        }
    }

    /// Reads what `encode_sync` wrote.
    fn restore_sync(&mut self, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        use crate::sync_objects::{Condvar, Mutex, ObjectName, Semaphore, Shared};
        fn name(r: &mut Reader<'_>) -> Result<ObjectName, DecodeError> {
            let text = core::str::from_utf8(r.bytes()?).map_err(|_| DecodeError)?;
            heapless::String::try_from(text).map_err(|_| DecodeError)
        }
        let s = &mut self.sync;
        s.semaphores.clear();
        for _ in 0..r.small::<usize>()? {
            let slot = match r.var()? {
                0 => None,
                _ => Some(Semaphore {
                    name: name(r)?,
                    count: r.small()?,
                    refs: r.small()?,
                }),
            };
            s.semaphores.push(slot).map_err(|_| DecodeError)?;
        }
        s.mutexes.clear();
        for _ in 0..r.small::<usize>()? {
            let slot = match r.var()? {
                0 => None,
                _ => Some(Mutex {
                    name: name(r)?,
                    owner: match r.var()? {
                        0 => None,
                        raw => Some(Pid::from_raw(raw - 1).map_err(|_| DecodeError)?),
                    },
                    refs: r.small()?,
                }),
            };
            s.mutexes.push(slot).map_err(|_| DecodeError)?;
        }
        s.condvars.clear();
        for _ in 0..r.small::<usize>()? {
            let slot = match r.var()? {
                0 => None,
                _ => Some(Condvar {
                    name: name(r)?,
                    refs: r.small()?,
                }),
            };
            s.condvars.push(slot).map_err(|_| DecodeError)?;
        }
        s.shared.clear();
        for _ in 0..r.small::<usize>()? {
            let slot = match r.var()? {
                0 => None,
                _ => {
                    let (name, refs) = (name(r)?, r.small()?);
                    let mut words = heapless::Vec::new();
                    for _ in 0..r.small::<usize>()? {
                        words.push(r.var()?).map_err(|_| DecodeError)?;
                    }
                    Some(Shared { name, words, refs })
                }
            };
            s.shared.push(slot).map_err(|_| DecodeError)?;
        }
        Ok(())
    }
}

/// The keyboard (`keyboard.rs`): its ring's capacity, the characters in
/// it in order, and the overruns so far. Its semaphore is fixed at boot;
/// the interrupts taken and characters read are counters, which restart
/// consistent with the ring (as `stats` do).
impl Kernel {
    fn encode_keyboard<F: FnMut(&[u8])>(&self, w: &mut Writer<'_, F>) {
        match &self.keyboard {
            None => w.var(0),
            Some(keyboard) => {
                w.var(1);
                w.var(keyboard.capacity() as u64);
                w.var(keyboard.ring.len() as u64);
                for byte in keyboard.pending() {
                    w.var(u64::from(byte));
                }
                w.var(keyboard.overruns());
            }
        }
    }

    fn restore_keyboard(&mut self, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        let present = r.var()? != 0;
        let Some(keyboard) = self.keyboard.as_mut() else {
            // A kernel booted without a keyboard takes no keyboard state.
            return if present { Err(DecodeError) } else { Ok(()) };
        };
        if !present {
            return Err(DecodeError);
        }
        let capacity: usize = r.small()?;
        if capacity == 0 || capacity > crate::MAX_KEYBOARD_RING {
            return Err(DecodeError);
        }
        let ring = crate::ring::Ring::with_capacity(capacity);
        for _ in 0..r.small::<usize>()? {
            ring.push(r.small()?).map_err(|_| DecodeError)?;
        }
        let overruns: usize = r.small()?;
        ring.set_overruns(overruns);
        keyboard.interrupts = (ring.len() + overruns) as u64;
        keyboard.read = 0;
        keyboard.ring = ring;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Errno, Source, TagFilter, Timeout};

    use crate::testing::*;

    fn encoding(k: &crate::Kernel) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        k.encode_canonical(&mut |b: &[u8]| out.extend_from_slice(b));
        out
    }

    #[test]
    fn sequence_numbers_count_only_by_their_order() {
        // Two worlds that reach the same state after different histories:
        // the second sent and received an extra message first.
        let mut a = World::with(|c| c.buffer_slots = 2);
        let (s, r) = (a.spawn(1), a.spawn(1));
        ok(a.send(s, r, b"x", 0, Timeout::Never));
        let mut b = World::with(|c| c.buffer_slots = 2);
        let (s2, r2) = (b.spawn(1), b.spawn(1));
        ok(b.send(s2, r2, b"y", 0, Timeout::Never));
        ok(b.recv(r2, Source::Any, TagFilter::Any, 8, Timeout::Never));
        ok(b.send(s2, r2, b"x", 0, Timeout::Never));
        // Who is on a CPU is not part of the checker's state: put both back.
        for p in [s, r] {
            let _ = a.k.preempt(p, &mut a.sink);
        }
        for p in [s2, r2] {
            let _ = b.k.preempt(p, &mut b.sink);
        }
        assert_ne!(a.k, b.k);
        assert_eq!(encoding(&a.k), encoding(&b.k));
    }

    #[test]
    fn a_restored_kernel_encodes_the_same_and_keeps_order() {
        let mut w = World::with(|c| c.buffer_slots = 1);
        let (s, r) = (w.spawn(1), w.spawn(1));
        ok(w.send(s, r, b"a", 1, Timeout::Never));
        blocked(w.send(s, r, b"b", 2, Timeout::Never));
        let bytes = encoding(&w.k);
        let mut fresh = World::with(|c| c.buffer_slots = 1);
        fresh.spawn(1);
        fresh.spawn(1);
        fresh.k.restore_canonical(&bytes).unwrap();
        assert_eq!(encoding(&fresh.k), bytes);
        // The restored kernel still delivers "a" before "b".
        ok(fresh.recv(r, Source::Pid(s), TagFilter::Any, 8, Timeout::Never));
        assert_eq!(fresh.read(r, RECV_BUF, 1), b"a");
    }

    #[test]
    fn synchronisation_objects_and_their_waiters_round_trip_in_order() {
        use crate::{MutexId, Object};
        use ipclab_syscalls::{Handle, SyncCall, Syscall};
        let boot = || {
            let mut w = World::new(Default::default());
            let pids: std::vec::Vec<_> = (0..4).map(|_| w.spawn(1)).collect();
            (w, pids)
        };
        let (mut w, ps) = boot();
        let sem = w.k.create_semaphore("s", 0).unwrap();
        let m = w.k.create_mutex("m").unwrap();
        let c = w.k.create_condvar("c").unwrap();
        let sh = w.k.create_shared("count", 3).unwrap();
        for &p in &ps {
            for o in [
                Object::Semaphore(sem),
                Object::Mutex(m),
                Object::Condvar(c),
                Object::Shared(sh),
            ] {
                w.k.grant_object(p, o).unwrap();
            }
        }
        let (hs, hm, hc, hsh) = (Handle(0), Handle(1), Handle(2), Handle(3));
        let lock = SyncCall::Lock {
            mutex: hm,
            timeout: Timeout::Never,
        };
        let store = SyncCall::SharedStore {
            shared: hsh,
            index: 2,
            value: 7,
        };
        ok(w.call(ps[0], Syscall::Sync(store)));
        ok(w.call(ps[0], Syscall::Sync(lock)));
        blocked(w.call(
            ps[0],
            Syscall::Sync(SyncCall::Wait {
                condvar: hc,
                mutex: hm,
            }),
        ));
        ok(w.call(ps[1], Syscall::Sync(lock)));
        blocked(w.call(ps[2], Syscall::Sync(lock)));
        blocked(w.call(
            ps[3],
            Syscall::Sync(SyncCall::P {
                sem: hs,
                timeout: Timeout::Never,
            }),
        ));
        ok(w.call(ps[1], Syscall::Sync(SyncCall::Signal { condvar: hc })));
        for &p in &ps {
            let _ = w.k.preempt(p, &mut w.sink);
        }
        let bytes = encoding(&w.k);
        let (mut fresh, _) = boot();
        fresh.k.restore_canonical(&bytes).unwrap();
        fresh.check();
        assert_eq!(encoding(&fresh.k), bytes);
        // ps[2] queued for the mutex before the signalled ps[0]: it gets it first.
        ok(fresh.call(ps[1], Syscall::Sync(SyncCall::Unlock { mutex: hm })));
        assert_eq!(fresh.k.mutex(MutexId(m.0)).unwrap().owner, Some(ps[2]));
        assert!(fresh.is_blocked(ps[0]));
        ok(fresh.call(ps[1], Syscall::Sync(SyncCall::V { sem: hs })));
        assert_eq!(fresh.completion(ps[3]), [0; 4]);
        let load = SyncCall::SharedLoad {
            shared: hsh,
            index: 2,
        };
        assert_eq!(ok(fresh.call(ps[1], Syscall::Sync(load))), 7);
    }

    #[test]
    fn fire_timer_times_out_a_blocked_call_at_once() {
        let mut w = World::new(Default::default());
        let r = w.spawn(1);
        blocked(w.recv(r, Source::Any, TagFilter::Any, 8, Timeout::After(100)));
        assert!(w.k.has_timer(r));
        w.k.fire_timer(r, &mut w.sink).unwrap();
        assert_eq!(errno(w.completion(r)), Some(Errno::ETIMEDOUT));
        assert_eq!(w.k.fire_timer(r, &mut w.sink), Err(Errno::EINVAL));
    }

    #[test]
    fn the_keyboard_ring_round_trips_with_its_overruns() {
        let boot = || {
            let mut w = World::with(|_| {});
            let sem = w.k.create_semaphore("chars", 0).unwrap();
            w.k.attach_keyboard(2, sem).unwrap();
            w
        };
        let mut w = boot();
        let before = encoding(&w.k);
        for byte in *b"abc" {
            let _ = w.k.interrupt(crate::DeviceId::KEYBOARD, byte, &mut w.sink);
        }
        let bytes = encoding(&w.k);
        assert_ne!(before, bytes, "the checker sees the ring");
        let mut fresh = boot();
        fresh.k.restore_canonical(&bytes).unwrap();
        fresh.check();
        assert_eq!(encoding(&fresh.k), bytes);
        let keyboard = fresh.k.keyboard().unwrap();
        assert_eq!(keyboard.pending().collect::<std::vec::Vec<_>>(), b"ab");
        assert_eq!(keyboard.overruns(), 1);
        // A kernel without a keyboard refuses keyboard state.
        let mut bare = World::with(|_| {});
        assert!(bare.k.restore_canonical(&bytes).is_err());
    }
}
