//! The per-process handle table: no handle, no access.

use ipclab_syscalls::{Errno, Handle};

use crate::config::MAX_HANDLES;
use crate::MailboxId;

/// A process's open handles; a handle is an index into this table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HandleTable {
    slots: [Option<MailboxId>; MAX_HANDLES],
}

impl HandleTable {
    /// The mailbox a handle names, or `EBADF`.
    pub fn get(&self, handle: Handle) -> Result<MailboxId, Errno> {
        self.slots
            .get(handle.0 as usize)
            .copied()
            .flatten()
            .ok_or(Errno::EBADF)
    }

    /// Puts `mailbox` in the lowest free slot, or `EMFILE`.
    pub fn insert(&mut self, mailbox: MailboxId) -> Result<Handle, Errno> {
        let index = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(Errno::EMFILE)?;
        self.slots[index] = Some(mailbox);
        Ok(Handle(index as u32))
    }

    /// Empties a slot and returns what it held, or `EBADF`.
    pub fn remove(&mut self, handle: Handle) -> Result<MailboxId, Errno> {
        let slot = self.slots.get_mut(handle.0 as usize).ok_or(Errno::EBADF)?;
        slot.take().ok_or(Errno::EBADF)
    }

    /// Is the table full?
    pub fn is_full(&self) -> bool {
        self.slots.iter().all(Option::is_some)
    }

    /// Every open (handle, mailbox) pair.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, MailboxId)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|m| (Handle(i as u32), m)))
    }

    /// Does any handle name `mailbox`?
    pub fn holds(&self, mailbox: MailboxId) -> bool {
        self.slots.contains(&Some(mailbox))
    }

    /// Empties the table, returning what it held.
    pub(crate) fn drain(&mut self) -> [Option<MailboxId>; MAX_HANDLES] {
        core::mem::take(&mut self.slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_handle_is_ebadf() {
        let mut table = HandleTable::default();
        let h = table.insert(MailboxId(0)).unwrap();
        assert_eq!(table.remove(h), Ok(MailboxId(0)));
        assert_eq!(table.get(h), Err(Errno::EBADF));
        assert_eq!(table.get(Handle(u32::MAX)), Err(Errno::EBADF));
    }

    #[test]
    fn full_table_is_emfile() {
        let mut table = HandleTable::default();
        for _ in 0..MAX_HANDLES {
            table.insert(MailboxId(1)).unwrap();
        }
        assert_eq!(table.insert(MailboxId(1)), Err(Errno::EMFILE));
    }
}
