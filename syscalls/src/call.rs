//! System call numbers and the decoded `Syscall`, with its register encoding.
//!
//! Decoding is total: any [`Regs`] value either decodes to a [`Syscall`]
//! whose fields are in range, or to the [`Errno`] the kernel returns for it.
//! Registers a call does not use are ignored.

use crate::ids::tag_from_raw;
use crate::{
    CommId, DeviceId, Errno, Handle, Pid, RankFilter, Regs, SendMode, Source, SyncCall, Tag,
    TagFilter, Timeout, UserAddr, MAX_MESSAGE_LEN, MAX_NAME_LEN,
};

/// The fixed system call numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Sysno {
    /// `send(to, buf, len, tag, flags, ticks)`.
    Send = 1,
    /// `recv(from | ANY, tag | ANY, buf, cap, flags, ticks)`.
    Recv = 2,
    /// `mbox_create(name, name_len, capacity)`.
    MboxCreate = 3,
    /// `mbox_open(name, name_len)`.
    MboxOpen = 4,
    /// `close(handle)`.
    Close = 5,
    /// `mbox_send(handle, buf, len, tag, flags, ticks)`.
    MboxSend = 6,
    /// `mbox_recv(handle, tag | ANY, buf, cap, flags, ticks)`.
    MboxRecv = 7,
    /// `mbox_destroy(handle)`.
    MboxDestroy = 8,
    /// `sleep(ticks)`.
    Sleep = 9,
    /// `exit(code)`.
    Exit = 10,
    /// `yield()`.
    Yield = 11,
    /// `getpid()`.
    GetPid = 12,
    /// `clock()`.
    Clock = 13,
    /// `P(sem, flags, ticks)`: see [`SyncCall::P`].
    P = 20,
    /// `V(sem)`.
    V = 21,
    /// `lock(mutex, flags, ticks)`.
    Lock = 22,
    /// `unlock(mutex)`.
    Unlock = 23,
    /// `wait(condvar, mutex)`.
    Wait = 24,
    /// `signal(condvar)`.
    Signal = 25,
    /// `broadcast(condvar)`.
    Broadcast = 26,
    /// `shared_load(segment, index)`.
    SharedLoad = 27,
    /// `shared_store(segment, index, value)`.
    SharedStore = 28,
    /// `dev_read(device)`: the oldest character of the device's ring.
    DevRead = 30,
    /// `comm_rank(comm)`: the caller's rank.
    CommRank = 40,
    /// `comm_size(comm)`.
    CommSize = 41,
    /// `mpi_send(mode, buf, len, dest rank, tag, comm)`.
    MpiSend = 42,
    /// `mpi_recv(buf, cap, source rank | ANY, tag | ANY, comm)`.
    MpiRecv = 43,
    /// `isend(mode, buf, len, dest rank, tag, comm)`: a request handle.
    Isend = 44,
    /// `irecv(buf, cap, source rank | ANY, tag | ANY, comm)`: a request handle.
    Irecv = 45,
    /// `waitall(handles, count)`: every request in the array.
    Waitall = 46,
    /// `waitany(handles, count)`: the first request of the array to complete.
    Waitany = 47,
    /// `test(handle_addr)`.
    Test = 48,
    /// `probe(source rank | ANY, tag | ANY, comm)`.
    Probe = 49,
    /// `iprobe(source rank | ANY, tag | ANY, comm)`.
    Iprobe = 50,
    /// `buffer_attach(addr, size)`.
    BufferAttach = 51,
    /// `buffer_detach()`.
    BufferDetach = 52,
}

impl Sysno {
    /// Every call number, in order.
    pub const ALL: [Sysno; 36] = [
        Sysno::Send,
        Sysno::Recv,
        Sysno::MboxCreate,
        Sysno::MboxOpen,
        Sysno::Close,
        Sysno::MboxSend,
        Sysno::MboxRecv,
        Sysno::MboxDestroy,
        Sysno::Sleep,
        Sysno::Exit,
        Sysno::Yield,
        Sysno::GetPid,
        Sysno::Clock,
        Sysno::P,
        Sysno::V,
        Sysno::Lock,
        Sysno::Unlock,
        Sysno::Wait,
        Sysno::Signal,
        Sysno::Broadcast,
        Sysno::SharedLoad,
        Sysno::SharedStore,
        Sysno::DevRead,
        Sysno::CommRank,
        Sysno::CommSize,
        Sysno::MpiSend,
        Sysno::MpiRecv,
        Sysno::Isend,
        Sysno::Irecv,
        Sysno::Waitall,
        Sysno::Waitany,
        Sysno::Test,
        Sysno::Probe,
        Sysno::Iprobe,
        Sysno::BufferAttach,
        Sysno::BufferDetach,
    ];

