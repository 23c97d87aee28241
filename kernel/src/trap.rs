//! The trap entry: decode the registers, then perform the call.
//!
//! Decoding may fail and changes nothing (the caller gets the errno).
//! Performing either completes the call now, or blocks the caller; a
//! blocked call is completed later by its partner, a timer or an exit, and
//! its result waits in the PCB ([`Kernel::take_completion`]).

use ipclab_syscalls::{Errno, Pid, Regs, Reply, RetRegs, Source, Syscall, MAX_NAME_LEN};

use crate::ipc::{err_regs, RecvArgs, SendArgs};
use crate::process::Pending;
use crate::umem::in_bounds;
use crate::{BlockReason, Dest, Event, Kernel, ProcessState, TraceSink, UserMemory};

/// What a trap did to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum TrapOutcome {
    /// The call completed; put these in the caller's result registers. The
    /// caller keeps running.
    Complete(RetRegs),
    /// The caller blocked; its result comes later through
    /// [`Kernel::take_completion`] once it is ready again.
    Blocked(BlockReason),
    /// The caller gave up its CPU (`yield`) and is ready; its result is 0.
    Yielded,
    /// The caller terminated (`exit`).
    Exited(i64),
}

/// A trap the kernel refused before looking at the registers: an embedder
/// error, not a process's. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapError {
    /// The pid is stale or never existed.
    NoSuchProcess,
    /// The process is not running on a CPU.
    NotRunning,
}

impl Kernel {
    /// Process `pid`, running, traps with `regs`.
    pub fn trap(
        &mut self,
        pid: Pid,
        regs: &Regs,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, TrapError> {
        let pcb = self.process(pid).ok_or(TrapError::NoSuchProcess)?;
        if pcb.state != ProcessState::Running {
            return Err(TrapError::NotRunning);
        }
        self.stats.syscalls += 1;
        let call = match Syscall::decode(regs) {
            Ok(call) => call,
            Err(errno) => {
                sink.event(
                    self.now,
                    &Event::BadCall {
                        pid,
                        sysno: regs.sysno,
                        errno,
                    },
                );
                return Ok(TrapOutcome::Complete(err_regs(errno)));
            }
        };
        sink.event(self.now, &Event::Syscall { pid, call });
        let outcome = match self.perform(pid, call, mem, sink) {
            Ok(outcome) => outcome,
            Err(regs) => TrapOutcome::Complete(regs),
        };
        if let TrapOutcome::Complete(result) = outcome {
            sink.event(self.now, &Event::Return { pid, result });
        }
        Ok(outcome)
    }

    fn perform(
        &mut self,
        caller: Pid,
        call: Syscall,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, RetRegs> {
        let value = |v: u64| Ok(TrapOutcome::Complete(Reply::to_regs(Ok(Reply::value(v)))));
        match call {
            Syscall::Send {
                to,
                buf,
                len,
                tag,
                timeout,
            } => {
                self.pcb_ref(to).map_err(err_regs)?;
                if to == caller {
                    return Err(err_regs(Errno::EINVAL));
                }
                let args = SendArgs {
                    dest: Dest::Process(to),
                    buf,
                    len,
                    tag,
                    timeout,
                };
                self.send(caller, args, mem, sink).map_err(err_regs)
            }
            Syscall::Recv {
                from,
                tag,
                buf,
                cap,
                timeout,
            } => {
                if let Source::Pid(from) = from {
                    self.pcb_ref(from).map_err(err_regs)?;
                    if from == caller {
                        return Err(err_regs(Errno::EINVAL));
                    }
                }
                let args = RecvArgs {
                    at: Dest::Process(caller),
                    from,
                    tag,
                    buf,
                    cap,
                    timeout,
                };
                self.recv(caller, args, mem, sink)
            }
            Syscall::MboxSend {
                handle,
                buf,
                len,
                tag,
                timeout,
            } => {
                let mailbox = self.mailbox_of(caller, handle).map_err(err_regs)?;
                let args = SendArgs {
                    dest: Dest::Mailbox(mailbox),
                    buf,
                    len,
                    tag,
                    timeout,
                };
                self.send(caller, args, mem, sink).map_err(err_regs)
            }
            Syscall::MboxRecv {
                handle,
                tag,
                buf,
                cap,
                timeout,
            } => {
                let mailbox = self.mailbox_of(caller, handle).map_err(err_regs)?;
                let args = RecvArgs {
                    at: Dest::Mailbox(mailbox),
                    from: Source::Any,
                    tag,
                    buf,
                    cap,
                    timeout,
                };
                self.recv(caller, args, mem, sink)
            }
            Syscall::MboxCreate {
                name,
                name_len,
                capacity,
            } => {
                let (bytes, n) = self.read_name(caller, name, name_len, mem)?;
                let capacity = u32::try_from(capacity).map_err(|_| err_regs(Errno::EINVAL))?;
                let handle = self
                    .mbox_create(caller, &bytes[..n], capacity, sink)
                    .map_err(err_regs)?;
                value(handle.to_raw())
            }
            Syscall::MboxOpen { name, name_len } => {
                let (bytes, n) = self.read_name(caller, name, name_len, mem)?;
                let handle = self.mbox_open(caller, &bytes[..n]).map_err(err_regs)?;
                value(handle.to_raw())
            }
            Syscall::Close { handle } => {
                self.close(caller, handle, sink).map_err(err_regs)?;
                value(0)
            }
            Syscall::MboxDestroy { handle } => {
                self.mbox_destroy(caller, handle, mem, sink)
                    .map_err(err_regs)?;
                value(0)
            }
            Syscall::Sleep { ticks: 0 } => value(0),
            Syscall::Sleep { ticks } => {
                let until = self.now.saturating_add(ticks);
                let now = self.now;
                let reason = BlockReason::Sleep { until };
                let pcb = self.pcb_mut(caller).map_err(err_regs)?;
                pcb.state = ProcessState::Blocked(reason);
                pcb.pending = Some(Pending::Sleep);
                pcb.deadline = Some(until);
                sink.event(
                    now,
                    &Event::Block {
                        pid: caller,
                        reason,
                    },
                );
                Ok(TrapOutcome::Blocked(reason))
            }
            Syscall::Exit { code } => {
                self.terminate(caller, code, mem, sink).map_err(err_regs)?;
                Ok(TrapOutcome::Exited(code))
            }
            Syscall::Yield => {
                self.preempt(caller, sink).map_err(err_regs)?;
                Ok(TrapOutcome::Yielded)
            }
            Syscall::GetPid => value(caller.to_raw()),
            Syscall::Clock => value(self.now),
        }
    }

    /// Copies a mailbox name out of the caller's memory.
    fn read_name(
        &mut self,
        caller: Pid,
        addr: u64,
        len: u64,
        mem: &mut impl UserMemory,
    ) -> Result<([u8; MAX_NAME_LEN as usize], usize), RetRegs> {
        let size = self.pcb_ref(caller).map_err(err_regs)?.memory_size;
        if !in_bounds(size, addr, len) {
            return Err(err_regs(Errno::EFAULT));
        }
        let mut bytes = [0u8; MAX_NAME_LEN as usize];
        // `len` was checked against MAX_NAME_LEN when the call decoded.
        let n = len as usize;
        mem.read(caller, addr, &mut bytes[..n])
            .map_err(|_| err_regs(Errno::EFAULT))?;
        Ok((bytes, n))
    }
}
