//! The bytecode VM: runs one process instance's local code until its next event, such as a system call.
//!
//! A process's state is plain data ([`ProcState`]: program counter, operand
//! stack, memory, the status of the last call), so the checker can clone and
//! hash it. [`run`] executes instructions atomically until something the
//! world must see happens ([`VmEvent`]); a system call is such an event,
//! and its result comes back through [`complete_syscall`].
//!
//! # Errors
//! Nothing a scenario does makes the VM panic: division by zero, an index
//! out of range, a bad instance number or an operand-stack overflow is a
//! [`VmEvent::RuntimeError`] with the span of the offending code, after which
//! the process is finished. Arithmetic wraps on overflow; an MPI count times
//! its datatype size does not (it is checked against its buffer exactly).
//!
//! # Buffer races
//! [`run_guarded`] also checks every load and store the program makes
//! against the buffers the kernel owns ([`BufferGuard`]: the buffers of MPI
//! requests not yet freed, the attached `bsend` buffer): writing a send
//! buffer, or reading or writing a receive or attached buffer, stops the
//! run with [`VmEvent::BufferRace`] naming both places. The kernel's own
//! copies go through `UserMemory`, not the VM, and are never checked.
//! Chapter: `docs/mpi.md`, "Buffer races".

use ipclab_kernel::OwnedKind;
use ipclab_syscalls::{Errno, Regs, RetRegs, Sysno};

use super::ast::BinaryOperator;
use super::code::{CallForm, Instruction, Measure, PrintPart, CALL_ARGUMENTS};
use super::status::StatusLayout;
use super::{Program, Span};

/// The deepest operand stack a process may build (expressions are shallow; this bounds memory).
pub const MAX_STACK: usize = 1024;

/// A system call that trapped and whose result has not come back yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PendingCall {
    pub sysno: Sysno,
    pub form: CallForm,
    /// The program counter of the `syscall` instruction.
    pub pc: u32,
}

/// A statement-form call that failed, until the next [`run`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FailedCall {
    pub errno: Errno,
    pub call: PendingCall,
    /// The call's argument registers, when it failed at its trap (the
    /// kernel refused an argument: the error can say which one); `None`
    /// when it failed later, after blocking.
    pub arguments: Option<[u64; 6]>,
}

/// A range of the process's memory that the kernel owns, and the call that gave it away.
///
/// The stepping code (`machine`) keeps these in [`ProcState::guards`]: it
/// adds one when an `isend`, `irecv` or `buffer_attach` succeeds and brings
/// the list in line with `Kernel::owned_buffers` after every call of the
/// process, so the list is a function of the kernel state and the calls'
/// places (canonical for the checker).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferGuard {
    /// The request handle (`MPI_REQUEST_NULL`, 0, for the attached buffer).
    pub request: u64,
    /// The program counter of the call that gave the buffer to the kernel.
    pub pc: u32,
    /// The first byte address.
    pub addr: u64,
    /// The length in bytes (0 until the kernel's ranges are read: guards nothing).
    pub len: u64,
    /// What kind of buffer, hence which accesses race.
    pub kind: OwnedKind,
}

impl BufferGuard {
    /// Does a `write` (or read) of the 8-byte word at `address` race with the kernel?
    pub fn is_raced_by(&self, address: u32, write: bool) -> bool {
        let start = u64::from(address);
        let overlaps = start < self.addr.saturating_add(self.len) && self.addr < start + 8;
        overlaps && (write || self.kind != OwnedKind::SendBuffer)
    }
}

/// The state of one process instance: plain data.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ProcState {
    /// The next instruction.
    pub pc: u32,
    /// The operand stack.
    pub stack: Vec<i64>,
    /// The process's memory: variables and arrays as little-endian words.
    pub memory: Vec<u8>,
    /// The result registers of the last completed system call (`status`).
    pub status: RetRegs,
    /// How `status` reads: a plain call's layout or an MPI call's.
    pub status_layout: StatusLayout,
    /// The last value `produce` gave.
    pub produced: i64,
    /// The call the process trapped with, until [`complete_syscall`].
    pub pending: Option<PendingCall>,
    /// A statement-form call that failed, reported by the next [`run`].
    pub failed: Option<FailedCall>,
    /// The process ran off its end, exited, or hit an error.
    pub finished: bool,
    /// The exit code once finished (-1 after a runtime error or failed assertion).
    pub exit_code: i64,
    /// The buffers the kernel owns, each with the call that gave it away
    /// (see [`BufferGuard`]; kept by the stepping code, empty without MPI).
    pub guards: Vec<BufferGuard>,
}