    /// The call with number `n`, or `ENOSYS`.
    #[inline]
    pub fn from_raw(n: u64) -> Result<Sysno, Errno> {
        Sysno::ALL
            .iter()
            .copied()
            .find(|s| *s as u64 == n)
            .ok_or(Errno::ENOSYS)
    }

    /// The call's name as traces and scenarios spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Sysno::Send => "send",
            Sysno::Recv => "recv",
            Sysno::MboxCreate => "mbox_create",
            Sysno::MboxOpen => "mbox_open",
            Sysno::Close => "close",
            Sysno::MboxSend => "mbox_send",
            Sysno::MboxRecv => "mbox_recv",
            Sysno::MboxDestroy => "mbox_destroy",
            Sysno::Sleep => "sleep",
            Sysno::Exit => "exit",
            Sysno::Yield => "yield",
            Sysno::GetPid => "getpid",
            Sysno::Clock => "clock",
            Sysno::P => "P",
            Sysno::V => "V",
            Sysno::Lock => "lock",
            Sysno::Unlock => "unlock",
            Sysno::Wait => "wait",
            Sysno::Signal => "signal",
            Sysno::Broadcast => "broadcast",
            Sysno::SharedLoad => "shared_load",
            Sysno::SharedStore => "shared_store",
            Sysno::DevRead => "dev_read",
            Sysno::CommRank => "comm_rank",
            Sysno::CommSize => "comm_size",
            Sysno::MpiSend => "mpi_send",
            Sysno::MpiRecv => "mpi_recv",
            Sysno::Isend => "isend",
            Sysno::Irecv => "irecv",
            Sysno::Waitall => "waitall",
            Sysno::Waitany => "waitany",
            Sysno::Test => "test",
            Sysno::Probe => "probe",
            Sysno::Iprobe => "iprobe",
            Sysno::BufferAttach => "buffer_attach",
            Sysno::BufferDetach => "buffer_detach",
        }
    }
}

