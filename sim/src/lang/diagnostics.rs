//! Compile errors of the scenario language: a place in the source, a message, a hint, rendered with miette.
//!
//! Every error the compiler finds becomes one [`Diagnostic`]. They are
//! collected into [`Diagnostics`], which renders them as miette reports
//! (file, line, column, a caret under the offending text, and a `help:`
//! line), with or without colour.

use std::borrow::Cow;
use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use super::Span;
use crate::render::style::escape_controls;

/// One compile error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where (absent for errors about the command line, such as an unknown override).
    pub span: Option<Span>,
    /// The text under the caret.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// 1-based line of the span start (0 when there is no span).
    pub line: usize,
    /// 1-based column (in characters) of the span start (0 when there is no span).
    pub column: usize,
}

impl Diagnostic {
    /// An error at `span` (line and column are filled in by [`Diagnostics`]).
    pub(crate) fn at(
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: Some(span),
            label: label.into(),
            help: None,
            line: 0,
            column: 0,
        }
    }

    /// An error with no place in the source.
    pub(crate) fn nowhere(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
            line: 0,
            column: 0,
        }
    }

    /// Adds a hint.
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// The errors of one compilation, with the source they point into.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    /// The file name shown in reports.
    pub file_name: String,
    /// The source text (invalid UTF-8 replaced by U+FFFD).
    pub source: String,
    /// The errors, in file order, at most
    /// [`MAX_SHOWN_ERRORS`] of them; never empty.
    pub errors: Vec<Diagnostic>,
    /// How many more were found and left out.
    pub omitted: usize,
}

/// The errors a compilation keeps and shows: the first ones. A file of
/// fifty thousand duplicate declarations has fifty thousand errors, and
/// each report lays out the source around its line: all of them would
/// take hours to print and nobody reads past the first screens.
pub const MAX_SHOWN_ERRORS: usize = 20;

impl Diagnostics {
    /// Wraps errors found in `source`, computing their lines and columns.
    pub(crate) fn new(file_name: &str, source: &str, mut errors: Vec<Diagnostic>) -> Diagnostics {
        if errors.is_empty() {
            // A caller bug, but an empty error list must still say something.
            errors.push(Diagnostic::nowhere("compilation failed"));
        }
        // In file order, as a reader fixes them, whichever pass found each
        // (the `expect` line is checked before the bodies); errors with no
        // place (a `-D` override) first. The sort is stable.
        errors.sort_by_key(|e| e.span.map(|s| s.start));
        let omitted = errors.len().saturating_sub(MAX_SHOWN_ERRORS);
        errors.truncate(MAX_SHOWN_ERRORS);
        for error in &mut errors {
            if let Some(span) = error.span {
                let span = span.clamped(source.len());
                error.span = Some(span);
                let (line, column) = line_col(source, span.start as usize);
                error.line = line;
                error.column = column;
            }
        }
        Diagnostics {
            file_name: file_name.to_string(),
            source: source.to_string(),
            errors,
            omitted,
        }
    }

    /// The first error as one line: `file:line:col: message`.
    pub fn first_message(&self) -> String {
        match self.errors.first() {
            Some(error) => self.one_line(error),
            None => format!("{}: compilation failed", self.file_name),
        }
    }

    fn one_line(&self, error: &Diagnostic) -> String {
        if error.span.is_some() {
            format!(
                "{}:{}:{}: {}",
                self.file_name, error.line, error.column, error.message
            )
        } else {
            format!("{}: {}", self.file_name, error.message)
        }
    }

