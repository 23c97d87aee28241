//! The threaded driver: a scenario's processes on N host threads, each a CPU entering the kernel at once.
//!
//! This is the stress mode (`ipclab run FILE --cpus N --threads`): not
//! deterministic by design. Each host thread (a `crossbeam-utils` scoped
//! thread) is a CPU. It asks the kernel for work under the kernel lock
//! ([`SharedKernel::find_work`]): the next ready process becomes `Running`
//! on it. The CPU runs that process's VM without the lock (local
//! computation is private) until a system call, and traps under the lock.
//! A call that completes lets the process run on; a call that blocks takes
//! the process off the CPU, which looks for other work. The partner's call
//! that completes it makes it ready again, and some CPU (an idle one is
//! unparked) picks it up and hands it its result from the PCB.
//!
//! Memory: each process's VM state sits behind its own mutex. The CPU that
//! runs a process locks it to run the VM to its next event, holding no
//! other lock, and again inside the kernel lock for a trap. During a trap
//! the kernel may copy to and from any process: the caller, a blocked
//! partner, and also a rank that is running (MPI copies out of an attached
//! `MPI_Bsend` buffer or a pending `MPI_Isend`'s buffer, and into a pending
//! `MPI_Irecv`'s, while their owner runs). So the lock order is "kernel,
//! then process states", and a CPU never waits for the kernel lock while
//! holding a state: a trap that waits for a running process's state waits
//! at most one VM run.
//!
//! Time: the virtual clock advances only when no process can run and a
//! timer is set (the CPUs run for real, so per-step ticks would mean
//! nothing). It jumps to the timer, and stops at the deterministic
//! runner's tick limit: a run that waits past it ends there with `runs`,
//! as it does without `--threads`. A process that computes for a long time without a call is
//! taken off its CPU when its VM budget runs out and another process waits.
//!
//! Chapter: `docs/concurrency.md`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;

use crossbeam_utils::Backoff;
use ipclab_kernel::sync::{CpuSet, SharedKernel, Work, MAX_CPUS};
use ipclab_kernel::{Fault, Kernel, NullSink, ProcessState, Stats, TrapOutcome, UserMemory};
use ipclab_syscalls::{Pid, Reply};

use crate::lang::vm::{self, ProcState, VmEvent};
use crate::lang::{Program, Span};
use crate::names::Names;
use crate::runner::{BootError, RunOptions, World};
use crate::verdict::{Limit, Progress, Stuck, Verdict};
use crate::waitfor::analyse_stuck;

/// Instructions a process may run without an event before its CPU checks
/// whether another process waits for it.
const VM_BUDGET: u32 = 10_000;

/// Completed calls after which a process leaves its CPU if another process
/// is ready and no CPU is idle (round robin, in calls rather than ticks).
const CALLS_PER_TURN: u64 = 64;

/// Options of a threaded run.
#[derive(Clone, Copy, Debug)]
pub struct ThreadOptions {
    /// Host threads, one per CPU (1 to [`MAX_CPUS`]).
    pub cpus: usize,
    /// Steps (every event a process makes: see [`ThreadedResult::steps`]) after
    /// which a live run halts with `runs`.
    pub max_steps: u64,
    /// The tick at which a live run whose processes all wait for a later
    /// timer halts with `runs` (the deterministic runner's limit).
    pub max_ticks: u64,
}

impl Default for ThreadOptions {
    /// One CPU, and the deterministic runner's limits.
    fn default() -> ThreadOptions {
        let run = RunOptions::default();
        ThreadOptions {
            cpus: 1,
            max_steps: run.max_steps,
            max_ticks: run.max_ticks,
        }
    }
}

