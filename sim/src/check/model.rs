//! The checker's model of a scenario: states as compact byte strings, and the one-step transition function.
//!
//! A state is the kernel's canonical encoding
//! ([`ipclab_kernel::Kernel::encode_canonical`]) followed by every
//! instance's VM state (pc, operand stack, memory, last status, pending
//! call). Between two transitions no process is on a CPU, so who runs is not
//! part of the state. A transition is one [`Choice`]: run instance `k` for
//! one runner step (dispatch, collect the result of the call it blocked in,
//! run its bytecode to the next event, trap or terminate, take it off the
//! CPU), or fire the timer of blocked instance `k` (time is abstract: a
//! timeout may fire at any point while its call is blocked).
//!
//! States are restored into a [`Scratch`] (one boxed kernel per worker,
//! reused), stepped there, and encoded again; the encoding is hashed into a
//! 128-bit fingerprint (xxh3-128).

use ipclab_kernel::{Kernel, NullSink, ProcessState, TrapOutcome, UserMemory};
use ipclab_syscalls::{Errno, Pid, Reply, Sysno};

use crate::lang::vm::{self, PendingCall, ProcState, VmEvent};
use crate::lang::{CallForm, Program, Span};
use crate::names::Names;
use crate::runner::{kernel_config, BootError};
use crate::verdict::Verdict;

use super::schedule::Choice;

/// Instructions one step may run before it counts as a (local) step.
const VM_BUDGET: u32 = 10_000;

/// The largest number of instances the checker handles (enabled sets are
/// 64-bit masks).
pub const MAX_CHECK_INSTANCES: usize = 64;

/// What made a transition visible, for progress and reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Only the process's own state changed (`compute`, `print`, a step
    /// budget, `produce`, `consume`): commutes with every other transition.
    Local,
    /// A system call or an exit: other processes may see it.
    Global,
    /// A timer fired.
    Timer,
}

/// The result of one transition.
pub struct StepResult {
    /// The successor's encoding.
    pub next: Vec<u8>,
    pub kind: StepKind,
    /// `produce` happened in this step.
    pub produced: bool,
    /// `consume` happened in this step.
    pub consumed: bool,
    /// A system call completed successfully in this step (collected after a
    /// block, or at once).
    pub call_done: bool,
    /// The step ended in a program error or a failed assertion.
    pub error: Option<Verdict>,
}

/// A scenario booted for checking.
pub struct Model<'p> {
    pub program: &'p Program,
    pub names: Names,
    template: Box<Kernel>,
    pub instances: usize,
    /// `produce` always gives item 1 (see `CheckOptions::exact_items`).
    pub abstract_items: bool,
    initial: Vec<u8>,
}

/// A worker's scratch space: a kernel and VM states to step in.
pub struct Scratch {
    kernel: Box<Kernel>,
    procs: Vec<ProcState>,
}

/// The processes' memories, as the kernel sees them.
pub struct Memories<'a> {
    procs: &'a mut [ProcState],
}

/// The kernel's view of `procs`' memories.
pub fn memories(procs: &mut [ProcState]) -> Memories<'_> {
    Memories { procs }
}

impl Scratch {
    /// The kernel and the VM states, to step by hand (replay).
    pub fn parts(&mut self) -> (&mut Kernel, &mut Vec<ProcState>) {
        (&mut self.kernel, &mut self.procs)
    }
}

impl UserMemory for Memories<'_> {
    fn read(&self, pid: Pid, addr: u64, out: &mut [u8]) -> Result<(), ipclab_kernel::Fault> {
        let memory = &self
            .procs
            .get(pid.index as usize)
            .ok_or(ipclab_kernel::Fault)?
            .memory;
        let start = usize::try_from(addr).map_err(|_| ipclab_kernel::Fault)?;
        let bytes = memory
            .get(start..start + out.len())
            .ok_or(ipclab_kernel::Fault)?;
        out.copy_from_slice(bytes);
        Ok(())
    }

    fn write(&mut self, pid: Pid, addr: u64, data: &[u8]) -> Result<(), ipclab_kernel::Fault> {
        let memory = &mut self
            .procs
            .get_mut(pid.index as usize)
            .ok_or(ipclab_kernel::Fault)?
            .memory;
        let start = usize::try_from(addr).map_err(|_| ipclab_kernel::Fault)?;
        let bytes = memory
            .get_mut(start..start + data.len())
            .ok_or(ipclab_kernel::Fault)?;
        bytes.copy_from_slice(data);
        Ok(())
    }
}

