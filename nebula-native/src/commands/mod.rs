//! One module per `nebula` subcommand, each a clap `Args` struct with
//! `fn exec(self) -> anyhow::Result<ExitCode>`; `telemetry` holds the
//! options `run` and `serve` share.

pub mod instrument;
pub mod run;
pub mod serve;
pub mod telemetry;
