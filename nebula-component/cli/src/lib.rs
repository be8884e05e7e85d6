//! The `nebula instrument` command line, shared by the native `nebula` CLI
//! and `nebula.wasm` run as a command (`wasi:cli/run`), so both take the
//! same arguments and write the same files.
//!
//! - [`args`]: the clap arguments ([`InstrumentArgs`]) and their help;
//! - [`inputs`]: expanding files and directories into the inputs to process;
//! - [`output`]: the output file names, the overwrite check, the report text;
//! - [`run`]: the loop over the inputs, summary lines and exit status;
//! - [`Backend`]: what actually instruments (the library in-process, or
//!   `nebula.wasm` in wasmtime for the native CLI);
//! - [`Progress`]: where lines go (plain lines, or a progress bar natively);
//! - [`error`]: `error:` + numbered `Caused by:` rendering.
//!
//! The files are read and written here with `std::fs`: natively, or through
//! the directories a WASI host preopened.

pub mod args;
pub mod error;
pub mod inputs;
pub mod output;
mod progress;
mod run;

pub use args::{FlavorArg, InstrumentArgs, Verbosity};
pub use progress::{PlainProgress, Progress};
pub use run::{ExitStatus, run};

use nebula_component::{Error, Instrumented, Options};

/// Something that instruments one component: the library itself
/// ([`Library`]), or `nebula.wasm` run by a host.
pub trait Backend {
    /// Instruments `component` with `options`, as [`nebula_component::instrument`].
    fn instrument(&mut self, component: &[u8], options: &Options) -> Result<Instrumented, Error>;
}

/// The [`Backend`] that calls [`nebula_component::instrument`] in-process.
#[derive(Debug, Default, Clone, Copy)]
pub struct Library;

impl Backend for Library {
    fn instrument(&mut self, component: &[u8], options: &Options) -> Result<Instrumented, Error> {
        nebula_component::instrument(component, options)
    }
}
