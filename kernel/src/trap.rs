//! The trap entry: decode the registers, then perform the call.
//!
//! Decoding may fail and changes nothing (the caller gets the errno).
//! Performing either completes the call now, or blocks the caller; a
//! blocked call is completed later by its partner, a timer or an exit, and
//! its result waits in the PCB ([`Kernel::take_completion`]).

use ipclab_syscalls::{Errno, Pid, Regs, Reply, RetRegs, Source, Syscall, MAX_NAME_LEN};

use crate::ipc::{err_regs, RecvArgs, SendArgs};
use crate::process::Pending;
use crate::umem::in_bounds;
use crate::{BlockReason, Dest, Event, Kernel, ProcessState, TraceSink, UserMemory};

/// What a trap did to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum TrapOutcome {
    /// The call completed; put these in the caller's result registers. The
    /// caller keeps running.
    Complete(RetRegs),
    /// The caller blocked; its result comes later through
    /// [`Kernel::take_completion`] once it is ready again.
    Blocked(BlockReason),
    /// The caller gave up its CPU (`yield`) and is ready; its result is 0.
    Yielded,
    /// The caller terminated (`exit`).
    Exited(i64),
}

/// A trap the kernel refused before looking at the registers: an embedder
/// error, not a process's. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapError {
    /// The pid is stale or never existed.
    NoSuchProcess,
    /// The process is not running on a CPU.
    NotRunning,
}

