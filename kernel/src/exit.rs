//! Termination: `exit` releases a process's handles and settles everything that involves it.
//!
//! Under either policy: the process's handles are closed, messages queued
//! for it are reported undeliverable (never dropped silently), and messages
//! it sent that are still queued stay deliverable (they were sent). Its
//! partners, the processes blocked sending to it or receiving from it by
//! name, then:
//! - `classic`: stay blocked, as in the lecture; the simulator explains why;
//! - `notify`: get `EDEADPEER`.

use ipclab_syscalls::{Errno, Pid, Source};

use crate::config::MAX_PROCS;
use crate::process::Pending;
use crate::trace::UndeliverableReason;
use crate::{Dest, Event, Kernel, Policy, ProcessState, TraceSink, UserMemory};

impl Kernel {
    /// Terminates `pid` with `code`, whatever state it is in (the embedder
    /// uses this to kill a process that hit a runtime error; `exit` uses it
    /// for the caller). A process that is already exited is left alone.
    ///
    /// # Errors
    /// `ESRCH` when `pid` is stale.
    pub fn terminate(
        &mut self,
        pid: Pid,
        code: i64,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<(), Errno> {
        let now = self.now;
        let pcb = self.pcb_mut(pid)?;
        if pcb.is_exited() {
            return Ok(());
        }
        pcb.state = ProcessState::Exited(code);
        pcb.pending = None;
        pcb.deadline = None;
        pcb.completion = None;
        let handles = pcb.handles.drain();
        sink.event(now, &Event::Exit { pid, code });
        for mailbox in handles.into_iter().flatten() {
            self.release_mailbox(mailbox, sink);
        }
        self.drop_messages_for(pid, sink);
        if self.config.policy == Policy::Notify {
            self.notify_partners(pid, sink);
        }
        self.refill(mem, sink);
        Ok(())
    }

    fn drop_messages_for(&mut self, pid: Pid, sink: &mut impl TraceSink) {
        let now = self.now;
        let mut index = 0;
        while index < self.pool.len() {
            if self.pool[index].dest == Dest::Process(pid) {
                let message = self.pool.remove(index);
                self.stats.undeliverable += 1;
                sink.event(
                    now,
                    &Event::Undeliverable {
                        message: message.id,
                        from: message.from,
                        dest: message.dest,
                        reason: UndeliverableReason::ReceiverExited,
                    },
                );
            } else {
                index += 1;
            }
        }
    }

    fn notify_partners(&mut self, dead: Pid, sink: &mut impl TraceSink) {
        let partners: heapless::Vec<Pid, MAX_PROCS> = self
            .pending_where(|op| match *op {
                Pending::Send { dest, .. } => dest == Dest::Process(dead),
                Pending::Recv { from, .. } => from == Source::Pid(dead),
                Pending::Sleep => false,
            })
            .map(|(pid, _)| pid)
            .collect();
        for pid in partners {
            self.fail(pid, Errno::EDEADPEER, sink);
        }
    }
}