impl ProcState {
    /// The initial state of instance `instance`: memory zeroed, data (mailbox names) in place.
    pub fn new(program: &Program, instance: usize) -> ProcState {
        let mut memory = vec![0u8; program.mem_words.saturating_mul(8)];
        if let Some(code) = program
            .instances
            .get(instance)
            .and_then(|i| program.processes.get(i.decl))
            .map(|p| &p.code)
        {
            for (address, bytes) in &code.data {
                let start = *address as usize;
                if let Some(target) = memory.get_mut(start..start + bytes.len()) {
                    target.copy_from_slice(bytes);
                }
            }
        }
        ProcState {
            pc: 0,
            stack: Vec::new(),
            memory,
            status: [0; 4],
            status_layout: StatusLayout::Plain,
            produced: 0,
            pending: None,
            failed: None,
            finished: false,
            exit_code: 0,
            guards: Vec::new(),
        }
    }

    /// The word at byte address `address`, if it lies in memory.
    pub fn word(&self, address: u32) -> Option<i64> {
        let start = address as usize;
        let bytes = self.memory.get(start..start.checked_add(8)?)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        Some(i64::from_le_bytes(word))
    }

    fn set_word(&mut self, address: u32, value: i64) -> bool {
        let start = address as usize;
        let Some(end) = start.checked_add(8) else {
            return false;
        };
        match self.memory.get_mut(start..end) {
            Some(bytes) => {
                bytes.copy_from_slice(&value.to_le_bytes());
                true
            }
            None => false,
        }
    }
}

/// What a process does next that the world must see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmEvent {
    /// A trap: pass `regs` to the kernel; answer with [`complete_syscall`]
    /// (never, for `exit`).
    Syscall { regs: Regs, span: Span },
    /// Local work costing `ticks` ticks.
    Compute { ticks: u64, span: Span },
    /// `produce`: a fresh item.
    Produce { value: i64, span: Span },
    /// `consume`.
    Consume { value: i64, span: Span },
    /// `print`.
    Print { text: String, span: Span },
    /// A statement-form call returned an error: a program error.
    SyscallFailed {
        errno: Errno,
        /// The call as written (`MPI_Wait`, not `waitall`).
        call: &'static str,
        sysno: Sysno,
        /// Its argument registers, when it failed at its trap.
        arguments: Option<[u64; 6]>,
        span: Span,
    },
    /// An `assert` failed; `text` is its condition as written.
    AssertFailed { span: Span, text: String },
    /// Division by zero, index out of range, no such instance...
    RuntimeError { message: String, span: Span },
    /// The program touched a buffer the kernel owns (only from
    /// [`run_guarded`]): `access_span` is the load or store, `request_span`
    /// the call that gave the buffer away (`guard.pc`).
    BufferRace {
        access_span: Span,
        request_span: Span,
        /// A store (else a load).
        write: bool,
        /// The byte address of the word touched.
        address: u32,
        guard: BufferGuard,
    },
    /// The body ran to its end (or the process had already finished).
    Exited { code: i64 },
    /// The step budget ran out without an event.
    Budget,
}

/// Runs instance `instance` from `state` for at most `budget` instructions,
/// until its next event. No buffer is guarded (see [`run_guarded`]).
pub fn run(program: &Program, instance: usize, state: &mut ProcState, budget: u32) -> VmEvent {
    run_guarded(program, instance, state, budget, &[])
}

/// [`run`] for a runner that keeps no guards but knows the buffers the
/// kernel owns (`owned`, from `Kernel::owned_buffers`): the values of
/// nonblocking sends are staged clear of them, and no access is checked.
pub fn run_owning(
    program: &Program,
    instance: usize,
    state: &mut ProcState,
    budget: u32,
    owned: &[BufferGuard],
) -> VmEvent {
    run_with(program, instance, state, budget, owned, false)
}