/// A decoded system call. Each variant documents the errors it can return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syscall {
    /// Send `len` bytes at `buf` with `tag` to process `to`.
    ///
    /// Completes when the message is in a kernel slot (it fits the eager
    /// limit and a slot is free within the quotas) or has been copied to the
    /// receiver. Otherwise the sender blocks in `Send { to }`: buffer full,
    /// or rendezvous (capacity 0 or a message above the eager limit).
    ///
    /// # Errors
    /// `ESRCH` (no such pid, or stale), `EINVAL` (tag above `u32::MAX`, bad
    /// flags, sending to oneself), `EMSGSIZE` (`len` above
    /// [`MAX_MESSAGE_LEN`]), `EFAULT`, `EAGAIN` (non-blocking and would
    /// block), `ETIMEDOUT`, `EDEADLK` (deadlock refusal), `EDEADPEER`
    /// (policy `notify`: the receiver terminated).
    Send {
        to: Pid,
        buf: UserAddr,
        len: u64,
        tag: Tag,
        timeout: Timeout,
    },
    /// Receive into `buf` (capacity `cap`) the oldest message from `from`
    /// with a tag `tag` accepts. Returns the [`crate::MessageStatus`].
    ///
    /// # Errors
    /// `ESRCH` (no such pid), `EINVAL` (bad tag or flags, receiving from
    /// oneself), `EFAULT`, `EMSGSIZE` (the message is longer than `cap`: it
    /// stays queued, and the status in `r1..r3` gives its real length),
    /// `EAGAIN`, `ETIMEDOUT`, `EDEADLK`, `EDEADPEER` (policy `notify`: the
    /// named sender terminated and nothing from it is queued).
    Recv {
        from: Source,
        tag: TagFilter,
        buf: UserAddr,
        cap: u64,
        timeout: Timeout,
    },
    /// Create a mailbox named by the `name_len` bytes at `name`, holding up
    /// to `capacity` messages (0: rendezvous), and open it. Returns a handle.
    ///
    /// # Errors
    /// `ENAMETOOLONG`, `EFAULT`, `EEXIST`, `EINVAL` (capacity above the
    /// kernel's mailbox quota), `ENOSPC` (mailbox table full), `EMFILE`.
    MboxCreate {
        name: UserAddr,
        name_len: u64,
        capacity: u64,
    },
    /// Open the mailbox with that name. Returns a handle.
    ///
    /// # Errors
    /// `ENAMETOOLONG`, `EFAULT`, `ENOENT`, `EMFILE`.
    MboxOpen { name: UserAddr, name_len: u64 },
    /// Close a handle. Closing the last handle of a mailbox destroys it (its
    /// queued messages are reported undeliverable).
    ///
    /// # Errors
    /// `EBADF`.
    Close { handle: Handle },
    /// Send to a mailbox. Blocks in `MboxSend` while it is full; a message
    /// above the eager limit, or to a mailbox of capacity 0, goes by
    /// rendezvous with one of its receivers.
    ///
    /// # Errors
    /// `EBADF`, `EINVAL`, `EMSGSIZE` (above [`MAX_MESSAGE_LEN`]), `EFAULT`,
    /// `EAGAIN`, `ETIMEDOUT`, `EIDRM` (destroyed, also while waiting).
    MboxSend {
        handle: Handle,
        buf: UserAddr,
        len: u64,
        tag: Tag,
        timeout: Timeout,
    },
    /// Receive the oldest message of a mailbox whose tag `tag` accepts.
    /// Blocks in `MboxRecv` while there is none.
    ///
    /// # Errors
    /// `EBADF`, `EINVAL`, `EFAULT`, `EMSGSIZE` (stays queued, as for
    /// `Recv`), `EAGAIN`, `ETIMEDOUT`, `EIDRM`.
    MboxRecv {
        handle: Handle,
        tag: TagFilter,
        buf: UserAddr,
        cap: u64,
        timeout: Timeout,
    },
    /// Destroy a mailbox the caller created: every process blocked on it
    /// gets `EIDRM`, queued messages are reported undeliverable, every other
    /// handle to it answers `EIDRM` from then on.
    ///
    /// # Errors
    /// `EBADF`, `EPERM` (the caller did not create it).
    MboxDestroy { handle: Handle },
    /// Block for `ticks` ticks. Never fails.
    Sleep { ticks: u64 },
    /// Terminate the caller with `code`. Never returns.
    Exit { code: i64 },
    /// Give up the CPU: the caller goes to the back of its ready queue.
    Yield,
    /// The caller's own pid.
    GetPid,
    /// The current tick.
    Clock,
    /// The caller's rank in `comm` (`r1`).
    ///
    /// # Errors
    /// `EINVAL` (no such communicator, or the caller is not a member).
    CommRank { comm: CommId },
    /// The number of ranks in `comm` (`r1`).
    ///
    /// # Errors
    /// `EINVAL` (no such communicator).
    CommSize { comm: CommId },
    /// A blocking MPI send of `len` bytes at `buf` to rank `dest` of `comm`
    /// in `mode` (chapter `docs/mpi.md`, "Send modes"). Blocks in
    /// `Mpi { call: Send(mode), .. }` until the mode's completion rule holds.
    ///
    /// # Errors
    /// `EINVAL` (bad mode, communicator or rank; sending to oneself),
    /// `EMSGSIZE`, `EFAULT`, `ENORECV` (ready mode, no matching receive
    /// posted), `ENOBUFS` (buffered mode: `r1` needed, `r2` available),
    /// `ENOSPC`/`EMFILE` (request table full), `EDEADPEER` (`notify`).
    MpiSend {
        mode: SendMode,
        buf: UserAddr,
        len: u64,
        dest: u32,
        tag: Tag,
        comm: CommId,
    },
    /// A blocking MPI receive into `buf` (capacity `cap`). Returns the
    /// [`crate::MpiStatus`] in `r2`/`r3`.
    ///
    /// # Errors
    /// `EINVAL`, `EFAULT`, `EMSGSIZE` (the status says how long; the message
    /// stays queued), `ENOSPC`/`EMFILE`, `EDEADPEER` (`notify`).
    MpiRecv {
        buf: UserAddr,
        cap: u64,
        source: RankFilter,
        tag: TagFilter,
        comm: CommId,
    },
    /// Starts a send in `mode`; returns a request handle in `r1` at once.
    ///
    /// # Errors
    /// As [`Syscall::MpiSend`], at once (the request is not created).
    Isend {
        mode: SendMode,
        buf: UserAddr,
        len: u64,
        dest: u32,
        tag: Tag,
        comm: CommId,
    },
    /// Posts a receive; returns a request handle in `r1` at once.
    ///
    /// # Errors
    /// `EINVAL`, `EFAULT`, `ENOSPC` (kernel request table full), `EMFILE`
    /// (the caller's request bound).
    Irecv {
        buf: UserAddr,
        cap: u64,
        source: RankFilter,
        tag: TagFilter,
        comm: CommId,
    },
    /// Waits until every request whose handle is in the `count` words at
    /// `handles` has completed, frees them and writes `MPI_REQUEST_NULL`
    /// (0) over each handle. Null handles are skipped. `r1` = `count`; the
    /// status is that of the last request of the array.
    ///
    /// # Errors
    /// `EINVAL` (count above the per-process request bound), `EFAULT`,
    /// `EBADRQC` (a handle that names no live request of the caller), or
    /// the first error a request completed with.
    Waitall { handles: UserAddr, count: u64 },
    /// Waits until one request of the array has completed; frees it and
    /// nulls its handle. `r1` = its index (`u64::MAX` when every handle is
    /// null), with its status.
    ///
    /// # Errors
    /// As [`Syscall::Waitall`].
    Waitany { handles: UserAddr, count: u64 },
    /// Has the request whose handle is the word at `handle` completed?
    /// `r1` = 1 with its status (the request is freed and the handle
    /// nulled), or 0. Never blocks.
    ///
    /// # Errors
    /// `EFAULT`, `EBADRQC`, or the error the request completed with.
    Test { handle: UserAddr },
    /// Blocks until a message from `source` with `tag` is available in
    /// `comm`, without receiving it; its status in `r2`/`r3`.
    ///
    /// # Errors
    /// `EINVAL`, `EDEADPEER` (`notify`).
    Probe {
        source: RankFilter,
        tag: TagFilter,
        comm: CommId,
    },
    /// A semaphore, mutex, condition variable or shared-word call
    /// (`docs/kernel.md`, "Synchronisation objects"); see [`SyncCall`].
    Sync(SyncCall),
    /// The device thread takes the oldest character out of `device`'s
    /// interrupt ring: `r1` = the character. It calls this after `P` on the
    /// device semaphore, which the interrupt handler raises once per
    /// stored character (`docs/concurrency.md`, "Keyboard").
    ///
    /// # Errors
    /// `ENODEV` (no such device), `EAGAIN` (the ring is empty: the caller
    /// did not `P` first).
    DevRead { device: DeviceId },
    /// [`Syscall::Probe`] without blocking: `r1` = 1 with the status, or 0.
    ///
    /// # Errors
    /// `EINVAL`.
    Iprobe {
        source: RankFilter,
        tag: TagFilter,
        comm: CommId,
    },
    /// Gives the kernel the `size` bytes at `addr` for buffered sends.
    ///
    /// # Errors
    /// `EFAULT`, `EINVAL` (a buffer is already attached).
    BufferAttach { addr: UserAddr, size: u64 },
    /// Blocks until every buffered message of the caller has been
    /// delivered, then takes the buffer back: `r1` = its address, `r2` = its size.
    ///
    /// # Errors
    /// `EINVAL` (no buffer attached).
    BufferDetach,
}

