//! A small test world for the kernel's unit tests: memories, a recording sink, call helpers.
//!
//! Every helper that changes the kernel checks its invariants afterwards, so
//! a unit test checks them after every step without saying so.

use std::collections::BTreeMap;
use std::vec::Vec;

use ipclab_syscalls::{
    Errno, Handle, Pid, Regs, Reply, RetRegs, Source, Syscall, Tag, TagFilter, Timeout,
};

use crate::{Config, Event, Fault, Kernel, TraceSink, TrapOutcome, UserMemory};

/// Bytes of memory each test process gets.
pub const MEMORY: u64 = 4096;
/// Where helpers put the bytes a process sends.
pub const SEND_BUF: u64 = 0;
/// Where helpers ask a receive to write.
pub const RECV_BUF: u64 = 2048;
/// Where helpers put a mailbox name.
pub const NAME_BUF: u64 = 1024;

/// Every process's memory.
#[derive(Clone, Default, PartialEq, Debug)]
pub struct Memories(pub BTreeMap<Pid, Vec<u8>>);

impl UserMemory for Memories {
    fn read(&self, pid: Pid, addr: u64, out: &mut [u8]) -> Result<(), Fault> {
        let mem = self.0.get(&pid).ok_or(Fault)?;
        let start = usize::try_from(addr).map_err(|_| Fault)?;
        let bytes = mem.get(start..start + out.len()).ok_or(Fault)?;
        out.copy_from_slice(bytes);
        Ok(())
    }

    fn write(&mut self, pid: Pid, addr: u64, data: &[u8]) -> Result<(), Fault> {
        let mem = self.0.get_mut(&pid).ok_or(Fault)?;
        let start = usize::try_from(addr).map_err(|_| Fault)?;
        let bytes = mem.get_mut(start..start + data.len()).ok_or(Fault)?;
        bytes.copy_from_slice(data);
        Ok(())
    }
}

/// A sink that keeps every event.
#[derive(Default)]
pub struct Recorder(pub Vec<Event>);

impl TraceSink for Recorder {
    fn event(&mut self, _now: u64, event: &Event) {
        self.0.push(*event);
    }
}

/// A kernel with memories and a recorder.
pub struct World {
    pub k: Kernel,
    pub mem: Memories,
    pub sink: Recorder,
}

impl World {
    pub fn new(config: Config) -> World {
        World {
            k: Kernel::new(config).expect("valid config"),
            mem: Memories::default(),
            sink: Recorder::default(),
        }
    }

    pub fn with(f: impl FnOnce(&mut Config)) -> World {
        let mut config = Config::default();
        f(&mut config);
        World::new(config)
    }

    pub fn check(&self) {
        if let Err(e) = self.k.check_invariants() {
            panic!("invariant broken: {e}\n{:#?}", self.k.processes());
        }
    }

    pub fn spawn(&mut self, priority: u8) -> Pid {
        let pid = self
            .k
            .spawn("p", priority, MEMORY, &mut self.sink)
            .expect("spawn");
        self.mem.0.insert(pid, std::vec![0; MEMORY as usize]);
        self.check();
        pid
    }

    /// Puts `pid` on a CPU if it is ready (tests may run many at once).
    pub fn run(&mut self, pid: Pid) {
        if self.k.process(pid).map(|p| p.state) == Some(crate::ProcessState::Ready) {
            self.k.dispatch(pid, &mut self.sink).expect("dispatch");
        }
    }

    /// Traps `pid` (dispatched first if ready). A message call (send or
    /// receive, direct or through a mailbox) is also run on a copy of the
    /// world through the general path alone, and must leave the same
    /// kernel, memories, result and events: the fast path (`fastpath.rs`)
    /// is checked on every such call of every test.
    pub fn trap(&mut self, pid: Pid, regs: Regs) -> TrapOutcome {
        self.run(pid);
        let fast_path_candidate = crate::FAST_PATH_CALLS
            .iter()
            .any(|&n| regs.sysno == n as u64);
        let shadow = fast_path_candidate.then(|| (self.k.clone(), self.mem.clone()));
        let first_event = self.sink.0.len();
        let outcome = self
            .k
            .trap(pid, &regs, &mut self.mem, &mut self.sink)
            .expect("trap by a running process");
        if let Some((mut k, mut mem)) = shadow {
            let mut sink = Recorder::default();
            let general = k.trap_without_fastpath(pid, &regs, &mut mem, &mut sink);
            assert_eq!(
                general,
                Ok(outcome),
                "fast and general paths differ on {regs:?}"
            );
            assert!(
                k == self.k,
                "fast and general paths leave different kernels"
            );
            assert!(
                mem == self.mem,
                "fast and general paths leave different memories"
            );
            assert_eq!(sink.0[..], self.sink.0[first_event..], "different events");
        }
        self.check();
        outcome
    }

