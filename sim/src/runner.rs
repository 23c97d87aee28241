//! The runner: boots a kernel for a compiled scenario and runs its processes step by step.
//!
//! One step runs one process from where it stopped to its next system call
//! (local computation is atomic; only system calls are visible to others),
//! traps into the kernel with the call's registers, and advances the clock
//! one tick. When no process can run, the clock jumps to the next timer; when
//! there is none, the world is stuck and the wait-for graph says why.
//!
//! The schedule is deterministic: the kernel's own round robin (`rr`), or a
//! seeded random choice among the runnable processes at every step
//! (`random`), from ChaCha8 so the same seed gives the same run everywhere.

use ipclab_kernel::{
    Config, Event, Kernel, NullSink, Policy as KernelPolicy, ProcessState, Stats, TraceSink,
    TrapOutcome,
};
use ipclab_syscalls::{Errno, Pid, Reply, RetRegs};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::device::Devices;
use crate::lang::vm::{ProcState, VmEvent};
use crate::lang::{Policy, Program};
use crate::machine::{self, Effect, Machine};
use crate::names::Names;
use crate::trace::{ProcView, Step, Trace, TraceEvent};
use crate::translate::{translate_all, TraceMemory};
use crate::verdict::{Limit, Progress, Stuck, Verdict};
use crate::waitfor::analyse_stuck;

/// How the runner picks the next process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schedule {
    /// The kernel's round robin with its quantum and priorities.
    #[default]
    RoundRobin,
    /// A seeded random choice among runnable processes at every step.
    Random,
}

/// Options of one run.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Seed for `Schedule::Random`.
    pub seed: u64,
    /// How to pick the next process.
    pub schedule: Schedule,
    /// Steps after which a live run ends with `runs`.
    pub max_steps: u64,
    /// Ticks after which a live run ends with `runs`.
    pub max_ticks: u64,
    /// Keep every step in the trace (off: only the verdict and counters).
    pub record: bool,
    /// Simulated CPUs: up to this many processes are `Running` at once, and
    /// each step advances one of them, chosen by the schedule (round robin
    /// over the CPUs, or seeded random). 1 is the classic uniprocessor.
    pub cpus: usize,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            seed: 0,
            schedule: Schedule::RoundRobin,
            max_steps: 1_000,
            max_ticks: 100_000,
            record: true,
            cpus: 1,
        }
    }
}

/// A scenario that cannot be booted (its options exceed the kernel's maxima).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootError(pub String);

impl std::fmt::Display for BootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BootError {}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The verdict.
    pub verdict: Verdict,
    /// Every step (empty unless `record`).
    pub trace: Trace,
    /// The kernel's counters at the end.
    pub stats: Stats,
    /// Steps taken.
    pub steps: u64,
    /// The clock at the end.
    pub ticks: u64,
    /// Lines the processes printed, in order.
    pub output: Vec<String>,
}

impl RunResult {
    /// The limit that ended a `runs` verdict of a run made with `options`;
    /// `None` for any other verdict, or a run cut short otherwise (a
    /// replayed counterexample).
    pub fn limit(&self, options: &RunOptions) -> Option<Limit> {
        if !matches!(self.verdict, Verdict::Runs { .. }) {
            return None;
        }
        // The order `World::run` checks them in.
        if self.steps >= options.max_steps {
            Some(Limit::Steps(options.max_steps))
        } else if self.ticks >= options.max_ticks {
            Some(Limit::Ticks(options.max_ticks))
        } else {
            None
        }
    }
}

/// The kernel's configuration for a scenario's `kernel { }` block.
pub fn kernel_config(program: &Program) -> Result<Config, BootError> {
    let options = &program.kernel;
    let mut config = Config::default();
    let size = |v: u64, what: &str| {
        usize::try_from(v).map_err(|_| BootError(format!("{what} = {v} is too large")))
    };
    if let Some(v) = options.buffer_slots {
        config.buffer_slots = size(v, "buffer_slots")?;
        // Quotas default to the whole buffer.
        config.receiver_quota = config.buffer_slots;
        config.mailbox_quota = config.buffer_slots;
    }
    if let Some(v) = options.eager_limit {
        config.eager_limit = size(v, "eager_limit")?;
    }
    if let Some(v) = options.receiver_quota {
        config.receiver_quota = size(v, "receiver_quota")?;
    }
    if let Some(v) = options.mailbox_quota {
        config.mailbox_quota = size(v, "mailbox_quota")?;
    }
    if let Some(p) = options.policy {
        config.policy = match p {
            Policy::Classic => KernelPolicy::Classic,
            Policy::Notify => KernelPolicy::Notify,
        };
    }
    if let Some(v) = options.refuse_deadlock {
        config.refuse_deadlock = v;
    }
    if let Some(v) = options.quantum {
        config.quantum =
            u32::try_from(v).map_err(|_| BootError(format!("quantum = {v} is too large")))?;
    }
    config
        .validate()
        .map_err(|e| BootError(format!("kernel {{ }} block: {e}")))?;
    Ok(config)
}

