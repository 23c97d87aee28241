//! Typed user-side wrappers: what a user program calls instead of filling registers by hand.
//!
//! Every wrapper encodes a [`Syscall`], passes the registers through the one
//! [`Trap`] hook the embedder provides, and decodes the result registers. A
//! call that blocks returns when the kernel completes it; how the embedder
//! waits for that (a host thread parking, a simulator step) is its business.

use crate::{
    Errno, Handle, MessageStatus, Pid, Regs, Reply, RetRegs, Source, Syscall, Tag, TagFilter,
    Timeout, UserAddr,
};

/// The embedder's hook: trap into the kernel with `regs` and return the
/// result registers once the call has completed.
pub trait Trap {
    /// Traps with `regs`; returns the result registers.
    fn trap(&mut self, regs: Regs) -> RetRegs;
}

fn call<T: Trap + ?Sized>(t: &mut T, c: Syscall) -> Result<Reply, Errno> {
    Reply::from_regs(t.trap(c.encode()))
}

/// `send(to, buf, len, tag)`: see [`Syscall::Send`].
pub fn send<T: Trap + ?Sized>(
    t: &mut T,
    to: Pid,
    buf: UserAddr,
    len: u64,
    tag: Tag,
    timeout: Timeout,
) -> Result<(), Errno> {
    call(
        t,
        Syscall::Send {
            to,
            buf,
            len,
            tag,
            timeout,
        },
    )
    .map(|_| ())
}

/// The outcome of a receive that found a message too long for the buffer:
/// the error and the status of the message that stays queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError {
    /// Why the receive failed.
    pub errno: Errno,
    /// For `EMSGSIZE`: the message that did not fit (still queued).
    pub pending: Option<MessageStatus>,
}

fn recv_result(regs: RetRegs) -> Result<MessageStatus, RecvError> {
    match Reply::from_regs(regs) {
        Ok(reply) => reply.status().ok_or(RecvError {
            errno: Errno::EINVAL,
            pending: None,
        }),
        Err(errno) => Err(RecvError {
            errno,
            pending: if errno == Errno::EMSGSIZE {
                crate::status::status_of_error(regs)
            } else {
                None
            },
        }),
    }
}

/// `recv(from, tag, buf, cap)`: see [`Syscall::Recv`].
pub fn recv<T: Trap + ?Sized>(
    t: &mut T,
    from: Source,
    tag: TagFilter,
    buf: UserAddr,
    cap: u64,
    timeout: Timeout,
) -> Result<MessageStatus, RecvError> {
    recv_result(
        t.trap(
            Syscall::Recv {
                from,
                tag,
                buf,
                cap,
                timeout,
            }
            .encode(),
        ),
    )
}

/// `mbox_create(name, capacity)`: see [`Syscall::MboxCreate`].
pub fn mbox_create<T: Trap + ?Sized>(
    t: &mut T,
    name: UserAddr,
    name_len: u64,
    capacity: u64,
) -> Result<Handle, Errno> {
    call(
        t,
        Syscall::MboxCreate {
            name,
            name_len,
            capacity,
        },
    )
    .map(|r| Handle(r.value as u32))
}

/// `mbox_open(name)`: see [`Syscall::MboxOpen`].
pub fn mbox_open<T: Trap + ?Sized>(
    t: &mut T,
    name: UserAddr,
    name_len: u64,
) -> Result<Handle, Errno> {
    call(t, Syscall::MboxOpen { name, name_len }).map(|r| Handle(r.value as u32))
}

/// `close(handle)`: see [`Syscall::Close`].
pub fn close<T: Trap + ?Sized>(t: &mut T, handle: Handle) -> Result<(), Errno> {
    call(t, Syscall::Close { handle }).map(|_| ())
}

/// `mbox_send(handle, buf, len, tag)`: see [`Syscall::MboxSend`].
pub fn mbox_send<T: Trap + ?Sized>(
    t: &mut T,
    handle: Handle,
    buf: UserAddr,
    len: u64,
    tag: Tag,
    timeout: Timeout,
) -> Result<(), Errno> {
    call(
        t,
        Syscall::MboxSend {
            handle,
            buf,
            len,
            tag,
            timeout,
        },
    )
    .map(|_| ())
}

/// `mbox_recv(handle, tag, buf, cap)`: see [`Syscall::MboxRecv`].
pub fn mbox_recv<T: Trap + ?Sized>(
    t: &mut T,
    handle: Handle,
    tag: TagFilter,
    buf: UserAddr,
    cap: u64,
    timeout: Timeout,
) -> Result<MessageStatus, RecvError> {
    recv_result(
        t.trap(
            Syscall::MboxRecv {
                handle,
                tag,
                buf,
                cap,
                timeout,
            }
            .encode(),
        ),
    )
}

