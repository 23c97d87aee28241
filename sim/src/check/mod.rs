//! The checker: explores every schedule of a scenario and answers with a proof or a counterexample that replays.
//!
//! [`check`] boots the scenario as the runner does, explores its state
//! space ([`search`]) and analyses the explored graph ([`analysis`]):
//! deadlocks, processes blocked forever, program errors, failed assertions,
//! end states with messages left (when asked), and starvation (a fair cycle
//! on which a process never makes progress). Each violation comes with a
//! [`Schedule`] that [`replay`] turns back into the ordinary run.
//! Chapter: `docs/checking.md`.

pub mod analysis;
pub mod items;
pub mod model;
pub mod replay;
pub mod schedule;
pub mod search;
pub mod sweep;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use replay::{replay, ReplayError};
pub use schedule::{Choice, Schedule};
pub use sweep::{sweep, SweepKey, SweepReport, SweepRow, SweepValue};

use crate::lang::{Expectation, Instruction, Program};
use crate::render::style::escape_controls;
use crate::runner::BootError;
use crate::verdict::{Stuck, Verdict};

/// Depth-first (default) or breadth-first (shortest counterexamples). With
/// more than one worker (`jobs`) the search is breadth-first either way
/// (level by level, in parallel); both orders explore the same states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchOrder {
    #[default]
    DepthFirst,
    BreadthFirst,
}

/// What counts as progress for the starvation analysis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressKind {
    /// `produce` or `consume` (default).
    #[default]
    Items,
    /// `produce` only.
    Produce,
    /// `consume` only.
    Consume,
    /// Any system call that completes successfully.
    AnyCall,
}

impl ProgressKind {
    /// The word of `--progress` and of a schedule's `# progress:` comment.
    pub fn word(self) -> &'static str {
        match self {
            ProgressKind::Items => "items",
            ProgressKind::Produce => "produce",
            ProgressKind::Consume => "consume",
            ProgressKind::AnyCall => "any-call",
        }
    }

    /// The kind a word names.
    pub fn from_word(word: &str) -> Option<ProgressKind> {
        [
            ProgressKind::Items,
            ProgressKind::Produce,
            ProgressKind::Consume,
            ProgressKind::AnyCall,
        ]
        .into_iter()
        .find(|k| k.word() == word.trim())
    }
}

/// Where counterexamples are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Not written.
    None,
    /// `DIR/<scenario>-<kind>.schedule` (default: `ipclab-counterexamples`).
    Dir(PathBuf),
    /// This file (the first violation's schedule).
    File(PathBuf),
}

/// Options of one check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub order: SearchOrder,
    /// Workers (default: every core). One worker searches depth-first
    /// unless `order` says breadth-first; several search breadth-first, in
    /// parallel. The answer and the counts do not depend on it.
    pub jobs: usize,
    /// Depth-first: the longest path (the stack); breadth-first: the last
    /// level (the distance from the start). Default 10,000,000, as
    /// `max_states`: a depth-first stack never holds more states than are
    /// stored, so by default only the states bound can stop a search.
    pub max_depth: u64,
    pub max_states: u64,
    pub time_limit: Option<Duration>,
    /// Ample-set partial-order reduction.
    pub reduction: bool,
    /// Also run without reduction and report both counts.
    pub compare_reduction: bool,
    /// Flag end states with messages still buffered.
    pub require_empty: bool,
    /// Look for starvation (needs the explored graph; on by default).
    pub starvation: bool,
    pub progress: ProgressKind,
    /// Keep item values exact: `produce` counts up (loops then never
    /// repeat a state). Off by default: every item is 1.
    pub exact_items: bool,
    /// A progress bar on a terminal.
    pub progress_bar: bool,
    pub output: Output,
    /// The `-D` overrides the program was compiled with: saved schedules
    /// record them, so that a replay without them can say it replays
    /// another scenario.
    pub overrides: Vec<(String, i64)>,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            order: SearchOrder::DepthFirst,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_depth: 10_000_000,
            max_states: 10_000_000,
            time_limit: None,
            reduction: true,
            compare_reduction: false,
            require_empty: false,
            starvation: true,
            progress: ProgressKind::Items,
            exact_items: false,
            progress_bar: true,
            output: Output::Dir(PathBuf::from("ipclab-counterexamples")),
            overrides: Vec::new(),
        }
    }
}