impl<'p> Model<'p> {
    /// Boots `program` as the runner does (mailbox `m` is handle `m` of
    /// every instance; instance `k` is `Pid::new(k, 1)`).
    pub fn new(program: &'p Program, abstract_items: bool) -> Result<Model<'p>, BootError> {
        if program.instances.len() > MAX_CHECK_INSTANCES {
            return Err(BootError(format!(
                "{} processes: the checker handles at most {MAX_CHECK_INSTANCES}",
                program.instances.len()
            )));
        }
        let config = kernel_config(program)?;
        let mut kernel = Box::new(
            Kernel::new(config).map_err(|e| BootError(format!("kernel {{ }} block: {e}")))?,
        );
        let mut sink = NullSink;
        let mut mailboxes = Vec::new();
        for mailbox in &program.mailboxes {
            let capacity = u32::try_from(mailbox.capacity).unwrap_or(u32::MAX);
            let id = kernel
                .create_mailbox(&mailbox.name, capacity, &mut sink)
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
            let priority = program.processes[instance.decl].priority.unwrap_or(0);
            kernel
                .spawn(
                    &instance.label,
                    priority,
                    state.memory.len() as u64,
                    &mut sink,
                )
                .map_err(|e| BootError(format!("cannot spawn {}: {e:?}", instance.label)))?;
            for id in &mailboxes {
                kernel
                    .grant_handle(Program::pid_of(k), *id)
                    .map_err(|e| BootError(format!("cannot open mailboxes: {}", e.name())))?;
            }
            procs.push(state);
        }
        let mut initial = Vec::new();
        encode(&kernel, &procs, &mut initial);
        Ok(Model {
            program,
            names: Names::new(program),
            instances: procs.len(),
            template: kernel,
            abstract_items,
            initial,
        })
    }

    /// The initial state.
    pub fn initial(&self) -> &[u8] {
        &self.initial
    }

    /// A fresh scratch space for one worker.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            kernel: self.template.clone(),
            procs: (0..self.instances)
                .map(|k| ProcState::new(self.program, k))
                .collect(),
        }
    }

    /// Loads `state` into `scratch`.
    pub fn load(&self, scratch: &mut Scratch, state: &[u8]) {
        let ok = decode(scratch, state);
        debug_assert!(ok, "a state the checker encoded decodes");
    }

    /// The choices enabled in the state loaded in `scratch`, as masks:
    /// (ready instances, instances with a timer that can fire, live instances).
    pub fn enabled(&self, scratch: &Scratch) -> (u64, u64, u64) {
        let (mut run, mut timer, mut alive) = (0u64, 0u64, 0u64);
        for (k, p) in scratch
            .kernel
            .processes()
            .iter()
            .take(self.instances)
            .enumerate()
        {
            match p.state {
                ProcessState::Ready | ProcessState::Running => run |= 1 << k,
                ProcessState::Blocked(_) if scratch.kernel.has_timer(p.pid) => timer |= 1 << k,
                _ => {}
            }
            if !p.is_exited() {
                alive |= 1 << k;
            }
        }
        (run, timer, alive)
    }

    /// Messages left in the kernel buffer of the loaded state.
    pub fn buffered(&self, scratch: &Scratch) -> usize {
        scratch.kernel.messages().len()
    }

    /// The wait-for analysis of the loaded (stuck) state.
    pub fn analyse_stuck(&self, scratch: &Scratch) -> Verdict {
        crate::waitfor::analyse_stuck(&scratch.kernel, &self.names)
    }

    /// What instance `k` does in the loaded state, in words.
    pub fn describe(&self, scratch: &Scratch, k: usize) -> String {
        let kernel = &scratch.kernel;
        match kernel.process(Program::pid_of(k)).map(|p| p.state) {
            Some(ProcessState::Blocked(r)) => format!("waits in {}", self.names.reason(kernel, r)),
            Some(ProcessState::Exited(c)) => format!("exited with {c}"),
            _ => "ready, but never makes progress".into(),
        }
    }

    /// Takes `choice` from `state` (loaded fresh into `scratch`).
    pub fn step(&self, scratch: &mut Scratch, state: &[u8], choice: Choice) -> StepResult {
        self.load(scratch, state);
        let mut result = StepResult {
            next: Vec::new(),
            kind: StepKind::Global,
            produced: false,
            consumed: false,
            call_done: false,
            error: None,
        };
        let mut sink = NullSink;
        match choice {
            Choice::Timer(k) => {
                result.kind = StepKind::Timer;
                let _ = scratch.kernel.fire_timer(Program::pid_of(k), &mut sink);
            }
            Choice::Run(k) => self.run_step(scratch, k, &mut result),
        }
        encode(&scratch.kernel, &scratch.procs, &mut result.next);
        result
    }

    fn run_step(&self, scratch: &mut Scratch, k: usize, result: &mut StepResult) {
        let mut sink = NullSink;
        let pid = Program::pid_of(k);
        let kernel = &mut scratch.kernel;
        if kernel.dispatch(pid, &mut sink).is_err() {
            result.error = Some(self.error(k, Span::default(), "not ready".into()));
            return;
        }
        let procs = &mut scratch.procs;
        if let Some(regs) = kernel.take_completion(pid) {
            result.call_done = Reply::from_regs(regs).is_ok();
            vm::complete_syscall(self.program, k, &mut procs[k], regs);
        }
        if self.abstract_items {
            procs[k].produced = 0;
        }
        match vm::run(self.program, k, &mut procs[k], VM_BUDGET) {
            VmEvent::Syscall { regs, span } => {
                let mut memories = Memories { procs };
                match kernel.trap(pid, &regs, &mut memories, &mut sink) {
                    Ok(TrapOutcome::Complete(ret)) => {
                        result.call_done |= Reply::from_regs(ret).is_ok();
                        vm::complete_syscall(self.program, k, &mut procs[k], ret);
                    }
                    Ok(TrapOutcome::Yielded) => {
                        vm::complete_syscall(
                            self.program,
                            k,
                            &mut procs[k],
                            Reply::to_regs(Ok(Reply::value(0))),
                        );
                    }
                    Ok(TrapOutcome::Blocked(_)) | Ok(TrapOutcome::Exited(_)) => {}
                    Err(e) => {
                        result.error =
                            Some(self.error(k, span, format!("kernel refused the trap: {e:?}")))
                    }
                }
            }
            VmEvent::Compute { .. } | VmEvent::Print { .. } | VmEvent::Budget => {
                result.kind = StepKind::Local;
            }
            VmEvent::Produce { .. } => {
                result.kind = StepKind::Local;
                result.produced = true;
            }
            VmEvent::Consume { .. } => {
                result.kind = StepKind::Local;
                result.consumed = true;
            }
            VmEvent::SyscallFailed { errno, call, span } => {
                result.error = Some(self.error(k, span, failed_call_message(call, errno)));
            }
            VmEvent::RuntimeError { message, span } => {
                result.error = Some(self.error(k, span, message));
            }
            VmEvent::AssertFailed { span, text } => {
                let (line, column) = self.program.line_col(span);
                result.error = Some(Verdict::AssertionFailed {
                    process: self.names.process(pid),
                    message: text,
                    line,
                    column,
                });
            }
            VmEvent::Exited { code } => {
                let mut memories = Memories { procs };
                let _ = kernel.terminate(pid, code, &mut memories, &mut sink);
            }
        }
        if self.abstract_items {
            procs[k].produced = 0;
        }
        if kernel.process(pid).map(|p| p.state) == Some(ProcessState::Running) {
            let _ = kernel.preempt(pid, &mut sink);
        }
    }

    fn error(&self, k: usize, span: Span, message: String) -> Verdict {
        let (line, column) = self.program.line_col(span);
        Verdict::Error {
            process: self.names.process(Program::pid_of(k)),
            message,
            line,
            column,
        }
    }
}

