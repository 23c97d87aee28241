//! Boot configuration and the compile-time maxima it must stay below.
//!
//! Every capacity of the kernel is a fixed-size table (`heapless`); the
//! constants here size those tables. [`Config`] chooses, at boot, how much
//! of each the kernel may use, so a scenario can ask for a kernel buffer of
//! 0, 1 or 4 slots without recompiling.

/// Processes the process table can hold.
pub const MAX_PROCS: usize = 1024;
/// Message slots in the kernel buffer pool.
pub const MAX_SLOTS: usize = 64;
/// Bytes in one message slot: the largest eager limit.
pub const MAX_EAGER_LIMIT: usize = 256;
/// Mailboxes the kernel can hold at once.
pub const MAX_MAILBOXES: usize = 32;
/// Handles one process can hold at once.
pub const MAX_HANDLES: usize = 16;
/// Bytes in a process name.
pub const MAX_PROCESS_NAME: usize = 24;
/// Fixed priority levels; larger numbers run first.
pub const PRIORITY_LEVELS: u8 = 8;

/// What `exit` does to the partners of a terminated process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Partners stay blocked, as in the lecture ("R waits for S, but S has
    /// terminated"); the simulator explains why. A send to a terminated
    /// process is accepted if there is buffer space (and reported
    /// undeliverable at once) and blocks forever otherwise.
    #[default]
    Classic,
    /// Every waiter on the terminated process gets `EDEADPEER`, as in QNX,
    /// Minix and Zircon; so does every later send to it or receive from it.
    Notify,
}

/// Boot options. [`Config::default`] is the configuration `docs/kernel.md`
/// describes; [`Config::validate`] checks it against the maxima.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Message slots in the kernel buffer (0: pure rendezvous).
    pub buffer_slots: usize,
    /// Bytes in a slot: longer messages go by rendezvous.
    pub eager_limit: usize,
    /// Messages one receiver may have queued at once.
    pub receiver_quota: usize,
    /// The largest capacity a mailbox may ask for.
    pub mailbox_quota: usize,
    /// What exit does to partners.
    pub policy: Policy,
    /// Refuse a blocking direct send/recv that would close a wait-for cycle
    /// (`EDEADLK`), as Minix does.
    pub refuse_deadlock: bool,
    /// Ticks a process runs before it is preempted in favour of another
    /// ready process of the same or higher priority.
    pub quantum: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            buffer_slots: 8,
            eager_limit: 64,
            receiver_quota: 8,
            mailbox_quota: 8,
            policy: Policy::Classic,
            refuse_deadlock: false,
            quantum: 4,
        }
    }
}

/// A boot option out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `buffer_slots` above [`MAX_SLOTS`].
    TooManySlots { asked: usize, max: usize },
    /// `eager_limit` above [`MAX_EAGER_LIMIT`].
    EagerLimitTooLarge { asked: usize, max: usize },
    /// `quantum` of 0.
    ZeroQuantum,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::TooManySlots { asked, max } => {
                write!(f, "buffer_slots = {asked} is above the maximum {max}")
            }
            ConfigError::EagerLimitTooLarge { asked, max } => {
                write!(f, "eager_limit = {asked} bytes is above the maximum {max}")
            }
            ConfigError::ZeroQuantum => write!(f, "quantum must be at least 1 tick"),
        }
    }
}

impl Config {
    /// Checks the options against the compile-time maxima.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.buffer_slots > MAX_SLOTS {
            return Err(ConfigError::TooManySlots {
                asked: self.buffer_slots,
                max: MAX_SLOTS,
            });
        }
        if self.eager_limit > MAX_EAGER_LIMIT {
            return Err(ConfigError::EagerLimitTooLarge {
                asked: self.eager_limit,
                max: MAX_EAGER_LIMIT,
            });
        }
        if self.quantum == 0 {
            return Err(ConfigError::ZeroQuantum);
        }
        Ok(())
    }
}

/// MPI communicators the kernel can hold (`COMM_WORLD` is the first).
pub const MAX_COMMS: usize = 4;
/// Ranks in one communicator.
pub const MAX_COMM_SIZE: usize = 64;
/// MPI requests in the kernel's request table (pending sends and receives,
/// buffered messages, the internal requests of blocking MPI calls).
pub const MAX_REQUESTS: usize = 128;
/// MPI requests one process may hold at once: those it has handles to
/// (buffered messages excluded: the attached buffer bounds those; so is a
/// blocking call's internal request, one at most).
pub const MAX_REQUESTS_PER_PROCESS: usize = 16;
/// Processes that may have a buffer attached for `bsend` at once.
pub const MAX_ATTACHED: usize = 64;

/// Semaphores the kernel can hold at once.
pub const MAX_SEMAPHORES: usize = 32;
/// Mutexes the kernel can hold at once.
pub const MAX_MUTEXES: usize = 32;
/// Condition variables the kernel can hold at once.
pub const MAX_CONDVARS: usize = 32;
/// Shared segments the kernel can hold at once.
pub const MAX_SHARED: usize = 32;
/// Words in one shared segment.
pub const MAX_SHARED_WORDS: usize = 64;