    pub fn call(&mut self, pid: Pid, call: Syscall) -> TrapOutcome {
        self.trap(pid, call.encode())
    }

    pub fn write(&mut self, pid: Pid, addr: u64, bytes: &[u8]) {
        self.mem.write(pid, addr, bytes).expect("in bounds");
    }

    pub fn read(&self, pid: Pid, addr: u64, len: usize) -> Vec<u8> {
        let mut out = std::vec![0; len];
        self.mem.read(pid, addr, &mut out).expect("in bounds");
        out
    }

    pub fn send(
        &mut self,
        from: Pid,
        to: Pid,
        bytes: &[u8],
        tag: Tag,
        timeout: Timeout,
    ) -> TrapOutcome {
        self.write(from, SEND_BUF, bytes);
        self.call(
            from,
            Syscall::Send {
                to,
                buf: SEND_BUF,
                len: bytes.len() as u64,
                tag,
                timeout,
            },
        )
    }

    pub fn recv(
        &mut self,
        pid: Pid,
        from: Source,
        tag: TagFilter,
        cap: u64,
        timeout: Timeout,
    ) -> TrapOutcome {
        self.call(
            pid,
            Syscall::Recv {
                from,
                tag,
                buf: RECV_BUF,
                cap,
                timeout,
            },
        )
    }

    pub fn mbox_create(&mut self, pid: Pid, name: &str, capacity: u64) -> TrapOutcome {
        self.write(pid, NAME_BUF, name.as_bytes());
        self.call(
            pid,
            Syscall::MboxCreate {
                name: NAME_BUF,
                name_len: name.len() as u64,
                capacity,
            },
        )
    }

    pub fn mbox_open(&mut self, pid: Pid, name: &str) -> TrapOutcome {
        self.write(pid, NAME_BUF, name.as_bytes());
        self.call(
            pid,
            Syscall::MboxOpen {
                name: NAME_BUF,
                name_len: name.len() as u64,
            },
        )
    }

    pub fn mbox_send(&mut self, pid: Pid, handle: Handle, bytes: &[u8], tag: Tag) -> TrapOutcome {
        self.write(pid, SEND_BUF, bytes);
        self.call(
            pid,
            Syscall::MboxSend {
                handle,
                buf: SEND_BUF,
                len: bytes.len() as u64,
                tag,
                timeout: Timeout::Never,
            },
        )
    }

    pub fn mbox_recv(&mut self, pid: Pid, handle: Handle, cap: u64) -> TrapOutcome {
        self.call(
            pid,
            Syscall::MboxRecv {
                handle,
                tag: TagFilter::Any,
                buf: RECV_BUF,
                cap,
                timeout: Timeout::Never,
            },
        )
    }

    pub fn tick(&mut self) -> crate::TickReport {
        let report = self.k.tick(&mut self.sink);
        self.check();
        report
    }

    pub fn exit(&mut self, pid: Pid, code: i64) {
        assert_eq!(
            self.call(pid, Syscall::Exit { code }),
            TrapOutcome::Exited(code)
        );
    }

    /// The result a blocked call completed with (it must have completed).
    pub fn completion(&mut self, pid: Pid) -> RetRegs {
        let regs = self.k.take_completion(pid).expect("a completion");
        self.check();
        regs
    }

    pub fn is_blocked(&self, pid: Pid) -> bool {
        self.k
            .process(pid)
            .is_some_and(|p| p.block_reason().is_some())
    }

    pub fn events(&self) -> &[Event] {
        &self.sink.0
    }
}

/// The result registers of a call that completed at once.
pub fn done(outcome: TrapOutcome) -> RetRegs {
    match outcome {
        TrapOutcome::Complete(regs) => regs,
        other => panic!("expected the call to complete, got {other:?}"),
    }
}

/// The errno of result registers.
pub fn errno(regs: RetRegs) -> Option<Errno> {
    Reply::from_regs(regs).err()
}

/// The errno of a call that completed at once.
pub fn failed(outcome: TrapOutcome) -> Errno {
    errno(done(outcome)).expect("an error")
}

/// Asserts a call completed at once without error and returns its value.
pub fn ok(outcome: TrapOutcome) -> u64 {
    let regs = done(outcome);
    assert_eq!(regs[0], 0, "expected success, got {:?}", errno(regs));
    regs[1]
}

/// Asserts the call blocked.
pub fn blocked(outcome: TrapOutcome) {
    assert!(
        matches!(outcome, TrapOutcome::Blocked(_)),
        "expected the call to block, got {outcome:?}"
    );
}
