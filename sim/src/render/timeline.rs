//! The text timeline: a column per process, a row per step, the messages and copies under each row, then the verdict.
//!
//! The picture the lecture draws, for a terminal:
//!
//! ```text
//!  step  tick Producer         Consumer
//!  ───── ──── ──────────────── ────────────────
//!     3     4 BLK send(consMb… RUN
//!             Consumer  recv(consMbox, cap 8) -> ok 8              line 9
//!               copy kernel slot -> Consumer  8 B
//!               consMbox -> Consumer  msg 1 (8 B) delivered, sent by Producer
//! ```
//!
//! A cell shows the state at the end of the step: `RUN`, `READY`,
//! `BLK <call>` (the reason cut to the column; the full reason is in the
//! event line where the process blocked) or `EXITED`. Columns share the
//! width (80 by default) and are at least 14 characters wide, so more than
//! four processes widen the table instead of cutting names to nothing.
//!
//! Long runs are elided: the first `head` and last `tail` steps are shown
//! and the stretch between them is summarised on one `···` line (calls,
//! messages, items produced and consumed). `full` shows every step.
//!
//! [`timeline_annotated`] also draws [`Marker`]s: a line under a step such
//! as a counterexample's critical step (`▲ after this step, every schedule
//! deadlocks`). A marked step is never elided.

use crate::lang::{Expectation, Program};
use crate::runner::RunResult;
use crate::trace::{ProcView, Step, TraceEvent};
use crate::verdict::{expectation_text, Verdict};

use super::style::{escape_controls, pad, truncate, truncate_label, width, Painter, Style};
use super::waitfor::waitfor_lines;
use super::wrap::{wrap, wrap_fields, wrap_words};
use super::RunSetup;
use crate::verdict::Limit;

/// The narrowest the step and tick columns get; a run with more digits
/// widens them ([`Layout`]).
const NUMBER_COLUMN: usize = 5;
/// How much deeper than its line a wrapped continuation starts.
const HANG: usize = 4;
/// The narrowest a process column gets.
const MIN_COLUMN: usize = 14;
/// The widest a process column gets.
const MAX_COLUMN: usize = 26;

/// How to draw a timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineOptions {
    /// Emit ANSI colours.
    pub color: bool,
    /// The terminal width to fit (columns widen past it beyond four processes).
    pub width: usize,
    /// Steps shown in full at the start of a long run.
    pub head: usize,
    /// Steps shown in full at the end of a long run.
    pub tail: usize,
    /// Show every step, never elide.
    pub full: bool,
}

impl Default for TimelineOptions {
    fn default() -> TimelineOptions {
        TimelineOptions {
            color: false,
            width: 80,
            head: 24,
            tail: 8,
            full: false,
        }
    }
}

/// A line drawn under a step of the timeline (a replay's critical step,
/// the start of a lasso's cycle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// How many steps come before the line: `0` draws it above the first
    /// row, `n` under the row of step `n - 1` (rows count from 0).
    pub after_steps: usize,
    /// What the line says (`after this step, every schedule deadlocks`).
    pub text: String,
}

/// What a caller adds to a plain timeline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotations {
    /// Replaces `schedule rr` in the header (`schedule from x.schedule, 12 choices`).
    pub schedule: Option<String>,
    /// Lines under steps; a marked step is shown even in an elided run.
    pub markers: Vec<Marker>,
}

/// The whole text rendering of a run: header, timeline, totals, verdict.
pub fn timeline(
    program: &Program,
    setup: &RunSetup,
    result: &RunResult,
    options: &TimelineOptions,
) -> String {
    timeline_annotated(program, setup, result, options, &Annotations::default())
}

