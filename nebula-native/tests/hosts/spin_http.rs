//! The HTTP guest instrumented `--flavor outer` on an in-process
//! `wasi:http` host serving exactly `wasi:otel/tracing@0.2.0-rc.2` with
//! Spin 4's rules ([`nebula_tests::spin_otel`]): it answers as the plain
//! guest does, its spans nest as the `inner` output's do on Nebula's own
//! host, Spin's outbound-HTTP span lands under the guest's
//! `wasi:http/outgoing-handler#handle` client span, and every guest span
//! ends inside the host's request span.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use nebula_component::{Options, OtelFlavor};
use nebula_native::guests;
use nebula_native::host::otel::OtelHost;
use nebula_native::host::state::{self, HostState, Mode};
use nebula_tests::host::ended;
use nebula_tests::span_tree::tree;
use nebula_tests::spin_otel::{self, SpinOtel};
use tokio::sync::oneshot;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperIncomingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::support::{request_lines, upstream};

/// The name of the span the Spin host makes for an outbound request.
const HOST_SPAN: &str = "spin outbound GET";

/// The guest's spans on Nebula's host (`inner`).
const NEBULA_TREE: &str = "\
wasi:http/incoming-handler#handle Server
  wasi:http/outgoing-handler#handle Client
";

/// The same on the Spin host (`outer`), with Spin's outbound span.
const SPIN_TREE: &str = "\
wasi:http/incoming-handler#handle Server
  wasi:http/outgoing-handler#handle Client
    spin outbound GET Client
";

/// The Spin host's `wasi:http` hooks: outbound requests go out through
/// `wasmtime-wasi-http`'s default client, each inside a span of the host's
/// own, as Spin does.
struct SpinHooks {
    spin: SpinOtel,
}

impl WasiHttpHooks for SpinHooks {
    fn send_request(
        &mut self,
        request: hyper::Request<wasmtime_wasi_http::WasiBody>,
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
        self.spin
            .host_span(&format!("spin outbound {}", request.method()));
        wasmtime_wasi_http::default_hooks().send_request(request, options, fut)
    }
}

/// The store data of the Spin host.
struct SpinHost {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: SpinHooks,
}

impl WasiView for SpinHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for SpinHost {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// WASI 0.2, `wasi:http` and the rc.2 `wasi:otel` with Spin's rules.
fn spin_linker(engine: &Engine) -> anyhow::Result<Linker<SpinHost>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    spin_otel::add_to_linker(&mut linker, |s: &mut SpinHost| &mut s.hooks.spin)?;
    Ok(linker)
}

fn spin_host() -> SpinHost {
    SpinHost {
        wasi: WasiCtx::builder().inherit_stderr().build(),
        table: ResourceTable::new(),
        http: WasiHttpCtx::new(),
        hooks: SpinHooks {
            spin: SpinOtel::with_request(
                "0af7651916cd43dd8448eb211c80319c",
                "b7ad6b7169203331",
                true,
            ),
        },
    }
}

/// The HTTP guest instrumented in `flavor`.
fn instrumented(flavor: OtelFlavor) -> Vec<u8> {
    let options = Options {
        flavor,
        ..Options::default()
    };
    let plain = std::fs::read(guests::HTTP).expect("the http guest");
    nebula_component::instrument(&plain, &options)
        .expect("instruments the http guest")
        .component
}

/// What the guest answered: status, headers (sorted), body.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// `GET /q?x=1` asking the guest to fetch `upstream`.
fn request(upstream: &str) -> hyper::Request<HyperIncomingBody> {
    let empty = Empty::<Bytes>::new()
        .map_err(|never: Infallible| -> wasmtime_wasi_http::Error { match never {} })
        .boxed_unsync();
    hyper::Request::get("http://localhost/q?x=1")
        .header("x-upstream", upstream)
        .body(empty)
        .expect("a valid request")
}

/// Serves [`request`] with `component` in a fresh instance on a store
/// with `data`: the answer, and the store after the guest returned.
async fn serve<T: WasiHttpView + Send + 'static>(
    linker: &Linker<T>,
    component: &Component,
    data: T,
    upstream: &str,
) -> anyhow::Result<(Answer, Store<T>)> {
    let pre = ProxyPre::new(linker.instantiate_pre(component)?)?;
    let mut store = Store::new(linker.engine(), data);
    // Epoch interruption is on, and nothing advances the epoch here.
    store.set_epoch_deadline(1);
    let (sender, receiver) = oneshot::channel();
    let mut http = store.data_mut().http();
    let incoming = http.new_incoming_request(Scheme::Http, request(upstream))?;
    let out = http.new_response_outparam(sender)?;
    let call = async {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, incoming, out)
            .await?;
        anyhow::Ok(())
    };
    // The body is read while the guest writes it; a failed guest ends the
    // wait for its answer.
    let answer = async {
        let response = receiver
            .await?
            .map_err(|code| anyhow::anyhow!("the guest answered {code:?}"))?;
        let status = response.status().as_u16();
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.to_string(), value)
            })
            .collect();
        headers.sort();
        let body = response.into_body().collect().await?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        anyhow::Ok(Answer {
            status,
            headers,
            body,
        })
    };
    let ((), answer) = tokio::try_join!(call, answer)?;
    Ok((answer, store))
}

