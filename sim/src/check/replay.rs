//! Replay: runs a scenario along a checker's schedule and gives the ordinary trace and verdict.
//!
//! The run boots the scenario as the runner does and takes the schedule's
//! choices one by one: `K` runs instance `K` for one step, `tK` fires its
//! timer. Time is abstract, as in the checker: the clock never advances by
//! itself, so a timeout fires only on a `tK` choice. Item values are the
//! real ones (the checker may have made them all 1; programs whose control
//! flow does not depend on item values behave the same). A lasso's cycle is
//! repeated `repeat` times. The result is a [`RunResult`] that the
//! renderings draw like any run.

use ipclab_kernel::{Event, Kernel, ProcessState, TraceSink, TrapOutcome};
use ipclab_syscalls::{Errno, Reply};

use super::model::Model;
use super::schedule::{Choice, Schedule};
use crate::lang::vm::VmEvent;
use crate::lang::Program;
use crate::machine::{self, Effect};
use crate::runner::RunResult;
use crate::trace::{ProcView, Step, Trace, TraceEvent};
use crate::translate::{translate_all, TraceMemory};
use crate::verdict::{Progress, Starving, Stuck, Verdict};

/// Why a schedule cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// It does not fit the scenario: a choice that is not enabled when it
    /// comes, choices past the end of the run (made for another scenario,
    /// or with other constants?).
    Misfit(String),
    /// The run ended (every process exited, a deadlock, a program error)
    /// with choices of the schedule left over.
    TooLong(String),
    /// The scenario cannot be replayed at all (it does not boot, or uses
    /// what the checker does not model), or the schedule claims what it
    /// cannot show (an unfair cycle as a starvation counterexample).
    Refused(String),
}