/// What a threaded run produced.
#[derive(Debug)]
pub struct ThreadedResult {
    /// The verdict.
    pub verdict: Verdict,
    /// The kernel's counters at the end.
    pub stats: Stats,
    /// Steps made: system calls, local events (compute, produce, consume,
    /// print, a used-up VM budget), exits and program errors, counted as
    /// the deterministic runner counts them.
    pub steps: u64,
    /// The clock at the end.
    pub ticks: u64,
    /// The limit that ended a `runs` verdict (`None` for any other).
    pub limit: Option<Limit>,
    /// Lines the processes printed, in the order the CPUs printed them.
    pub output: Vec<String>,
    /// The kernel's invariants at the end, as a sentence when broken.
    pub invariants: Result<(), String>,
    /// Processes each CPU ran (dispatches), CPU 0 first.
    pub dispatches: Vec<u64>,
}

/// Everything the CPUs share.
struct Machine<'p> {
    program: &'p Program,
    kernel: SharedKernel,
    procs: Vec<Mutex<ProcState>>,
    counters: Vec<Mutex<Progress>>,
    /// The last step each process took (0: none yet), to tell a starving
    /// process that was not scheduled from one that ran to no avail.
    last_ran: Vec<AtomicU64>,
    output: Mutex<Vec<String>>,
    /// The first program error or failed assertion; it halts the machine.
    error: Mutex<Option<Verdict>>,
    steps: AtomicU64,
    max_steps: u64,
    max_ticks: u64,
    at_limit: AtomicBool,
    /// Set when the machine halts: CPUs still running a process stop at
    /// its next call.
    stopping: AtomicBool,
    threads: OnceLock<Vec<Thread>>,
    names: Names,
}

/// The memories the kernel sees during a trap: the caller's, which the CPU
/// holds, and the others', locked on demand (see the module comment).
struct TrapMemories<'a> {
    caller: usize,
    state: &'a mut ProcState,
    procs: &'a [Mutex<ProcState>],
}

impl TrapMemories<'_> {
    fn with_memory<R>(&mut self, pid: Pid, f: impl FnOnce(&mut Vec<u8>) -> R) -> Result<R, Fault> {
        let index = pid.index as usize;
        if index == self.caller {
            return Ok(f(&mut self.state.memory));
        }
        let mut other = self
            .procs
            .get(index)
            .ok_or(Fault)?
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut other.memory))
    }
}

impl UserMemory for TrapMemories<'_> {
    fn read(&self, pid: Pid, addr: u64, out: &mut [u8]) -> Result<(), Fault> {
        let start = usize::try_from(addr).map_err(|_| Fault)?;
        let end = start.checked_add(out.len()).ok_or(Fault)?;
        let mut copy = |memory: &Vec<u8>| -> Result<(), Fault> {
            out.copy_from_slice(memory.get(start..end).ok_or(Fault)?);
            Ok(())
        };
        let index = pid.index as usize;
        if index == self.caller {
            return copy(&self.state.memory);
        }
        let other = self
            .procs
            .get(index)
            .ok_or(Fault)?
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        copy(&other.memory)
    }

    fn write(&mut self, pid: Pid, addr: u64, data: &[u8]) -> Result<(), Fault> {
        let start = usize::try_from(addr).map_err(|_| Fault)?;
        let end = start.checked_add(data.len()).ok_or(Fault)?;
        self.with_memory(pid, |memory| {
            memory
                .get_mut(start..end)
                .ok_or(Fault)
                .map(|bytes| bytes.copy_from_slice(data))
        })?
    }
}

