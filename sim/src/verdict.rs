//! Verdicts: what finally happened in a run, with its explanation, and whether it is the expected one.
//!
//! Chapter: `docs/verdicts.md`.

use serde::Serialize;

use crate::lang::Expectation;

/// What happened to one process by the end of a `runs` verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The instance's label.
    pub process: String,
    /// Items it produced.
    pub produced: u64,
    /// Items it consumed.
    pub consumed: u64,
    /// System calls it completed.
    pub calls: u64,
    /// The step of its last progress, if any.
    pub last_progress_step: Option<u64>,
}

/// A process that waits forever, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stuck {
    /// The instance's label.
    pub process: String,
    /// What it waits for, in kernel terms, and why no one can give it.
    pub why: String,
}

/// What a starving process did over the stretch a report judges it by
/// (the second half of a run, the cycle of a lasso): the facts its
/// [`Stuck::why`] is made of, so that `run`, `check` and `replay` word the
/// same facts the same way.
pub struct Starving {
    /// The call it is blocked in at the end, in kernel terms, if blocked.
    pub waits_in: Option<String>,
    /// Its blocked call has a timer that can fire (a timeout, a sleep).
    pub timed: bool,
    /// It ran in the stretch.
    pub ran: bool,
    /// The error a call of it failed with last, if one failed in the stretch.
    pub failing: Option<ipclab_syscalls::Errno>,
    /// The MPI polls that found nothing in the stretch, in words
    /// (`MPI_Test`, `MPI_Iprobe`, or both: [`polls_text`]), if it made any.
    pub polling: Option<&'static str>,
    /// It made progress of another kind than the one it is judged by (its
    /// calls completed, judged by `produce` and `consume`): why, in words.
    pub busy_without: Option<&'static str>,
}

/// The polls a busy-wait made that found nothing, by
/// [`crate::machine::poll_kind`]: `MPI_Test`, `MPI_Iprobe`, or both.
pub fn polls_text(made: [bool; 2]) -> Option<&'static str> {
    match made {
        [true, true] => Some("MPI_Test and MPI_Iprobe"),
        [true, false] => Some("MPI_Test"),
        [false, true] => Some("MPI_Iprobe"),
        [false, false] => None,
    }
}

impl Starving {
    /// Why it starves, in words. One blocked in a timed call whose calls
    /// keep failing is not stuck in that call: it is in a retry loop that
    /// gets nowhere (a timeout that fires every time), as one whose calls
    /// fail without blocking (`EAGAIN`) is.
    pub fn why(self) -> String {
        match (self.waits_in, self.failing) {
            (Some(call), failing) if !(self.timed && failing.is_some()) => {
                format!("waits in {call}")
            }
            (None, _) if !self.ran => "ready but not scheduled".to_string(),
            (_, _) if self.busy_without.is_some() => {
                self.busy_without.unwrap_or_default().to_string()
            }
            (_, Some(errno)) => format!(
                "runs, but makes no progress: its calls keep failing with {}",
                errno.name()
            ),
            (_, None) => match self.polling {
                Some(call) => {
                    format!("runs, but makes no progress: its {call} calls keep finding nothing")
                }
                None => "runs, but makes no progress".to_string(),
            },
        }
    }
}

/// The limit that ended a live run (the `runs` verdict).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The step limit, this many steps (`--steps`).
    Steps(u64),
    /// The tick limit, this many ticks of the simulated clock.
    Ticks(u64),
    /// A replayed schedule ran out after this many steps.
    Schedule(u64),
}

/// The outcome of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every process exited.
    Completes,
    /// A cycle in the wait-for graph: each process waits for the next.
    Deadlock {
        /// The cycle, one process per entry, each with what it waits in.
        cycle: Vec<Stuck>,
        /// Other processes stuck behind the cycle or elsewhere.
        others: Vec<Stuck>,
    },
    /// Processes wait on a terminated peer, or on an object no live process
    /// can ever satisfy; there is no cycle.
    BlockedForever { stuck: Vec<Stuck> },
    /// Still live at the step or the tick limit (which one is not part of
    /// the verdict: [`Verdict::explain_at`] takes it from the run).
    Runs {
        progress: Vec<Progress>,
        /// Processes that made no progress for most of the run while others did.
        starving: Vec<Stuck>,
        /// A wait-for cycle at the end that nothing outside it can break
        /// (`waitfor::closed_cycle`): deadlocked while others still run.
        /// Empty when there is none.
        deadlocked: Vec<Stuck>,
    },
    /// A program error the kernel or the VM reported.
    Error {
        process: String,
        message: String,
        line: usize,
        column: usize,
    },
    /// An `assert` failed.
    AssertionFailed {
        process: String,
        message: String,
        line: usize,
        column: usize,
    },
}

