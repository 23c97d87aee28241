//! The kernel state: process table, buffer pool, mailbox table, clock, counters; boot and lookups.
//!
//! # Invariants (checked by [`Kernel::check_invariants`])
//! - every accepted message is exactly once delivered, buffered or reported
//!   undeliverable: `accepted == delivered + buffered + undeliverable`;
//! - no buffer above its bound: the pool within `buffer_slots`, each
//!   receiver within `receiver_quota`, each mailbox within its capacity;
//! - queue and process states agree: a blocked process has the pending
//!   operation its reason names, and no receiver waits for a message that
//!   is queued for it.

use heapless::{String, Vec};
use ipclab_syscalls::{Errno, Pid, Reply, RetRegs};

use crate::config::{MAX_MAILBOXES, MAX_PROCESS_NAME, MAX_PROCS, PRIORITY_LEVELS};
use crate::pool::Pool;
use crate::process::Pending;
use crate::{
    BlockReason, Config, ConfigError, Dest, Event, HandleTable, Mailbox, MailboxId, Messages, Pcb,
    ProcessState, TraceSink,
};

/// Counters the kernel keeps: every copy, every message, every call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Calls that reached `trap` (including those that did not decode).
    pub syscalls: u64,
    /// Messages whose send completed (buffered, delivered directly, or
    /// reported undeliverable at once).
    pub accepted: u64,
    /// Messages a receiver got.
    pub delivered: u64,
    /// Messages reported undeliverable.
    pub undeliverable: u64,
    /// MPI sends still pending when their sender exited (traced as
    /// cancelled): never accepted, so outside the books above, but never
    /// received either.
    pub cancelled: u64,
    /// Copies from a sender's memory into a kernel slot.
    pub copies_to_kernel: u64,
    /// Copies from a kernel slot into a receiver's memory.
    pub copies_to_user: u64,
    /// Direct copies from a sender's memory into a receiver's (rendezvous,
    /// or a receiver already waiting).
    pub copies_user_to_user: u64,
    /// Bytes moved by all copies.
    pub bytes_copied: u64,
}

/// Why a process could not be spawned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// The process table is full (and no slot of an exited process is free).
    TableFull,
    /// The name is longer than the kernel keeps.
    NameTooLong,
    /// The priority is not below [`PRIORITY_LEVELS`].
    BadPriority,
}

/// The whole kernel: plain data, `Clone + Eq + Hash`, so a checker can hash it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kernel {
    pub(crate) config: Config,
    pub(crate) now: u64,
    pub(crate) procs: Vec<Pcb, MAX_PROCS>,
    /// Accepted messages not yet delivered, in arrival order.
    pub(crate) pool: Pool,
    pub(crate) mailboxes: Vec<Option<Mailbox>, MAX_MAILBOXES>,
    /// Arrival order of messages and of blocked sends (one counter, so they
    /// can be compared: non-overtaking).
    pub(crate) arrivals: u64,
    /// Order of entering the ready queue, or of starting to wait to receive.
    pub(crate) queue_order: u64,
    pub(crate) stats: Stats,
    /// Processes blocked in a send / in a receive: when none is, the hot
    /// path skips its scans over the process table.
    pub(crate) blocked_senders: u32,
    pub(crate) blocked_receivers: u32,
    /// Messages queued in each mailbox slot (`queued_at` without a scan).
    pub(crate) mailbox_queued: [u32; MAX_MAILBOXES],
    /// Communicators, MPI requests, eager MPI messages, attached buffers.
    pub(crate) mpi: crate::mpi::MpiState,
    /// Semaphores, mutexes, condition variables, shared segments.
    pub(crate) sync: crate::sync_objects::SyncState,
    /// The keyboard device, when the embedder attached one.
    pub(crate) keyboard: Option<crate::keyboard::Keyboard>,
}

impl Kernel {
    /// Boots a kernel with `config`.
    pub fn new(config: Config) -> Result<Kernel, ConfigError> {
        config.validate()?;
        Ok(Kernel {
            config,
            now: 0,
            procs: Vec::new(),
            pool: Pool::default(),
            mailboxes: Vec::new(),
            arrivals: 0,
            queue_order: 0,
            stats: Stats::default(),
            blocked_senders: 0,
            blocked_receivers: 0,
            mailbox_queued: [0; MAX_MAILBOXES],
            mpi: crate::mpi::MpiState::default(),
            sync: crate::sync_objects::SyncState::default(),
            keyboard: None,
        })
    }

    /// The boot configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current tick.
    #[inline]
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The counters.
    #[inline]
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Every process slot ever used, in slot order (exited ones included).
    #[inline]
    pub fn processes(&self) -> &[Pcb] {
        &self.procs
    }