/// [`run`], reporting a load or store that touches one of `guards` as
/// [`VmEvent::BufferRace`] (after which the process is finished).
pub fn run_guarded(
    program: &Program,
    instance: usize,
    state: &mut ProcState,
    budget: u32,
    guards: &[BufferGuard],
) -> VmEvent {
    run_with(program, instance, state, budget, guards, true)
}

#[inline]
fn run_with(
    program: &Program,
    instance: usize,
    state: &mut ProcState,
    budget: u32,
    guards: &[BufferGuard],
    check_races: bool,
) -> VmEvent {
    // One test for the three rare cases, so an ordinary step pays one branch.
    if state.finished || state.failed.is_some() || state.pending.is_some() {
        return cannot_continue(program, instance, state);
    }
    let Some((decl, process)) = program
        .instances
        .get(instance)
        .and_then(|i| Some((i.decl, program.processes.get(i.decl)?)))
    else {
        return fail(state, format!("no instance {instance}"), Span::default());
    };
    let code = &process.code;
    for _ in 0..budget {
        let pc = state.pc;
        let Some(instruction) = code.instructions.get(pc as usize) else {
            return halt(state);
        };
        let span = code.spans.get(pc as usize).copied().unwrap_or_default();
        state.pc = pc.wrapping_add(1);
        if check_races && !guards.is_empty() {
            if let Some(event) = race(program, decl, state, instruction, guards, span) {
                return event;
            }
        }
        match step(program, instance, state, instruction, pc, span, guards) {
            Ok(None) => {}
            Ok(Some(event)) => return event,
            Err(message) => return fail(state, message, span),
        }
    }
    VmEvent::Budget
}

/// Why `state` cannot run on: it finished, a statement-form call failed
/// (reported now), or a call is still pending (a bug of the caller).
#[cold]
fn cannot_continue(program: &Program, instance: usize, state: &mut ProcState) -> VmEvent {
    if state.finished {
        return VmEvent::Exited {
            code: state.exit_code,
        };
    }
    let decl = program.instances.get(instance).map_or(0, |i| i.decl);
    if let Some(FailedCall {
        errno,
        call,
        arguments,
    }) = state.failed.take()
    {
        let span = program.span_of(decl, call.pc);
        return VmEvent::SyscallFailed {
            errno,
            // `MPI_Wait` rather than `waitall`, `recv` rather than the
            // `mbox_recv` it compiles to on a mailbox; the result registers
            // stay in `status`.
            call: super::mpi::call_written_at(&program.source, span)
                .or_else(|| message_call_written_at(&program.source, span))
                .unwrap_or(call.sysno.name()),
            sysno: call.sysno,
            arguments,
            span,
        };
    }
    let pending = state.pending.map_or("?", |call| call.sysno.name());
    let span = state
        .pending
        .map_or(Span::default(), |call| program.span_of(decl, call.pc));
    fail(
        state,
        format!("the process was run while its `{pending}` call is still pending"),
        span,
    )
}

/// `send` or `recv` when that is the word at `span`: on a declared mailbox
/// they compile to `mbox_send` and `mbox_recv`, which the program never wrote.
fn message_call_written_at(source: &str, span: Span) -> Option<&'static str> {
    let word = super::mpi::word_at(source, span)?;
    ["send", "recv"].into_iter().find(|call| *call == word)
}

/// Delivers the result registers of the pending system call.
///
/// An expression-form call pushes its value; a statement-form call that
/// failed makes the next [`run`] report [`VmEvent::SyscallFailed`]. Without
/// a pending call this does nothing.
#[inline]
pub fn complete_syscall(program: &Program, instance: usize, state: &mut ProcState, ret: RetRegs) {
    complete(program, instance, state, ret, None);
}

/// [`complete_syscall`] for a call that completed at its trap, whose
/// argument registers were `arguments`: a failure keeps them, so that its
/// error can say which argument the kernel refused.
#[inline]
pub fn complete_trap(
    program: &Program,
    instance: usize,
    state: &mut ProcState,
    ret: RetRegs,
    arguments: &[u64; 6],
) {
    complete(program, instance, state, ret, Some(arguments));
}