/// [`timeline`] with markers under some steps and, optionally, another
/// schedule description in the header.
pub fn timeline_annotated(
    program: &Program,
    setup: &RunSetup,
    result: &RunResult,
    options: &TimelineOptions,
    annotations: &Annotations,
) -> String {
    let painter = Painter {
        color: options.color,
    };
    let labels = &result.trace.labels;
    let layout = Layout::of(result, options.width);
    let column = layout.column;
    let mailboxes = Mailboxes::of(program);
    let mut out = String::new();

    // Header: what ran, and how.
    let name = escape_controls(&program.file_name);
    let mut header = format!(
        "{name}: {} process{} · ",
        labels.len(),
        if labels.len() == 1 { "" } else { "es" },
    );
    match &annotations.schedule {
        // It may name a schedule file, whose path is the user's.
        Some(schedule) => header.push_str(&escape_controls(schedule)),
        None => {
            header.push_str(&format!("schedule {}", setup.schedule_name()));
            if setup.options.schedule == crate::runner::Schedule::Random {
                header.push_str(&format!(", seed {}", setup.options.seed));
            }
            header.push_str(&format!(
                " · limit {}",
                plural(setup.options.max_steps, "step")
            ));
        }
    }
    for (i, line) in wrap_fields(&header, " · ", options.width, "  ")
        .iter()
        .enumerate()
    {
        // The name starts the first line.
        match line.strip_prefix(name.as_str()).filter(|_| i == 0) {
            Some(rest) => {
                out.push_str(&painter.paint(Style::Heading, &name));
                out.push_str(rest);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    if !program.mailboxes.is_empty() {
        let boxes: Vec<String> = program
            .mailboxes
            .iter()
            .map(|m| format!("{} (capacity {})", m.name, m.capacity))
            .collect();
        push_lines(
            &mut out,
            wrap(
                &format!("mailboxes: {}", boxes.join(", ")),
                options.width,
                "  ",
            ),
        );
    }
    out.push('\n');

    // Column headings.
    let mut heading = format!(
        "{:>step$} {:>tick$} ",
        "step",
        "tick",
        step = layout.step,
        tick = layout.tick
    );
    let mut rule = format!("{} {} ", "─".repeat(layout.step), "─".repeat(layout.tick));
    for label in labels {
        heading.push_str(&pad(&truncate_label(label, column), column + 1));
        rule.push_str(&"─".repeat(column));
        rule.push(' ');
    }
    out.push_str(&painter.paint(Style::Heading, heading.trim_end()));
    out.push('\n');
    out.push_str(&painter.paint(Style::Detail, rule.trim_end()));
    out.push('\n');

    // Rows.
    let steps = &result.trace.steps;
    let marked: Vec<usize> = annotations
        .markers
        .iter()
        .map(|m| m.after_steps.min(steps.len()))
        .collect();
    let shown = with_marked(shown_ranges(steps.len(), options), &marked, steps.len());
    let marker_lines = |after: usize, out: &mut String| {
        for (m, &at) in annotations.markers.iter().zip(&marked) {
            if at == after {
                let arrow = if after == 0 { "▼" } else { "▲" };
                for line in marker_lines_of(arrow, &m.text, &layout) {
                    out.push_str(&painter.paint(Style::Bad, &line));
                    out.push('\n');
                }
            }
        }
    };
    marker_lines(0, &mut out);
    for (i, range) in shown.iter().enumerate() {
        if i > 0 {
            let gap = shown[i - 1].end..range.start;
            out.push_str(&elision(&steps[gap], labels, &painter, &layout));
        }
        for (index, step) in steps[range.clone()].iter().enumerate() {
            out.push_str(&row(step, &layout, &painter));
            for line in event_lines(step, &mailboxes, &painter, &layout) {
                out.push_str(&line);
                out.push('\n');
            }
            marker_lines(range.start + index + 1, &mut out);
        }
    }
    if steps.is_empty() {
        out.push_str(&painter.paint(
            Style::Detail,
            &format!("{}(no steps)", " ".repeat(layout.prefix())),
        ));
        out.push('\n');
    }

    // Totals.
    let stats = &result.stats;
    out.push('\n');
    // Messages lost to a terminated peer are counted where they are
    // counted delivered: no message goes unreported.
    let mut undeliverable = String::new();
    if stats.undeliverable > 0 {
        undeliverable.push_str(&format!(" · {} undeliverable", stats.undeliverable));
    }
    if stats.cancelled > 0 {
        undeliverable.push_str(&format!(" · {} cancelled", plural(stats.cancelled, "send")));
    }
    let totals = format!(
        "{}, {} · {} · {} delivered{undeliverable} · {}, {} B",
        plural(result.steps, "step"),
        plural(result.ticks, "tick"),
        plural(stats.syscalls, "call"),
        plural(stats.delivered, "message"),
        match stats.copies_to_kernel + stats.copies_to_user + stats.copies_user_to_user {
            1 => "1 copy".to_string(),
            copies => format!("{copies} copies"),
        },
        stats.bytes_copied
    );
    // Broken between its fields only, never inside "8 B".
    for line in wrap_fields(&totals, " · ", options.width, "  ") {
        out.push_str(&painter.paint(Style::Detail, &line));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&painter.paint(
        Style::Heading,
        &format!(
            "── verdict {}",
            "─".repeat(options.width.clamp(20, 200) - 11)
        ),
    ));
    out.push('\n');
    out.push_str(&verdict_text_with(
        &result.verdict,
        program.expect.as_ref(),
        &VerdictOptions {
            color: options.color,
            graph: true,
            width: options.width,
            limit: setup.limit_of(result),
        },
    ));
    out
}

/// How to draw the verdict block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerdictOptions {
    /// Emit ANSI colours.
    pub color: bool,
    /// Draw a deadlock's wait-for cycle in place of its one-line chain.
    pub graph: bool,
    /// The terminal width to wrap to.
    pub width: usize,
    /// The limit that ended a `runs` verdict's run, if known
    /// ([`RunResult::limit`](crate::runner::RunResult::limit)).
    pub limit: Option<Limit>,
}

impl Default for VerdictOptions {
    fn default() -> VerdictOptions {
        VerdictOptions {
            color: false,
            graph: false,
            width: TimelineOptions::default().width,
            limit: None,
        }
    }
}

/// The verdict block: the explanation, the wait-for drawing of a deadlock
/// (when `graph`, in place of the one-line chain), and whether the `expect`
/// line matched, wrapped to 80 columns. `--quiet` prints this alone,
/// without the graph; [`verdict_text_with`] also takes the width and the
/// limit that ended a `runs` verdict.
pub fn verdict_text(
    verdict: &Verdict,
    expect: Option<&Expectation>,
    color: bool,
    graph: bool,
) -> String {
    verdict_text_with(
        verdict,
        expect,
        &VerdictOptions {
            color,
            graph,
            ..VerdictOptions::default()
        },
    )
}

/// [`verdict_text`] with every option.
pub fn verdict_text_with(
    verdict: &Verdict,
    expect: Option<&Expectation>,
    options: &VerdictOptions,
) -> String {
    let painter = Painter {
        color: options.color,
    };
    let max = options.width;
    let mut out = String::new();
    let lines: Vec<String> = verdict
        .explain_at(options.limit)
        .iter()
        .map(|line| escape_controls(line))
        .collect();
    let drawing = if options.graph {
        waitfor_lines(verdict, max)
    } else {
        Vec::new()
    };
    // The explanation's second line of a deadlock is the cycle on one
    // line; the drawing says the same, better, so it replaces it.
    let chain_line = match verdict {
        Verdict::Deadlock { cycle, .. } if !drawing.is_empty() => cycle.first().and_then(|first| {
            lines
                .iter()
                .position(|l| l.trim_start().starts_with(&first.process) && l.contains(" -> "))
        }),
        _ => None,
    };
    // A live run's cycle is drawn under the line that names it.
    let after_line = match verdict {
        Verdict::Runs { .. } if !drawing.is_empty() => lines
            .iter()
            .position(|l| l.trim_start().starts_with("deadlocked")),
        _ => None,
    };
    for (i, line) in lines.iter().enumerate() {
        if Some(i) == chain_line {
            push_lines(&mut out, drawing.clone());
            continue;
        }
        let style = match verdict {
            _ if i > 0 => Style::Ready,
            Verdict::Completes | Verdict::Runs { .. } => Style::Heading,
            _ => Style::Bad,
        };
        for piece in verdict_wrap(line, max) {
            out.push_str(&painter.paint(style, &piece));
            out.push('\n');
        }
        if (i == 0 && chain_line.is_none() && after_line.is_none()) || Some(i) == after_line {
            push_lines(&mut out, drawing.clone());
        }
    }
    for piece in verdict_wrap(&expect_line(verdict, expect), max) {
        out.push_str(&painter.paint(expect_style(verdict, expect), &piece));
        out.push('\n');
    }
    out
}

/// A verdict line wrapped, continuing two columns deeper than it starts.
fn verdict_wrap(line: &str, max: usize) -> Vec<String> {
    let lead = line.len() - line.trim_start_matches(' ').len();
    wrap(line, max, &" ".repeat(lead + 2))
}

fn expect_style(verdict: &Verdict, expect: Option<&Expectation>) -> Style {
    match expect {
        None => Style::Detail,
        Some(e) if verdict.matches(e) => Style::Good,
        Some(_) => Style::Bad,
    }
}

/// `expected deadlock: matches`, or what went wrong, or that there is no `expect` line.
fn expect_line(verdict: &Verdict, expect: Option<&Expectation>) -> String {
    match expect {
        None => "no expect line: nothing to check".to_string(),
        Some(e) if verdict.matches(e) => format!("expected {}: matches ✓", expectation_text(e)),
        Some(e) => format!(
            "expected {}: got {}{}, does not match ✗",
            expectation_text(e),
            verdict.as_expected(),
            verdict
                .partial_deadlock_note()
                .filter(|_| matches!(e, Expectation::Deadlock))
                .map_or(String::new(), |note| format!(": {note}"))
        ),
    }
}

/// Where things go on a line: the `step tick ` prefix, its two columns as
/// wide as the largest number in them, and the process columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    /// Width of the step column.
    step: usize,
    /// Width of the tick column.
    tick: usize,
    /// Width of each process column.
    column: usize,
    /// The terminal width to fit.
    width: usize,
}

impl Layout {
    fn of(result: &RunResult, width: usize) -> Layout {
        // Steps and ticks only grow: the last step has the largest of both.
        let last = result.trace.steps.last();
        let digits = |n: u64| n.checked_ilog10().map_or(1, |d| d as usize + 1);
        let step = digits(last.map_or(0, |s| s.step)).max(NUMBER_COLUMN);
        let tick = digits(last.map_or(0, |s| s.tick).max(result.ticks)).max(NUMBER_COLUMN);
        Layout {
            step,
            tick,
            column: column_width(result.trace.labels.len(), width, step + tick + 2),
            width,
        }
    }

    /// Width of the `step tick ` prefix.
    fn prefix(&self) -> usize {
        self.step + self.tick + 2
    }

    /// `text` right-aligned under the step and tick (`  line 9 `).
    fn in_prefix(&self, text: &str) -> String {
        format!("{text:>w$} ", w = self.prefix() - 1)
    }
}

/// Appends `lines`, each ending in `\n`.
fn push_lines(out: &mut String, lines: Vec<String>) {
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
}

/// The width of each process column for `count` processes after a prefix
/// of `prefix` columns.
fn column_width(count: usize, total: usize, prefix: usize) -> usize {
    let available = total.saturating_sub(prefix);
    (available / count.max(1))
        .saturating_sub(1)
        .clamp(MIN_COLUMN, MAX_COLUMN)
}

/// Which steps are drawn: everything, or a head and a tail.
#[allow(clippy::single_range_in_vec_init)] // one range is "no elision", not a mistake
fn shown_ranges(count: usize, options: &TimelineOptions) -> Vec<std::ops::Range<usize>> {
    // Eliding fewer than a handful of steps would hide more than it saves.
    let threshold = options.head.saturating_add(options.tail).saturating_add(4);
    if options.full || count <= threshold {
        return vec![0..count];
    }
    vec![0..options.head, count - options.tail..count]
}

/// `shown` plus a few steps around each marked position, merged and sorted.
fn with_marked(
    shown: Vec<std::ops::Range<usize>>,
    marked: &[usize],
    count: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut all = shown;
    for &after in marked {
        // The marked step (row `after - 1`), two before it and one after.
        let start = after.saturating_sub(3);
        let end = (after + 1).min(count);
        if start < end {
            all.push(start..end);
        }
    }
    all.sort_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
    for r in all {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// `  ▲ text ───` across the width, under the marked row (`▼` above the
/// first); a long text wraps under itself, the rule ends its last line.
fn marker_lines_of(arrow: &str, text: &str, layout: &Layout) -> Vec<String> {
    let max = layout.width.clamp(20, 200);
    let pieces = wrap_words(
        &escape_controls(text),
        layout.prefix(),
        layout.prefix(),
        max,
    );
    let last = pieces.len() - 1;
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let head = if i == 0 {
                format!("{}{piece}", layout.in_prefix(arrow))
            } else {
                format!("{}{piece}", " ".repeat(layout.prefix()))
            };
            if i < last {
                return head;
            }
            let rest = max.saturating_sub(width(&head) + 1);
            format!("{head} {}", "─".repeat(rest))
                .trim_end()
                .to_string()
        })
        .collect()
}

/// One row: step, tick, and every process's state.
fn row(step: &Step, layout: &Layout, painter: &Painter) -> String {
    let column = layout.column;
    let mut line = format!(
        "{:>step$} {:>tick$} ",
        step.step,
        step.tick,
        step = layout.step,
        tick = layout.tick
    );
    let last = step.states.len().saturating_sub(1);
    for (k, state) in step.states.iter().enumerate() {
        let (text, style) = cell(state, column);
        // Pad before painting: escapes take no columns on the terminal.
        let padded = if k == last {
            text
        } else {
            pad(&text, column + 1)
        };
        line.push_str(&painter.paint(style, &padded));
    }
    line.truncate(line.trim_end().len());
    line.push('\n');
    line
}

/// A state as a cell of `column` characters.
fn cell(state: &ProcView, column: usize) -> (String, Style) {
    match state {
        ProcView::Running => ("RUN".into(), Style::Running),
        ProcView::Ready => ("READY".into(), Style::Ready),
        ProcView::Blocked { reason } => {
            // `send(consMbox) [full 4/4]` -> `BLK send(consMbox)`: the call
            // fits a column, the detail is in the event line. A mailbox
            // name made at run time may hold any character: written out
            // before the cut, so that the cell keeps to its column and to
            // its line, as the event line does.
            let call = reason.split(" [").next().unwrap_or(reason);
            let call = escape_controls(call);
            (truncate(&format!("BLK {call}"), column), Style::Blocked)
        }
        ProcView::Exited { code: 0 } => ("EXITED".into(), Style::Exited),
        ProcView::Exited { code } => (truncate(&format!("EXITED {code}"), column), Style::Exited),
    }
}

/// The declared mailboxes' names: a delivery from one is shown as coming
/// through it even when it went user to user.
struct Mailboxes(Vec<String>);

impl Mailboxes {
    fn of(program: &Program) -> Mailboxes {
        Mailboxes(program.mailboxes.iter().map(|m| m.name.clone()).collect())
    }

    fn is_mailbox(&self, dest: &str) -> bool {
        self.0.iter().any(|name| name == dest)
    }
}

/// The lines under a row: what happened in the step, in words. A system
/// call is one line with its outcome; what the kernel did because of it
/// (copies, messages, wake-ups) is indented under it. What the step's clock
/// tick did (a timer fires, a sleeper wakes) comes last, not indented.
///
/// A line wider than the terminal wraps at spaces; its continuation lines
/// start [`HANG`] columns deeper, so they never look like the next event.
fn event_lines(
    step: &Step,
    mailboxes: &Mailboxes,
    painter: &Painter,
    layout: &Layout,
) -> Vec<String> {
    let events = &step.events;
    let max = layout.width;
    let mut used = vec![false; events.len()];
    let mut lines = Vec::new();
    let mut in_call = false;
    let base = " ".repeat(layout.prefix());
    let nested = " ".repeat(layout.prefix() + 2);
    for (i, event) in events.iter().enumerate() {
        if used[i] {
            continue;
        }
        used[i] = true;
        if matches!(event, TraceEvent::Timer { .. }) {
            // The step's clock tick: a timer's firing and the wake-up it
            // brings are not the call's doing.
            in_call = false;
        }
        let indent = if in_call { &nested } else { &base };
        let (text, style) = match event {
            TraceEvent::Syscall {
                process,
                call,
                line,
            } => {
                in_call = true;
                // The call's outcome: its return or its block, later in the step.
                let outcome = events
                    .iter()
                    .enumerate()
                    .skip(i + 1)
                    .find_map(|(j, e)| match e {
                        TraceEvent::Return { process: p, result } if p == process => {
                            Some((j, format!("-> {result}"), Style::Actor))
                        }
                        TraceEvent::Block { process: p, reason } if p == process => {
                            Some((j, blocks_text(call, reason), Style::Blocked))
                        }
                        TraceEvent::BadCall { process: p, errno } if p == process => Some((
                            j,
                            format!("-> {errno} (its registers do not decode)"),
                            Style::Bad,
                        )),
                        _ => None,
                    });
                // The scenario line sits in the row prefix, under step and tick.
                let place =
                    painter.paint(Style::Detail, &layout.in_prefix(&format!("line {line}")));
                let process = escape_controls(process);
                let call = escape_controls(call);
                let head_width = width(&process) + 2 + width(&call);
                let outcome = outcome.map(|(j, text, style)| {
                    used[j] = true;
                    (escape_controls(&text), style)
                });
                let fits = |text: &str| layout.prefix() + head_width + 1 + width(text) <= max;
                match outcome {
                    Some((text, style)) if fits(&text) => lines.push(format!(
                        "{place}{}  {call} {}",
                        painter.paint(Style::Actor, &process),
                        painter.paint(style, &text)
                    )),
                    outcome => {
                        // The call's head, wrapped; the process is the first
                        // word of its first piece.
                        let head = format!("{process}  {call}");
                        let hang = layout.prefix() + HANG;
                        for (i, piece) in wrap_words(&head, layout.prefix(), hang, max)
                            .iter()
                            .enumerate()
                        {
                            lines.push(match piece.strip_prefix(process.as_str()) {
                                Some(rest) if i == 0 => format!(
                                    "{place}{}{rest}",
                                    painter.paint(Style::Actor, &process)
                                ),
                                _ if i == 0 => format!("{place}{piece}"),
                                _ => format!("{}{piece}", " ".repeat(hang)),
                            });
                        }
                        if let Some((text, style)) = outcome {
                            lines.extend(painted_wrap(&nested, &text, style, painter, max));
                        }
                    }
                }
                continue;
            }
            TraceEvent::Switch { .. } => continue,
            TraceEvent::BadCall { process, errno } => (
                format!("{process}: the call's registers do not decode -> {errno}"),
                Style::Bad,
            ),
            TraceEvent::Return { process, result } => {
                (format!("{process} -> {result}"), Style::Actor)
            }
            TraceEvent::Block { process, reason } => {
                (format!("{process} blocks: {reason}"), Style::Blocked)
            }
            TraceEvent::Wake { process, result } => {
                (format!("{process} wakes up -> {result}"), Style::Running)
            }
            TraceEvent::Copy { from, to, bytes } => (
                format!("copy {} -> {}  {bytes} B", copy_end(from), copy_end(to)),
                Style::Detail,
            ),
            TraceEvent::Enqueue {
                message,
                from,
                dest,
                tag,
                len,
                queued,
                capacity,
            } => {
                let fill = format!("{queued}/{capacity}");
                (
                    format!(
                        "{from} -> {dest}  msg {message} ({len} B{}) queued {fill}",
                        tag_text(*tag)
                    ),
                    Style::Message,
                )
            }
            TraceEvent::Deliver {
                message,
                from,
                to,
                dest,
                tag,
                len,
                direct,
            } => {
                let size = format!("{len} B{}", tag_text(*tag));
                let via_mailbox = mailboxes.is_mailbox(dest) || dest != to;
                let text = match (direct, via_mailbox) {
                    // The copy line above says it went user to user.
                    (true, true) => {
                        format!("{from} -> {to} via {dest}  msg {message} ({size}) delivered")
                    }
                    (true, false) => format!("{from} -> {to}  msg {message} ({size}) delivered"),
                    (false, true) => {
                        format!("{dest} -> {to}  msg {message} ({size}) delivered, sent by {from}")
                    }
                    (false, false) => format!(
                        "{from} -> {to}  msg {message} ({size}) delivered from the kernel buffer"
                    ),
                };
                (text, Style::Message)
            }
            TraceEvent::Truncated {
                message,
                to,
                len,
                copied,
            } => (
                format!(
                    "msg {message} truncated: {len} B for {to}'s {copied} B buffer, \
                     {copied} B copied; the receive fails with EMSGSIZE"
                ),
                Style::Bad,
            ),
            TraceEvent::SendCancelled {
                message,
                from,
                dest,
            } => (
                format!(
                    "{from} -> {dest}  msg {message} send cancelled: {from} terminated before \
                     a receive matched it (never accepted, so not undeliverable)"
                ),
                Style::Bad,
            ),
            TraceEvent::Undeliverable {
                message,
                from,
                dest,
                reason,
            } => (
                format!("{from} -> {dest}  msg {message} undeliverable: {reason}"),
                Style::Bad,
            ),
            TraceEvent::Exit { process, code } => {
                (format!("{process} exits (code {code})"), Style::Exited)
            }
            TraceEvent::Timer { process, kind } => {
                (format!("timer: {process} {kind}"), Style::Running)
            }
            TraceEvent::Interrupt {
                device,
                character,
                queued,
                capacity,
                semaphore,
            } => (
                format!(
                    "interrupt: {device} {character} -> ring {queued}/{capacity}, V({semaphore})"
                ),
                Style::Message,
            ),
            TraceEvent::Overrun {
                device,
                character,
                capacity,
                overruns,
            } => (
                format!(
                    "interrupt: {device} {character} DROPPED: ring full {capacity}/{capacity} \
                     (overrun {overruns})"
                ),
                Style::Bad,
            ),
            TraceEvent::Mailbox { mailbox, action } => {
                // A destroyed mailbox is already named `mailbox #n`.
                let name = if mailbox.starts_with("mailbox ") {
                    mailbox.clone()
                } else {
                    format!("mailbox {mailbox}")
                };
                (format!("{name} {action}"), Style::Detail)
            }
            TraceEvent::Produce { process, value } => {
                (format!("{process} produces item {value}"), Style::Ready)
            }
            TraceEvent::Consume { process, value } => {
                (format!("{process} consumes item {value}"), Style::Ready)
            }
            TraceEvent::Print { process, text } => {
                (format!("{process} prints: {text}"), Style::Ready)
            }
            TraceEvent::Compute { process, ticks } => (
                format!(
                    "{process} computes for {ticks} tick{}",
                    if *ticks == 1 { "" } else { "s" }
                ),
                Style::Ready,
            ),
            TraceEvent::ProgramError {
                process,
                message,
                line,
                column,
            } => (
                match message.strip_prefix("assertion failed: ") {
                    Some(condition) => format!(
                        "assertion failed in {process} at line {line}, column {column}: {condition}"
                    ),
                    None => {
                        format!("error in {process} at line {line}, column {column}: {message}")
                    }
                },
                Style::Bad,
            ),
        };
        lines.extend(painted_wrap(
            indent,
            &escape_controls(&text),
            style,
            painter,
            max,
        ));
    }
    if step.ran.is_none() {
        // Said first, before the timer or input the new tick brings: the
        // tick column jumps, and this says why.
        let text = format!(
            "(no process can run: the clock advances to tick {})",
            step.tick
        );
        let note = painted_wrap(&base, &text, Style::Detail, painter, max);
        lines.splice(0..0, note);
    }
    lines
}

/// `text` after `indent`, wrapped to `max` with continuation lines
/// [`HANG`] columns deeper, every piece painted in `style`.
fn painted_wrap(
    indent: &str,
    text: &str,
    style: Style,
    painter: &Painter,
    max: usize,
) -> Vec<String> {
    let hang = width(indent) + HANG;
    wrap_words(text, width(indent), hang, max)
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let lead = if i == 0 {
                indent.to_string()
            } else {
                " ".repeat(hang)
            };
            format!("{lead}{}", painter.paint(style, piece))
        })
        .collect()
}

