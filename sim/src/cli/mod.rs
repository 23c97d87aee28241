//! The `ipclab` command line: `run`, `check`, `replay`, `list` and `show`, with exit codes a script can test.
//!
//! Exit codes (`docs/cli.md`):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | the verdict matches the scenario's `expect` line, or there is none; `list`, `show`, `--help` |
//! | 1 | the verdict does not match `expect` |
//! | 2 | a usage error, or a scenario that cannot be read, compiled or booted |
//! | 3 | `check --strict`: a bound stopped the search before the answer was certain |
//!
//! `check` and `replay` have their own rules for 0 and 1 (`check.rs`).
//!
//! Colour: on when stdout (stderr for diagnostics) is a terminal and
//! `NO_COLOR` is unset or empty; `--color always|never` overrides.

mod check;
mod load;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use ipclab_sim::lang;
use ipclab_sim::render::{self, RunSetup, TimelineOptions, VerdictOptions};
use ipclab_sim::runner::{self, RunOptions, Schedule};

use crate::bundled;

const EXAMPLES: &str = "\
Examples:
  ipclab list                                  the bundled scenarios
  ipclab run credit-direct                     run a bundled scenario
  ipclab run my.ipc -D N=3 --steps 200         override a constant, shorter run
  ipclab run my.ipc --schedule random --seed 7 a seeded random schedule
  ipclab run my.ipc --quiet; echo $?           verdict only; 0 when it matches expect
  ipclab run my.ipc --json | jq .type          the trace as JSON lines
  ipclab check credit-indirect-overflow        every schedule: a proof or a counterexample
  ipclab replay my.ipc --schedule S            a counterexample's timeline
  ipclab show credit-direct --bytecode         the compiled bytecode";

const RUN_EXAMPLES: &str = "\
Examples:
  ipclab run credit-direct
  ipclab run scenarios/credit-direct.ipc -D N=3
  ipclab run my.ipc --schedule random --seed 42 --steps 300
  ipclab run my.ipc --full                     every step, no elision
  ipclab run my.ipc --quiet                    only the verdict
  ipclab run my.ipc --json > trace.jsonl       one JSON object per line
  ipclab run my.ipc --dot | dot -Tsvg > waitfor.svg

Exit status: 0 when the verdict matches the scenario's `expect` line (or it has
none), 1 when it does not, 2 for usage and scenario errors.";

const LIST_EXAMPLES: &str = "\
Examples:
  ipclab list
  ipclab list | grep credit";

const SHOW_EXAMPLES: &str = "\
Examples:
  ipclab show credit-direct
  ipclab show credit-direct.ipc --bytecode
  ipclab show ./my.ipc --bytecode -D N=3";

/// ipclab: a simulated OS kernel's message passing, for teaching.
///
/// Runs scenarios written in the `.ipc` language against a small kernel and
/// shows, step by step, who ran, who blocked and why, every message and copy,
/// and finally what happened: completion, deadlock, a process blocked forever,
/// starvation, or a program error.
#[derive(Debug, Parser)]
#[command(
    name = "ipclab",
    version,
    after_help = EXAMPLES,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario once: its timeline, then its verdict.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Explore every schedule: a proof that nothing goes wrong, or a
    /// counterexample schedule (deadlock, blocked forever, error, starvation).
    #[command(after_help = check::CHECK_EXAMPLES)]
    Check(check::CheckArgs),
    /// Run a scenario along a schedule from `check`: its timeline, the
    /// critical step marked, and its verdict.
    #[command(after_help = check::REPLAY_EXAMPLES)]
    Replay(check::ReplayArgs),
    /// List the bundled scenarios, one line each.
    #[command(after_help = LIST_EXAMPLES)]
    List,
    /// Print a scenario's source, or its compiled bytecode.
    #[command(after_help = SHOW_EXAMPLES)]
    Show(ShowArgs),
    /// Print this message or the help of the given command.
    // Our own rather than clap's built-in `help`, so that `ipclab help
    // --help` is answered like every other command's `--help`.
    Help {
        /// The command to describe (`run`, `check`, `replay`, `list`, `show`).
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// A scenario file, or the name of a bundled scenario (see `ipclab list`).
    #[arg(value_name = "FILE")]
    scenario: String,

    /// Override a `const` of the scenario (repeatable, once per constant).
    #[arg(short = 'D', value_name = "NAME=VALUE", value_parser = parse_define)]
    define: Vec<(String, i64)>,

    /// Seed of the random schedule.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// How the next process is chosen: the kernel's round robin, or a seeded
    /// random choice among the runnable processes.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Rr)]
    schedule: ScheduleArg,

    /// The step limit: a run still live after this many steps ends with `runs`.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    steps: u64,

    /// Simulated CPUs: up to N processes run at once (deterministic: each
    /// step advances one CPU chosen by the schedule). With --threads: N host
    /// threads.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    cpus: u64,

    /// Run the CPUs as host threads entering the kernel at once (the stress
    /// mode: not deterministic; prints the verdict, counters and invariants).
    #[arg(long, conflicts_with_all = ["json", "dot"])]
    threads: bool,

    #[command(flatten)]
    output: OutputArgs,
}

