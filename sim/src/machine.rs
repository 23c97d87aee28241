//! The simulated machine: a booted kernel, every process's VM state, and one step of one process.
//!
//! The runner, the checker and replay all step processes the same way; this
//! module is that one way. A step of process `k` (already on a CPU):
//! 1. collect the result of the call it blocked in, if any, into its
//!    registers ([`resume`]);
//! 2. run its bytecode to the next event ([`run_to_event`]): local
//!    computation is atomic, only system calls are visible to others;
//! 3. act on the event ([`handle`]): trap into the kernel with the call's
//!    registers, terminate on exit, or report a local effect or a program
//!    error.
//!
//! The steps are functions of the kernel and the VM states rather than
//! methods, so that each caller keeps them where it likes (the runner in its
//! world, the checker in a reused scratch space).
//!
//! Callers add their own bookkeeping (trace, clock, progress) around it.

use ipclab_kernel::{Fault, Kernel, TraceSink, TrapOutcome, UserMemory};
use ipclab_syscalls::{Errno, Pid, Reply, RetRegs};

use crate::lang::vm::{self, ProcState, VmEvent};
use crate::lang::{Program, Span};
use crate::names::Names;
use crate::runner::{kernel_config, BootError};
use crate::verdict::Verdict;

/// Instructions a process may run between two events before the step ends
/// anyway (a long local loop) and another process may run.
pub const VM_BUDGET: u32 = 10_000;

/// A booted scenario: the kernel and every instance's VM state.
#[derive(Clone, Debug)]
pub struct Machine {
    /// The kernel (boxed: its tables are a few hundred kilobytes).
    pub kernel: Box<Kernel>,
    /// Every instance's VM state (pc, stack, memory, ...), by instance.
    pub procs: Vec<ProcState>,
}

/// What one step of a process did, after [`Machine::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The process trapped; the kernel's answer (a completed call's result
    /// is already in its registers).
    Trapped(TrapOutcome),
    /// `compute n`: local work of `n` ticks.
    Compute(u64),
    /// `produce x` gave this item.
    Produce(i64),
    /// `consume x` consumed this item.
    Consume(i64),
    /// `print` wrote this text.
    Print(String),
    /// The process ran off the end of its body and was terminated.
    Exited(i64),
    /// The step budget ran out in a long local loop.
    Budget,
    /// A program error or a failed assertion: the run is over.
    Failed(Verdict),
}

impl Effect {
    /// Could another process observe this step? Local steps (computation,
    /// print, produce, consume) commute with every other process's steps.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Effect::Compute(_)
                | Effect::Produce(_)
                | Effect::Consume(_)
                | Effect::Print(_)
                | Effect::Budget
        )
    }

    /// Did a call complete successfully in this step?
    pub fn completed_ok(&self) -> bool {
        matches!(self, Effect::Trapped(TrapOutcome::Complete(r)) if Reply::from_regs(*r).is_ok())
    }
}

/// The processes' memories, as the kernel sees them (pid slot = instance).
pub struct Memories<'a> {
    procs: &'a mut [ProcState],
}

impl<'a> Memories<'a> {
    /// The kernel's view of `procs`' memories.
    pub fn new(procs: &'a mut [ProcState]) -> Memories<'a> {
        Memories { procs }
    }
}

impl UserMemory for Memories<'_> {
    fn read(&self, pid: Pid, addr: u64, out: &mut [u8]) -> Result<(), Fault> {
        let memory = &self.procs.get(pid.index as usize).ok_or(Fault)?.memory;
        let start = usize::try_from(addr).map_err(|_| Fault)?;
        let end = start.checked_add(out.len()).ok_or(Fault)?;
        out.copy_from_slice(memory.get(start..end).ok_or(Fault)?);
        Ok(())
    }

    fn write(&mut self, pid: Pid, addr: u64, data: &[u8]) -> Result<(), Fault> {
        let memory = &mut self.procs.get_mut(pid.index as usize).ok_or(Fault)?.memory;
        let start = usize::try_from(addr).map_err(|_| Fault)?;
        let end = start.checked_add(data.len()).ok_or(Fault)?;
        memory
            .get_mut(start..end)
            .ok_or(Fault)?
            .copy_from_slice(data);
        Ok(())
    }
}

/// The message of a statement-form call that failed.
pub fn failed_call_message(call: &str, errno: Errno) -> String {
    format!(
        "{call} failed with {} ({}) and the program does not check the result",
        errno.name(),
        errno.description()
    )
}

/// The `error` verdict for instance `k` at `span`.
pub fn program_error(
    program: &Program,
    names: &Names,
    k: usize,
    span: Span,
    message: String,
) -> Verdict {
    let (line, column) = program.line_col(span);
    Verdict::Error {
        process: names.process(Program::pid_of(k)),
        message,
        line,
        column,
    }
}

