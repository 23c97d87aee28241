//! Several CPUs under loom: scripted processes on loom threads that enter the real kernel through `SharedKernel`.
//!
//! Compiled only with `--cfg loom` (the models in `tests/tests/loom_*.rs`
//! use it). Each CPU is a loom thread that runs the same protocol as the
//! threaded driver (`sim/src/threads.rs`): find work under the kernel lock,
//! trap under the lock, unpark the CPUs the call gave work to, park when
//! there is none. A process is a script of system calls; its results are
//! recorded in order. [`Variant`] swaps in deliberately broken versions of
//! the protocol, so that a test can show loom catching each.
//!
//! The kernel is a few hundred kilobytes and loom's threads have small
//! stacks, so the whole model runs on a thread with a large stack
//! ([`spawn_big`]).

use std::sync::Mutex as StdMutex;

use ipclab_kernel::sync::{take_for_ready, CpuSet, SharedKernel, Work};
use ipclab_kernel::{Config, Kernel, NullSink, ProcessState, TrapOutcome};
use ipclab_syscalls::{Pid, RetRegs, Syscall};
use loom::sync::Arc;
use loom::thread::Thread;

use crate::Memories;

/// Stack for a loom thread that holds or moves a kernel.
pub const BIG_STACK: usize = 4 << 20;

/// Which version of the CPU protocol runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The protocol as the driver runs it.
    Correct,
    /// Broken: a CPU that found nothing to do releases the kernel lock,
    /// then records itself idle in a second acquisition. A wake-up (or the
    /// halt) in between misses it and it parks forever.
    IdleAfterUnlock,
    /// Broken: the trap runs on a copy of the kernel taken under the lock,
    /// and the copy is written back under the lock afterwards: a lost
    /// update when two CPUs trap at once.
    TrapOnSnapshot,
}

/// A process's script and what it got back.
pub struct Process {
    /// Its pid.
    pub pid: Pid,
    /// The calls it makes, in order (it exits after the last).
    pub script: Vec<Syscall>,
    /// The result of each call, in order.
    pub results: Vec<RetRegs>,
}

/// The machine the CPUs share.
pub struct Machine {
    /// The kernel and the idle set.
    pub kernel: SharedKernel,
    /// Every process's memory; locked only inside the kernel lock.
    pub memories: loom::sync::Mutex<Memories>,
    /// Every process (only the CPU running it touches it).
    pub processes: StdMutex<Vec<Process>>,
    /// The CPUs' thread handles, to unpark them.
    pub threads: StdMutex<Vec<Option<Thread>>>,
    /// The protocol version.
    pub variant: Variant,
}

impl Machine {
    /// A machine with `cpus` CPUs, the kernel `kernel` and processes
    /// `(pid, script)` already spawned in it.
    pub fn new(
        kernel: Kernel,
        memories: Memories,
        processes: Vec<(Pid, Vec<Syscall>)>,
        cpus: usize,
        variant: Variant,
    ) -> Machine {
        Machine {
            kernel: SharedKernel::new(kernel),
            memories: loom::sync::Mutex::new(memories),
            processes: StdMutex::new(
                processes
                    .into_iter()
                    .map(|(pid, script)| Process {
                        pid,
                        script,
                        results: Vec::new(),
                    })
                    .collect(),
            ),
            threads: StdMutex::new(vec![None; cpus]),
            variant,
        }
    }

    /// One CPU, until the machine halts.
    pub fn cpu(&self, cpu: usize) {
        self.threads.lock().unwrap()[cpu] = Some(loom::thread::current());
        loop {
            let (work, wake) = match self.variant {
                Variant::IdleAfterUnlock => self.find_work_broken(cpu),
                _ => self.kernel.find_work(cpu, &mut NullSink),
            };
            self.unpark(wake);
            match work {
                Work::Halt => return,
                Work::Park => loom::thread::park(),
                Work::Run(pid) => self.run(pid),
            }
        }
    }

    /// [`Variant::IdleAfterUnlock`]: decide under the lock, record after it.
    fn find_work_broken(&self, cpu: usize) -> (Work, CpuSet) {
        let decided = self.kernel.with_cpus(|kernel, cpus| {
            if cpus.halted {
                return Some((Work::Halt, cpus.idle.take_all()));
            }
            if let Some(pid) = kernel.pick_next() {
                let _ = kernel.dispatch(pid, &mut NullSink);
                return Some((Work::Run(pid), take_for_ready(kernel, cpus)));
            }
            let running = kernel
                .processes()
                .iter()
                .any(|p| p.state == ProcessState::Running);
            if !running {
                cpus.halted = true;
                return Some((Work::Halt, cpus.idle.take_all()));
            }
            None
        });
        if let Some(decided) = decided {
            return decided;
        }
        // The bug: the lock was released between deciding and recording.
        self.kernel.with_cpus(|_, cpus| cpus.idle.insert(cpu));
        (Work::Park, CpuSet::default())
    }

