//! `ipclab`: the command line of the simulator (`run`, `list`, `show`); see `docs/cli.md`.
mod bundled;
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
