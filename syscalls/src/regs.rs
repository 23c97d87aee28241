//! Register files: what a process puts in registers to trap, and what it gets back.

/// The registers of a system call: its number and six arguments `a0..a5`.
///
/// Any bit pattern is a valid `Regs`; whether it is a valid *call* is decided
/// by [`crate::Syscall::decode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Regs {
    /// The system call number (see [`crate::Sysno`]).
    pub sysno: u64,
    /// The six argument registers `a0..a5`.
    pub args: [u64; 6],
}

impl Regs {
    /// Registers for call `sysno` with arguments `args`.
    pub const fn new(sysno: u64, args: [u64; 6]) -> Regs {
        Regs { sysno, args }
    }
}

/// The four result registers the kernel writes when a call completes.
///
/// - `r0`: `0` on success, else the [`crate::Errno`] number;
/// - `r1`: the value of the call (a handle, a pid, a length, a tick), or for a
///   receive the message length (also on `EMSGSIZE`, where it is the real
///   length of the message that did not fit);
/// - `r2`: for a receive, the raw source [`crate::Pid`];
/// - `r3`: for a receive, the tag.
///
/// Decode them with [`crate::Reply::from_regs`].
pub type RetRegs = [u64; 4];
