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
        // Neither a proof nor a certain counterexample: a bound stopped
        // the search, or the answer rests on clock() reading 0.
        Ok(r) if !r.is_certain() => "no answer".into(),
        // Every kind found at this setting, not only the first.
        Ok(r) => r.answers(),
        // The setting cannot be booted (the table says why).
        Err(_) => "not checked".into(),
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
    let summary = summarise(key, &rows, top);
    Ok(SweepReport { key, rows, summary })
}

/// The summary line: what the table shows. A scenario that fails at the
/// lowest settings and is safe from some setting up gets its bound when
/// the table starts at 0 and the last failing setting is right below the
/// first safe one ("deadlocks only when the kernel buffer holds fewer than
/// 3 messages"), with the settings that the table did not check named
/// ("..., of the settings checked (2 and 5 to 63 not checked)": one
/// between two failing settings may be safe, and a program that tests
/// whether its sends were buffered can fail again with more room); else
/// the settings it failed and was safe at, and those below the first safe
/// one it cannot tell of. Any other table:
/// each answer with its settings.
fn summarise(key: SweepKey, rows: &[SweepRow], top: u64) -> String {
    let answers: Vec<String> = rows.iter().map(answer).collect();
    let Some(first) = answers.first() else {
        return "no setting checked".to_string();
    };
    let number = |v: SweepValue| match v {
        SweepValue::Value(n) => n,
        SweepValue::Infinite => top,
    };
    let unit = |v: u64| match (key, v) {
        (SweepKey::Buffer, 1) => "message",
        (SweepKey::Buffer, _) => "messages",
        (SweepKey::Eager, 1) => "byte",
        (SweepKey::Eager, _) => "bytes",
    };
    let settings = |rows: &[&SweepRow]| {
        let numbers: Vec<u64> = rows
            .iter()
            .filter_map(|r| match r.value {
                SweepValue::Value(n) => Some(n),
                SweepValue::Infinite => None,
            })
            .collect();
        let mut parts = runs(&numbers);
        if rows.iter().any(|r| r.value == SweepValue::Infinite) {
            parts.push(format!("inf ({top} {})", unit(top)));
        }
        join_and(&parts)
    };
    if answers.iter().all(|a| a == first) {
        // Of the settings checked only: another may answer otherwise.
        let all: Vec<&SweepRow> = rows.iter().collect();
        if matches!(first.as_str(), "not checked" | "no answer") {
            return format!("{first} at {}", settings(&all));
        }
        return format!("{first} at every setting checked: {}", settings(&all));
    }
    let violation = !matches!(first.as_str(), "safe" | "no answer" | "not checked");
    let first_safe = answers.iter().position(|a| a == "safe");
    if let Some(s) = first_safe.filter(|&s| {
        violation
            && answers[..s].iter().all(|a| a == first)
            && answers[s..].iter().all(|a| a == "safe")
    }) {
        let bound = number(rows[s].value);
        let lowest = number(rows[0].value);
        let last_failing = number(rows[s - 1].value);
        let checked: Vec<u64> = rows.iter().map(|r| number(r.value)).collect();
        // Where the table cannot tell where the bound lies: below its
        // lowest setting, and between the last failing setting and the
        // first safe one.
        let bound_unsure = lowest > 0 || last_failing + 1 < bound;
        // Every setting below the first safe one it did not check (a gap
        // between failing ones too: a program may be safe there), and
        // those above it: a program that tests whether its sends were
        // buffered can fail again with more room.
        let unchecked: Vec<u64> = (0..bound).filter(|v| !checked.contains(v)).collect();
        let unchecked_above: Vec<u64> =
            (bound + 1..=top).filter(|v| !checked.contains(v)).collect();
        let what = match key {
            SweepKey::Buffer => "the kernel buffer holds fewer than",
            SweepKey::Eager => "the eager limit is below",
        };
        if !bound_unsure {
            let claim = format!("{} only when {what} {bound} {}", verb(first), unit(bound));
            let not_checked: Vec<u64> = unchecked.into_iter().chain(unchecked_above).collect();
            if not_checked.is_empty() {
                return claim;
            }
            return format!(
                "{claim}, of the settings checked ({} not checked)",
                join_and(&runs(&not_checked))
            );
        }
        let (below, above): (Vec<&SweepRow>, Vec<&SweepRow>) =
            rows.iter().partition(|r| number(r.value) < bound);
        let nor_above = if unchecked_above.is_empty() {
            String::new()
        } else {
            format!(", nor {}", join_and(&runs(&unchecked_above)))
        };
        return format!(
            "{} at {}, safe at {}; {} not checked (sweep {} for the exact bound){nor_above}",
            verb(first),
            settings(&below),
            settings(&above),
            join_and(&runs(&unchecked)),
            if unchecked.len() == 1 { "it" } else { "them" }
        );
    }
    // Each answer, in the order the table first shows it, with its settings.
    let mut seen: Vec<&String> = Vec::new();
    for a in &answers {
        if !seen.contains(&a) {
            seen.push(a);
        }
    }
    seen.iter()
        .map(|a| {
            let at: Vec<&SweepRow> = rows
                .iter()
                .zip(&answers)
                .filter(|(_, b)| b == a)
                .map(|(r, _)| r)
                .collect();
            format!("{a} at {}", settings(&at))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sorted numbers as runs: `0 to 2`, single ones and pairs as they are.
fn runs(numbers: &[u64]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            parts.push(format!("{} to {}", numbers[i], numbers[j]));
        } else {
            parts.extend(numbers[i..=j].iter().map(u64::to_string));
        }
        i = j + 1;
    }
    parts
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The answer of a row as a verb: `deadlocks`, `deadlocks and blocks
/// forever` for a row that found both.
fn verb(answer: &str) -> String {
    let verbs: Vec<String> = answer
        .split(", ")
        .map(|kind| match kind {
            "deadlock" => "deadlocks".into(),
            "starvation" => "starves".into(),
            "blocked_forever" => "blocks forever".into(),
            other => format!("fails ({other})"),
        })
        .collect();
    join_and(&verbs)
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
        // As wide as the longest answer (a row may find several kinds).
        let width = self
            .rows
            .iter()
            .map(|row| answer(row).len())
            .max()
            .unwrap_or(0)
            .max(18);
        writeln!(f, "{key:>8}  {:<width$} {:>10}  search", "answer", "states")?;
        for row in &self.rows {
            match &row.report {
                Ok(r) => writeln!(
                    f,
                    "{:>8}  {:<width$} {:>10}  {}",
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