/// Where a step's kernel events go: a [`Recorder`] when the run records a
/// trace, [`Discard`] when it does not (the step is then compiled with a
/// sink that does nothing, so throughput runs pay nothing for tracing).
trait StepLog: TraceSink {
    /// Events recorded so far in this step.
    fn recorded(&self) -> usize;
    /// The step's events.
    fn into_events(self) -> Vec<(u64, Event)>;
}

/// Collects the kernel's events of one step.
#[derive(Default)]
struct Recorder {
    events: Vec<(u64, Event)>,
}

impl TraceSink for Recorder {
    fn event(&mut self, now: u64, event: &Event) {
        self.events.push((now, *event));
    }
}

impl StepLog for Recorder {
    fn recorded(&self) -> usize {
        self.events.len()
    }

    fn into_events(self) -> Vec<(u64, Event)> {
        self.events
    }
}

/// Drops the kernel's events: a run that records no trace.
struct Discard;

impl TraceSink for Discard {
    #[inline]
    fn event(&mut self, _now: u64, _event: &Event) {}
}

impl StepLog for Discard {
    fn recorded(&self) -> usize {
        0
    }

    fn into_events(self) -> Vec<(u64, Event)> {
        Vec::new()
    }
}

#[derive(Clone, Debug, Default)]
struct Counters {
    produced: u64,
    consumed: u64,
    calls: u64,
    last_progress: Option<u64>,
    /// The last step the process ran: a starving process that ran lately
    /// is not "not scheduled", it busy-waits.
    last_ran: Option<u64>,
    /// The last call that failed, and its step.
    last_failure: Option<(Errno, u64)>,
    /// The last step an MPI poll found nothing, per kind
    /// (`machine::poll_kind`).
    last_poll: [Option<u64>; 2],
}

/// A booted scenario: the kernel, every process's VM state, the clock of steps.
pub struct World<'p> {
    program: &'p Program,
    /// The kernel (boxed: it is a few hundred kilobytes of fixed tables).
    pub kernel: Box<Kernel>,
    /// Every instance's VM state (pc, registers, memory).
    pub procs: Vec<ProcState>,
    names: Names,
    counters: Vec<Counters>,
    step: u64,
    rng: ChaCha8Rng,
    options: RunOptions,
    /// With several CPUs: the instance on each CPU, and the CPU that
    /// stepped last (round robin goes on from there).
    cpu_slots: Vec<Option<usize>>,
    last_cpu: usize,
    trace: Trace,
    /// What the translation of kernel events remembers across steps.
    trace_memory: TraceMemory,
    output: Vec<String>,
    /// Typed input still to come (`sim/src/device.rs`).
    devices: Devices,
}

