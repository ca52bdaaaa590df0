//! `roster`: bulk user import from the command line.
//!
//! The binary is a thin shell over `roster-core`: it parses arguments, installs the log
//! subscriber, shows progress, and turns results and errors into output and exit codes.
//! Exit codes: 0 when the run ends `done` (flagged users are no failure), 1 when it ends
//! `error` or `canceled` or anything else fails, 2 when the input cannot be staged.

mod cli;
mod report;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    init_logging();
    match cli::execute(args) {
        Ok(code) => code,
        // Whoever reads our output stopped reading (`roster users | head`): not a failure.
        Err(failure) if failure.is_broken_pipe() => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("roster: {failure}");
            failure.exit_code()
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG`; by default nothing below `warn`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .init();
}