/// Which bound ended a search before the space was exhausted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Depth,
    States,
    Time,
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bound::Depth => "max-depth",
            Bound::States => "max-states",
            Bound::Time => "time-limit",
        })
    }
}

/// The kinds of violation, in the order they are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Deadlock,
    BlockedForever,
    Error,
    AssertionFailed,
    NotEmpty,
    Starvation,
}

impl Kind {
    /// What a critical step means for this kind, after "every schedule":
    /// said of the kind (a deadlock, some process blocked forever), not of
    /// the one schedule shown.
    pub fn doom(self) -> &'static str {
        match self {
            Kind::Deadlock => "deadlocks",
            Kind::BlockedForever => "leaves a process blocked forever",
            Kind::Error => "ends in a program error",
            Kind::AssertionFailed => "fails an assertion",
            Kind::NotEmpty => "ends with a message never received",
            Kind::Starvation => "starves a process",
        }
    }

    /// The word used in file names and `expect` lines.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Deadlock => "deadlock",
            Kind::BlockedForever => "blocked_forever",
            Kind::Error => "error",
            Kind::AssertionFailed => "assertion_failed",
            Kind::NotEmpty => "not_empty",
            Kind::Starvation => "starvation",
        }
    }

    /// The kind of a run's verdict (`None`: completes, or runs without starving).
    pub fn of(verdict: &Verdict) -> Option<Kind> {
        match verdict {
            Verdict::Deadlock { .. } => Some(Kind::Deadlock),
            Verdict::BlockedForever { .. } => Some(Kind::BlockedForever),
            Verdict::Error { .. } => Some(Kind::Error),
            Verdict::AssertionFailed { .. } => Some(Kind::AssertionFailed),
            Verdict::Runs { starving, .. } if !starving.is_empty() => Some(Kind::Starvation),
            _ => None,
        }
    }
}

/// Counts of one search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchStats {
    pub states: u64,
    pub transitions: u64,
    pub max_depth: u32,
    /// Expansions that took a reduced (ample) set.
    pub reduced_expansions: u64,
    pub elapsed: Duration,
    /// Bytes the checker keeps per stored state (visited set and graph),
    /// an estimate from the sizes of its tables.
    pub bytes_per_state: f64,
}

