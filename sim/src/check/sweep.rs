//! Buffering sensitivity: the same check at several kernel buffer sizes (or eager limits), in one table.

use std::fmt;

use super::{check, CheckOptions, CheckReport};
use crate::lang::{compile, Program};

/// The kernel option a sweep varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepKey {
    /// `buffer_slots` (the kernel buffer, in messages).
    Buffer,
    /// `eager_limit` (the slot size, in bytes).
    Eager,
}

/// One setting: a number, or the kernel's maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepValue {
    Value(u64),
    Infinite,
}

impl SweepValue {
    /// Parses `3` or `inf`.
    pub fn parse(text: &str) -> Option<SweepValue> {
        match text.trim() {
            "inf" | "infinite" | "max" => Some(SweepValue::Infinite),
            n => n.parse().ok().map(SweepValue::Value),
        }
    }
}

impl fmt::Display for SweepValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweepValue::Value(v) => write!(f, "{v}"),
            SweepValue::Infinite => f.write_str("inf"),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct SweepRow {
    pub value: SweepValue,
    /// The check at this setting, or why it could not run.
    pub report: Result<CheckReport, String>,
}

/// The table and its one-line summary.
#[derive(Clone, Debug)]
pub struct SweepReport {
    pub key: SweepKey,
    pub rows: Vec<SweepRow>,
    pub summary: String,
}

/// The row's answer in one word: `safe` only for a proof.
fn answer(row: &SweepRow) -> String {
    match &row.report {
        Ok(r) if r.findings.is_empty() && !r.is_exhaustive() => "no answer".into(),
        Ok(r) => r.answer().to_string(),
        Err(_) => "error".into(),
    }
}

/// Checks `source` once per value of `key` and summarises.
///
/// # Errors
/// The source does not compile (the diagnostics, rendered).
pub fn sweep(
    source: &[u8],
    file: &str,
    overrides: &[(String, i64)],
    key: SweepKey,
    values: &[SweepValue],
    options: &CheckOptions,
) -> Result<SweepReport, String> {
    let base = compile(file, source, overrides).map_err(|d| d.to_string())?;
    // In increasing order, each once: the summary reads the table from the
    // smallest setting up, whatever order they were given in.
    let mut values = values.to_vec();
    values.sort_by_key(|v| match v {
        SweepValue::Value(n) => (0, *n),
        SweepValue::Infinite => (1, 0),
    });
    values.dedup();
    // `inf` is the kernel's largest setting: that number too is one row.
    let top = match key {
        SweepKey::Buffer => ipclab_kernel::config::MAX_SLOTS as u64,
        SweepKey::Eager => ipclab_kernel::config::MAX_EAGER_LIMIT as u64,
    };
    if values.contains(&SweepValue::Infinite) {
        values.retain(|v| *v != SweepValue::Value(top));
    }
    let rows: Vec<SweepRow> = values
        .iter()
        .map(|&value| SweepRow {
            value,
            report: check(&configure(&base, key, value), options).map_err(|e| e.0),
        })
        .collect();
    let what = match key {
        SweepKey::Buffer => "the kernel buffer holds fewer than",
        SweepKey::Eager => "the eager limit is below",
    };
    let unit = |v: u64| match (key, v) {
        (SweepKey::Buffer, 1) => "message",
        (SweepKey::Buffer, _) => "messages",
        (SweepKey::Eager, 1) => "byte",
        (SweepKey::Eager, _) => "bytes",
    };
    let answers: Vec<String> = rows.iter().map(answer).collect();
    let summary = if answers.iter().all(|a| a == "safe") {
        "safe at every setting".to_string()
    } else if answers.iter().all(|a| a == &answers[0]) {
        format!("{} at every setting", answers[0])
    } else if let Some(first_safe) = answers.iter().position(|a| a == "safe") {
        let unsafe_below = answers[..first_safe].iter().all(|a| a != "safe")
            && answers[first_safe..].iter().all(|a| a == "safe");
        let last_unsafe = first_safe.checked_sub(1).map(|i| rows[i].value);
        match (unsafe_below, last_unsafe, rows[first_safe].value) {
            // Adjacent settings: the bound is exact.
            (true, Some(SweepValue::Value(below)), SweepValue::Value(v)) if below + 1 == v => {
                format!("{} only when {what} {v} {}", verb(&answers[0]), unit(v))
            }
            // A gap: say only what was checked.
            (true, Some(SweepValue::Value(below)), SweepValue::Value(v)) => format!(
                "{} at {below} and below, safe at {v} and above; {} not checked \
                 (sweep {} for the exact bound)",
                verb(&answers[0]),
                if below + 2 == v {
                    format!("{}", below + 1)
                } else {
                    format!("{} to {}", below + 1, v - 1)
                },
                if below + 2 == v { "it" } else { "them" }
            ),
            // Safe only at `inf`, the kernel's largest setting: a gap too,
            // unless `inf` is right above the last unsafe value.
            (true, Some(SweepValue::Value(below)), SweepValue::Infinite) => {
                if below + 1 >= top {
                    format!("{} only when {what} {top} {}", verb(&answers[0]), unit(top))
                } else {
                    format!(
                        "{} at {below} and below, safe at inf ({top} {}); {} to {} not checked \
                         (sweep them for the exact bound)",
                        verb(&answers[0]),
                        unit(top),
                        below + 1,
                        top - 1
                    )
                }
            }
            _ => "depends on the setting (see the table)".to_string(),
        }
    } else {
        "unsafe at every setting".to_string()
    };
    Ok(SweepReport { key, rows, summary })
}

