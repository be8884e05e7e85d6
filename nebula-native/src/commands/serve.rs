//! `nebula serve`: serves a `wasi:http/incoming-handler` component, each
//! request in a host server span, and shows or exports the traces.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use nebula_native::host::state::OutgoingHttp;
use nebula_native::serve::{self, ServeLimits, ServeOptions};

use super::telemetry::{self, Telemetry};

/// Serve an HTTP component with a `wasi:otel` host, one trace per request.
#[derive(Args)]
#[command(after_help = AFTER_HELP)]
pub struct Serve {
    /// The component to serve (it exports `wasi:http/incoming-handler`)
    #[arg(value_name = "COMPONENT")]
    component: PathBuf,

    /// The address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// Set a guest environment variable: NAME=VALUE, or NAME to pass the
    /// host's value
    #[arg(long, value_name = "NAME[=VALUE]", value_parser = telemetry::parse_env)]
    env: Vec<(String, String)>,

    /// Refuse the component's outgoing HTTP requests (by default they are
    /// sent, as `wasmtime serve` does); the guest gets the error code
    /// `HTTP-request-denied`
    #[arg(long)]
    deny_outgoing_http: bool,

    /// The time one request may take, from its arrival to the end of its
    /// response body; a guest still running then is interrupted (500)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    request_timeout: Duration,

    /// Requests served at once; more wait for a slot until their timeout
    /// (then 503)
    #[arg(long, value_name = "N", default_value = "100",
          value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent: u32,

    /// The largest request body (a larger `content-length` gets 413)
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    max_body_size: u64,

    /// The largest linear memory of an instance; growing past it traps
    /// (500)
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    max_memory: u64,

    /// On Ctrl-C or SIGTERM, how long requests in flight may still run
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    shutdown_timeout: Duration,

    #[command(flatten)]
    telemetry: Telemetry,
}

const AFTER_HELP: &str = "\
Each request runs in a fresh instance inside a server span `<METHOD> <path>`;
a `traceparent` request header makes that span a child of the caller's.
Outgoing requests of the component (`wasi:http/outgoing-handler`) are sent
over HTTP/1.1, `https` with the Mozilla root certificates, like `wasmtime
serve` does; an instrumented component shows each as a client span
`wasi:http/outgoing-handler#handle`. `--deny-outgoing-http` refuses them.
The first line on standard output is `listening on http://ADDR`.

A guest that traps, never sets its response, leaves its body unfinished,
runs past --request-timeout (an endless loop is interrupted) or grows its
memory past --max-memory gets its request answered 500 (or, when the head
was already sent, the connection closed), one `error:` line on standard
error, and its spans end with an error status; the server goes on.

Stop with Ctrl-C or SIGTERM: the listener closes, requests in flight finish
(for up to --shutdown-timeout), queued spans are exported, and the exit
status is 0. DURATION: `500ms`, `30s`, `2m` (a bare number is seconds);
SIZE: `1024`, `64KiB`, `32MiB`, `1GiB` (K, M, G mean the same).

Examples:
  nebula instrument handler.wasm -o out
  nebula serve out/handler.instrumented.wasm --addr 127.0.0.1:8080
  curl -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' localhost:8080/
  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 nebula serve out/handler.instrumented.wasm
  nebula serve handler.wasm --request-timeout 5s --max-concurrent 16 --max-memory 64MiB
  # Keep a quarter of the traces (or OTEL_TRACES_SAMPLER=parentbased_traceidratio, _ARG=0.25)
  nebula serve out/handler.instrumented.wasm --sample 0.25

Exit status:
  0 after Ctrl-C, 1 when the component cannot be served, 2 for usage errors";

impl Serve {
    /// Serves until interrupted.
    pub fn exec(self) -> anyhow::Result<ExitCode> {
        let sampler = match self.telemetry.sampler() {
            Ok(sampler) => sampler,
            Err(e) => return Ok(super::run::usage_error(&e)),
        };
        let name = nebula_native::run::component_name(&self.component);
        let exporter = self.telemetry.start(&name)?;
        let options = ServeOptions {
            component: self.component,
            addr: self.addr,
            env: self.env,
            outgoing_http: if self.deny_outgoing_http {
                OutgoingHttp::Deny
            } else {
                OutgoingHttp::Allow
            },
            limits: ServeLimits {
                request_timeout: self.request_timeout,
                max_concurrent: self.max_concurrent as usize,
                max_body_size: self.max_body_size,
                max_memory: usize::try_from(self.max_memory).unwrap_or(usize::MAX),
                shutdown_timeout: self.shutdown_timeout,
            },
            sampler,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let sink = exporter.sink();
        let result = runtime.block_on(serve::serve(
            &options,
            sink,
            |addr| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on http://{addr}");
                let _ = out.flush();
            },
            stop_signal(),
        ));
        // Tasks still running (connections whose client does not read)
        // hold sinks: stop them before flushing.
        runtime.shutdown_timeout(Duration::from_secs(1));
        telemetry::finish(exporter);
        result.map(|()| ExitCode::SUCCESS)
    }
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let at = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(at);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write e.g. 500ms, 30s or 2m"))?;
    let seconds = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "`{other}` is not a unit of time; use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{s}`: the duration must be positive"))
}

/// `1024`, `64KiB`, `32MiB`, `1GiB` (also `K`, `KB`, `M`, `MB`, `G`, `GB`:
/// powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(at);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size; write e.g. 1024, 64KiB or 32MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => {
            return Err(format!(
                "`{other}` is not a unit of size; use KiB, MiB or GiB"
            ));
        }
    };
    n.checked_mul(1 << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{s}`: the size must be positive and fit in 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse_with_their_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("32M"), Ok(32 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("12 apples").is_err());
        assert!(parse_size("0").is_err());
    }
}