/// Runs `program` on `options.cpus` host threads to a verdict.
///
/// # Errors
/// A scenario the kernel cannot boot.
pub fn run_threaded(
    program: &Program,
    options: ThreadOptions,
) -> Result<ThreadedResult, BootError> {
    if let Some(device) = program.devices.first() {
        return Err(BootError(format!(
            "the threaded mode does not type input yet: run this scenario without \
             --threads to see its `device {}` at work",
            device.name
        )));
    }
    let cpus = options.cpus.clamp(1, MAX_CPUS);
    let world = World::boot(
        program,
        RunOptions {
            record: false,
            ..RunOptions::default()
        },
    )?;
    let names = Names::new(program);
    let counters = (0..world.procs.len())
        .map(|k| {
            Mutex::new(Progress {
                process: names.process(Program::pid_of(k)),
                produced: 0,
                consumed: 0,
                calls: 0,
                last_progress_step: None,
            })
        })
        .collect();
    let last_ran = (0..world.procs.len()).map(|_| AtomicU64::new(0)).collect();
    let machine = Machine {
        program,
        kernel: SharedKernel::with_tick_limit(*world.kernel, options.max_ticks),
        procs: world.procs.into_iter().map(Mutex::new).collect(),
        counters,
        last_ran,
        output: Mutex::new(Vec::new()),
        error: Mutex::new(None),
        steps: AtomicU64::new(0),
        max_steps: options.max_steps,
        max_ticks: options.max_ticks,
        at_limit: AtomicBool::new(false),
        stopping: AtomicBool::new(false),
        threads: OnceLock::new(),
        names,
    };
    let mut dispatches = vec![0u64; cpus];
    crossbeam_utils::thread::scope(|scope| {
        let handles: Vec<_> = (0..cpus)
            .map(|cpu| {
                let machine = &machine;
                scope
                    .builder()
                    .name(format!("cpu{cpu}"))
                    .spawn(move |_| {
                        // Wait until every CPU's handle is known (to unpark it).
                        let backoff = Backoff::new();
                        while machine.threads.get().is_none() {
                            backoff.snooze();
                        }
                        machine.cpu(cpu)
                    })
                    .expect("spawn a CPU thread")
            })
            .collect();
        let threads = handles.iter().map(|h| h.thread().clone()).collect();
        let _ = machine.threads.set(threads);
        for (cpu, handle) in handles.into_iter().enumerate() {
            dispatches[cpu] = handle.join().expect("a CPU thread panicked");
        }
    })
    .expect("a CPU thread panicked");
    Ok(machine.finish(dispatches))
}

