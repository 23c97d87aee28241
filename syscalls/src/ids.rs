//! Identifiers a call carries: process ids with generations, handles, tags, and their wildcards.
//!
//! # Encoding
//!
//! A [`Pid`] travels in one register: bits 0..16 are the process-table
//! index, bits 16..32 the generation, bits 32..48 the node. Generations start
//! at 1, so the raw value 0 is never a live pid. [`Source::Any`] and
//! [`TagFilter::Any`] are `u64::MAX`.

use core::fmt;
use core::hash::{Hash, Hasher};

use crate::Errno;

/// The register value that means "any" for a source or a tag.
pub const ANY: u64 = u64::MAX;

/// A node of the simulated network. Node 0 is the local machine.
pub type NodeId = u16;

/// A message tag: a number the sender chooses and the receiver may filter on.
pub type Tag = u32;

/// A process id: a slot in a process table plus the generation of that slot.
///
/// When a process exits and its slot is reused, the new process gets the
/// next generation, so an old `Pid` can never reach it: the kernel answers
/// [`Errno::ESRCH`].
#[derive(Clone, Copy, Debug, Eq, PartialOrd, Ord)]
pub struct Pid {
    /// The slot in the process table.
    pub index: u16,
    /// The generation of the slot; never 0 for a real process.
    pub generation: u16,
    /// The node the process lives on (0: this node).
    pub node: NodeId,
}

impl Pid {
    /// The pid of slot `index`, generation `generation`, on the local node.
    pub const fn new(index: u16, generation: u16) -> Pid {
        Pid {
            index,
            generation,
            node: 0,
        }
    }

    /// The register encoding.
    #[inline(always)]
    pub const fn to_raw(self) -> u64 {
        (self.index as u64) | ((self.generation as u64) << 16) | ((self.node as u64) << 32)
    }

    /// Decodes a register. Bits above 48, or a generation of 0, are
    /// [`Errno::ESRCH`]: no process can have that id.
    #[inline]
    pub const fn from_raw(raw: u64) -> Result<Pid, Errno> {
        if raw >> 48 != 0 {
            return Err(Errno::ESRCH);
        }
        let pid = Pid {
            index: (raw & 0xffff) as u16,
            generation: ((raw >> 16) & 0xffff) as u16,
            node: ((raw >> 32) & 0xffff) as u16,
        };
        if pid.generation == 0 {
            return Err(Errno::ESRCH);
        }
        Ok(pid)
    }
}

// Equal exactly when all three fields are: compared as the one register
// value they encode to, which the compiler does in one comparison instead
// of three (a pid is compared on every lookup of the process table).
impl PartialEq for Pid {
    #[inline(always)]
    fn eq(&self, other: &Pid) -> bool {
        self.to_raw() == other.to_raw()
    }
}

// Field by field, as a derive would: equal pids hash alike, and hashes are
// the same as before `PartialEq` was written by hand.
impl Hash for Pid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.index.hash(state);
        self.generation.hash(state);
        self.node.hash(state);
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.node == 0 {
            write!(f, "pid {}.{}", self.index, self.generation)
        } else {
            write!(f, "pid {}:{}.{}", self.node, self.index, self.generation)
        }
    }
}

/// Whom a receive accepts a message from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Only this process.
    Pid(Pid),
    /// Any process.
    Any,
}

impl Source {
    /// The register encoding.
    pub const fn to_raw(self) -> u64 {
        match self {
            Source::Pid(pid) => pid.to_raw(),
            Source::Any => ANY,
        }
    }

    /// Decodes a register: `u64::MAX` is `Any`, anything else must be a pid.
    #[inline]
    pub const fn from_raw(raw: u64) -> Result<Source, Errno> {
        if raw == ANY {
            return Ok(Source::Any);
        }
        match Pid::from_raw(raw) {
            Ok(pid) => Ok(Source::Pid(pid)),
            Err(e) => Err(e),
        }
    }

    /// Does a message from `pid` satisfy this filter?
    #[inline]
    pub fn accepts(self, pid: Pid) -> bool {
        match self {
            Source::Pid(want) => want == pid,
            Source::Any => true,
        }
    }
}

/// Which tags a receive accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagFilter {
    /// Only this tag.
    Tag(Tag),
    /// Any tag.
    Any,
}

impl TagFilter {
    /// The register encoding.
    pub const fn to_raw(self) -> u64 {
        match self {
            TagFilter::Tag(t) => t as u64,
            TagFilter::Any => ANY,
        }
    }

    /// Decodes a register: `u64::MAX` is `Any`; a tag must fit in 32 bits.
    #[inline]
    pub const fn from_raw(raw: u64) -> Result<TagFilter, Errno> {
        if raw == ANY {
            Ok(TagFilter::Any)
        } else if raw > u32::MAX as u64 {
            Err(Errno::EINVAL)
        } else {
            Ok(TagFilter::Tag(raw as u32))
        }
    }

    /// Does a message with tag `tag` satisfy this filter?
    #[inline]
    pub fn accepts(self, tag: Tag) -> bool {
        match self {
            TagFilter::Tag(want) => want == tag,
            TagFilter::Any => true,
        }
    }
}

/// Decodes a send tag: it must fit in 32 bits (a send has no wildcard).
#[inline]
pub const fn tag_from_raw(raw: u64) -> Result<Tag, Errno> {
    if raw > u32::MAX as u64 {
        Err(Errno::EINVAL)
    } else {
        Ok(raw as u32)
    }
}

/// An index into the calling process's handle table.
///
/// A handle means something only to the process that holds it: the kernel
/// looks it up in the caller's table and answers [`Errno::EBADF`] when the
/// entry is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(pub u32);

impl Handle {
    /// Decodes a register; values above `u32::MAX` are [`Errno::EBADF`].
    #[inline]
    pub const fn from_raw(raw: u64) -> Result<Handle, Errno> {
        if raw > u32::MAX as u64 {
            Err(Errno::EBADF)
        } else {
            Ok(Handle(raw as u32))
        }
    }

    /// The register encoding.
    pub const fn to_raw(self) -> u64 {
        self.0 as u64
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handle {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_round_trips_through_a_register() {
        let pid = Pid {
            index: 7,
            generation: 3,
            node: 2,
        };
        assert_eq!(Pid::from_raw(pid.to_raw()), Ok(pid));
    }

    #[test]
    fn raw_zero_is_never_a_pid() {
        assert_eq!(Pid::from_raw(0), Err(Errno::ESRCH));
    }

    #[test]
    fn any_is_the_all_ones_register() {
        assert_eq!(Source::from_raw(u64::MAX), Ok(Source::Any));
        assert_eq!(TagFilter::from_raw(u64::MAX), Ok(TagFilter::Any));
        assert_eq!(TagFilter::from_raw(1 << 40), Err(Errno::EINVAL));
    }
}
