//! `check_invariants`: the kernel's promises, checked; tests call it after every step.

use ipclab_syscalls::Source;

use crate::process::Pending;
use crate::{BlockReason, Dest, Kernel, ProcessState};

/// A broken invariant: a kernel bug. The text says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvariantViolation(pub &'static str);

impl core::fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

fn ensure(condition: bool, what: &'static str) -> Result<(), InvariantViolation> {
    if condition {
        Ok(())
    } else {
        Err(InvariantViolation(what))
    }
}

impl Kernel {
    /// Checks every invariant of the kernel and its objects.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.check_messages()?;
        self.check_buffers()?;
        self.check_processes()?;
        self.check_mailboxes()?;
        self.check_mpi()?;
        self.check_sync()?;
        self.check_keyboard()?;
        Ok(())
    }

    /// Every accepted message is exactly once delivered, buffered or
    /// reported undeliverable.
    fn check_messages(&self) -> Result<(), InvariantViolation> {
        let s = &self.stats;
        ensure(
            s.accepted
                == s.delivered
                    + (self.pool.len() + self.mpi.messages.len() + self.mpi_buffered_count())
                        as u64
                    + s.undeliverable,
            "accepted != delivered + buffered + undeliverable",
        )?;
        // Arrival order, and every slot either holds a message or is free.
        self.pool.check().map_err(InvariantViolation)?;
        for m in &self.pool {
            ensure(
                m.len() <= self.config.eager_limit as u64,
                "a buffered message is longer than the eager limit",
            )?;
            match m.dest {
                Dest::Process(pid) => ensure(
                    self.process(pid).is_some_and(|p| !p.is_exited()),
                    "a message is queued for a terminated or stale process",
                )?,
                Dest::Mailbox(id) => ensure(
                    self.mailbox(id).is_some_and(|mb| !mb.destroyed),
                    "a message is queued in a destroyed mailbox",
                )?,
            }
        }
        Ok(())
    }

    /// No buffer above its bound.
    fn check_buffers(&self) -> Result<(), InvariantViolation> {
        for p in &self.procs {
            let queued = self
                .pool
                .iter()
                .filter(|m| m.dest == Dest::Process(p.pid))
                .count();
            ensure(
                p.queued as usize == queued,
                "a process's queued count disagrees with the pool",
            )?;
        }
        for (i, &n) in self.mailbox_queued.iter().enumerate() {
            let id = crate::MailboxId(i as u16);
            let queued = self
                .pool
                .iter()
                .filter(|m| m.dest == Dest::Mailbox(id))
                .count();
            ensure(
                n as usize == queued,
                "a mailbox's queued count disagrees with the pool",
            )?;
        }
        let senders = self
            .procs
            .iter()
            .filter(|p| matches!(p.pending, Some(Pending::Send { .. })))
            .count();
        let receivers = self
            .procs
            .iter()
            .filter(|p| matches!(p.pending, Some(Pending::Recv { .. })))
            .count();
        ensure(
            self.blocked_senders as usize == senders
                && self.blocked_receivers as usize == receivers,
            "the blocked sender/receiver counts disagree with the process table",
        )?;
        ensure(
            self.pool.len() + self.mpi.messages.len() <= self.config.buffer_slots,
            "the pool holds more messages than buffer_slots",
        )?;
        for m in &self.pool {
            ensure(
                self.queued_at(m.dest) <= self.quota_of(m.dest),
                "a receiver or mailbox is above its quota",
            )?;
        }
        Ok(())
    }

    /// Queue and process states agree.
    fn check_processes(&self) -> Result<(), InvariantViolation> {
        for p in &self.procs {
            match (p.state, p.pending) {
                (ProcessState::Blocked(reason), Some(pending)) => {
                    let agrees = match (reason, pending) {
                        (BlockReason::Send { to, .. }, Pending::Send { dest, .. }) => {
                            dest == Dest::Process(to)
                        }
                        (BlockReason::MboxSend { mailbox, .. }, Pending::Send { dest, .. }) => {
                            dest == Dest::Mailbox(mailbox)
                        }
                        (
                            BlockReason::Recv { from, tag },
                            Pending::Recv {
                                at,
                                from: f,
                                tag: t,
                                ..
                            },
                        ) => at == Dest::Process(p.pid) && from == f && tag == t,
                        (
                            BlockReason::MboxRecv { mailbox, tag },
                            Pending::Recv { at, tag: t, .. },
                        ) => at == Dest::Mailbox(mailbox) && tag == t,
                        (BlockReason::Sleep { .. }, Pending::Sleep) => true,
                        (BlockReason::Mpi { .. }, Pending::Mpi(_)) => true,
                        (
                            BlockReason::SemP { .. }
                            | BlockReason::MutexLock { .. }
                            | BlockReason::CondWait { .. },
                            Pending::Sync { .. },
                        ) => true,
                        _ => false,
                    };
                    ensure(
                        agrees,
                        "a block reason disagrees with the pending operation",
                    )?;
                }
                (ProcessState::Blocked(_), None) => {
                    return Err(InvariantViolation(
                        "a blocked process has no pending operation",
                    ))
                }
                (_, Some(_)) => {
                    return Err(InvariantViolation(
                        "a process that is not blocked has a pending operation",
                    ))
                }
                (_, None) => ensure(
                    p.deadline.is_none(),
                    "a process that is not blocked has a timer",
                )?,
            }
            if p.is_exited() {
                ensure(
                    p.handles.iter().next().is_none(),
                    "a terminated process holds handles",
                )?;
            }
            if let Some(Pending::Send { dest, len, .. }) = p.pending {
                ensure(
                    !self.can_buffer(dest, len),
                    "a sender is blocked although its message fits a free slot",
                )?;
            }
            if let Some(Pending::Recv { at, from, tag, .. }) = p.pending {
                let waiting_for_queued = self.pool.iter().any(|m| {
                    m.dest == at
                        && tag.accepts(m.tag)
                        && match from {
                            Source::Any => true,
                            Source::Pid(want) => want == m.from,
                        }
                });
                ensure(
                    !waiting_for_queued,
                    "a receiver waits for a message that is queued for it",
                )?;
            }
        }
        Ok(())
    }

    /// Mailbox reference counts match the handle tables.
    fn check_mailboxes(&self) -> Result<(), InvariantViolation> {
        for (id, mailbox) in self.mailboxes() {
            let holders = self
                .procs
                .iter()
                .map(|p| {
                    p.handles
                        .iter()
                        .filter(|(_, m)| m.mailbox() == Some(id))
                        .count()
                })
                .sum::<usize>();
            ensure(
                holders == mailbox.refs as usize,
                "a mailbox's reference count disagrees with the handle tables",
            )?;
            ensure(
                self.queued_at(Dest::Mailbox(id)) <= mailbox.capacity as usize,
                "a mailbox holds more than its capacity",
            )?;
        }
        Ok(())
    }
}

