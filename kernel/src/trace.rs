//! Trace events: every state change the kernel makes, handed to a sink the embedder provides.

use ipclab_syscalls::{Errno, Pid, RetRegs, Syscall, Tag};

use crate::{BlockReason, Dest, MailboxId};

/// One end of a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CopyEnd {
    /// A process's memory at an address.
    User { pid: Pid, addr: u64 },
    /// A kernel message slot, named by the message's id.
    Kernel { message: u64 },
}

/// Why a message could not be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UndeliverableReason {
    /// Its receiver terminated with the message still queued.
    ReceiverExited,
    /// It was sent to a process that had already terminated.
    SentToExited,
    /// Its mailbox was destroyed with the message still queued.
    MailboxDestroyed,
}

/// What a timer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// A blocking call's timeout expired (`ETIMEDOUT`).
    Timeout,
    /// A `sleep` ended.
    SleepDone,
}

/// A kernel trace event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A process was created.
    Spawn { pid: Pid, priority: u8 },
    /// A process trapped with a call that decoded.
    Syscall { pid: Pid, call: Syscall },
    /// A call's registers did not decode; nothing changed.
    BadCall { pid: Pid, sysno: u64, errno: Errno },
    /// A call completed at once; `result` is in the caller's registers.
    Return { pid: Pid, result: RetRegs },
    /// The caller blocked.
    Block { pid: Pid, reason: BlockReason },
    /// A blocked process was completed (by a partner, a timer or an exit)
    /// and is ready again with `result`.
    Wake { pid: Pid, result: RetRegs },
    /// Bytes were copied (user to kernel, kernel to user, user to user).
    Copy {
        from: CopyEnd,
        to: CopyEnd,
        bytes: u64,
    },
    /// A message entered a kernel slot; `queued` messages now wait at `dest`.
    Enqueue {
        message: u64,
        from: Pid,
        dest: Dest,
        tag: Tag,
        len: u64,
        queued: u32,
    },
    /// A message reached its receiver (`direct`: straight from the sender,
    /// without a kernel slot).
    Deliver {
        message: u64,
        from: Pid,
        to: Pid,
        dest: Dest,
        tag: Tag,
        len: u64,
        direct: bool,
    },
    /// MPI: message `message`, `len` bytes, was longer than the buffer of
    /// the receive of `to` that matched it: `copied` bytes (the buffer's
    /// size) went in, the receive completed with `EMSGSIZE`, and the
    /// message is consumed (its `Deliver` event comes just before).
    Truncated {
        message: u64,
        to: Pid,
        len: u64,
        copied: u64,
    },
    /// MPI: the pending send `message` of `from` to `dest` was cancelled
    /// because `from` terminated. Not a lost message: it was never
    /// accepted (no slot, no attached buffer held it), so it is neither
    /// delivered nor undeliverable and `Stats` does not count it.
    SendCancelled { message: u64, from: Pid, dest: Dest },
    /// A message was accepted but can never be delivered (counted in
    /// `Stats::undeliverable`).
    Undeliverable {
        message: u64,
        from: Pid,
        dest: Dest,
        reason: UndeliverableReason,
    },
    /// A mailbox was created.
    MailboxCreated { mailbox: MailboxId, capacity: u32 },
    /// A mailbox was destroyed.
    MailboxDestroyed { mailbox: MailboxId },
    /// A process terminated.
    Exit { pid: Pid, code: i64 },
    /// A CPU switched from one process to another (`None`: idle).
    Switch { from: Option<Pid>, to: Option<Pid> },
    /// A timer fired for `pid`.
    Timer { pid: Pid, kind: TimerKind },
    /// A device interrupt stored `byte` in the device's ring, where
    /// `queued` characters now wait; the device semaphore is raised next.
    Interrupt {
        device: crate::DeviceId,
        byte: u8,
        queued: u32,
    },
    /// A device interrupt found the ring full: `byte` was dropped, the
    /// `overruns`-th so far. Reported, never silent.
    Overrun {
        device: crate::DeviceId,
        byte: u8,
        overruns: u64,
    },
}

/// Where the kernel writes its events. `now` is the current tick.
pub trait TraceSink {
    /// Receives one event.
    fn event(&mut self, now: u64, event: &Event);
}

/// A sink that drops every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl TraceSink for NullSink {
    fn event(&mut self, _now: u64, _event: &Event) {}
}