impl<'p> World<'p> {
    /// Boots a kernel for `program`: creates its mailboxes, spawns every
    /// instance (instance `k` is slot `k`) and hands each a handle to every
    /// declared mailbox (mailbox `m` is handle `m`).
    pub fn boot(program: &'p Program, options: RunOptions) -> Result<World<'p>, BootError> {
        let Machine { mut kernel, procs } = Machine::boot(program, &mut NullSink)?;
        let devices = Devices::attach(program, &mut kernel)?;
        let names = Names::new(program);
        let trace = Trace {
            labels: names_of(program),
            steps: Vec::new(),
        };
        Ok(World {
            program,
            kernel,
            counters: vec![Counters::default(); procs.len()],
            procs,
            names,
            step: 0,
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            options,
            cpu_slots: vec![None; options.cpus.max(1)],
            last_cpu: options.cpus.max(1) - 1,
            trace,
            trace_memory: TraceMemory::default(),
            output: Vec::new(),
            devices,
        })
    }

    /// Runs to a verdict.
    pub fn run(mut self) -> RunResult {
        let verdict = loop {
            if self.step >= self.options.max_steps || self.kernel.now() >= self.options.max_ticks {
                // A run whose last step ended it (every process exited, or
                // the last one able to run blocked) is over, not live.
                break self.ended().unwrap_or_else(|| self.runs_verdict());
            }
            if let Some(verdict) = self.step_once() {
                break verdict;
            }
        };
        RunResult {
            verdict,
            stats: *self.kernel.stats(),
            steps: self.step,
            ticks: self.kernel.now(),
            trace: self.trace,
            output: self.output,
        }
    }

    /// The verdict of a world that cannot go on: no process can run and no
    /// timer or input is due to wake one. `None` while it is live.
    fn ended(&self) -> Option<Verdict> {
        let can_run = self
            .kernel
            .processes()
            .iter()
            .any(|p| matches!(p.state, ProcessState::Ready | ProcessState::Running));
        let pending = self.kernel.next_timer().is_some() || self.devices.next_at().is_some();
        if can_run || (pending && !self.all_exited()) {
            return None;
        }
        Some(analyse_stuck(&self.kernel, &self.names))
    }

    /// Has every process exited? Then the run is over, even with input
    /// still to be typed: no one is left to read it.
    fn all_exited(&self) -> bool {
        self.kernel.processes().iter().all(|p| p.is_exited())
    }

    /// The instance running on the CPU, if any.
    fn running(&self) -> Option<usize> {
        self.kernel
            .processes()
            .iter()
            .position(|p| matches!(p.state, ProcessState::Running))
    }

    /// Chooses who runs this step; `None` when no process can run.
    fn choose(&mut self, recorder: &mut impl TraceSink) -> Option<usize> {
        if self.cpu_slots.len() > 1 {
            return self.choose_among_cpus(recorder);
        }
        let current = self.running();
        match self.options.schedule {
            Schedule::RoundRobin => {
                if current.is_some() {
                    return current;
                }
                let pid = self.kernel.pick_next()?;
                self.kernel.dispatch(pid, recorder).ok()?;
                Some(pid.index as usize)
            }
            Schedule::Random => {
                let mut candidates: Vec<Pid> = self.kernel.ready().collect();
                if let Some(k) = current {
                    candidates.push(Program::pid_of(k));
                }
                if candidates.is_empty() {
                    return None;
                }
                // `next_u64 % n` rather than a range sampler: ChaCha8's
                // stream is fixed by its specification, so a seed gives the
                // same schedule on every machine and every version.
                let chosen = candidates[(self.rng.next_u64() % candidates.len() as u64) as usize];
                if let Some(k) = current {
                    if Program::pid_of(k) == chosen {
                        return current;
                    }
                    let _ = self.kernel.preempt(Program::pid_of(k), recorder);
                }
                self.kernel.dispatch(chosen, recorder).ok()?;
                Some(chosen.index as usize)
            }
        }
    }

    /// Several CPUs: every free CPU takes a ready process (the scheduler's
    /// next, or a seeded random one), then one occupied CPU steps (the next
    /// after the last in round robin, or a seeded random one).
    fn choose_among_cpus(&mut self, recorder: &mut impl TraceSink) -> Option<usize> {
        for slot in 0..self.cpu_slots.len() {
            // A process that blocked, exited or was preempted left its CPU.
            if let Some(k) = self.cpu_slots[slot] {
                if !matches!(self.kernel.processes()[k].state, ProcessState::Running) {
                    self.cpu_slots[slot] = None;
                }
            }
            if self.cpu_slots[slot].is_some() {
                continue;
            }
            let next = match self.options.schedule {
                Schedule::RoundRobin => self.kernel.pick_next(),
                Schedule::Random => {
                    let ready: Vec<Pid> = self.kernel.ready().collect();
                    if ready.is_empty() {
                        None
                    } else {
                        Some(ready[(self.rng.next_u64() % ready.len() as u64) as usize])
                    }
                }
            };
            if let Some(pid) = next {
                self.kernel.dispatch(pid, recorder).ok()?;
                self.cpu_slots[slot] = Some(pid.index as usize);
            }
        }
        let occupied: Vec<usize> = (0..self.cpu_slots.len())
            .filter(|&c| self.cpu_slots[c].is_some())
            .collect();
        if occupied.is_empty() {
            return None;
        }
        let cpu = match self.options.schedule {
            Schedule::RoundRobin => *occupied
                .iter()
                .find(|&&c| c > self.last_cpu)
                .unwrap_or(&occupied[0]),
            Schedule::Random => occupied[(self.rng.next_u64() % occupied.len() as u64) as usize],
        };
        self.last_cpu = cpu;
        self.cpu_slots[cpu]
    }

    /// Runs one step; a verdict when the run is over.
    fn step_once(&mut self) -> Option<Verdict> {
        if self.options.record {
            self.step_with(Recorder::default())
        } else {
            self.step_with(Discard)
        }
    }

    /// One step, its kernel events going to `recorder`.
    fn step_with<S: StepLog>(&mut self, mut recorder: S) -> Option<Verdict> {
        let record = self.options.record;
        let mut events = Vec::new();
        if self.all_exited() {
            // Over: input still to be typed has no one left to read it.
            return Some(analyse_stuck(&self.kernel, &self.names));
        }
        // At tick t the interrupt handlers of the input due at t run first.
        self.devices.fire_due(&mut self.kernel, &mut recorder);
        let Some(k) = self.choose(&mut recorder) else {
            let next_event = match (self.kernel.next_timer(), self.devices.next_at()) {
                (Some(timer), Some(input)) => Some(timer.min(input)),
                (timer, input) => timer.or(input),
            };
            return match next_event {
                Some(at) => {
                    // Never past the tick limit: a `sleep` of 2^63 ticks
                    // must end the run with `runs`, not tick forever. One
                    // jump (no process is running, so it cannot fail), not
                    // up to 100000 empty ticks.
                    let until = at.min(self.options.max_ticks);
                    let _ = self.kernel.idle_until(until, &mut recorder);
                    self.finish_step(None, recorder, (0, 0), events);
                    None
                }
                None => Some(analyse_stuck(&self.kernel, &self.names)),
            };
        };
        let pid = Program::pid_of(k);
        self.counters[k].last_ran = Some(self.step);
        if let Some(result) = machine::resume(&mut self.kernel, &mut self.procs, self.program, k) {
            self.call_completed(k, result);
        }
        // Names cost an allocation: only a recorded run needs them per step.
        let label = if record {
            self.names.process(pid)
        } else {
            String::new()
        };
        // Kernel events before this point (the dispatch) come before the
        // call in the step's record.
        let before_call = recorder.recorded();
        let mut verdict = None;
        let mut extra_ticks = 0;
        let mut event = machine::run_to_event(&mut self.procs, self.program, k);
        if let (true, VmEvent::Syscall { regs, span }) = (record, &event) {
            // A call whose registers do not decode (a computed negative
            // rank) is shown as written; the kernel's `bad_call` answers it.
            let call = machine::call_text(
                &self.kernel,
                &self.procs,
                self.program,
                &self.names,
                k,
                regs,
                *span,
            );
            events.push(TraceEvent::Syscall {
                process: label.clone(),
                call,
                line: self.program.line_col(*span).0,
            });
        }
        let effect = machine::handle(
            &mut self.kernel,
            &mut self.procs,
            self.program,
            &self.names,
            k,
            &mut event,
            &mut recorder,
        );
        match effect {
            // A poll that found nothing is neither progress nor a failure.
            Effect::Trapped(TrapOutcome::Complete(result))
                if machine::found_nothing(&event, result) =>
            {
                self.counters[k].last_poll[machine::poll_kind(&event)] = Some(self.step);
            }
            Effect::Trapped(TrapOutcome::Complete(result)) => self.call_completed(k, result),
            // `yield` succeeds at once (its 0 comes back when it runs again).
            Effect::Trapped(TrapOutcome::Yielded) => self.progress(k, false),
            _ => {}
        }
        match effect {
            Effect::Trapped(_) | Effect::Exited(_) | Effect::Budget => {}
            Effect::Compute(ticks) => {
                extra_ticks = ticks.saturating_sub(1);
                if record {
                    events.push(TraceEvent::Compute {
                        process: label,
                        ticks,
                    });
                }
            }
            Effect::Produce(value) => {
                self.counters[k].produced += 1;
                self.progress(k, true);
                if record {
                    events.push(TraceEvent::Produce {
                        process: label,
                        value,
                    });
                }
            }
            Effect::Consume(value) => {
                self.counters[k].consumed += 1;
                self.progress(k, true);
                if record {
                    events.push(TraceEvent::Consume {
                        process: label,
                        value,
                    });
                }
            }
            Effect::Print(text) => {
                self.output
                    .push(format!("{}: {text}", self.names.process(pid)));
                if record {
                    events.push(TraceEvent::Print {
                        process: label,
                        text,
                    });
                }
            }
            Effect::Failed(failure) => verdict = Some(failure),
        }
        if let Some(verdict) = verdict {
            if let Verdict::Error {
                process,
                message,
                line,
                column,
            }
            | Verdict::AssertionFailed {
                process,
                message,
                line,
                column,
            } = &verdict
            {
                // The trace says which: an assertion, or another error.
                let message = match &verdict {
                    Verdict::AssertionFailed { .. } => format!("assertion failed: {message}"),
                    _ => message.clone(),
                };
                events.push(TraceEvent::ProgramError {
                    process: process.clone(),
                    message,
                    line: *line,
                    column: *column,
                });
            }
            let before_tick = recorder.recorded();
            self.finish_step(Some(k), recorder, (before_call, before_tick), events);
            return Some(verdict);
        }
        // What the clock tick does (a timer fires, a sleeper wakes) comes
        // after everything the step's process did, its `produce` and
        // `print` among them.
        let before_tick = recorder.recorded();
        self.kernel.tick(&mut recorder);
        for _ in 0..extra_ticks {
            if self.kernel.now() >= self.options.max_ticks {
                break;
            }
            self.kernel.tick(&mut recorder);
        }
        self.finish_step(Some(k), recorder, (before_call, before_tick), events);
        None
    }

    /// Counts a completed call: progress when it succeeded.
    fn call_completed(&mut self, k: usize, result: RetRegs) {
        match Reply::from_regs(result) {
            Ok(_) => self.progress(k, false),
            Err(errno) => self.counters[k].last_failure = Some((errno, self.step)),
        }
    }

    fn progress(&mut self, k: usize, item: bool) {
        let c = &mut self.counters[k];
        if !item {
            c.calls += 1;
        }
        c.last_progress = Some(self.step);
    }

    /// Records a step: the kernel's events in scenario words, the VM's
    /// events, and every process's state.
    #[inline]
    fn finish_step(
        &mut self,
        ran: Option<usize>,
        recorder: impl StepLog,
        (before_call, before_tick): (usize, usize),
        mut vm_events: Vec<TraceEvent>,
    ) {
        if self.options.record {
            let recorded = recorder.into_events();
            let mut events = Vec::with_capacity(recorded.len() + vm_events.len());
            let mut translated = translate_all(
                &self.kernel,
                &self.names,
                &mut self.trace_memory,
                recorded.iter().map(|e| &e.1),
            );
            // The dispatch, then the call line, then what the kernel did
            // for it, then the VM's own events (produce, print...), then
            // the clock tick's (timers, wake-ups).
            let (calls, rest): (Vec<_>, Vec<_>) = vm_events
                .drain(..)
                .partition(|e| matches!(e, TraceEvent::Syscall { .. }));
            let after_tick = translated.split_off(before_tick.min(translated.len()));
            let after_call = translated.split_off(before_call.min(translated.len()));
            events.extend(translated.into_iter().flatten());
            events.extend(calls);
            events.extend(after_call.into_iter().flatten());
            events.extend(rest);
            events.extend(after_tick.into_iter().flatten());
            let states = self.views();
            self.trace.steps.push(Step {
                step: self.step,
                tick: self.kernel.now(),
                ran,
                states,
                events,
            });
        }
        self.step += 1;
    }

    /// Every instance's state as the timeline shows it.
    pub fn views(&self) -> Vec<ProcView> {
        self.kernel
            .processes()
            .iter()
            .take(self.procs.len())
            .map(|p| match p.state {
                ProcessState::Ready => ProcView::Ready,
                ProcessState::Running => ProcView::Running,
                ProcessState::Blocked(r) => ProcView::Blocked {
                    reason: self.names.reason(&self.kernel, p.pid, r),
                },
                ProcessState::Exited(code) => ProcView::Exited { code },
            })
            .collect()
    }

    /// The `runs` verdict at the step limit: progress, and who starves.
    fn runs_verdict(&self) -> Verdict {
        let half = self.step / 2;
        let progress: Vec<Progress> = self
            .counters
            .iter()
            .enumerate()
            .map(|(k, c)| Progress {
                process: self.names.process(Program::pid_of(k)),
                produced: c.produced,
                consumed: c.consumed,
                calls: c.calls,
                last_progress_step: c.last_progress,
            })
            .collect();
        // The world was not idle: some process ran in the second half, and
        // the run did not end by running out of time with every process
        // waiting (a world only waiting for a timer, whose clock jumped to
        // the limit, starves nobody: the timer moves it). A run cut by the
        // step limit while a process sleeps between its turns is judged as
        // one cut while it runs, so the verdict does not depend on where
        // the limit falls. As `check`: a process kept from progressing
        // while others run, or while it runs itself and gets nowhere (a
        // busy-wait).
        let someone_ran = self
            .counters
            .iter()
            .any(|c| c.last_ran.is_some_and(|s| s >= half))
            && !waits_out_of_time(&self.kernel, self.options.max_ticks);
        // A process that is ready but did not run in a second half shorter
        // than a round (every live process a quantum, in turn) was not
        // reached yet, not passed over (`--steps 10` with 7 processes,
        // 1,024 processes in 1,000 steps). That holds when every live
        // process has one priority; a higher one may pass it over in any
        // stretch, and a blocked process is judged by what it waits for.
        let live: Vec<_> = self
            .kernel
            .processes()
            .iter()
            .take(self.procs.len())
            .filter(|p| !p.is_exited())
            .collect();
        let round = (live.len() as u64).saturating_mul(u64::from(self.kernel.config().quantum));
        let one_priority = live.windows(2).all(|w| w[0].priority == w[1].priority);
        let not_reached_yet = |state: ProcessState| {
            self.step - half < round && one_priority && !matches!(state, ProcessState::Blocked(_))
        };
        let starving = self
            .kernel
            .processes()
            .iter()
            .take(self.procs.len())
            .enumerate()
            .filter(|(k, p)| {
                !p.is_exited()
                    && self.program.can_progress(*k)
                    && self.counters[*k].last_progress.is_none_or(|s| s < half)
                    && someone_ran
                    && !not_reached_yet(p.state)
                    && !in_its_own_sleep(p.state, self.counters[*k].last_ran, half)
            })
            .map(|(k, p)| Stuck {
                process: self.names.process(Program::pid_of(k)),
                why: self.starving_reason(k, p.state, half),
            })
            .collect();
        Verdict::Runs {
            progress,
            starving,
            deadlocked: crate::waitfor::closed_cycle(&self.kernel, &self.names),
        }
    }

    /// Why a process made no progress since step `half`: it waits, it was
    /// not given the CPU, or it ran and got nowhere (a busy-wait on calls
    /// that keep failing looks like starvation but is scheduled all along).
    fn starving_reason(&self, k: usize, state: ProcessState, half: u64) -> String {
        let counters = &self.counters[k];
        let pid = Program::pid_of(k);
        crate::verdict::Starving {
            waits_in: match state {
                ProcessState::Blocked(reason) => Some(self.names.reason(&self.kernel, pid, reason)),
                _ => None,
            },
            timed: self.kernel.has_timer(pid),
            ran: counters.last_ran.is_some_and(|s| s >= half),
            failing: counters
                .last_failure
                .filter(|&(_, at)| at >= half)
                .map(|(errno, _)| errno),
            polling: crate::verdict::polls_text(
                counters.last_poll.map(|at| at.is_some_and(|s| s >= half)),
            ),
            // Every completed call is progress here.
            busy_without: None,
        }
        .why()
    }
}

fn names_of(program: &Program) -> Vec<String> {
    program.instances.iter().map(|i| i.label.clone()).collect()
}

/// Compiles nothing: runs an already compiled program to a verdict.
pub fn run(program: &Program, options: RunOptions) -> Result<RunResult, BootError> {
    Ok(World::boot(program, options)?.run())
}

/// Has the process been in one `sleep` since step `half` (it did not run
/// since)? Nobody keeps it from progressing: it waits for its own timer,
/// which will fire, as `check` sees it. A process that sleeps between
/// calls that keep failing ran in that half, and is judged.
pub(crate) fn in_its_own_sleep(state: ProcessState, last_ran: Option<u64>, half: u64) -> bool {
    matches!(
        state,
        ProcessState::Blocked(ipclab_kernel::BlockReason::Sleep { .. })
    ) && last_ran.is_none_or(|s| s < half)
}

/// Did the run end at the tick limit with no process able to run (every
/// live one blocked, waiting at most for a timer)? Such a world starves
/// nobody: the next timer would move it.
pub(crate) fn waits_out_of_time(kernel: &Kernel, max_ticks: u64) -> bool {
    idle(kernel) && kernel.now() >= max_ticks
}

/// Is no process ready or running?
pub(crate) fn idle(kernel: &Kernel) -> bool {
    !kernel
        .processes()
        .iter()
        .any(|p| matches!(p.state, ProcessState::Ready | ProcessState::Running))
}
