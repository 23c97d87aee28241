//! Messages in the kernel buffer pool and where they are going.
//!
//! A message in the pool has been accepted: its sender's `send` completed.
//! It leaves the pool exactly once, delivered or reported undeliverable.

use heapless::Vec;
use ipclab_syscalls::{Pid, Tag};

use crate::config::MAX_EAGER_LIMIT;
use crate::MailboxId;

/// Where a message is addressed: a process (direct) or a mailbox (indirect).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dest {
    /// Direct addressing: this process receives it.
    Process(Pid),
    /// Indirect addressing: any receiver of this mailbox may take it.
    Mailbox(MailboxId),
}

/// A message held in a kernel slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Message {
    /// Its id: the arrival sequence number, also its place in arrival order.
    pub id: u64,
    /// The sender.
    pub from: Pid,
    /// Where it goes.
    pub dest: Dest,
    /// The sender's tag.
    pub tag: Tag,
    /// The bytes (at most the eager limit).
    pub data: Vec<u8, MAX_EAGER_LIMIT>,
}

impl Message {
    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// Is it empty (a zero-length message)?
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}
