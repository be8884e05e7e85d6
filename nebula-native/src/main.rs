//! `nebula`: instruments WebAssembly components with `wasi:otel` tracing,
//! and runs them on a `wasi:otel` host.
//!
//! `instrument` is a thin native shell around `nebula.wasm`: the
//! instrumenter itself runs inside wasmtime (embedded precompiled), while
//! this binary parses the command line, reads and writes the files and
//! draws progress. `run` and `serve` run components on the hosts of the
//! `nebula_native` library. Each subcommand lives in its own file under
//! `commands/`.

mod commands;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nebula_cli::error;

/// Instrument WebAssembly components with OpenTelemetry tracing
/// (`wasi:otel`), without changing their source.
#[derive(Parser)]
#[command(
    name = "nebula",
    bin_name = "nebula",
    version,
    propagate_version = true
)]
#[command(after_help = "Run `nebula help <COMMAND>` for examples.\n\n\
Exit status:\n  0  success\n  1  some inputs failed (run, serve: the component failed)\n  \
2  usage error")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Instrument(commands::instrument::Instrument),
    Run(commands::run::Run),
    Serve(commands::serve::Serve),
}

fn main() -> ExitCode {
    // Usage errors exit with 2, `-h` and `-V` with 0 (clap's convention).
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Instrument(cmd) => cmd.exec(),
        Command::Run(cmd) => cmd.exec(),
        Command::Serve(cmd) => cmd.exec(),
    };
    result.unwrap_or_else(|e| {
        eprintln!("{}", error::render(&e));
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
