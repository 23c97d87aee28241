//! Starvation answers: the saved lasso starves every process the report lists under it, `expect starvation(P)` gets P's lasso, and a check without the analysis claims nothing about starvation.

use ipclab_sim::check::{self, CheckOptions, Kind, Output};
use ipclab_sim::lang::{compile, Program};
use ipclab_sim::verdict::Verdict;

fn program(source: &str) -> Program {
    compile("t.ipc", source.as_bytes(), &[]).expect("compiles")
}

fn options() -> CheckOptions {
    CheckOptions {
        output: Output::None,
        progress_bar: false,
        jobs: 1,
        ..CheckOptions::default()
    }
}

/// Either worker can be kept out forever, but never both at once: whoever
/// holds the semaphore produces.
fn grabbing(expect: &str) -> String {
    format!(
        "semaphore s(initial = 1);\n\
         process W[2] {{ loop {{ if P(s, nonblocking) == OK {{ produce x; V(s); }} }} }}\n\
         expect {expect};"
    )
}

fn starving(verdict: &Verdict) -> Vec<String> {
    match verdict {
        Verdict::Runs { starving, .. } => starving.iter().map(|s| s.process.clone()).collect(),
        other => panic!("not a runs verdict: {other:?}"),
    }
}

#[test]
fn a_lasso_lists_only_the_processes_it_starves_and_names_the_others_apart() {
    let program = program(&grabbing("runs"));
    let report = check::check(&program, &options()).expect("checks");
    let finding = report.finding(Kind::Starvation).expect("starvation found");
    assert_eq!(starving(&finding.verdict), ["W[0]"]);
    assert_eq!(report.also_starving, ["W[1]"]);
    let replayed = check::replay(&program, &finding.schedule, 3).expect("replays");
    assert_eq!(starving(&replayed.verdict), ["W[0]"]);
}

#[test]
fn the_process_expect_names_gets_the_saved_lasso() {
    let program = program(&grabbing("starvation(W[1])"));
    let report = check::check(&program, &options()).expect("checks");
    let finding = report.finding(Kind::Starvation).expect("starvation found");
    assert_eq!(starving(&finding.verdict), ["W[1]"]);
    let replayed = check::replay(&program, &finding.schedule, 3).expect("replays");
    assert!(replayed.verdict.matches(program.expect.as_ref().unwrap()));
}

#[test]
fn without_the_analysis_no_proof_mentions_starvation() {
    let program = program(&grabbing("runs"));
    let options = CheckOptions {
        starvation: false,
        ..options()
    };
    let report = check::check(&program, &options).expect("checks");
    assert!(report.findings.is_empty());
    assert!(!report.starvation_checked);
    let text = report.to_string();
    assert!(text.contains("starvation was not looked for"), "{text}");
    assert!(!text.contains("errs or starves"), "{text}");
}
