//! The only place that names the lock and atomic implementations: `spin` and `core` normally, `loom` under `--cfg loom`.
//!
//! The kernel state itself is plain data; several CPUs share it through
//! [`SharedKernel`], a lock around a [`crate::Kernel`] and the set of CPUs
//! that have parked for lack of work. Code elsewhere never names `spin` or
//! `loom`; the interrupt ring ([`crate::ring`]) takes its atomics from here.
//!
//! The kernel has no allocator, so it re-exports no `Arc`: an embedder
//! shares a `SharedKernel` with its own (`std::sync::Arc`, or loom's).
//!
//! # How a CPU waits for work without losing a wake-up
//! (Chapter: `docs/concurrency.md`.)
//! - A CPU that finds no ready process records itself in the idle set
//!   *under the same lock acquisition* in which it looked
//!   ([`SharedKernel::find_work`]), then releases the lock and parks.
//! - A CPU whose call made processes ready takes idle CPUs out of the set
//!   under the lock ([`SharedKernel::wake_for_ready`]) and unparks them
//!   after releasing it. A park token that arrives before the park is kept,
//!   so the wake-up cannot fall between "decided to park" and "parked".
//! - A woken CPU looks again under the lock: a wake-up is a hint, never a
//!   result. The result of a blocked call is its completion in the PCB,
//!   set by the partner under the lock.

#[cfg(not(loom))]
pub use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub use spin::{Mutex, MutexGuard};

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
#[cfg(loom)]
pub use loom::sync::{Mutex, MutexGuard};

use ipclab_syscalls::Pid;

use crate::{Kernel, ProcessState, TraceSink};

/// The most CPUs a [`SharedKernel`] tracks.
pub const MAX_CPUS: usize = 64;

/// A set of CPUs (bit `i` is CPU `i`), below [`MAX_CPUS`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CpuSet(u64);

impl CpuSet {
    /// Adds CPU `cpu`.
    ///
    /// # Panics
    /// When `cpu` is not below [`MAX_CPUS`] (an embedder bug).
    pub fn insert(&mut self, cpu: usize) {
        assert!(cpu < MAX_CPUS, "CPU {cpu} is beyond MAX_CPUS");
        self.0 |= 1 << cpu;
    }

    /// Removes CPU `cpu`.
    pub fn remove(&mut self, cpu: usize) {
        if cpu < MAX_CPUS {
            self.0 &= !(1 << cpu);
        }
    }

    /// Is CPU `cpu` in the set?
    pub fn contains(&self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.0 & (1 << cpu) != 0
    }

    /// Is the set empty?
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The number of CPUs in the set.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// Takes the lowest-numbered CPU out of the set.
    pub fn take_one(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let cpu = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(cpu)
    }

    /// Takes every CPU out of the set.
    pub fn take_all(&mut self) -> CpuSet {
        core::mem::take(self)
    }

    /// The CPUs in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut rest = self;
        core::iter::from_fn(move || rest.take_one())
    }
}

/// What the kernel lock guards besides the kernel: who is parked, and
/// whether the machine has halted.
pub struct Cpus {
    /// CPUs parked because no process was ready when they looked.
    pub idle: CpuSet,
    /// Set once no CPU will ever find work again (every process exited or
    /// blocked for good), or when the embedder stops the run.
    pub halted: bool,
}

/// What a CPU does next, decided under the kernel lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Work {
    /// Run this process: it is now `Running` on the asking CPU.
    Run(Pid),
    /// Nothing is ready: the CPU is in the idle set; park, then ask again.
    Park,
    /// The machine has halted: stop.
    Halt,
}

/// A kernel shared by several CPUs: every entry takes the lock.
pub struct SharedKernel {
    inner: Mutex<Locked>,
    /// The tick at which an idle machine halts instead of waiting longer
    /// for a timer (the embedder's limit; `u64::MAX`: none).
    tick_limit: u64,
}

struct Locked {
    kernel: Kernel,
    cpus: Cpus,
}

impl SharedKernel {
    /// Wraps a booted kernel, with no tick limit.
    pub fn new(kernel: Kernel) -> SharedKernel {
        SharedKernel::with_tick_limit(kernel, u64::MAX)
    }

    /// Wraps a booted kernel whose clock stops at `tick_limit`: when every
    /// process waits for a timer beyond it, the clock jumps to the limit and
    /// the machine halts there, still live (the embedder's `runs`).
    pub fn with_tick_limit(kernel: Kernel, tick_limit: u64) -> SharedKernel {
        SharedKernel {
            inner: Mutex::new(Locked {
                kernel,
                cpus: Cpus {
                    idle: CpuSet::default(),
                    halted: false,
                },
            }),
            tick_limit,
        }
    }

