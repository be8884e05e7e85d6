//! Imported resources through the import proxy: the `blob-user` fixture
//! calls the host's `blob` constructor, methods, static and a function
//! taking an own handle. Plain and instrumented agree (results, blobs made
//! and dropped), and every call out is a `client` span, child of the
//! `server` span of the export that made it, in one trace.

use nebula_component::{Options, instrument};
use nebula_native::host::otel::{Recorded, SpanData, SpanKind};
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::Runner;
use nebula_tests::values::all_same;
use wasmtime::Result;
use wasmtime::component::Val;

const BLOB_USER: &str = "nebula:fixtures/blob-user@0.1.0";

fn bytes(data: &[u8]) -> Val {
    Val::List(data.iter().map(|b| Val::U8(*b)).collect())
}

/// The calls of the session: (function, arguments).
fn calls() -> Vec<(&'static str, Vec<Val>)> {
    vec![
        ("roundtrip", vec![bytes(b"ab"), bytes(b"cd")]),
        ("merge", vec![bytes(b"x"), bytes(b"yz")]),
        ("alive", vec![]),
        ("roundtrip", vec![bytes(b""), bytes(b"")]),
    ]
}

/// What one session saw.
struct Seen {
    /// The results, in call order.
    results: Vec<Val>,
    /// The ended spans of each call.
    spans: Vec<Vec<SpanData>>,
    /// The host's (created, dropped) blob counts.
    blobs: (u32, u32),
}

/// Runs the session.
fn session(component: &[u8]) -> Result<Seen> {
    let mut runner = Runner::new(component)?;
    let mut results = Vec::new();
    let mut spans = Vec::new();
    for (func, args) in calls() {
        results.extend(runner.call(&format!("{BLOB_USER}#{func}"), &args)?);
        let ended = runner
            .take_spans()
            .into_iter()
            .filter_map(|r| match r {
                Recorded::Ended(span) => Some(span),
                Recorded::Started(_) => None,
            })
            .collect();
        spans.push(ended);
        assert!(runner.otel().stack().is_empty(), "`{func}` left spans open");
    }
    let blobs = runner.blobs();
    Ok(Seen {
        results,
        spans,
        blobs: (blobs.created(), blobs.dropped()),
    })
}

#[test]
fn imported_resource_calls_are_client_spans_under_the_export() -> Result<()> {
    let plain = read(fixtures::BLOB_USER);
    let traced = instrument(&plain, &Options::default())
        .unwrap_or_else(|e| panic!("instrumenting blob-user: {e}"))
        .component;
    let Seen {
        results: want,
        spans: no_spans,
        blobs: want_blobs,
    } = session(&plain)?;
    let Seen {
        results: got,
        spans,
        blobs: got_blobs,
    } = session(&traced)?;
    assert!(
        all_same(&want, &got),
        "plain {want:?}, instrumented {got:?}"
    );
    assert!(no_spans.iter().all(Vec::is_empty));
    assert_eq!(want_blobs, got_blobs, "blobs (created, dropped)");
    assert_eq!(got_blobs.0, got_blobs.1, "every blob dropped exactly once");

    let store = "nebula:fixtures/store#";
    let expected: [&[&str]; 4] = [
        &["blob.new", "blob.append", "blob.read"],
        &["blob.new", "blob.new", "blob.merge", "take"],
        &["blobs-alive"],
        &["blob.new", "blob.append", "blob.read"],
    ];
    for ((func, _), (spans, children)) in calls().iter().zip(spans.iter().zip(expected)) {
        // Children end first; the export's server span ends last.
        let (server, clients) = spans.split_last().expect("spans");
        assert_eq!(server.name, format!("nebula:fixtures/blob-user#{func}"));
        assert_eq!(server.span_kind, SpanKind::Server);
        let names: Vec<String> = clients.iter().map(|s| s.name.clone()).collect();
        let want: Vec<String> = children.iter().map(|c| format!("{store}{c}")).collect();
        assert_eq!(names, want, "client spans of `{func}`");
        for client in clients {
            assert_eq!(client.span_kind, SpanKind::Client, "{}", client.name);
            assert_eq!(client.parent_span_id, server.span_context.span_id);
            assert_eq!(client.span_context.trace_id, server.span_context.trace_id);
        }
    }
    Ok(())
}

#[test]
fn a_resource_the_exports_use_is_not_wrapped_on_import() {
    // `handles` exports functions over the host's `blob`: wrapping the
    // import would make those exports name the proxy's own `blob`.
    let out = instrument(&read(fixtures::HANDLES), &Options::default())
        .unwrap_or_else(|e| panic!("instrumenting handles: {e}"));
    let store = out
        .report
        .skipped
        .iter()
        .find(|s| s.starts_with("`nebula:fixtures/store@0.1.0`"))
        .unwrap_or_else(|| panic!("store not skipped: {:?}", out.report.skipped));
    assert!(store.contains("uses the resources"), "{store}");
    assert!(
        out.report
            .wrapped
            .iter()
            .all(|w| !w.span_name.starts_with("nebula:fixtures/store#")),
        "{:?}",
        out.report.wrapped
    );
}
