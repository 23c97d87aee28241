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

use ipclab_kernel::{Kernel, NullSink, OwnedKind, ProcessState};
use ipclab_syscalls::{Errno, Reply, Sysno};

use crate::lang::vm::{BufferGuard, PendingCall, ProcState};
use crate::lang::{CallForm, Program, Span};
use crate::machine::{self, Effect, Machine};
use crate::names::Names;
use crate::runner::BootError;
use crate::verdict::Verdict;

use super::schedule::Choice;


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

impl Scratch {
    /// The kernel and the VM states, to step by hand (replay).
    pub fn parts(&mut self) -> (&mut Kernel, &mut Vec<ProcState>) {
        (&mut self.kernel, &mut self.procs)
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
        let Machine { kernel, procs } = Machine::boot(program, &mut NullSink)?;
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
        if let Some(regs) = machine::resume(kernel, procs, self.program, k) {
            result.call_done = Reply::from_regs(regs).is_ok();
        }
        if self.abstract_items {
            procs[k].produced = 0;
        }
        let event = machine::run_to_event(procs, self.program, k);
        let effect = machine::handle(
            kernel,
            procs,
            self.program,
            &self.names,
            k,
            event,
            &mut sink,
        );
        result.call_done |= effect.completed_ok();
        if effect.is_local() {
            result.kind = StepKind::Local;
        }
        match effect {
            Effect::Produce(_) => result.produced = true,
            Effect::Consume(_) => result.consumed = true,
            Effect::Failed(verdict) => result.error = Some(verdict),
            _ => {}
        }
        if self.abstract_items {
            procs[k].produced = 0;
        }
        if kernel.process(pid).map(|p| p.state) == Some(ProcessState::Running) {
            let _ = kernel.preempt(pid, &mut sink);
        }
    }

    fn error(&self, k: usize, span: Span, message: String) -> Verdict {
        machine::program_error(self.program, &self.names, k, span, message)
    }
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
        put(out, p.guards.len() as u64);
        for g in &p.guards {
            put(out, g.request);
            put(out, u64::from(g.pc));
            put(out, g.addr);
            put(out, g.len);
            put(out, g.kind as u64);
        }
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
    let guards = get(bytes)? as usize;
    p.guards.clear();
    for _ in 0..guards {
        p.guards.push(BufferGuard {
            request: get(bytes)?,
            pc: u32::try_from(get(bytes)?).ok()?,
            addr: get(bytes)?,
            len: get(bytes)?,
            kind: match get(bytes)? {
                0 => OwnedKind::SendBuffer,
                1 => OwnedKind::RecvBuffer,
                2 => OwnedKind::Attached,
                _ => return None,
            },
        });
    }
    Some(())
}

/// The 128-bit fingerprint of an encoded state.
pub fn fingerprint(state: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(state)
}