    /// Runs `f` with the kernel locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut Kernel) -> R) -> R {
        self.with_cpus(|kernel, _| f(kernel))
    }

    /// Runs `f` with the kernel and the CPU bookkeeping locked.
    pub fn with_cpus<R>(&self, f: impl FnOnce(&mut Kernel, &mut Cpus) -> R) -> R {
        #[cfg(not(loom))]
        let mut guard = self.inner.lock();
        #[cfg(loom)]
        let mut guard = self.inner.lock().unwrap();
        let locked = &mut *guard;
        f(&mut locked.kernel, &mut locked.cpus)
    }

    /// CPU `cpu` looks for work, in one lock acquisition: it dispatches the
    /// next ready process; or, when nothing is ready but some process is
    /// still on a CPU (and may make others ready), it records itself idle;
    /// or, when nothing is ready and nothing runs, it advances the clock to
    /// the next timer in one jump ([`Kernel::idle_until`]), and halts the
    /// machine with no timer, or with the clock at the tick limit. The
    /// second value is the CPUs to unpark once the lock is released (all of
    /// them on a halt).
    pub fn find_work(&self, cpu: usize, sink: &mut impl TraceSink) -> (Work, CpuSet) {
        self.with_cpus(|kernel, cpus| {
            cpus.idle.remove(cpu);
            loop {
                if cpus.halted {
                    return (Work::Halt, cpus.idle.take_all());
                }
                if let Some(pid) = kernel.pick_next() {
                    // Cannot fail: pick_next returns a ready, current pid.
                    let _ = kernel.dispatch(pid, sink);
                    // More ready work and more idle CPUs: pass it on.
                    let wake = take_for_ready(kernel, cpus);
                    return (Work::Run(pid), wake);
                }
                let anyone_running = kernel
                    .processes()
                    .iter()
                    .any(|p| p.state == ProcessState::Running);
                if anyone_running {
                    cpus.idle.insert(cpu);
                    return (Work::Park, CpuSet::default());
                }
                if kernel.next_timer().is_none() {
                    cpus.halted = true;
                    continue;
                }
                // Cannot fail: nothing is running. Never past the limit: a
                // `sleep` of 2^63 ticks ends the run there, still live.
                let _ = kernel.idle_until(self.tick_limit, sink);
                if kernel.now() >= self.tick_limit {
                    cpus.halted = true;
                }
            }
        })
    }

    /// After a call that may have made processes ready: takes out of the
    /// idle set as many CPUs as there are ready processes (no more), to be
    /// unparked once the lock is released.
    pub fn wake_for_ready(&self) -> CpuSet {
        self.with_cpus(take_for_ready)
    }

    /// Stops the machine: every CPU halts at its next look for work. Returns
    /// the parked CPUs, to be unparked once the lock is released.
    pub fn halt(&self) -> CpuSet {
        self.with_cpus(|_, cpus| {
            cpus.halted = true;
            cpus.idle.take_all()
        })
    }
}

/// Idle CPUs for the ready processes: one each, while both last.
pub fn take_for_ready(kernel: &mut Kernel, cpus: &mut Cpus) -> CpuSet {
    let mut wake = CpuSet::default();
    if cpus.idle.is_empty() {
        return wake;
    }
    let ready = kernel.ready().count();
    while wake.len() < ready {
        match cpus.idle.take_one() {
            Some(cpu) => wake.insert(cpu),
            None => break,
        }
    }
    wake
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{blocked, World};
    use crate::NullSink;
    use ipclab_syscalls::Syscall;

    #[test]
    fn an_idle_machine_whose_timer_is_past_the_tick_limit_halts_at_the_limit() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        blocked(w.call(
            p,
            Syscall::Sleep {
                ticks: i64::MAX as u64,
            },
        ));
        let shared = SharedKernel::with_tick_limit(w.k, 100_000);
        // One look, not 2^63 ticks: the clock jumps to the limit and stops.
        let (work, _) = shared.find_work(0, &mut NullSink);
        assert_eq!(work, Work::Halt);
        let (now, state) = shared.with(|k| (k.now(), k.process(p).unwrap().state));
        assert_eq!(now, 100_000);
        assert!(matches!(state, ProcessState::Blocked(_)), "{state:?}");
    }

    #[test]
    fn an_idle_machine_jumps_to_a_timer_within_the_limit_and_runs_its_process() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        blocked(w.call(p, Syscall::Sleep { ticks: 99_999 }));
        let shared = SharedKernel::with_tick_limit(w.k, 100_000);
        assert_eq!(shared.find_work(0, &mut NullSink).0, Work::Run(p));
        assert_eq!(shared.with(|k| k.now()), 99_999);
    }

    #[test]
    fn a_cpu_set_gives_back_what_it_was_given_lowest_first() {
        let mut set = CpuSet::default();
        set.insert(5);
        set.insert(0);
        set.insert(63);
        assert_eq!(set.len(), 3);
        assert!(set.contains(5) && !set.contains(4));
        assert_eq!(set.iter().collect::<std::vec::Vec<_>>(), [0, 5, 63]);
        assert_eq!(set.take_one(), Some(0));
        let rest = set.take_all();
        assert!(set.is_empty());
        assert_eq!(rest.len(), 2);
    }
}