impl Verdict {
    /// The verdict's keyword as an `expect` line writes it.
    pub fn keyword(&self) -> &'static str {
        match self {
            Verdict::Completes => "completes",
            Verdict::Deadlock { .. } => "deadlock",
            Verdict::BlockedForever { .. } => "blocked_forever",
            Verdict::Runs { .. } => "runs",
            Verdict::Error { .. } => "error",
            Verdict::AssertionFailed { .. } => "assertion_failed",
        }
    }

    /// The verdict as an `expect` line would name it, with the processes
    /// it is about (`blocked_forever(B)`, `starvation(A, B)`): what a
    /// mismatch says it got.
    pub fn as_expected(&self) -> String {
        let names = |of: &[Stuck]| {
            of.iter()
                .map(|s| s.process.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Verdict::BlockedForever { stuck } if !stuck.is_empty() => {
                format!("blocked_forever({})", names(stuck))
            }
            Verdict::Runs { starving, .. } if !starving.is_empty() => {
                format!("starvation({})", names(starving))
            }
            _ => self.keyword().to_string(),
        }
    }

    /// Does this verdict satisfy `expect`?
    pub fn matches(&self, expect: &Expectation) -> bool {
        match (expect, self) {
            (Expectation::Completes, Verdict::Completes)
            | (Expectation::Deadlock, Verdict::Deadlock { .. })
            | (Expectation::Runs, Verdict::Runs { .. })
            | (Expectation::Error, Verdict::Error { .. })
            | (Expectation::AssertionFailed, Verdict::AssertionFailed { .. }) => true,
            (Expectation::BlockedForever { label, .. }, Verdict::BlockedForever { stuck }) => {
                stuck.iter().any(|s| &s.process == label)
            }
            (Expectation::Starvation { label, .. }, Verdict::Runs { starving, .. }) => {
                starving.iter().any(|s| &s.process == label)
            }
            _ => false,
        }
    }

    /// Why a run that ended with a deadlock among some processes, while
    /// others still ran, is no `deadlock`: for the line that tells an
    /// `expect deadlock` it does not match. `None` for any other verdict.
    pub fn partial_deadlock_note(&self) -> Option<String> {
        let Verdict::Runs { deadlocked, .. } = self else {
            return None;
        };
        if deadlocked.is_empty() {
            return None;
        }
        let names: Vec<&str> = deadlocked.iter().map(|s| s.process.as_str()).collect();
        Some(format!(
            "{} deadlock while others run, and `deadlock` is the verdict of a world where no \
             process can run",
            names.join(" and ")
        ))
    }

    /// The verdict and its explanation, as lines for people. A `runs`
    /// verdict does not know which limit ended its run; see [`Verdict::explain_at`].
    pub fn explain(&self) -> Vec<String> {
        self.explain_at(None)
    }

    /// [`Verdict::explain`], a `runs` verdict saying which limit ended the
    /// run when `limit` tells.
    pub fn explain_at(&self, limit: Option<Limit>) -> Vec<String> {
        let mut lines = Vec::new();
        match self {
            Verdict::Completes => lines.push("completes: every process exited".to_string()),
            Verdict::Deadlock { cycle, others } => {
                lines.push(if cycle.len() == 1 {
                    // An MPI rank in a rendezvous send to itself, say:
                    // only its own receive could match it.
                    "deadlock: the process below waits for itself".into()
                } else {
                    "deadlock: the processes below wait for each other in a cycle".into()
                });
                lines.push(format!("  {}", chain(cycle)));
                for s in others {
                    lines.push(format!("  also stuck: {} waits in {}", s.process, s.why));
                }
            }
            Verdict::BlockedForever { stuck } => {
                lines.push("blocked forever: no live process can ever complete these calls".into());
                for s in stuck {
                    lines.push(format!("  {} waits in {}", s.process, s.why));
                }
            }
            Verdict::Runs {
                progress,
                starving,
                deadlocked,
            } => {
                lines.push(match limit {
                    Some(Limit::Steps(steps)) => {
                        let s = if steps == 1 { "" } else { "s" };
                        format!("runs: still live at the step limit ({steps} step{s})")
                    }
                    Some(Limit::Ticks(ticks)) => {
                        let s = if ticks == 1 { "" } else { "s" };
                        format!("runs: still live at the tick limit ({ticks} tick{s})")
                    }
                    Some(Limit::Schedule(steps)) => format!(
                        "runs: the schedule ends after {steps} step{}, with processes still \
                         able to go on",
                        if steps == 1 { "" } else { "s" }
                    ),
                    None => "runs: still live when the run stopped".into(),
                });
                // One column of names, as wide as the longest.
                let name_width = progress
                    .iter()
                    .map(|p| p.process.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(14);
                for p in progress {
                    lines.push(format!(
                        "  {:<name_width$} produced {:>4}  consumed {:>4}  calls {:>5}",
                        p.process, p.produced, p.consumed, p.calls
                    ));
                }
                for s in starving {
                    lines.push(format!("  starving: {} ({})", s.process, s.why));
                }
                if !deadlocked.is_empty() {
                    lines.push(format!(
                        "  deadlocked, while others run (none of them can free these): {}",
                        chain(deadlocked)
                    ));
                }
            }
            Verdict::Error {
                process,
                message,
                line,
                column,
            } => lines.push(format!(
                "error: {process} at line {line}, column {column}: {message}"
            )),
            Verdict::AssertionFailed {
                process,
                message,
                line,
                column,
            } => lines.push(format!(
                "assertion failed: {process} at line {line}, column {column}: {message}"
            )),
        }
        lines
    }
}

/// A wait-for cycle as one chain: `A waits in recv(B) -> B waits in recv(A) -> A`.
fn chain(cycle: &[Stuck]) -> String {
    let mut links: Vec<String> = cycle
        .iter()
        .map(|s| format!("{} waits in {}", s.process, s.why))
        .collect();
    if let Some(first) = cycle.first() {
        links.push(first.process.clone());
    }
    links.join(" -> ")
}

/// How an expectation is written, for messages.
pub fn expectation_text(expect: &Expectation) -> String {
    match expect {
        Expectation::Completes => "completes".into(),
        Expectation::Deadlock => "deadlock".into(),
        Expectation::Runs => "runs".into(),
        Expectation::BlockedForever { label, .. } => format!("blocked_forever({label})"),
        Expectation::Starvation { label, .. } => format!("starvation({label})"),
        Expectation::Error => "error".into(),
        Expectation::AssertionFailed => "assertion_failed".into(),
    }
}
