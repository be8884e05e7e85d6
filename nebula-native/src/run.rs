//! `nebula run`: runs a `wasi:cli` command, or calls exported functions
//! (`--invoke`), on the `wasi:otel` host, inside one root span.
//!
//! - the host opens a root span `run <name>` unless the caller continues a
//!   trace (a remote parent from `--traceparent` / `TRACEPARENT`): then the
//!   component's spans are children of that remote span;
//! - every `--invoke` call runs on the same instance, in order, and its
//!   results are printed in WAVE;
//! - a trap ends every span still open with status `error("trap: …")`
//!   ([`OtelHost::end_open_spans`]), and they are exported like the others.

use crate::sampler::Sampler;
use std::io::Write;
use std::path::PathBuf;

use wasmtime::Store;
use wasmtime::component::Component;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx};

use crate::export::SpanSink;
use crate::host::otel::{KeyValue, OtelHost, SpanContext, SpanKind, Status};
use crate::host::state::{self, HostState, Mode};
use crate::invoke::{self, InvokeError, Prepared};

/// What to run and how.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The component file.
    pub component: PathBuf,
    /// The component's name (spans, `argv[0]`).
    pub name: String,
    /// Arguments after the component (a command's `argv[1..]`).
    pub args: Vec<String>,
    /// `--invoke` calls; empty to run the command.
    pub invokes: Vec<String>,
    /// Preopened directories: (host path, guest path).
    pub dirs: Vec<(PathBuf, String)>,
    /// Environment variables of the guest.
    pub env: Vec<(String, String)>,
    /// The remote parent of the run, if any (then no root span).
    pub remote_parent: Option<SpanContext>,
    /// Whether the root span's trace is sampled (see [`crate::sampler`]).
    pub sampler: Sampler,
}

/// Why a run did not happen or did not finish.
#[derive(Debug)]
pub enum RunError {
    /// The request itself is wrong (unknown function, bad WAVE, not a
    /// command): exit status 2.
    Usage(String),
    /// The component could not be loaded or linked.
    Failed(anyhow::Error),
    /// The guest trapped (its open spans were ended and exported).
    Trapped(String),
}

impl From<InvokeError> for RunError {
    fn from(e: InvokeError) -> Self {
        RunError::Usage(e.0)
    }
}

impl From<anyhow::Error> for RunError {
    fn from(e: anyhow::Error) -> Self {
        RunError::Failed(e)
    }
}

/// The interface a command exports.
const CLI_RUN: &str = "wasi:cli/run";

/// Runs `options` with finished spans going to `sink`; `--invoke` results
/// are written to `out`. Returns the command's exit status (0 for invokes).
pub fn run(options: &RunOptions, sink: SpanSink, out: &mut dyn Write) -> Result<i32, RunError> {
    let engine = state::engine(Mode::Sync)?;
    let component = state::load(&engine, &options.component)?;
    let prepared: Vec<Prepared> = options
        .invokes
        .iter()
        .map(|call| invoke::prepare(&engine, &component, call))
        .collect::<Result<_, _>>()?;
    if prepared.is_empty() && !is_command(&engine, &component) {
        let functions = invoke::functions(&engine, &component);
        return Err(RunError::Usage(format!(
            "`{}` is not a command (it exports no `{CLI_RUN}`); call its functions \
             with --invoke, e.g. --invoke '{}(…)'",
            options.component.display(),
            functions.first().map_or("name", String::as_str)
        )));
    }
    let linker = state::linker(&engine, &component, Mode::Sync)?;
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        RunError::Failed(anyhow::Error::from(e).context(format!(
            "`{}` imports something `nebula run` does not provide",
            options.component.display()
        )))
    })?;

    let mut otel = OtelHost::with_sink(sink, options.remote_parent.clone())
        .with_sampler(options.sampler.clone());
    let root = options.remote_parent.is_none().then(|| {
        otel.start_span(
            &format!("run {}", options.name),
            SpanKind::Internal,
            vec![KeyValue {
                key: "wasm.component.name".into(),
                value: json_string(&options.name),
            }],
        )
    });
    let mut store = Store::new(&engine, HostState::new(wasi(options)?, otel));

    let outcome = (|| -> wasmtime::Result<i32> {
        let instance = pre.instantiate(&mut store)?;
        if prepared.is_empty() {
            let command = Command::new(&mut store, &instance)?;
            return Ok(match command.wasi_cli_run().call_run(&mut store) {
                Ok(Ok(())) => 0,
                Ok(Err(())) => 1,
                Err(e) => match e.downcast_ref::<I32Exit>() {
                    Some(exit) => exit.0,
                    None => return Err(e),
                },
            });
        }
        for call in &prepared {
            let results = invoke::call(&mut store, &instance, call)?;
            for line in invoke::format_results(&results) {
                writeln!(out, "{line}")?;
            }
        }
        Ok(0)
    })();

    let otel = &mut store.data_mut().otel;
    match outcome {
        Ok(code) => {
            if let Some(root) = &root {
                let status = if code == 0 {
                    Status::Unset
                } else {
                    Status::Error(format!("exit status {code}"))
                };
                otel.end_span(root, status, Vec::new());
            }
            // Spans a guest left open without trapping end here too.
            otel.end_open_spans("still open when the run ended");
            Ok(code)
        }
        Err(e) => {
            let message = trap_message(&e);
            otel.end_open_spans(&message);
            Err(RunError::Trapped(format!("{e:?}")))
        }
    }
}

/// Whether `component` exports `wasi:cli/run` (any version).
fn is_command(engine: &wasmtime::Engine, component: &Component) -> bool {
    component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name.split('@').next() == Some(CLI_RUN))
}

/// The guest's WASI context: arguments, environment, preopened
/// directories, the host's stdio.
fn wasi(options: &RunOptions) -> anyhow::Result<WasiCtx> {
    let mut builder = WasiCtx::builder();
    builder
        .inherit_stdio()
        .arg(&options.name)
        .args(&options.args);
    for (k, v) in &options.env {
        builder.env(k, v);
    }
    for (host, guest) in &options.dirs {
        builder
            .preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| anyhow::anyhow!("cannot open directory `{}`: {e}", host.display()))?;
    }
    Ok(builder.build())
}

/// `trap: <what happened>`, short: the wasm trap code when there is one.
pub fn trap_message(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => {
            let text = trap.to_string();
            format!(
                "trap: {}",
                text.strip_prefix("wasm trap: ").unwrap_or(&text)
            )
        }
        None => format!("trap: {}", e.to_string().lines().next().unwrap_or("")),
    }
}

/// `s` as a JSON string (a `wasi:otel` attribute value).
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The name of a component for spans and `service.name`: the file stem,
/// without a trailing `.instrumented`.
pub fn component_name(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".into());
    stem.strip_suffix(".instrumented")
        .map(str::to_string)
        .unwrap_or(stem)
}
