//! Mailboxes: named, bounded, many-to-many message queues reached through handles.
//!
//! A mailbox's messages live in the shared kernel buffer pool (addressed
//! `Dest::Mailbox`); the mailbox records its name, its capacity, who created
//! it and how many handles name it.
//!
//! # Lifetime
//! A mailbox lives while any handle names it. Closing the last handle (by
//! `close` or at exit) destroys it. A blocked process holds its handle, so a
//! mailbox never disappears under a waiter by `close`; only `mbox_destroy`
//! by its creator does that, and every waiter then gets `EIDRM`. A
//! destroyed mailbox keeps its slot (answering `EIDRM`) until its last
//! handle is closed.

use heapless::String;
use ipclab_syscalls::{Pid, MAX_NAME_LEN};

/// A mailbox's slot in the kernel's mailbox table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxId(pub u16);

/// A mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// Its name (unique among live mailboxes).
    pub name: String<{ MAX_NAME_LEN as usize }>,
    /// Messages it may hold (0: rendezvous).
    pub capacity: u32,
    /// Who created it (the only process that may destroy it); `None` when
    /// the embedder created it at boot.
    pub creator: Option<Pid>,
    /// Handles that name it, over all processes.
    pub refs: u32,
    /// Destroyed by `mbox_destroy`: every use answers `EIDRM`.
    pub destroyed: bool,
}

use ipclab_syscalls::{Errno, Handle};

use crate::trace::UndeliverableReason;
use crate::{Dest, Event, Kernel, TraceSink};

impl Kernel {
    /// Creates a mailbox (no handle yet).
    pub(crate) fn new_mailbox(
        &mut self,
        name: &[u8],
        capacity: u32,
        creator: Option<Pid>,
        sink: &mut impl TraceSink,
    ) -> Result<MailboxId, Errno> {
        let name = core::str::from_utf8(name).map_err(|_| Errno::EINVAL)?;
        let name: String<{ MAX_NAME_LEN as usize }> =
            String::try_from(name).map_err(|_| Errno::ENAMETOOLONG)?;
        if name.is_empty() {
            return Err(Errno::ENAMETOOLONG);
        }
        if capacity as usize > self.config.mailbox_quota {
            return Err(Errno::EINVAL);
        }
        if self.find_mailbox(&name).is_some() {
            return Err(Errno::EEXIST);
        }
        let mailbox = Mailbox {
            name,
            capacity,
            creator,
            refs: 0,
            destroyed: false,
        };
        let id = match self.mailboxes.iter().position(Option::is_none) {
            Some(index) => {
                self.mailboxes[index] = Some(mailbox);
                index
            }
            None => {
                self.mailboxes
                    .push(Some(mailbox))
                    .map_err(|_| Errno::ENOSPC)?;
                self.mailboxes.len() - 1
            }
        };
        let id = MailboxId(id as u16);
        sink.event(
            self.now,
            &Event::MailboxCreated {
                mailbox: id,
                capacity,
            },
        );
        Ok(id)
    }

    /// The live (not destroyed) mailbox named `name`.
    pub(crate) fn find_mailbox(&self, name: &str) -> Option<MailboxId> {
        self.mailboxes()
            .find(|(_, m)| !m.destroyed && m.name.as_str() == name)
            .map(|(id, _)| id)
    }

    /// The mailbox `caller`'s `handle` names: `EBADF` if none, `EIDRM` if
    /// it was destroyed.
    pub(crate) fn mailbox_of(&self, caller: Pid, handle: Handle) -> Result<MailboxId, Errno> {
        let id = self.pcb_ref(caller)?.handles.get(handle)?;
        match self.mailbox(id) {
            Some(m) if !m.destroyed => Ok(id),
            Some(_) => Err(Errno::EIDRM),
            None => Err(Errno::EBADF),
        }
    }

    /// `mbox_create`: create and open.
    pub(crate) fn mbox_create(
        &mut self,
        caller: Pid,
        name: &[u8],
        capacity: u32,
        sink: &mut impl TraceSink,
    ) -> Result<Handle, Errno> {
        if self.pcb_ref(caller)?.handles.is_full() {
            return Err(Errno::EMFILE);
        }
        let id = self.new_mailbox(name, capacity, Some(caller), sink)?;
        self.grant_handle(caller, id)
    }

    /// `mbox_open`: a new handle to the live mailbox named `name`.
    pub(crate) fn mbox_open(&mut self, caller: Pid, name: &[u8]) -> Result<Handle, Errno> {
        let name = core::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        let id = self.find_mailbox(name).ok_or(Errno::ENOENT)?;
        self.grant_handle(caller, id)
    }

    /// `close`: drops a handle; the last handle destroys the mailbox.
    pub(crate) fn close(
        &mut self,
        caller: Pid,
        handle: Handle,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        let id = self.pcb_mut(caller)?.handles.remove(handle)?;
        self.release_mailbox(id, sink);
        Ok(())
    }

    /// Drops one reference to `id`; at zero the mailbox is gone.
    pub(crate) fn release_mailbox(&mut self, id: MailboxId, sink: &mut impl TraceSink) {
        let Some(Some(mailbox)) = self.mailboxes.get_mut(id.0 as usize) else {
            return;
        };
        mailbox.refs = mailbox.refs.saturating_sub(1);
        if mailbox.refs > 0 {
            return;
        }
        let was_destroyed = mailbox.destroyed;
        self.drop_mailbox_messages(id, sink);
        self.mailboxes[id.0 as usize] = None;
        if !was_destroyed {
            sink.event(self.now, &Event::MailboxDestroyed { mailbox: id });
        }
    }

    /// `mbox_destroy`: only the creator may; every waiter gets `EIDRM`.
    pub(crate) fn mbox_destroy<M: crate::UserMemory>(
        &mut self,
        caller: Pid,
        handle: Handle,
        mem: &mut M,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        let id = self.mailbox_of(caller, handle)?;
        let is_creator = self.mailbox(id).and_then(|m| m.creator) == Some(caller);
        if !is_creator {
            return Err(Errno::EPERM);
        }
        if let Some(Some(m)) = self.mailboxes.get_mut(id.0 as usize) {
            m.destroyed = true;
        }
        sink.event(self.now, &Event::MailboxDestroyed { mailbox: id });
        self.drop_mailbox_messages(id, sink);
        let waiters: heapless::Vec<Pid, { crate::config::MAX_PROCS }> = self
            .pending_where(|op| match *op {
                crate::process::Pending::Send { dest, .. } => dest == Dest::Mailbox(id),
                crate::process::Pending::Recv { at, .. } => at == Dest::Mailbox(id),
                crate::process::Pending::Sleep => false,
            })
            .map(|(pid, _)| pid)
            .collect();
        for pid in waiters {
            self.fail(pid, Errno::EIDRM, sink);
        }
        self.refill(mem, sink);
        Ok(())
    }

    fn drop_mailbox_messages(&mut self, id: MailboxId, sink: &mut impl TraceSink) {
        let now = self.now;
        let mut index = 0;
        while index < self.pool.len() {
            if self.pool[index].dest == Dest::Mailbox(id) {
                let message = self.pool.remove(index);
                self.stats.undeliverable += 1;
                sink.event(
                    now,
                    &Event::Undeliverable {
                        message: message.id,
                        from: message.from,
                        dest: message.dest,
                        reason: UndeliverableReason::MailboxDestroyed,
                    },
                );
            } else {
                index += 1;
            }
        }
    }
}