impl Machine<'_> {
    /// One CPU: find work, run it, park when there is none, until halted.
    /// Returns how many times it dispatched a process.
    fn cpu(&self, cpu: usize) -> u64 {
        let mut dispatches = 0;
        let backoff = Backoff::new();
        loop {
            let (work, wake) = self.kernel.find_work(cpu, &mut NullSink);
            self.unpark(wake);
            match work {
                Work::Halt => return dispatches,
                Work::Park => {
                    // Spin a little (work often comes back at once), then
                    // sleep; either way look again under the lock.
                    if backoff.is_completed() {
                        std::thread::park();
                    } else {
                        backoff.snooze();
                    }
                }
                Work::Run(pid) => {
                    backoff.reset();
                    dispatches += 1;
                    self.run_process(pid);
                }
            }
        }
    }

    fn unpark(&self, cpus: CpuSet) {
        if let Some(threads) = self.threads.get() {
            for cpu in cpus.iter() {
                threads[cpu].unpark();
            }
        }
    }

    /// Runs `pid` (now `Running` on this CPU) until it blocks, exits, yields
    /// or leaves the CPU for another process.
    ///
    /// The lock order (module comment): the process's state is locked only
    /// to run its VM, holding nothing else, or inside the kernel lock; never
    /// held while waiting for the kernel. (Held across the trap, as it once
    /// was, it deadlocked MPI: the kernel copies from and to a *running*
    /// rank's buffers, an attached `MPI_Bsend` buffer or a pending
    /// `MPI_Isend`'s, so a trap holding the kernel lock waited for the state
    /// of a rank whose CPU held it and spun for the kernel lock.)
    fn run_process(&self, pid: Pid) {
        let k = pid.index as usize;
        // The result of the call it blocked in (set by the partner under the
        // kernel lock), into the VM under the kernel lock too. The process is
        // `Running` on this CPU since the dispatch, so no other CPU runs it
        // or takes its result in between.
        let resumed = self.kernel.with(|kernel| {
            let result = kernel.take_completion(pid)?;
            vm::complete_syscall(self.program, k, &mut self.state(k), result);
            Some(result)
        });
        if resumed.is_some_and(|result| Reply::from_regs(result).is_ok()) {
            self.progress(k, false);
        }
        let mut calls = 0u64;
        loop {
            let event = if self.program.uses_mpi {
                // Pending sends' buffers, so that a value it sends next is
                // staged clear of them (races are not checked here). Only
                // its own calls change them, and it makes none in the VM.
                let owned = self.kernel.with(|kernel| owned_by(kernel, pid));
                vm::run_owning(self.program, k, &mut self.state(k), VM_BUDGET, &owned)
            } else {
                vm::run(self.program, k, &mut self.state(k), VM_BUDGET)
            };
            // Every event is a step, as in the deterministic runner: an
            // exit or a program error too, so the same `--steps` limit
            // stops both runners at the same point.
            if !self.take_step(k) {
                return;
            }
            match event {
                VmEvent::Syscall { regs, span } => {
                    let (outcome, wake) = self.kernel.with_cpus(|kernel, cpus| {
                        let mut state = self.state(k);
                        let mut memories = TrapMemories {
                            caller: k,
                            state: &mut state,
                            procs: &self.procs,
                        };
                        let outcome = kernel.trap(pid, &regs, &mut memories, &mut NullSink);
                        // The result goes into the VM before the lock is
                        // released: a yielded process is ready at once, and
                        // another CPU may dispatch it as soon as we unlock.
                        let result = match outcome {
                            Ok(TrapOutcome::Complete(result)) => Some(result),
                            Ok(TrapOutcome::Yielded) => Some(Reply::to_regs(Ok(Reply::value(0)))),
                            _ => None,
                        };
                        if let Some(result) = result {
                            vm::complete_trap(self.program, k, &mut state, result, &regs.args);
                        }
                        (outcome, ipclab_kernel::sync::take_for_ready(kernel, cpus))
                    });
                    self.unpark(wake);
                    match outcome {
                        Ok(TrapOutcome::Complete(result)) => {
                            if Reply::from_regs(result).is_ok()
                                && !crate::machine::poll_found_nothing(&regs, result)
                            {
                                self.progress(k, false);
                            }
                            calls += 1;
                            if calls >= CALLS_PER_TURN && self.leave_if_others_wait(pid) {
                                return;
                            }
                        }
                        Ok(TrapOutcome::Yielded) => {
                            self.progress(k, false);
                            return;
                        }
                        Ok(TrapOutcome::Blocked(_)) | Ok(TrapOutcome::Exited(_)) => return,
                        Err(e) => {
                            let message = format!("kernel refused the trap: {e:?}");
                            self.program_error(k, span, message, false);
                            return;
                        }
                    }
                }
                VmEvent::Compute { .. } => {}
                VmEvent::Produce { .. } => {
                    self.counter(k).produced += 1;
                    self.progress(k, true);
                }
                VmEvent::Consume { .. } => {
                    self.counter(k).consumed += 1;
                    self.progress(k, true);
                }
                VmEvent::Print { text, .. } => {
                    let label = self.names.process(pid);
                    self.output
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(format!("{label}: {text}"));
                }
                VmEvent::SyscallFailed {
                    errno,
                    call,
                    sysno,
                    arguments,
                    span,
                } => {
                    // Out of the state first: the halt takes the kernel lock.
                    let failure = crate::machine::Failure {
                        call,
                        sysno,
                        errno,
                        ret: self.state(k).status,
                        arguments,
                        caller: Program::pid_of(k),
                    };
                    let message = crate::machine::failed_call_message_with(self.program, &failure);
                    self.program_error(k, span, message, false);
                    return;
                }
                VmEvent::RuntimeError { message, span } => {
                    self.program_error(k, span, message, false);
                    return;
                }
                // Unguarded `vm::run` never races; kept for exhaustiveness.
                VmEvent::BufferRace { access_span, .. } => {
                    self.program_error(k, access_span, "buffer race".to_string(), false);
                    return;
                }
                VmEvent::AssertFailed { span, text } => {
                    self.program_error(k, span, text, true);
                    return;
                }
                VmEvent::Exited { code } => {
                    let wake = self.kernel.with_cpus(|kernel, cpus| {
                        let mut state = self.state(k);
                        let mut memories = TrapMemories {
                            caller: k,
                            state: &mut state,
                            procs: &self.procs,
                        };
                        let _ = kernel.terminate(pid, code, &mut memories, &mut NullSink);
                        ipclab_kernel::sync::take_for_ready(kernel, cpus)
                    });
                    self.unpark(wake);
                    return;
                }
                VmEvent::Budget => {
                    if self.leave_if_others_wait(pid) {
                        return;
                    }
                }
            }
        }
    }

    /// Counts one step for `pid`'s event. False when the run is over: the
    /// step is past the limit, or another CPU halted the machine; `pid` is
    /// then back to ready and the machine halted.
    ///
    /// Every event counts, not only calls: a process that loops without a
    /// call (a busy-wait, `compute` in a loop) would otherwise never reach
    /// the limit nor see the halt, and its CPU would spin for ever.
    fn take_step(&self, k: usize) -> bool {
        let pid = Program::pid_of(k);
        if self.stopping.load(Ordering::Relaxed) {
            self.halt_and_leave(pid);
            return false;
        }
        let step = self.steps.fetch_add(1, Ordering::Relaxed) + 1;
        if step > self.max_steps {
            self.at_limit.store(true, Ordering::Relaxed);
            self.halt_and_leave(pid);
            return false;
        }
        self.last_ran[k].store(step, Ordering::Relaxed);
        true
    }

    /// Takes `pid` off this CPU when another process is ready and no CPU
    /// is idle to run it.
    fn leave_if_others_wait(&self, pid: Pid) -> bool {
        self.kernel.with_cpus(|kernel, cpus| {
            if cpus.idle.is_empty() && kernel.pick_next().is_some() {
                let _ = kernel.preempt(pid, &mut NullSink);
                true
            } else {
                false
            }
        })
    }

    /// Halts the machine and puts `pid` back to ready (so that the end
    /// state shows no process on a CPU).
    ///
    /// Both in one lock acquisition: `pid` stopped in the middle of a call
    /// (at the step limit, or at the call after another CPU halted), so its
    /// VM still waits for that call's result, which the kernel never made.
    /// Put back to ready before the halt, another CPU looking for work in
    /// between would dispatch it and run it with its call still pending.
    fn halt_and_leave(&self, pid: Pid) {
        self.stopping.store(true, Ordering::Relaxed);
        let wake = self.kernel.with_cpus(|kernel, cpus| {
            let _ = kernel.preempt(pid, &mut NullSink);
            cpus.halted = true;
            cpus.idle.take_all()
        });
        self.unpark(wake);
    }

    /// Process `k`'s VM state. Lock it only with no other lock held, or
    /// inside the kernel lock (the lock order in the module comment).
    fn state(&self, k: usize) -> std::sync::MutexGuard<'_, ProcState> {
        self.procs[k].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn counter(&self, k: usize) -> std::sync::MutexGuard<'_, Progress> {
        self.counters[k].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn progress(&self, k: usize, item: bool) {
        let step = self.steps.load(Ordering::Relaxed);
        let mut c = self.counter(k);
        if !item {
            c.calls += 1;
        }
        c.last_progress_step = Some(step);
    }

    fn program_error(&self, k: usize, span: Span, message: String, assertion: bool) {
        let (line, column) = self.program.line_col(span);
        let process = self.names.process(Program::pid_of(k));
        let verdict = if assertion {
            Verdict::AssertionFailed {
                process,
                message,
                line,
                column,
            }
        } else {
            Verdict::Error {
                process,
                message,
                line,
                column,
            }
        };
        self.error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(verdict);
        self.halt_and_leave(Program::pid_of(k));
    }

    fn finish(self, dispatches: Vec<u64>) -> ThreadedResult {
        let error = self.error.into_inner().unwrap_or_else(|e| e.into_inner());
        let at_limit = self.at_limit.load(Ordering::Relaxed);
        let steps = self.steps.load(Ordering::Relaxed).min(self.max_steps);
        let progress: Vec<Progress> = self
            .counters
            .into_iter()
            .map(|c| c.into_inner().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let last_ran: Vec<u64> = self
            .last_ran
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect();
        let names = &self.names;
        let (max_steps, max_ticks) = (self.max_steps, self.max_ticks);
        let (verdict, limit, stats, ticks, invariants) = self.kernel.with(|kernel: &mut Kernel| {
            // The order the deterministic runner checks them in. The clock
            // reaches the tick limit only in a halt of an idle machine with
            // a timer still set (`SharedKernel::find_work`): a live world.
            let limit = if at_limit {
                Some(Limit::Steps(max_steps))
            } else if kernel.now() >= max_ticks {
                Some(Limit::Ticks(max_ticks))
            } else {
                None
            };
            let verdict = match error {
                Some(verdict) => verdict,
                None if limit.is_some() => {
                    let judged = |k: usize| self.program.can_progress(k);
                    let starving = starving(
                        kernel,
                        names,
                        &progress,
                        &last_ran,
                        &judged,
                        (steps, max_ticks),
                    );
                    Verdict::Runs {
                        progress,
                        starving,
                        deadlocked: crate::waitfor::closed_cycle(kernel, names),
                    }
                }
                None => analyse_stuck(kernel, names),
            };
            let limit = limit.filter(|_| matches!(verdict, Verdict::Runs { .. }));
            let invariants = kernel.check_invariants().map_err(|v| format!("{v:?}"));
            (verdict, limit, *kernel.stats(), kernel.now(), invariants)
        });
        ThreadedResult {
            verdict,
            stats,
            steps,
            ticks,
            limit,
            output: self.output.into_inner().unwrap_or_else(|e| e.into_inner()),
            invariants,
            dispatches,
        }
    }
}

