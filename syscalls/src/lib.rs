//! ipclab-syscalls: the system call ABI shared by the kernel, the simulator and every test.
//!
//! A user program asks the kernel for a service by putting a system call
//! number and six arguments into registers ([`Regs`]) and trapping. The
//! kernel answers in four result registers ([`RetRegs`]). This crate is the
//! one place that says what each register means:
//!
//! - [`Sysno`]: the fixed system call numbers;
//! - [`Syscall`]: a decoded call, with [`Syscall::encode`] and
//!   [`Syscall::decode`]; decoding arbitrary registers returns an [`Errno`]
//!   and never panics;
//! - [`Errno`]: the one error table, with fixed numbers;
//! - [`Pid`], [`Handle`], [`Tag`], [`Source`], [`Flags`], [`Timeout`],
//!   [`MessageStatus`]: the types the calls carry;
//! - [`SendMode`], [`CommId`], [`RankFilter`], [`RequestHandle`],
//!   [`MpiStatus`]: the MPI-style calls' types (`docs/mpi.md`);
//! - [`SyncCall`]: semaphores, mutexes, condition variables and shared
//!   words (`docs/kernel.md`, "Synchronisation objects");
//! - [`DeviceId`]: the device a `dev_read` reads (`docs/concurrency.md`,
//!   "Keyboard");
//! - [`user`]: typed wrappers a user program calls, which go through one
//!   [`user::Trap`] hook that the embedder provides.
//!
//! The crate is `no_std` and has no dependencies.
#![no_std]

mod call;
mod device;
mod errno;
mod flags;
mod ids;
mod mpi;
mod regs;
mod status;
mod sync;
pub mod user;

pub use call::{Syscall, Sysno};
pub use device::DeviceId;
pub use errno::Errno;
pub use flags::{Flags, Timeout};
pub use ids::{tag_from_raw, Handle, NodeId, Pid, Source, Tag, TagFilter};
pub use mpi::{CommId, MpiStatus, Rank, RankFilter, RequestHandle, SendMode};
pub use regs::{Regs, RetRegs};
pub use status::{MessageStatus, Reply};
pub use sync::SyncCall;

/// A user-space address in the calling process's simulated memory.
///
/// It is an allegation from the process: the kernel checks it against the
/// process's memory on every copy and answers [`Errno::EFAULT`] when it does
/// not fit.
pub type UserAddr = u64;

/// The longest message any send may carry, in bytes.
///
/// Messages up to the kernel's eager limit are copied into a kernel slot;
/// longer ones go by rendezvous (user to user). Longer than this is
/// [`Errno::EMSGSIZE`] at once.
pub const MAX_MESSAGE_LEN: u64 = 64 * 1024;

/// The longest mailbox name, in bytes.
pub const MAX_NAME_LEN: u64 = 16;
