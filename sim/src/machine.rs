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

use ipclab_kernel::{
    Fault, Kernel, Object, OwnedKind, SpawnError, TraceSink, TrapOutcome, UserMemory,
};
use ipclab_syscalls::{Errno, Pid, Reply, RetRegs, Source, Sysno};

use crate::lang::ast::ObjectKind;
use crate::lang::vm::{self, BufferGuard, ProcState, VmEvent};
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

    /// Did a call complete successfully in this step (the step's `event`)?
    /// A `yield` does: it gives up the CPU and returns 0. A poll that found
    /// nothing does not ([`found_nothing`]).
    pub fn completed_ok(&self, event: &VmEvent) -> bool {
        match self {
            Effect::Trapped(TrapOutcome::Complete(r)) => {
                Reply::from_regs(*r).is_ok() && !found_nothing(event, *r)
            }
            Effect::Trapped(TrapOutcome::Yielded) => true,
            _ => false,
        }
    }
}

/// Is `result` the answer of a poll that found nothing: an `MPI_Test` of a
/// request not yet complete, an `MPI_Iprobe` with no message (flag 0, in
/// `r1`)? Such a call succeeds but changes nothing, as one failing with
/// `EAGAIN` does, so it is no progress: a loop of them is a busy-wait.
pub fn found_nothing(event: &VmEvent, result: RetRegs) -> bool {
    match event {
        VmEvent::Syscall { regs, .. } => poll_found_nothing(regs, result),
        _ => false,
    }
}

/// Which poll found nothing (`found_nothing`), for the explanation of a
/// busy-wait: 0 `MPI_Test`, 1 `MPI_Iprobe` ([`crate::verdict::polls_text`]).
pub fn poll_kind(event: &VmEvent) -> usize {
    match event {
        VmEvent::Syscall { regs, .. } if regs.sysno == Sysno::Iprobe as u64 => 1,
        _ => 0,
    }
}

/// [`found_nothing`] of the call made with `regs`.
pub fn poll_found_nothing(regs: &ipclab_syscalls::Regs, result: RetRegs) -> bool {
    let poll = regs.sysno == Sysno::Test as u64 || regs.sysno == Sysno::Iprobe as u64;
    poll && result[1] == 0 && Reply::from_regs(result).is_ok()
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

/// A statement-form call that failed, with what its registers say.
pub struct Failure<'a> {
    /// The call as written (`MPI_Wait`).
    pub call: &'a str,
    pub sysno: Sysno,
    pub errno: Errno,
    /// Its result registers.
    pub ret: RetRegs,
    /// Its argument registers, when it failed at its trap.
    pub arguments: Option<[u64; 6]>,
    /// The process that made the call.
    pub caller: Pid,
}

/// [`failed_call_message`] with what the call's registers say: an MPI call
/// names the sizes or the table they report, or the argument the kernel
/// refused and why (`lang::mpi::failure_message`).
pub fn failed_call_message_with(program: &Program, failure: &Failure) -> String {
    if let Some(message) = shared_out_of_range(program, failure) {
        return message;
    }
    if let Some(why) = self_addressed(failure)
        .map(str::to_owned)
        .or_else(|| bad_send_tag(failure))
        .or_else(|| too_long(failure))
    {
        return format!(
            "{} failed with {} ({}): {why}, and the program does not check the result",
            failure.call,
            failure.errno.name(),
            failure.errno.description()
        );
    }
    crate::lang::mpi_failure_message(program, failure)
        .unwrap_or_else(|| failed_call_message(failure.call, failure.errno))
}

/// Why a direct `send` or `recv` got `EINVAL`, when it named its own
/// process (a computed pid the compiler could not see): the kernel refuses
/// a call no one but the caller could complete.
fn self_addressed(failure: &Failure) -> Option<&'static str> {
    let first = failure.arguments?[0];
    if failure.errno != Errno::EINVAL {
        return None;
    }
    // Argument positions as `Syscall::decode` reads them.
    match failure.sysno {
        Sysno::Send if Pid::from_raw(first) == Ok(failure.caller) => {
            Some("a process cannot send to itself")
        }
        Sysno::Recv if Source::from_raw(first) == Ok(Source::Pid(failure.caller)) => {
            Some("a process cannot receive from itself")
        }
        _ => None,
    }
}