/// The live processes that can progress (`judged`) and made no progress in
/// the second half of a run of `steps` steps while some process ran: the
/// deterministic runner's rule (`runner.rs`, `runs_verdict`), on the step
/// numbers the CPUs recorded.
///
/// The CPUs count steps into one counter, so "the second half" is the same
/// stretch of the run for every process; which steps were whose depends on
/// the host's scheduling, so a run may name a starving process that
/// another run of the same scenario does not.
fn starving(
    kernel: &Kernel,
    names: &Names,
    progress: &[Progress],
    last_ran: &[u64],
    judged: &dyn Fn(usize) -> bool,
    (steps, max_ticks): (u64, u64),
) -> Vec<Stuck> {
    let half = steps / 2;
    let progressed = |p: &Progress| p.last_progress_step.is_some_and(|s| s >= half);
    // Step numbers count from 1; 0 is "never ran".
    let someone_ran = last_ran.iter().any(|&s| s != 0 && s >= half)
        && !crate::runner::waits_out_of_time(kernel, max_ticks);
    kernel
        .processes()
        .iter()
        .zip(progress)
        .enumerate()
        .filter(|(k, (pcb, p))| {
            !pcb.is_exited()
                && judged(*k)
                && !progressed(p)
                && someone_ran
                // Step numbers count from 1; 0 is "never ran".
                && !crate::runner::in_its_own_sleep(
                    pcb.state,
                    (last_ran[*k] != 0).then_some(last_ran[*k]),
                    half,
                )
        })
        .map(|(k, (pcb, p))| Stuck {
            process: p.process.clone(),
            why: match pcb.state {
                ProcessState::Blocked(reason) => {
                    format!("waits in {}", names.reason(kernel, pcb.pid, reason))
                }
                _ if last_ran[k] < half => "ready but not scheduled".to_string(),
                _ => "runs, but makes no progress".to_string(),
            },
        })
        .collect()
}

/// The buffers the kernel owns for `pid`, as the VM's guards.
fn owned_by(kernel: &Kernel, pid: Pid) -> Vec<vm::BufferGuard> {
    kernel
        .owned_buffers(pid)
        .map(|b| vm::BufferGuard {
            request: b.request.0,
            pc: 0,
            addr: b.addr,
            len: b.len,
            kind: b.kind,
        })
        .collect()
}