    /// Renders every error as a miette report; `color` selects ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(80);
        let mut out = String::new();
        for error in &self.errors {
            let mut shown = error.clone();
            let text = match error.span {
                Some(span) => {
                    let (text, span) = display_source(&self.source, span);
                    shown.span = Some(span);
                    text
                }
                None => String::new(),
            };
            let report = Report {
                title: self.one_line(error),
                error: &shown,
                source: Shown {
                    text: NamedSource::new(&self.file_name, text),
                    line: error.line,
                    column: error.column,
                },
            };
            if handler.render_report(&mut out, &report).is_err() {
                // Rendering only fails on a formatter error; fall back to one line.
                out.push_str(&report.title);
                out.push('\n');
            }
        }
        if self.omitted > 0 {
            out.push_str(&format!(
                "... and {} more error{} in {}, not shown: fix these first\n",
                self.omitted,
                if self.omitted == 1 { "" } else { "s" },
                self.file_name
            ));
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

/// The longest line a report shows whole; longer lines are cut around the caret.
const SHOWN_LINE_BYTES: usize = 160;

/// The source as a report shows it: lines longer than [`SHOWN_LINE_BYTES`]
/// are cut to a window (around the span on its own line), control
/// characters are written out ([`visible`]), and the span is moved to
/// match. Line numbers stay right because no line is removed; the cut also
/// keeps miette's layout arithmetic within its limits (it cannot lay out
/// lines tens of thousands of characters wide).
fn display_source(source: &str, span: Span) -> (String, Span) {
    // miette breaks lines at `\n` only; a lone `\r` (old Mac line ends) is
    // a break too. One byte for one byte, so every span still fits.
    let source = &*lone_returns_as_newlines(source);
    let span = span.clamped(source.len());
    let (span_start, span_end) = (span.start as usize, span.end as usize);
    let mut shown = String::with_capacity(source.len().min(1 << 20));
    let (mut new_start, mut new_end) = (0, 0);
    let mut found_start = false;
    let mut line_start = 0;
    for line in source.split_inclusive('\n') {
        let line_end = line_start + line.len();
        // miette ends a line at `\r\n` as at `\n`: neither is content.
        let ending = ["\r\n", "\n"]
            .into_iter()
            .find(|e| line.ends_with(e))
            .unwrap_or("");
        let content = &line[..line.len() - ending.len()];
        let in_line = |offset: usize| offset >= line_start && offset <= line_start + content.len();
        let (window_start, window_end) = if content.len() <= SHOWN_LINE_BYTES {
            (0, content.len())
        } else {
            let anchor = if in_line(span_start) {
                (span_start - line_start).saturating_sub(SHOWN_LINE_BYTES / 2)
            } else {
                0
            };
            let start = floor_boundary(content, anchor);
            let end = floor_boundary(content, (start + SHOWN_LINE_BYTES).min(content.len()));
            (start, end)
        };
        let prefix = if window_start > 0 { "…" } else { "" };
        let base = shown.len() + prefix.len();
        let map = |offset: usize| {
            let relative = (offset - line_start).clamp(window_start, window_end);
            let relative = floor_boundary(content, relative);
            base + visible(&content[window_start..relative]).len()
        };
        if !found_start && in_line(span_start) {
            found_start = true;
            new_start = map(span_start);
            new_end = new_start;
        }
        if found_start && in_line(span_end) {
            new_end = map(span_end).max(new_start);
        }
        shown.push_str(prefix);
        shown.push_str(&visible(&content[window_start..window_end]));
        if window_end < content.len() {
            shown.push('…');
        }
        shown.push_str(ending);
        line_start = line_end;
    }
    if source.is_empty() || span_start >= source.len() {
        new_start = shown.len();
        new_end = shown.len();
    }
    (shown, Span::new(new_start, new_end))
}

/// `text` with its control characters written out as the timeline writes
/// them (`\e`, `\x07`, [`escape_controls`]), tabs excepted: miette lays
/// tabs out itself. Raw, an ESC in the source would reach the terminal (the
/// start of an escape sequence), and a character that takes no column
/// would pull the caret off the text it points at.
fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(text);
    }
    let pieces: Vec<String> = text.split('\t').map(escape_controls).collect();
    Cow::Owned(pieces.join("\t"))
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The Levenshtein distance between two strings, by characters: how far a
/// name written is from a known one, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// 1-based line and character column of byte offset `offset` in `source`.
/// A line ends at `\n`, `\r\n` or a lone `\r` (old Mac files), as an
/// editor shows it.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let bytes = source.as_bytes();
    let mut line = 1;
    let mut line_start = 0;
    for (at, &byte) in bytes[..offset].iter().enumerate() {
        let lone_return = byte == b'\r' && bytes.get(at + 1) != Some(&b'\n');
        if byte == b'\n' || lone_return {
            line += 1;
            line_start = at + 1;
        }
    }
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Where each line of a source starts: [`line_col`] by a binary search
/// instead of a scan from the start (a listing or a recorded run asks once
/// per instruction or step, and a source may be megabytes long).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LineIndex {
    /// The byte offset of every line's start; the first is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    /// The line starts of `source`: after every `\n`, and after every
    /// `\r` that no `\n` follows, as [`line_col`] counts them.
    pub fn new(source: &str) -> LineIndex {
        let bytes = source.as_bytes();
        let mut starts = vec![0];
        for (at, &byte) in bytes.iter().enumerate() {
            let lone_return = byte == b'\r' && bytes.get(at + 1) != Some(&b'\n');
            if byte == b'\n' || lone_return {
                starts.push(at + 1);
            }
        }
        LineIndex { starts }
    }