/// `mbox_destroy(handle)`: see [`Syscall::MboxDestroy`].
pub fn mbox_destroy<T: Trap + ?Sized>(t: &mut T, handle: Handle) -> Result<(), Errno> {
    call(t, Syscall::MboxDestroy { handle }).map(|_| ())
}

/// `sleep(ticks)`.
pub fn sleep<T: Trap + ?Sized>(t: &mut T, ticks: u64) {
    let _ = call(t, Syscall::Sleep { ticks });
}

/// `exit(code)`. The kernel never answers; the hook may return anything.
pub fn exit<T: Trap + ?Sized>(t: &mut T, code: i64) {
    let _ = call(t, Syscall::Exit { code });
}

/// `yield()`.
pub fn yield_now<T: Trap + ?Sized>(t: &mut T) {
    let _ = call(t, Syscall::Yield);
}

/// `getpid()`.
pub fn getpid<T: Trap + ?Sized>(t: &mut T) -> Result<Pid, Errno> {
    call(t, Syscall::GetPid).and_then(|r| Pid::from_raw(r.value))
}

/// `clock()`: the current tick.
pub fn clock<T: Trap + ?Sized>(t: &mut T) -> Result<u64, Errno> {
    call(t, Syscall::Clock).map(|r| r.value)
}

fn sync<T: Trap + ?Sized>(t: &mut T, c: crate::SyncCall) -> Result<Reply, Errno> {
    call(t, Syscall::Sync(c))
}

/// `P(sem)`: see [`crate::SyncCall::P`].
pub fn sem_p<T: Trap + ?Sized>(t: &mut T, sem: Handle, timeout: Timeout) -> Result<(), Errno> {
    sync(t, crate::SyncCall::P { sem, timeout }).map(|_| ())
}

/// `V(sem)`: see [`crate::SyncCall::V`].
pub fn sem_v<T: Trap + ?Sized>(t: &mut T, sem: Handle) -> Result<(), Errno> {
    sync(t, crate::SyncCall::V { sem }).map(|_| ())
}

/// `lock(mutex)`: see [`crate::SyncCall::Lock`].
pub fn lock<T: Trap + ?Sized>(t: &mut T, mutex: Handle, timeout: Timeout) -> Result<(), Errno> {
    sync(t, crate::SyncCall::Lock { mutex, timeout }).map(|_| ())
}

/// `unlock(mutex)`: see [`crate::SyncCall::Unlock`].
pub fn unlock<T: Trap + ?Sized>(t: &mut T, mutex: Handle) -> Result<(), Errno> {
    sync(t, crate::SyncCall::Unlock { mutex }).map(|_| ())
}

/// `wait(condvar, mutex)`: see [`crate::SyncCall::Wait`].
pub fn wait<T: Trap + ?Sized>(t: &mut T, condvar: Handle, mutex: Handle) -> Result<(), Errno> {
    sync(t, crate::SyncCall::Wait { condvar, mutex }).map(|_| ())
}

/// `signal(condvar)`: see [`crate::SyncCall::Signal`].
pub fn signal<T: Trap + ?Sized>(t: &mut T, condvar: Handle) -> Result<(), Errno> {
    sync(t, crate::SyncCall::Signal { condvar }).map(|_| ())
}

/// `broadcast(condvar)`: see [`crate::SyncCall::Broadcast`].
pub fn broadcast<T: Trap + ?Sized>(t: &mut T, condvar: Handle) -> Result<(), Errno> {
    sync(t, crate::SyncCall::Broadcast { condvar }).map(|_| ())
}

/// Reads word `index` of a shared segment: see [`crate::SyncCall::SharedLoad`].
pub fn shared_load<T: Trap + ?Sized>(t: &mut T, shared: Handle, index: u64) -> Result<u64, Errno> {
    sync(t, crate::SyncCall::SharedLoad { shared, index }).map(|r| r.value)
}

/// Writes word `index` of a shared segment: see [`crate::SyncCall::SharedStore`].
pub fn shared_store<T: Trap + ?Sized>(
    t: &mut T,
    shared: Handle,
    index: u64,
    value: u64,
) -> Result<(), Errno> {
    sync(
        t,
        crate::SyncCall::SharedStore {
            shared,
            index,
            value,
        },
    )
    .map(|_| ())
}