/// `tree` with a `span` client line as the first child of the line named
/// `parent` (one exactly).
fn with_child(tree: &str, parent: &str, span: &str) -> String {
    let is_parent = |line: &&str| line.trim_start() == parent;
    assert_eq!(
        tree.lines().filter(is_parent).count(),
        1,
        "{parent} in\n{tree}"
    );
    let mut out = String::new();
    for line in tree.lines() {
        out.push_str(&format!("{line}\n"));
        if is_parent(&line) {
            let indent = " ".repeat(line.len() - parent.len() + 2);
            out.push_str(&format!("{indent}{span} Client\n"));
        }
    }
    out
}

#[tokio::test]
async fn the_http_guest_on_spins_rules_nests_as_on_nebulas_host() -> anyhow::Result<()> {
    let upstream = upstream();
    let url = format!("{}/data?n=1", upstream.url);
    let engine = state::engine(Mode::Http)?;

    // The plain guest and the `outer` output on the Spin host.
    let spin = spin_linker(&engine)?;
    let plain = Component::from_file(&engine, guests::HTTP)?;
    let (want, plain_on_spin) = serve(&spin, &plain, spin_host(), &url).await?;
    let outer = Component::new(&engine, instrumented(OtelFlavor::Outer))?;
    let (got, on_spin) = serve(&spin, &outer, spin_host(), &url).await?;

    // The `inner` output on Nebula's host.
    let inner = Component::new(&engine, instrumented(OtelFlavor::Inner))?;
    let nebula = state::linker(&engine, &inner, Mode::Http)?;
    let host = HostState::new(WasiCtx::builder().build(), OtelHost::default());
    let (on_nebula_answer, on_nebula) = serve(&nebula, &inner, host, &url).await?;

    // 1. The same answers as the plain guest.
    assert_eq!(
        want,
        Answer {
            status: 200,
            headers: [
                ("content-type", "text/plain"),
                ("x-guest", "nebula"),
                ("x-guest-upstream-status", "200"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .to_vec(),
            body: "hello GET /q?x=1\nupstream 200: upstream saw GET /data?n=1".into(),
        }
    );
    assert_eq!(got, want, "outer on the Spin host");
    assert_eq!(on_nebula_answer, want, "inner on Nebula's host");
    assert_eq!(
        request_lines(&upstream),
        vec!["GET /data?n=1 HTTP/1.1"; 3],
        "one upstream request per served request"
    );

    // 2, 3. The tree on Nebula's host, with Spin's outbound span under the
    // guest's client span.
    let nebula_tree = tree(on_nebula.data().otel.recorded());
    let spin = &on_spin.data().hooks.spin;
    let spin_tree = tree(spin.recorded());
    println!("on Nebula's host:\n{nebula_tree}on the Spin host:\n{spin_tree}");
    assert_eq!(nebula_tree, NEBULA_TREE);
    let client = "wasi:http/outgoing-handler#handle Client";
    assert_eq!(spin_tree, with_child(&nebula_tree, client, HOST_SPAN));
    assert_eq!(spin_tree, SPIN_TREE);
    // Without guest spans, Spin's span is the request span's child.
    let plain_spin = &plain_on_spin.data().hooks.spin;
    assert_eq!(tree(plain_spin.recorded()), format!("{HOST_SPAN} Client\n"));
    assert_eq!(
        ended(plain_spin.recorded())[0].parent_span_id,
        plain_spin.request().span_id
    );

    // 4. Nothing left open, every span inside the host's request span.
    assert!(spin.open().is_empty(), "{:?}", spin.open());
    let spans = ended(spin.recorded());
    let roots: Vec<_> = spans
        .iter()
        .filter(|s| {
            !spans
                .iter()
                .any(|p| p.span_context.span_id == s.parent_span_id)
        })
        .collect();
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert_eq!(roots[0].name, "wasi:http/incoming-handler#handle");
    assert_eq!(roots[0].parent_span_id, spin.request().span_id);
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.trace_id == spin.request().trace_id)
    );
    assert_eq!(spin.queries(), 1, "one host query for the request");
    Ok(())
}
