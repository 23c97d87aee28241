//! ipclab-tests: a small stand-in for the simulator, so tests drive the kernel only through the syscall ABI.
//!
//! [`Harness`] owns a boxed [`Kernel`] (it is a few hundred kilobytes), one
//! memory per process, and a [`Recorder`] that keeps every trace event. A
//! test puts bytes in a process's memory, traps with registers (built by
//! [`Syscall::encode`] or by the [`ipclab_syscalls::user`] wrappers through
//! [`Harness::user`]), ticks the clock and collects completions. Every step
//! that can change the kernel checks its invariants afterwards.

use std::collections::HashMap;

#[cfg(loom)]
pub mod loom_cpu;

use ipclab_kernel::{
    Config, Event, Fault, Kernel, ProcessState, TraceSink, TrapOutcome, UserMemory,
};
use ipclab_syscalls::{user, Errno, Pid, Regs, Reply, RetRegs, Syscall};

/// Bytes of memory a process gets unless the test asks otherwise.
pub const DEFAULT_MEMORY: u64 = 8192;

/// Every process's memory, a `Vec<u8>` each.
#[derive(Clone, Default, Debug, PartialEq)]
pub struct Memories(pub HashMap<Pid, Vec<u8>>);

impl UserMemory for Memories {
    fn read(&self, pid: Pid, addr: u64, out: &mut [u8]) -> Result<(), Fault> {
        let mem = self.0.get(&pid).ok_or(Fault)?;
        let start = usize::try_from(addr).map_err(|_| Fault)?;
        let end = start.checked_add(out.len()).ok_or(Fault)?;
        out.copy_from_slice(mem.get(start..end).ok_or(Fault)?);
        Ok(())
    }

    fn write(&mut self, pid: Pid, addr: u64, data: &[u8]) -> Result<(), Fault> {
        let mem = self.0.get_mut(&pid).ok_or(Fault)?;
        let start = usize::try_from(addr).map_err(|_| Fault)?;
        let end = start.checked_add(data.len()).ok_or(Fault)?;
        mem.get_mut(start..end).ok_or(Fault)?.copy_from_slice(data);
        Ok(())
    }
}

/// A trace sink that keeps every event with its tick.
#[derive(Default, Debug)]
pub struct Recorder {
    /// The events, oldest first.
    pub events: Vec<(u64, Event)>,
    /// Keep nothing (for long runs).
    pub muted: bool,
}

impl TraceSink for Recorder {
    fn event(&mut self, now: u64, event: &Event) {
        if !self.muted {
            self.events.push((now, *event));
        }
    }
}

/// What a trap did, as a test sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Completed now with these result registers.
    Done(RetRegs),
    /// Blocked; collect the result with [`Harness::completion`].
    Blocked,
    /// Yielded the CPU.
    Yielded,
    /// Exited.
    Exited,
}

impl Outcome {
    /// The decoded result of a call that completed now.
    pub fn reply(self) -> Result<Reply, Errno> {
        match self {
            Outcome::Done(regs) => Reply::from_regs(regs),
            other => panic!("the call did not complete: {other:?}"),
        }
    }

    /// The errno of a call that completed now with an error.
    pub fn errno(self) -> Errno {
        self.reply().expect_err("the call succeeded")
    }
}

/// The kernel, its processes' memories and a recorder.
pub struct Harness {
    /// The kernel under test.
    pub kernel: Box<Kernel>,
    /// One memory per process.
    pub mem: Memories,
    /// Every event.
    pub sink: Recorder,
    /// Check invariants after every step (on by default).
    pub checking: bool,
}

impl Harness {
    /// Boots a kernel with `config`.
    pub fn new(config: Config) -> Harness {
        Harness {
            kernel: Box::new(Kernel::new(config).expect("a valid config")),
            mem: Memories::default(),
            sink: Recorder::default(),
            checking: true,
        }
    }

    /// Boots a kernel with the default config changed by `f`.
    pub fn with(f: impl FnOnce(&mut Config)) -> Harness {
        let mut config = Config::default();
        f(&mut config);
        Harness::new(config)
    }

    /// Checks the kernel's invariants; panics with the broken one.
    pub fn check(&self) {
        if self.checking {
            if let Err(e) = self.kernel.check_invariants() {
                panic!("kernel invariant broken: {e}");
            }
        }
    }

    /// Spawns a process with [`DEFAULT_MEMORY`] bytes of zeroed memory.
    pub fn spawn(&mut self, name: &str, priority: u8) -> Pid {
        self.spawn_with_memory(name, priority, DEFAULT_MEMORY)
    }

    /// Spawns a process with `size` bytes of zeroed memory.
    pub fn spawn_with_memory(&mut self, name: &str, priority: u8, size: u64) -> Pid {
        let pid = self
            .kernel
            .spawn(name, priority, size, &mut self.sink)
            .expect("spawn");
        self.mem.0.insert(pid, vec![0; size as usize]);
        self.check();
        pid
    }

