//! `nebula serve`: serves a `wasi:http/incoming-handler` component over
//! HTTP/1.1 (hyper on tokio, `wasmtime-wasi-http`), one fresh instance per
//! request, each request inside a host server span.
//!
//! - span: `<METHOD> <path>`, kind `server`, attributes
//!   `http.request.method`, `url.path`, `http.response.status_code`;
//!   status error for a 5xx answer or any way the guest failed to answer;
//! - an incoming W3C `traceparent` header is the server span's remote
//!   parent; without one each request starts a trace;
//! - the span ends when the guest is done (returned, trapped or
//!   interrupted) and the response body is sent (or cut);
//! - the guest's outgoing requests (`wasi:http/outgoing-handler`) are sent
//!   by `wasmtime-wasi-http`'s default client, as `wasmtime serve` does,
//!   unless [`ServeOptions::outgoing_http`] denies them; one without a
//!   `traceparent` gets one naming the span current when it was sent
//!   (`host/state.rs`).
//!
//! # Faults
//!
//! Every way a guest can fail to answer gets an HTTP answer and one
//! `error:` line on stderr (with the wasm backtrace for a trap), and the
//! server goes on:
//!
//! | what the guest did | the client gets | the server span |
//! | --- | --- | --- |
//! | trapped (or failed to instantiate) before `response-outparam.set` | `500` | `error("trap: …")` |
//! | trapped after `set`, the body unfinished | the head and what was written, then the connection closes (no final chunk) | `error("trap: …")` |
//! | returned (or dropped the outparam) without setting it | `500` | `error("the component returned without setting the response")` |
//! | set `Err(error-code)` | `500` | `error("the component answered with the error …")` |
//! | returned with the body neither finished nor dropped | the connection closes after what was written | `error("the component returned without finishing the response body")` |
//! | dropped the body without finishing it | the connection closes after what was written | `error("the component dropped the response body without finishing it")` |
//! | ran past `--request-timeout` (an endless loop is interrupted by epoch) | `500`, or the connection closes | `error("timeout: …")` |
//! | grew a memory past `--max-memory` | `500`, or the connection closes | `error("trap: memory limit: …")` |
//!
//! Guest spans still open then are ended with the same error status
//! ([`OtelHost::end_open_spans`]) and exported.
//!
//! # Limits ([`ServeLimits`])
//!
//! - a deadline per request, from its arrival: waiting for a slot, running
//!   the guest and sending the body all count. The engine has epoch
//!   interruption on and a ticker thread advances the epoch every
//!   [`EPOCH_TICK`]; at each tick a running guest yields to the executor
//!   (so one busy guest cannot starve the others) and past its deadline it
//!   is interrupted;
//! - at most [`ServeLimits::max_concurrent`] guests at once; a request that
//!   finds no slot before its deadline gets `503`;
//! - request bodies: a `content-length` over [`ServeLimits::max_body_size`]
//!   gets `413` without running the guest; a longer body without length is
//!   cut there (the guest's read fails with `HTTP-request-body-size`);
//! - each linear memory of an instance: [`ServeLimits::max_memory`].
//!
//! # Shutdown
//!
//! When the `shutdown` future given to [`serve`] completes, the listener
//! closes, every connection is shut down gracefully (requests in flight go
//! on, idle keep-alive connections close) and [`serve`] returns once every
//! guest is done, or after [`ServeLimits::shutdown_timeout`]: guests still
//! running then are stopped, their spans ended with `error("shutdown: …")`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::{HostOutgoingBody, HyperOutgoingBody, StreamContext};

use crate::export::SpanSink;
use crate::host::otel::{HostSpan, KeyValue, OtelHost, SpanKind, Status};
use crate::host::state::{self, HostState, MemoryLimit, MemoryLimitExceeded, Mode, OutgoingHttp};
use crate::run::{json_string, trap_message};
use crate::sampler::Sampler;
use crate::traceparent;

/// How often the epoch advances: a running guest yields to the executor
/// (and checks its deadline) this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

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
    /// Timeouts and resource limits.
    pub limits: ServeLimits,
    /// Which requests' traces are sampled (see [`crate::sampler`]).
    pub sampler: Sampler,
}

/// The bounds `nebula serve` keeps every request in (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// The time one request may take from its arrival to the end of its
    /// response body. Defaults to 60 s.
    pub request_timeout: Duration,
    /// Guests running at once; more requests wait for a slot (until their
    /// deadline). Defaults to 100.
    pub max_concurrent: usize,
    /// The largest request body, in bytes. Defaults to 64 MiB.
    pub max_body_size: u64,
    /// The largest linear memory of an instance, in bytes. Defaults to
    /// 512 MiB.
    pub max_memory: usize,
    /// How long a shutdown waits for requests in flight. Defaults to 10 s.
    pub shutdown_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(60),
            max_concurrent: 100,
            max_body_size: 64 << 20,
            max_memory: 512 << 20,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// The component, ready to instantiate per request, and the server's