impl Syscall {
    /// The call's number.
    pub const fn sysno(&self) -> Sysno {
        match self {
            Syscall::Send { .. } => Sysno::Send,
            Syscall::Recv { .. } => Sysno::Recv,
            Syscall::MboxCreate { .. } => Sysno::MboxCreate,
            Syscall::MboxOpen { .. } => Sysno::MboxOpen,
            Syscall::Close { .. } => Sysno::Close,
            Syscall::MboxSend { .. } => Sysno::MboxSend,
            Syscall::MboxRecv { .. } => Sysno::MboxRecv,
            Syscall::MboxDestroy { .. } => Sysno::MboxDestroy,
            Syscall::Sleep { .. } => Sysno::Sleep,
            Syscall::Exit { .. } => Sysno::Exit,
            Syscall::Yield => Sysno::Yield,
            Syscall::GetPid => Sysno::GetPid,
            Syscall::Clock => Sysno::Clock,
            Syscall::Sync(call) => call.sysno(),
            Syscall::DevRead { .. } => Sysno::DevRead,
            Syscall::CommRank { .. } => Sysno::CommRank,
            Syscall::CommSize { .. } => Sysno::CommSize,
            Syscall::MpiSend { .. } => Sysno::MpiSend,
            Syscall::MpiRecv { .. } => Sysno::MpiRecv,
            Syscall::Isend { .. } => Sysno::Isend,
            Syscall::Irecv { .. } => Sysno::Irecv,
            Syscall::Waitall { .. } => Sysno::Waitall,
            Syscall::Waitany { .. } => Sysno::Waitany,
            Syscall::Test { .. } => Sysno::Test,
            Syscall::Probe { .. } => Sysno::Probe,
            Syscall::Iprobe { .. } => Sysno::Iprobe,
            Syscall::BufferAttach { .. } => Sysno::BufferAttach,
            Syscall::BufferDetach => Sysno::BufferDetach,
        }
    }

