//! The checker's side of the SPIN comparison: states stored, transitions, states/s, time, bytes per state and peak RSS.
//!
//! Runs `ipclab_sim::check::check` (library defaults: depth-first,
//! reduction on, starvation analysis on, items abstracted to 1) on each
//! scenario named on the command line (default: every
//! `bench/spin/models/*.ipc`) and prints one line per scenario. The Promela
//! models and the script that runs both checkers and prints the table side
//! by side are in `bench/spin/` (`bench/spin/run.sh`); the results are in
//! `docs/checking.md`, "Speed and memory against SPIN".
//!
//! ```text
//! cargo bench -p ipclab-sim --bench check_vs_spin -- [options] [FILE.ipc ...]
//!   --repeat R     run each check R times, report the fastest (default 1)
//!   --bfs          breadth-first search (default depth-first)
//!   --jobs J       workers (default 1: depth-first; more: breadth-first, parallel)
//!   --no-reduction no ample-set reduction
//!   --no-starvation skip the starvation analysis (deadlocks and errors only)
//!   --tsv          tab-separated lines for bench/spin/run.sh
//!   -D NAME=VALUE  override a constant
//! ```
//!
//! Peak RSS is the process's high-water mark (`VmHWM` in
//! `/proc/self/status`) after the scenario's checks: run one scenario per
//! process to attribute it (run.sh does, and also measures with
//! `/usr/bin/time -v`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipclab_sim::check::{self, CheckOptions, CheckReport, Output, SearchOrder};

struct Args {
    files: Vec<PathBuf>,
    repeat: usize,
    options: CheckOptions,
    tsv: bool,
    overrides: Vec<(String, i64)>,
}

fn usage(message: &str) -> ! {
    eprintln!("check_vs_spin: {message}");
    eprintln!(
        "usage: check_vs_spin [--repeat R] [--bfs] [--jobs J] [--no-reduction] \
         [--no-starvation] [--tsv] [-D NAME=VALUE] [FILE.ipc ...]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut args = Args {
        files: Vec::new(),
        repeat: 1,
        options: CheckOptions {
            jobs: 1,
            progress_bar: false,
            output: Output::None,
            ..CheckOptions::default()
        },
        tsv: false,
        overrides: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            // `cargo bench` appends `--bench` to a harness-less bench.
            "--bench" => {}
            "--repeat" => {
                args.repeat = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|r| *r >= 1)
                    .unwrap_or_else(|| usage("--repeat takes a number >= 1"));
            }
            "--bfs" => args.options.order = SearchOrder::BreadthFirst,
            "--jobs" => {
                args.options.jobs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|j| *j >= 1)
                    .unwrap_or_else(|| usage("--jobs takes a number >= 1"));
            }
            "--no-reduction" => args.options.reduction = false,
            "--no-starvation" => args.options.starvation = false,
            "--tsv" => args.tsv = true,
            "-D" => {
                let def = it.next().unwrap_or_else(|| usage("-D takes NAME=VALUE"));
                let (name, value) = def
                    .split_once('=')
                    .and_then(|(n, v)| Some((n.to_string(), v.parse::<i64>().ok()?)))
                    .unwrap_or_else(|| usage("-D takes NAME=VALUE"));
                args.overrides.push((name, value));
            }
            s if s.starts_with('-') => usage(&format!("unknown option {s}")),
            file => args.files.push(PathBuf::from(file)),
        }
    }
    if args.files.is_empty() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/spin/models");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| usage(&format!("{}: {e}", dir.display())))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ipc"))
            .collect();
        files.sort();
        args.files = files;
    }
    args
}

/// The process's peak resident set size in bytes (`VmHWM`), if known.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Every finding's kind, `safe` when there is none; `?` when a bound ended
/// the search.
fn verdict(report: &CheckReport) -> String {
    let mut words: Vec<&str> = report.findings.iter().map(|f| f.kind.word()).collect();
    if words.is_empty() {
        words.push("safe");
    }
    let mut v = words.join("+");
    if report.bound.is_some() {
        v.push('?');
    }
    v
}

fn main() {
    let args = parse_args();
    if !args.tsv {
        println!(
            "{:<22} {:<22} {:>10} {:>11} {:>10} {:>12} {:>9} {:>10} {:>9}",
            "scenario",
            "verdict",
            "states",
            "transitions",
            "time (s)",
            "states/s",
            "B/state",
            "est. (MB)",
            "RSS (MB)"
        );
    }
    for file in &args.files {
        let source =
            std::fs::read(file).unwrap_or_else(|e| usage(&format!("{}: {e}", file.display())));
        let name = file.display().to_string();
        let program = match ipclab_sim::lang::compile(&name, &source, &args.overrides) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e:?}");
                std::process::exit(1);
            }
        };
        let mut best: Option<(Duration, CheckReport)> = None;
        for _ in 0..args.repeat {
            let report = match check::check(&program, &args.options) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{name}: {e}");
                    std::process::exit(1);
                }
            };
            let t = report.stats.elapsed;
            if best.as_ref().is_none_or(|(b, _)| t < *b) {
                best = Some((t, report));
            }
        }
        let Some((elapsed, report)) = best else {
            continue;
        };
        let s = &report.stats;
        let est = s.bytes_per_state * s.states as f64;
        let rss = peak_rss().unwrap_or(0);
        let stem = file
            .file_stem()
            .map_or_else(|| name.clone(), |s| s.to_string_lossy().into_owned());
        if args.tsv {
            // model verdict states transitions seconds states/s bytes/state est_bytes rss_bytes
            println!(
                "{stem}\t{}\t{}\t{}\t{:.6}\t{:.0}\t{:.1}\t{:.0}\t{rss}",
                verdict(&report),
                s.states,
                s.transitions,
                elapsed.as_secs_f64(),
                s.states_per_second(),
                s.bytes_per_state,
                est
            );
        } else {
            println!(
                "{:<22} {:<22} {:>10} {:>11} {:>10.4} {:>12.0} {:>9.1} {:>10.2} {:>9.1}",
                stem,
                verdict(&report),
                s.states,
                s.transitions,
                elapsed.as_secs_f64(),
                s.states_per_second(),
                s.bytes_per_state,
                est / 1e6,
                rss as f64 / 1e6
            );
        }
    }
}
