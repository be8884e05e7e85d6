//! A [`Progress`] that draws an `indicatif` bar on standard error while many
//! inputs run; nothing is drawn for one input, with `-q`, or when standard
//! error is not a terminal.

use std::io::Write as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nebula_cli::Progress;

/// Plain lines, plus a bar over them for more than one input.
pub struct BarProgress {
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl BarProgress {
    /// No bar at all when `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self { quiet, bar: None }
    }

    /// Runs `print` with the bar (if any) out of the way.
    fn print(&self, print: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }
}

impl Progress for BarProgress {
    fn start(&mut self, total: usize) {
        if self.quiet || total < 2 {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}") {
            bar.set_style(style);
        }
        self.bar = Some(bar);
    }

    fn begin(&mut self, name: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(name.to_string());
        }
    }

    fn advance(&mut self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn out(&mut self, line: &str) {
        // A closed pipe (`nebula … | head`) is not worth a panic.
        self.print(|| {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        });
    }

    fn err(&mut self, line: &str) {
        self.print(|| {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        });
    }
}
