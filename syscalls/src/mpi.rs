//! MPI-style point-to-point types: send modes, communicators, ranks, request handles and the status a completed MPI call returns.
//!
//! MPI calls address processes by rank within a communicator; the kernel
//! translates ranks to pids. Every message carries a context: 0 for the
//! plain calls (`send`, `recv`, mailboxes), the communicator id for MPI
//! calls; messages of different contexts never match. Chapter: `docs/mpi.md`.
//!
//! # Result registers of MPI calls
//! `r0` is 0 or the errno; `r1` is the call's value (a rank, a size, a
//! request handle, a flag, an index); `r2` and `r3` hold an [`MpiStatus`]
//! when the call has one: `r2` = length in bytes, `r3` = `source_rank << 32 | tag`.

use crate::ids::ANY as ANY_RAW;
use crate::{Errno, RetRegs, Tag};

/// How an MPI send completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SendMode {
    /// `MPI_Send`: eager into a kernel slot when the message fits the eager
    /// limit and a slot is free; otherwise rendezvous (waits for the receive).
    Standard = 0,
    /// `MPI_Ssend`: completes only once the matching receive has started; never eager.
    Synchronous = 1,
    /// `MPI_Bsend`: copied into the caller's attached buffer; completes at once.
    Buffered = 2,
    /// `MPI_Rsend`: erroneous (`ENORECV`) unless a matching receive is already posted.
    Ready = 3,
}

impl SendMode {
    /// Every mode, by number.
    pub const ALL: [SendMode; 4] = [
        SendMode::Standard,
        SendMode::Synchronous,
        SendMode::Buffered,
        SendMode::Ready,
    ];

    /// The mode with register value `raw`, or `EINVAL`.
    pub const fn from_raw(raw: u64) -> Result<SendMode, Errno> {
        match raw {
            0 => Ok(SendMode::Standard),
            1 => Ok(SendMode::Synchronous),
            2 => Ok(SendMode::Buffered),
            3 => Ok(SendMode::Ready),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The blocking call's MPI name (`MPI_Send`, `MPI_Ssend`, ...).
    pub const fn mpi_name(self) -> &'static str {
        match self {
            SendMode::Standard => "MPI_Send",
            SendMode::Synchronous => "MPI_Ssend",
            SendMode::Buffered => "MPI_Bsend",
            SendMode::Ready => "MPI_Rsend",
        }
    }

    /// The non-blocking call's MPI name (`MPI_Isend`, `MPI_Issend`, ...).
    pub const fn mpi_immediate_name(self) -> &'static str {
        match self {
            SendMode::Standard => "MPI_Isend",
            SendMode::Synchronous => "MPI_Issend",
            SendMode::Buffered => "MPI_Ibsend",
            SendMode::Ready => "MPI_Irsend",
        }
    }
}

/// A communicator id. 0 is the context of the plain calls and never a
/// communicator; `COMM_WORLD` is the first one the embedder creates (1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommId(pub u16);

impl CommId {
    /// The communicator the embedder creates first: every rank of the program.
    pub const WORLD: CommId = CommId(1);

    /// Decodes a register: 1 to `u16::MAX` (0 is the plain context).
    pub const fn from_raw(raw: u64) -> Result<CommId, Errno> {
        if raw == 0 || raw > u16::MAX as u64 {
            Err(Errno::EINVAL)
        } else {
            Ok(CommId(raw as u16))
        }
    }

    /// The register encoding.
    pub const fn to_raw(self) -> u64 {
        self.0 as u64
    }
}

/// A rank within a communicator.
pub type Rank = u32;

/// Whom an MPI receive or probe accepts a message from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RankFilter {
    /// Only this rank.
    Rank(Rank),
    /// `MPI_ANY_SOURCE`.
    Any,
}

