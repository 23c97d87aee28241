//! The checker's reports quoted in `docs/cli.md` and the state counts in `docs/checking.md`'s table of lecture answers are what `ipclab check` prints.
//!
//! A reader copies these commands to compare; a change to the reduction
//! or to a bundled scenario that moves a count must move the docs with it.
//! Times, rates and bytes per state vary from run to run and are left out
//! of the comparison.

use std::path::PathBuf;
use std::process::Command;

fn doc(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `ipclab ARGS` in a fresh scratch directory (a check saves its
/// counterexample in the working directory), its stdout.
fn ipclab(args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "ipclab-docs-figures-{}-{}",
        std::process::id(),
        args.join("_").replace(['/', ' ', '=', ','], "_")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ipclab"))
        .args(args)
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A report line without what varies between runs: the counts line's
/// time, states/s and bytes/state (`..., depth 25, 0.00 s (166028
/// states/s, ~81 bytes/state)` ends at `depth 25`).
fn stable(line: &str) -> &str {
    let line = line.trim_end();
    if !line.contains(" states/s, ~") {
        return line;
    }
    let Some(time) = line.find(" s (") else {
        return line;
    };
    line[..time].rfind(", ").map_or(line, |cut| &line[..cut])
}

/// The first fenced block after `marker` in `text`.
fn block_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("`{marker}` is no longer in the doc"));
    let open = at + text[at..].find("```\n").expect("a block after it") + 4;
    let close = open + text[open..].find("```").expect("the block closes");
    &text[open..close]
}

/// Every part of the doc's block (parts are separated by `...` lines)
/// appears, line for line, in what the command prints.
fn assert_quoted(doc_name: &str, marker: &str, args: &[&str]) {
    let text = doc(doc_name);
    let quoted = block_after(&text, marker);
    let output = ipclab(args);
    let printed: Vec<&str> = output.lines().map(stable).collect();
    let mut part: Vec<&str> = Vec::new();
    let check_part = |part: &mut Vec<&str>| {
        if part.is_empty() {
            return;
        }
        let found = printed.windows(part.len()).any(|w| w == part.as_slice());
        assert!(
            found,
            "{doc_name}: the block after `{marker}` is not what `ipclab {}` prints.\n\
             quoted:\n{}\nprinted:\n{}",
            args.join(" "),
            part.join("\n"),
            printed.join("\n")
        );
        part.clear();
    };
    for line in quoted.lines() {
        if line.trim() == "..." {
            check_part(&mut part);
        } else {
            part.push(stable(line));
        }
    }
    check_part(&mut part);
}

#[test]
fn the_check_reports_quoted_in_the_cli_reference_are_what_check_prints() {
    assert_quoted(
        "cli.md",
        "A deadlock (`ipclab check credit-indirect-overflow --jobs 1`)",
        &["check", "credit-indirect-overflow", "--jobs", "1"],
    );
    assert_quoted(
        "cli.md",
        "A proof (`ipclab check credit-direct --compare-reduction --jobs 1`)",
        &[
            "check",
            "credit-direct",
            "--compare-reduction",
            "--jobs",
            "1",
        ],
    );
    assert_quoted(
        "cli.md",
        "`ipclab check credit-indirect --sweep buffer=0,1,2,3,4,inf`:",
        &[
            "check",
            "credit-indirect",
            "--sweep",
            "buffer=0,1,2,3,4,inf",
        ],
    );
    assert_quoted(
        "cli.md",
        "`ipclab check mpi-exchange-eager --sweep eager=0,8,63,64,inf`:",
        &[
            "check",
            "mpi-exchange-eager",
            "--sweep",
            "eager=0,8,63,64,inf",
        ],
    );
}

/// The number before ` states` in the first `(N states` of `answer`
/// (`safe: space exhausted (38,553 states, 0.3 s)`), if there is one.
fn quoted_states(answer: &str) -> Option<u64> {
    let at = answer.find(" states")?;
    let digits = answer[..at].rsplit('(').next()?.replace(',', "");
    digits.parse().ok()
}

/// The number before ` states,` on the report's counts line.
fn printed_states(report: &str) -> Option<u64> {
    let line = report.lines().find(|l| l.contains(" states, "))?;
    let before = &line[..line.find(" states, ")?];
    before.rsplit(' ').next()?.parse().ok()
}

#[test]
fn the_state_counts_of_the_lecture_answers_are_what_check_prints() {
    let text = doc("checking.md");
    let mut compared = 0;
    for row in text.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (Some(command), Some(answer)) = (cells.get(2), cells.get(3)) else {
            continue;
        };
        // A single check of a bundled scenario, with no other options.
        let Some(name) = command
            .strip_prefix("`ipclab check ")
            .and_then(|rest| rest.strip_suffix('`'))
            .filter(|name| !name.contains(' '))
        else {
            continue;
        };
        let Some(quoted) = quoted_states(answer) else {
            continue;
        };
        let report = ipclab(&["check", name]);
        assert_eq!(
            printed_states(&report),
            Some(quoted),
            "docs/checking.md says `ipclab check {name}` stores {quoted} states; it prints:\n{report}"
        );
        compared += 1;
    }
    // The table's safe answers with a count: if the table is rewritten,
    // this test must be looked at again.
    assert!(compared >= 7, "compared only {compared} rows");
}
