//! Translating kernel trace events into scenario words (`Producer[1]`, `consMbox`).

use ipclab_kernel::{CopyEnd, Dest, Event, Kernel, MailboxId, TimerKind, UndeliverableReason};
use ipclab_syscalls::{Pid, RetRegs, Sysno};

use crate::names::{result_text, Names};
use crate::trace::TraceEvent;

/// What the translation of a run's events remembers from step to step:
/// the numbers shown for messages, the call each process made last (a
/// process woken later was blocked in it: its result is that call's), and
/// the names mailboxes were created with.
#[derive(Clone, Debug, Default)]
pub struct TraceMemory {
    /// Messages are shown as 1, 2, 3 in the order they first appear. The
    /// kernel's own numbers order arrivals and skip where a blocked send
    /// took one when it blocked and its message took another when it moved
    /// into a slot; a reader of the trace should see no gaps.
    shown: std::collections::HashMap<u64, u64>,
    last_call: std::collections::HashMap<Pid, Sysno>,
    /// Each mailbox's name as it was created: the kernel forgets a
    /// mailbox its last `close` (or its owner's exit) destroys, but its
    /// last events still name it.
    created: std::collections::HashMap<MailboxId, String>,
}

impl TraceMemory {
    /// The number shown for the kernel's message `id`.
    pub fn number(&mut self, id: u64) -> u64 {
        let next = self.shown.len() as u64 + 1;
        *self.shown.entry(id).or_insert(next)
    }

    /// Mailbox `id`'s name: the kernel's while it lives, else the one it
    /// was created with.
    fn mailbox(&self, kernel: &Kernel, names: &Names, id: MailboxId) -> String {
        match (kernel.mailbox(id), self.created.get(&id)) {
            (None, Some(name)) => name.clone(),
            _ => names.mailbox(kernel, id),
        }
    }

    /// A destination in words ([`Names::dest`], with [`TraceMemory::mailbox`]).
    fn dest(&self, kernel: &Kernel, names: &Names, dest: Dest) -> String {
        match dest {
            Dest::Mailbox(id) => self.mailbox(kernel, names, id),
            Dest::Process(_) => names.dest(kernel, dest),
        }
    }
}

/// The trace events for a step's kernel events, in order: `None` where
/// [`translate`] gives none, so positions match `events`.
///
/// A call that answers with data (`shared_load`, `clock`, `getpid`, a
/// mailbox handle, a character, a rank) shows its value even when it is 0: the
/// step's `Syscall` event says which call a `Return` answers.
pub fn translate_all<'e>(
    kernel: &Kernel,
    names: &Names,
    memory: &mut TraceMemory,
    events: impl IntoIterator<Item = &'e Event>,
) -> Vec<Option<TraceEvent>> {
    events
        .into_iter()
        .map(|event| {
            match *event {
                Event::Syscall { pid, call } => {
                    memory.last_call.insert(pid, call.sysno());
                }
                // A woken process was blocked in its last call.
                Event::Wake { pid, result } => {
                    let text = memory
                        .last_call
                        .get(&pid)
                        .and_then(|sysno| mpi_result_text(*sysno, result));
                    if let Some(text) = text {
                        return Some(TraceEvent::Wake {
                            process: names.process(pid),
                            result: text,
                        });
                    }
                }
                // A return answers the call its process just made.
                Event::Return { pid, result } => {
                    if let Some(&sysno) = memory.last_call.get(&pid) {
                        if let Some(text) = mpi_result_text(sysno, result) {
                            return Some(TraceEvent::Return {
                                process: names.process(pid),
                                result: text,
                            });
                        }
                        if answers_with_data(sysno) {
                            return Some(TraceEvent::Return {
                                process: names.process(pid),
                                result: value_text(result),
                            });
                        }
                    }
                }
                _ => {}
            }
            translate(kernel, names, memory, event)
        })
        .collect()
}

/// Does a successful `sysno` answer with a value the program reads, so
/// that 0 is an answer rather than "nothing to say"?
fn answers_with_data(sysno: Sysno) -> bool {
    matches!(
        sysno,
        Sysno::SharedLoad
            | Sysno::Clock
            | Sysno::GetPid
            | Sysno::MboxCreate
            | Sysno::MboxOpen
            | Sysno::DevRead
            | Sysno::CommRank
            | Sysno::CommSize
    )
}

/// The result of a successful MPI call in the words of the call:
/// `MPI_Wait` says `ok` (the kernel's value is the number of requests
/// waited for), `MPI_Waitany` names the index (`MPI_UNDEFINED` when every
/// request was null), `MPI_Test` and `MPI_Iprobe` the flag, a probe
/// that found a message its sender's rank, tag and length,
/// `MPI_Isend` and `MPI_Irecv` the request handle they return, `MPI_Recv`
/// the length received and `MPI_Buffer_detach` the size it gave back.
fn mpi_result_text(sysno: Sysno, result: RetRegs) -> Option<String> {
    let value = ipclab_syscalls::Reply::from_regs(result).ok()?.value;
    Some(match sysno {
        Sysno::Waitall => "ok".to_string(),
        Sysno::Waitany if value == u64::MAX => "ok, index MPI_UNDEFINED".to_string(),
        Sysno::Waitany => format!("ok, index {value}"),
        Sysno::Test => format!("ok, flag {value}"),
        // `[0, 1, len, source << 32 | tag]` when a message is there.
        Sysno::Iprobe if value == 1 => format!("ok, flag 1: {}", probed(result)),
        Sysno::Iprobe => format!("ok, flag {value}"),
        Sysno::Probe => format!("ok, {}", probed(result)),
        Sysno::Isend | Sysno::Irecv => format!("ok, request {value}"),
        // `[0, 1, len, source << 32 | tag]`: the length, as a plain `recv` shows it.
        Sysno::MpiRecv => format!("ok {}", result[2]),
        // `[0, address, size, 0]`.
        Sysno::BufferDetach => format!("ok, {} B detached", result[2]),
        _ => return None,
    })
}

