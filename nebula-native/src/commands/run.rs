//! `nebula run`: runs a command component, or calls exported functions,
//! with the `wasi:otel` host, and shows or exports the trace.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use nebula_native::run::{self, RunError, RunOptions};

use super::telemetry::{self, Telemetry};

/// Run a component with a `wasi:otel` host and show its trace.
#[derive(Args)]
#[command(after_help = AFTER_HELP)]
pub struct Run {
    /// The component to run (instrumented by `nebula instrument`, or any
    /// component importing `wasi:otel/tracing`, or none)
    #[arg(value_name = "COMPONENT")]
    component: PathBuf,

    /// Arguments passed to a command component (nebula's options go
    /// before the first one; `--` ends nebula's options)
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,

    /// Call an exported function instead of running a command:
    /// 'ns:pkg/iface#func(ARGS)' or 'func(ARGS)', ARGS in WAVE; repeatable,
    /// the calls run in order on one instance and each result is printed
    #[arg(long, value_name = "CALL")]
    invoke: Vec<String>,

    /// Preopen a host directory: HOST_DIR or HOST_DIR::GUEST_DIR
    #[arg(long, value_name = "DIR", value_parser = telemetry::parse_dir)]
    dir: Vec<(PathBuf, String)>,

    /// Set a guest environment variable: NAME=VALUE, or NAME to pass the
    /// host's value
    #[arg(long, value_name = "NAME[=VALUE]", value_parser = telemetry::parse_env)]
    env: Vec<(String, String)>,

    /// Continue this W3C trace (00-<trace-id>-<span-id>-<flags>) instead of
    /// opening a root span (default: the TRACEPARENT variable)
    #[arg(long, value_name = "TRACEPARENT")]
    traceparent: Option<String>,

    #[command(flatten)]
    telemetry: Telemetry,

    /// After the run, print span counts and peak memory on standard error
    #[arg(long)]
    stats: bool,
}

const AFTER_HELP: &str = "\
Examples:
  # Instrument a command, run it, see its span tree on stderr
  nebula instrument app.wasm -o out && nebula run out/app.instrumented.wasm -- --some-flag
  # Call library functions (arguments and results in WAVE)
  nebula run lib.instrumented.wasm --invoke 'my:pkg/api#greet(\"world\")' --invoke 'add(1, 2)'
  # Export to a collector, and to a file
  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 nebula run app.wasm --trace-file trace.json
  # Continue a trace started elsewhere
  nebula run app.wasm --traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01

Exit status:
  the command's own exit status, 0 after successful --invoke calls,
  1 when the component cannot run or traps, 2 for usage errors (bad
  arguments, unknown function, malformed WAVE)";

impl Run {
    /// Runs the component; the exit code is the command's.
    pub fn exec(self) -> anyhow::Result<ExitCode> {
        let remote_parent = match telemetry::remote_parent(self.traceparent.as_deref()) {
            Ok(cx) => cx,
            Err(e) => return Ok(usage_error(&e)),
        };
        let sampler = match self.telemetry.sampler() {
            Ok(sampler) => sampler,
            Err(e) => return Ok(usage_error(&e)),
        };
        let name = run::component_name(&self.component);
        let exporter = self.telemetry.start(&name)?;
        let options = RunOptions {
            component: self.component,
            name,
            args: self.args,
            invokes: self.invoke,
            dirs: self.dir,
            env: self.env,
            remote_parent,
            sampler,
        };
        let mut stdout = std::io::stdout().lock();
        let result = run::run(&options, exporter.sink(), &mut stdout);
        let _ = stdout.flush();
        drop(stdout);
        let summary = telemetry::finish(exporter);
        if self.stats {
            eprintln!(
                "stats: {} spans exported, {} dropped (queue full), {} not delivered; \
                 peak memory {}",
                summary.exported,
                summary.dropped_queue_full,
                summary.lost,
                peak_memory().unwrap_or_else(|| "unknown".into())
            );
        }
        match result {
            Ok(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
            Err(RunError::Usage(e)) => Ok(usage_error(&e)),
            Err(RunError::Failed(e)) => Err(e),
            Err(RunError::Trapped(e)) => {
                eprintln!("error: the component trapped: {e}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// Prints `message` as a usage error; exit status 2.
pub(super) fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// The process's peak resident memory (`VmHWM`), where the system says.
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}
