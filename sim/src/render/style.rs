//! ANSI styles for the text renderings, switched off entirely when colour is off.

/// A text style. With colour off every style renders as plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A process on the CPU.
    Running,
    /// A runnable process.
    Ready,
    /// A blocked process, and blocking.
    Blocked,
    /// A terminated process.
    Exited,
    /// A message moving (enqueue, deliver).
    Message,
    /// A copy, and other kernel detail.
    Detail,
    /// A process's own name in an event line.
    Actor,
    /// Errors and failed expectations.
    Bad,
    /// A matched expectation.
    Good,
    /// Headings and rules.
    Heading,
    /// The elision line of a long run.
    Elided,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Running => "1;32",
            Style::Ready => "0",
            Style::Blocked => "31",
            Style::Exited => "2",
            Style::Message => "36",
            Style::Detail => "2",
            Style::Actor => "1",
            Style::Bad => "1;31",
            Style::Good => "1;32",
            Style::Heading => "1",
            Style::Elided => "33",
        }
    }
}

/// Applies styles, or does nothing when colour is off.
#[derive(Clone, Copy, Debug)]
pub struct Painter {
    /// Emit ANSI escapes?
    pub color: bool,
}

impl Painter {
    /// `text` in `style` (unchanged when colour is off).
    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.color && !text.is_empty() && style != Style::Ready {
            format!("\x1b[{}m{text}\x1b[0m", style.code())
        } else {
            text.to_string()
        }
    }
}

/// The width of `text` on a terminal, counted in characters (the renderings
/// only use single-width characters).
pub fn width(text: &str) -> usize {
    text.chars().count()
}

/// `text` cut to `max` characters, ending in `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// A process label cut to `max` characters keeping its instance index:
/// `ProducerProcess[1]` in 14 becomes `ProducerPr…[1]`, so that columns of
/// instances of one long name stay apart.
pub fn truncate_label(label: &str, max: usize) -> String {
    if width(label) <= max {
        return label.to_string();
    }
    let index = label
        .rfind('[')
        .filter(|_| label.ends_with(']'))
        .map(|at| &label[at..]);
    match index {
        Some(index) if width(index) + 2 <= max => {
            let name = &label[..label.len() - index.len()];
            format!("{}{index}", truncate(name, max - width(index)))
        }
        _ => truncate(label, max),
    }
}

/// `text` with its control characters written out (`\e`, `\n`, `\t`,
/// `\r`, `\x07`): a process's `print` text must neither send escape
/// sequences to the terminal nor break the timeline's lines. Everything
/// else, backslashes included, is left as it is.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\x1b' => out.push_str("\\e"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Every other control character (C0, DEL, C1) is below U+0100.
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `text` padded with spaces to `cells` characters (never cut).
pub fn pad(text: &str, cells: usize) -> String {
    let mut out = text.to_string();
    for _ in width(text)..cells {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_marks_the_cut_with_an_ellipsis() {
        assert_eq!(truncate("send(consMbox)", 8), "send(co…");
        assert_eq!(truncate_label("ProducerProcess[1]", 14), "ProducerPr…[1]");
        assert_eq!(
            truncate_label("ProducerProcess[1]", 18),
            "ProducerProcess[1]"
        );
        assert_eq!(truncate_label("Producer[12]", 5), "Prod…");
        assert_eq!(truncate_label("ProducerProcess", 8), "Produce…");
        assert_eq!(truncate("short", 8), "short");
        assert_eq!(truncate("x", 0), "");
    }

    #[test]
    fn control_characters_are_written_out() {
        assert_eq!(
            escape_controls("a\x1b[31mb\nc\td\x07\u{9b}"),
            "a\\e[31mb\\nc\\td\\x07\\x9b"
        );
        assert_eq!(escape_controls("plain \\ text"), "plain \\ text");
    }

    #[test]
    fn painter_without_colour_emits_no_escapes() {
        let p = Painter { color: false };
        assert_eq!(p.paint(Style::Bad, "oops"), "oops");
        let p = Painter { color: true };
        assert!(p.paint(Style::Bad, "oops").contains('\x1b'));
    }
}
