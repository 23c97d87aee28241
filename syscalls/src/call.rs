//! System call numbers and the decoded `Syscall`, with its register encoding.
//!
//! Decoding is total: any [`Regs`] value either decodes to a [`Syscall`]
//! whose fields are in range, or to the [`Errno`] the kernel returns for it.
//! Registers a call does not use are ignored.

use crate::ids::tag_from_raw;
use crate::{
    Errno, Handle, Pid, Regs, Source, Tag, TagFilter, Timeout, UserAddr, MAX_MESSAGE_LEN,
    MAX_NAME_LEN,
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
}

impl Sysno {
    /// Every call number, in order.
    pub const ALL: [Sysno; 13] = [
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
    ];

    /// The call with number `n`, or `ENOSYS`.
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
        }
    }

    /// Decodes registers. Never panics; every failure is the errno the
    /// kernel returns to the caller, and nothing has changed yet.
    pub fn decode(regs: &Regs) -> Result<Syscall, Errno> {
        let a = regs.args;
        let call = match Sysno::from_raw(regs.sysno)? {
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
            Syscall::Yield | Syscall::GetPid | Syscall::Clock => [0; 6],
        };
        Regs { sysno, args }
    }
}

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
    fn empty_mailbox_name_is_enametoolong() {
        let regs = Regs::new(Sysno::MboxOpen as u64, [0, 0, 0, 0, 0, 0]);
        assert_eq!(Syscall::decode(&regs), Err(Errno::ENAMETOOLONG));
    }
}
