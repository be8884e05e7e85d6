//! Where `nebula instrument` prints: [`Progress`] lets the native CLI draw a
//! progress bar while `nebula.wasm` prints plain lines.

use std::io::Write as _;

/// Receives everything the command prints, and its progress.
pub trait Progress {
    /// The run starts with `total` inputs.
    fn start(&mut self, total: usize);
    /// Work on the input `name` starts.
    fn begin(&mut self, name: &str);
    /// The input that began last is done, successfully or not.
    fn advance(&mut self);
    /// The run is over.
    fn finish(&mut self);
    /// Prints a result line (summary, report) to standard output.
    fn out(&mut self, line: &str);
    /// Prints a diagnostic line (error, note) to standard error.
    fn err(&mut self, line: &str);
}

/// A [`Progress`] printing plain lines and drawing nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainProgress;

impl Progress for PlainProgress {
    fn start(&mut self, _: usize) {}
    fn begin(&mut self, _: &str) {}
    fn advance(&mut self) {}
    fn finish(&mut self) {}

    fn out(&mut self, line: &str) {
        // A closed pipe (`nebula … | head`) is not worth a panic.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }

    fn err(&mut self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