    /// The 1-based line and column (in characters) of byte `offset` of
    /// `source` (the source this index was made of): as [`line_col`].
    pub fn line_col(&self, source: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        // The last start at or before the offset. A start equal to the
        // offset begins the line the offset is on.
        let line = self.starts.partition_point(|&start| start <= offset).max(1);
        let line_start = self.starts.get(line - 1).copied().unwrap_or(0).min(offset);
        let column = source[line_start..offset].chars().count() + 1;
        (line, column)
    }
}

/// `source` with every `\r` that no `\n` follows replaced by `\n`: the
/// same bytes at the same offsets, with the line breaks miette sees.
fn lone_returns_as_newlines(source: &str) -> Cow<'_, str> {
    let bytes = source.as_bytes();
    let lone = |at: usize| bytes[at] == b'\r' && bytes.get(at + 1) != Some(&b'\n');
    if !(0..bytes.len()).any(lone) {
        return Cow::Borrowed(source);
    }
    let replaced: Vec<u8> = (0..bytes.len())
        .map(|at| if lone(at) { b'\n' } else { bytes[at] })
        .collect();
    // Only ASCII bytes changed, so the text is still UTF-8.
    Cow::Owned(String::from_utf8(replaced).unwrap_or_else(|_| source.to_string()))
}

/// The names of `known` closest to `name` (at most three, nearest first),
/// for "did you mean" hints. Case is ignored, and so is an `MPI_` prefix
/// that MPI's names share; two swapped neighbours (`sned`) count as one
/// edit. Close means within one edit per four characters (at least one)
/// and fewer edits than the name has characters, so `MPI_ANY_SOURCES`
/// finds `MPI_ANY_SOURCE`, `buffer_slot` finds `buffer_slots`, and
/// neither `MPI_REQ` nor `X` finds anything.
pub(crate) fn closest<'k>(name: &str, known: &[&'k str]) -> Vec<&'k str> {
    let rest = |n: &str| {
        let upper = n.to_ascii_uppercase();
        upper
            .strip_prefix("MPI_")
            .map_or(upper.clone(), str::to_string)
    };
    let wanted = rest(name);
    let length = wanted.chars().count();
    let limit = (length / 4).max(1);
    let mut close: Vec<(usize, &str)> = known
        .iter()
        .filter(|k| **k != name)
        .map(|k| (distance(&wanted, &rest(k)), *k))
        .filter(|(distance, _)| *distance <= limit && *distance < length)
        .collect();
    close.sort_by_key(|(distance, _)| *distance);
    close.dedup_by_key(|(_, k)| *k);
    close.into_iter().take(3).map(|(_, k)| k).collect()
}

/// [`edit_distance`], except that one swap of two neighbouring characters
/// is one edit: the commonest slip of the fingers.
fn distance(a: &str, b: &str) -> usize {
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let differing: Vec<usize> = (0..x.len().min(y.len()))
        .filter(|&i| x[i] != y[i])
        .collect();
    let swapped = x.len() == y.len()
        && differing.len() == 2
        && differing[1] == differing[0] + 1
        && x[differing[0]] == y[differing[1]]
        && x[differing[1]] == y[differing[0]];
    if swapped {
        1
    } else {
        edit_distance(a, b)
    }
}

/// "`A`", "`A` or `B`", "`A`, `B` or `C`".
pub(crate) fn quoted_alternatives(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// "did you mean `send`? " when a name of `known` is close to `name`
/// ([`closest`]), else nothing: the start of a hint that goes on to list
/// what is known.
pub(crate) fn did_you_mean(name: &str, known: &[&str]) -> String {
    let close = closest(name, known);
    if close.is_empty() {
        String::new()
    } else {
        format!("did you mean {}? ", quoted_alternatives(&close))
    }
}

/// A miette view of one [`Diagnostic`].
struct Report<'a> {
    title: String,
    error: &'a Diagnostic,
    source: Shown,
}