/// How `run` and `replay` print a run: the timeline, JSON lines, DOT, or the verdict only.
#[derive(Debug, Args)]
pub(super) struct OutputArgs {
    /// Print only the verdict and whether it matches `expect`.
    #[arg(long, short, conflicts_with_all = ["json", "dot"])]
    pub(super) quiet: bool,

    /// Print the trace as JSON lines (docs/trace-json.md).
    #[arg(long, conflicts_with = "dot")]
    pub(super) json: bool,

    /// Print the wait-for graph at the end of the run as Graphviz DOT.
    #[arg(long)]
    pub(super) dot: bool,

    /// Show every step of the timeline (long runs are elided by default).
    #[arg(long)]
    pub(super) full: bool,

    /// Steps shown at the start of an elided timeline.
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub(super) head: usize,

    /// Steps shown at the end of an elided timeline.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub(super) tail: usize,

    /// The width the timeline fits (more than four processes widen it;
    /// at least 40).
    #[arg(long, value_name = "COLUMNS", default_value_t = 80, value_parser = parse_width)]
    pub(super) width: usize,

    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub(super) color: ColorArg,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// A bundled scenario's name, or a scenario file.
    #[arg(value_name = "NAME")]
    scenario: String,

    /// Print the compiled bytecode of every process instead of the source.
    #[arg(long)]
    bytecode: bool,

    /// Override a `const` before compiling; only with --bytecode (the
    /// source itself is always printed as written).
    #[arg(short = 'D', value_name = "NAME=VALUE", value_parser = parse_define, requires = "bytecode")]
    define: Vec<(String, i64)>,

