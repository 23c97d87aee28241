//! Wrapping text to the terminal width at spaces, continuation lines under a hanging indent.
//!
//! The timeline promises lines that fit an 80-column terminal; an event or
//! verdict line longer than that is broken at spaces, and every line after
//! the first starts deeper than the line it continues, so it cannot be
//! mistaken for the next event. Widths count characters: the renderings
//! only use single-width characters, and colour is applied after wrapping.

use super::style::width;

/// The pieces of `text` for successive lines: the first piece follows
/// `first` columns already used on its line, the others follow a hanging
/// indent of `hang` columns; no line is wider than `max` unless a single
/// word is.
///
/// Runs of spaces inside a piece are kept (the timeline separates a
/// process from its call by two spaces); the spaces at a break are dropped.
/// The first word always goes on the first line, so a caller may style the
/// start of the first piece.
pub fn wrap_words(text: &str, first: usize, hang: usize, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut used = first;
    let mut rest = text.trim_start_matches(' ');
    while !rest.is_empty() {
        let word_end = rest.find(' ').unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_end);
        let after_gap = after.trim_start_matches(' ');
        let gap = &after[..after.len() - after_gap.len()];
        if !piece.is_empty() && used + width(word) > max {
            // The gap before this word was already counted: drop it.
            let kept = piece.trim_end_matches(' ').len();
            piece.truncate(kept);
            pieces.push(std::mem::take(&mut piece));
            used = hang;
        }
        piece.push_str(word);
        used += width(word);
        if !after_gap.is_empty() {
            piece.push_str(gap);
            used += width(gap);
        }
        rest = after_gap;
    }
    pieces.push(piece);
    pieces
}

/// `text` as lines of at most `max` columns: the first keeps the text's own
/// leading spaces, the others start with `hang`.
pub fn wrap(text: &str, max: usize, hang: &str) -> Vec<String> {
    let body = text.trim_start_matches(' ');
    let lead = &text[..text.len() - body.len()];
    wrap_words(body, width(lead), width(hang), max)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            if i == 0 {
                format!("{lead}{piece}")
            } else {
                format!("{hang}{piece}")
            }
        })
        .collect()
}

/// `text` made of fields joined by `separator` (` · ` in the header), as
/// lines of at most `max` columns broken between fields where it can, so a
/// field (`schedule from x.schedule`) stays whole: a broken line ends in the
/// separator's mark, the next starts with `hang`. A field wider than a line
/// is broken at spaces like [`wrap`].
pub fn wrap_fields(text: &str, separator: &str, max: usize, hang: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (i, field) in text.split(separator).enumerate() {
        if i == 0 {
            line.push_str(field);
        } else if width(&line) + width(separator) + width(field) <= max {
            line.push_str(separator);
            line.push_str(field);
        } else {
            line.push_str(separator.trim_end());
            lines.push(std::mem::replace(&mut line, format!("{hang}{field}")));
        }
    }
    lines.push(line);
    lines
        .iter()
        .flat_map(|line| {
            let lead = line.len() - line.trim_start_matches(' ').len();
            // A field broken inside goes on deeper than the field starts.
            wrap(line, max, &" ".repeat(width(hang).max(lead + 2)))
        })
        .collect()
}

/// Every line of `text` longer than `max` columns wrapped at spaces, its
/// continuation lines indented four columns past the line's own indent
/// (the checker's report on a terminal).
pub fn wrap_lines(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if width(line) <= max {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let lead = line.len() - line.trim_start_matches(' ').len();
        for piece in wrap(line, max, &" ".repeat(lead + 4)) {
            out.push_str(&piece);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_wraps_its_long_lines_under_their_own_indent_plus_four() {
        let text =
            "check x: DEADLOCK\n    A waits in send(box) [full 4/4] -> B waits in recv(A) -> A\n";
        let wrapped = wrap_lines(text, 40);
        assert_eq!(
            wrapped,
            "check x: DEADLOCK\n    A waits in send(box) [full 4/4] -> B\n        waits in recv(A) -> A\n"
        );
        assert!(wrapped.lines().all(|l| width(l) <= 40));
    }

    #[test]
    fn a_short_line_is_left_alone() {
        assert_eq!(wrap("  A  recv(B)", 80, "      "), vec!["  A  recv(B)"]);
    }

    #[test]
    fn a_long_line_breaks_at_spaces_under_the_hanging_indent() {
        let lines = wrap("  one two  three four five", 16, "      ");
        assert_eq!(lines, vec!["  one two  three", "      four five"]);
        for line in &lines {
            assert!(width(line) <= 16, "{line:?}");
        }
    }

    #[test]
    fn a_word_wider_than_the_line_stays_whole() {
        let lines = wrap("a supercalifragilistic b", 10, "  ");
        assert_eq!(lines, vec!["a", "  supercalifragilistic", "  b"]);
    }

    #[test]
    fn the_first_word_stays_on_the_first_line_after_a_wide_lead() {
        assert_eq!(
            wrap_words("Producer  send(m)", 78, 4, 80),
            vec!["Producer", "send(m)"]
        );
    }

    #[test]
    fn fields_stay_whole_when_a_line_breaks_between_them() {
        let lines = wrap_fields(
            "x.ipc: 2 processes · schedule from a/b.schedule · 3 choices",
            " · ",
            40,
            "  ",
        );
        assert_eq!(
            lines,
            vec![
                "x.ipc: 2 processes ·",
                "  schedule from a/b.schedule · 3 choices"
            ]
        );
        assert_eq!(wrap_fields("a · b", " · ", 80, "  "), vec!["a · b"]);
    }

    #[test]
    fn empty_text_is_one_empty_line() {
        assert_eq!(wrap("", 80, "  "), vec![""]);
    }
}