#[inline]
fn complete(
    _program: &Program,
    _instance: usize,
    state: &mut ProcState,
    ret: RetRegs,
    arguments: Option<&[u64; 6]>,
) {
    let Some(call) = state.pending.take() else {
        return;
    };
    state.status = ret;
    state.status_layout = StatusLayout::of(call.sysno, ret);
    match call.form {
        CallForm::Statement => {
            if ret[0] != 0 {
                state.failed = Some(FailedCall {
                    errno: Errno::from_number(ret[0]).unwrap_or(Errno::EINVAL),
                    call,
                    arguments: arguments.copied(),
                });
            }
        }
        CallForm::Expression => {
            let value = match call.sysno {
                Sysno::MboxCreate | Sysno::MboxOpen | Sysno::DevRead => {
                    if ret[0] == 0 {
                        ret[1] as i64
                    } else {
                        (ret[0] as i64).wrapping_neg()
                    }
                }
                Sysno::Clock | Sysno::GetPid => ret[1] as i64,
                _ => ret[0] as i64,
            };
            // The stack had room for the call's six arguments, so one value fits.
            state.stack.push(value);
        }
    }
}

/// The race `instruction` (about to run, operands on the stack) would
/// cause with one of `guards`, if any. An access outside memory or an array
/// is left to [`step`] to report.
fn race(
    program: &Program,
    decl: usize,
    state: &mut ProcState,
    instruction: &Instruction,
    guards: &[BufferGuard],
    span: Span,
) -> Option<VmEvent> {
    let top = |depth: usize| {
        state
            .stack
            .len()
            .checked_sub(depth + 1)
            .and_then(|i| state.stack.get(i).copied())
    };
    let (address, write) = match instruction {
        Instruction::Load(address) => (*address, false),
        Instruction::Store(address) | Instruction::Produce(address) => (*address, true),
        Instruction::LoadElement { base, length } => {
            (element(*base, *length, top(0)?).ok()?, false)
        }
        Instruction::StoreElement { base, length } => {
            (element(*base, *length, top(1)?).ok()?, true)
        }
        _ => return None,
    };
    let guard = *guards.iter().find(|g| g.is_raced_by(address, write))?;
    state.finished = true;
    state.exit_code = -1;
    Some(VmEvent::BufferRace {
        access_span: span,
        request_span: program.span_of(decl, guard.pc),
        write,
        address,
        guard,
    })
}

/// The first word of the pool at `pool` that none of `owned` covers (a
/// send only reads its buffer, so a word a pending send owns is never
/// written over). The pool has a word more than a process may have
/// requests, so one is free; the last word is the fallback all the same.
fn free_word(pool: u32, words: u32, owned: &[BufferGuard]) -> u32 {
    let last = pool.saturating_add(words.saturating_sub(1).saturating_mul(8));
    (0..words)
        .map(|i| pool.saturating_add(i.saturating_mul(8)))
        .find(|&word| !owned.iter().any(|g| g.is_raced_by(word, true)))
        .unwrap_or(last)
}

fn fail(state: &mut ProcState, message: String, span: Span) -> VmEvent {
    state.finished = true;
    state.exit_code = -1;
    VmEvent::RuntimeError { message, span }
}

fn halt(state: &mut ProcState) -> VmEvent {
    state.finished = true;
    state.exit_code = 0;
    VmEvent::Exited { code: 0 }
}

#[inline]
fn pop(state: &mut ProcState) -> Result<i64, String> {
    state
        .stack
        .pop()
        .ok_or_else(|| "operand stack underflow (a compiler bug)".to_string())
}

#[inline]
fn push(state: &mut ProcState, value: i64) -> Result<(), String> {
    if state.stack.len() >= MAX_STACK {
        return Err(format!(
            "operand stack overflow (more than {MAX_STACK} values)"
        ));
    }
    state.stack.push(value);
    Ok(())
}