    /// When to use colour (for compile errors).
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ScheduleArg {
    /// Round robin (the kernel's scheduler).
    Rr,
    /// Seeded random choice at every step.
    Random,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum ColorArg {
    /// Colour when writing to a terminal and NO_COLOR is unset or empty.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorArg {
    /// Whether to colour a stream that is (or is not) a terminal.
    fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// What `--quiet` prints of a run or a replay: the verdict alone, wrapped
/// to `--width`, naming what ended a `runs` verdict's run.
pub(super) fn quiet_text(
    program: &lang::Program,
    setup: &RunSetup,
    result: &runner::RunResult,
    output: &OutputArgs,
    color: bool,
) -> String {
    render::verdict_text_with(
        &result.verdict,
        program.expect.as_ref(),
        &VerdictOptions {
            color,
            graph: false,
            width: output.width,
            limit: setup.limit_of(result),
        },
    )
}

/// `NAME=VALUE` with an integer value.
/// The narrowest `--width`: a timeline narrower than this has no room for
/// a column per process and a line of events.
const MIN_WIDTH: usize = 40;

/// `--width N`: a number of columns, at least [`MIN_WIDTH`].
fn parse_width(text: &str) -> Result<usize, String> {
    let width: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of columns"))?;
    if width < MIN_WIDTH {
        return Err(format!(
            "{width} columns is too narrow: give at least {MIN_WIDTH}"
        ));
    }
    Ok(width)
}

fn parse_define(text: &str) -> Result<(String, i64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE (for example -D N=3)"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("`{text}` has no name before `=`"));
    }
    let value = value.trim();
    // The language's literal syntax (`0x10`, `1_000`, `-3`), so a value
    // reads the same on the command line as in the source.
    let number = ipclab_sim::lang::integer_literal(value).map_err(|e| {
        if e.contains("too large") {
            format!("{e} (in -D {text}): a value is at most {}", i64::MAX)
        } else {
            format!("`{value}` is not an integer (in -D {text})")
        }
    })?;
    Ok((name.to_string(), number))
}

/// Runs the command line; the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.exit_code() == 0 => {
            // `--help` and `--version` are "errors" that exit 0: their text
            // goes to standard output, and output that cannot be written
            // is exit 2, as for every command.
            let colour = std::io::IsTerminal::is_terminal(&std::io::stdout())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let text = if colour {
                e.render().ansi().to_string()
            } else {
                e.render().to_string()
            };
            write_stdout(&text);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let defines_once = refuse_repeated_defines(cli.command.defines());
    let outcome = defines_once.and_then(|()| match cli.command {
        Command::Run(args) => run(&args),
        Command::Check(args) => check::check(&args),
        Command::Replay(args) => check::replay(&args),
        Command::List => list(),
        Command::Show(args) => show(&args),
        Command::Help { command } => help(command.as_deref()),
    });
    match outcome {
        Ok(code) => code,
        Err(Failure::Message(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Printed) => ExitCode::from(2),
    }
}

impl Command {
    /// The `-D` overrides the command was given (none for `list`, `help`).
    fn defines(&self) -> &[(String, i64)] {
        match self {
            Command::Run(args) => &args.define,
            Command::Check(args) => &args.define,
            Command::Replay(args) => &args.define,
            Command::Show(args) => &args.define,
            Command::List | Command::Help { .. } => &[],
        }
    }
}

/// A usage error for a constant given twice with `-D`. clap refuses every
/// other repeated option, but `-D` is repeatable (one per constant), so it
/// would let the last value win in silence: `-D N=3 -D N=7` is more often
/// a slip in a script than a wish for 7.
fn refuse_repeated_defines(defines: &[(String, i64)]) -> Result<(), Failure> {
    for (i, (name, first)) in defines.iter().enumerate() {
        if let Some((_, again)) = defines[i + 1..].iter().find(|(n, _)| n == name) {
            return Err(Failure::Message(format!(
                "-D {name} given twice ({first} and {again}): give each constant once"
            )));
        }
    }
    Ok(())
}

/// `ipclab help [COMMAND]`: the long help of the program or of a command.
fn help(command: Option<&str>) -> Result<ExitCode, Failure> {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    // Built, the subcommands know their full names (`ipclab check`).
    cli.build();
    let target = match command {
        None => &mut cli,
        Some(name) => cli.find_subcommand_mut(name).ok_or_else(|| {
            format!("no command `{name}` (the commands: run, check, replay, list, show, help)")
        })?,
    };
    // Through `write_stdout`, so that a closed pipe (`| head -1`) is no
    // error; styled as `--help` is, on a terminal only.
    let help = target.render_long_help();
    if ColorArg::Auto.enabled(std::io::stdout().is_terminal()) {
        write_stdout(&help.ansi().to_string());
    } else {
        write_stdout(&help.to_string());
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a command failed with exit code 2.
enum Failure {
    /// Say this on stderr.
    Message(String),
    /// Already reported (compile diagnostics).
    Printed,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Message(message)
    }
}

/// Compiles `loaded`, printing diagnostics on failure.
fn compile(
    loaded: &load::Loaded,
    defines: &[(String, i64)],
    color: ColorArg,
) -> Result<lang::Program, Failure> {
    lang::compile(&loaded.file_name, loaded.source.as_bytes(), defines).map_err(|diagnostics| {
        let color = color.enabled(std::io::stderr().is_terminal());
        eprint!("{}", diagnostics.render(color));
        Failure::Printed
    })
}

fn run(args: &RunArgs) -> Result<ExitCode, Failure> {
    let loaded = load::load(&args.scenario)?;
    let program = compile(&loaded, &args.define, args.output.color)?;
    if args.threads {
        return run_threaded(args, &loaded.file_name, &program);
    }
    let options = RunOptions {
        seed: args.seed,
        schedule: match args.schedule {
            ScheduleArg::Rr => Schedule::RoundRobin,
            ScheduleArg::Random => Schedule::Random,
        },
        max_steps: args.steps,
        // Only the timeline and JSON draw the steps.
        record: !args.output.quiet && !args.output.dot,
        cpus: args.cpus as usize,
        ..RunOptions::default()
    };
    let result = runner::run(&program, options)
        .map_err(|e| Failure::Message(format!("cannot boot {}: {e}", loaded.file_name)))?;
    let setup = RunSetup {
        options,
        replayed: false,
    };
    let color = args.output.color.enabled(std::io::stdout().is_terminal());
    let text = if args.output.json {
        render::json_lines(&program, &setup, &result)
    } else if args.output.dot {
        render::waitfor_dot(&result.verdict, &program.file_name)
    } else if args.output.quiet {
        quiet_text(&program, &setup, &result, &args.output, color)
    } else {
        let timeline = TimelineOptions {
            color,
            width: args.output.width,
            head: args.output.head,
            tail: args.output.tail,
            full: args.output.full,
        };
        render::timeline(&program, &setup, &result, &timeline)
    };
    write_stdout(&text);
    let matches = program
        .expect
        .as_ref()
        .is_none_or(|e| result.verdict.matches(e));
    Ok(if matches {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `run --threads`: the stress mode on host threads (sim/src/threads.rs).
fn run_threaded(
    args: &RunArgs,
    file_name: &str,
    program: &lang::Program,
) -> Result<ExitCode, Failure> {
    let options = ipclab_sim::threads::ThreadOptions {
        cpus: args.cpus as usize,
        max_steps: args.steps,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let result = ipclab_sim::threads::run_threaded(program, options)
        .map_err(|e| Failure::Message(format!("cannot boot {file_name}: {e}")))?;
    let elapsed = started.elapsed();
    let color = args.output.color.enabled(std::io::stdout().is_terminal());
    let mut text = String::new();
    if !args.output.quiet {
        for line in &result.output {
            // As the timeline writes a `print`: control characters written
            // out, so they neither break lines nor reach the terminal.
            text.push_str(&render::style::escape_controls(line));
            text.push('\n');
        }
        let s = &result.stats;
        let buffered = s.accepted - s.delivered - s.undeliverable;
        text.push_str(&format!(
            "{} CPU{} (host threads), {} step{} in {:.3} s, {} ticks; dispatches per CPU: {:?}\n\
             messages: {} accepted = {} delivered + {} buffered + {} undeliverable\n\
             invariants: {}\n",
            options.cpus,
            if options.cpus == 1 { "" } else { "s" },
            result.steps,
            if result.steps == 1 { "" } else { "s" },
            elapsed.as_secs_f64(),
            result.ticks,
            result.dispatches,
            s.accepted,
            s.delivered,
            buffered,
            s.undeliverable,
            match &result.invariants {
                Ok(()) => "hold".to_string(),
                Err(e) => format!("BROKEN: {e}"),
            }
        ));
    }
    text.push_str(&render::verdict_text_with(
        &result.verdict,
        program.expect.as_ref(),
        &render::VerdictOptions {
            color,
            // A live threaded run ends at the step or the tick limit: its
            // verdict says which.
            limit: result.limit,
            ..render::VerdictOptions::default()
        },
    ));
    write_stdout(&text);
    let matches = program
        .expect
        .as_ref()
        .is_none_or(|e| result.verdict.matches(e));
    Ok(if matches && result.invariants.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn list() -> Result<ExitCode, Failure> {
    let all: Vec<bundled::Bundled> = bundled::all().collect();
    if all.is_empty() {
        write_stdout("no bundled scenarios: this binary was built without scenarios/*.ipc\n");
        return Ok(ExitCode::SUCCESS);
    }
    let name_width = all.iter().map(|b| b.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for b in &all {
        let line = format!("{:<name_width$}  {}", b.name, b.summary());
        out.push_str(line.trim_end());
        out.push('\n');
    }
    write_stdout(&out);
    Ok(ExitCode::SUCCESS)
}

fn show(args: &ShowArgs) -> Result<ExitCode, Failure> {
    let loaded = load::load(&args.scenario)?;
    if !args.bytecode {
        let mut text = loaded.source.clone();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        write_stdout(&text);
        return Ok(ExitCode::SUCCESS);
    }
    let program = compile(&loaded, &args.define, args.color)?;
    let mut out = String::new();
    for decl in 0..program.processes.len() {
        if decl > 0 {
            out.push('\n');
        }
        out.push_str(&lang::disassemble(&program, decl));
    }
    write_stdout(&out);
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to standard output. A reader that went away (`| head`)
/// ends the output quietly; any other failure (a full disk, `> /dev/full`)
/// is said on stderr and ends the command with exit status 2, so that a
/// script does not take a truncated report for a whole one.
fn write_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: could not write the output: {e}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defines_parse_name_and_integer() {
        assert_eq!(parse_define("N=3"), Ok(("N".to_string(), 3)));
        assert_eq!(parse_define(" N = -2 "), Ok(("N".to_string(), -2)));
        assert!(parse_define("N").is_err());
        assert!(parse_define("=3").is_err());
        assert!(parse_define("N=x").is_err());
        // As the language writes numbers.
        assert_eq!(parse_define("N=0x10"), Ok(("N".to_string(), 16)));
        assert_eq!(parse_define("N=1_000"), Ok(("N".to_string(), 1000)));
    }
}
