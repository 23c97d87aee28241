//! The wait-for graph of a stuck run, drawn as text for the timeline and as Graphviz DOT for `--dot`.
//!
//! Reads only the [`Verdict`]: a deadlock's cycle (each process with the
//! call it waits in) and the processes stuck outside it; a
//! `blocked forever` verdict's stuck processes. The text drawing is the
//! cycle as the lecture draws it on the board:
//!
//! ```text
//!   ╭─▶ Producer
//!   │     │ send(consMbox) [full 4/4]
//!   │     ▼
//!   │   Consumer
//!   │     │ send(prodMbox) [full 4/4]
//!   ╰─────╯
//! ```

use crate::verdict::Verdict;

use super::style::{escape_controls, width};
use super::wrap::wrap_words;

/// The drawing of a deadlock's cycle; empty for any other verdict.
pub fn waitfor_text(verdict: &Verdict) -> String {
    let mut out = String::new();
    for line in waitfor_lines(verdict, usize::MAX) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The lines of [`waitfor_text`], a long reason wrapped to `max` columns
/// under itself, inside the drawing.
pub fn waitfor_lines(verdict: &Verdict, max: usize) -> Vec<String> {
    let cycle = match verdict {
        Verdict::Deadlock { cycle, .. } => cycle,
        // Deadlocked while others still run.
        Verdict::Runs { deadlocked, .. } => deadlocked,
        _ => return Vec::new(),
    };
    let mut lines = Vec::new();
    for (i, stuck) in cycle.iter().enumerate() {
        let arrow = if i == 0 { "  ╭─▶ " } else { "  │   " };
        lines.push(format!("{arrow}{}", escape_controls(&stuck.process)));
        let lead = "  │     │ ";
        let hang = "  │     │   ";
        for (k, piece) in wrap_words(&escape_controls(&stuck.why), width(lead), width(hang), max)
            .into_iter()
            .enumerate()
        {
            lines.push(format!("{}{piece}", if k == 0 { lead } else { hang }));
        }
        if i + 1 < cycle.len() {
            lines.push("  │     ▼".to_string());
        }
    }
    if !cycle.is_empty() {
        lines.push("  ╰─────╯".to_string());
    }
    lines
}

/// The wait-for graph as a Graphviz `digraph`: the cycle's edges labelled
/// with the call each process waits in; other stuck processes as dashed
/// boxes with what they wait for. A live run (`runs`) draws the cycle it
/// ended with, if any, and its starving processes as the stuck ones. A
/// verdict with nobody stuck gives an empty graph with a comment saying so.
pub fn waitfor_dot(verdict: &Verdict, title: &str) -> String {
    let mut out = String::new();
    out.push_str("digraph waitfor {\n");
    out.push_str(&format!(
        "  label={};\n",
        quote(&format!("{title}: {}", verdict.keyword()))
    ));
    out.push_str("  labelloc=t;\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n");
    out.push_str("  edge [fontname=\"monospace\", fontsize=10];\n");
    match verdict {
        Verdict::Deadlock { cycle, others }
        | Verdict::Runs {
            deadlocked: cycle,
            starving: others,
            ..
        } if !cycle.is_empty() || !others.is_empty() => {
            // A live run's cycle is drawn as a deadlock's; its starving
            // processes outside the cycle as the stuck ones.
            let others: Vec<_> = others
                .iter()
                .filter(|s| !cycle.iter().any(|c| c.process == s.process))
                .collect();
            for stuck in cycle {
                out.push_str(&format!("  {} [color=red];\n", quote(&stuck.process)));
            }
            for (i, stuck) in cycle.iter().enumerate() {
                let next = &cycle[(i + 1) % cycle.len()];
                out.push_str(&format!(
                    "  {} -> {} [label={}, color=red];\n",
                    quote(&stuck.process),
                    quote(&next.process),
                    quote(&stuck.why)
                ));
            }
            for stuck in others {
                out.push_str(&format!(
                    "  {} [style=dashed, label={}];\n",
                    quote(&stuck.process),
                    quote(&format!("{}\n{}", stuck.process, stuck.why))
                ));
            }
        }
        Verdict::BlockedForever { stuck } => {
            for s in stuck {
                out.push_str(&format!(
                    "  {} [style=dashed, label={}];\n",
                    quote(&s.process),
                    quote(&format!("{}\n{}", s.process, s.why))
                ));
            }
        }
        _ => out.push_str("  // no process is stuck or starving: the wait-for graph is empty\n"),
    }
    out.push_str("}\n");
    out
}

/// A DOT string literal.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Stuck;

    fn deadlock() -> Verdict {
        Verdict::Deadlock {
            cycle: vec![
                Stuck {
                    process: "A".into(),
                    why: "recv(B) [nothing queued]".into(),
                },
                Stuck {
                    process: "B".into(),
                    why: "recv(A) [nothing queued]".into(),
                },
            ],
            others: vec![],
        }
    }

    #[test]
    fn the_cycle_closes_back_on_its_first_process() {
        let text = waitfor_text(&deadlock());
        assert!(text.starts_with("  ╭─▶ A\n"));
        assert!(text.ends_with("  ╰─────╯\n"));
        assert!(text.contains("recv(A) [nothing queued]"));
    }

    #[test]
    fn dot_has_an_edge_per_cycle_member() {
        let dot = waitfor_dot(&deadlock(), "t.ipc");
        assert!(dot.contains("\"A\" -> \"B\""));
        assert!(dot.contains("\"B\" -> \"A\""));
    }

    #[test]
    fn dot_quotes_escape_quotes_and_newlines() {
        assert_eq!(quote("a\"b\nc"), "\"a\\\"b\\nc\"");
    }
}