fn element(base: u32, length: u32, index: i64) -> Result<u32, String> {
    if index < 0 || index >= i64::from(length) {
        return Err(format!(
            "index {index} is out of range for an array of {length} words"
        ));
    }
    Ok(base.wrapping_add((index as u32).wrapping_mul(8)))
}

fn load(state: &ProcState, address: u32) -> Result<i64, String> {
    state
        .word(address)
        .ok_or_else(|| format!("address {address} is outside the process's memory"))
}

fn store(state: &mut ProcState, address: u32, value: i64) -> Result<(), String> {
    if state.set_word(address, value) {
        Ok(())
    } else {
        Err(format!("address {address} is outside the process's memory"))
    }
}

/// Executes one instruction; `Ok(Some(event))` stops the run.
fn step(
    program: &Program,
    instance: usize,
    state: &mut ProcState,
    instruction: &Instruction,
    pc: u32,
    span: Span,
    owned: &[BufferGuard],
) -> Result<Option<VmEvent>, String> {
    match instruction {
        Instruction::Push(value) => push(state, *value)?,
        Instruction::Pop => {
            pop(state)?;
        }
        Instruction::Load(address) => {
            let value = load(state, *address)?;
            push(state, value)?;
        }
        Instruction::Store(address) => {
            let value = pop(state)?;
            store(state, *address, value)?;
        }
        Instruction::LoadElement { base, length } => {
            let index = pop(state)?;
            let value = load(state, element(*base, *length, index)?)?;
            push(state, value)?;
        }
        Instruction::StoreElement { base, length } => {
            let value = pop(state)?;
            let index = pop(state)?;
            store(state, element(*base, *length, index)?, value)?;
        }
        Instruction::ElementAddress { base, length } => {
            let index = pop(state)?;
            push(state, i64::from(element(*base, *length, index)?))?;
        }
        Instruction::StageValue { pool, words, slot } => {
            let value = pop(state)?;
            let word = free_word(*pool, *words, owned);
            store(state, word, value)?;
            store(state, *slot, i64::from(word))?;
        }
        Instruction::Binary(operator) => {
            let right = pop(state)?;
            let left = pop(state)?;
            push(state, binary_wrapping(*operator, left, right)?)?;
        }
        Instruction::Negate => {
            let value = pop(state)?;
            push(state, value.wrapping_neg())?;
        }
        Instruction::Not => {
            let value = pop(state)?;
            push(state, i64::from(value == 0))?;
        }
        Instruction::Jump(target) => state.pc = *target,
        Instruction::JumpIfFalse(target) => {
            if pop(state)? == 0 {
                state.pc = *target;
            }
        }
        Instruction::ProcessPid { first, count, name } => {
            let index = pop(state)?;
            let number = instance_in(*first, *count, name, index)?;
            push(state, Program::pid_of(number as usize).to_raw() as i64)?;
        }
        Instruction::ProcessNumber { first, count, name } => {
            let index = pop(state)?;
            let number = instance_in(*first, *count, name, index)?;
            push(state, i64::from(number))?;
        }
        Instruction::InstancePid => {
            let number = pop(state)?;
            if number < 0 || number as u64 >= program.instances.len() as u64 {
                return Err(format!(
                    "no process instance {number}: the scenario has {} (0 to {})",
                    program.instances.len(),
                    program.instances.len().saturating_sub(1)
                ));
            }
            push(state, Program::pid_of(number as usize).to_raw() as i64)?;
        }
        Instruction::InstanceIndex => {
            let index = program.instances.get(instance).map_or(0, |i| i.index);
            push(state, i64::from(index))?;
        }
        Instruction::InstanceNumber => push(state, instance as i64)?,
        Instruction::Status(field) => {
            let value = state.status_layout.read(*field, state.status);
            push(state, value)?;
        }
        Instruction::Syscall { sysno, form } => {
            let mut args = [0u64; 6];
            for slot in args.iter_mut().rev() {
                *slot = pop(state)? as u64;
            }
            state.pending = Some(PendingCall {
                sysno: *sysno,
                form: *form,
                pc,
            });
            return Ok(Some(VmEvent::Syscall {
                regs: Regs::new(*sysno as u64, args),
                span,
            }));
        }
        Instruction::CallWith { sysno, form, args } => {
            // The six pushes would have had to fit on the stack.
            if state.stack.len() + CALL_ARGUMENTS as usize > MAX_STACK {
                return Err(format!(
                    "operand stack overflow (more than {MAX_STACK} values)"
                ));
            }
            let syscall_pc = pc.wrapping_add(CALL_ARGUMENTS);
            state.pc = syscall_pc.wrapping_add(1);
            state.pending = Some(PendingCall {
                sysno: *sysno,
                form: *form,
                pc: syscall_pc,
            });
            return Ok(Some(VmEvent::Syscall {
                regs: Regs::new(*sysno as u64, args.map(|a| a as u64)),
                span,
            }));
        }
        Instruction::Produce(address) => {
            state.produced = state.produced.wrapping_add(1);
            let value = state.produced;
            store(state, *address, value)?;
            return Ok(Some(VmEvent::Produce { value, span }));
        }
        Instruction::Consume => {
            let value = pop(state)?;
            return Ok(Some(VmEvent::Consume { value, span }));
        }
        Instruction::Compute => {
            let ticks = pop(state)?;
            return Ok(Some(VmEvent::Compute {
                ticks: u64::try_from(ticks).unwrap_or(0),
                span,
            }));
        }
        Instruction::Print(parts) => {
            let values = parts
                .iter()
                .filter(|p| matches!(p, PrintPart::Value))
                .count();
            let mut popped = Vec::with_capacity(values);
            for _ in 0..values {
                popped.push(pop(state)?);
            }
            let mut text = String::new();
            // One space between parts, even around an empty string.
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    text.push(' ');
                }
                match part {
                    PrintPart::Text(piece) => text.push_str(piece),
                    PrintPart::Value => {
                        let value = popped.pop().unwrap_or_default();
                        text.push_str(&value.to_string());
                    }
                }
            }
            return Ok(Some(VmEvent::Print { text, span }));
        }
        Instruction::Assert(text) => {
            if pop(state)? == 0 {
                state.finished = true;
                state.exit_code = -1;
                return Ok(Some(VmEvent::AssertFailed {
                    span,
                    text: text.clone(),
                }));
            }
        }
        Instruction::RequireNonNegative(what) => {
            let value = state.stack.last().copied().unwrap_or(0);
            if value < 0 {
                return Err(format!("{what} must not be negative, got {value}"));
            }
        }
        Instruction::RequireFits {
            measure,
            limit,
            buffer,
            from,
        } => {
            let offset = match from {
                Some(start) => load(state, start.slot)?.wrapping_sub(i64::from(start.base)),
                None => 0,
            };
            let capacity = limit.saturating_sub(offset);
            let name = || match from {
                Some(_) => format!("{buffer}[{}..]", offset / 8),
                None => buffer.clone(),
            };
            let fits = fits(*measure, pop(state)?, capacity, name)?;
            push(state, fits)?;
        }
        Instruction::Halt => return Ok(Some(halt(state))),
    }
    Ok(None)
}

