//! What a completed call returns: the reply registers and the message status of a receive.

use crate::{Errno, Pid, RetRegs, Tag};

/// The status of a received message: who sent it, its tag, its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageStatus {
    /// The sender.
    pub source: Pid,
    /// The sender's tag.
    pub tag: Tag,
    /// The message length in bytes (on `EMSGSIZE`: the length that did not fit).
    pub len: u64,
}

/// The successful result of a call: a value and, for receives, the status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reply {
    /// The call's value (handle, pid, length, tick...), result register `r1`.
    pub value: u64,
    /// Result register `r2` (a receive's raw source pid).
    pub extra0: u64,
    /// Result register `r3` (a receive's tag).
    pub extra1: u64,
}

impl Reply {
    /// A reply carrying one value.
    #[inline]
    pub const fn value(value: u64) -> Reply {
        Reply {
            value,
            extra0: 0,
            extra1: 0,
        }
    }

    /// The reply of a receive.
    #[inline]
    pub const fn received(status: MessageStatus) -> Reply {
        Reply {
            value: status.len,
            extra0: status.source.to_raw(),
            extra1: status.tag as u64,
        }
    }

    /// Encodes a call result into result registers.
    #[inline]
    pub const fn to_regs(result: Result<Reply, Errno>) -> RetRegs {
        match result {
            Ok(r) => [0, r.value, r.extra0, r.extra1],
            Err(e) => [e.number(), 0, 0, 0],
        }
    }

    /// Encodes an error that still reports a status (a receive's `EMSGSIZE`
    /// carries the real length, the source and the tag).
    #[inline]
    pub const fn error_with_status(errno: Errno, status: MessageStatus) -> RetRegs {
        [
            errno.number(),
            status.len,
            status.source.to_raw(),
            status.tag as u64,
        ]
    }

    /// Decodes result registers. An unknown error number decodes as
    /// [`Errno::EINVAL`] (it cannot come from the kernel).
    #[inline]
    pub fn from_regs(regs: RetRegs) -> Result<Reply, Errno> {
        if regs[0] == 0 {
            Ok(Reply {
                value: regs[1],
                extra0: regs[2],
                extra1: regs[3],
            })
        } else {
            Err(Errno::from_number(regs[0]).unwrap_or(Errno::EINVAL))
        }
    }

    /// The message status of a receive's reply.
    pub fn status(self) -> Option<MessageStatus> {
        Some(MessageStatus {
            source: Pid::from_raw(self.extra0).ok()?,
            tag: u32::try_from(self.extra1).ok()?,
            len: self.value,
        })
    }
}

/// The status carried by a receive's `EMSGSIZE`: result registers `r1..r3`.
pub fn status_of_error(regs: RetRegs) -> Option<MessageStatus> {
    Reply {
        value: regs[1],
        extra0: regs[2],
        extra1: regs[3],
    }
    .status()
}