/// Why a `send` or `mbox_send` got `EINVAL` when its tag (computed: a
/// constant one is a compile error) is no tag.
fn bad_send_tag(failure: &Failure) -> Option<String> {
    if failure.errno != Errno::EINVAL || !matches!(failure.sysno, Sysno::Send | Sysno::MboxSend) {
        return None;
    }
    // Argument positions as `Syscall::decode` reads them; the register
    // holds the program's i64.
    let tag = failure.arguments?[3] as i64;
    (!(0..=i64::from(u32::MAX)).contains(&tag))
        .then(|| format!("tag {tag} is no tag: a send's tag is 0 to {}", u32::MAX))
}

/// The error of a shared-variable load or store the kernel refused for its
/// index (`c[i]` with `i` outside the declaration). It reads as a local
/// array's does; a load or store has no result to check.
fn shared_out_of_range(program: &Program, failure: &Failure) -> Option<String> {
    if failure.errno != Errno::EINVAL
        || !matches!(failure.sysno, Sysno::SharedLoad | Sysno::SharedStore)
    {
        return None;
    }
    let arguments = failure.arguments?;
    // Objects are created at boot after the mailboxes (`ObjectDecl`).
    let object = usize::try_from(arguments[0])
        .ok()
        .and_then(|handle| handle.checked_sub(program.mailboxes.len()))
        .and_then(|k| program.objects.get(k))
        .filter(|object| object.kind == crate::lang::ast::ObjectKind::Shared)?;
    let index = arguments[1] as i64;
    if (0..object.argument as i64).contains(&index) {
        return None;
    }
    Some(format!(
        "index {index} is out of range for shared `{}` of {} word{} (the kernel's {} failed \
         with EINVAL)",
        object.name,
        object.argument,
        if object.argument == 1 { "" } else { "s" },
        failure.sysno.name()
    ))
}

/// The sizes behind a `recv`'s or `mbox_recv`'s `EMSGSIZE`: the kernel
/// reports the message's length in `r1` and leaves it queued; the buffer's
/// size is in the arguments when the call failed at its trap (a woken call
/// has only the length).
fn too_long(failure: &Failure) -> Option<String> {
    if failure.errno != Errno::EMSGSIZE || !matches!(failure.sysno, Sysno::Recv | Sysno::MboxRecv) {
        return None;
    }
    let length = failure.ret[1];
    Some(match failure.arguments {
        Some(arguments) => format!(
            "the message is {length} B, the buffer {} B; it stays queued",
            arguments[3]
        ),
        None => format!("the message is {length} B, longer than the buffer; it stays queued"),
    })
}

