//! `nebula instrument`: the shared command line of
//! [`nebula_cli`], with `nebula.wasm` (run by wasmtime) as the
//! instrumenter and a progress bar for many inputs.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use nebula_cli::InstrumentArgs;
use nebula_native::nebula_wasm::NebulaWasm;

use crate::progress::BarProgress;

/// Instrument WebAssembly components with `wasi:otel` tracing.
#[derive(Args)]
#[command(about = nebula_cli::args::ABOUT, after_help = nebula_cli::args::AFTER_HELP)]
pub struct Instrument {
    #[command(flatten)]
    args: InstrumentArgs,
}

impl Instrument {
    /// Instruments every input; the exit code says whether all succeeded.
    pub fn exec(self) -> anyhow::Result<ExitCode> {
        let mut backend = NebulaWasm::embedded()
            .context("failed to load the instrumenter `nebula.wasm` embedded in `nebula`")?;
        if !backend.precompiled() && !self.args.verbosity.quiet {
            eprintln!(
                "warning: the precompiled instrumenter does not fit this machine; \
                 it was compiled at start-up instead (rebuild `nebula` here to avoid it)"
            );
        }
        let mut progress = BarProgress::new(self.args.verbosity.quiet);
        let status = nebula_cli::run(&self.args, &mut backend, &mut progress);
        Ok(ExitCode::from(status.code()))
    }
}
