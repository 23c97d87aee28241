//! Call flags (non-blocking, timeout) and the timeout they carry.

use crate::Errno;

/// Flags of a blocking call, in one register.
///
/// - bit 0, [`Flags::NONBLOCK`]: never block; answer [`Errno::EAGAIN`]
///   instead;
/// - bit 1, [`Flags::TIMEOUT`]: the timeout register is valid; block at most
///   that many ticks, then answer [`Errno::ETIMEDOUT`].
///
/// Any other bit is [`Errno::EINVAL`]; so is `NONBLOCK` with `TIMEOUT`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u64);

impl Flags {
    /// Block until the call completes.
    pub const NONE: Flags = Flags(0);
    /// Never block.
    pub const NONBLOCK: Flags = Flags(1);
    /// Block at most the given timeout.
    pub const TIMEOUT: Flags = Flags(2);
    const KNOWN: u64 = 0b11;

    /// Decodes a register.
    #[inline]
    pub const fn from_raw(raw: u64) -> Result<Flags, Errno> {
        if raw & !Flags::KNOWN != 0 || raw == Flags::KNOWN {
            Err(Errno::EINVAL)
        } else {
            Ok(Flags(raw))
        }
    }

    /// The register encoding.
    pub const fn to_raw(self) -> u64 {
        self.0
    }

    /// Did the caller ask not to block?
    pub const fn is_nonblocking(self) -> bool {
        self.0 & Flags::NONBLOCK.0 != 0
    }

    /// Did the caller give a timeout?
    pub const fn has_timeout(self) -> bool {
        self.0 & Flags::TIMEOUT.0 != 0
    }
}

/// How long a call may block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// Until it completes (or forever).
    #[default]
    Never,
    /// Never block: fail with [`Errno::EAGAIN`] instead.
    NonBlocking,
    /// At most this many ticks, then [`Errno::ETIMEDOUT`]. `After(0)` fails
    /// with `ETIMEDOUT` at once when the call would block.
    After(u64),
}

impl Timeout {
    /// Decodes a (flags, timeout) register pair.
    #[inline]
    pub const fn from_raw(flags: u64, ticks: u64) -> Result<Timeout, Errno> {
        match Flags::from_raw(flags) {
            Err(e) => Err(e),
            Ok(f) if f.is_nonblocking() => Ok(Timeout::NonBlocking),
            Ok(f) if f.has_timeout() => Ok(Timeout::After(ticks)),
            Ok(_) => Ok(Timeout::Never),
        }
    }

    /// The (flags, timeout) register pair.
    pub const fn to_raw(self) -> (u64, u64) {
        match self {
            Timeout::Never => (0, 0),
            Timeout::NonBlocking => (Flags::NONBLOCK.0, 0),
            Timeout::After(t) => (Flags::TIMEOUT.0, t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_flag_bits_are_einval() {
        assert_eq!(Flags::from_raw(4), Err(Errno::EINVAL));
        assert_eq!(Flags::from_raw(3), Err(Errno::EINVAL));
        assert_eq!(Flags::from_raw(1), Ok(Flags::NONBLOCK));
    }

    #[test]
    fn timeout_round_trips() {
        for t in [Timeout::Never, Timeout::NonBlocking, Timeout::After(17)] {
            let (f, v) = t.to_raw();
            assert_eq!(Timeout::from_raw(f, v), Ok(t));
        }
    }
}