    fn unpark(&self, cpus: CpuSet) {
        let threads = self.threads.lock().unwrap();
        for cpu in cpus.iter() {
            if let Some(t) = &threads[cpu] {
                t.unpark();
            }
        }
    }

    fn script_of(&self, pid: Pid) -> (usize, Vec<Syscall>) {
        let processes = self.processes.lock().unwrap();
        let index = processes.iter().position(|p| p.pid == pid).unwrap();
        (index, processes[index].script.clone())
    }

    fn record(&self, index: usize, result: RetRegs) {
        self.processes.lock().unwrap()[index].results.push(result);
    }

    /// Runs `pid` (on this CPU) until it blocks or exits.
    fn run(&self, pid: Pid) {
        let (index, script) = self.script_of(pid);
        if let Some(result) = self.kernel.with(|k| k.take_completion(pid)) {
            self.record(index, result);
        }
        loop {
            let next = self.processes.lock().unwrap()[index].results.len();
            let call = script
                .get(next)
                .copied()
                .unwrap_or(Syscall::Exit { code: 0 });
            let regs = call.encode();
            let (outcome, wake) = match self.variant {
                Variant::TrapOnSnapshot => {
                    let mut copy = self.kernel.with(|k| k.clone());
                    let outcome = {
                        let mut mem = self.memories.lock().unwrap();
                        copy.trap(pid, &regs, &mut *mem, &mut NullSink)
                    };
                    self.kernel.with_cpus(|k, cpus| {
                        *k = copy;
                        (outcome, take_for_ready(k, cpus))
                    })
                }
                _ => self.kernel.with_cpus(|k, cpus| {
                    let mut mem = self.memories.lock().unwrap();
                    let outcome = k.trap(pid, &regs, &mut *mem, &mut NullSink);
                    (outcome, take_for_ready(k, cpus))
                }),
            };
            self.unpark(wake);
            match outcome.expect("the trap was refused") {
                TrapOutcome::Complete(result) => self.record(index, result),
                TrapOutcome::Yielded => self.record(index, RetRegs::default()),
                TrapOutcome::Blocked(_) | TrapOutcome::Exited(_) => return,
            }
        }
    }
}

/// Boots a kernel with `config` and spawns `names` (memory 64 bytes each).
pub fn boot(config: Config, names: &[&str]) -> (Kernel, Memories, Vec<Pid>) {
    let mut kernel = Kernel::new(config).expect("config");
    let mut memories = Memories::default();
    let mut pids = Vec::new();
    for name in names {
        let pid = kernel.spawn(name, 0, 64, &mut NullSink).expect("spawn");
        memories.0.insert(pid, vec![0; 64]);
        pids.push(pid);
    }
    (kernel, memories, pids)
}

/// Runs `machine` on `cpus` CPU threads and returns it once they all halted.
pub fn run_cpus(machine: Machine, cpus: usize) -> Machine {
    let machine = Arc::new(machine);
    let handles: Vec<_> = (0..cpus)
        .map(|cpu| {
            let machine = machine.clone();
            spawn_big(move || machine.cpu(cpu))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    match Arc::try_unwrap(machine) {
        Ok(m) => m,
        Err(_) => panic!("a CPU still holds the machine"),
    }
}

/// Spawns a loom thread with a stack large enough for a kernel.
pub fn spawn_big<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> loom::thread::JoinHandle<T> {
    loom::thread::Builder::new()
        .stack_size(BIG_STACK)
        .spawn(f)
        .expect("spawn a loom thread")
}

/// Runs `model` under loom with `preemptions` as the bound (unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise), on a big stack.
pub fn model(preemptions: usize, model: impl Fn() + Send + Sync + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    let model = std::sync::Arc::new(model);
    builder.check(move || {
        let model = model.clone();
        spawn_big(move || model()).join().unwrap()
    });
}

/// Runs the ignored test `name` of this test binary in a child process and
/// asserts that loom failed it with `needle` in its report.
///
/// A deadlock that loom reports unwinds through loom's own objects, whose
/// destructors then panic, and the process aborts: `#[should_panic]`
/// cannot catch that, a child process can.
pub fn expect_loom_failure_in_child(name: &str, needle: &str) {
    let exe = std::env::current_exe().expect("the test binary");
    let output = std::process::Command::new(exe)
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the test binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "loom did not catch the broken variant `{name}`:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains(needle) || stdout.contains(needle),
        "`{name}` failed, but not with `{needle}`:\n{stdout}\n{stderr}"
    );
}
