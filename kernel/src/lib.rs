//! ipclab-kernel: a `no_std` mini-kernel that models processes, a scheduler and message passing.
//!
//! The kernel is plain data ([`Kernel`] is `Clone + Eq + Hash`): a fixed
//! process table, a deterministic scheduler, a virtual clock, a bounded pool
//! of message slots and a table of mailboxes. It has no globals and no
//! allocator; every capacity is fixed at compile time (see [`config`]) and
//! may be lowered at boot ([`Config`]).
//!
//! A user program enters through [`Kernel::trap`] with its registers. The
//! kernel decodes them (a bad register is an [`ipclab_syscalls::Errno`],
//! never a panic), then performs the call: it completes now, or the caller
//! blocks with a [`BlockReason`] that names what it waits for, and a later
//! partner's call, a timer or an exit completes it (completion-based, as in
//! seL4 and Hubris). The embedder collects a completed result with
//! [`Kernel::take_completion`].
//!
//! Every state change is reported to a [`TraceSink`] the embedder hands in.
//! Chapter: `docs/kernel.md`; several CPUs and the interrupt ring:
//! `docs/concurrency.md`.
#![no_std]

#[cfg(test)]
extern crate std;

mod canonical_order;
pub mod config;
mod deadlock;
mod exit;
mod explore;
mod fastpath;
mod handle;
mod invariants;
mod ipc;
mod kernel;
mod keyboard;
mod mailbox;
mod message;
mod mpi;
mod pool;
mod process;
pub mod ring;
mod sched;
pub mod sync;
mod sync_objects;
#[cfg(test)]
mod testing;
mod trace;
mod trap;
mod umem;

pub use config::{Config, ConfigError, Policy};
pub use explore::DecodeError;
#[doc(hidden)]
pub use fastpath::FAST_PATH_CALLS;
pub use handle::{HandleTable, Object};
pub use invariants::InvariantViolation;
pub use kernel::{Kernel, SpawnError, Stats};
pub use keyboard::{DeviceId, Interrupt, Keyboard, MAX_KEYBOARD_RING};
pub use mailbox::{Mailbox, MailboxId};
pub use message::{Dest, Message};
pub use mpi::{
    Attached, Communicator, Holder, MpiCall, MpiMessage, MpiState, OwnedBuffer, OwnedKind, Request,
    RequestKind, RequestOp, RequestSlot, MAX_WAIT_COUNT,
};
pub use pool::{MessageIter, Messages};
pub use process::{BlockReason, Pcb, ProcessState};
pub use sched::TickReport;
pub use sync_objects::{
    Condvar, CondvarId, Mutex, MutexId, ObjectName, Semaphore, SemaphoreId, Shared, SharedId,
    SyncState,
};
pub use trace::{CopyEnd, Event, NullSink, TimerKind, TraceSink, UndeliverableReason};
pub use trap::{TrapError, TrapOutcome};
pub use umem::{Fault, UserMemory};