/// The status a probe found: the message's sender, tag and length.
fn probed(result: RetRegs) -> String {
    let source = result[3] >> 32;
    let tag = result[3] & 0xffff_ffff;
    format!("rank {source}, tag {tag}, {} B", result[2])
}

/// `ok 0` where [`result_text`] would say `ok`.
fn value_text(result: RetRegs) -> String {
    match ipclab_syscalls::Reply::from_regs(result) {
        Ok(reply) => format!("ok {}", reply.value),
        Err(_) => result_text(result),
    }
}

/// The trace event for a kernel event; `None` for events the step record
/// already shows another way (a call's decoded form is recorded by the
/// runner with its scenario line). A step's events go through
/// [`translate_all`], which also knows which call a `Return` answers.
pub fn translate(
    kernel: &Kernel,
    names: &Names,
    memory: &mut TraceMemory,
    event: &Event,
) -> Option<TraceEvent> {
    let end = |e: &CopyEnd, memory: &mut TraceMemory| match *e {
        CopyEnd::User { pid, addr } => format!("{}@{addr}", names.process(pid)),
        CopyEnd::Kernel { message } => {
            format!("kernel slot (message {})", memory.number(message))
        }
    };
    Some(match *event {
        Event::Spawn { .. } | Event::Syscall { .. } => return None,
        Event::BadCall { pid, errno, .. } => TraceEvent::BadCall {
            process: names.process(pid),
            errno: errno.name().to_string(),
        },
        Event::Return { pid, result } => TraceEvent::Return {
            process: names.process(pid),
            result: result_text(result),
        },
        Event::Block { pid, reason } => TraceEvent::Block {
            process: names.process(pid),
            reason: names.reason(kernel, pid, reason),
        },
        Event::Wake { pid, result } => TraceEvent::Wake {
            process: names.process(pid),
            result: result_text(result),
        },
        Event::Copy { from, to, bytes } => TraceEvent::Copy {
            from: end(&from, memory),
            to: end(&to, memory),
            bytes,
        },
        Event::Enqueue {
            message,
            from,
            dest,
            tag,
            len,
            queued,
        } => TraceEvent::Enqueue {
            message: memory.number(message),
            from: names.process(from),
            dest: memory.dest(kernel, names, dest),
            tag,
            len,
            queued,
            capacity: kernel.quota_of(dest) as u64,
        },
        Event::Deliver {
            message,
            from,
            to,
            dest,
            tag,
            len,
            direct,
        } => TraceEvent::Deliver {
            message: memory.number(message),
            from: names.process(from),
            to: names.process(to),
            dest: memory.dest(kernel, names, dest),
            tag,
            len,
            direct,
        },
        Event::SendCancelled {
            message,
            from,
            dest,
        } => TraceEvent::SendCancelled {
            message: memory.number(message),
            from: names.process(from),
            dest: memory.dest(kernel, names, dest),
        },
        Event::Truncated {
            message,
            to,
            len,
            copied,
        } => TraceEvent::Truncated {
            message: memory.number(message),
            to: names.process(to),
            len,
            copied,
        },
        Event::Undeliverable {
            message,
            from,
            dest,
            reason,
        } => TraceEvent::Undeliverable {
            message: memory.number(message),
            from: names.process(from),
            dest: memory.dest(kernel, names, dest),
            reason: match reason {
                UndeliverableReason::ReceiverExited => "receiver terminated",
                UndeliverableReason::SentToExited => "sent to a terminated process",
                UndeliverableReason::MailboxDestroyed => "mailbox destroyed",
            }
            .to_string(),
        },
        Event::MailboxCreated { mailbox, .. } => {
            let name = names.mailbox(kernel, mailbox);
            memory.created.insert(mailbox, name.clone());
            TraceEvent::Mailbox {
                mailbox: name,
                action: "created".into(),
            }
        }
        Event::MailboxDestroyed { mailbox } => TraceEvent::Mailbox {
            mailbox: memory.mailbox(kernel, names, mailbox),
            action: "destroyed".into(),
        },
        Event::Exit { pid, code } => TraceEvent::Exit {
            process: names.process(pid),
            code,
        },
        Event::Switch { from, to } => TraceEvent::Switch {
            from: from.map(|p| names.process(p)),
            to: to.map(|p| names.process(p)),
        },
        Event::Interrupt { byte, queued, .. } => {
            let keyboard = kernel.keyboard();
            TraceEvent::Interrupt {
                device: "keyboard".to_string(),
                character: crate::lang::device::character(byte),
                queued,
                capacity: keyboard.map_or(0, |k| k.capacity()),
                semaphore: keyboard
                    .and_then(|k| {
                        kernel.object_name(ipclab_kernel::Object::Semaphore(k.semaphore()))
                    })
                    .unwrap_or("?")
                    .to_string(),
            }
        }
        Event::Overrun { byte, overruns, .. } => TraceEvent::Overrun {
            device: "keyboard".to_string(),
            character: crate::lang::device::character(byte),
            capacity: kernel.keyboard().map_or(0, |k| k.capacity()),
            overruns,
        },
        Event::Timer { pid, kind } => TraceEvent::Timer {
            process: names.process(pid),
            kind: match kind {
                TimerKind::Timeout => "timeout",
                TimerKind::SleepDone => "sleep done",
            }
            .to_string(),
        },
    })
}
