//! Process control blocks: identity, state, the operation a blocked process waits to complete.
//!
//! # Invariants
//! - `state` is `Blocked(_)` exactly when `pending` is `Some`, and the
//!   pending operation is of the kind the block reason names.
//! - `completion` is `Some` only for a process that is `Ready` or `Running`
//!   and has not yet collected the result of a call that blocked.

use heapless::String;
use ipclab_syscalls::{Pid, RetRegs, Source, Tag, TagFilter, UserAddr};

use crate::config::MAX_PROCESS_NAME;
use crate::{HandleTable, MailboxId};

/// What a blocked process waits for. Each reason names its peer or object,
/// so a wait-for graph can be read off the process table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockReason {
    /// In `send` to `to`: the kernel buffer (or the receiver's quota) is
    /// full, or the message goes by rendezvous (`rendezvous`: capacity 0 or
    /// longer than the eager limit) and `to` has not posted a matching receive.
    Send { to: Pid, rendezvous: bool },
    /// In `recv` from `from` (or anyone) for `tag` (or any).
    Recv { from: Source, tag: TagFilter },
    /// In `mbox_send`: the mailbox is full (or has capacity 0 and no
    /// receiver waits, or the message goes by rendezvous).
    MboxSend {
        mailbox: MailboxId,
        rendezvous: bool,
    },
    /// In `mbox_recv`: the mailbox holds no message for `tag`.
    MboxRecv { mailbox: MailboxId, tag: TagFilter },
    /// In `sleep` until tick `until`.
    Sleep { until: u64 },
    /// In an MPI call (`docs/mpi.md`): `call` is the call, `request` the
    /// kind of the (first) request it still waits for, `peer` that
    /// request's partner (a send's destination, a receive's or probe's
    /// source, `Any` for `MPI_ANY_SOURCE`), `tag` its tag or filter.
    Mpi {
        call: crate::MpiCall,
        request: Option<crate::RequestKind>,
        peer: Source,
        tag: TagFilter,
    },
    /// In `P(sem)`: the semaphore's count is 0.
    SemP { sem: crate::SemaphoreId },
    /// In `lock(mutex)`, or re-acquiring `mutex` after a condition-variable
    /// `wait` was signalled: `owner` holds it (and may have terminated).
    MutexLock { mutex: crate::MutexId, owner: Pid },
    /// In `wait(condvar, mutex)`: `mutex` was released; waits for a
    /// `signal` or `broadcast` on `condvar`.
    CondWait {
        condvar: crate::CondvarId,
        mutex: crate::MutexId,
    },
}

/// A process's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessState {
    /// Runnable, waiting for a CPU.
    Ready,
    /// On a CPU.
    Running,
    /// Waiting for the event its reason names.
    Blocked(BlockReason),
    /// Terminated with this code.
    Exited(i64),
}

/// The operation a blocked process waits to complete: the arguments the
/// kernel needs to finish it when a partner arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Pending {
    /// A send of `len` bytes at `buf`; `seq` is its place in arrival order.
    Send {
        dest: crate::Dest,
        buf: UserAddr,
        len: u64,
        tag: Tag,
        seq: u64,
    },
    /// A receive into `buf` (capacity `cap`); `seq` orders waiting receivers.
    Recv {
        at: crate::Dest,
        from: Source,
        tag: TagFilter,
        buf: UserAddr,
        cap: u64,
        seq: u64,
    },
    /// A sleep.
    Sleep,
    /// An MPI call; the request table holds the rest.
    Mpi(crate::mpi::MpiBlock),
    /// A semaphore, mutex or condition-variable wait (the block reason
    /// names the object); `seq` orders the waiters, oldest first.
    Sync { seq: u64 },
}

/// A process control block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pcb {
    /// Its id (slot and generation).
    pub pid: Pid,
    /// Its name, for traces.
    pub name: String<MAX_PROCESS_NAME>,
    /// Fixed priority; larger runs first.
    pub priority: u8,
    /// Size of its memory in bytes; every copy is checked against it.
    pub memory_size: u64,
    /// Scheduling state.
    pub state: ProcessState,
    /// Open handles.
    pub handles: HandleTable,
    pub(crate) pending: Option<Pending>,
    /// Tick at which the pending call times out, if it has a timeout.
    pub(crate) deadline: Option<u64>,
    /// The result of a blocking call that completed, until collected.
    pub(crate) completion: Option<RetRegs>,
    /// Place in the ready queue: lower runs first among equal priorities.
    pub(crate) ready_seq: u64,
    /// Ticks left in the current quantum while running.
    pub(crate) quantum_left: u32,
    /// Messages queued for this process (`Kernel::queued_at` without a scan).
    pub(crate) queued: u32,
}

impl Pcb {
    /// Is the process terminated?
    pub fn is_exited(&self) -> bool {
        matches!(self.state, ProcessState::Exited(_))
    }

    /// What the process is blocked on, if it is blocked.
    pub fn block_reason(&self) -> Option<BlockReason> {
        match self.state {
            ProcessState::Blocked(r) => Some(r),
            _ => None,
        }
    }

    /// The tick at which its pending call times out.
    pub fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// Has it a completed result not yet collected?
    pub fn has_completion(&self) -> bool {
        self.completion.is_some()
    }
}
