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

    /// `close`: drops a handle; the last handle destroys the mailbox (or
    /// frees the synchronisation object).
    pub(crate) fn close(
        &mut self,
        caller: Pid,
        handle: Handle,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        let object = self.pcb_mut(caller)?.handles.remove(handle)?;
        self.release_object(object, sink);
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
        // Said first, then what it takes with it: as `mbox_destroy` says it.
        if !mailbox.destroyed {
            sink.event(self.now, &Event::MailboxDestroyed { mailbox: id });
        }
        self.drop_mailbox_messages(id, sink);
        self.mailboxes[id.0 as usize] = None;
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
                crate::process::Pending::Sleep
                | crate::process::Pending::Mpi(_)
                | crate::process::Pending::Sync { .. } => false,
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
        self.drop_queued_at(
            Dest::Mailbox(id),
            UndeliverableReason::MailboxDestroyed,
            sink,
        );
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Errno, Handle, Source, TagFilter, Timeout};

    use crate::testing::*;
    use crate::{Event, UndeliverableReason};

    fn handle(outcome: crate::TrapOutcome) -> Handle {
        Handle(ok(outcome) as u32)
    }

    #[test]
    fn create_then_open_gives_two_holders_of_one_mailbox() {
        let mut w = World::new(Default::default());
        let (a, b) = (w.spawn(1), w.spawn(1));
        let ha = handle(w.mbox_create(a, "box", 4));
        let hb = handle(w.mbox_open(b, "box"));
        let (id, mb) = w.k.mailboxes().next().unwrap();
        assert_eq!((mb.refs, mb.capacity, mb.creator), (2, 4, Some(a)));
        assert_eq!(w.k.mailbox_holders(id).count(), 2);
        ok(w.mbox_send(a, ha, b"m", 5));
        let regs = done(w.mbox_recv(b, hb, 8));
        assert_eq!(regs[0], 0);
        assert_eq!(w.read(b, RECV_BUF, 1), b"m");
    }

    #[test]
    fn creating_an_existing_name_is_eexist_and_opening_a_missing_one_is_enoent() {
        let mut w = World::new(Default::default());
        let a = w.spawn(1);
        handle(w.mbox_create(a, "box", 1));
        assert_eq!(failed(w.mbox_create(a, "box", 1)), Errno::EEXIST);
        assert_eq!(failed(w.mbox_open(a, "nobox")), Errno::ENOENT);
    }

    #[test]
    fn a_capacity_above_the_mailbox_quota_is_einval() {
        let mut w = World::with(|c| c.mailbox_quota = 2);
        let a = w.spawn(1);
        assert_eq!(failed(w.mbox_create(a, "big", 3)), Errno::EINVAL);
    }

    #[test]
    fn destroy_by_a_process_that_did_not_create_it_is_eperm() {
        let mut w = World::new(Default::default());
        let (a, b) = (w.spawn(1), w.spawn(1));
        handle(w.mbox_create(a, "box", 1));
        let hb = handle(w.mbox_open(b, "box"));
        assert_eq!(
            failed(w.call(b, ipclab_syscalls::Syscall::MboxDestroy { handle: hb })),
            Errno::EPERM
        );
    }

    #[test]
    fn destroy_gives_eidrm_to_waiters_and_to_every_later_use() {
        let mut w = World::new(Default::default());
        let (a, r, s) = (w.spawn(1), w.spawn(1), w.spawn(1));
        let ha = handle(w.mbox_create(a, "box", 0));
        let hr = handle(w.mbox_open(r, "box"));
        let hs = handle(w.mbox_open(s, "box"));
        blocked(w.mbox_recv(r, hr, 8));
        ok(w.call(a, ipclab_syscalls::Syscall::MboxDestroy { handle: ha }));
        assert_eq!(errno(w.completion(r)), Some(Errno::EIDRM));
        assert_eq!(failed(w.mbox_send(s, hs, b"x", 0)), Errno::EIDRM);
        assert_eq!(failed(w.mbox_recv(r, hr, 8)), Errno::EIDRM);
        // The name is free again; the old slot lingers until its handles close.
        assert_eq!(failed(w.mbox_open(s, "box")), Errno::ENOENT);
        handle(w.mbox_create(s, "box", 1));
        for (p, h) in [(a, ha), (r, hr), (s, hs)] {
            ok(w.call(p, ipclab_syscalls::Syscall::Close { handle: h }));
        }
        assert_eq!(w.k.mailboxes().count(), 1);
    }

    #[test]
    fn destroy_reports_queued_messages_undeliverable_and_blocked_senders_eidrm() {
        let mut w = World::new(Default::default());
        let (a, s) = (w.spawn(1), w.spawn(1));
        let ha = handle(w.mbox_create(a, "box", 1));
        let hs = handle(w.mbox_open(s, "box"));
        ok(w.mbox_send(s, hs, b"1", 0));
        blocked(w.mbox_send(s, hs, b"2", 0));
        ok(w.call(a, ipclab_syscalls::Syscall::MboxDestroy { handle: ha }));
        assert_eq!(errno(w.completion(s)), Some(Errno::EIDRM));
        assert_eq!(w.k.stats().undeliverable, 1);
        assert!(w.events().iter().any(|e| matches!(
            e,
            Event::Undeliverable {
                reason: UndeliverableReason::MailboxDestroyed,
                ..
            }
        )));
    }

    #[test]
    fn closing_the_last_handle_destroys_the_mailbox_and_frees_its_slots() {
        let mut w = World::with(|c| c.buffer_slots = 1);
        let (a, s, r) = (w.spawn(1), w.spawn(1), w.spawn(1));
        let ha = handle(w.mbox_create(a, "box", 1));
        ok(w.mbox_send(a, ha, b"x", 0));
        // The only slot is taken: a direct send blocks.
        blocked(w.send(s, r, b"y", 0, Timeout::Never));
        ok(w.call(a, ipclab_syscalls::Syscall::Close { handle: ha }));
        assert_eq!(w.k.mailboxes().count(), 0);
        assert_eq!(w.k.stats().undeliverable, 1);
        // The freed slot goes to the blocked sender at once.
        assert!(!w.is_blocked(s));
        assert_eq!(w.completion(s), [0, 0, 0, 0]);
        ok(w.recv(r, Source::Pid(s), TagFilter::Any, 8, Timeout::Never));
    }

    #[test]
    fn a_mailbox_is_said_destroyed_before_the_messages_it_takes_however_it_goes() {
        // By `mbox_destroy`, and by the last `close`: the same order.
        for by_close in [false, true] {
            let mut w = World::new(Default::default());
            let a = w.spawn(1);
            let h = handle(w.mbox_create(a, "box", 1));
            ok(w.mbox_send(a, h, b"1", 0));
            let call = if by_close {
                ipclab_syscalls::Syscall::Close { handle: h }
            } else {
                ipclab_syscalls::Syscall::MboxDestroy { handle: h }
            };
            ok(w.call(a, call));
            let order: std::vec::Vec<&str> = w
                .events()
                .iter()
                .filter_map(|e| match e {
                    Event::MailboxDestroyed { .. } => Some("destroyed"),
                    Event::Undeliverable { .. } => Some("undeliverable"),
                    _ => None,
                })
                .collect();
            assert_eq!(
                order,
                ["destroyed", "undeliverable"],
                "by close: {by_close}"
            );
        }
    }

    #[test]
    fn a_closed_handle_is_ebadf() {
        let mut w = World::new(Default::default());
        let a = w.spawn(1);
        let h = handle(w.mbox_create(a, "box", 1));
        ok(w.call(a, ipclab_syscalls::Syscall::Close { handle: h }));
        assert_eq!(
            failed(w.call(a, ipclab_syscalls::Syscall::Close { handle: h })),
            Errno::EBADF
        );
        assert_eq!(failed(w.mbox_send(a, h, b"x", 0)), Errno::EBADF);
        assert_eq!(failed(w.mbox_send(a, Handle(9999), b"x", 0)), Errno::EBADF);
    }

    #[test]
    fn a_mailbox_of_capacity_zero_is_a_rendezvous() {
        let mut w = World::new(Default::default());
        let (a, b) = (w.spawn(1), w.spawn(1));
        let ha = handle(w.mbox_create(a, "rv", 0));
        let hb = handle(w.mbox_open(b, "rv"));
        assert!(matches!(
            w.mbox_send(a, ha, b"x", 0),
            crate::TrapOutcome::Blocked(crate::BlockReason::MboxSend {
                rendezvous: true,
                ..
            })
        ));
        ok(w.mbox_recv(b, hb, 8));
        assert_eq!(w.completion(a), [0, 0, 0, 0]);
        assert_eq!(w.k.stats().copies_user_to_user, 1);
    }
}
