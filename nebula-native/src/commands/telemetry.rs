//! Options shared by `nebula run` and `nebula serve`: where spans go and
//! which trace a run continues.

use std::path::{Path, PathBuf};

use clap::Args;
use nebula_native::export::{
    CollectorConfig, DEFAULT_QUEUE_CAPACITY, ExportConfig, Exporter, Resource,
};
use nebula_native::host::otel::SpanContext;
use nebula_native::sampler::Sampler;
use nebula_native::traceparent;

/// Exporter options.
#[derive(Args, Clone, Debug)]
pub struct Telemetry {
    /// Export spans over OTLP/HTTP (protobuf) to this collector base URL,
    /// e.g. http://localhost:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT or
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT when set)
    #[arg(long, value_name = "URL")]
    pub otlp: Option<String>,

    /// Also write the spans to FILE as OTLP JSON (one request per line)
    #[arg(long, value_name = "FILE")]
    pub trace_file: Option<PathBuf>,

    /// Do not print the span tree on standard error
    #[arg(long)]
    pub no_tree: bool,

    /// Spans queued for export at most; more are dropped and counted
    #[arg(long, value_name = "N", default_value_t = DEFAULT_QUEUE_CAPACITY)]
    pub queue_size: usize,

    /// The `service.name` of exported spans (default: OTEL_SERVICE_NAME,
    /// else the component's name)
    #[arg(long, value_name = "NAME")]
    pub service_name: Option<String>,

    /// Sample this share (0 to 1) of the traces the host starts; a request
    /// with a `traceparent` follows its sampled flag (default:
    /// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, else every trace)
    #[arg(long, value_name = "RATIO")]
    pub sample: Option<f64>,
}

impl Telemetry {
    /// Starts the exporters these options ask for.
    pub fn start(&self, component_name: &str) -> anyhow::Result<Exporter> {
        let env = |k: &str| std::env::var(k).ok();
        let collector =
            CollectorConfig::from_env(self.otlp.as_deref(), env).map_err(anyhow::Error::msg)?;
        let trace_file = match &self.trace_file {
            Some(path) => Some(create(path)?),
            None => None,
        };
        let service_name = self
            .service_name
            .clone()
            .or_else(|| env("OTEL_SERVICE_NAME").filter(|s| !s.is_empty()))
            .unwrap_or_else(|| component_name.to_string());
        Ok(Exporter::start(ExportConfig {
            tree: (!self.no_tree).then(|| Box::new(std::io::stderr()) as _),
            warnings: Box::new(std::io::stderr()),
            trace_file,
            collector,
            queue_capacity: self.queue_size,
            resource: Resource { service_name },
        }))
    }
}

impl Telemetry {
    /// The sampler `--sample` or the `OTEL_TRACES_SAMPLER` variables ask
    /// for; the error names the bad value.
    pub fn sampler(&self) -> Result<Sampler, String> {
        Sampler::configured(self.sample, |k| std::env::var(k).ok())
    }
}

fn create(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::create(path)
        .map_err(|e| anyhow::anyhow!("cannot create the trace file `{}`: {e}", path.display()))
}

/// The remote parent from `--traceparent`, else the `TRACEPARENT`
/// variable. A malformed flag is an error; a malformed variable is a
/// warning and is ignored.
pub fn remote_parent(flag: Option<&str>) -> Result<Option<SpanContext>, String> {
    if let Some(value) = flag {
        return traceparent::parse(value).map(Some);
    }
    match std::env::var("TRACEPARENT") {
        Ok(value) if !value.trim().is_empty() => match traceparent::parse(&value) {
            Ok(cx) => Ok(Some(cx)),
            Err(e) => {
                eprintln!("warning: ignoring TRACEPARENT: {e}");
                Ok(None)
            }
        },
        _ => Ok(None),
    }
}

/// `NAME=VALUE`, or `NAME` for the host's value of `NAME`.
pub fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some(("", _)) => Err(format!("`{s}` has no variable name")),
        Some((k, v)) => Ok((k.to_string(), v.to_string())),
        None => Ok((s.to_string(), std::env::var(s).unwrap_or_default())),
    }
}

/// `HOST[::GUEST]`: a host directory and where the guest sees it (by
/// default the same path).
pub fn parse_dir(s: &str) -> Result<(PathBuf, String), String> {
    let (host, guest) = match s.split_once("::") {
        Some((h, g)) => (h, g),
        None => (s, s),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(format!("`{s}`: write HOST_DIR or HOST_DIR::GUEST_DIR"));
    }
    Ok((PathBuf::from(host), guest.to_string()))
}

/// Prints the exporter's summary warning (dropped or lost spans).
pub fn finish(exporter: Exporter) -> nebula_native::export::Summary {
    let summary = exporter.finish();
    if let Some(warning) = summary.warning() {
        eprintln!("{warning}");
    }
    summary
}
