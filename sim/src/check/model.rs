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
//! 128-bit fingerprint (xxh3-128). A state being expanded is decoded once
//! ([`Model::load`]); between its successors only what a step changed is
//! put back (the kernel from the parent's kernel bytes, the VM states that
//! differ from the decoded parent's), and a successor's encoding copies the
//! parent's bytes for every VM state the step left alone.
//!
//! An exited process's VM state (pc, stack, memory, status, ...) is not
//! part of the state: it never runs again, the kernel never copies into
//! its memory again (an exit cancels its pending call and requests), and
//! nothing the checker reports reads it. It is encoded as one byte, once
//! the kernel will not read its memory either: its `MPI_Bsend` messages,
//! which wait in its attached buffer, are delivered from there after it
//! exited ([`dead_mask`]).

use ipclab_kernel::{Holder, Kernel, NullSink, OwnedKind, ProcessState};
use ipclab_syscalls::{Errno, Reply, Sysno};

use crate::lang::vm::{BufferGuard, FailedCall, PendingCall, ProcState};
use crate::lang::{CallForm, Instruction, Program, Span, StatusLayout};
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
    /// The successor's encoding (empty from [`Model::step_into`], which
    /// writes it to the caller's buffer).
    pub next: Vec<u8>,
    pub kind: StepKind,
    /// The instance that ran started this step at an instruction on a loop
    /// of its code without system calls ([`local_loops`]): the reduction's
    /// cycle proviso (`search.rs`) never takes such a step alone.
    pub in_local_loop: bool,
    /// `produce` happened in this step.
    pub produced: bool,
    /// `consume` happened in this step.
    pub consumed: bool,
    /// A system call completed successfully in this step (collected after a
    /// block, or at once).
    pub call_done: bool,
    /// The step ended in a program error or a failed assertion.
    pub error: Option<Verdict>,
    /// MPI sends cancelled in this step: still pending when their sender
    /// exited, so their messages are never received.
    pub cancelled: u64,
    /// Messages the kernel reported undeliverable in this step: still
    /// buffered when their receiver exited or their mailbox went away.
    pub undeliverable: u64,
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
    /// Per process declaration, per pc: on a loop without system calls
    /// ([`local_loops`]).
    local_loops: Vec<Vec<bool>>,
}

/// A worker's scratch space: a kernel and VM states to step in, and the
/// state last loaded (the parent of the next steps), decoded.
pub struct Scratch {
    kernel: Box<Kernel>,
    procs: Vec<ProcState>,
    /// The loaded state's VM states.
    parent: Vec<ProcState>,
    /// Where each instance's VM state sits in the loaded state's encoding.
    parent_vm: Vec<(usize, usize)>,
    /// Exited instances of the loaded state.
    parent_dead: u64,
    /// The kernel was stepped since the load (restore it before the next step).
    kernel_dirty: bool,
    /// VM states that differ from the loaded state's.
    procs_dirty: u64,
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
        if let Some(device) = program.devices.first() {
            return Err(BootError(format!(
                "the checker, whose model `replay` steps too, does not model typed \
                 input yet: run this scenario (`ipclab run`) to see its `device {}` at work",
                device.name
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
            local_loops: program
                .processes
                .iter()
                .map(|p| local_loops(&p.code.instructions))
                .collect(),
        })
    }

    /// The initial state.
    pub fn initial(&self) -> &[u8] {
        &self.initial
    }

    /// A fresh scratch space for one worker.
    pub fn scratch(&self) -> Scratch {
        let procs: Vec<ProcState> = (0..self.instances)
            .map(|k| ProcState::new(self.program, k))
            .collect();
        Scratch {
            kernel: self.template.clone(),
            parent: procs.clone(),
            procs,
            parent_vm: vec![(0, 0); self.instances],
            parent_dead: 0,
            kernel_dirty: false,
            procs_dirty: 0,
        }
    }

    /// Loads `state` into `scratch`: the parent of the next
    /// [`Model::step_into`] calls.
    pub fn load(&self, scratch: &mut Scratch, state: &[u8]) {
        let ok = decode(scratch, state);
        debug_assert!(ok, "a state the checker encoded decodes");
        for (parent, p) in scratch.parent.iter_mut().zip(&scratch.procs) {
            copy_proc(parent, p);
        }
        scratch.parent_dead = dead_mask(&scratch.kernel, self.instances);
        scratch.kernel_dirty = false;
        scratch.procs_dirty = 0;
    }

    /// Puts the loaded state back after a step (only what the step changed).
    fn reset(&self, scratch: &mut Scratch, state: &[u8]) {
        if scratch.kernel_dirty {
            let ok = decode_kernel(&mut scratch.kernel, state);
            debug_assert!(ok, "a state the checker encoded decodes");
            scratch.kernel_dirty = false;
        }
        let mut dirty = scratch.procs_dirty;
        while dirty != 0 {
            let k = dirty.trailing_zeros() as usize;
            dirty &= dirty - 1;
            copy_proc(&mut scratch.procs[k], &scratch.parent[k]);
        }
        scratch.procs_dirty = 0;
    }

    /// The choices enabled in the state loaded in `scratch`, as masks:
    /// (ready instances, instances with a timer that can fire, live instances).
    pub fn enabled(&self, scratch: &Scratch) -> (u64, u64, u64) {
        enabled_in(&scratch.kernel, self.instances)
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
            Some(ProcessState::Blocked(r)) => format!(
                "waits in {}",
                self.names.reason(kernel, Program::pid_of(k), r)
            ),
            Some(ProcessState::Exited(c)) => format!("exited with {c}"),
            _ => "runs, but makes no progress".into(),
        }
    }