    /// Decodes registers. Never panics; every failure is the errno the
    /// kernel returns to the caller, and nothing has changed yet.
    #[inline]
    pub fn decode(regs: &Regs) -> Result<Syscall, Errno> {
        let a = regs.args;
        let sysno = Sysno::from_raw(regs.sysno)?;
        if let Some(call) = SyncCall::decode(sysno, &a) {
            return call.map(Syscall::Sync);
        }
        let call = match sysno {
            Sysno::Send => Syscall::Send {
                to: Pid::from_raw(a[0])?,
                buf: a[1],
                len: message_len(a[2])?,
                tag: tag_from_raw(a[3])?,
                timeout: Timeout::from_raw(a[4], a[5])?,
            },
            Sysno::Recv => Syscall::Recv {
                from: Source::from_raw(a[0])?,
                tag: TagFilter::from_raw(a[1])?,
                buf: a[2],
                cap: a[3],
                timeout: Timeout::from_raw(a[4], a[5])?,
            },
            Sysno::MboxCreate => Syscall::MboxCreate {
                name: a[0],
                name_len: name_len(a[1])?,
                capacity: if a[2] > u32::MAX as u64 {
                    return Err(Errno::EINVAL);
                } else {
                    a[2]
                },
            },
            Sysno::MboxOpen => Syscall::MboxOpen {
                name: a[0],
                name_len: name_len(a[1])?,
            },
            Sysno::Close => Syscall::Close {
                handle: Handle::from_raw(a[0])?,
            },
            Sysno::MboxSend => Syscall::MboxSend {
                handle: Handle::from_raw(a[0])?,
                buf: a[1],
                len: message_len(a[2])?,
                tag: tag_from_raw(a[3])?,
                timeout: Timeout::from_raw(a[4], a[5])?,
            },
            Sysno::MboxRecv => Syscall::MboxRecv {
                handle: Handle::from_raw(a[0])?,
                tag: TagFilter::from_raw(a[1])?,
                buf: a[2],
                cap: a[3],
                timeout: Timeout::from_raw(a[4], a[5])?,
            },
            Sysno::MboxDestroy => Syscall::MboxDestroy {
                handle: Handle::from_raw(a[0])?,
            },
            Sysno::Sleep => Syscall::Sleep { ticks: a[0] },
            Sysno::Exit => Syscall::Exit { code: a[0] as i64 },
            Sysno::Yield => Syscall::Yield,
            Sysno::GetPid => Syscall::GetPid,
            Sysno::Clock => Syscall::Clock,
            Sysno::CommRank => Syscall::CommRank {
                comm: CommId::from_raw(a[0])?,
            },
            Sysno::CommSize => Syscall::CommSize {
                comm: CommId::from_raw(a[0])?,
            },
            Sysno::MpiSend | Sysno::Isend => {
                let mode = SendMode::from_raw(a[0])?;
                let (buf, len) = (a[1], message_len(a[2])?);
                let dest = u32::try_from(a[3]).map_err(|_| Errno::EINVAL)?;
                let (tag, comm) = (tag_from_raw(a[4])?, CommId::from_raw(a[5])?);
                if regs.sysno == Sysno::MpiSend as u64 {
                    Syscall::MpiSend {
                        mode,
                        buf,
                        len,
                        dest,
                        tag,
                        comm,
                    }
                } else {
                    Syscall::Isend {
                        mode,
                        buf,
                        len,
                        dest,
                        tag,
                        comm,
                    }
                }
            }
            Sysno::MpiRecv | Sysno::Irecv => {
                let (buf, cap) = (a[0], a[1]);
                let source = RankFilter::from_raw(a[2])?;
                let (tag, comm) = (TagFilter::from_raw(a[3])?, CommId::from_raw(a[4])?);
                if regs.sysno == Sysno::MpiRecv as u64 {
                    Syscall::MpiRecv {
                        buf,
                        cap,
                        source,
                        tag,
                        comm,
                    }
                } else {
                    Syscall::Irecv {
                        buf,
                        cap,
                        source,
                        tag,
                        comm,
                    }
                }
            }
            Sysno::Waitall => Syscall::Waitall {
                handles: a[0],
                count: a[1],
            },
            Sysno::Waitany => Syscall::Waitany {
                handles: a[0],
                count: a[1],
            },
            Sysno::Test => Syscall::Test { handle: a[0] },
            Sysno::Probe | Sysno::Iprobe => {
                let source = RankFilter::from_raw(a[0])?;
                let (tag, comm) = (TagFilter::from_raw(a[1])?, CommId::from_raw(a[2])?);
                if regs.sysno == Sysno::Probe as u64 {
                    Syscall::Probe { source, tag, comm }
                } else {
                    Syscall::Iprobe { source, tag, comm }
                }
            }
            Sysno::BufferAttach => Syscall::BufferAttach {
                addr: a[0],
                size: a[1],
            },
            Sysno::BufferDetach => Syscall::BufferDetach,
            Sysno::DevRead => Syscall::DevRead {
                device: DeviceId::from_raw(a[0])?,
            },
            Sysno::P
            | Sysno::V
            | Sysno::Lock
            | Sysno::Unlock
            | Sysno::Wait
            | Sysno::Signal
            | Sysno::Broadcast
            | Sysno::SharedLoad
            | Sysno::SharedStore => return Err(Errno::ENOSYS),
        };
        Ok(call)
    }