/// The message of a buffer race: the access and the call that owns the
/// buffer, each with its line (`docs/mpi.md`, "Buffer races").
#[allow(clippy::too_many_arguments)]
pub fn buffer_race_message(
    program: &Program,
    k: usize,
    access_span: Span,
    request_span: Span,
    write: bool,
    address: u32,
    guard: &BufferGuard,
    by_call: Option<&str>,
) -> String {
    let (access_line, _) = program.line_col(access_span);
    let (request_line, _) = program.line_col(request_span);
    let variable = program
        .instances
        .get(k)
        .and_then(|i| program.processes.get(i.decl))
        .and_then(|p| {
            p.code.variables.iter().find(|(_, base, words)| {
                address >= *base && u64::from(address) < u64::from(*base) + 8 * u64::from(*words)
            })
        })
        .map_or_else(
            || format!("address {address}"),
            |(name, base, words)| {
                if *words > 1 {
                    format!("`{name}[{}]`", (address - base) / 8)
                } else {
                    format!("`{name}`")
                }
            },
        );
    let access = match (by_call, write) {
        (Some(call), true) => format!("'s {call} writes into"),
        (Some(call), false) => format!("'s {call} reads"),
        (None, true) => " writes".to_string(),
        (None, false) => " reads".to_string(),
    };
    let fallback = match guard.kind {
        OwnedKind::SendBuffer => "MPI_Isend",
        OwnedKind::RecvBuffer => "MPI_Irecv",
        OwnedKind::Attached => "MPI_Buffer_attach",
    };
    let call = crate::lang::mpi_call_written_at(&program.source, request_span).unwrap_or(fallback);
    let until = match guard.kind {
        OwnedKind::Attached => "an attached buffer belongs to the kernel until MPI_Buffer_detach",
        _ => "a request's buffer belongs to the kernel until MPI_Wait or a successful MPI_Test",
    };
    format!(
        "buffer race: line {access_line}{access} {variable} while the {call} at line {request_line} still owns it ({until})"
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
                    // The compiler checks these first; this is the backstop,
                    // so it still says which limit and what it is.
                    let why = match e {
                        Errno::ENAMETOOLONG => format!(
                            "the name is empty or longer than {} bytes",
                            ipclab_syscalls::MAX_NAME_LEN
                        ),
                        Errno::EINVAL => format!(
                            "the capacity is above the kernel's mailbox_quota {}",
                            kernel.config().mailbox_quota
                        ),
                        other => other.description().to_string(),
                    };
                    BootError(format!(
                        "cannot create mailbox {}(capacity = {}): {} ({why})",
                        mailbox.name,
                        mailbox.capacity,
                        e.name()
                    ))
                })?;
            mailboxes.push(id);
        }
        let objects = create_objects(&mut kernel, program)?;
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
                .map_err(|e| {
                    let why = match e {
                        SpawnError::NameTooLong => format!(
                            "the name is longer than the kernel's {} bytes",
                            ipclab_kernel::config::MAX_PROCESS_NAME
                        ),
                        SpawnError::TableFull => format!(
                            "the process table is full ({} processes)",
                            ipclab_kernel::config::MAX_PROCS
                        ),
                        SpawnError::BadPriority => format!(
                            "the priority is not below {}",
                            ipclab_kernel::config::PRIORITY_LEVELS
                        ),
                    };
                    BootError(format!("cannot spawn {}: {why}", instance.label))
                })?;
            debug_assert_eq!(pid, Program::pid_of(k));
            for id in &mailboxes {
                kernel
                    .grant_handle(pid, *id)
                    .map_err(|e| BootError(format!("cannot open mailboxes: {}", e.name())))?;
            }
            // Object `i` is handle `mailboxes + i`, as the compiler assumed.
            for object in &objects {
                kernel.grant_object(pid, *object).map_err(|e| {
                    BootError(format!("cannot open synchronisation objects: {}", e.name()))
                })?;
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

/// Creates the declared semaphores, mutexes, condition variables and
/// shared variables, in declaration order.
fn create_objects(kernel: &mut Kernel, program: &Program) -> Result<Vec<Object>, BootError> {
    program
        .objects
        .iter()
        .map(|o| {
            let created = match o.kind {
                ObjectKind::Semaphore => kernel
                    .create_semaphore(&o.name, u32::try_from(o.argument).unwrap_or(u32::MAX))
                    .map(Object::Semaphore),
                ObjectKind::Mutex => kernel.create_mutex(&o.name).map(Object::Mutex),
                ObjectKind::Condvar => kernel.create_condvar(&o.name).map(Object::Condvar),
                ObjectKind::Shared => kernel
                    .create_shared(&o.name, o.argument as usize)
                    .map(Object::Shared),
            };
            created.map_err(|e| {
                BootError(format!(
                    "{} {}: {} ({})",
                    o.kind.keyword(),
                    o.name,
                    e.name(),
                    e.description()
                ))
            })
        })
        .collect()
}

/// Puts the result of the call `k` blocked in, if it has one waiting, into
/// its registers. Returns the result.
#[inline]
pub fn resume(
    kernel: &mut Kernel,
    procs: &mut [ProcState],
    program: &Program,
    k: usize,
) -> Option<RetRegs> {
    let result = kernel.take_completion(Program::pid_of(k))?;
    vm::complete_syscall(program, k, &mut procs[k], result);
    sync_guards(kernel, &mut procs[k], Program::pid_of(k));
    Some(result)
}

/// The system call `k` traps with (`regs`, written at `span`) as the trace
/// shows it: the MPI name it was written with, the mailbox name a
/// `mbox_create` or `mbox_open` reads from `k`'s memory, or the call as
/// written when its registers do not decode (a computed negative rank).
pub fn call_text(
    kernel: &Kernel,
    procs: &[ProcState],
    program: &Program,
    names: &Names,
    k: usize,
    regs: &ipclab_syscalls::Regs,
    span: Span,
) -> String {
    let Ok(call) = ipclab_syscalls::Syscall::decode(regs) else {
        return crate::render::style::truncate(&program.text_at(span), 60);
    };
    let named = |name: u64, len: u64| {
        let memory = &procs.get(k)?.memory;
        let start = usize::try_from(name).ok()?;
        let bytes = memory.get(start..start.checked_add(usize::try_from(len).ok()?)?)?;
        let text = crate::render::style::escape_controls(&String::from_utf8_lossy(bytes));
        Some(crate::render::style::truncate(&text, 24))
    };
    match call {
        ipclab_syscalls::Syscall::MboxCreate {
            name,
            name_len,
            capacity,
        } => {
            if let Some(text) = named(name, name_len) {
                return format!("mbox_create(\"{text}\", capacity {capacity})");
            }
        }
        ipclab_syscalls::Syscall::MboxOpen { name, name_len } => {
            if let Some(text) = named(name, name_len) {
                return format!("mbox_open(\"{text}\")");
            }
        }
        _ => {}
    }
    names.call_as_written(
        kernel,
        Program::pid_of(k),
        &call,
        crate::lang::mpi_call_written_at(&program.source, span),
    )
}

/// Runs `k`'s bytecode to its next event, checking its loads and stores
/// against the buffers the kernel owns ([`ProcState::guards`]).
#[inline]
pub fn run_to_event(procs: &mut [ProcState], program: &Program, k: usize) -> VmEvent {
    let state = &mut procs[k];
    if state.guards.is_empty() {
        return vm::run_guarded(program, k, state, VM_BUDGET, &[]);
    }
    let guards = std::mem::take(&mut state.guards);
    let event = vm::run_guarded(program, k, state, VM_BUDGET, &guards);
    state.guards = guards;
    event
}

/// Records the buffer a successful `isend`, `irecv` or `buffer_attach`
/// (`call`, answered with `result`) gave to the kernel, with the call's place.
#[inline]
fn guard_new_buffer(state: &mut ProcState, call: Option<vm::PendingCall>, result: RetRegs) {
    let Some(call) = call else {
        return;
    };
    let (request, kind) = match call.sysno {
        Sysno::Isend if result[1] != 0 => (result[1], OwnedKind::SendBuffer),
        Sysno::Irecv if result[1] != 0 => (result[1], OwnedKind::RecvBuffer),
        Sysno::BufferAttach => (0, OwnedKind::Attached),
        _ => return,
    };
    if result[0] != 0 {
        return;
    }
    state.guards.push(BufferGuard {
        request,
        pc: call.pc,
        addr: 0,
        len: 0,
        kind,
    });
}

/// Brings `state.guards` in line with the buffers the kernel owns for
/// `pid`: a freed request's guard goes, a new one gets its range. Only the
/// process's own calls change what it owns (a request is freed by its
/// owner's `wait`/`test`, the attached buffer by its `buffer_detach`), so
/// this runs after each of them.
fn sync_guards(kernel: &Kernel, state: &mut ProcState, pid: Pid) {
    if state.guards.is_empty() {
        return;
    }
    state.guards.retain_mut(|guard| {
        let owned = kernel.owned_buffers(pid).find(|b| {
            b.request.0 == guard.request
                && (b.kind == OwnedKind::Attached) == (guard.kind == OwnedKind::Attached)
        });
        match owned {
            Some(b) => {
                guard.addr = b.addr;
                guard.len = b.len;
                guard.kind = b.kind;
                true
            }
            None => false,
        }
    });
}

/// The user buffer a call reads or writes: (address, length, writes?).
/// The kernel copies out of a send buffer and into a receive buffer (or
/// takes an attached buffer for itself), so a call handed a buffer that a
/// pending request owns races with the kernel as a load or store would.
fn call_buffer(regs: &ipclab_syscalls::Regs) -> Option<(u64, u64, bool)> {
    use ipclab_syscalls::Syscall;
    match Syscall::decode(regs).ok()? {
        Syscall::Send { buf, len, .. }
        | Syscall::MboxSend { buf, len, .. }
        | Syscall::MpiSend { buf, len, .. }
        | Syscall::Isend { buf, len, .. } => Some((buf, len, false)),
        Syscall::MboxCreate { name, name_len, .. } | Syscall::MboxOpen { name, name_len } => {
            Some((name, name_len, false))
        }
        Syscall::Recv { buf, cap, .. }
        | Syscall::MboxRecv { buf, cap, .. }
        | Syscall::MpiRecv { buf, cap, .. }
        | Syscall::Irecv { buf, cap, .. } => Some((buf, cap, true)),
        Syscall::BufferAttach { addr, size } => Some((addr, size, true)),
        // The handles a wait reads, and nulls when it frees their requests.
        Syscall::Waitall { handles, count } | Syscall::Waitany { handles, count } => {
            Some((handles, count.saturating_mul(8), true))
        }
        Syscall::Test { handle } => Some((handle, 8, true)),
        _ => None,
    }
}

/// The buffer race `k`'s call with `regs` would cause (`docs/mpi.md`,
/// "Buffer races"): the call is not made, and the process is finished.
fn call_race(
    program: &Program,
    names: &Names,
    k: usize,
    state: &mut ProcState,
    regs: &ipclab_syscalls::Regs,
    span: Span,
) -> Option<Effect> {
    let (start, len, write) = call_buffer(regs)?;
    // A second attach is refused by the kernel (`a buffer is attached
    // already`) before it takes anything: no race, whatever it names.
    let attaches = regs.sysno == Sysno::BufferAttach as u64;
    if attaches && state.guards.iter().any(|g| g.kind == OwnedKind::Attached) {
        return None;
    }
    let end = start.saturating_add(len);
    let guard = *state.guards.iter().find(|g| {
        let overlaps = start < g.addr.saturating_add(g.len) && g.addr < end;
        overlaps && (write || g.kind != OwnedKind::SendBuffer)
    })?;
    let first = start.max(guard.addr);
    let address = u32::try_from(first - first % 8).unwrap_or(u32::MAX);
    let decl = program.instances.get(k).map_or(0, |i| i.decl);
    let request_span = program.span_of(decl, guard.pc);
    let call_name = crate::lang::mpi_call_written_at(&program.source, span)
        .unwrap_or_else(|| state.pending.map_or("call", |c| c.sysno.name()));
    let message = buffer_race_message(
        program,
        k,
        span,
        request_span,
        write,
        address,
        &guard,
        Some(call_name),
    );
    state.pending = None;
    state.finished = true;
    state.exit_code = -1;
    Some(Effect::Failed(program_error(
        program, names, k, span, message,
    )))
}

/// Acts on `k`'s event: traps, terminates, or reports. The event is taken
/// by reference (its text, if any, is moved out): moved by value, the
/// event's narrow fields were read back wider than they were written, a
/// store-forwarding stall on every step.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn handle(
    kernel: &mut Kernel,
    procs: &mut [ProcState],
    program: &Program,
    names: &Names,
    k: usize,
    event: &mut VmEvent,
    sink: &mut impl TraceSink,
) -> Effect {
    let pid = Program::pid_of(k);
    match event {
        VmEvent::Syscall { regs, span } => {
            let span = *span;
            if !procs[k].guards.is_empty() {
                if let Some(failed) = call_race(program, names, k, &mut procs[k], regs, span) {
                    return failed;
                }
            }
            let call = procs[k].pending;
            let mut memories = Memories::new(procs);
            match kernel.trap(pid, regs, &mut memories, sink) {
                Ok(outcome) => {
                    match outcome {
                        TrapOutcome::Complete(result) => {
                            vm::complete_trap(program, k, &mut procs[k], result, &regs.args);
                            guard_new_buffer(&mut procs[k], call, result);
                        }
                        TrapOutcome::Yielded => vm::complete_syscall(
                            program,
                            k,
                            &mut procs[k],
                            Reply::to_regs(Ok(Reply::value(0))),
                        ),
                        TrapOutcome::Blocked(_) | TrapOutcome::Exited(_) => {}
                    }
                    sync_guards(kernel, &mut procs[k], pid);
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
        VmEvent::Compute { ticks, .. } => Effect::Compute(*ticks),
        VmEvent::Produce { value, .. } => Effect::Produce(*value),
        VmEvent::Consume { value, .. } => Effect::Consume(*value),
        VmEvent::Print { text, .. } => Effect::Print(core::mem::take(text)),
        VmEvent::Budget => Effect::Budget,
        VmEvent::Exited { code } => {
            let code = *code;
            let mut memories = Memories::new(procs);
            let _ = kernel.terminate(pid, code, &mut memories, sink);
            procs[k].guards.clear();
            Effect::Exited(code)
        }
        VmEvent::SyscallFailed {
            errno,
            call,
            sysno,
            arguments,
            span,
        } => Effect::Failed(program_error(
            program,
            names,
            k,
            *span,
            failed_call_message_with(
                program,
                &Failure {
                    call,
                    sysno: *sysno,
                    errno: *errno,
                    ret: procs[k].status,
                    arguments: *arguments,
                    caller: Program::pid_of(k),
                },
            ),
        )),
        VmEvent::BufferRace {
            access_span,
            request_span,
            write,
            address,
            guard,
        } => Effect::Failed(program_error(
            program,
            names,
            k,
            *access_span,
            buffer_race_message(
                program,
                k,
                *access_span,
                *request_span,
                *write,
                *address,
                guard,
                None,
            ),
        )),
        VmEvent::RuntimeError { message, span } => Effect::Failed(program_error(
            program,
            names,
            k,
            *span,
            core::mem::take(message),
        )),
        VmEvent::AssertFailed { span, text } => {
            let (line, column) = program.line_col(*span);
            Effect::Failed(Verdict::AssertionFailed {
                process: names.process(pid),
                message: core::mem::take(text),
                line,
                column,
            })
        }
    }
}
