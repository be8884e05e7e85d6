//! One module per `nebula` subcommand, each a clap `Args` struct with
//! `fn exec(self) -> anyhow::Result<ExitCode>`.

pub mod instrument;