impl Machine {
    /// Boots a kernel for `program`: creates its mailboxes, spawns every
    /// instance (instance `k` is slot `k`, `Pid::new(k, 1)`) and hands each
    /// a handle to every declared mailbox (mailbox `m` is handle `m`).
    pub fn boot(program: &Program, sink: &mut impl TraceSink) -> Result<Machine, BootError> {
        let config = kernel_config(program)?;
        let mut kernel = Box::new(
            Kernel::new(config).map_err(|e| BootError(format!("kernel {{ }} block: {e}")))?,
        );
        if program.instances.len() > ipclab_kernel::config::MAX_PROCS {
            return Err(BootError(format!(
                "{} processes: the kernel holds at most {}",
                program.instances.len(),
                ipclab_kernel::config::MAX_PROCS
            )));
        }
        let mut mailboxes = Vec::new();
        for mailbox in &program.mailboxes {
            let capacity = u32::try_from(mailbox.capacity).unwrap_or(u32::MAX);
            let id = kernel
                .create_mailbox(&mailbox.name, capacity, sink)
                .map_err(|e| {
                    BootError(format!(
                        "mailbox {}(capacity = {}): {} (the kernel's mailbox_quota is {})",
                        mailbox.name,
                        mailbox.capacity,
                        e.name(),
                        kernel.config().mailbox_quota
                    ))
                })?;
            mailboxes.push(id);
        }
        let mut procs = Vec::new();
        for (k, instance) in program.instances.iter().enumerate() {
            let state = ProcState::new(program, k);
            let decl = &program.processes[instance.decl];
            // `priorities = false` in the kernel block: plain round robin.
            let priority = if program.kernel.priorities.unwrap_or(true) {
                decl.priority.unwrap_or(0)
            } else {
                0
            };
            let pid = kernel
                .spawn(&instance.label, priority, state.memory.len() as u64, sink)
                .map_err(|e| BootError(format!("cannot spawn {}: {e:?}", instance.label)))?;
            debug_assert_eq!(pid, Program::pid_of(k));
            for id in &mailboxes {
                kernel
                    .grant_handle(pid, *id)
                    .map_err(|e| BootError(format!("cannot open mailboxes: {}", e.name())))?;
            }
            procs.push(state);
        }
        if program.uses_mpi {
            // MPI_COMM_WORLD: every instance, rank = instance number.
            let pids: Vec<_> = (0..program.instances.len()).map(Program::pid_of).collect();
            kernel.create_communicator(&pids).map_err(|e| {
                BootError(format!(
                    "MPI_COMM_WORLD of {} ranks: {} (at most {})",
                    pids.len(),
                    e.name(),
                    ipclab_kernel::config::MAX_COMM_SIZE
                ))
            })?;
        }
        Ok(Machine { kernel, procs })
    }
}

/// Puts the result of the call `k` blocked in, if it has one waiting, into
/// its registers. Returns the result.
pub fn resume(
    kernel: &mut Kernel,
    procs: &mut [ProcState],
    program: &Program,
    k: usize,
) -> Option<RetRegs> {
    let result = kernel.take_completion(Program::pid_of(k))?;
    vm::complete_syscall(program, k, &mut procs[k], result);
    Some(result)
}

/// Runs `k`'s bytecode to its next event.
pub fn run_to_event(procs: &mut [ProcState], program: &Program, k: usize) -> VmEvent {
    vm::run(program, k, &mut procs[k], VM_BUDGET)
}

/// Acts on `k`'s event: traps, terminates, or reports.
#[allow(clippy::too_many_arguments)]
pub fn handle(
    kernel: &mut Kernel,
    procs: &mut [ProcState],
    program: &Program,
    names: &Names,
    k: usize,
    event: VmEvent,
    sink: &mut impl TraceSink,
) -> Effect {
    let pid = Program::pid_of(k);
    match event {
        VmEvent::Syscall { regs, span } => {
            let mut memories = Memories::new(procs);
            match kernel.trap(pid, &regs, &mut memories, sink) {
                Ok(outcome) => {
                    match outcome {
                        TrapOutcome::Complete(result) => {
                            vm::complete_syscall(program, k, &mut procs[k], result)
                        }
                        TrapOutcome::Yielded => vm::complete_syscall(
                            program,
                            k,
                            &mut procs[k],
                            Reply::to_regs(Ok(Reply::value(0))),
                        ),
                        TrapOutcome::Blocked(_) | TrapOutcome::Exited(_) => {}
                    }
                    Effect::Trapped(outcome)
                }
                Err(e) => Effect::Failed(program_error(
                    program,
                    names,
                    k,
                    span,
                    format!("kernel refused the trap: {e:?}"),
                )),
            }
        }
        VmEvent::Compute { ticks, .. } => Effect::Compute(ticks),
        VmEvent::Produce { value, .. } => Effect::Produce(value),
        VmEvent::Consume { value, .. } => Effect::Consume(value),
        VmEvent::Print { text, .. } => Effect::Print(text),
        VmEvent::Budget => Effect::Budget,
        VmEvent::Exited { code } => {
            let mut memories = Memories::new(procs);
            let _ = kernel.terminate(pid, code, &mut memories, sink);
            Effect::Exited(code)
        }
        VmEvent::SyscallFailed { errno, call, span } => Effect::Failed(program_error(
            program,
            names,
            k,
            span,
            failed_call_message(call, errno),
        )),
        VmEvent::RuntimeError { message, span } => {
            Effect::Failed(program_error(program, names, k, span, message))
        }
        VmEvent::AssertFailed { span, text } => {
            let (line, column) = program.line_col(span);
            Effect::Failed(Verdict::AssertionFailed {
                process: names.process(pid),
                message: text,
                line,
                column,
            })
        }
    }
}