/// `-> blocks [full 4/4]` when the reason repeats the call
/// (`send(consMbox) [full 4/4]` after `send(consMbox, 8 bytes, tag 0)`),
/// else the whole reason.
fn blocks_text(call: &str, reason: &str) -> String {
    if let Some((head, detail)) = reason.split_once(" [") {
        let head = head.strip_suffix(')').unwrap_or(head);
        if call.starts_with(head) {
            return format!("-> blocks [{detail}");
        }
    }
    format!("-> blocks: {reason}")
}

/// `Producer[0]@8` -> `Producer[0]`; `kernel slot (message 4)` -> `kernel slot`.
/// The address and the message number are noise in the timeline (the
/// message line next to the copy names the message; JSON keeps both).
fn copy_end(end: &str) -> &str {
    if end.starts_with("kernel slot") {
        return "kernel slot";
    }
    match end.rsplit_once('@') {
        Some((name, addr)) if !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => end,
    }
}

fn tag_text(tag: u32) -> String {
    if tag == 0 {
        String::new()
    } else {
        format!(", tag {tag}")
    }
}

/// The `···` line for steps not shown, with what happened in them.
fn elision(steps: &[Step], labels: &[String], painter: &Painter, layout: &Layout) -> String {
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return String::new();
    };
    let mut calls = 0u64;
    let mut delivered = 0u64;
    let mut blocks = 0u64;
    let mut produced = vec![0u64; labels.len()];
    let mut consumed = vec![0u64; labels.len()];
    let index = |name: &str| labels.iter().position(|l| l == name);
    for event in steps.iter().flat_map(|s| &s.events) {
        match event {
            TraceEvent::Syscall { .. } => calls += 1,
            TraceEvent::Deliver { .. } => delivered += 1,
            TraceEvent::Block { .. } => blocks += 1,
            TraceEvent::Produce { process, .. } => {
                if let Some(k) = index(process) {
                    produced[k] += 1;
                }
            }
            TraceEvent::Consume { process, .. } => {
                if let Some(k) = index(process) {
                    consumed[k] += 1;
                }
            }
            _ => {}
        }
    }
    let indent = " ".repeat(layout.prefix());
    let mut out = String::new();
    let shown = format!(
        "{}{} steps not shown: steps {}–{}, ticks {}–{}",
        layout.in_prefix("···"),
        steps.len(),
        first.step,
        last.step,
        first.tick,
        last.tick
    );
    for line in wrap(&shown, layout.width, &indent) {
        out.push_str(&painter.paint(Style::Elided, &line));
        out.push('\n');
    }
    let mut summary = format!(
        "{indent}in them: {}, {} delivered, {}",
        plural(calls, "call"),
        plural(delivered, "message"),
        plural(blocks, "block")
    );
    let items: Vec<String> = labels
        .iter()
        .enumerate()
        .filter_map(|(k, label)| match (produced[k], consumed[k]) {
            (0, 0) => None,
            (p, 0) => Some(format!("{label} produced {p}")),
            (0, c) => Some(format!("{label} consumed {c}")),
            (p, c) => Some(format!("{label} produced {p}, consumed {c}")),
        })
        .collect();
    if !items.is_empty() {
        summary.push_str("; ");
        summary.push_str(&items.join(", "));
    }
    for line in wrap(&summary, layout.width, &indent) {
        out.push_str(&painter.paint(Style::Elided, &line));
        out.push('\n');
    }
    out.push_str(&painter.paint(Style::Elided, layout.in_prefix("···").trim_end()));
    out.push('\n');
    out
}