/// The source as shown ([`display_source`]), with the error's place in
/// the real source: miette heads the snippet with the line and column of
/// the span it reads alone, which in a line cut to a window would count
/// from the cut.
struct Shown {
    text: NamedSource<String>,
    /// 1-based, in the real source.
    line: usize,
    column: usize,
}

impl miette::SourceCode for Shown {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents = self.text.read_span(span, before, after)?;
        if before > 0 || after > 0 || self.line == 0 {
            return Ok(contents);
        }
        // The span alone: the header's place.
        Ok(Box::new(miette::MietteSpanContents::new_named(
            contents.name().unwrap_or_default().to_string(),
            contents.data(),
            *contents.span(),
            self.line - 1,
            self.column.saturating_sub(1),
            contents.line_count(),
        )))
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.error
            .help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.error
            .span
            .map(|_| &self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.error.span?;
        let source_span = SourceSpan::new(
            (span.start as usize).into(),
            (span.end - span.start) as usize,
        );
        let label = if self.error.label.is_empty() {
            None
        } else {
            Some(self.error.label.clone())
        };
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            label,
            source_span,
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("credit", "credit"), 0);
        assert_eq!(edit_distance("credit", "credits"), 1);
        assert_eq!(edit_distance("cerdit", "credit"), 2);
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_col("é x", 3), (1, 3));
        assert_eq!(line_col("é x", 1), (1, 1));
        assert_eq!(line_col("a\nbc", 4), (2, 3));
        assert_eq!(line_col("", 10), (1, 1));
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line_and_crlf_is_one_break() {
        assert_eq!(line_col("a\rbc", 4), (2, 3));
        assert_eq!(line_col("a\r\nbc", 5), (2, 3));
        assert_eq!(line_col("a\r\r\nb", 4), (3, 1));
    }

    #[test]
    fn the_line_index_agrees_with_the_scan_at_every_offset() {
        for source in [
            "",
            "a\nbc",
            "é x\n\ny",
            "a\rbc",
            "a\r\nbc",
            "a\r\r\nb\n",
            "\n\n",
            "x\r",
        ] {
            let index = LineIndex::new(source);
            for offset in 0..=source.len() + 2 {
                assert_eq!(
                    index.line_col(source, offset),
                    line_col(source, offset),
                    "{source:?} at {offset}"
                );
            }
        }
        let (shown, span) = display_source("a\rbad\r", Span::new(2, 5));
        assert_eq!(shown, "a\nbad\n");
        assert_eq!(&shown[span.start as usize..span.end as usize], "bad");
    }

    #[test]
    fn close_names_allow_one_swap_and_ignore_case() {
        assert_eq!(closest("sned", &["send", "recv"]), vec!["send"]);
        assert_eq!(closest("p", &["P", "V"]), vec!["P"]);
        assert!(closest("X", &["P", "V"]).is_empty());
        assert_eq!(
            closest("buffer_slot", &["buffer_slots", "quantum"]),
            vec!["buffer_slots"]
        );
        assert_eq!(did_you_mean("sned", &["send"]), "did you mean `send`? ");
        assert_eq!(did_you_mean("zzz", &["send"]), "");
    }

    #[test]
    fn short_sources_are_shown_unchanged() {
        let (shown, span) = display_source("ab\ncd", Span::new(3, 5));
        assert_eq!(shown, "ab\ncd");
        assert_eq!(span, Span::new(3, 5));
    }

    #[test]
    fn control_characters_are_written_out_and_the_span_follows_them() {
        let source = "let s = \"\x1b[31mZ\x07\";\tbad\r\nnext";
        let at = source.find("bad").unwrap();
        let (shown, span) = display_source(source, Span::new(at, at + 3));
        assert_eq!(shown, "let s = \"\\e[31mZ\\x07\";\tbad\r\nnext");
        assert_eq!(&shown[span.start as usize..span.end as usize], "bad");
    }

    #[test]
    fn long_lines_are_cut_around_the_span() {
        let source = format!("{}HERE{}", "a".repeat(1000), "b".repeat(1000));
        let (shown, span) = display_source(&source, Span::new(1000, 1004));
        assert!(shown.len() < 400);
        assert_eq!(&shown[span.start as usize..span.end as usize], "HERE");
    }
}