    /// Encodes the call into registers; `decode(&c.encode()) == Ok(c)` for
    /// every call whose fields are in range.
    pub const fn encode(&self) -> Regs {
        let sysno = self.sysno() as u64;
        let args = match *self {
            Syscall::Send {
                to,
                buf,
                len,
                tag,
                timeout,
            } => {
                let (f, t) = timeout.to_raw();
                [to.to_raw(), buf, len, tag as u64, f, t]
            }
            Syscall::Recv {
                from,
                tag,
                buf,
                cap,
                timeout,
            } => {
                let (f, t) = timeout.to_raw();
                [from.to_raw(), tag.to_raw(), buf, cap, f, t]
            }
            Syscall::MboxCreate {
                name,
                name_len,
                capacity,
            } => [name, name_len, capacity, 0, 0, 0],
            Syscall::MboxOpen { name, name_len } => [name, name_len, 0, 0, 0, 0],
            Syscall::Close { handle } | Syscall::MboxDestroy { handle } => {
                [handle.to_raw(), 0, 0, 0, 0, 0]
            }
            Syscall::MboxSend {
                handle,
                buf,
                len,
                tag,
                timeout,
            } => {
                let (f, t) = timeout.to_raw();
                [handle.to_raw(), buf, len, tag as u64, f, t]
            }
            Syscall::MboxRecv {
                handle,
                tag,
                buf,
                cap,
                timeout,
            } => {
                let (f, t) = timeout.to_raw();
                [handle.to_raw(), tag.to_raw(), buf, cap, f, t]
            }
            Syscall::Sleep { ticks } => [ticks, 0, 0, 0, 0, 0],
            Syscall::Exit { code } => [code as u64, 0, 0, 0, 0, 0],
            Syscall::Yield | Syscall::GetPid | Syscall::Clock | Syscall::BufferDetach => [0; 6],
            Syscall::CommRank { comm } | Syscall::CommSize { comm } => {
                [comm.to_raw(), 0, 0, 0, 0, 0]
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
            } => [
                mode as u64,
                buf,
                len,
                dest as u64,
                tag as u64,
                comm.to_raw(),
            ],
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
            } => [buf, cap, source.to_raw(), tag.to_raw(), comm.to_raw(), 0],
            Syscall::Waitall { handles, count } | Syscall::Waitany { handles, count } => {
                [handles, count, 0, 0, 0, 0]
            }
            Syscall::Test { handle } => [handle, 0, 0, 0, 0, 0],
            Syscall::Probe { source, tag, comm } | Syscall::Iprobe { source, tag, comm } => {
                [source.to_raw(), tag.to_raw(), comm.to_raw(), 0, 0, 0]
            }
            Syscall::BufferAttach { addr, size } => [addr, size, 0, 0, 0, 0],
            Syscall::Sync(call) => call.args(),
            Syscall::DevRead { device } => [device.to_raw(), 0, 0, 0, 0, 0],
        };
        Regs { sysno, args }
    }
}

