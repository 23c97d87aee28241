//! Renderings of a run for people and tools: the text timeline, JSON lines, the wait-for graph.
//!
//! Every renderer is a pure function from a compiled [`Program`], the run's
//! [`RunResult`] and plain options to a `String`; none prints or looks at
//! the terminal. Whether to colour is the caller's decision (the CLI asks
//! `std::io::IsTerminal` and `NO_COLOR`), so tests are deterministic.
//!
//! - [`timeline`]: the lecture's picture: a column per process, a row per
//!   step, the messages and copies under each row, then the verdict.
//! - [`json`]: the trace as JSON lines (schema: `docs/trace-json.md`).
//! - [`waitfor`]: the wait-for cycle of a deadlock, as text or Graphviz DOT.
//!
//! Every line of the text renderings fits the terminal width: long lines
//! wrap at spaces under a hanging indent (`wrap`).
//!
//! [`Program`]: crate::lang::Program
//! [`RunResult`]: crate::runner::RunResult

pub mod json;
pub mod style;
pub mod timeline;
pub mod waitfor;
mod wrap;

pub use json::json_lines;
pub use timeline::{
    timeline, timeline_annotated, verdict_text, verdict_text_with, Annotations, Marker,
    TimelineOptions, VerdictOptions,
};
pub use waitfor::{waitfor_dot, waitfor_text};
pub use wrap::wrap_lines;

/// How a run was made, for headers (`schedule rr, seed 0, limit 1000 steps`).
#[derive(Clone, Copy, Debug)]
pub struct RunSetup {
    /// The runner's options.
    pub options: crate::runner::RunOptions,
    /// The run followed a schedule (`replay`): a `runs` verdict means the
    /// schedule ran out, not that a limit was reached.
    pub replayed: bool,
}

impl RunSetup {
    /// What ended a `runs` verdict's run: a limit, or the end of a replayed
    /// schedule.
    pub fn limit_of(&self, result: &crate::runner::RunResult) -> Option<crate::verdict::Limit> {
        match (&result.verdict, self.replayed) {
            (crate::verdict::Verdict::Runs { .. }, true) => {
                Some(crate::verdict::Limit::Schedule(result.steps))
            }
            _ => result.limit(&self.options),
        }
    }

    /// `rr` or `random`, as the CLI spells it.
    pub fn schedule_name(&self) -> &'static str {
        match self.options.schedule {
            crate::runner::Schedule::RoundRobin => "rr",
            crate::runner::Schedule::Random => "random",
        }
    }
}
