//! The scheduler and the clock: round robin within fixed priorities, a quantum in ticks, timers.
//!
//! The kernel keeps no run queue structure: each ready process carries the
//! order in which it became ready (`ready_seq`), and the next to run is the
//! ready process with the highest priority and the lowest order. That is
//! round robin (a preempted or yielding process gets a fresh, larger order)
//! and it is deterministic. The embedder may run any ready process instead
//! ([`Kernel::ready`] lists them, [`Kernel::dispatch`] runs one): the
//! checker and random schedules do.

use ipclab_syscalls::{Errno, Pid, Reply};

use crate::process::Pending;
use crate::trace::TimerKind;
use crate::{Event, Kernel, Pcb, ProcessState, TraceSink};

/// What one clock tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Running processes sent back to the ready queue (quantum used up, or
    /// a higher-priority process became ready).
    pub preempted: u32,
    /// Blocked processes whose timer fired.
    pub timers_fired: u32,
}

impl Kernel {
    /// Ready processes, in the order the scheduler would pick them.
    pub fn ready(&self) -> impl Iterator<Item = Pid> + '_ {
        let mut ready: heapless::Vec<&Pcb, { crate::config::MAX_PROCS }> = self
            .procs
            .iter()
            .filter(|p| matches!(p.state, ProcessState::Ready))
            .collect();
        ready.sort_unstable_by_key(|p| (core::cmp::Reverse(p.priority), p.ready_seq));
        ready.into_iter().map(|p| p.pid)
    }

    /// The process the scheduler would run next, if any is ready.
    #[inline]
    pub fn pick_next(&self) -> Option<Pid> {
        self.procs
            .iter()
            .filter(|p| matches!(p.state, ProcessState::Ready))
            .min_by_key(|p| (core::cmp::Reverse(p.priority), p.ready_seq))
            .map(|p| p.pid)
    }

    /// Puts ready process `pid` on a CPU with a fresh quantum.
    ///
    /// # Errors
    /// `ESRCH` for a stale pid, `EINVAL` when it is not ready.
    pub fn dispatch(&mut self, pid: Pid, sink: &mut impl TraceSink) -> Result<(), Errno> {
        let quantum = self.config.quantum;
        let pcb = self.pcb_mut(pid)?;
        if !matches!(pcb.state, ProcessState::Ready) {
            return Err(Errno::EINVAL);
        }
        pcb.state = ProcessState::Running;
        pcb.quantum_left = quantum;
        sink.event(
            self.now,
            &Event::Switch {
                from: None,
                to: Some(pid),
            },
        );
        Ok(())
    }

    /// Takes running process `pid` off its CPU, to the back of the ready
    /// queue.
    ///
    /// # Errors
    /// `ESRCH` for a stale pid, `EINVAL` when it is not running.
    pub fn preempt(&mut self, pid: Pid, sink: &mut impl TraceSink) -> Result<(), Errno> {
        let order = self.next_queue_order();
        let pcb = self.pcb_mut(pid)?;
        if !matches!(pcb.state, ProcessState::Running) {
            return Err(Errno::EINVAL);
        }
        pcb.state = ProcessState::Ready;
        pcb.ready_seq = order;
        sink.event(
            self.now,
            &Event::Switch {
                from: Some(pid),
                to: None,
            },
        );
        Ok(())
    }

    /// The earliest tick at which a timer fires, if any is set.
    #[inline]
    pub fn next_timer(&self) -> Option<u64> {
        self.procs.iter().filter_map(|p| p.deadline).min()
    }

    /// Advances the clock one tick: fires due timers, then charges running
    /// processes a tick of their quantum and preempts those whose quantum is
    /// used up while another ready process of at least their priority waits,
    /// or that a higher-priority ready process outranks.
    pub fn tick(&mut self, sink: &mut impl TraceSink) -> TickReport {
        self.now += 1;
        let mut report = TickReport::default();
        // Every tick runs this (the simulator ticks once a step), so it makes
        // two passes over the table whatever the number of CPUs: one for the
        // timers due and the best ready priority, one for the running.
        let (mut due, mut best_waiting) = self.due_and_best_ready();
        if due {
            report.timers_fired = self.fire_timers(sink);
            // Woken processes are ready now.
            (due, best_waiting) = self.due_and_best_ready();
            debug_assert!(!due, "every timer due has fired");
        }
        for index in 0..self.procs.len() {
            let pcb = &mut self.procs[index];
            if !matches!(pcb.state, ProcessState::Running) {
                continue;
            }
            pcb.quantum_left = pcb.quantum_left.saturating_sub(1);
            let (pid, priority, used_up) = (pcb.pid, pcb.priority, pcb.quantum_left == 0);
            let preempt = match best_waiting {
                Some(best) => best > priority || (used_up && best >= priority),
                None => false,
            };
            if preempt {
                let _ = self.preempt(pid, sink);
                report.preempted += 1;
                // It waits now too, for the running processes after it.
                best_waiting = best_waiting.max(Some(priority));
            } else if used_up {
                self.procs[index].quantum_left = self.config.quantum;
            }
        }
        report
    }

    /// With no process on a CPU, advances the clock to the next timer or to
    /// `limit`, whichever comes first, in one jump, and fires the timers due
    /// there. The clock never moves back: at or past `limit` this does
    /// nothing.
    ///
    /// A jump rather than a tick at a time: with nothing running, the ticks
    /// before the next timer change nothing but the clock (no quantum to
    /// charge, no timer to fire), and a `sleep` of 2^63 ticks ticked out one
    /// by one would never end. The last tick is a real [`Kernel::tick`], so
    /// the timers fire, and report, exactly as they would have.
    ///
    /// # Errors
    /// `EINVAL` when a process is running: its quantum counts the ticks, so
    /// none may be skipped.
    pub fn idle_until(
        &mut self,
        limit: u64,
        sink: &mut impl TraceSink,
    ) -> Result<TickReport, Errno> {
        if self.procs.iter().any(|p| p.state == ProcessState::Running) {
            return Err(Errno::EINVAL);
        }
        let target = self.next_timer().map_or(limit, |at| at.min(limit));
        if target <= self.now {
            return Ok(TickReport::default());
        }
        self.now = target - 1;
        Ok(self.tick(sink))
    }

    /// Is some timer due now, and the highest priority among ready processes.
    #[inline]
    fn due_and_best_ready(&self) -> (bool, Option<u8>) {
        let mut due = false;
        let mut best = None;
        for pcb in &self.procs {
            due |= pcb.deadline.is_some_and(|deadline| deadline <= self.now);
            if matches!(pcb.state, ProcessState::Ready) {
                best = best.max(Some(pcb.priority));
            }
        }
        (due, best)
    }

    fn fire_timers(&mut self, sink: &mut impl TraceSink) -> u32 {
        let mut fired = 0;
        for index in 0..self.procs.len() {
            let pcb = &self.procs[index];
            match pcb.deadline {
                Some(deadline) if deadline <= self.now => {}
                _ => continue,
            }
            let pid = pcb.pid;
            let is_sleep = matches!(pcb.pending, Some(Pending::Sleep));
            let kind = if is_sleep {
                TimerKind::SleepDone
            } else {
                TimerKind::Timeout
            };
            sink.event(self.now, &Event::Timer { pid, kind });
            if is_sleep {
                self.complete(pid, Reply::to_regs(Ok(Reply::value(0))), sink);
            } else {
                self.fail(pid, Errno::ETIMEDOUT, sink);
            }
            fired += 1;
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use ipclab_syscalls::{Errno, Syscall, TagFilter, Timeout};

    use crate::testing::*;
    use crate::{ProcessState, TrapOutcome};

    #[test]
    fn ready_processes_run_round_robin_in_spawn_order() {
        let mut w = World::new(Default::default());
        let ps: [_; 3] = core::array::from_fn(|_| w.spawn(1));
        assert_eq!(w.k.ready().collect::<std::vec::Vec<_>>(), ps);
        assert_eq!(w.k.pick_next(), Some(ps[0]));
        w.k.dispatch(ps[0], &mut w.sink).unwrap();
        assert_eq!(w.k.pick_next(), Some(ps[1]));
        // A yield sends it to the back of the queue.
        assert_eq!(w.call(ps[0], Syscall::Yield), TrapOutcome::Yielded);
        assert_eq!(
            w.k.ready().collect::<std::vec::Vec<_>>(),
            [ps[1], ps[2], ps[0]]
        );
    }

    #[test]
    fn a_larger_priority_number_runs_first() {
        let mut w = World::new(Default::default());
        let low = w.spawn(1);
        let high = w.spawn(5);
        assert_eq!(w.k.ready().collect::<std::vec::Vec<_>>(), [high, low]);
    }

    #[test]
    fn a_running_process_is_preempted_when_its_quantum_is_used_up_and_another_waits() {
        let mut w = World::with(|c| c.quantum = 2);
        let (a, b) = (w.spawn(1), w.spawn(1));
        w.k.dispatch(a, &mut w.sink).unwrap();
        assert_eq!(w.tick().preempted, 0);
        assert_eq!(w.tick().preempted, 1);
        assert_eq!(w.k.process(a).unwrap().state, ProcessState::Ready);
        assert_eq!(w.k.pick_next(), Some(b));
    }

    #[test]
    fn a_running_process_alone_keeps_its_cpu_past_its_quantum() {
        let mut w = World::with(|c| c.quantum = 1);
        let a = w.spawn(1);
        w.k.dispatch(a, &mut w.sink).unwrap();
        for _ in 0..5 {
            assert_eq!(w.tick().preempted, 0);
        }
        assert_eq!(w.k.process(a).unwrap().state, ProcessState::Running);
    }

    #[test]
    fn a_lower_priority_process_waiting_never_preempts() {
        let mut w = World::with(|c| c.quantum = 1);
        let high = w.spawn(3);
        let _low = w.spawn(1);
        w.k.dispatch(high, &mut w.sink).unwrap();
        for _ in 0..3 {
            assert_eq!(w.tick().preempted, 0);
        }
    }

    #[test]
    fn a_higher_priority_process_becoming_ready_preempts_at_the_next_tick() {
        let mut w = World::with(|c| c.quantum = 100);
        let (low, high) = (w.spawn(1), w.spawn(5));
        w.run(high);
        blocked(w.call(high, Syscall::Sleep { ticks: 2 }));
        w.k.dispatch(low, &mut w.sink).unwrap();
        assert_eq!(w.tick().preempted, 0);
        let report = w.tick();
        assert_eq!((report.timers_fired, report.preempted), (1, 1));
        assert_eq!(w.k.pick_next(), Some(high));
    }

    #[test]
    fn sleep_blocks_for_its_ticks_then_returns_zero() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        blocked(w.call(p, Syscall::Sleep { ticks: 3 }));
        assert_eq!(w.k.next_timer(), Some(3));
        w.tick();
        w.tick();
        assert!(w.is_blocked(p));
        w.tick();
        assert_eq!(w.completion(p), [0, 0, 0, 0]);
        assert_eq!(ok(w.call(p, Syscall::Clock)), 3);
        assert_eq!(ok(w.call(p, Syscall::Sleep { ticks: 0 })), 0);
    }

    #[test]
    fn an_idle_clock_jumps_to_the_next_timer_and_fires_it() {
        let mut w = World::new(Default::default());
        let (soon, late) = (w.spawn(1), w.spawn(1));
        blocked(w.call(soon, Syscall::Sleep { ticks: 1_000_000 }));
        blocked(w.call(
            late,
            Syscall::Sleep {
                ticks: u64::MAX / 2,
            },
        ));
        let report = w.k.idle_until(u64::MAX, &mut w.sink).unwrap();
        w.check();
        assert_eq!((w.k.now(), report.timers_fired), (1_000_000, 1));
        assert_eq!(w.completion(soon), [0, 0, 0, 0]);
        assert!(w.is_blocked(late));
    }

    #[test]
    fn an_idle_clock_stops_at_the_limit_before_a_later_timer() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        blocked(w.call(
            p,
            Syscall::Sleep {
                ticks: i64::MAX as u64,
            },
        ));
        let report = w.k.idle_until(100_000, &mut w.sink).unwrap();
        w.check();
        assert_eq!((w.k.now(), report.timers_fired), (100_000, 0));
        assert!(w.is_blocked(p));
        // At the limit it stays there: the clock never moves back.
        w.k.idle_until(10, &mut w.sink).unwrap();
        assert_eq!(w.k.now(), 100_000);
    }

    #[test]
    fn an_idle_clock_refuses_to_skip_a_running_processs_ticks() {
        let mut w = World::new(Default::default());
        let (sleeper, runner) = (w.spawn(1), w.spawn(1));
        blocked(w.call(sleeper, Syscall::Sleep { ticks: 50 }));
        w.run(runner);
        assert_eq!(w.k.idle_until(u64::MAX, &mut w.sink), Err(Errno::EINVAL));
        assert_eq!(w.k.now(), 0);
    }

    #[test]
    fn dispatch_and_preempt_refuse_processes_in_the_wrong_state() {
        let mut w = World::new(Default::default());
        let p = w.spawn(1);
        assert!(w.k.preempt(p, &mut w.sink).is_err());
        w.k.dispatch(p, &mut w.sink).unwrap();
        assert!(w.k.dispatch(p, &mut w.sink).is_err());
        blocked(w.recv(
            p,
            ipclab_syscalls::Source::Any,
            TagFilter::Any,
            8,
            Timeout::Never,
        ));
        assert!(w.k.dispatch(p, &mut w.sink).is_err());
    }
}