#[inline]
fn message_len(raw: u64) -> Result<u64, Errno> {
    if raw > MAX_MESSAGE_LEN {
        Err(Errno::EMSGSIZE)
    } else {
        Ok(raw)
    }
}

fn name_len(raw: u64) -> Result<u64, Errno> {
    if raw == 0 || raw > MAX_NAME_LEN {
        Err(Errno::ENAMETOOLONG)
    } else {
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_numbers_are_enosys() {
        assert_eq!(Syscall::decode(&Regs::new(0, [0; 6])), Err(Errno::ENOSYS));
        assert_eq!(
            Syscall::decode(&Regs::new(u64::MAX, [u64::MAX; 6])),
            Err(Errno::ENOSYS)
        );
    }

    #[test]
    fn send_round_trips_through_registers() {
        let call = Syscall::Send {
            to: Pid::new(3, 1),
            buf: 64,
            len: 8,
            tag: 5,
            timeout: Timeout::After(10),
        };
        assert_eq!(Syscall::decode(&call.encode()), Ok(call));
    }

    #[test]
    fn oversized_send_is_emsgsize_before_anything_happens() {
        let regs = Regs::new(
            Sysno::Send as u64,
            [Pid::new(0, 1).to_raw(), 0, MAX_MESSAGE_LEN + 1, 0, 0, 0],
        );
        assert_eq!(Syscall::decode(&regs), Err(Errno::EMSGSIZE));
    }

    #[test]
    fn mpi_calls_round_trip_through_registers() {
        let calls = [
            Syscall::MpiSend {
                mode: SendMode::Ready,
                buf: 8,
                len: 16,
                dest: 3,
                tag: 9,
                comm: CommId::WORLD,
            },
            Syscall::Irecv {
                buf: 8,
                cap: 16,
                source: RankFilter::Any,
                tag: TagFilter::Any,
                comm: CommId(2),
            },
            Syscall::Probe {
                source: RankFilter::Rank(1),
                tag: TagFilter::Tag(4),
                comm: CommId::WORLD,
            },
            Syscall::Waitany {
                handles: 64,
                count: 2,
            },
            Syscall::BufferDetach,
        ];
        for call in calls {
            assert_eq!(Syscall::decode(&call.encode()), Ok(call));
        }
    }

    #[test]
    fn mpi_context_zero_and_unknown_modes_are_einval() {
        let send = |mode, comm| Regs::new(Sysno::MpiSend as u64, [mode, 0, 8, 1, 0, comm]);
        assert_eq!(Syscall::decode(&send(0, 0)), Err(Errno::EINVAL));
        assert_eq!(Syscall::decode(&send(4, 1)), Err(Errno::EINVAL));
        assert!(Syscall::decode(&send(3, 1)).is_ok());
    }

    #[test]
    fn empty_mailbox_name_is_enametoolong() {
        let regs = Regs::new(Sysno::MboxOpen as u64, [0, 0, 0, 0, 0, 0]);
        assert_eq!(Syscall::decode(&regs), Err(Errno::ENAMETOOLONG));
    }
}
