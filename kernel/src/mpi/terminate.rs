//! Termination: what a process's exit does to the MPI state.
//!
//! The dead process's own requests go (a pending send's message was never
//! accepted: it is traced as cancelled); its buffered messages were
//! accepted and stay deliverable; eager messages for it can never be
//! received. Under `notify`, whoever waits for it is woken with
//! `EDEADPEER` rather than left to deadlock.

use ipclab_syscalls::{Errno, Pid, Source};

use super::{errno_regs, value_regs, Holder, RequestOp};
use crate::trace::UndeliverableReason;
use crate::{Dest, Event, Kernel, Policy, TraceSink, UserMemory};

impl Kernel {
    /// Settles the MPI state when `dead` terminates (called by `terminate`):
    /// its requests are cancelled (a pending send's message was never
    /// accepted: traced, not lost), its buffered messages stay deliverable,
    /// eager and buffered messages for it are reported undeliverable; under
    /// `notify`, requests of others that name it complete with `EDEADPEER`.
    pub(crate) fn mpi_terminate(
        &mut self,
        dead: Pid,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) {
        let now = self.now;
        for slot in 0..self.mpi.requests.len() {
            let Some(r) = self.request(slot).copied() else {
                continue;
            };
            if r.owner == dead && r.holder != Holder::Buffered {
                if let (None, RequestOp::Send { seq, to, .. }) = (r.done, r.op) {
                    self.stats.cancelled += 1;
                    sink.event(
                        now,
                        &Event::SendCancelled {
                            message: seq,
                            from: dead,
                            dest: Dest::Process(to),
                        },
                    );
                }
                self.free_request(slot);
            }
        }
        let mut index = 0;
        while index < self.mpi.messages.len() {
            if self.mpi.messages[index].to == dead {
                let m = self.mpi.messages.remove(index);
                self.stats.undeliverable += 1;
                sink.event(
                    now,
                    &Event::Undeliverable {
                        message: m.id,
                        from: m.from,
                        dest: Dest::Process(dead),
                        reason: UndeliverableReason::ReceiverExited,
                    },
                );
            } else {
                index += 1;
            }
        }
        // Buffered messages for it, under either policy: nobody waits for
        // them, and no receive will ever take them.
        for slot in 0..self.mpi.requests.len() {
            let Some(r) = self.request(slot).copied() else {
                continue;
            };
            if r.done.is_some() || r.peer() != Source::Pid(dead) || r.holder != Holder::Buffered {
                continue;
            }
            if let RequestOp::Send { seq, .. } = r.op {
                self.stats.undeliverable += 1;
                sink.event(
                    now,
                    &Event::Undeliverable {
                        message: seq,
                        from: r.owner,
                        dest: Dest::Process(dead),
                        reason: UndeliverableReason::ReceiverExited,
                    },
                );
            }
            self.finish_request(slot, value_regs(0));
        }
        if self.config.policy == Policy::Notify {
            for slot in 0..self.mpi.requests.len() {
                let Some(r) = self.request(slot).copied() else {
                    continue;
                };
                if r.done.is_some() || r.peer() != Source::Pid(dead) {
                    continue;
                }
                self.finish_request(slot, errno_regs(Errno::EDEADPEER));
            }
        }
        self.mpi_progress(mem, sink);
    }
}
