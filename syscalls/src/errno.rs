//! The error table: every error any system call returns, with its fixed number.
//!
//! The numbers follow Linux where Linux has the same meaning, so that a
//! student who has met `EAGAIN` or `ESRCH` before meets the same number here.
//! [`Errno::EDEADPEER`] is ipclab's own (as in QNX and Zircon, a peer
//! terminated while a call waited on it).

use core::fmt;

/// A system call error. The discriminant is the number the kernel writes to
/// result register `r0`; it never changes between versions.
///
/// | number | name | meaning |
/// |---:|---|---|
/// | 1 | `EPERM` | the caller may not do this to the object (destroying a mailbox it did not create; `unlock` of a mutex, or `wait` with a mutex, that it does not hold) |
/// | 2 | `ENOENT` | no mailbox has that name |
/// | 3 | `ESRCH` | no such process: the pid never existed, or it is stale (its slot was reused) |
/// | 9 | `EBADF` | the handle is not open in the caller's handle table, or names an object of another kind (a mutex given to `P`) |
/// | 11 | `EAGAIN` | the call would block and the caller asked it not to (`NONBLOCK`) |
/// | 14 | `EFAULT` | an (address, length) pair does not lie inside the caller's memory |
/// | 17 | `EEXIST` | a mailbox with that name already exists |
/// | 19 | `ENODEV` | no such device (`dev_read` of a device the scenario does not declare) |
/// | 22 | `EINVAL` | an argument is out of range (unknown flag bits, a tag above `u32::MAX`, a zero capacity where one is needed, a shared word beyond its segment, `V` of a semaphore at `u32::MAX`, one MPI request named twice in a `waitall`/`waitany`, `r1` = the index of the second naming...) |
/// | 24 | `EMFILE` | the caller's handle table is full |
/// | 28 | `ENOSPC` | a kernel table (mailboxes, processes) is full |
/// | 35 | `EDEADLK` | blocking would close a wait-for cycle and the kernel refuses deadlocking calls; or `lock` of a mutex the caller already holds |
/// | 36 | `ENAMETOOLONG` | a mailbox name is longer than [`crate::MAX_NAME_LEN`] or empty |
/// | 38 | `ENOSYS` | no system call has that number |
/// | 43 | `EIDRM` | the mailbox was destroyed (also to processes blocked on it) |
/// | 56 | `EBADRQC` | no such MPI request: the handle is not a live request of the caller (stale, already completed and freed, or never issued) |
/// | 90 | `EMSGSIZE` | the message does not fit: longer than [`crate::MAX_MESSAGE_LEN`] on send, or longer than the buffer on receive (plain calls: the message stays queued and `r1` holds its length; an MPI receive is truncated, `MPI_ERR_TRUNCATE`: it takes the message, gets the part that fits, and its status gives the real length in `r2`) |
/// | 105 | `ENOBUFS` | `bsend`: the attached buffer has too little free space; `r1` = bytes needed, `r2` = bytes available (largest free run), or no buffer is attached (`r2` = 0) |
/// | 110 | `ETIMEDOUT` | the call's timeout expired before it could complete |
/// | 200 | `EDEADPEER` | the peer terminated (policy `notify` only); for `lock`, the mutex's owner terminated holding it |
/// | 201 | `ENORECV` | `rsend`: no matching receive is posted (a ready send is erroneous then; MPI leaves it undefined, ipclab reports it) |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EBADF = 9,
    EAGAIN = 11,
    EFAULT = 14,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    EMFILE = 24,
    ENOSPC = 28,
    EDEADLK = 35,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    EIDRM = 43,
    EBADRQC = 56,
    EMSGSIZE = 90,
    ENOBUFS = 105,
    ETIMEDOUT = 110,
    EDEADPEER = 200,
    ENORECV = 201,
}

impl Errno {
    /// Every errno, in number order.
    pub const ALL: [Errno; 21] = [
        Errno::EPERM,
        Errno::ENOENT,
        Errno::ESRCH,
        Errno::EBADF,
        Errno::EAGAIN,
        Errno::EFAULT,
        Errno::EEXIST,
        Errno::ENODEV,
        Errno::EINVAL,
        Errno::EMFILE,
        Errno::ENOSPC,
        Errno::EDEADLK,
        Errno::ENAMETOOLONG,
        Errno::ENOSYS,
        Errno::EIDRM,
        Errno::EBADRQC,
        Errno::EMSGSIZE,
        Errno::ENOBUFS,
        Errno::ETIMEDOUT,
        Errno::EDEADPEER,
        Errno::ENORECV,
    ];

    /// The fixed number of this error.
    pub const fn number(self) -> u64 {
        self as u16 as u64
    }

    /// The errno with number `n`, if there is one.
    pub fn from_number(n: u64) -> Option<Errno> {
        Errno::ALL.iter().copied().find(|e| e.number() == n)
    }

    /// The symbolic name, as in `EAGAIN`.
    pub const fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::ESRCH => "ESRCH",
            Errno::EBADF => "EBADF",
            Errno::EAGAIN => "EAGAIN",
            Errno::EFAULT => "EFAULT",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::EMFILE => "EMFILE",
            Errno::ENOSPC => "ENOSPC",
            Errno::EDEADLK => "EDEADLK",
            Errno::ENAMETOOLONG => "ENAMETOOLONG",
            Errno::ENOSYS => "ENOSYS",
            Errno::EIDRM => "EIDRM",
            Errno::EBADRQC => "EBADRQC",
            Errno::ENOBUFS => "ENOBUFS",
            Errno::ENORECV => "ENORECV",
            Errno::EMSGSIZE => "EMSGSIZE",
            Errno::ETIMEDOUT => "ETIMEDOUT",
            Errno::EDEADPEER => "EDEADPEER",
        }
    }

    /// A one-line description for people.
    pub const fn description(self) -> &'static str {
        match self {
            Errno::EPERM => "operation not permitted on this object",
            Errno::ENOENT => "no mailbox with that name",
            Errno::ESRCH => "no such process (never existed, or stale pid)",
            Errno::EBADF => "bad handle",
            Errno::EAGAIN => "would block",
            Errno::EFAULT => "bad user address",
            Errno::EEXIST => "name already exists",
            Errno::ENODEV => "no such device",
            Errno::EINVAL => "invalid argument",
            Errno::EMFILE => "handle table full",
            Errno::ENOSPC => "kernel table full",
            Errno::EDEADLK => "call would deadlock",
            Errno::ENAMETOOLONG => "name empty or too long",
            Errno::ENOSYS => "no such system call",
            Errno::EIDRM => "mailbox destroyed",
            Errno::EBADRQC => "no such request",
            Errno::ENOBUFS => "attached buffer too small",
            Errno::ENORECV => "ready send with no matching receive posted",
            Errno::EMSGSIZE => "message too long for the buffer",
            Errno::ETIMEDOUT => "timed out",
            Errno::EDEADPEER => "peer terminated",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_errno_round_trips_through_its_number() {
        for e in Errno::ALL {
            assert_eq!(Errno::from_number(e.number()), Some(e));
        }
        assert_eq!(Errno::from_number(0), None);
        assert_eq!(Errno::from_number(u64::MAX), None);
    }

    #[test]
    fn errno_numbers_are_fixed() {
        assert_eq!(Errno::EAGAIN.number(), 11);
        assert_eq!(Errno::ESRCH.number(), 3);
        assert_eq!(Errno::EDEADPEER.number(), 200);
    }
}