/// The value an [`Instruction::RequireFits`] leaves: a count or size
/// `value` that is not negative and fits `capacity` bytes of the buffer
/// `name()` (a count of elements becomes its length in bytes), or why not.
///
/// The product is taken in 128 bits, so a count too large for 64 bits of
/// bytes is reported as the size it asks for, never wrapped into one that fits.
pub(in crate::lang) fn fits(
    measure: Measure,
    value: i64,
    capacity: i64,
    name: impl Fn() -> String,
) -> Result<i64, String> {
    let what = if measure == Measure::Bytes {
        "size"
    } else {
        "count"
    };
    // A variable's name is quoted; a description (`the value sent`) is not.
    let name = || {
        let name = name();
        if name.contains(' ') {
            name
        } else {
            format!("`{name}`")
        }
    };
    if value < 0 {
        return Err(format!("{what} {value} is negative"));
    }
    match measure {
        Measure::Elements { size, datatype } => {
            let bytes = i128::from(value) * i128::from(size);
            if bytes > i128::from(capacity) {
                return Err(format!(
                    "count {value} × {size} byte{} ({datatype}) is {bytes} bytes, \
                     but {} holds {capacity}",
                    if size == 1 { "" } else { "s" },
                    name()
                ));
            }
            // Not above `capacity`, an i64.
            Ok(bytes as i64)
        }
        Measure::Bytes if value > capacity => Err(format!(
            "size {value} bytes is more than {} holds ({capacity} bytes)",
            name()
        )),
        Measure::Requests if value > capacity / 8 => Err(format!(
            "count {value} is more than {} holds ({} requests)",
            name(),
            capacity / 8
        )),
        Measure::Bytes | Measure::Requests => Ok(value),
    }
}