impl SearchStats {
    pub fn states_per_second(&self) -> f64 {
        self.states as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One violation and its counterexample.
#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: Kind,
    /// The verdict at the end of the counterexample, with its explanation.
    pub verdict: Verdict,
    pub schedule: Schedule,
    /// After this many steps of the schedule, every schedule of the
    /// explored graph leads to this kind of violation (`Some(0)`: from the
    /// start). `None` for starvation.
    pub critical_step: Option<usize>,
    /// Where the schedule was written.
    pub saved_to: Option<PathBuf>,
    /// Why it could not be written where it was to go: the path and the
    /// system's error.
    pub save_error: Option<String>,
}

/// The answer of a check.
#[derive(Clone, Debug)]
pub struct CheckReport {
    pub scenario: String,
    pub order: SearchOrder,
    pub jobs: usize,
    pub reduction: bool,
    /// `None`: the space was exhausted (the answer is a proof).
    pub bound: Option<Bound>,
    pub stats: SearchStats,
    /// The same search without reduction, when asked, and the bound that
    /// ended it, if one did (it gets what is left of the time limit).
    pub unreduced: Option<(SearchStats, Option<Bound>)>,
    pub findings: Vec<Finding>,
    /// Items kept their values (asked for, or needed: see the next field).
    pub exact_items: bool,
    /// The line where the program uses an item's value beyond consuming or
    /// printing it, which made the checker keep exact items (`items.rs`).
    pub items_exact_because: Option<usize>,
    /// Does the program `produce` at all (else the item note says nothing)?
    pub produces_items: bool,
    /// The line where the program uses a `clock()` reading beyond printing
    /// it (`items.rs`). The checker's clock never advances, so its answer
    /// then covers only runs in which `clock()` reads 0: no proof, and a
    /// counterexample that a run where time passes may not follow.
    pub clock_used_at: Option<usize>,
    /// Do its processes run at different fixed priorities? The checker does
    /// not model them (every order of the ready processes is explored), and
    /// says so.
    pub priorities_ignored: bool,
    /// Was starvation looked for (`CheckOptions::starvation`)?
    pub starvation_checked: bool,
    /// What counted as progress for it.
    pub progress: ProgressKind,
    /// Processes whose code has no progress statement (`--progress`), so
    /// that the starvation analysis does not judge them.
    pub not_judged: Vec<String>,
    /// Those of `not_judged` with no `produce`, `consume` or system call at
    /// all: nothing they do counts as progress under any `--progress`, so
    /// no schedule starves them (nor does `run` ever name them).
    pub never_progress: Vec<String>,
    /// Processes that can be starved too, each by a schedule of its own
    /// (the starvation finding's lasso starves the processes it lists).
    pub also_starving: Vec<String>,
    /// How the schedules end, when the whole space was explored and no
    /// violation found: what tells `expect completes` from `expect runs`.
    pub ending: Option<Ending>,
}

/// How the schedules of a program without violations end. At least one
/// is there: every fair schedule either reaches an end state or runs
/// round a fair cycle.
#[derive(Clone, Debug)]
pub struct Ending {
    /// The shortest schedule to an end in which every process exited.
    pub completes: Option<Schedule>,
    /// A schedule that runs forever: a weakly fair lasso (every choice
    /// enabled all along its cycle is taken on it).
    pub runs_forever: Option<Schedule>,
}

impl Ending {
    /// What the schedules do, in words.
    pub fn text(&self) -> &'static str {
        match (&self.completes, &self.runs_forever) {
            (Some(_), None) => "every schedule completes: every process exits",
            (None, Some(_)) => {
                "every schedule runs forever: no end where every process exits is reachable"
            }
            (Some(_), Some(_)) => "some schedules complete (every process exits), some run forever",
            (None, None) => "no schedule ends and none runs forever (an empty space)",
        }
    }
}

impl CheckReport {
    /// Is there no violation, and was the whole space explored?
    pub fn is_proof_of_safety(&self) -> bool {
        self.findings.is_empty() && self.is_exhaustive()
    }

    /// Does the explored space stand for every run of the program: the
    /// search was not bounded, and no `clock()` reading steers it?
    pub fn is_exhaustive(&self) -> bool {
        self.bound.is_none() && self.clock_used_at.is_none()
    }

    /// Is the answer certain: a counterexample that does not rest on
    /// `clock()` reading 0 (a bound does not make one less real), or a
    /// proof?
    pub fn is_certain(&self) -> bool {
        if self.findings.is_empty() {
            self.is_exhaustive()
        } else {
            self.clock_used_at.is_none()
        }
    }

    /// The finding of `kind`, if any.
    pub fn finding(&self, kind: Kind) -> Option<&Finding> {
        self.findings.iter().find(|f| f.kind == kind)
    }

    /// One word for the answer: `safe`, or the first violation's kind.
    pub fn answer(&self) -> &'static str {
        match self.findings.first() {
            None => "safe",
            Some(f) => f.kind.word(),
        }
    }

    /// Every kind of violation found, in the order they are reported
    /// (`blocked_forever, assertion_failed`), or `safe`.
    pub fn answers(&self) -> String {
        if self.findings.is_empty() {
            return "safe".to_string();
        }
        let kinds: Vec<&str> = self.findings.iter().map(|f| f.kind.word()).collect();
        kinds.join(", ")
    }
}

/// A check that could not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError(pub String);

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckError {}

impl From<BootError> for CheckError {
    fn from(e: BootError) -> CheckError {
        CheckError(e.0)
    }
}