    /// The process `pid` names, if it is current (not stale).
    #[inline(always)]
    pub fn process(&self, pid: Pid) -> Option<&Pcb> {
        self.procs.get(pid.index as usize).filter(|p| p.pid == pid)
    }

    /// The length of the message `pid` is blocked sending (a plain or
    /// mailbox `send`), if it is: what a reason says when the send is a
    /// rendezvous because the message is above the eager limit.
    pub fn blocked_send_len(&self, pid: Pid) -> Option<u64> {
        match self.process(pid)?.pending {
            Some(crate::process::Pending::Send { len, .. }) => Some(len),
            _ => None,
        }
    }

    /// Accepted messages waiting in kernel slots, in arrival order.
    pub fn messages(&self) -> Messages<'_> {
        Messages(&self.pool)
    }

    /// The mailbox in slot `id`, if any.
    pub fn mailbox(&self, id: MailboxId) -> Option<&Mailbox> {
        self.mailboxes.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// Every live mailbox with its id.
    pub fn mailboxes(&self) -> impl Iterator<Item = (MailboxId, &Mailbox)> {
        self.mailboxes
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.as_ref().map(|m| (MailboxId(i as u16), m)))
    }

    /// Live processes that hold a handle to `mailbox`.
    pub fn mailbox_holders(&self, mailbox: MailboxId) -> impl Iterator<Item = Pid> + '_ {
        self.procs
            .iter()
            .filter(move |p| !p.is_exited() && p.handles.holds(mailbox))
            .map(|p| p.pid)
    }

    /// Messages queued at `dest`.
    #[inline]
    pub fn queued_at(&self, dest: Dest) -> usize {
        match dest {
            Dest::Process(pid) => self.process(pid).map_or(0, |p| p.queued as usize),
            Dest::Mailbox(m) => self
                .mailbox_queued
                .get(m.0 as usize)
                .map_or(0, |&n| n as usize),
        }
    }

    /// Counts one more (`+1`) or one fewer (`-1`) message queued at `dest`.
    #[inline]
    pub(crate) fn count_queued(&mut self, dest: Dest, delta: i32) {
        let counter = match dest {
            Dest::Process(pid) => self.pcb_mut(pid).ok().map(|p| &mut p.queued),
            Dest::Mailbox(m) => self.mailbox_queued.get_mut(m.0 as usize),
        };
        if let Some(n) = counter {
            *n = n.wrapping_add_signed(delta);
        }
    }

    /// Counts a pending operation starting (`+1`) or ending (`-1`).
    #[inline]
    pub(crate) fn count_pending(&mut self, op: Option<Pending>, delta: i32) {
        match op {
            Some(Pending::Send { .. }) => {
                self.blocked_senders = self.blocked_senders.wrapping_add_signed(delta)
            }
            Some(Pending::Recv { .. }) => {
                self.blocked_receivers = self.blocked_receivers.wrapping_add_signed(delta)
            }
            Some(Pending::Sleep) | Some(Pending::Mpi(_)) | Some(Pending::Sync { .. }) | None => {}
        }
    }

    /// The number of messages `dest` may hold: the receiver quota for a
    /// process, the capacity for a mailbox (both within the pool size).
    #[inline]
    pub fn quota_of(&self, dest: Dest) -> usize {
        self.capacity_of(dest).min(self.config.buffer_slots)
    }

    /// `dest`'s own capacity, before the pool's size caps it
    /// ([`Kernel::quota_of`]): the receiver quota, or the mailbox's capacity.
    #[inline]
    pub fn capacity_of(&self, dest: Dest) -> usize {
        match dest {
            Dest::Process(_) => self.config.receiver_quota,
            Dest::Mailbox(m) => self.mailbox(m).map_or(0, |m| m.capacity as usize),
        }
    }

    /// Takes the result of a blocking call that has completed, to put it in
    /// the process's registers. `None` if there is none (or `pid` is stale).
    #[inline]
    pub fn take_completion(&mut self, pid: Pid) -> Option<RetRegs> {
        self.pcb_mut(pid).ok()?.completion.take()
    }

    /// Creates a process named `name` with `priority` and `memory_size`
    /// bytes of memory, ready to run. Slots never used are taken first, then
    /// slots of exited processes (with the next generation).
    pub fn spawn(
        &mut self,
        name: &str,
        priority: u8,
        memory_size: u64,
        sink: &mut impl TraceSink,
    ) -> Result<Pid, SpawnError> {
        if priority >= PRIORITY_LEVELS {
            return Err(SpawnError::BadPriority);
        }
        let name: String<MAX_PROCESS_NAME> =
            String::try_from(name).map_err(|_| SpawnError::NameTooLong)?;
        self.queue_order += 1;
        let mut pcb = Pcb {
            pid: Pid::new(self.procs.len() as u16, 1),
            name,
            priority,
            memory_size,
            state: ProcessState::Ready,
            handles: HandleTable::default(),
            pending: None,
            deadline: None,
            completion: None,
            ready_seq: self.queue_order,
            quantum_left: 0,
            queued: 0,
        };
        let pid = if self.procs.len() < MAX_PROCS {
            let pid = pcb.pid;
            // Cannot fail: the length was checked above.
            let _ = self.procs.push(pcb);
            pid
        } else {
            let slot = self
                .procs
                .iter_mut()
                .find(|p| p.is_exited() && p.handles.iter().next().is_none())
                .ok_or(SpawnError::TableFull)?;
            let generation = match slot.pid.generation.wrapping_add(1) {
                0 => 1,
                g => g,
            };
            pcb.pid = Pid::new(slot.pid.index, generation);
            *slot = pcb;
            slot.pid
        };
        sink.event(self.now, &Event::Spawn { pid, priority });
        Ok(pid)
    }

    /// Creates a mailbox on behalf of the embedder (at boot, before any
    /// process runs); no process is its creator.
    pub fn create_mailbox(
        &mut self,
        name: &str,
        capacity: u32,
        sink: &mut impl TraceSink,
    ) -> Result<MailboxId, Errno> {
        self.new_mailbox(name.as_bytes(), capacity, None, sink)
    }

    /// Gives `pid` a handle to `mailbox` (the embedder's way of handing out
    /// handles at boot, as a shell hands a child its open files).
    pub fn grant_handle(
        &mut self,
        pid: Pid,
        mailbox: MailboxId,
    ) -> Result<ipclab_syscalls::Handle, Errno> {
        let mb = self
            .mailboxes
            .get(mailbox.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)?;
        if mb.destroyed {
            return Err(Errno::EIDRM);
        }
        let pcb = self.pcb_mut(pid)?;
        if pcb.is_exited() {
            return Err(Errno::ESRCH);
        }
        let handle = pcb.handles.insert(mailbox)?;
        if let Some(Some(mb)) = self.mailboxes.get_mut(mailbox.0 as usize) {
            mb.refs += 1;
        }
        Ok(handle)
    }

    // ---- crate-internal helpers ----

    #[inline]
    pub(crate) fn pcb_mut(&mut self, pid: Pid) -> Result<&mut Pcb, Errno> {
        self.procs
            .get_mut(pid.index as usize)
            .filter(|p| p.pid == pid)
            .ok_or(Errno::ESRCH)
    }

    #[inline]
    pub(crate) fn pcb_ref(&self, pid: Pid) -> Result<&Pcb, Errno> {
        self.process(pid).ok_or(Errno::ESRCH)
    }

    #[inline]
    pub(crate) fn next_arrival(&mut self) -> u64 {
        self.arrivals += 1;
        self.arrivals
    }

    #[inline]
    pub(crate) fn next_queue_order(&mut self) -> u64 {
        self.queue_order += 1;
        self.queue_order
    }

    /// Completes the pending call of blocked process `pid` with `result`:
    /// it becomes ready and the result waits in its PCB.
    pub(crate) fn complete(&mut self, pid: Pid, result: RetRegs, sink: &mut impl TraceSink) {
        let order = self.next_queue_order();
        let now = self.now;
        if let Ok(pcb) = self.pcb_mut(pid) {
            debug_assert!(matches!(pcb.state, ProcessState::Blocked(_)));
            let op = pcb.pending.take();
            pcb.state = ProcessState::Ready;
            pcb.deadline = None;
            pcb.completion = Some(result);
            pcb.ready_seq = order;
            sink.event(now, &Event::Wake { pid, result });
            self.count_pending(op, -1);
        }
    }

    /// Completes `pid`'s pending call with an error.
    pub(crate) fn fail(&mut self, pid: Pid, errno: Errno, sink: &mut impl TraceSink) {
        self.complete(pid, Reply::to_regs(Err(errno)), sink);
    }

    /// Blocked processes whose pending operation satisfies `f`, as
    /// (pid, pending) pairs.
    pub(crate) fn pending_where<'a>(
        &'a self,
        mut f: impl FnMut(&Pending) -> bool + 'a,
    ) -> impl Iterator<Item = (Pid, Pending)> + 'a {
        // With nobody blocked in a send or a receive there is nothing to
        // find: skip the scan (this keeps a send+recv pair flat in the
        // number of processes). Sleepers are never asked for.
        let procs = if self.blocked_senders + self.blocked_receivers == 0 {
            &self.procs[..0]
        } else {
            &self.procs[..]
        };
        procs.iter().filter_map(move |p| match p.pending {
            Some(op) if f(&op) => Some((p.pid, op)),
            _ => None,
        })
    }

    /// The reason `pid` is blocked, if it is.
    pub(crate) fn reason_of(&self, pid: Pid) -> Option<BlockReason> {
        self.process(pid).and_then(Pcb::block_reason)
    }
}