    /// Takes `choice` from `state` (loaded fresh into `scratch`).
    pub fn step(&self, scratch: &mut Scratch, state: &[u8], choice: Choice) -> StepResult {
        self.load(scratch, state);
        let mut next = Vec::with_capacity(state.len() + 64);
        let mut result = self.step_into(scratch, state, choice, &mut next);
        result.next = next;
        result
    }

    /// Takes `choice` from `state`, which must be the state last loaded
    /// into `scratch` ([`Model::load`]; any number of steps may have been
    /// taken from it since), and writes the successor's encoding to `next`.
    pub fn step_into(
        &self,
        scratch: &mut Scratch,
        state: &[u8],
        choice: Choice,
        next: &mut Vec<u8>,
    ) -> StepResult {
        self.reset(scratch, state);
        let mut result = StepResult {
            next: Vec::new(),
            kind: StepKind::Global,
            in_local_loop: false,
            produced: false,
            consumed: false,
            call_done: false,
            error: None,
            undeliverable: 0,
            cancelled: 0,
        };
        // The counters are not state (a restored kernel keeps whatever they
        // were), but their change over one step is this step's.
        let undeliverable_before = scratch.kernel.stats().undeliverable;
        let cancelled_before = scratch.kernel.stats().cancelled;
        let mut sink = NullSink;
        let ran = match choice {
            Choice::Run(k) => Some(k),
            Choice::Timer(_) => None,
        };
        let kernel_same = match choice {
            Choice::Timer(k) => {
                result.kind = StepKind::Timer;
                let _ = scratch.kernel.fire_timer(Program::pid_of(k), &mut sink);
                false
            }
            Choice::Run(k) => {
                let pc = scratch.procs[k].pc as usize;
                result.in_local_loop = self
                    .program
                    .instances
                    .get(k)
                    .and_then(|i| self.local_loops.get(i.decl))
                    .is_none_or(|pcs| pcs.get(pc).copied().unwrap_or(true));
                self.run_step(scratch, k, &mut result)
            }
        };
        scratch.kernel_dirty |= !kernel_same;
        result.undeliverable = scratch.kernel.stats().undeliverable - undeliverable_before;
        result.cancelled = scratch.kernel.stats().cancelled - cancelled_before;
        // Only a trap or an exit lets the kernel write other processes'
        // memories (a delivered message); a timer changes no VM state.
        let others = ran.is_some() && result.kind == StepKind::Global;
        self.encode_successor(scratch, state, kernel_same, ran, others, next);
        result
    }

    /// Encodes the scratch state after a step from the loaded `state`:
    /// the kernel afresh, each VM state copied from `state` when the step
    /// left it (and whether the process is alive) as it was.
    /// `ran`: the instance that ran, if any; `others`: whether the kernel
    /// may have written other instances' memories.
    fn encode_successor(
        &self,
        scratch: &mut Scratch,
        state: &[u8],
        kernel_same: bool,
        ran: Option<usize>,
        others: bool,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        out.reserve(state.len() + 64);
        if kernel_same {
            // The kernel part ends where the first VM state begins.
            let end = scratch.parent_vm.first().map_or(state.len(), |r| r.0);
            out.extend_from_slice(&state[..end]);
            if cfg!(debug_assertions) {
                let mut fresh = Vec::new();
                encode_kernel(&scratch.kernel, &mut fresh);
                debug_assert_eq!(fresh, *out, "a local step leaves the kernel as it was");
            }
        } else {
            encode_kernel(&scratch.kernel, out);
        }
        let dead = dead_mask(&scratch.kernel, self.instances);
        for (k, p) in scratch.procs.iter().enumerate() {
            let bit = 1u64 << k;
            let parent = &scratch.parent[k];
            let same = if ran == Some(k) {
                *p == *parent
            } else {
                // Nothing but memory can change for an instance that did
                // not run, and only through the kernel.
                debug_assert!(others || *p == *parent);
                !others || p.memory == parent.memory
            };
            debug_assert!(!same || *p == *parent);
            if !same {
                scratch.procs_dirty |= bit;
            }
            let same_life = (dead ^ scratch.parent_dead) & bit == 0;
            if same_life && (same || dead & bit != 0) {
                let (from, to) = scratch.parent_vm[k];
                out.extend_from_slice(&state[from..to]);
            } else {
                encode_proc(p, dead & bit != 0, out);
            }
        }
    }

