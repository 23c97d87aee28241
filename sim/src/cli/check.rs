//! `ipclab check` and `ipclab replay`: every schedule of a scenario, a proof or a counterexample, and the counterexample's timeline.
//!
//! `check` drives [`ipclab_sim::check`] and adds what a person at a
//! terminal needs: the answer in one line, whether it agrees with the
//! scenario's `expect` line, and the command that replays each
//! counterexample. `replay` turns a schedule back into the ordinary
//! timeline and verdict, with the critical step marked. Exit codes and the
//! meaning of `expect` under `check`: `docs/cli.md`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use ipclab_sim::check::{
    self, schedule::HEADER, CheckOptions, CheckReport, Finding, Kind, Output, ProgressKind,
    Schedule, SearchOrder, SweepKey, SweepValue,
};
use ipclab_sim::lang::{Expectation, Program};
use ipclab_sim::render::{self, Annotations, Marker, RunSetup, TimelineOptions};
use ipclab_sim::runner::{RunOptions, RunResult};
use ipclab_sim::verdict::{expectation_text, Verdict};

use ipclab_sim::render::style::{Painter, Style};

use super::{compile, load, parse_define, write_stdout, ColorArg, Failure, OutputArgs};

/// Exit code of `check --strict` when a bound ended the search before the
/// answer was certain.
const INCONCLUSIVE: u8 = 3;

pub(super) const CHECK_EXAMPLES: &str = "\
Examples:
  ipclab check credit-direct                   a proof: no schedule deadlocks or starves
  ipclab check credit-indirect-overflow        a deadlock: counterexample saved, replay command
  ipclab check credit-direct-producers         starvation of Producer[1] (a lasso)
  ipclab check my.ipc --jobs 4                 4 workers (default: every core)
  ipclab check my.ipc --jobs 1                 one worker, depth-first
  ipclab check my.ipc --compare-reduction      state counts with and without reduction
  ipclab check my.ipc --sweep buffer=0,1,2,inf one check per kernel buffer size
  ipclab check my.ipc --max-states 100000 --strict
  ipclab check my.ipc --timeline               also the first counterexample's timeline

Exit status: 0 when the answer agrees with the scenario's `expect` line (without
one: no violation found), 1 when it does not (without one: a violation found),
2 for usage and scenario errors, 3 with --strict when the answer was not certain
(a bound stopped the search, the program uses `clock()`, or the `expect` line
was not checked). A bound reached without a violation prints
\"bound reached: no proof\" and exits 0 unless --strict.";

pub(super) const REPLAY_EXAMPLES: &str = "\
Examples:
  ipclab replay credit-indirect-overflow \\
      --schedule ipclab-counterexamples/credit-indirect-overflow-deadlock.schedule
  ipclab replay deadlock-recv-first --schedule '0 1'
  ipclab replay credit-direct-producers --schedule '0 1 0 1 2 2 2 0 | 0 0 2 2 2 0' --repeat 2
  ipclab replay my.ipc --schedule s.schedule --json

Exit status: when the schedule names the violation it shows (`# kind: deadlock`,
as `check` writes it): 0 when the replay reproduces it, 1 when not. Otherwise as
`run`: 0 when the verdict matches the `expect` line (or there is none), 1 when
not. 2 for usage and scenario errors and for a schedule that does not fit the
scenario.";

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// A scenario file, or the name of a bundled scenario (see `ipclab list`).
    #[arg(value_name = "FILE")]
    scenario: String,

    /// Override a `const` of the scenario (repeatable, once per constant).
    #[arg(short = 'D', value_name = "NAME=VALUE", value_parser = parse_define)]
    pub(super) define: Vec<(String, i64)>,

    /// Breadth-first search also with one worker (several workers always
    /// search breadth-first, level by level).
    #[arg(long)]
    bfs: bool,

    /// Workers [default: every core]. One worker searches depth-first (unless
    /// --bfs), several breadth-first in parallel; the answer and the state
    /// counts do not depend on it, unless --max-states or --time-limit cuts
    /// the search short (the two orders stop at different states).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,

    /// Stop exploring below this many steps from the start (the level of a
    /// breadth-first search; a depth-first search this bound cuts short is
    /// done again breadth-first).
    #[arg(long, value_name = "N", default_value_t = 10_000_000)]
    max_depth: u64,

    /// Stop after storing this many states (at least 1: the initial state).
    #[arg(long, value_name = "N", default_value_t = 10_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_states: u64,

    /// Stop after this many seconds (fractions allowed; `inf`: no limit).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    time_limit: Option<Duration>,

    /// Explore every interleaving, without the ample-set reduction.
    #[arg(long)]
    no_reduction: bool,

    /// Also search without reduction and report both state counts.
    #[arg(long, conflicts_with_all = ["no_reduction", "sweep"])]
    compare_reduction: bool,

    /// Flag a message that is never received: still buffered at the end,
    /// undeliverable (its receiver exited, its mailbox went away), or the
    /// message of an MPI_Isend still pending when its sender exits
    /// (cancelled; `docs/mpi.md`).
    #[arg(long)]
    require_empty: bool,

    /// What counts as progress for starvation.
    #[arg(long, value_enum, default_value_t = ProgressArg::Items)]
    progress: ProgressArg,

    /// Do not look for starvation (deadlocks, errors and end states only).
    #[arg(long)]
    no_starvation: bool,

    /// Keep item values exact (by default every `produce` gives 1, so loops
    /// repeat states).
    #[arg(long)]
    exact_items: bool,

    /// Where counterexamples go: a directory (one `<scenario>-<kind>.schedule`
    /// per violation), or a file ending in `.schedule` (the violation the
    /// `expect` line names, if found, else the first).
    /// A sweep saves none.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "ipclab-counterexamples",
        conflicts_with = "sweep"
    )]
    output: PathBuf,

    /// Do not save counterexamples (the replay command then carries the
    /// schedule inline).
    #[arg(long, conflicts_with = "output")]
    no_save: bool,

    /// Check once per setting of the kernel buffer (`buffer=0,1,2,inf`, in
    /// messages) or the eager limit (`eager=8,64,inf`, in bytes) and print one
    /// table.
    #[arg(long, value_name = "KEY=V,V,...", value_parser = parse_sweep)]
    sweep: Option<Sweep>,

    /// Exit 3 when the answer is not certain: a bound stopped the search,
    /// the program uses `clock()`, or the `expect` line was not checked.
    #[arg(long)]
    strict: bool,

    /// Print only the answer lines.
    #[arg(long, short)]
    quiet: bool,

    /// Also draw the first counterexample's timeline, its critical step marked.
    #[arg(long, conflicts_with_all = ["quiet", "sweep"])]
    timeline: bool,

    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Debug, Args)]