fn verb(answer: &str) -> String {
    match answer {
        "deadlock" => "deadlocks".into(),
        "starvation" => "starves".into(),
        "blocked_forever" => "blocks forever".into(),
        other => format!("fails ({other})"),
    }
}

/// The program with `key` set to `value`. A buffer sweep also lifts
/// `mailbox_quota` (unless the scenario sets it) to the largest declared
/// capacity, so that the scenario still boots at small buffers: a mailbox
/// then holds at most `min(capacity, buffer)` messages.
fn configure(base: &Program, key: SweepKey, value: SweepValue) -> Program {
    let mut program = base.clone();
    match key {
        SweepKey::Buffer => {
            let v = match value {
                SweepValue::Value(v) => v,
                SweepValue::Infinite => ipclab_kernel::config::MAX_SLOTS as u64,
            };
            program.kernel.buffer_slots = Some(v);
            if base.kernel.mailbox_quota.is_none() {
                let largest = base.mailboxes.iter().map(|m| m.capacity).max().unwrap_or(0);
                program.kernel.mailbox_quota = Some(largest.max(v));
            }
        }
        SweepKey::Eager => {
            program.kernel.eager_limit = Some(match value {
                SweepValue::Value(v) => v,
                SweepValue::Infinite => ipclab_kernel::config::MAX_EAGER_LIMIT as u64,
            });
        }
    }
    program
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match self.key {
            SweepKey::Buffer => "buffer",
            SweepKey::Eager => "eager",
        };
        writeln!(f, "{key:>8}  {:<18} {:>10}  search", "answer", "states")?;
        for row in &self.rows {
            match &row.report {
                Ok(r) => writeln!(
                    f,
                    "{:>8}  {:<18} {:>10}  {}",
                    row.value.to_string(),
                    answer(row),
                    r.stats.states,
                    match (r.bound, r.clock_used_at) {
                        (Some(b), _) => format!("bound reached: {b}"),
                        (None, Some(line)) => {
                            format!("space exhausted, clock() at 0 (line {line}): no proof")
                        }
                        (None, None) => "space exhausted".to_string(),
                    }
                )?,
                Err(e) => writeln!(f, "{:>8}  error: {e}", row.value.to_string())?,
            }
        }
        writeln!(f, "{}", self.summary)
    }
}
