//! Schedules: the list of choices a counterexample makes, and its short, stable text form.
//!
//! ```text
//! ipclab-schedule 1
//! # any comment line
//! 0 1 2 2 t1 0
//! | 1 2 2
//! ```
//!
//! The first line names the format and its version. Then tokens separated
//! by white space: `K` runs instance `K` for one step (instance numbers as
//! in the scenario: declaration order, then index); `tK` fires instance
//! `K`'s timer (its blocked call times out, or its sleep ends). A `|`
//! starts the cycle of a lasso (a starvation witness): the choices after it
//! repeat forever. Lines starting with `#` are comments.

use std::fmt;

/// One choice of the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Choice {
    /// Run instance `k` for one step.
    Run(usize),
    /// Fire instance `k`'s timer.
    Timer(usize),
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Choice::Run(k) => write!(f, "{k}"),
            Choice::Timer(k) => write!(f, "t{k}"),
        }
    }
}

/// A schedule: a prefix of choices, and for a lasso a cycle repeated forever.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    pub prefix: Vec<Choice>,
    /// Empty unless the schedule is a lasso.
    pub cycle: Vec<Choice>,
    /// Comment lines (without `# `), kept for people.
    pub comments: Vec<String>,
}

/// The first line of every schedule file.
pub const HEADER: &str = "ipclab-schedule 1";

/// `-D N=3 -D M=1`: the overrides a schedule was made with, as its
/// `# overrides:` comment writes them (and `replay` compares them).
pub fn overrides_text(overrides: &[(String, i64)]) -> String {
    overrides
        .iter()
        .map(|(name, value)| format!("-D {name}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text that is not a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A token may hold any byte of the file: none reaches the terminal raw.
        write!(
            f,
            "not an ipclab schedule: {}",
            crate::render::style::escape_controls(&self.0)
        )
    }
}

impl std::error::Error for ParseError {}

impl Schedule {
    /// Is it a lasso?
    pub fn is_lasso(&self) -> bool {
        !self.cycle.is_empty()
    }

    /// The choices to replay: the prefix, then the cycle `repeat` times.
    pub fn unrolled(&self, repeat: usize) -> Vec<Choice> {
        let mut all = self.prefix.clone();
        for _ in 0..repeat {
            all.extend_from_slice(&self.cycle);
        }
        all
    }

    /// Parses the text form.
    ///
    /// # Errors
    /// A missing or unknown header, an unknown token, a second `|`.
    pub fn parse(text: &str) -> Result<Schedule, ParseError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        match lines.next() {
            Some(HEADER) => {}
            Some(other) => {
                return Err(ParseError(format!(
                    "the first line is `{}`, expected `{HEADER}`",
                    quoted(other)
                )))
            }
            None => return Err(ParseError("the text is empty".into())),
        }
        let mut schedule = Schedule::default();
        let mut in_cycle = false;
        for line in lines {
            if let Some(comment) = line.strip_prefix('#') {
                schedule.comments.push(comment.trim().to_string());
                continue;
            }
            for token in line.split_whitespace() {
                if token == "|" {
                    if in_cycle {
                        return Err(ParseError("a second `|`".into()));
                    }
                    in_cycle = true;
                    continue;
                }
                let choice = match token.strip_prefix('t') {
                    Some(k) => k.parse().map(Choice::Timer),
                    None => token.parse().map(Choice::Run),
                }
                .map_err(|_| {
                    ParseError(format!(
                        "`{}` is neither an instance number nor tK (fire K's timer)",
                        quoted(token)
                    ))
                })?;
                if in_cycle {
                    schedule.cycle.push(choice);
                } else {
                    schedule.prefix.push(choice);
                }
            }
        }
        if in_cycle && schedule.cycle.is_empty() {
            return Err(ParseError("`|` with no cycle after it".into()));
        }
        Ok(schedule)
    }
}

/// The most characters of the input an error quotes.
const QUOTE_CHARS: usize = 40;

/// `text` as an error quotes it: at most [`QUOTE_CHARS`] characters, so a
/// line of a binary or huge file never floods the terminal.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

impl fmt::Display for Schedule {
    /// The text form: header, comments, the prefix on one line, `| cycle`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{HEADER}")?;
        for c in &self.comments {
            writeln!(f, "# {c}")?;
        }
        let words: Vec<String> = self.prefix.iter().map(Choice::to_string).collect();
        writeln!(f, "{}", words.join(" "))?;
        if self.is_lasso() {
            let words: Vec<String> = self.cycle.iter().map(Choice::to_string).collect();
            writeln!(f, "| {}", words.join(" "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_survives_its_text_form() {
        let s = Schedule {
            prefix: vec![Choice::Run(0), Choice::Run(1), Choice::Timer(1)],
            cycle: vec![Choice::Run(2), Choice::Run(2)],
            comments: vec!["kind: starvation".into()],
        };
        let text = s.to_string();
        assert_eq!(
            text,
            "ipclab-schedule 1\n# kind: starvation\n0 1 t1\n| 2 2\n"
        );
        assert_eq!(Schedule::parse(&text), Ok(s));
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(Schedule::parse("").is_err());
        assert!(Schedule::parse("ipclab-schedule 2\n0").is_err());
        assert!(Schedule::parse("ipclab-schedule 1\n0 x").is_err());
        assert!(Schedule::parse("ipclab-schedule 1\n0 | 1 | 2").is_err());
    }

    #[test]
    fn an_error_quotes_a_long_line_cut_short() {
        let junk = "x".repeat(100_000);
        let error = Schedule::parse(&junk).unwrap_err().to_string();
        assert!(error.len() < 200, "{error}");
        assert!(
            error.contains(&format!("`{}...`", "x".repeat(40))),
            "{error}"
        );
        let error = Schedule::parse(&format!("{HEADER}\n0 {junk}"))
            .unwrap_err()
            .to_string();
        assert!(error.len() < 200, "{error}");
    }
}