impl ReplayError {
    /// The reason, in words.
    pub fn reason(&self) -> &str {
        match self {
            ReplayError::Misfit(reason)
            | ReplayError::TooLong(reason)
            | ReplayError::Refused(reason) => reason,
        }
    }
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for ReplayError {}

#[derive(Default)]
struct Recorder(Vec<Event>);

impl TraceSink for Recorder {
    fn event(&mut self, _now: u64, event: &Event) {
        self.0.push(*event);
    }
}

/// Replays `schedule` on `program` (a lasso's cycle `repeat` times).
///
/// # Errors
/// The scenario does not boot, or a choice is not enabled when it comes
/// (the schedule was made for another scenario or other constants).
pub fn replay(
    program: &Program,
    schedule: &Schedule,
    repeat: usize,
) -> Result<RunResult, ReplayError> {
    let model = Model::new(program, false).map_err(|e| ReplayError::Refused(e.0))?;
    let mut scratch = model.scratch();
    model.load(&mut scratch, model.initial());
    let (kernel, procs) = scratch.parts();
    let names = &model.names;
    let mut trace = Trace {
        labels: program.instances.iter().map(|i| i.label.clone()).collect(),
        steps: Vec::new(),
    };
    let mut output = Vec::new();
    let mut progress: Vec<(u64, u64, u64, Option<u64>)> = vec![(0, 0, 0, None); procs.len()];
    // The kind of progress a lasso was found with (`# progress:`), and the
    // last step each process made progress of that kind.
    let kind = schedule
        .comments
        .iter()
        .find_map(|c| c.strip_prefix("progress:"))
        .and_then(super::ProgressKind::from_word)
        .unwrap_or_default();
    let mut last_of_kind: Vec<Option<u64>> = vec![None; procs.len()];
    // The last step each instance ran, for why a starving one starves.
    let mut last_ran: Vec<Option<u64>> = vec![None; procs.len()];
    // The last failed call of each instance: its error and step.
    let mut last_failure: Vec<Option<(Errno, u64)>> = vec![None; procs.len()];
    let mut last_poll: Vec<[Option<u64>; 2]> = vec![[None; 2]; procs.len()];
    // What each instance is judged by, as the check judged it.
    let judged_by: Vec<Option<super::ProgressKind>> = (0..procs.len())
        .map(|k| super::analysis::progress_of(program, k, kind))
        .collect();
    // Does this count for instance `k`? `item`: `Some(true)` a produce,
    // `Some(false)` a consume, `None` a call.
    let counts = |k: usize, item: Option<bool>| {
        matches!(
            (judged_by[k], item),
            (Some(super::ProgressKind::AnyCall), None)
                | (Some(super::ProgressKind::Items), Some(_))
                | (Some(super::ProgressKind::Produce), Some(true))
                | (Some(super::ProgressKind::Consume), Some(false))
        )
    };
    let choices = schedule.unrolled(repeat);
    let mut verdict = None;
    let mut memory = TraceMemory::default();
    // Weak fairness of the cycle: the choices enabled in every state it
    // visits, and the choices it takes (`Run` bits, then `Timer` bits).
    let cycle_from = schedule.prefix.len();
    let (mut always, mut taken) = ((u64::MAX, u64::MAX), (0u64, 0u64));
    for (step, choice) in choices.iter().enumerate() {
        if let Some(ended) =
            ended_before(kernel, names, procs.len(), step, choices.len(), cycle_from)
        {
            return Err(ended);
        }
        if schedule.is_lasso() && step >= cycle_from {
            let (run, timer, _) = super::model::enabled_in(kernel, procs.len());
            always = (always.0 & run, always.1 & timer);
            match *choice {
                Choice::Run(k) if k < 64 => taken.0 |= 1 << k,
                Choice::Timer(k) if k < 64 => taken.1 |= 1 << k,
                _ => {}
            }
        }
        let mut rec = Recorder::default();
        // The kernel events before the call (the dispatch): as `run`
        // orders a step, they come before the call line.
        let mut before_call = 0;
        let mut events = Vec::new();
        let ran;
        match *choice {
            Choice::Timer(k) => {
                ran = None;
                if k >= procs.len() {
                    return Err(no_instance(step, k, procs.len()));
                }
                kernel
                    .fire_timer(Program::pid_of(k), &mut rec)
                    .map_err(|_| {
                        ReplayError::Misfit(format!(
                            "step {}: t{k}: instance {k} has no timer to fire",
                            step + 1
                        ))
                    })?;
            }
            Choice::Run(k) => {
                ran = Some(k);
                let pid = Program::pid_of(k);
                if let Some(at) = last_ran.get_mut(k) {
                    *at = Some(step as u64);
                }
                if k >= procs.len() {
                    return Err(no_instance(step, k, procs.len()));
                }
                if kernel.dispatch(pid, &mut rec).is_err() {
                    return Err(ReplayError::Misfit(format!(
                        "step {}: instance {k} is not ready",
                        step + 1
                    )));
                }
                let label = names.process(pid);
                if let Some(regs) = machine::resume(kernel, procs, program, k) {
                    match Reply::from_regs(regs) {
                        Ok(_) => {
                            progress[k].2 += 1;
                            progress[k].3 = Some(step as u64);
                            if counts(k, None) {
                                last_of_kind[k] = Some(step as u64);
                            }
                        }
                        Err(errno) => last_failure[k] = Some((errno, step as u64)),
                    }
                }
                before_call = rec.0.len();
                let mut event = machine::run_to_event(procs, program, k);
                if let VmEvent::Syscall { regs, span } = &event {
                    // As the runner shows it: one that does not decode as written.
                    let call = machine::call_text(kernel, procs, program, names, k, regs, *span);
                    events.push(TraceEvent::Syscall {
                        process: label.clone(),
                        call,
                        line: program.line_col(*span).0,
                    });
                }
                let effect =
                    machine::handle(kernel, procs, program, names, k, &mut event, &mut rec);
                if let Effect::Trapped(TrapOutcome::Complete(regs)) = effect {
                    if let Err(errno) = Reply::from_regs(regs) {
                        last_failure[k] = Some((errno, step as u64));
                    } else if machine::found_nothing(&event, regs) {
                        last_poll[k][machine::poll_kind(&event)] = Some(step as u64);
                    }
                }
                if effect.completed_ok(&event) {
                    progress[k].2 += 1;
                    progress[k].3 = Some(step as u64);
                    if counts(k, None) {
                        last_of_kind[k] = Some(step as u64);
                    }
                }
                match effect {
                    Effect::Trapped(_) | Effect::Exited(_) | Effect::Budget => {}
                    Effect::Compute(ticks) => events.push(TraceEvent::Compute {
                        process: label.clone(),
                        ticks,
                    }),
                    Effect::Produce(value) => {
                        progress[k].0 += 1;
                        progress[k].3 = Some(step as u64);
                        if counts(k, Some(true)) {
                            last_of_kind[k] = Some(step as u64);
                        }
                        events.push(TraceEvent::Produce {
                            process: label.clone(),
                            value,
                        });
                    }
                    Effect::Consume(value) => {
                        progress[k].1 += 1;
                        progress[k].3 = Some(step as u64);
                        if counts(k, Some(false)) {
                            last_of_kind[k] = Some(step as u64);
                        }
                        events.push(TraceEvent::Consume {
                            process: label.clone(),
                            value,
                        });
                    }
                    Effect::Print(text) => {
                        output.push(format!("{label}: {text}"));
                        events.push(TraceEvent::Print {
                            process: label.clone(),
                            text,
                        });
                    }
                    Effect::Failed(failure) => verdict = Some(failure),
                }
                if let Some(
                    Verdict::Error {
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
                    },
                ) = &verdict
                {
                    // The trace says which: an assertion, or another error.
                    let message = match &verdict {
                        Some(Verdict::AssertionFailed { .. }) => {
                            format!("assertion failed: {message}")
                        }
                        _ => message.clone(),
                    };
                    events.push(TraceEvent::ProgramError {
                        process: process.clone(),
                        message,
                        line: *line,
                        column: *column,
                    });
                }
                if kernel.process(pid).map(|p| p.state) == Some(ProcessState::Running) {
                    let _ = kernel.preempt(pid, &mut rec);
                }
            }
        }
        let mut all: Vec<TraceEvent> = Vec::new();
        let (calls, rest): (Vec<_>, Vec<_>) = events
            .into_iter()
            .partition(|e| matches!(e, TraceEvent::Syscall { .. }));
        let mut translated = translate_all(kernel, names, &mut memory, rec.0.iter());
        let after_call = translated.split_off(before_call.min(translated.len()));
        all.extend(translated.into_iter().flatten());
        all.extend(calls);
        all.extend(after_call.into_iter().flatten());
        all.extend(rest);
        let mut states = views(kernel, names, procs.len());
        // The replay takes every process off its CPU after its step, so the
        // next choice may name any; the one that ran is drawn as `run`
        // draws it, still on the CPU, unless its step blocked or ended it.
        if let Some(view) = ran.and_then(|k| states.get_mut(k)) {
            if *view == ProcView::Ready {
                *view = ProcView::Running;
            }
        }
        trace.steps.push(Step {
            step: step as u64,
            tick: kernel.now(),
            ran,
            states,
            events: all,
        });
        if verdict.is_some() {
            // As past a deadlock or the end: nothing can take another step.
            if step + 1 < choices.len() {
                let how = match verdict {
                    Some(Verdict::AssertionFailed { .. }) => "a failed assertion",
                    _ => "a program error",
                };
                return Err(too_long(step + 1, how, choices.len(), cycle_from));
            }
            break;
        }
    }
    let steps = trace.steps.len() as u64;
    let claims_starvation = schedule
        .comments
        .iter()
        .filter_map(|c| c.strip_prefix("kind:"))
        .any(|word| word.trim() == "starvation");
    if verdict.is_none() && claims_starvation && steps as usize > cycle_from {
        let unfair = |bits: u64, timer: bool| {
            (0..procs.len())
                .filter(move |k| bits & (1 << k) != 0)
                .map(move |k| {
                    let who = names.process(Program::pid_of(k));
                    if timer {
                        format!("{who}'s timer (t{k}) can fire in every state of it and never does")
                    } else {
                        format!("{who} is ready in every state of it and never runs")
                    }
                })
        };
        let left_out: Vec<String> = unfair(always.0 & !taken.0, false)
            .chain(unfair(always.1 & !taken.1, true))
            .collect();
        if !left_out.is_empty() {
            return Err(ReplayError::Refused(format!(
                "the cycle is not weakly fair: {}; a starvation counterexample's cycle \
                 gives every choice that stays enabled its turn (without `# kind: \
                 starvation` the schedule replays as it is)",
                left_out.join("; ")
            )));
        }
    }
    let verdict = verdict.unwrap_or_else(|| {
        let stuck = kernel
            .processes()
            .iter()
            .all(|p| p.is_exited() || (p.block_reason().is_some() && !kernel.has_timer(p.pid)));
        if stuck {
            crate::waitfor::analyse_stuck(kernel, names)
        } else {
            // A lasso: who made no progress in the repeated cycles.
            let cycle_start = schedule.prefix.len() as u64;
            let starving = kernel
                .processes()
                .iter()
                .take(procs.len())
                .enumerate()
                .filter(|(k, p)| {
                    schedule.is_lasso()
                        && !p.is_exited()
                        && judged_by[*k].is_some()
                        && last_of_kind[*k].is_none_or(|s| s < cycle_start)
                })
                .map(|(k, p)| Stuck {
                    process: names.process(Program::pid_of(k)),
                    // As the runner says it, of the cycle.
                    why: Starving {
                        waits_in: match p.state {
                            ProcessState::Blocked(r) => Some(names.reason(kernel, p.pid, r)),
                            _ => None,
                        },
                        timed: kernel.has_timer(p.pid),
                        ran: last_ran[k].is_some_and(|s| s >= cycle_start),
                        failing: last_failure[k]
                            .filter(|&(_, at)| at >= cycle_start)
                            .map(|(errno, _)| errno),
                        polling: crate::verdict::polls_text(
                            last_poll[k].map(|at| at.is_some_and(|s| s >= cycle_start)),
                        ),
                        // Progress `run` would count (a completed call), of
                        // a kind this lasso does not.
                        busy_without: match judged_by[k] {
                            _ if progress[k].3.is_none_or(|s| s < cycle_start) => None,
                            Some(super::ProgressKind::Items) => Some(
                                "runs and its calls complete, but it neither produces nor consumes",
                            ),
                            Some(super::ProgressKind::Produce) => {
                                Some("runs, but it never produces")
                            }
                            Some(super::ProgressKind::Consume) => {
                                Some("runs, but it never consumes")
                            }
                            _ => None,
                        },
                    }
                    .why(),
                })
                .collect();
            Verdict::Runs {
                progress: progress
                    .iter()
                    .enumerate()
                    .map(|(k, c)| Progress {
                        process: names.process(Program::pid_of(k)),
                        produced: c.0,
                        consumed: c.1,
                        calls: c.2,
                        last_progress_step: c.3,
                    })
                    .collect(),
                starving,
                deadlocked: crate::waitfor::closed_cycle(kernel, names),
            }
        }
    });
    Ok(RunResult {
        verdict,
        trace,
        stats: *kernel.stats(),
        steps,
        ticks: kernel.now(),
        output,
    })
}

/// Choices are left at step `step` (from 0; `total` in all, the cycle
/// unrolled from `cycle_from`) of a run that has ended: every process
/// exited, or none can run and no timer can fire (a deadlock, or
/// processes blocked forever, as the wait-for graph says).
fn ended_before(
    kernel: &Kernel,
    names: &crate::names::Names,
    instances: usize,
    step: usize,
    total: usize,
    cycle_from: usize,
) -> Option<ReplayError> {
    let (run, timer, alive) = super::model::enabled_in(kernel, instances);
    if run != 0 || timer != 0 {
        return None;
    }
    let how = if alive == 0 {
        "every process exited"
    } else {
        match crate::waitfor::analyse_stuck(kernel, names) {
            Verdict::Deadlock { .. } => "a deadlock",
            _ => "processes blocked forever",
        }
    };
    Some(too_long(step, how, total, cycle_from))
}

/// The run ended after `taken` steps with `how`, and the schedule (`total`
/// choices, its cycle unrolled from `cycle_from`) has more: the prefix's
/// choices left are counted, a cycle is said to be unable to repeat (its
/// unrolled copies are not choices of the schedule).
fn too_long(taken: usize, how: &str, total: usize, cycle_from: usize) -> ReplayError {
    let when = if taken == 0 {
        "before its first step".to_string()
    } else {
        format!("at step {taken}")
    };
    let lasso = total > cycle_from;
    let rest = if lasso && taken >= cycle_from {
        ", so the schedule's cycle cannot repeat".to_string()
    } else {
        let left = cycle_from.min(total) - taken;
        format!(
            "; the schedule has {left} more choice{} than the run can take{}",
            if left == 1 { "" } else { "s" },
            if lasso { ", and a cycle" } else { "" }
        )
    };
    ReplayError::TooLong(format!(
        "step {}: the run ended {when} with {how}{rest}",
        taken + 1
    ))
}

/// Step `step` (from 0) names instance `k` of a scenario that has `count`.
fn no_instance(step: usize, k: usize, count: usize) -> ReplayError {
    ReplayError::Misfit(format!(
        "step {}: there is no instance {k} (the scenario has {count}: 0 to {})",
        step + 1,
        count.saturating_sub(1)
    ))
}

fn views(kernel: &Kernel, names: &crate::names::Names, n: usize) -> Vec<ProcView> {
    kernel
        .processes()
        .iter()
        .take(n)
        .map(|p| match p.state {
            ProcessState::Ready => ProcView::Ready,
            ProcessState::Running => ProcView::Running,
            ProcessState::Blocked(r) => ProcView::Blocked {
                reason: names.reason(kernel, p.pid, r),
            },
            ProcessState::Exited(code) => ProcView::Exited { code },
        })
        .collect()
}