impl RankFilter {
    /// Decodes a register: `u64::MAX` is `Any`; a rank fits in 32 bits.
    pub const fn from_raw(raw: u64) -> Result<RankFilter, Errno> {
        if raw == ANY_RAW {
            Ok(RankFilter::Any)
        } else if raw > u32::MAX as u64 {
            Err(Errno::EINVAL)
        } else {
            Ok(RankFilter::Rank(raw as u32))
        }
    }

    /// The register encoding.
    pub const fn to_raw(self) -> u64 {
        match self {
            RankFilter::Rank(r) => r as u64,
            RankFilter::Any => ANY_RAW,
        }
    }
}

/// A request handle: `generation << 16 | slot`; never 0 (`MPI_REQUEST_NULL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestHandle(pub u64);

impl RequestHandle {
    /// `MPI_REQUEST_NULL`: waiting on it returns at once with an empty status.
    pub const NULL: RequestHandle = RequestHandle(0);

    /// The handle of table slot `slot` in generation `generation` (1 to 255).
    pub const fn new(slot: u16, generation: u8) -> RequestHandle {
        RequestHandle(((generation as u64) << 16) | slot as u64)
    }

    /// The table slot.
    pub const fn slot(self) -> u16 {
        self.0 as u16
    }

    /// The generation.
    pub const fn generation(self) -> u64 {
        self.0 >> 16
    }
}

/// The status of a completed MPI receive (or probe): who sent, with which
/// tag, how many bytes. A send request's status is all zeros; a wait or
/// test on `MPI_REQUEST_NULL` gives [`MpiStatus::EMPTY`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MpiStatus {
    /// The sender's rank in the communicator.
    pub source: Rank,
    /// The message's tag.
    pub tag: Tag,
    /// Its length in bytes (`MPI_Get_count` divides by the datatype's size).
    pub len: u64,
}

impl MpiStatus {
    /// The empty status (MPI-3.1 §3.7.3): source `MPI_ANY_SOURCE`, tag
    /// `MPI_ANY_TAG`, length 0, which a wait or test on `MPI_REQUEST_NULL`
    /// returns. Its source is `u32::MAX`, which no rank is (a communicator
    /// is far smaller), so `r3 == u64::MAX` marks it even though `u32::MAX`
    /// is also a valid tag.
    pub const EMPTY: MpiStatus = MpiStatus {
        source: u32::MAX,
        tag: u32::MAX,
        len: 0,
    };

    /// Is this the empty status?
    pub const fn is_empty(self) -> bool {
        self.source == u32::MAX
    }

    /// The source as a filter value: `Any` (`MPI_ANY_SOURCE`) for the
    /// empty status, else the sender's rank.
    pub const fn source_filter(self) -> RankFilter {
        if self.is_empty() {
            RankFilter::Any
        } else {
            RankFilter::Rank(self.source)
        }
    }

    /// The tag as a filter value: `Any` (`MPI_ANY_TAG`) for the empty
    /// status, else the message's tag.
    pub const fn tag_filter(self) -> crate::TagFilter {
        if self.is_empty() {
            crate::TagFilter::Any
        } else {
            crate::TagFilter::Tag(self.tag)
        }
    }

    /// The result registers `[0, value, len, source << 32 | tag]`.
    pub const fn to_regs(self, value: u64) -> RetRegs {
        [
            0,
            value,
            self.len,
            ((self.source as u64) << 32) | self.tag as u64,
        ]
    }

    /// The result registers of an error that carries a status (`EMSGSIZE`).
    pub const fn error_regs(self, errno: Errno) -> RetRegs {
        [
            errno.number(),
            0,
            self.len,
            ((self.source as u64) << 32) | self.tag as u64,
        ]
    }

    /// Reads the status back from result registers.
    pub const fn from_regs(regs: RetRegs) -> MpiStatus {
        MpiStatus {
            source: (regs[3] >> 32) as u32,
            tag: regs[3] as u32,
            len: regs[2],
        }
    }
}