impl Kernel {
    /// The MPI request table agrees with the processes, no posted receive
    /// waits for a message it could take, buffered messages fit their
    /// attached buffers.
    fn check_mpi(&self) -> Result<(), InvariantViolation> {
        use crate::mpi::MpiBlock;
        use crate::{Holder, RequestOp};
        for m in &self.mpi.messages {
            ensure(
                m.data.len() <= self.config.eager_limit,
                "an eager MPI message is longer than the eager limit",
            )?;
            ensure(
                self.process(m.to).is_some_and(|p| !p.is_exited()),
                "an MPI message is queued for a terminated process",
            )?;
        }
        for (handle, r) in self.requests() {
            let owner = self.process(r.owner);
            match r.holder {
                Holder::Internal => ensure(
                    owner.is_some_and(|p| {
                        p.pending
                            == Some(Pending::Mpi(MpiBlock::Request {
                                slot: handle.slot(),
                            }))
                    }),
                    "an internal MPI request's owner is not blocked on it",
                )?,
                Holder::User => ensure(
                    owner.is_some_and(|p| !p.is_exited()),
                    "a terminated process holds an MPI request",
                )?,
                Holder::Buffered => {
                    ensure(r.done.is_none(), "a delivered buffered message is kept")?;
                    let RequestOp::Send { buf, len, .. } = r.op else {
                        return Err(InvariantViolation("a buffered request is not a send"));
                    };
                    let inside = self.attached_buffer(r.owner).is_some_and(|a| {
                        buf >= a.addr && buf.saturating_add(len) <= a.addr + a.size
                    });
                    ensure(
                        inside,
                        "a buffered message lies outside its attached buffer",
                    )?;
                    let overlaps = self.requests().any(|(h2, r2)| {
                        h2 != handle
                            && r2.owner == r.owner
                            && r2.holder == Holder::Buffered
                            && match r2.op {
                                RequestOp::Send {
                                    buf: b2, len: l2, ..
                                } => len > 0 && l2 > 0 && b2 < buf + len && buf < b2 + l2,
                                RequestOp::Recv { .. } => false,
                            }
                    });
                    ensure(!overlaps, "two buffered messages overlap")?;
                }
            }
            if let (None, RequestOp::Recv { from, tag, .. }) = (r.done, r.op) {
                let queued = self.mpi.messages.iter().any(|m| {
                    m.to == r.owner
                        && m.comm == r.comm
                        && from.accepts(m.from)
                        && tag.accepts(m.tag)
                });
                let sending = self.requests().any(|(_, s)| {
                    s.done.is_none()
                        && s.comm == r.comm
                        && from.accepts(s.owner)
                        && matches!(s.op, RequestOp::Send { to, tag: t, .. } if to == r.owner && tag.accepts(t))
                });
                ensure(
                    !queued && !sending,
                    "a posted MPI receive waits for a message it could take",
                )?;
            }
        }
        for p in &self.procs {
            ensure(
                self.user_requests_of(p.pid) <= crate::config::MAX_REQUESTS_PER_PROCESS,
                "a process holds more MPI requests than its bound",
            )?;
        }
        Ok(())
    }
}