/// shared state.
struct Server {
    pre: ProxyPre<HostState>,
    env: Vec<(String, String)>,
    outgoing_http: OutgoingHttp,
    limits: ServeLimits,
    sink: SpanSink,
    sampler: Sampler,
    /// Slots for running guests.
    slots: Arc<Semaphore>,
    /// Set past the shutdown deadline: running guests stop.
    stop_guests: watch::Receiver<bool>,
    /// Held by every connection and guest task; [`serve`] waits until
    /// every clone is dropped.
    in_flight: mpsc::Sender<()>,
}

type ResponseBody = UnsyncBoxBody<Bytes, anyhow::Error>;

/// Loads the component, binds `options.addr` and serves until `shutdown`
/// completes; then shuts down gracefully (see the module docs) and
/// returns. `ready` gets the bound address.
pub async fn serve(
    options: &ServeOptions,
    sink: SpanSink,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()>,
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
    let _ticker = EpochTicker::start(&engine);
    ready(listener.local_addr()?);

    let (stop_connections, stopping) = watch::channel(false);
    let (stop_guests, guests_stopping) = watch::channel(false);
    let (in_flight, mut all_done) = mpsc::channel::<()>(1);
    let limits = options.limits;
    let server = Arc::new(Server {
        pre,
        env: options.env.clone(),
        outgoing_http: options.outgoing_http,
        limits,
        sink,
        sampler: options.sampler.clone(),
        slots: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
        stop_guests: guests_stopping,
        in_flight,
    });

    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(server.clone(), stream, stopping.clone()));
    }

    // Graceful shutdown: no new connections, the others finish what they
    // are answering, then the guests still running are stopped.
    drop(listener);
    let _ = stop_connections.send(true);
    drop(server);
    let deadline = tokio::time::Instant::now() + limits.shutdown_timeout;
    if tokio::time::timeout_at(deadline, all_done.recv())
        .await
        .is_err()
    {
        eprintln!(
            "warning: requests still running after the shutdown timeout ({:?}) are stopped",
            limits.shutdown_timeout
        );
        let _ = stop_guests.send(true);
        // Stopped guests end their spans at once; connections whose client
        // does not read are left behind.
        let _ = tokio::time::timeout(Duration::from_secs(1), all_done.recv()).await;
    }
    Ok(())
}

/// Serves one connection until it closes, or until shutdown (then after
/// the request in flight, if any).
async fn connection(
    server: Arc<Server>,
    stream: tokio::net::TcpStream,
    mut stopping: watch::Receiver<bool>,
) {
    let _alive = server.in_flight.clone();
    let service = {
        let server = server.clone();
        service_fn(move |req| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.handle(req).await) }
        })
    };
    drop(server);
    let mut conn = pin!(
        http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
    );
    let finished = tokio::select! {
        _ = conn.as_mut() => true,
        _ = stopping.wait_for(|stop| *stop) => false,
    };
    if !finished {
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}

/// A thread advancing the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &wasmtime::Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, stopped) = (engine.weak(), stop.clone());
        std::thread::Builder::new()
            .name("nebula-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch ticker");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The request a guest task serves: what it reports about.
struct Request {
    method: String,
    path: String,
    span: HostSpan,
    deadline: Instant,
    answered: Arc<Mutex<Answered>>,
}

impl Request {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What the guest gave `response-outparam.set`, recorded by its callback.
#[derive(Default)]
struct Answered {
    /// The status sent (500 for an error code), `None` before `set`.
    status: Option<u16>,
    /// The error code the guest set instead of a response.
    error_code: Option<String>,
    /// Reports how the response body ended.
    body: Option<oneshot::Receiver<BodyEnd>>,
}

/// How a response body ended, seen by hyper.
#[derive(Debug)]
enum BodyEnd {
    /// Its last frame was sent.
    Complete,
    /// It failed (the guest dropped it unfinished): the connection was
    /// closed after what was sent.
    Failed,
    /// Dropped before its end (the client went away).
    Dropped,
}

/// How the guest's run ended.
enum Outcome {
    /// `handle` returned.
    Returned,
    /// Instantiation (`instantiated == false`) or `handle` failed.
    Failed {
        error: wasmtime::Error,
        instantiated: bool,
    },
    /// The request's deadline passed.
    TimedOut,
    /// The server shut down before the guest was done.
    Stopped,
}

/// A guest's epoch deadline passed: raised by the epoch callback.
#[derive(Debug)]
struct DeadlinePassed;

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request's deadline passed")
    }
}