    /// Runs instance `k` one step; true when the kernel's canonical state
    /// is as before (a local step that collected no call result: dispatch
    /// and preemption change only the ready queue, which is not state).
    fn run_step(&self, scratch: &mut Scratch, k: usize, result: &mut StepResult) -> bool {
        let mut sink = NullSink;
        let pid = Program::pid_of(k);
        let kernel = &mut scratch.kernel;
        if kernel.dispatch(pid, &mut sink).is_err() {
            result.error = Some(self.error(k, Span::default(), "not ready".into()));
            return false;
        }
        let procs = &mut scratch.procs;
        let mut kernel_same = true;
        if let Some(regs) = machine::resume(kernel, procs, self.program, k) {
            result.call_done = Reply::from_regs(regs).is_ok();
            kernel_same = false;
        }
        if self.abstract_items {
            procs[k].produced = 0;
        }
        let mut event = machine::run_to_event(procs, self.program, k);
        let effect = machine::handle(
            kernel,
            procs,
            self.program,
            &self.names,
            k,
            &mut event,
            &mut sink,
        );
        result.call_done |= effect.completed_ok(&event);
        let effect_local = effect.is_local();
        if effect_local {
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
        } else {
            kernel_same = false;
        }
        kernel_same && effect_local
    }

    fn error(&self, k: usize, span: Span, message: String) -> Verdict {
        machine::program_error(self.program, &self.names, k, span, message)
    }
}

/// For each instruction of a body: does it lie on a cycle of the control
/// flow graph that contains no system call? A step that is local (no
/// system call, no exit) runs a path without system calls, so a cycle of
/// states made of local steps only makes each process that moves on it go
/// round such a cycle, through the pc every one of its steps starts at.
/// Removing the system calls and the end from the graph, the instructions
/// on a cycle are those in a strongly connected component with an edge.
pub fn local_loops(code: &[Instruction]) -> Vec<bool> {
    let n = code.len();
    let blocks = |i: usize| code[i].traps_with().is_some() || matches!(code[i], Instruction::Halt);
    let succs = |i: usize| -> [Option<usize>; 2] {
        if blocks(i) {
            return [None, None];
        }
        let next = (i + 1 < n).then_some(i + 1);
        match code[i] {
            Instruction::Jump(t) => [Some(t as usize).filter(|&t| t < n), None],
            Instruction::JumpIfFalse(t) => [Some(t as usize).filter(|&t| t < n), next],
            _ => [next, None],
        }
    };
    // Tarjan's algorithm, iteratively.
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut looping = vec![false; n];
    let mut counter = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut calls: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut edge)) = calls.last_mut() {
            let next = succs(v);
            if *edge < 2 {
                let e = *edge;
                *edge += 1;
                let Some(w) = next[e] else { continue };
                if index[w] == usize::MAX {
                    index[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut members = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                let cyclic = members.len() > 1 || succs(v).contains(&Some(v));
                for w in members {
                    looping[w] = cyclic;
                }
            }
        }
    }
    looping
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

/// Encodes a whole state: the kernel's canonical form, then every VM state
/// (an exited process's as the byte 0).
pub fn encode(kernel: &Kernel, procs: &[ProcState], out: &mut Vec<u8>) {
    out.clear();
    encode_kernel(kernel, out);
    let dead = dead_mask(kernel, procs.len());
    for (k, p) in procs.iter().enumerate() {
        encode_proc(p, dead & (1 << k) != 0, out);
    }
}

/// The instances (below `instances`) that have exited and whose memory the
/// kernel will never read again, as a mask.
///
/// An `MPI_Bsend` message outlives its sender: it waits in the sender's
/// attached buffer, in the sender's memory, until a receive matches it, and
/// is copied from there then (`docs/mpi.md`). Until the last such message
/// is delivered, the dead sender's memory is part of the state.
fn dead_mask(kernel: &Kernel, instances: usize) -> u64 {
    let mut dead = 0u64;
    for (k, p) in kernel.processes().iter().take(instances).enumerate() {
        if p.is_exited() {
            dead |= 1 << k;
        }
    }
    if dead != 0 {
        for (_, request) in kernel.requests() {
            if request.holder == Holder::Buffered {
                let k = request.owner.index as usize;
                if k < instances {
                    dead &= !(1 << k);
                }
            }
        }
    }
    dead
}

/// Appends the kernel part: its length (4 bytes), then its encoding.
fn encode_kernel(kernel: &Kernel, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    kernel.encode_canonical(&mut |b: &[u8]| out.extend_from_slice(b));
    let kernel_len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&kernel_len.to_le_bytes());
}