/// The message of a statement-form call that failed (as the runner words it).
fn failed_call_message(call: &str, errno: Errno) -> String {
    format!(
        "{call} failed with {} ({}) and the program does not check the result",
        errno.name(),
        errno.description()
    )
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn get(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        if shift >= 64 {
            return None;
        }
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
    }
}

fn put_call(out: &mut Vec<u8>, call: &PendingCall) {
    put(out, call.sysno as u64);
    put(out, u64::from(call.form == CallForm::Expression));
    put(out, u64::from(call.pc));
}

fn get_call(bytes: &mut &[u8]) -> Option<PendingCall> {
    let sysno = Sysno::from_raw(get(bytes)?).ok()?;
    let form = if get(bytes)? != 0 {
        CallForm::Expression
    } else {
        CallForm::Statement
    };
    let pc = u32::try_from(get(bytes)?).ok()?;
    Some(PendingCall { sysno, form, pc })
}

/// Encodes a whole state: the kernel's canonical form, then every VM state.
pub fn encode(kernel: &Kernel, procs: &[ProcState], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0; 4]);
    kernel.encode_canonical(&mut |b: &[u8]| out.extend_from_slice(b));
    let kernel_len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&kernel_len.to_le_bytes());
    for p in procs {
        put(out, u64::from(p.pc));
        put(out, p.stack.len() as u64);
        for v in &p.stack {
            put(out, *v as u64);
        }
        // Memory is mostly zero words: run-length encode the zero bytes.
        put(out, p.memory.len() as u64);
        let mut i = 0;
        while i < p.memory.len() {
            let zeros = p.memory[i..].iter().take_while(|b| **b == 0).count();
            put(out, zeros as u64);
            i += zeros;
            let data = p.memory[i..].iter().take_while(|b| **b != 0).count();
            put(out, data as u64);
            out.extend_from_slice(&p.memory[i..i + data]);
            i += data;
        }
        for r in p.status {
            put(out, r);
        }
        put(out, p.produced as u64);
        match &p.pending {
            None => put(out, 0),
            Some(call) => {
                put(out, 1);
                put_call(out, call);
            }
        }
        match &p.failed {
            None => put(out, 0),
            Some((errno, call)) => {
                put(out, 1 + errno.number());
                put_call(out, call);
            }
        }
        put(out, u64::from(p.finished));
        put(out, p.exit_code as u64);
    }
}