impl Kernel {
    /// Process `pid`, running, traps with `regs`.
    pub fn trap(
        &mut self,
        pid: Pid,
        regs: &Regs,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, TrapError> {
        let memory_size = self.enter(pid)?;
        if let Some(outcome) = self.fastpath(pid, memory_size, regs, mem, sink) {
            return Ok(outcome);
        }
        Ok(self.general_path(pid, regs, mem, sink))
    }

    /// [`Kernel::trap`] without the fast path (`fastpath.rs`): every call
    /// decoded and performed by the general path. The same answer, the
    /// same state and the same events as `trap`, more slowly; the fast
    /// path's tests compare the two.
    #[doc(hidden)]
    pub fn trap_without_fastpath(
        &mut self,
        pid: Pid,
        regs: &Regs,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, TrapError> {
        self.enter(pid)?;
        Ok(self.general_path(pid, regs, mem, sink))
    }

    /// Admits a trap by `pid`, which must be running, and counts it; the
    /// caller's memory size, for the fast path's bounds checks.
    #[inline(always)]
    fn enter(&mut self, pid: Pid) -> Result<u64, TrapError> {
        let pcb = self.process(pid).ok_or(TrapError::NoSuchProcess)?;
        if !matches!(pcb.state, ProcessState::Running) {
            return Err(TrapError::NotRunning);
        }
        let memory_size = pcb.memory_size;
        self.stats.syscalls += 1;
        Ok(memory_size)
    }

    /// Decodes `regs` from running `pid` (already counted) and performs the
    /// call. Out of line, so that `trap` stays a small function around the
    /// fast path instead of carrying the general path's large frame.
    #[inline(never)]
    fn general_path(
        &mut self,
        pid: Pid,
        regs: &Regs,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> TrapOutcome {
        let call = match Syscall::decode(regs) {
            Ok(call) => call,
            Err(errno) => {
                sink.event(
                    self.now,
                    &Event::BadCall {
                        pid,
                        sysno: regs.sysno,
                        errno,
                    },
                );
                return TrapOutcome::Complete(err_regs(errno));
            }
        };
        sink.event(self.now, &Event::Syscall { pid, call });
        let performed = match call {
            Syscall::Send { .. }
            | Syscall::Recv { .. }
            | Syscall::MboxSend { .. }
            | Syscall::MboxRecv { .. } => self.perform(pid, call, mem, sink),
            _ => self.perform_out_of_line(pid, call, mem, sink),
        };
        let outcome = match performed {
            Ok(outcome) => outcome,
            Err(regs) => TrapOutcome::Complete(regs),
        };
        if let TrapOutcome::Complete(result) = outcome {
            sink.event(self.now, &Event::Return { pid, result });
        }
        outcome
    }

    // Always inlined, so that in `trap` only the message calls' arms are
    // left (the rest go through `perform_out_of_line`) and their arguments
    // stay in registers instead of a large stack frame.
    #[inline(always)]
    fn perform(
        &mut self,
        caller: Pid,
        call: Syscall,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, RetRegs> {
        let value = |v: u64| Ok(TrapOutcome::Complete(Reply::to_regs(Ok(Reply::value(v)))));
        match call {
            Syscall::Send {
                to,
                buf,
                len,
                tag,
                timeout,
            } => {
                self.pcb_ref(to).map_err(err_regs)?;
                if to == caller {
                    return Err(err_regs(Errno::EINVAL));
                }
                let args = SendArgs {
                    dest: Dest::Process(to),
                    buf,
                    len,
                    tag,
                    timeout,
                };
                self.send(caller, args, mem, sink).map_err(err_regs)
            }
            Syscall::Recv {
                from,
                tag,
                buf,
                cap,
                timeout,
            } => {
                if let Source::Pid(from) = from {
                    self.pcb_ref(from).map_err(err_regs)?;
                    if from == caller {
                        return Err(err_regs(Errno::EINVAL));
                    }
                }
                let args = RecvArgs {
                    at: Dest::Process(caller),
                    from,
                    tag,
                    buf,
                    cap,
                    timeout,
                };
                self.recv(caller, args, mem, sink)
            }
            Syscall::MboxSend {
                handle,
                buf,
                len,
                tag,
                timeout,
            } => {
                let mailbox = self.mailbox_of(caller, handle).map_err(err_regs)?;
                let args = SendArgs {
                    dest: Dest::Mailbox(mailbox),
                    buf,
                    len,
                    tag,
                    timeout,
                };
                self.send(caller, args, mem, sink).map_err(err_regs)
            }
            Syscall::MboxRecv {
                handle,
                tag,
                buf,
                cap,
                timeout,
            } => {
                let mailbox = self.mailbox_of(caller, handle).map_err(err_regs)?;
                let args = RecvArgs {
                    at: Dest::Mailbox(mailbox),
                    from: Source::Any,
                    tag,
                    buf,
                    cap,
                    timeout,
                };
                self.recv(caller, args, mem, sink)
            }
            Syscall::MboxCreate {
                name,
                name_len,
                capacity,
            } => {
                let (bytes, n) = self.read_name(caller, name, name_len, mem)?;
                let capacity = u32::try_from(capacity).map_err(|_| err_regs(Errno::EINVAL))?;
                let handle = self
                    .mbox_create(caller, &bytes[..n], capacity, sink)
                    .map_err(err_regs)?;
                value(handle.to_raw())
            }
            Syscall::MboxOpen { name, name_len } => {
                let (bytes, n) = self.read_name(caller, name, name_len, mem)?;
                let handle = self.mbox_open(caller, &bytes[..n]).map_err(err_regs)?;
                value(handle.to_raw())
            }
            Syscall::Close { handle } => {
                self.close(caller, handle, sink).map_err(err_regs)?;
                // Closing the last handle may have freed slots that blocked
                // senders are waiting for.
                self.refill(mem, sink);
                value(0)
            }
            Syscall::MboxDestroy { handle } => {
                self.mbox_destroy(caller, handle, mem, sink)
                    .map_err(err_regs)?;
                value(0)
            }
            Syscall::Sleep { ticks: 0 } => value(0),
            Syscall::Sleep { ticks } => {
                let until = self.now.saturating_add(ticks);
                let now = self.now;
                let reason = BlockReason::Sleep { until };
                let pcb = self.pcb_mut(caller).map_err(err_regs)?;
                pcb.state = ProcessState::Blocked(reason);
                pcb.pending = Some(Pending::Sleep);
                pcb.deadline = Some(until);
                sink.event(
                    now,
                    &Event::Block {
                        pid: caller,
                        reason,
                    },
                );
                Ok(TrapOutcome::Blocked(reason))
            }
            Syscall::Exit { code } => {
                self.terminate(caller, code, mem, sink).map_err(err_regs)?;
                Ok(TrapOutcome::Exited(code))
            }
            Syscall::Yield => {
                // The call is done (its 0 is what the caller finds when it
                // runs again), so the trace says so before the switch.
                let done = Reply::to_regs(Ok(Reply::value(0)));
                sink.event(
                    self.now,
                    &Event::Return {
                        pid: caller,
                        result: done,
                    },
                );
                self.preempt(caller, sink).map_err(err_regs)?;
                Ok(TrapOutcome::Yielded)
            }
            Syscall::Sync(call) => self.perform_sync(caller, call, sink),
            Syscall::DevRead { device } => self
                .dev_read(caller, device)
                .map_or_else(|e| Err(err_regs(e)), |byte| value(u64::from(byte))),
            Syscall::GetPid => value(caller.to_raw()),
            Syscall::Clock => value(self.now),
            Syscall::CommRank { .. }
            | Syscall::CommSize { .. }
            | Syscall::MpiSend { .. }
            | Syscall::MpiRecv { .. }
            | Syscall::Isend { .. }
            | Syscall::Irecv { .. }
            | Syscall::Waitall { .. }
            | Syscall::Waitany { .. }
            | Syscall::Test { .. }
            | Syscall::Probe { .. }
            | Syscall::Iprobe { .. }
            | Syscall::BufferAttach { .. }
            | Syscall::BufferDetach => {
                let outcome = self.perform_mpi(caller, call, mem, sink);
                // An eager MPI message taken from the pool frees a slot
                // that a plain sender may be waiting for.
                self.refill(mem, sink);
                outcome
            }
        }
    }

    /// [`Kernel::perform`] for every call but the four message calls, kept
    /// out of line: the other calls' frames are large (`exit` collects up
    /// to `MAX_PROCS` partners, MPI calls their requests), and inlined into
    /// `trap` they would make every send and receive pay to set them up
    /// (`docs/kernel.md`, "Size and speed").
    #[inline(never)]
    fn perform_out_of_line(
        &mut self,
        caller: Pid,
        call: Syscall,
        mem: &mut impl UserMemory,
        sink: &mut impl TraceSink,
    ) -> Result<TrapOutcome, RetRegs> {
        self.perform(caller, call, mem, sink)
    }

    /// Copies a mailbox name out of the caller's memory.
    fn read_name(
        &mut self,
        caller: Pid,
        addr: u64,
        len: u64,
        mem: &mut impl UserMemory,
    ) -> Result<([u8; MAX_NAME_LEN as usize], usize), RetRegs> {
        let size = self.pcb_ref(caller).map_err(err_regs)?.memory_size;
        if !in_bounds(size, addr, len) {
            return Err(err_regs(Errno::EFAULT));
        }
        let mut bytes = [0u8; MAX_NAME_LEN as usize];
        // `len` was checked against MAX_NAME_LEN when the call decoded.
        let n = len as usize;
        mem.read(caller, addr, &mut bytes[..n])
            .map_err(|_| err_regs(Errno::EFAULT))?;
        Ok((bytes, n))
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Errno, Pid, Regs, Source, Syscall, TagFilter, Timeout};

    use crate::testing::*;
    use crate::{Kernel, ProcessState, TrapError, TrapOutcome};

    #[test]
    fn a_process_that_is_not_running_cannot_trap() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        let regs = Syscall::GetPid.encode();
        assert_eq!(
            w.k.trap(p, &regs, &mut w.mem, &mut w.sink),
            Err(TrapError::NotRunning)
        );
        assert_eq!(
            w.k.trap(Pid::new(77, 1), &regs, &mut w.mem, &mut w.sink),
            Err(TrapError::NoSuchProcess)
        );
        assert_eq!(w.k.stats().syscalls, 0);
    }

    #[test]
    fn getpid_and_clock_answer_at_once() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        assert_eq!(ok(w.call(p, Syscall::GetPid)), p.to_raw());
        w.tick();
        assert_eq!(ok(w.call(p, Syscall::Clock)), 1);
    }

    #[test]
    fn an_address_outside_the_callers_memory_is_efault() {
        let mut w = World::new(Default::default());
        let (s, r) = (w.spawn(1), w.spawn(1));
        let send = |buf, len| Syscall::Send {
            to: r,
            buf,
            len,
            tag: 0,
            timeout: Timeout::Never,
        };
        assert_eq!(failed(w.call(s, send(MEMORY - 1, 2))), Errno::EFAULT);
        assert_eq!(failed(w.call(s, send(u64::MAX, 2))), Errno::EFAULT);
        let recv = Syscall::Recv {
            from: Source::Any,
            tag: TagFilter::Any,
            buf: MEMORY,
            cap: 1,
            timeout: Timeout::Never,
        };
        assert_eq!(failed(w.call(r, recv)), Errno::EFAULT);
        let create = Syscall::MboxCreate {
            name: MEMORY,
            name_len: 3,
            capacity: 1,
        };
        assert_eq!(failed(w.call(r, create)), Errno::EFAULT);
        assert_eq!(w.k.stats().accepted, 0);
    }

    #[test]
    fn a_stale_pid_is_esrch_after_its_slot_is_reused_with_a_new_generation() {
        let mut w = World::new(Default::default());
        let first = w.spawn(1);
        let other = w.spawn(1);
        for _ in 2..crate::config::MAX_PROCS {
            w.k.spawn("filler", 0, 0, &mut w.sink).unwrap();
        }
        assert_eq!(
            w.k.spawn("one too many", 0, 0, &mut w.sink),
            Err(crate::SpawnError::TableFull)
        );
        w.exit(first, 0);
        let reused = w.spawn(1);
        assert_eq!(reused.index, first.index);
        assert_eq!(reused.generation, first.generation + 1);
        assert!(w.k.process(first).is_none());
        assert_eq!(
            failed(w.send(other, first, b"x", 0, Timeout::Never)),
            Errno::ESRCH
        );
        assert_eq!(
            failed(w.recv(other, Source::Pid(first), TagFilter::Any, 8, Timeout::Never)),
            Errno::ESRCH
        );
        ok(w.send(other, reused, b"x", 0, Timeout::Never));
        assert_eq!(
            w.k.take_completion(first),
            None,
            "a stale pid reaches nothing"
        );
    }

    /// A small deterministic generator (the kernel crate has no rand).
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn same_except_call_count(a: &Kernel, b: &Kernel) -> bool {
        let mut a = a.clone();
        a.stats.syscalls = b.stats.syscalls;
        a == *b
    }

    #[test]
    fn garbage_registers_never_panic_and_a_call_that_does_not_decode_changes_nothing() {
        let mut w = World::new(Default::default());
        let mut ps: std::vec::Vec<Pid> = (0..4).map(|_| w.spawn(1)).collect();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut undecodable = 0;
        for step in 0..20_000 {
            let mut pid = ps[step % ps.len()];
            match w.k.process(pid).map(|p| p.state) {
                Some(ProcessState::Ready) => w.run(pid),
                Some(ProcessState::Running) => {}
                _ if step.is_multiple_of(3) => {
                    // Replace a stuck process, so calls keep coming.
                    w.k.terminate(pid, -1, &mut w.mem, &mut w.sink).unwrap();
                    w.check();
                    pid = w.spawn(1);
                    ps[step % 4] = pid;
                    w.run(pid);
                }
                _ => {
                    w.tick();
                    continue;
                }
            }
            let interesting = |rng: &mut XorShift| match rng.next() % 8 {
                0 => 0,
                1 => u64::MAX,
                2 => ps[(rng.next() % 4) as usize].to_raw(),
                3 => rng.next() % 16,
                4 => rng.next() % (MEMORY + 64),
                5 => 1 << (rng.next() % 64),
                _ => rng.next(),
            };
            let sysno = if rng.next() & 3 == 0 {
                rng.next()
            } else {
                // Mostly real call numbers, except exit, to keep
                // processes alive.
                match rng.next() % 14 {
                    10 => 12,
                    n => n,
                }
            };
            let regs = Regs::new(sysno, core::array::from_fn(|_| interesting(&mut rng)));
            let before = w.k.clone();
            let outcome = w.trap(pid, regs);
            if Syscall::decode(&regs).is_err() {
                undecodable += 1;
                assert!(matches!(outcome, TrapOutcome::Complete(r) if r[0] != 0));
                assert!(
                    same_except_call_count(&before, &w.k),
                    "{regs:?} changed the kernel"
                );
            }
            if step.is_multiple_of(64) {
                w.tick();
            }
            for &p in &ps {
                let _ = w.k.take_completion(p);
            }
        }
        assert!(undecodable > 1000, "only {undecodable} undecodable calls");
    }
}