    /// Puts `pid` on a CPU if it is ready. Tests may run several at once.
    pub fn run(&mut self, pid: Pid) {
        if self.state(pid) == Some(ProcessState::Ready) {
            self.kernel.dispatch(pid, &mut self.sink).expect("dispatch");
            self.check();
        }
    }

    /// The state of `pid`, if it is current.
    pub fn state(&self, pid: Pid) -> Option<ProcessState> {
        self.kernel.process(pid).map(|p| p.state)
    }

    /// Is `pid` blocked?
    pub fn is_blocked(&self, pid: Pid) -> bool {
        matches!(self.state(pid), Some(ProcessState::Blocked(_)))
    }

    /// Traps `pid` (dispatched first if ready) with `regs`.
    ///
    /// A message call (send or receive, direct or through a mailbox) is
    /// also run on a copy of the kernel and the memories through the
    /// general path alone ([`Kernel::trap_without_fastpath`]), and must
    /// leave the same kernel, memories, result and events: every test that
    /// goes through the harness checks the kernel's fast path against the
    /// general one.
    pub fn trap(&mut self, pid: Pid, regs: Regs) -> Outcome {
        self.run(pid);
        let fast_path_candidate = ipclab_kernel::FAST_PATH_CALLS
            .iter()
            .any(|&n| regs.sysno == n as u64);
        let shadow = fast_path_candidate.then(|| (self.kernel.clone(), self.mem.clone()));
        let first_event = self.sink.events.len();
        // A muted recorder keeps this call's events until they are compared.
        let muted = self.sink.muted;
        self.sink.muted = muted && !fast_path_candidate;
        let outcome = self
            .kernel
            .trap(pid, &regs, &mut self.mem, &mut self.sink)
            .expect("a running process traps");
        self.sink.muted = muted;
        if let Some((mut kernel, mut mem)) = shadow {
            let mut sink = Recorder::default();
            let general = kernel.trap_without_fastpath(pid, &regs, &mut mem, &mut sink);
            assert_eq!(
                general,
                Ok(outcome),
                "fast and general paths differ on {regs:?}"
            );
            assert!(
                kernel == self.kernel,
                "fast and general paths leave different kernels"
            );
            assert!(
                mem == self.mem,
                "fast and general paths leave different memories"
            );
            assert_eq!(
                sink.events[..],
                self.sink.events[first_event..],
                "fast and general paths trace different events"
            );
            if muted {
                self.sink.events.truncate(first_event);
            }
        }
        self.check();
        match outcome {
            TrapOutcome::Complete(regs) => Outcome::Done(regs),
            TrapOutcome::Blocked(_) => Outcome::Blocked,
            TrapOutcome::Yielded => Outcome::Yielded,
            TrapOutcome::Exited(_) => Outcome::Exited,
        }
    }

    /// Traps `pid` with `call`, encoded.
    pub fn call(&mut self, pid: Pid, call: Syscall) -> Outcome {
        self.trap(pid, call.encode())
    }

    /// The result of `pid`'s blocked call, once it completed.
    pub fn completion(&mut self, pid: Pid) -> Option<RetRegs> {
        let regs = self.kernel.take_completion(pid);
        self.check();
        regs
    }

    /// Advances the clock one tick.
    pub fn tick(&mut self) -> ipclab_kernel::TickReport {
        let report = self.kernel.tick(&mut self.sink);
        self.check();
        report
    }

    /// Writes `bytes` at `addr` of `pid`'s memory.
    pub fn poke(&mut self, pid: Pid, addr: u64, bytes: &[u8]) {
        self.mem.write(pid, addr, bytes).expect("poke in bounds");
    }

    /// Reads `len` bytes at `addr` of `pid`'s memory.
    pub fn peek(&self, pid: Pid, addr: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.mem.read(pid, addr, &mut out).expect("peek in bounds");
        out
    }

    /// `pid` as a [`user::Trap`], for the typed wrappers. Only for calls
    /// that complete at once: a call that blocks panics (start it with
    /// [`Harness::call`] and collect it with [`Harness::completion`]).
    pub fn user(&mut self, pid: Pid) -> UserProcess<'_> {
        UserProcess { harness: self, pid }
    }

    /// The events recorded so far.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.sink.events.iter().map(|(_, e)| e)
    }
}

/// One process seen from user space: traps go through the harness.
pub struct UserProcess<'a> {
    harness: &'a mut Harness,
    pid: Pid,
}

impl user::Trap for UserProcess<'_> {
    fn trap(&mut self, regs: Regs) -> RetRegs {
        match self.harness.trap(self.pid, regs) {
            Outcome::Done(regs) => regs,
            Outcome::Yielded | Outcome::Exited => [0; 4],
            Outcome::Blocked => panic!(
                "{}: the call blocked; use Harness::call for blocking calls",
                self.pid
            ),
        }
    }
}