fn decode(scratch: &mut Scratch, state: &[u8]) -> bool {
    let Some(len) = state.get(..4) else {
        return false;
    };
    let kernel_len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let Some(kernel_bytes) = state.get(4..4 + kernel_len) else {
        return false;
    };
    if scratch.kernel.restore_canonical(kernel_bytes).is_err() {
        return false;
    }
    let mut bytes = &state[4 + kernel_len..];
    for p in &mut scratch.procs {
        if decode_proc(p, &mut bytes).is_none() {
            return false;
        }
    }
    bytes.is_empty()
}

fn decode_proc(p: &mut ProcState, bytes: &mut &[u8]) -> Option<()> {
    p.pc = u32::try_from(get(bytes)?).ok()?;
    let n = get(bytes)? as usize;
    p.stack.clear();
    for _ in 0..n {
        p.stack.push(get(bytes)? as i64);
    }
    let size = get(bytes)? as usize;
    p.memory.clear();
    while p.memory.len() < size {
        let zeros = get(bytes)? as usize;
        p.memory.resize(p.memory.len() + zeros, 0);
        let data = get(bytes)? as usize;
        if zeros == 0 && data == 0 {
            return None;
        }
        let chunk = bytes.get(..data)?;
        p.memory.extend_from_slice(chunk);
        *bytes = &bytes[data..];
    }
    for r in &mut p.status {
        *r = get(bytes)?;
    }
    p.produced = get(bytes)? as i64;
    p.pending = match get(bytes)? {
        0 => None,
        _ => Some(get_call(bytes)?),
    };
    p.failed = match get(bytes)? {
        0 => None,
        n => Some((Errno::from_number(n - 1)?, get_call(bytes)?)),
    };
    p.finished = get(bytes)? != 0;
    p.exit_code = get(bytes)? as i64;
    Some(())
}

/// The 128-bit fingerprint of an encoded state.
pub fn fingerprint(state: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(state)
}