pub(super) struct ReplayArgs {
    /// A scenario file, or the name of a bundled scenario (see `ipclab list`).
    #[arg(value_name = "FILE")]
    scenario: String,

    /// Override a `const` of the scenario (repeatable, once per constant);
    /// use the values the check was made with.
    #[arg(short = 'D', value_name = "NAME=VALUE", value_parser = parse_define)]
    pub(super) define: Vec<(String, i64)>,

    /// A schedule file written by `ipclab check`, or the choices inline:
    /// `0 1 0 t1` (run instance 0, 1, 0, fire 1's timer), `0 1 | 2 2` (a
    /// lasso: the part after `|` repeats).
    #[arg(long, value_name = "S")]
    schedule: String,

    /// How many times a lasso's cycle is replayed (1 to 10000: a lasso
    /// replayed without its cycle would show no starvation).
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    repeat: u32,

    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ProgressArg {
    /// `produce` or `consume`; a process with neither: its completed calls.
    Items,
    /// `produce` only.
    Produce,
    /// `consume` only.
    Consume,
    /// Any system call that completes successfully.
    AnyCall,
}

/// `--sweep KEY=V,V,...`.
#[derive(Clone, Debug)]
struct Sweep {
    key: SweepKey,
    values: Vec<SweepValue>,
}

/// `2`, `0.5`: seconds, more than zero; `inf`: no limit (as is a number
/// too large for a duration, some 585 billion years).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    if matches!(text.trim(), "inf" | "none") {
        return Ok(Duration::MAX);
    }
    let seconds: f64 = text
        .trim()
        .parse()
        .ok()
        .filter(|s: &f64| !s.is_nan())
        .ok_or_else(|| format!("`{text}` is not a number of seconds"))?;
    if seconds <= 0.0 {
        return Err(format!(
            "`{text}`: the time limit must be more than 0 seconds"
        ));
    }
    Ok(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// `buffer=0,1,2,inf` or `eager=8,64,inf`.
fn parse_sweep(text: &str) -> Result<Sweep, String> {
    let (key, list) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=V,V,... (for example buffer=0,1,2,inf)"))?;
    let key = match key.trim() {
        "buffer" => SweepKey::Buffer,
        "eager" => SweepKey::Eager,
        other => {
            return Err(format!(
                "`{other}` cannot be swept: use buffer (kernel message slots) or eager (bytes)"
            ))
        }
    };
    let values = list
        .split(',')
        .map(|v| {
            let v = v.trim();
            SweepValue::parse(v).ok_or_else(|| {
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    format!("`{v}` is too large a number: `inf` is the kernel's largest setting")
                } else {
                    format!("`{v}` is neither a number nor `inf`")
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The kernel's largest setting is `inf`'s row: a number above it is a
    // usage error here, named as the option it came from.
    let (top, what) = match key {
        SweepKey::Buffer => (
            ipclab_kernel::config::MAX_SLOTS as u64,
            "kernel buffer slots",
        ),
        SweepKey::Eager => (
            ipclab_kernel::config::MAX_EAGER_LIMIT as u64,
            "bytes of eager limit",
        ),
    };
    if let Some(SweepValue::Value(n)) = values
        .iter()
        .find(|v| matches!(v, SweepValue::Value(n) if *n > top))
    {
        return Err(format!(
            "`{n}` is above the kernel's largest setting, {top} {what}: `inf` stands for it"
        ));
    }
    // A value given twice is one setting: one row, and once in the header;
    // so is the largest number given with `inf`.
    let values: Vec<SweepValue> = if values.contains(&SweepValue::Infinite) {
        values
            .into_iter()
            .filter(|v| *v != SweepValue::Value(top))
            .collect()
    } else {
        values
    };
    let mut unique: Vec<SweepValue> = Vec::with_capacity(values.len());
    for value in values {
        if !unique.contains(&value) {
            unique.push(value);
        }
    }
    Ok(Sweep {
        key,
        values: unique,
    })
}

fn check_options(args: &CheckArgs) -> CheckOptions {
    let defaults = CheckOptions::default();
    let output = if args.no_save || args.sweep.is_some() {
        // Every row of a sweep would write the same file names.
        Output::None
    } else if args.output.extension().is_some_and(|e| e == "schedule")
        // `name.schedule/` names a directory: the slash says so.
        && !args.output.as_os_str().as_encoded_bytes().ends_with(b"/")
    {
        Output::File(args.output.clone())
    } else {
        Output::Dir(args.output.clone())
    };
    CheckOptions {
        order: if args.bfs {
            SearchOrder::BreadthFirst
        } else {
            SearchOrder::DepthFirst
        },
        jobs: args.jobs.map_or(defaults.jobs, |n| n as usize),
        max_depth: args.max_depth,
        max_states: args.max_states,
        time_limit: args.time_limit,
        reduction: !args.no_reduction,
        compare_reduction: args.compare_reduction,
        require_empty: args.require_empty,
        starvation: !args.no_starvation,
        progress: match args.progress {
            ProgressArg::Items => ProgressKind::Items,
            ProgressArg::Produce => ProgressKind::Produce,
            ProgressArg::Consume => ProgressKind::Consume,
            ProgressArg::AnyCall => ProgressKind::AnyCall,
        },
        exact_items: args.exact_items,
        // On a terminal only: a piped or redirected stderr stays clean.
        progress_bar: !args.quiet && std::io::stderr().is_terminal(),
        output,
        overrides: args.define.clone(),
    }
}

/// How a check's answer relates to the scenario's `expect` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agreement {
    /// Certain: a counterexample of the expected kind, or a proof.
    Agrees,
    /// Certain: a counterexample of another kind, or a proof that the
    /// expected violation cannot happen.
    Disagrees,
    /// A bound stopped the search first, or the expected kind of
    /// violation was not looked for (`--no-starvation`).
    Unknown,
}

/// Compares a check with `expect`. `expect deadlock` (and every other
/// violation) agrees when some schedule shows it; `expect completes` and
/// `expect runs` agree when no schedule violates anything and every
/// schedule ends as the line says: with every process exited, or never
/// (a weakly fair schedule that runs forever).
fn agreement(report: &CheckReport, expect: &Expectation) -> (Agreement, String) {
    let wanted = expectation_text(expect);
    if let Some(line) = report.clock_used_at {
        // With clock() at 0 the answer holds only for runs in which no time
        // passes: neither a proof nor a certain counterexample.
        let shown = report.findings.iter().any(|f| f.verdict.matches(expect))
            || (matches!(expect, Expectation::Completes | Expectation::Runs)
                && report.findings.is_empty()
                && ending_against(report, expect).is_none());
        return (
            Agreement::Unknown,
            format!(
                "expected {wanted}: {} with clock() at 0, but line {line} uses clock(): \
                 no answer either way",
                if shown { "holds" } else { "does not hold" }
            ),
        );
    }
    match expect {
        Expectation::Completes | Expectation::Runs => {
            if let Some(first) = report.findings.first() {
                (
                    Agreement::Disagrees,
                    format!(
                        "expected {wanted}: some schedule ends in {}, does not match ✗",
                        first.kind.word()
                    ),
                )
            } else if report.bound.is_none() {
                // Every schedule must end as expected: with every process
                // exited (`completes`), or never (`runs`).
                let (every, against) = match expect {
                    Expectation::Completes => ("completes", "some schedule runs forever"),
                    _ => (
                        "runs forever",
                        "some schedule completes (every process exits)",
                    ),
                };
                let against = ending_against(report, expect).map(|_| against);
                match against {
                    // Whether a process ever exits may rest on the priority
                    // scheduler, which the checker does not model.
                    _ if report.priorities_ignored => (
                        Agreement::Unknown,
                        format!(
                            "expected {wanted}: {} when every ready process gets its turn, but \
                             priorities are not modelled and may keep a process off the CPU \
                             forever: no answer either way (`ipclab run` shows the priority \
                             scheduler)",
                            match against {
                                Some(what) => what.to_string(),
                                None => format!("every schedule {every}"),
                            }
                        ),
                    ),
                    Some(what) => (
                        Agreement::Disagrees,
                        format!("expected {wanted}: {what}, does not match ✗"),
                    ),
                    None => (
                        Agreement::Agrees,
                        format!(
                            "expected {wanted}: no schedule violates it, every schedule {every} \
                             (a proof) ✓"
                        ),
                    ),
                }
            } else {
                (
                    Agreement::Unknown,
                    format!(
                        "expected {wanted}: no violation within the bound, bound reached: no proof"
                    ),
                )
            }
        }
        Expectation::Starvation { .. } if !report.starvation_checked => (
            Agreement::Unknown,
            format!("expected {wanted}: not checked (--no-starvation): no answer either way"),
        ),
        // Nothing a process without produce, consume or calls does counts
        // as progress: there is nothing to keep it from.
        Expectation::Starvation { label, .. }
            if report.never_progress.iter().any(|n| n == label) =>
        {
            (
                Agreement::Disagrees,
                format!(
                    "expected {wanted}: {label} can reach no produce, consume or system call, so \
                     nothing it does counts as progress and no schedule starves it (nor does \
                     `ipclab run` name it), does not match ✗"
                ),
            )
        }
        // Under weak fairness among all ready processes, a process kept off
        // the CPU only by higher priorities does not starve; the scenario
        // asks about the priority scheduler, which the checker does not
        // model: no answer either way.
        Expectation::Starvation { label, .. }
            if report.priorities_ignored
                && !report.findings.iter().any(|f| f.verdict.matches(expect)) =>
        {
            (
                Agreement::Unknown,
                format!(
                    "expected {wanted}: no schedule starves {label} when every ready process \
                     gets its turn, but priorities are not modelled and higher priorities \
                     may keep it off the CPU: no answer either way (`ipclab run` shows the \
                     priority scheduler)"
                ),
            )
        }
        // No lasso can starve a process that has no progress statement of
        // the kind asked for: that is no proof that it cannot starve.
        Expectation::Starvation { label, .. }
            if report.not_judged.iter().any(|n| n == label)
                && !report.findings.iter().any(|f| f.verdict.matches(expect)) =>
        {
            (
                Agreement::Unknown,
                format!(
                    "expected {wanted}: not checked: {label} has no progress statement \
                     (--progress {}), so it is not judged; the default, --progress items, \
                     judges it by its produce and consume, or by its completed calls when it \
                     has neither",
                    report.progress.word()
                ),
            )
        }
        _ => {
            if report.findings.iter().any(|f| f.verdict.matches(expect)) {
                (
                    Agreement::Agrees,
                    format!("expected {wanted}: a schedule shows it ✓"),
                )
            } else if report.bound.is_none() {
                // A deadlock among some processes while others run is
                // found as starvation: say so, or "no schedule shows it"
                // reads as "nothing deadlocks".
                let partial = report
                    .findings
                    .iter()
                    .filter(|_| matches!(expect, Expectation::Deadlock))
                    .find_map(|f| f.verdict.partial_deadlock_note())
                    .map_or(String::new(), |note| {
                        format!("; {note} (found as starvation above)")
                    });
                (
                    Agreement::Disagrees,
                    format!(
                        "expected {wanted}: no schedule shows it (space exhausted){partial}, \
                         does not match ✗"
                    ),
                )
            } else {
                (
                    Agreement::Unknown,
                    format!(
                        "expected {wanted}: not found within the bound, bound reached: no proof either way"
                    ),
                )
            }
        }
    }
}

/// Under a proof for an MPI program, the buffering it holds for. MPI calls
/// a program that needs the system's buffering to complete unsafe
/// (MPI-3.1, section 3.5), and a proof at one eager limit says nothing of
/// another: the note gives the setting and the sweep that answers MPI's
/// question.
fn buffering_note(program: &Program, report: &CheckReport, args: &CheckArgs) -> Option<String> {
    if args.quiet || !program.uses_mpi || !report.findings.is_empty() || !report.is_exhaustive() {
        return None;
    }
    let config = ipclab_sim::runner::kernel_config(program).ok()?;
    if config.eager_limit == 0 || config.buffer_slots == 0 {
        return None;
    }
    Some(format!(
        "note: proved with eager_limit = {} B and buffer_slots = {}; MPI calls a program \
         safe only if it completes with no buffering: {}",
        config.eager_limit,
        config.buffer_slots,
        sweep_words(&args.scenario, &args.define)
    ))
}

/// The one-line answer.
fn answer_line(report: &CheckReport) -> String {
    if let (Some(line), None) = (report.clock_used_at, report.bound) {
        let found: Vec<&str> = report.findings.iter().map(|f| f.kind.word()).collect();
        return if found.is_empty() {
            format!(
                "answer: no violation with clock() at 0, but no proof (line {line} uses \
                 clock(), which the checker does not model)"
            )
        } else {
            format!(
                "answer: {} with clock() at 0 (line {line} uses clock(): a run in which time \
                 passes may not do this)",
                found.join(", ")
            )
        };
    }
    match (report.findings.is_empty(), report.bound) {
        (true, None) if report.starvation_checked => {
            "answer: safe (space exhausted: a proof)".to_string()
        }
        (true, None) => {
            "answer: safe (space exhausted: a proof; starvation was not looked for)".to_string()
        }
        (true, Some(bound)) => format!(
            "answer: no violation found, but bound reached: no proof (the search stopped at \
             --{bound}; raise it{})",
            if report.order == SearchOrder::DepthFirst && bound == check::Bound::Depth {
                ", or use --bfs for breadth"
            } else {
                ""
            }
        ),
        (false, _) => {
            format!(
                "answer: {} (a counterexample is certain{})",
                report.answers(),
                if report.bound.is_some() {
                    ", even though a bound stopped the search"
                } else {
                    ""
                }
            )
        }
    }
}

/// `word` quoted for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./=-:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The choices on one line: `0 1 0 t1`, `0 2 | 0 2`.
fn inline(schedule: &Schedule) -> String {
    let words = |choices: &[check::Choice]| {
        choices
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    if schedule.is_lasso() {
        format!("{} | {}", words(&schedule.prefix), words(&schedule.cycle))
            .trim_start()
            .to_string()
    } else {
        words(&schedule.prefix)
    }
}

/// The command that replays `finding`.
fn replay_command(scenario: &str, defines: &[(String, i64)], finding: &Finding) -> String {
    let schedule = match &finding.saved_to {
        Some(path) => shell_word(&path.display().to_string()),
        None => shell_word(&inline(&finding.schedule)),
    };
    replay_words(scenario, defines, &schedule)
}

/// `ipclab replay SCENARIO -D ... --schedule SCHEDULE` (`schedule` quoted
/// already).
fn replay_words(scenario: &str, defines: &[(String, i64)], schedule: &str) -> String {
    let mut words = vec!["ipclab".to_string(), "replay".into(), shell_word(scenario)];
    for (name, value) in defines {
        words.push("-D".into());
        words.push(shell_word(&format!("{name}={value}")));
    }
    words.push("--schedule".into());
    words.push(schedule.to_string());
    words.join(" ")
}

/// `ipclab check SCENARIO -D ... --sweep eager=0,inf`.
fn sweep_words(scenario: &str, defines: &[(String, i64)]) -> String {
    let mut words = vec!["ipclab".to_string(), "check".into(), shell_word(scenario)];
    for (name, value) in defines {
        words.push("-D".into());
        words.push(shell_word(&format!("{name}={value}")));
    }
    words.push("--sweep".into());
    words.push("eager=0,inf".into());
    words.join(" ")
}

/// The schedule that shows an `expect completes` (`runs`) line wrong when
/// no violation does: one that runs forever (one that completes).
fn ending_against<'r>(report: &'r CheckReport, expect: &Expectation) -> Option<&'r Schedule> {
    if !report.findings.is_empty() {
        return None;
    }
    let ending = report.ending.as_ref()?;
    match expect {
        Expectation::Completes => ending.runs_forever.as_ref(),
        Expectation::Runs => ending.completes.as_ref(),
        _ => None,
    }
}

fn kind_of_word(word: &str) -> Option<Kind> {
    [
        Kind::Deadlock,
        Kind::BlockedForever,
        Kind::Error,
        Kind::AssertionFailed,
        Kind::NotEmpty,
        Kind::Starvation,
    ]
    .into_iter()
    .find(|k| k.word() == word)
}

/// The markers of a counterexample: its critical step, and for a lasso
/// where the repeated cycle starts.
fn markers(kind: Option<Kind>, critical: Option<usize>, schedule: &Schedule) -> Vec<Marker> {
    let mut out = Vec::new();
    if let (Some(kind), Some(step)) = (kind, critical) {
        out.push(Marker {
            after_steps: step,
            text: if step == 0 {
                format!(
                    "critical step: from the start, every schedule {}",
                    kind.doom()
                )
            } else {
                format!(
                    "critical step: after this step, every schedule {}",
                    kind.doom()
                )
            },
        });
    }
    if schedule.is_lasso() {
        out.push(Marker {
            after_steps: schedule.prefix.len(),
            text: match schedule.cycle.len() {
                1 => "the cycle starts: its 1 step repeats forever".to_string(),
                n => format!("the cycle starts: its {n} steps repeat forever"),
            },
        });
    }
    out
}

/// `schedule from X · 12 choices` (and the cycle), for the timeline header.
fn schedule_label(source: &str, schedule: &Schedule, repeat: usize) -> String {
    let mut label = format!(
        "schedule {source} · {} choice{}",
        schedule.prefix.len(),
        if schedule.prefix.len() == 1 { "" } else { "s" }
    );
    if schedule.is_lasso() {
        label.push_str(&format!(
            ", then a cycle of {} shown {repeat} time{}",
            schedule.cycle.len(),
            if repeat == 1 { "" } else { "s" }
        ));
    }
    label
}

/// `line` in green when `good`, else bold red (plain without colour).
fn style_line(color: bool, good: bool, line: &str) -> String {
    let style = if good { Style::Good } else { Style::Bad };
    Painter { color }.paint(style, line)
}

/// `ipclab check`.
pub(super) fn check(args: &CheckArgs) -> Result<ExitCode, Failure> {
    let loaded = load::load(&args.scenario)?;
    let program = compile(&loaded, &args.define, args.color)?;
    let options = check_options(args);
    let color = args.color.enabled(std::io::stdout().is_terminal());
    if let Some(sweep) = &args.sweep {
        return run_sweep(args, &loaded, sweep, &options);
    }
    let report = check::check(&program, &options)
        .map_err(|e| Failure::Message(format!("cannot check {}: {e}", loaded.file_name)))?;
    // On stderr, under --quiet too: a script must not go on to replay a
    // file that is not there.
    for finding in &report.findings {
        if let Some(why) = &finding.save_error {
            eprintln!(
                "ipclab check: could not save the {} counterexample: {why}",
                finding.kind.word()
            );
        }
    }
    let mut text = String::new();
    if args.quiet {
        text.push_str(report.to_string().lines().next().unwrap_or(""));
        text.push('\n');
    } else {
        // On a terminal the report fits 80 columns, as the timeline does;
        // piped, its lines stay whole for the scripts that read them.
        let report_text = report.to_string();
        if std::io::stdout().is_terminal() {
            text.push_str(&render::wrap_lines(&report_text, 80));
        } else {
            text.push_str(&report_text);
        }
        let commands: Vec<String> = report
            .findings
            .iter()
            .map(|f| replay_command(&args.scenario, &args.define, f))
            .collect();
        if !commands.is_empty() {
            text.push('\n');
            for (finding, command) in report.findings.iter().zip(&commands) {
                text.push_str(&format!("replay the {}: {command}\n", finding.kind.word()));
            }
        }
        text.push('\n');
    }
    text.push_str(&style_line(
        color,
        report.findings.is_empty(),
        &answer_line(&report),
    ));
    text.push('\n');
    let agreement = match &program.expect {
        Some(expect) => {
            let (agreement, line) = agreement(&report, expect);
            text.push_str(&style_line(color, agreement != Agreement::Disagrees, &line));
            text.push('\n');
            if let Some(schedule) = ending_against(&report, expect) {
                text.push_str(&format!(
                    "  that schedule: {}\n",
                    replay_words(&args.scenario, &args.define, &shell_word(&inline(schedule)))
                ));
            }
            agreement
        }
        None => {
            text.push_str("no expect line: exit status 1 when a violation is found\n");
            match (report.findings.is_empty(), report.is_exhaustive()) {
                (false, _) => Agreement::Disagrees,
                (true, true) => Agreement::Agrees,
                (true, false) => Agreement::Unknown,
            }
        }
    };
    if let Some(note) = buffering_note(&program, &report, args) {
        text.push_str(&note);
        text.push('\n');
    }
    if args.timeline {
        if let Some(first) = report.findings.first() {
            text.push('\n');
            text.push_str(&counterexample_timeline(&program, first, color)?);
        }
    }
    write_stdout(&text);
    Ok(match agreement {
        Agreement::Agrees => ExitCode::SUCCESS,
        Agreement::Disagrees => ExitCode::from(1),
        Agreement::Unknown if args.strict => ExitCode::from(INCONCLUSIVE),
        Agreement::Unknown => ExitCode::SUCCESS,
    })
}

/// The replayed timeline of `finding`, its critical step marked.
fn counterexample_timeline(
    program: &Program,
    finding: &Finding,
    color: bool,
) -> Result<String, Failure> {
    let repeat = 3;
    let result = check::replay(program, &finding.schedule, repeat).map_err(|e| {
        Failure::Message(format!(
            "the {} counterexample does not replay: {e}",
            finding.kind.word()
        ))
    })?;
    let annotations = Annotations {
        schedule: Some(schedule_label(
            &format!("of the {} counterexample", finding.kind.word()),
            &finding.schedule,
            repeat,
        )),
        markers: markers(Some(finding.kind), finding.critical_step, &finding.schedule),
    };
    // A replay has no step limit: the header's `max_steps` is the number
    // of steps replayed.
    let setup = RunSetup {
        options: RunOptions {
            max_steps: result.steps,
            ..RunOptions::default()
        },
        replayed: true,
    };
    let options = TimelineOptions {
        color,
        ..TimelineOptions::default()
    };
    Ok(render::timeline_annotated(
        program,
        &setup,
        &result,
        &options,
        &annotations,
    ))
}

fn run_sweep(
    args: &CheckArgs,
    loaded: &load::Loaded,
    sweep: &Sweep,
    options: &CheckOptions,
) -> Result<ExitCode, Failure> {
    let report = check::sweep(
        loaded.source.as_bytes(),
        &loaded.file_name,
        &args.define,
        sweep.key,
        &sweep.values,
        options,
    )
    .map_err(Failure::Message)?;
    let key = match sweep.key {
        SweepKey::Buffer => "buffer (kernel message slots)",
        SweepKey::Eager => "eager limit (bytes)",
    };
    let values: Vec<String> = sweep.values.iter().map(ToString::to_string).collect();
    let mut text = format!(
        "sweep {}: {key} = {}\n",
        loaded.file_name,
        values.join(", ")
    );
    text.push_str(&report.to_string());
    if !args.quiet {
        text.push_str(
            "counterexamples are not saved by a sweep: to get one, check a single setting \
             (write it as a `const` used in `kernel { }` and set it with -D)\n",
        );
    }
    write_stdout(&text);
    let rows = &report.rows;
    Ok(if rows.iter().any(|r| r.report.is_err()) {
        ExitCode::from(2)
    } else if rows.iter().any(|r| {
        r.report
            .as_ref()
            .is_ok_and(|r| !r.findings.is_empty() && r.is_certain())
    }) {
        ExitCode::from(1)
    } else if args.strict
        && rows
            .iter()
            .any(|r| r.report.as_ref().is_ok_and(|r| !r.is_certain()))
    {
        ExitCode::from(INCONCLUSIVE)
    } else {
        ExitCode::SUCCESS
    })
}

/// A schedule read from `--schedule`, and how the header names it.
struct GivenSchedule {
    schedule: Schedule,
    label: String,
}

/// `--schedule S`: an existing file, else the schedule text itself (the
/// `ipclab-schedule 1` header may be left out).
fn read_schedule(given: &str) -> Result<GivenSchedule, Failure> {
    let path = Path::new(given);
    if path.is_dir() {
        return Err(Failure::Message(format!(
            "--schedule `{given}` is a directory, not a schedule file"
        )));
    }
    // Any file that exists: a pipe (`<(...)`) and a device are read too.
    if path.exists() {
        // Read as a scenario is: capped, and refused at a NUL byte, so
        // `/dev/zero` is turned away at once instead of filling memory.
        let text = super::load::read_text_file(given, path, "schedule")?;
        let schedule = Schedule::parse(&text).map_err(|e| format!("{given}: {e}"))?;
        if schedule.prefix.is_empty() && schedule.cycle.is_empty() {
            // A file cut short (a copy that stopped in its comments) must
            // not replay as "nothing happened".
            return Err(Failure::Message(format!(
                "schedule file `{given}` has no choices: the file `check` saves ends with \
                 a line of them (`0 1 0`); is this one cut short?"
            )));
        }
        return Ok(GivenSchedule {
            schedule,
            label: format!("from {given}"),
        });
    }
    let text = if given.trim_start().starts_with("ipclab-schedule") {
        given.to_string()
    } else {
        format!("{HEADER}\n{given}")
    };
    let looks_like_a_path = given.contains('/') || given.ends_with(".schedule");
    let schedule = Schedule::parse(&text).map_err(|e| {
        if looks_like_a_path {
            format!("no schedule file `{given}`")
        } else {
            format!(
                "--schedule `{given}` is neither a schedule file nor a schedule: {e}\n  \
                 a schedule is instance numbers to run (`0 1 0`), `tK` to fire K's timer, \
                 and `|` before a cycle that repeats (`0 1 | 2 2`)"
            )
        }
    })?;
    if schedule.prefix.is_empty() && schedule.cycle.is_empty() {
        return Err(Failure::Message(format!(
            "--schedule `{given}` has no choices: give instance numbers to run, such as `0 1 0`"
        )));
    }
    Ok(GivenSchedule {
        schedule,
        label: "given inline".to_string(),
    })
}

/// The value after `prefix` in the schedule's comments (`kind: deadlock`).
/// What to try when a schedule does not fit: the `-D` values or the
/// scenario its comments say it was made with, when they differ from this
/// replay's.
fn misfit_hint(schedule: &Schedule, file_name: &str, define: &[(String, i64)]) -> String {
    specific_misfit_hint(schedule, file_name, define)
        .unwrap_or_else(|| "was it made for another scenario, or with other -D values?".to_string())
}

/// [`misfit_hint`] when the schedule's comments show what differs.
fn specific_misfit_hint(
    schedule: &Schedule,
    file_name: &str,
    define: &[(String, i64)],
) -> Option<String> {
    let made_with = made_with(schedule);
    let given_now = check::schedule::overrides_text(define);
    let or_none = |text: &str| {
        if text.is_empty() {
            "no -D".to_string()
        } else {
            text.to_string()
        }
    };
    if let Some(made_with) = made_with.filter(|made| *made != given_now) {
        return Some(format!(
            "it was made with {} and is replayed with {}: replay it with the same -D values",
            or_none(made_with),
            or_none(&given_now)
        ));
    }
    let stem = |name: &str| {
        std::path::Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
    };
    match comment(schedule, "scenario:") {
        Some(made_for) if stem(made_for) != stem(file_name) => {
            Some(format!("it was made for {made_for}"))
        }
        _ => None,
    }
}

/// The `-D` values a schedule was made with, when it says: a schedule
/// `check` saved names its scenario and, if there were any, its overrides
/// (none written means none given). A schedule typed inline says nothing,
/// and nothing is compared.
fn made_with(schedule: &Schedule) -> Option<&str> {
    comment(schedule, "overrides:").or_else(|| comment(schedule, "scenario:").map(|_| ""))
}

fn comment<'a>(schedule: &'a Schedule, prefix: &str) -> Option<&'a str> {
    schedule
        .comments
        .iter()
        .find_map(|c| c.strip_prefix(prefix))
        .map(str::trim)
}

/// Does the replayed run show the violation `kind`? (`not_empty`: a
/// message was reported undeliverable, a pending send was cancelled by its
/// sender's exit, or the run completes with messages buffered; all are in
/// the totals.)
fn shows(result: &RunResult, kind: Kind) -> bool {
    match kind {
        Kind::NotEmpty => {
            result.stats.undeliverable > 0
                || result.stats.cancelled > 0
                || matches!(result.verdict, Verdict::Completes)
        }
        _ => Kind::of(&result.verdict) == Some(kind),
    }
}

/// `ipclab replay`.
pub(super) fn replay(args: &ReplayArgs) -> Result<ExitCode, Failure> {
    let loaded = load::load(&args.scenario)?;
    let program = compile(&loaded, &args.define, args.output.color)?;
    let given = read_schedule(&args.schedule)?;
    let schedule = &given.schedule;
    let result = check::replay(&program, schedule, args.repeat as usize).map_err(|e| match e {
        // Choices past the end of the run: the run itself says why, unless
        // the schedule says it was made with other `-D` values or for
        // another scenario.
        check::ReplayError::TooLong(reason) => Failure::Message(
            match specific_misfit_hint(schedule, &loaded.file_name, &args.define) {
                Some(hint) => format!(
                    "the schedule does not fit {}: {reason}\n  {hint}",
                    loaded.file_name
                ),
                None => format!("the schedule does not fit {}: {reason}", loaded.file_name),
            },
        ),
        check::ReplayError::Misfit(reason) => Failure::Message(format!(
            "the schedule does not fit {}: {reason}\n  {}",
            loaded.file_name,
            misfit_hint(schedule, &loaded.file_name, &args.define)
        )),
        check::ReplayError::Refused(reason) => {
            Failure::Message(format!("cannot replay {}: {reason}", loaded.file_name))
        }
    })?;
    let mut kind = comment(schedule, "kind:").and_then(kind_of_word);
    let mut critical = comment(schedule, "critical step:").and_then(|text| {
        text.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse::<usize>().ok())
    });
    // A hand-edited schedule: say what of its comments is not used.
    let mut notes = Vec::new();
    let stem = |name: &str| {
        std::path::Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
    };
    if let Some(made_for) = comment(schedule, "scenario:") {
        if stem(made_for) != stem(&loaded.file_name) {
            notes.push(format!(
                "note: the schedule was made for {made_for} and is replayed on {}: another \
                 scenario, so it may not reproduce",
                loaded.file_name
            ));
        }
    }
    let made_with = made_with(schedule);
    let given_now = check::schedule::overrides_text(&args.define);
    // Other words may make the same scenario (`-D N=10` where N is 10).
    let same_program = || {
        let mut words = made_with?.split_whitespace();
        let mut defines = Vec::new();
        while let Some(word) = words.next() {
            let (name, value) = if word == "-D" { words.next()? } else { word }.split_once('=')?;
            defines.push((name.to_string(), value.parse::<i64>().ok()?));
        }
        let made = ipclab_sim::lang::compile(&loaded.file_name, loaded.source.as_bytes(), &defines)
            .ok()?;
        Some(made == program)
    };
    if let Some(made_with) =
        made_with.filter(|made| *made != given_now && same_program() != Some(true))
    {
        notes.push(format!(
            "note: the schedule was made with {} and is replayed with {}: another scenario, \
             so it may not reproduce",
            if made_with.is_empty() {
                "no -D"
            } else {
                made_with
            },
            if given_now.is_empty() {
                "no -D"
            } else {
                given_now.as_str()
            }
        ));
    }
    // Made for another scenario: what it claims (the violation, the step
    // after which every schedule reaches it) is that scenario's, so the
    // replay is judged as an inline schedule is, by the `expect` line, and
    // draws no critical step; these notes come before the timeline.
    let mut foreign = std::mem::take(&mut notes);
    if !foreign.is_empty() {
        if kind.is_some() || critical.is_some() {
            foreign.push(
                "note: its `# kind` and `# critical step` are that scenario's: not used here"
                    .to_string(),
            );
        }
        kind = None;
        critical = None;
    }
    if let Some(word) = comment(schedule, "kind:").filter(|_| kind.is_none() && foreign.is_empty())
    {
        notes.push(format!(
            "note: the schedule's `# kind: {word}` names no kind of violation: not checked"
        ));
    }
    let critical = match (critical, comment(schedule, "critical step:")) {
        _ if !foreign.is_empty() => None,
        (Some(n), _) if n > result.steps as usize => {
            notes.push(format!(
                "note: the schedule's `# critical step: {n}` lies past its {} steps: not drawn",
                result.steps
            ));
            None
        }
        (None, Some(text)) => {
            notes.push(format!(
                "note: the schedule's `# critical step: {text}` is not a step number: not drawn"
            ));
            None
        }
        (critical, _) => critical,
    };
    let color = args.output.color.enabled(std::io::stdout().is_terminal());
    // A replay has no step limit: the header's `max_steps` is the number
    // of steps replayed.
    let setup = RunSetup {
        options: RunOptions {
            max_steps: result.steps,
            ..RunOptions::default()
        },
        replayed: true,
    };
    let reproduced = kind.map(|k| shows(&result, k));
    let mut text = if args.output.json || args.output.dot {
        String::new()
    } else {
        foreign.iter().map(|note| format!("{note}\n")).collect()
    };
    text += &if args.output.json {
        render::json_lines(&program, &setup, &result)
    } else if args.output.dot {
        render::waitfor_dot(&result.verdict, &program.file_name)
    } else if args.output.quiet {
        super::quiet_text(&program, &setup, &result, &args.output, color)
    } else {
        let annotations = Annotations {
            schedule: Some(schedule_label(&given.label, schedule, args.repeat as usize)),
            markers: markers(kind, critical, schedule),
        };
        let options = TimelineOptions {
            color,
            width: args.output.width,
            head: args.output.head,
            tail: args.output.tail,
            full: args.output.full,
        };
        render::timeline_annotated(&program, &setup, &result, &options, &annotations)
    };
    if !args.output.json && !args.output.dot {
        for note in &notes {
            text.push_str(note);
            text.push('\n');
        }
        if let (Some(kind), Some(ok)) = (kind, reproduced) {
            let line = if ok {
                format!("counterexample ({}): reproduced ✓", kind.word())
            } else {
                format!(
                    "counterexample ({}): not reproduced, the replay ends in {} ✗",
                    kind.word(),
                    result.verdict.keyword()
                )
            };
            text.push_str(&style_line(color, ok, &line));
            text.push('\n');
        }
    }
    write_stdout(&text);
    let ok = reproduced.unwrap_or_else(|| {
        program
            .expect
            .as_ref()
            .is_none_or(|e| result.verdict.matches(e))
    });
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_parse_key_and_values() {
        let s = parse_sweep("buffer=0,1, 2,inf").unwrap();
        assert_eq!(s.key, SweepKey::Buffer);
        assert_eq!(
            s.values,
            vec![
                SweepValue::Value(0),
                SweepValue::Value(1),
                SweepValue::Value(2),
                SweepValue::Infinite
            ]
        );
        assert!(parse_sweep("eager=8,64").is_ok());
        assert_eq!(parse_sweep("buffer=2,2,inf,2").unwrap().values.len(), 2);
        assert!(parse_sweep("quota=1").is_err());
        assert!(parse_sweep("buffer").is_err());
        assert!(parse_sweep("buffer=1,x").is_err());
        // The largest setting and `inf` are one row, named `inf`.
        assert_eq!(
            parse_sweep("eager=0,256,inf").unwrap().values,
            vec![SweepValue::Value(0), SweepValue::Infinite]
        );
        assert_eq!(
            parse_sweep("eager=256").unwrap().values,
            vec![SweepValue::Value(256)]
        );
        let above = parse_sweep("eager=300").unwrap_err();
        assert!(above.contains("256 bytes of eager limit"), "{above}");
    }

    #[test]
    fn time_limits_are_positive_seconds() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
        assert_eq!(parse_seconds("inf"), Ok(Duration::MAX));
        assert!(parse_seconds("NaN").is_err());
        // Too large for a duration (it used to panic): no limit.
        assert_eq!(parse_seconds("1e20"), Ok(Duration::MAX));
        assert_eq!(parse_seconds("1e400"), Ok(Duration::MAX));
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("credit-direct"), "credit-direct");
        assert_eq!(shell_word("a/b.schedule"), "a/b.schedule");
        assert_eq!(shell_word("0 1 | 2"), "'0 1 | 2'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn inline_schedules_parse_back() {
        let s = Schedule::parse("ipclab-schedule 1\n0 1 t1\n| 2 2\n").unwrap();
        assert_eq!(inline(&s), "0 1 t1 | 2 2");
        let given = read_schedule(&inline(&s)).ok().unwrap();
        assert_eq!(given.schedule.prefix, s.prefix);
        assert_eq!(given.schedule.cycle, s.cycle);
    }

    #[test]
    fn bad_inline_schedules_say_what_a_schedule_is() {
        let Err(Failure::Message(m)) = read_schedule("0 x") else {
            panic!("accepted")
        };
        assert!(m.contains("neither a schedule file nor a schedule"), "{m}");
        let Err(Failure::Message(m)) = read_schedule("missing/file.schedule") else {
            panic!("accepted")
        };
        assert!(m.contains("no schedule file"), "{m}");
        assert!(read_schedule("  ").is_err());
    }
}