fn stats_of(searched: &search::Searched) -> SearchStats {
    let g = &searched.graph;
    let states = g.nodes.len() as u64;
    let bytes = g.visited.capacity() * (16 + 4 + 1)
        + g.nodes.capacity() * std::mem::size_of::<search::Node>()
        + g.edges.capacity() * std::mem::size_of::<search::Edge>();
    // The deepest state found, error states (never expanded) included.
    let deepest = g.nodes.iter().map(|n| n.depth).max().unwrap_or(0);
    SearchStats {
        states,
        transitions: g.edges.len() as u64,
        max_depth: searched.max_depth.max(deepest),
        reduced_expansions: g.reduced,
        elapsed: searched.elapsed,
        bytes_per_state: bytes as f64 / states.max(1) as f64,
    }
}

/// Explores every schedule of `program` and reports what can go wrong.
///
/// # Errors
/// The scenario cannot be booted (its options exceed the kernel's maxima),
/// or it has more than [`model::MAX_CHECK_INSTANCES`] processes.
pub fn check(program: &Program, options: &CheckOptions) -> Result<CheckReport, CheckError> {
    // The item abstraction only where it is exact (`items.rs`).
    let item_use = if options.exact_items {
        None
    } else {
        items::item_use(program)
    };
    let exact_items = options.exact_items || item_use.is_some();
    let model = model::Model::new(program, !exact_items)?;
    let searched = search::search(&model, options);
    let stats = stats_of(&searched);
    let unreduced = if options.compare_reduction && options.reduction {
        let plain = CheckOptions {
            reduction: false,
            progress_bar: false,
            time_limit: options
                .time_limit
                .map(|t| t.saturating_sub(searched.elapsed)),
            ..options.clone()
        };
        let again = search::search(&model, &plain);
        Some((stats_of(&again), again.bound))
    } else {
        None
    };
    let graph = &searched.graph;
    let mut findings = Vec::new();
    let mut found = graph.found.clone();
    found.sort_by_key(|(kind, _, _)| *kind);
    for (kind, node, verdict) in found {
        let code = kind as u8 + 1;
        let Some((nodes, labels)) = analysis::shortest_path(
            graph,
            0,
            |v| graph.nodes[v as usize].shows(code),
            |_| true,
            |_, _| true,
        ) else {
            continue;
        };
        let doomed = analysis::doomed(graph, code);
        let critical_step = nodes.iter().position(|v| doomed[*v as usize]);
        // The verdict of the nearest such state, not the first found.
        // (A `not_empty` step is not a stuck state: its verdict says why.)
        let verdict = if *nodes.last().unwrap_or(&node) == node || kind == Kind::NotEmpty {
            verdict
        } else {
            verdict_at(&model, &analysis::choices(&labels)).unwrap_or(verdict)
        };
        // `expect blocked_forever(P)` asks for a schedule that leaves P
        // blocked forever, which need not be the nearest one.
        let (verdict, labels, critical_step) = match &program.expect {
            Some(expect @ Expectation::BlockedForever { .. })
                if kind == Kind::BlockedForever && !verdict.matches(expect) =>
            {
                match nearest_matching(&model, graph, code, expect) {
                    Some((nodes, labels, verdict)) => {
                        let critical = nodes.iter().position(|v| doomed[*v as usize]);
                        (verdict, labels, critical)
                    }
                    None => (verdict, labels, critical_step),
                }
            }
            _ => (verdict, labels, critical_step),
        };
        findings.push(Finding {
            kind,
            verdict,
            schedule: Schedule {
                prefix: analysis::choices(&labels),
                cycle: Vec::new(),
                comments: vec![],
            },
            critical_step,
            saved_to: None,
            save_error: None,
        });
    }
    let mut also_starving = Vec::new();
    if options.starvation {
        let mut lassos = Vec::new();
        let judged_by: Vec<Option<ProgressKind>> = (0..model.instances)
            .map(|k| analysis::progress_of(program, k, options.progress))
            .collect();
        for (k, kind) in judged_by.iter().enumerate() {
            let Some(kind) = *kind else { continue };
            if let Some(lasso) = analysis::starvation(graph, k, kind) {
                lassos.push(lasso);
            }
        }
        // One schedule is saved: the lasso of the process `expect` names, if
        // it can starve, so that replaying it shows what the line expects.
        let expected = match &program.expect {
            Some(Expectation::Starvation { instance, .. }) => {
                lassos.iter().position(|l| l.process == *instance)
            }
            _ => None,
        };
        if !lassos.is_empty() {
            let first = lassos.remove(expected.unwrap_or(0));
            // The processes this one lasso starves: alive at its entry and
            // never progressing on its cycle. The others starve on
            // schedules of their own.
            let (starved, others): (Vec<_>, Vec<_>) = lassos.into_iter().partition(|l| {
                graph.nodes[first.entry as usize].alive & (1 << l.process) != 0
                    && judged_by[l.process].is_some_and(|kind| {
                        !first
                            .cycle
                            .iter()
                            .any(|&label| analysis::is_progress(label, l.process, kind))
                    })
            });
            also_starving = others
                .iter()
                .map(|l| model.names.process(Program::pid_of(l.process)))
                .collect();
            let schedule = Schedule {
                prefix: analysis::choices(&first.prefix),
                cycle: analysis::choices(&first.cycle),
                comments: vec![],
            };
            // Said as `ipclab replay` of the saved schedule says it (what
            // each did on the cycle), else as the state at its entry.
            let (replayed, deadlocked) = starving_as_replayed(program, &schedule, options.progress);
            let why = std::iter::once(&first)
                .chain(&starved)
                .map(|l| {
                    let process = model.names.process(Program::pid_of(l.process));
                    let why = replayed
                        .iter()
                        .find(|s| s.process == process)
                        .map(|s| s.why.clone())
                        .unwrap_or_else(|| waits_at(&model, &schedule.prefix, l.process));
                    Stuck { process, why }
                })
                .collect();
            findings.push(Finding {
                kind: Kind::Starvation,
                verdict: Verdict::Runs {
                    progress: Vec::new(),
                    starving: why,
                    deadlocked,
                },
                schedule,
                critical_step: None,
                saved_to: None,
                save_error: None,
            });
        }
    }
    // `expect completes` asks that every schedule end with every process
    // exited; `expect runs` that none does. Only a whole space tells.
    let ending = (searched.bound.is_none() && findings.is_empty()).then(|| Ending {
        completes: analysis::completes(graph).map(|labels| Schedule {
            prefix: analysis::choices(&labels),
            cycle: Vec::new(),
            comments: vec![],
        }),
        runs_forever: analysis::runs_forever(graph).map(|lasso| Schedule {
            prefix: analysis::choices(&lasso.prefix),
            cycle: analysis::choices(&lasso.cycle),
            comments: vec![],
        }),
    });
    let scenario = std::path::Path::new(&program.file_name)
        .file_stem()
        .map_or_else(
            || "scenario".to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
    // One file holds one schedule: the one the `expect` line asks about,
    // if it was found, else the first.
    let expected_kind = match &program.expect {
        Some(Expectation::Deadlock) => Some(Kind::Deadlock),
        Some(Expectation::BlockedForever { .. }) => Some(Kind::BlockedForever),
        Some(Expectation::Starvation { .. }) => Some(Kind::Starvation),
        Some(Expectation::Error) => Some(Kind::Error),
        Some(Expectation::AssertionFailed) => Some(Kind::AssertionFailed),
        _ => None,
    };
    let saved_alone = expected_kind
        .and_then(|k| findings.iter().position(|f| f.kind == k))
        .unwrap_or(0);
    for (i, f) in findings.iter_mut().enumerate() {
        f.schedule.comments = vec![
            format!("scenario: {}", program.file_name),
            format!("kind: {}", f.kind.word()),
        ];
        if !options.overrides.is_empty() {
            f.schedule.comments.push(format!(
                "overrides: {}",
                schedule::overrides_text(&options.overrides)
            ));
        }
        // A lasso starves by this kind of progress: `replay` judges it so.
        if f.kind == Kind::Starvation && options.progress != ProgressKind::Items {
            f.schedule
                .comments
                .push(format!("progress: {}", options.progress.word()));
        }
        if let Some(n) = f.critical_step {
            // `ipclab replay` marks this step on the timeline.
            f.schedule.comments.push(format!(
                "critical step: {n} (after {n} step{}, every schedule {})",
                if n == 1 { "" } else { "s" },
                f.kind.doom()
            ));
        }
        let path = match &options.output {
            Output::None => None,
            Output::Dir(dir) => Some(dir.join(format!("{scenario}-{}.schedule", f.kind.word()))),
            Output::File(file) if i == saved_alone => Some(file.clone()),
            Output::File(_) => None,
        };
        if let Some(path) = path {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(file) = parent.filter(|p| p.is_file()) {
                // `--output plainfile`: a directory was meant, or a name
                // ending in `.schedule`.
                f.save_error = Some(format!(
                    "{} is a file, not a directory (--output takes a directory, or a file name \
                     ending in .schedule)",
                    file.display()
                ));
                continue;
            }
            if let Some(other) = parent.filter(|p| p.exists() && !p.is_dir()) {
                // A device or the like (`/dev/full/x.schedule`): creating
                // it as a directory would say "File exists".
                f.save_error = Some(format!("{} is not a directory", other.display()));
                continue;
            }
            let written = match parent {
                Some(parent) => std::fs::create_dir_all(parent),
                None => Ok(()),
            }
            .and_then(|()| std::fs::write(&path, f.schedule.to_string()));
            match written {
                Ok(()) => f.saved_to = Some(path),
                Err(e) => f.save_error = Some(format!("{}: {e}", path.display())),
            }
        }
    }
    let order = searched.order;
    Ok(CheckReport {
        scenario: program.file_name.clone(),
        order,
        jobs: if order == SearchOrder::BreadthFirst {
            options.jobs.max(1)
        } else {
            1
        },
        reduction: options.reduction,
        bound: searched.bound,
        stats,
        unreduced,
        findings,
        exact_items,
        items_exact_because: item_use.map(|u| program.line_col(program.span_of(u.decl, u.pc)).0),
        clock_used_at: items::clock_use(program)
            .map(|u| program.line_col(program.span_of(u.decl, u.pc)).0),
        produces_items: program.processes.iter().any(|p| {
            p.code
                .instructions
                .iter()
                .any(|i| matches!(i, Instruction::Produce(_)))
        }),
        priorities_ignored: program.kernel.priorities.unwrap_or(true) && {
            let mut levels = program.processes.iter().map(|p| p.priority.unwrap_or(0));
            let first = levels.next();
            levels.any(|p| Some(p) != first)
        },
        starvation_checked: options.starvation,
        progress: options.progress,
        not_judged: (0..model.instances)
            .filter(|&k| analysis::progress_of(program, k, options.progress).is_none())
            .map(|k| model.names.process(Program::pid_of(k)))
            .collect(),
        never_progress: (0..model.instances)
            // Judged by items, a process falls back to its calls: none
            // means neither.
            .filter(|&k| analysis::progress_of(program, k, ProgressKind::Items).is_none())
            .map(|k| model.names.process(Program::pid_of(k)))
            .collect(),
        also_starving,
        ending,
    })
}

/// The nearest state with violation `code` whose verdict satisfies
/// `expect`: the shortest path to it (nodes and labels), and its verdict.
fn nearest_matching(
    model: &model::Model,
    graph: &search::Graph,
    code: u8,
    expect: &Expectation,
) -> Option<(Vec<u32>, Vec<u16>, Verdict)> {
    analysis::shortest_paths_to(graph, 0, |v| graph.nodes[v as usize].shows(code)).find_map(
        |(nodes, labels)| {
            let verdict = verdict_at(model, &analysis::choices(&labels))?;
            verdict.matches(expect).then_some((nodes, labels, verdict))
        },
    )
}

/// Replays `choices` in the model; the verdict of the state reached, if it
/// is stuck or ends in an error.
fn verdict_at(model: &model::Model, choices: &[Choice]) -> Option<Verdict> {
    let mut scratch = model.scratch();
    let mut state = model.initial().to_vec();
    for c in choices {
        let r = model.step(&mut scratch, &state, *c);
        if r.error.is_some() {
            return r.error;
        }
        state = r.next;
    }
    model.load(&mut scratch, &state);
    Some(model.analyse_stuck(&scratch))
}

/// The starving processes, and why, as [`replay`] of the lasso `schedule`
/// (found with `progress`) reports them, and the wait-for cycle among them
/// that no one outside can break, if there is one (a deadlock while others
/// run, as `ipclab run` names it); empty if it does not replay.
fn starving_as_replayed(
    program: &Program,
    schedule: &Schedule,
    progress: ProgressKind,
) -> (Vec<Stuck>, Vec<Stuck>) {
    let mut schedule = schedule.clone();
    schedule
        .comments
        .push(format!("progress: {}", progress.word()));
    match replay(program, &schedule, 1).map(|r| r.verdict) {
        Ok(Verdict::Runs {
            starving,
            deadlocked,
            ..
        }) => (starving, deadlocked),
        _ => (Vec::new(), Vec::new()),
    }
}

/// What instance `k` is doing after `choices`, in words.
fn waits_at(model: &model::Model, choices: &[Choice], k: usize) -> String {
    let mut scratch = model.scratch();
    let mut state = model.initial().to_vec();
    for c in choices {
        state = model.step(&mut scratch, &state, *c).next;
    }
    model.load(&mut scratch, &state);
    model.describe(&scratch, k)
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = match self.order {
            SearchOrder::DepthFirst => "depth-first".to_string(),
            SearchOrder::BreadthFirst => format!(
                "breadth-first, {} worker{}",
                self.jobs,
                if self.jobs == 1 { "" } else { "s" }
            ),
        };
        writeln!(
            f,
            "check {}: {}",
            escape_controls(&self.scenario),
            match self.findings.first() {
                None => "no violation".to_string(),
                Some(_) => self
                    .findings
                    .iter()
                    .map(|x| x.kind.word().to_uppercase())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        )?;
        match self.bound {
            None if self.findings.is_empty() && self.clock_used_at.is_some() => writeln!(
                f,
                "  space exhausted with clock() at 0: no schedule violates anything there, \
                 but no proof (see the clock note)"
            )?,
            None if self.findings.is_empty() && self.starvation_checked => {
                writeln!(
                    f,
                    "  space exhausted: no schedule deadlocks, blocks forever, errs or starves (a proof)"
                )?;
                if !self.not_judged.is_empty() {
                    writeln!(
                        f,
                        "  not judged for starvation (no progress statement): {}",
                        self.not_judged.join(", ")
                    )?;
                }
                if let Some(ending) = &self.ending {
                    writeln!(f, "  {}", ending.text())?;
                }
            }
            None if self.findings.is_empty() => {
                writeln!(
                    f,
                    "  space exhausted: no schedule deadlocks, blocks forever or errs (a proof; \
                     starvation was not looked for)"
                )?;
                if let Some(ending) = &self.ending {
                    writeln!(f, "  {}", ending.text())?;
                }
            }
            None => writeln!(f, "  space exhausted: every reachable state was explored")?,
            Some(b) => writeln!(
                f,
                "  bound reached: {b} (no proof: states beyond it were not explored)"
            )?,
        }
        let s = &self.stats;
        writeln!(
            f,
            "  {order}, reduction {}: {}, {}, depth {}, {:.2} s ({:.0} states/s, ~{:.0} bytes/state)",
            if self.reduction { "on" } else { "off" },
            counted(s.states, "state"),
            counted(s.transitions, "transition"),
            s.max_depth,
            s.elapsed.as_secs_f64(),
            s.states_per_second(),
            s.bytes_per_state
        )?;
        if let Some((u, bound)) = &self.unreduced {
            writeln!(
                f,
                "  without reduction: {}, {}{}",
                counted(u.states, "state"),
                counted(u.transitions, "transition"),
                match bound {
                    Some(b) => format!(" (bound reached: {b}; there are more)"),
                    None => String::new(),
                }
            )?;
        }
        if self.priorities_ignored {
            writeln!(
                f,
                "  priorities are not modelled: every order of the ready processes is explored, \
                 as if all had one priority (a process kept waiting only by higher priorities \
                 starves under `ipclab run`, not here)"
            )?;
        }
        if let Some(line) = self.clock_used_at {
            writeln!(
                f,
                "  clock() is not modelled: line {line} uses its reading beyond printing it, and \
                 the checker's clock never advances (clock() reads 0 in every state explored), \
                 so a run in which time passes may go where no state here went; `ipclab run` \
                 answers about time"
            )?;
        }
        if let Some(line) = self.items_exact_because {
            writeln!(
                f,
                "  items kept exact: line {line} uses an item's value beyond consume and print, \
                 so making every produce give 1 could change the answer"
            )?;
        } else if !self.exact_items && self.produces_items {
            writeln!(
                f,
                "  items are abstract: every produce gives 1 (exact here: item values are only \
                 sent, received, consumed or printed; --exact-items to keep values anyway)"
            )?;
        }
        for x in &self.findings {
            writeln!(f)?;
            if let (Kind::NotEmpty, Verdict::BlockedForever { stuck }) = (x.kind, &x.verdict) {
                for s in stuck {
                    writeln!(f, "  not empty: {}", escape_controls(&s.why))?;
                }
            }
            let explained = match x.kind {
                Kind::NotEmpty => Vec::new(),
                _ => x.verdict.explain(),
            };
            for (i, line) in explained.iter().enumerate() {
                // A run's "still live at the step limit" says nothing here:
                // the lasso runs forever.
                if i == 0 && x.kind == Kind::Starvation {
                    writeln!(
                        f,
                        "  starvation: a schedule runs forever (weakly fair) while these never progress"
                    )?;
                    continue;
                }
                // A run-time mailbox name in a reason may hold any
                // character: written out, as the timeline writes it.
                writeln!(f, "  {}", escape_controls(line))?;
            }
            let steps = x.schedule.prefix.len();
            if x.schedule.is_lasso() {
                writeln!(
                    f,
                    "  counterexample: {steps} step{}, then a cycle of {} repeated forever",
                    if steps == 1 { "" } else { "s" },
                    x.schedule.cycle.len()
                )?;
            } else {
                writeln!(
                    f,
                    "  counterexample: {steps} step{}",
                    if steps == 1 { "" } else { "s" }
                )?;
            }
            let text = x.schedule.to_string();
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                writeln!(f, "    {line}")?;
            }
            let timers = x.schedule.prefix.iter().chain(&x.schedule.cycle);
            if timers.clone().any(|c| matches!(c, Choice::Timer(_))) {
                writeln!(
                    f,
                    "  it fires a timer (tK): time is abstract here, a timeout or sleep may end \
                     at any moment while its call waits, so real durations may rule this \
                     schedule out (`ipclab run` answers about time)"
                )?;
            }
            match x.critical_step {
                Some(0) => writeln!(
                    f,
                    "  critical step: from the start, every schedule {}",
                    x.kind.doom()
                )?,
                Some(n) => writeln!(
                    f,
                    "  critical step: after step {n} (row {} of the replayed timeline: {}), every schedule {}",
                    n - 1,
                    match x.schedule.prefix[n - 1] {
                        Choice::Run(k) => format!("instance {k} runs"),
                        Choice::Timer(k) => format!("instance {k}'s timer fires"),
                    },
                    x.kind.doom()
                )?,
                None => {}
            }
            if let Some(p) = &x.saved_to {
                writeln!(f, "  saved to {}", p.display())?;
            }
            if x.kind == Kind::Starvation && !self.also_starving.is_empty() {
                writeln!(
                    f,
                    "  can be starved too, each by another schedule: {} (`expect starvation(P)` \
                     makes the saved schedule P's)",
                    self.also_starving.join(", ")
                )?;
            }
        }
        Ok(())
    }
}

/// `1 state`, `2 states`.
fn counted(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