fn instance_in(first: u32, count: u32, name: &str, index: i64) -> Result<u32, String> {
    if index < 0 || index >= i64::from(count) {
        return Err(format!(
            "{name}[{index}] does not exist: {name} has {count} instance{} ({name}[0] to {name}[{}])",
            if count == 1 { "" } else { "s" },
            count.saturating_sub(1)
        ));
    }
    Ok(first + index as u32)
}

/// Runtime arithmetic: wrapping, with division by zero as an error.
pub(in crate::lang) fn binary_wrapping(
    operator: BinaryOperator,
    left: i64,
    right: i64,
) -> Result<i64, String> {
    Ok(match operator {
        BinaryOperator::Add => left.wrapping_add(right),
        BinaryOperator::Subtract => left.wrapping_sub(right),
        BinaryOperator::Multiply => left.wrapping_mul(right),
        BinaryOperator::Divide if right == 0 => return Err("division by zero".to_string()),
        BinaryOperator::Remainder if right == 0 => {
            return Err("remainder by zero (`% 0`)".to_string())
        }
        BinaryOperator::Divide => left.wrapping_div(right),
        BinaryOperator::Remainder => left.wrapping_rem(right),
        BinaryOperator::Equal => i64::from(left == right),
        BinaryOperator::NotEqual => i64::from(left != right),
        BinaryOperator::Less => i64::from(left < right),
        BinaryOperator::LessEqual => i64::from(left <= right),
        BinaryOperator::Greater => i64::from(left > right),
        BinaryOperator::GreaterEqual => i64::from(left >= right),
        BinaryOperator::And => i64::from(left != 0 && right != 0),
        BinaryOperator::Or => i64::from(left != 0 || right != 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_by_zero_is_an_error_and_overflow_wraps() {
        assert!(binary_wrapping(BinaryOperator::Remainder, 1, 0).is_err());
        assert_eq!(
            binary_wrapping(BinaryOperator::Divide, i64::MIN, -1),
            Ok(i64::MIN)
        );
        assert_eq!(
            binary_wrapping(BinaryOperator::Add, i64::MAX, 1),
            Ok(i64::MIN)
        );
    }

    #[test]
    fn array_elements_outside_the_array_are_refused() {
        assert_eq!(element(16, 2, 1), Ok(24));
        assert!(element(16, 2, 2).is_err());
        assert!(element(16, 2, -1).is_err());
    }

    #[test]
    fn a_count_fits_up_to_the_last_byte_of_its_buffer() {
        let name = || "buf".to_string();
        let ints = Measure::Elements {
            size: 8,
            datatype: "MPI_INT",
        };
        assert_eq!(fits(ints, 4, 32, name), Ok(32));
        assert!(fits(ints, 5, 32, name).is_err());
        assert!(fits(ints, i64::MAX, 32, name).is_err());
        assert_eq!(fits(Measure::Bytes, 32, 32, name), Ok(32));
        assert!(fits(Measure::Bytes, -1, 32, name).is_err());
        assert_eq!(fits(Measure::Requests, 4, 32, name), Ok(4));
        assert!(fits(Measure::Requests, 5, 32, name).is_err());
    }

    #[test]
    fn an_instance_index_outside_its_declaration_is_refused() {
        assert_eq!(instance_in(3, 2, "W", 1), Ok(4));
        let message = instance_in(3, 2, "W", 2).unwrap_err();
        assert!(message.contains("W[2] does not exist"), "{message}");
    }
}
