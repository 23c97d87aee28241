//! The per-process handle table: no handle, no access.
//!
//! A handle names one kernel object: a mailbox, a semaphore, a mutex, a
//! condition variable or a shared segment ([`Object`]). Each call looks up
//! the object of the kind it needs; a handle that names another kind is
//! `EBADF`, as a handle that is not open.

use ipclab_syscalls::{Errno, Handle};

use crate::config::MAX_HANDLES;
use crate::sync_objects::{CondvarId, MutexId, SemaphoreId, SharedId};
use crate::MailboxId;

/// What a handle names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Object {
    /// A mailbox.
    Mailbox(MailboxId),
    /// A semaphore.
    Semaphore(SemaphoreId),
    /// A mutex.
    Mutex(MutexId),
    /// A condition variable.
    Condvar(CondvarId),
    /// A segment of shared words.
    Shared(SharedId),
}

impl Object {
    /// One number for the object: its kind in bits 16.., its slot below
    /// (a mailbox's number is its slot, as before other kinds existed).
    pub fn to_raw(self) -> u64 {
        let (kind, slot) = match self {
            Object::Mailbox(id) => (0, id.0),
            Object::Semaphore(id) => (1, id.0),
            Object::Mutex(id) => (2, id.0),
            Object::Condvar(id) => (3, id.0),
            Object::Shared(id) => (4, id.0),
        };
        (kind << 16) | u64::from(slot)
    }

    /// The object [`Object::to_raw`] gave `raw`, if any.
    pub fn from_raw(raw: u64) -> Option<Object> {
        let slot = raw as u16;
        Some(match raw >> 16 {
            0 => Object::Mailbox(MailboxId(slot)),
            1 => Object::Semaphore(SemaphoreId(slot)),
            2 => Object::Mutex(MutexId(slot)),
            3 => Object::Condvar(CondvarId(slot)),
            4 => Object::Shared(SharedId(slot)),
            _ => return None,
        })
    }

    /// The mailbox, if the object is one.
    pub fn mailbox(self) -> Option<MailboxId> {
        match self {
            Object::Mailbox(id) => Some(id),
            _ => None,
        }
    }
}

impl From<MailboxId> for Object {
    fn from(id: MailboxId) -> Object {
        Object::Mailbox(id)
    }
}

/// A process's open handles; a handle is an index into this table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HandleTable {
    slots: [Option<Object>; MAX_HANDLES],
}

impl HandleTable {
    /// The mailbox a handle names, or `EBADF` (also when it names another
    /// kind of object).
    pub fn get(&self, handle: Handle) -> Result<MailboxId, Errno> {
        self.object(handle)?.mailbox().ok_or(Errno::EBADF)
    }

    /// The object a handle names, or `EBADF`.
    pub fn object(&self, handle: Handle) -> Result<Object, Errno> {
        self.slots
            .get(handle.0 as usize)
            .copied()
            .flatten()
            .ok_or(Errno::EBADF)
    }

    /// Puts `object` in the lowest free slot, or `EMFILE`.
    pub fn insert(&mut self, object: impl Into<Object>) -> Result<Handle, Errno> {
        let index = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(Errno::EMFILE)?;
        self.slots[index] = Some(object.into());
        Ok(Handle(index as u32))
    }

    /// Empties a slot and returns what it held, or `EBADF`.
    pub fn remove(&mut self, handle: Handle) -> Result<Object, Errno> {
        let slot = self.slots.get_mut(handle.0 as usize).ok_or(Errno::EBADF)?;
        slot.take().ok_or(Errno::EBADF)
    }

    /// Is the table full?
    pub fn is_full(&self) -> bool {
        self.slots.iter().all(Option::is_some)
    }

    /// Every open (handle, object) pair.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, Object)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|o| (Handle(i as u32), o)))
    }

    /// Does any handle name `object`?
    pub fn holds(&self, object: impl Into<Object>) -> bool {
        self.slots.contains(&Some(object.into()))
    }

    /// Empties the table, returning what it held.
    pub(crate) fn drain(&mut self) -> [Option<Object>; MAX_HANDLES] {
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
        assert_eq!(table.remove(h), Ok(Object::Mailbox(MailboxId(0))));
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

    #[test]
    fn a_handle_of_another_kind_is_no_mailbox() {
        let mut table = HandleTable::default();
        let h = table.insert(Object::Mutex(MutexId(0))).unwrap();
        assert_eq!(table.get(h), Err(Errno::EBADF));
        assert_eq!(table.object(h), Ok(Object::Mutex(MutexId(0))));
        assert!(table.holds(Object::Mutex(MutexId(0))));
        assert!(!table.holds(MailboxId(0)));
    }

    #[test]
    fn an_object_round_trips_through_its_number_and_a_mailbox_is_its_slot() {
        for object in [
            Object::Mailbox(MailboxId(7)),
            Object::Semaphore(SemaphoreId(1)),
            Object::Mutex(MutexId(2)),
            Object::Condvar(CondvarId(3)),
            Object::Shared(SharedId(4)),
        ] {
            assert_eq!(Object::from_raw(object.to_raw()), Some(object));
        }
        assert_eq!(Object::Mailbox(MailboxId(7)).to_raw(), 7);
        assert_eq!(Object::from_raw(9 << 16), None);
    }
}