/// `1 call`, `2 calls`.
fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `step tick ` prefix of a run of at most five-digit numbers.
    const PREFIX: usize = 2 * NUMBER_COLUMN + 2;

    #[test]
    fn four_processes_fit_eighty_columns() {
        let column = column_width(4, 80, PREFIX);
        assert!(PREFIX + 4 * (column + 1) <= 81, "column {column}");
        assert!(column >= MIN_COLUMN);
    }

    #[test]
    fn many_processes_widen_rather_than_vanish() {
        assert_eq!(column_width(12, 80, PREFIX), MIN_COLUMN);
    }

    #[test]
    fn blocked_cells_keep_the_call_and_drop_the_detail() {
        let (text, _) = cell(
            &ProcView::Blocked {
                reason: "send(consMbox) [full 4/4]".into(),
            },
            20,
        );
        assert_eq!(text, "BLK send(consMbox)");
        let (text, _) = cell(
            &ProcView::Blocked {
                reason: "send(consMbox) [full 4/4]".into(),
            },
            16,
        );
        assert_eq!(text, "BLK send(consMb…");
    }

    #[test]
    fn a_block_that_repeats_the_call_shows_only_its_detail() {
        assert_eq!(
            blocks_text(
                "send(consMbox, 8 bytes, tag 0)",
                "send(consMbox) [full 4/4]"
            ),
            "-> blocks [full 4/4]"
        );
        assert_eq!(
            blocks_text("recv(ANY, cap 8)", "sleep [until tick 3]"),
            "-> blocks: sleep [until tick 3]"
        );
    }

    #[test]
    fn copy_ends_lose_addresses() {
        assert_eq!(copy_end("Producer[0]@8"), "Producer[0]");
        assert_eq!(copy_end("kernel slot (message 4)"), "kernel slot");
        assert_eq!(copy_end("odd@name"), "odd@name");
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // one range: a run shown whole
    fn a_marked_step_is_shown_inside_an_elided_stretch() {
        let options = TimelineOptions::default();
        let shown = with_marked(shown_ranges(1000, &options), &[500], 1000);
        assert_eq!(shown, vec![0..24, 497..501, 992..1000]);
        let shown = with_marked(shown_ranges(1000, &options), &[25], 1000);
        assert_eq!(shown, vec![0..26, 992..1000]);
        assert_eq!(with_marked(vec![0..3], &[3], 3), vec![0..3]);
    }

    #[test]
    fn short_runs_are_not_elided() {
        let options = TimelineOptions::default();
        assert_eq!(shown_ranges(30, &options), vec![0..30]);
        assert_eq!(shown_ranges(1000, &options), vec![0..24, 992..1000]);
    }
}