impl std::error::Error for DeadlinePassed {}

impl Server {
    /// Serves one request in a fresh instance, inside a server span.
    async fn handle(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<ResponseBody> {
        let deadline = Instant::now() + self.limits.request_timeout;
        let remote_parent = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| traceparent::parse(v).ok());
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let mut otel = OtelHost::with_sink(self.sink.clone(), remote_parent)
            .with_sampler(self.sampler.clone());
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
        // Answers the host gives without running the guest.
        let refuse = |mut otel: OtelHost, code: u16, why: String| {
            eprintln!("error: {method} {path}: {why} (answered {code})");
            otel.end_span(&span, Status::Error(why.clone()), vec![status_code(code)]);
            status_response(code, &format!("{why}\n"))
        };

        let length = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let max_body = self.limits.max_body_size;
        if length.is_some_and(|n| n > max_body) {
            let why = format!(
                "the request body is larger than the limit of {max_body} bytes \
                 (raise it with --max-body-size)"
            );
            return refuse(otel, 413, why);
        }
        let slot = tokio::time::timeout_at(deadline.into(), self.slots.clone().acquire_owned());
        let Ok(Ok(slot)) = slot.await else {
            let why = format!(
                "no free slot among the {} of --max-concurrent within the request timeout",
                self.limits.max_concurrent
            );
            return refuse(otel, 503, why);
        };

        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdio();
        for (k, v) in &self.env {
            wasi.env(k, v);
        }
        let mut state = HostState::new(wasi.build(), otel).with_outgoing_http(self.outgoing_http);
        state.limits = MemoryLimit {
            max: Some(self.limits.max_memory),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::new(DeadlinePassed))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

        let answered = Arc::new(Mutex::new(Answered::default()));
        let (sender, receiver) = oneshot::channel();
        let mut http = store.data_mut().http();
        let req = req.map(|body| LimitedBody {
            inner: body,
            left: max_body,
            max: max_body,
        });
        let incoming = http.new_incoming_request(Scheme::Http, req);
        let record = answered.clone();
        let out = http.new_response_outparam_from_callback(move |result| {
            let mut answered = record.lock().expect("the answer record");
            let result = result.map(|response| {
                let (tx, rx) = oneshot::channel();
                answered.status = Some(response.status().as_u16());
                answered.body = Some(rx);
                response.map(|body| ObservedBody {
                    inner: body,
                    report: Some(tx),
                })
            });
            if let Err(code) = &result {
                answered.status = Some(500);
                answered.error_code = Some(format!("{code:?}"));
            }
            let _ = sender.send(result);
        });
        let (incoming, out) = match (incoming, out) {
            (Ok(incoming), Ok(out)) => (incoming, out),
            (Err(e), _) | (_, Err(e)) => {
                let otel = std::mem::take(&mut store.data_mut().otel);
                let why = format!("cannot pass the request to the guest: {e}");
                return refuse(otel, 400, why);
            }
        };
        let request = Request {
            method,
            path,
            span,
            deadline,
            answered,
        };
        // The guest runs in its own task, which owns the store, ends the
        // spans and drops the store when the guest is done: that drop also
        // drops an outparam never set, which answers `receiver` below.
        tokio::spawn(self.clone().run_guest(store, incoming, out, request, slot));
        match receiver.await {
            Ok(Ok(response)) => response.map(|b| b.map_err(anyhow::Error::from).boxed_unsync()),
            Ok(Err(_)) | Err(_) => status_response(500, ""),
        }
    }

    /// Runs the guest on `store` until it is done or its deadline passes,
    /// then reports (stderr, spans) and frees the store.
    async fn run_guest(
        self: Arc<Self>,
        mut store: Store<HostState>,
        incoming: wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostIncomingRequest>,
        out: wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostResponseOutparam>,
        request: Request,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) {
        let _alive = self.in_flight.clone();
        let mut stop = self.stop_guests.clone();
        let call = async {
            let proxy = match self.pre.instantiate_async(&mut store).await {
                Ok(proxy) => proxy,
                Err(error) => return Err((error, false)),
            };
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, out)
                .await
                .map_err(|error| (error, true))
        };
        let outcome = tokio::select! {
            result = call => match result {
                Ok(()) => Outcome::Returned,
                Err((e, _)) if e.is::<DeadlinePassed>() => Outcome::TimedOut,
                Err((error, instantiated)) => Outcome::Failed { error, instantiated },
            },
            () = tokio::time::sleep_until(request.deadline.into()) => Outcome::TimedOut,
            _ = stop.wait_for(|stop| *stop) => Outcome::Stopped,
        };
        let unfinished = abort_unfinished_bodies(&mut store.data_mut().table);
        let mut otel = std::mem::take(&mut store.data_mut().otel);
        drop(store);
        drop(slot);

