//! The `nebula instrument` loop: for each input, check the outputs, read,
//! instrument through the [`Backend`], write, and print one summary line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use std::{fmt, fs};

use anyhow::{Context as _, anyhow};

use crate::output::{self, OutputPaths, human_size};
use crate::{Backend, InstrumentArgs, Progress, error, inputs};
use nebula_component::Options;

/// How `nebula instrument` ended, as its process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every input was instrumented (exit 0).
    Success,
    /// Some inputs failed; the others were written (exit 1).
    Failed,
}

impl ExitStatus {
    /// The process exit code: 0 or 1 (2, for usage errors, is clap's).
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failed => 1,
        }
    }
}

/// Runs `nebula instrument` with `args`, instrumenting through `backend` and
/// printing through `progress`.
pub fn run(
    args: &InstrumentArgs,
    backend: &mut dyn Backend,
    progress: &mut dyn Progress,
) -> ExitStatus {
    let verbosity = args.verbosity;
    let options = args.options();
    if let Err(e) = options.check_export() {
        progress.err(&error::render(&anyhow!(e)));
        return ExitStatus::Failed;
    }
    let expanded = inputs::expand(&args.inputs);
    let mut failed = expanded.errors.len();
    for e in &expanded.errors {
        progress.err(&error::render(e));
    }
    if !verbosity.quiet {
        for note in &expanded.skipped {
            progress.err(&format!("note: {note}"));
        }
    }
    if expanded.inputs.is_empty() {
        return ExitStatus::Failed;
    }
    if let Err(e) = fs::create_dir_all(&args.output_dir) {
        let e = anyhow!(e).context(format!(
            "cannot create the output directory `{}`; choose another with `-o`",
            args.output_dir.display()
        ));
        progress.err(&error::render(&e));
        return ExitStatus::Failed;
    }

    let mut stems: HashMap<String, &Path> = HashMap::new();
    let mut succeeded = 0;
    progress.start(expanded.inputs.len());
    for input in &expanded.inputs {
        progress.begin(&input.display().to_string());
        let result = claim_stem(&mut stems, input).and_then(|()| {
            let job = Job {
                input,
                outputs: OutputPaths::new(&args.output_dir, input),
                options: &options,
            };
            job.run(backend, args.force)
        });
        match result {
            Ok(done) => {
                succeeded += 1;
                if !verbosity.quiet {
                    progress.out(&done.to_string());
                }
                if verbosity.verbose {
                    progress.out(&done.report);
                }
            }
            Err(e) => {
                failed += 1;
                progress.err(&error::render(&e));
            }
        }
        progress.advance();
    }
    progress.finish();
    if !verbosity.quiet && succeeded + failed > 1 {
        progress.out(&format!(
            "instrumented {succeeded} of {} inputs{}",
            succeeded + failed,
            if failed > 0 {
                format!(" ({failed} failed)")
            } else {
                String::new()
            }
        ));
    }
    if failed == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failed
    }
}

/// Refuses a second input whose outputs would land on the first one's.
fn claim_stem<'a>(stems: &mut HashMap<String, &'a Path>, input: &'a Path) -> anyhow::Result<()> {
    match stems.insert(output::stem(input), input) {
        Some(earlier) => {
            stems.insert(output::stem(input), earlier);
            Err(anyhow!(
                "`{}` would overwrite the outputs of `{}` (same file name); \
                 instrument them into different directories with `-o`",
                input.display(),
                earlier.display()
            ))
        }
        None => Ok(()),
    }
}

/// One input to instrument.
struct Job<'a> {
    input: &'a Path,
    outputs: OutputPaths,
    options: &'a Options,
}

impl Job<'_> {
    fn run(&self, backend: &mut dyn Backend, force: bool) -> anyhow::Result<Done> {
        let shown = self.input.display();
        let context = || format!("failed to instrument `{shown}`");
        self.outputs.check_overwrite(force).with_context(context)?;
        let bytes = crate::inputs::read(self.input)
            .with_context(|| format!("cannot read `{shown}`"))
            .with_context(context)?;
        let start = Instant::now();
        let instrumented = backend
            .instrument(&bytes, self.options)
            .map_err(anyhow::Error::from)
            .with_context(context)?;
        let elapsed = start.elapsed();
        let name = self
            .input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let report = output::render_report(&name, bytes.len(), self.options, &instrumented);
        self.outputs
            .write(&instrumented, &report)
            .with_context(context)?;
        Ok(Done {
            input: self.input.to_path_buf(),
            output: self.outputs.component.clone(),
            wrapped: instrumented.report.wrapped.len(),
            before: bytes.len(),
            after: instrumented.component.len(),
            elapsed,
            report,
        })
    }
}

/// What one successful input printed.
struct Done {
    input: PathBuf,
    output: PathBuf,
    wrapped: usize,
    before: usize,
    after: usize,
    elapsed: Duration,
    report: String,
}

impl fmt::Display for Done {
    /// `service.wasm: 4 functions wrapped, 1.2 MiB → 1.3 MiB in 35 ms → out/…`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} function{} wrapped, {} → {} in {} → {}",
            self.input.display(),
            self.wrapped,
            if self.wrapped == 1 { "" } else { "s" },
            human_size(self.before),
            human_size(self.after),
            human_duration(self.elapsed),
            self.output.display(),
        )
    }
}

/// `0.0123 s` as `12 ms`, `2.5 s` as `2.50 s`.
fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