/// Copies `src` into `dst`, reusing `dst`'s buffers (a derived `clone_from`
/// would allocate).
fn copy_proc(dst: &mut ProcState, src: &ProcState) {
    let ProcState {
        pc,
        stack,
        memory,
        status,
        status_layout,
        produced,
        pending,
        failed,
        finished,
        exit_code,
        guards,
    } = src;
    dst.pc = *pc;
    dst.stack.clone_from(stack);
    dst.memory.clone_from(memory);
    dst.status = *status;
    dst.status_layout = *status_layout;
    dst.produced = *produced;
    dst.pending = *pending;
    dst.failed = *failed;
    dst.finished = *finished;
    dst.exit_code = *exit_code;
    dst.guards.clone_from(guards);
}

/// Appends one VM state: `0` for an exited process, else `1` and its fields.
fn encode_proc(p: &ProcState, dead: bool, out: &mut Vec<u8>) {
    if dead {
        put(out, 0);
        return;
    }
    put(out, 1);
    {
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
            Some(failed) => {
                put(out, 1 + failed.errno.number());
                put_call(out, &failed.call);
                match failed.arguments {
                    None => put(out, 0),
                    Some(arguments) => {
                        put(out, 1);
                        for a in arguments {
                            put(out, a);
                        }
                    }
                }
            }
        }
        // One varint byte for both: the layout changes only after an MPI call.
        put(out, u64::from(p.finished) | (p.status_layout as u64) << 1);
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

/// Restores the kernel part of `state` into `kernel`.
fn decode_kernel(kernel: &mut Kernel, state: &[u8]) -> bool {
    let Some(len) = state.get(..4) else {
        return false;
    };
    let kernel_len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    state
        .get(4..4 + kernel_len)
        .is_some_and(|bytes| kernel.restore_canonical(bytes).is_ok())
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
    for (p, range) in scratch.procs.iter_mut().zip(&mut scratch.parent_vm) {
        let from = state.len() - bytes.len();
        if decode_proc(p, &mut bytes).is_none() {
            return false;
        }
        *range = (from, state.len() - bytes.len());
    }
    bytes.is_empty()
}

/// Reads one VM state; an exited process's is left as it was (it is
/// never read again).
fn decode_proc(p: &mut ProcState, bytes: &mut &[u8]) -> Option<()> {
    if get(bytes)? == 0 {
        return Some(());
    }
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
        n => Some(FailedCall {
            errno: Errno::from_number(n - 1)?,
            call: get_call(bytes)?,
            arguments: match get(bytes)? {
                0 => None,
                _ => {
                    let mut arguments = [0; 6];
                    for a in &mut arguments {
                        *a = get(bytes)?;
                    }
                    Some(arguments)
                }
            },
        }),
    };
    let finished_and_layout = get(bytes)?;
    p.finished = finished_and_layout & 1 != 0;
    p.status_layout = *StatusLayout::ALL.get((finished_and_layout >> 1) as usize)?;
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

/// The enabled and live sets of `kernel`'s first `instances` processes:
/// ready instances (each a `Run` choice), instances whose timer can fire
/// (a `Timer` choice), live instances; one bit per instance.
#[inline]
pub fn enabled_in(kernel: &Kernel, instances: usize) -> (u64, u64, u64) {
    let (mut run, mut timer, mut alive) = (0u64, 0u64, 0u64);
    for (k, p) in kernel.processes().iter().take(instances).enumerate() {
        match p.state {
            ProcessState::Ready | ProcessState::Running => run |= 1 << k,
            ProcessState::Blocked(_) if kernel.has_timer(p.pid) => timer |= 1 << k,
            _ => {}
        }
        if !p.is_exited() {
            alive |= 1 << k;
        }
    }
    (run, timer, alive)
}