        let (status, error_code, body) = {
            let mut answered = request.answered.lock().expect("the answer record");
            (
                answered.status,
                answered.error_code.take(),
                answered.body.take(),
            )
        };
        let body_end = match body {
            Some(report) => match tokio::time::timeout_at(request.deadline.into(), report).await {
                Ok(Ok(end)) => Some(end),
                Ok(Err(_)) => Some(BodyEnd::Dropped),
                Err(_) => None,
            },
            None => None,
        };
        let label = request.label();
        let timeout = self.limits.request_timeout;
        let problem = match outcome {
            Outcome::Failed {
                error,
                instantiated,
            } => {
                let what = if instantiated {
                    "the component trapped"
                } else {
                    "the component could not be instantiated"
                };
                eprintln!("error: {label}: {what}: {error:?}");
                Some(describe(&error))
            }
            Outcome::TimedOut => {
                let why = format!(
                    "timeout: the request ran longer than {timeout:?} \
                     (raise it with --request-timeout)"
                );
                eprintln!("error: {label}: {why}; the guest was interrupted");
                Some(why)
            }
            Outcome::Stopped => {
                let why = "shutdown: the server stopped before the guest was done".to_string();
                eprintln!("error: {label}: {why}");
                Some(why)
            }
            Outcome::Returned => {
                let why = if status.is_none() {
                    Some("the component returned without setting the response".to_string())
                } else if let Some(code) = error_code {
                    Some(format!("the component answered with the error {code}"))
                } else if unfinished > 0 {
                    Some("the component returned without finishing the response body".into())
                } else if let Some(BodyEnd::Failed) = &body_end {
                    // The guest's body fails only when it is aborted.
                    Some("the component dropped the response body without finishing it".into())
                } else {
                    None
                };
                if let Some(why) = &why {
                    eprintln!("error: {label}: {why}");
                }
                why
            }
        };
        let code = status.unwrap_or(500);
        let span_status = match &problem {
            Some(why) => Status::Error(why.clone()),
            None if code >= 500 => Status::Error(format!("HTTP {code}")),
            None => Status::Unset,
        };
        otel.end_span(&request.span, span_status, vec![status_code(code)]);
        // Guest spans left open (a trap, an interrupt, a guest that forgot
        // to end them) end with the same error.
        otel.end_open_spans(
            problem
                .as_deref()
                .unwrap_or("still open when the request ended"),
        );
    }
}

/// The short description of a guest failure for span statuses.
fn describe(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<MemoryLimitExceeded>() {
        Some(limit) => format!("trap: {limit}"),
        None => trap_message(error),
    }
}

/// Aborts every outgoing body still in `table` (the guest neither finished
/// nor dropped it): the response's connection then closes instead of
/// ending as if complete. Returns how many it aborted.
fn abort_unfinished_bodies(table: &mut ResourceTable) -> usize {
    let mut aborted = 0;
    for entry in table.iter_mut() {
        if let Some(body) = entry.downcast_mut::<HostOutgoingBody>() {
            let (placeholder, _) = HostOutgoingBody::new(StreamContext::Response, None, 1, 1);
            std::mem::replace(body, placeholder).abort();
            aborted += 1;
        }
    }
    aborted
}

/// The `http.response.status_code` attribute.
fn status_code(code: u16) -> KeyValue {
    KeyValue {
        key: "http.response.status_code".into(),
        value: code.to_string(),
    }
}

/// An answer of the host's own: `code` with a `text/plain` body `text`.
fn status_response(code: u16, text: &str) -> hyper::Response<ResponseBody> {
    let mut response = hyper::Response::new(
        Full::new(Bytes::from(text.to_string()))
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if !text.is_empty() {
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain"),
        );
    }
    response
}

/// The request body, cut with `HTTP-request-body-size` past `max` bytes.
struct LimitedBody {
    inner: hyper::body::Incoming,
    left: u64,
    max: u64,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > self.left {
                self.left = 0;
                let max = self.max;
                return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpRequestBodySize(
                    Some(max),
                ))));
            }
            self.left -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The guest's response body, reporting how it ended.
struct ObservedBody {
    inner: HyperOutgoingBody,
    report: Option<oneshot::Sender<BodyEnd>>,
}

impl ObservedBody {
    fn report(&mut self, end: BodyEnd) {
        if let Some(report) = self.report.take() {
            let _ = report.send(end);
        }
    }
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.report(BodyEnd::Complete),
            Poll::Ready(Some(Err(_))) => self.report(BodyEnd::Failed),
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        if self.inner.is_end_stream() {
            self.report(BodyEnd::Complete);
        } else {
            self.report(BodyEnd::Dropped);
        }
    }
}
