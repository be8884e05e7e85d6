//! `nebula serve`: serves a `wasi:http/incoming-handler` component over
//! HTTP/1.1 (hyper on tokio, `wasmtime-wasi-http`), one fresh instance per
//! request, each request inside a host server span.
//!
//! - span: `<METHOD> <path>`, kind `server`, attributes
//!   `http.request.method`, `url.path`, `http.response.status_code`;
//!   status error for a 5xx answer or a guest trap;
//! - an incoming W3C `traceparent` header is the server span's remote
//!   parent; without one each request starts a trace;
//! - the span ends when the guest's `handle` returns (its body written);
//! - the guest's outgoing requests (`wasi:http/outgoing-handler`) are sent
//!   by `wasmtime-wasi-http`'s default client, as `wasmtime serve` does,
//!   unless [`ServeOptions::outgoing_http`] denies them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

use crate::export::SpanSink;
use crate::host::otel::{HostSpan, KeyValue, OtelHost, SpanKind, Status};
use crate::host::state::{self, HostState, Mode, OutgoingHttp};
use crate::run::{json_string, trap_message};
use crate::traceparent;

/// What to serve and where.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The component file.
    pub component: PathBuf,
    /// The address to listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// Environment variables of the guest.
    pub env: Vec<(String, String)>,
    /// What becomes of the guest's outgoing HTTP requests.
    pub outgoing_http: OutgoingHttp,
}

/// The component, ready to instantiate per request.
struct Server {
    pre: ProxyPre<HostState>,
    env: Vec<(String, String)>,
    outgoing_http: OutgoingHttp,
    sink: SpanSink,
}

type ResponseBody = UnsyncBoxBody<Bytes, anyhow::Error>;

/// Loads the component and binds `options.addr`; the returned future
/// serves until it is dropped. `ready` gets the bound address.
pub async fn serve(
    options: &ServeOptions,
    sink: SpanSink,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let engine = state::engine(Mode::Http)?;
    let component = state::load(&engine, &options.component)?;
    let linker = state::linker(&engine, &component, Mode::Http)?;
    let pre = linker
        .instantiate_pre(&component)
        .and_then(ProxyPre::new)
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!(
                "`{}` cannot be served: it must export `wasi:http/incoming-handler` \
                 and import only what `nebula serve` provides",
                options.component.display()
            )
        })?;
    let listener = TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("cannot listen on {}", options.addr))?;
    ready(listener.local_addr()?);
    let server = Arc::new(Server {
        pre,
        env: options.env.clone(),
        outgoing_http: options.outgoing_http,
        sink,
    });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => continue,
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.handle(req).await) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Server {
    /// Serves one request in a fresh instance, inside a server span.
    async fn handle(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<ResponseBody> {
        let remote_parent = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| traceparent::parse(v).ok());
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let mut otel = OtelHost::with_sink(self.sink.clone(), remote_parent);
        let span = otel.start_span(
            &format!("{method} {path}"),
            SpanKind::Server,
            vec![
                KeyValue {
                    key: "http.request.method".into(),
                    value: json_string(&method),
                },
                KeyValue {
                    key: "url.path".into(),
                    value: json_string(&path),
                },
            ],
        );
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdio();
        for (k, v) in &self.env {
            wasi.env(k, v);
        }
        let state = HostState::new(wasi.build(), otel).with_outgoing_http(self.outgoing_http);
        let mut store = Store::new(self.pre.engine(), state);

        let (sender, receiver) = tokio::sync::oneshot::channel();
        let mut http = store.data_mut().http();
        let incoming = http.new_incoming_request(Scheme::Http, req);
        let out = http.new_response_outparam(sender);
        let (incoming, out) = match (incoming, out) {
            (Ok(incoming), Ok(out)) => (incoming, out),
            (Err(e), _) | (_, Err(e)) => {
                let message = format!("cannot pass the request to the guest: {e}");
                eprintln!("error: {method} {path}: {message}");
                store
                    .data_mut()
                    .otel
                    .end_span(&span, Status::Error(message), Vec::new());
                return error_response();
            }
        };
        // The guest runs in its own task, which owns the store and hands it
        // back when `handle` returns (after writing the body).
        let pre = self.pre.clone();
        let task = tokio::spawn(async move {
            let result = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, incoming, out)
                    .await
            }
            .await;
            (store, result)
        });
        match receiver.await {
            Ok(Ok(response)) => {
                tokio::spawn(finish(task, span, response.status().as_u16(), method, path));
                response.map(|b| b.map_err(anyhow::Error::from).boxed_unsync())
            }
            Ok(Err(e)) => {
                eprintln!("error: {method} {path}: the guest answered with an error: {e:?}");
                tokio::spawn(finish(task, span, 500, method, path));
                error_response()
            }
            Err(_) => {
                tokio::spawn(finish(task, span, 500, method, path));
                error_response()
            }
        }
    }
}

/// Ends the request's spans once the guest's `handle` returned: the server
/// span with the response status, or every open span after a trap.
async fn finish(
    task: tokio::task::JoinHandle<(Store<HostState>, wasmtime::Result<()>)>,
    span: HostSpan,
    status: u16,
    method: String,
    path: String,
) {
    let Ok((mut store, result)) = task.await else {
        return;
    };
    let otel = &mut store.data_mut().otel;
    if let Err(e) = result {
        eprintln!("error: {method} {path}: the component trapped: {e:?}");
        otel.end_open_spans(&trap_message(&e));
        return;
    }
    let code = KeyValue {
        key: "http.response.status_code".into(),
        value: status.to_string(),
    };
    let status = if status >= 500 {
        Status::Error(format!("HTTP {status}"))
    } else {
        Status::Unset
    };
    otel.end_span(&span, status, vec![code]);
}

/// `500 Internal Server Error` with an empty body.
fn error_response() -> hyper::Response<ResponseBody> {
    let mut response = hyper::Response::new(
        Full::new(Bytes::new())
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
    response
}
