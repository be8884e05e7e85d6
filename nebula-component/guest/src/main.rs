//! `nebula.wasm`: the instrumenter as a `wasm32-wasip2` component.
//!
//! It exports both
//!
//! - `nebula:instrument/instrumenter` ([`export`]), for hosts and toolchains
//!   that call `instrument` with bytes; and
//! - `wasi:cli/run` (this `main`), so `wasmtime run --dir . nebula.wasm
//!   instrument in.wasm -o out` takes the native CLI's arguments and writes
//!   the same files through the preopened directories.

mod export;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nebula_cli::{self as cli, InstrumentArgs, Library, PlainProgress};

/// Instrument WebAssembly components with `wasi:otel` tracing (portable
/// build).
#[derive(Parser)]
#[command(
    name = "nebula",
    bin_name = "nebula",
    version,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(about = cli::args::ABOUT, after_help = cli::args::AFTER_HELP)]
    Instrument(InstrumentArgs),
}

fn main() -> ExitCode {
    let Command::Instrument(args) = Cli::parse().command;
    let status = cli::run(&args, &mut Library, &mut PlainProgress);
    ExitCode::from(status.code())
}
