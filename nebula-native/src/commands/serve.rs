//! `nebula serve`: serves a `wasi:http/incoming-handler` component, each
//! request in a host server span, and shows or exports the traces.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use nebula_native::host::state::OutgoingHttp;
use nebula_native::serve::{self, ServeOptions};

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
The first line on standard output is `listening on http://ADDR`. Stop with
Ctrl-C: queued spans are exported before exit.

Examples:
  nebula instrument handler.wasm -o out
  nebula serve out/handler.instrumented.wasm --addr 127.0.0.1:8080
  curl -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' localhost:8080/
  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 nebula serve out/handler.instrumented.wasm

Exit status:
  0 after Ctrl-C, 1 when the component cannot be served, 2 for usage errors";

impl Serve {
    /// Serves until interrupted.
    pub fn exec(self) -> anyhow::Result<ExitCode> {
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
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let sink = exporter.sink();
        let result = runtime.block_on(async {
            let served = serve::serve(&options, sink, |addr| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on http://{addr}");
                let _ = out.flush();
            });
            tokio::select! {
                result = served => result,
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        });
        // Tasks still running hold sinks: stop them before flushing.
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        telemetry::finish(exporter);
        result.map(|()| ExitCode::SUCCESS)
    }
}
