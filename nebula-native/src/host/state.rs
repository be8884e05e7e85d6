//! The store data and linker of `nebula run` / `nebula serve`: WASI 0.2
//! (`wasmtime-wasi`), `wasi:http` for `serve` (`wasmtime-wasi-http`) and
//! the `wasi:otel` host in every flavor the component imports.
//!
//! Engines run with `Config::concurrency_support(false)`: instrumented
//! components use no component-model async, and the concurrent bookkeeping
//! would slow every cross-component call (wasmtime issue 12836). The
//! [`Mode::Http`] engine also has epoch interruption on, so `nebula serve`
//! can interrupt a guest that never returns (its ticker and deadlines are in
//! `serve.rs`); [`MemoryLimit`] bounds a store's linear memories.

use std::path::Path;

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::otel::{self, OtelHost, SpanContext, is_invalid};
use crate::traceparent;

/// The store data of one run (or one served request).
pub struct HostState {
    /// WASI 0.2.
    pub wasi: WasiCtx,
    /// Resources of WASI and `wasi:http`.
    pub table: ResourceTable,
    /// The `wasi:otel` host.
    pub otel: OtelHost,
    /// The limit on the store's linear memories (install it with
    /// `Store::limiter(|s| &mut s.limits)`).
    pub limits: MemoryLimit,
    http: WasiHttpCtx,
    outgoing: OutgoingHooks,
}

impl HostState {
    /// Store data with this WASI context and `wasi:otel` host; outgoing
    /// HTTP requests are allowed (see [`HostState::with_outgoing_http`]).
    pub fn new(wasi: WasiCtx, otel: OtelHost) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
            otel,
            limits: MemoryLimit::default(),
            http: WasiHttpCtx::new(),
            outgoing: OutgoingHooks::default(),
        }
    }

    /// Sets what becomes of the guest's outgoing HTTP requests. Defaults to
    /// [`OutgoingHttp::Allow`].
    pub fn with_outgoing_http(mut self, outgoing: OutgoingHttp) -> Self {
        self.outgoing.policy = outgoing;
        self
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        // The outgoing hooks cannot reach the span host: hand them the
        // current span (re-formatted only when it changed).
        self.outgoing.follow(self.otel.current_span());
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outgoing,
        }
    }
}

/// A [`ResourceLimiter`](wasmtime::ResourceLimiter) capping each linear
/// memory of a store at `max` bytes: a `memory.grow` past it traps with
/// [`MemoryLimitExceeded`] (rather than returning -1, which most guests
/// turn into an abort without saying why). Tables are not limited. The
/// default has no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The most bytes one linear memory may have, or `None` for no limit.
    pub max: Option<usize>,
}

/// The trap of a `memory.grow` past [`MemoryLimit::max`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLimitExceeded {
    /// The limit, in bytes.
    pub max: usize,
    /// The size the guest asked for, in bytes.
    pub desired: usize,
}

impl std::fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory limit: the guest asked for {} of linear memory, past the limit of {} \
             (raise it with --max-memory)",
            mib(self.desired),
            mib(self.max)
        )
    }
}

impl std::error::Error for MemoryLimitExceeded {}

/// `bytes` in MiB, e.g. `32 MiB` or `32.5 MiB`.
fn mib(bytes: usize) -> String {
    let mib = bytes as f64 / f64::from(1 << 20);
    if mib.fract() == 0.0 {
        format!("{mib:.0} MiB")
    } else {
        format!("{mib:.1} MiB")
    }
}

impl wasmtime::ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match self.max {
            Some(max) if desired > max => {
                Err(wasmtime::Error::new(MemoryLimitExceeded { max, desired }))
            }
            _ => Ok(true),
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// The `traceparent` header name.
const TRACEPARENT: &str = "traceparent";

/// The hooks of the guest's outgoing requests: what becomes of them, and
/// the `traceparent` each gets when it has none, naming the span current
/// when the guest sent it (the guest's client span, or the host's server
/// span for a guest without spans of its own), as Spin's host does.
#[derive(Debug, Default)]
struct OutgoingHooks {
    policy: OutgoingHttp,
    /// The current span's id and its `traceparent` value.
    traceparent: Option<(String, String)>,
}

impl OutgoingHooks {
    /// Makes `current` the span outgoing requests name.
    fn follow(&mut self, current: Option<&SpanContext>) {
        let current = current.filter(|cx| !is_invalid(cx));
        match (current, &self.traceparent) {
            (Some(cx), Some((id, _))) if *id == cx.span_id => {}
            (Some(cx), _) => self.traceparent = Some((cx.span_id.clone(), traceparent::format(cx))),
            (None, _) => self.traceparent = None,
        }
    }
}

/// What becomes of the guest's `wasi:http/outgoing-handler` requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutgoingHttp {
    /// Sent by `wasmtime-wasi-http`'s default client (HTTP/1.1, `https`
    /// with the `webpki-roots` certificates), as `wasmtime serve` does.
    #[default]
    Allow,
    /// Refused: the guest gets the error code `HTTP-request-denied`.
    Deny,
}

impl wasmtime_wasi_http::WasiHttpHooks for OutgoingHooks {
    fn send_request(
        &mut self,
        mut request: hyper::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        hyper::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        if let Some((_, traceparent)) = &self.traceparent
            && !request.headers().contains_key(TRACEPARENT)
            && let Ok(value) = hyper::header::HeaderValue::from_str(traceparent)
        {
            request.headers_mut().insert(TRACEPARENT, value);
        }
        match self.policy {
            OutgoingHttp::Allow => {
                wasmtime_wasi_http::default_hooks().send_request(request, options, fut)
            }
            OutgoingHttp::Deny => {
                Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
            }
        }
    }
}

/// How the component will be driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Synchronous calls: commands and `--invoke`.
    Sync,
    /// Async calls with `wasi:http` (serving requests).
    Http,
}

/// The engine for `mode`: Nebula's one configuration
/// ([`crate::engine::config`]), with epoch interruption in [`Mode::Http`].
pub fn engine(mode: Mode) -> anyhow::Result<Engine> {
    let mut config = crate::engine::config();
    // Async calls (`Mode::Http`) need no setting of their own in wasmtime 48;
    // epoch checks let `serve` interrupt (or yield from) a guest that runs on.
    config.epoch_interruption(mode == Mode::Http);
    Ok(Engine::new(&config)?)
}

/// Compiles the component at `path`, with an error naming the file.
pub fn load(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    Component::new(engine, &bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!(
                "`{}` is not a WebAssembly component wasmtime can run",
                path.display()
            )
        })
}

/// A linker for `component` in `mode`: WASI 0.2, `wasi:http` in
/// [`Mode::Http`], and every `wasi:otel/tracing` flavor it imports.
pub fn linker(
    engine: &Engine,
    component: &Component,
    mode: Mode,
) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    match mode {
        Mode::Sync => wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?,
        Mode::Http => {
            wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        }
    }
    otel::add_imported_to_linker(&mut linker, component, |s: &mut HostState| &mut s.otel)?;
    Ok(linker)
}
