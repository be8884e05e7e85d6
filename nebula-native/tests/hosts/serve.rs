//! `nebula serve`: real HTTP over loopback, plain and instrumented, with
//! and without a `traceparent`, and the guest's outgoing requests to a
//! loopback upstream.

use nebula_component::OtelFlavor;
use nebula_native::guests;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::support::*;

#[test]
fn serve_answers_like_the_plain_component_and_parents_spans() {
    let dir = scratch("serve");
    let instrumented = instrument(guests::HTTP, &dir, OtelFlavor::Inner);
    let (plain_trace, traced_trace) = (dir.join("plain.json"), dir.join("traced.json"));
    let plain = Served::start(guests::HTTP, &plain_trace, &[]);
    let traced = Served::start(instrumented.to_str().unwrap(), &traced_trace, &[]);

    let (trace_id, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let tp = format!("00-{trace_id}-{parent}-01");
    let with_tp = [("traceparent", tp.as_str())];
    for (path, headers) in [("/a?q=1", &[][..]), ("/b", &with_tp[..])] {
        let expected = plain.get(path, headers);
        assert_eq!(expected.0, "HTTP/1.1 200 OK");
        assert_eq!(expected.2, format!("hello GET {path}"));
        assert_eq!(traced.get(path, headers), expected, "{path}");
    }
    plain.stop();
    traced.stop();

    // Plain: only the host's server spans.
    let spans = spans_of_file(&plain_trace);
    assert_eq!(names(&spans), ["GET /a", "GET /b"]);

    // Instrumented: the guest's span under each server span.
    let spans = spans_of_file(&traced_trace);
    assert_eq!(spans.len(), 4, "{:?}", names(&spans));
    let a = named(&spans, "GET /a");
    let b = named(&spans, "GET /b");
    assert!(
        a.parent_span_id.is_empty(),
        "a new trace without traceparent"
    );
    assert_ne!(hex(&a.trace_id), trace_id);
    assert_eq!(hex(&b.trace_id), trace_id);
    assert_eq!(hex(&b.parent_span_id), parent);
    assert_eq!(a.kind, 2);
    let handles: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "wasi:http/incoming-handler#handle")
        .collect();
    assert_eq!(handles.len(), 2);
    for server in [a, b] {
        assert!(
            handles
                .iter()
                .any(|h| h.parent_span_id == server.span_id && h.trace_id == server.trace_id),
            "a handle span under {}",
            server.name
        );
    }
}

/// The spans of `spans` whose parent is `parent`.
fn children_of<'a>(spans: &'a [Span], parent: &Span) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_id && s.trace_id == parent.trace_id)
        .collect()
}

#[test]
fn serve_sends_outgoing_requests_and_wraps_them_in_client_spans() {
    let upstream = upstream();
    let dir = scratch("serve-outgoing");
    let instrumented = instrument(guests::HTTP, &dir, OtelFlavor::Inner);
    let (plain_trace, traced_trace) = (dir.join("plain.json"), dir.join("traced.json"));
    let plain = Served::start(guests::HTTP, &plain_trace, &[]);
    let traced = Served::start(instrumented.to_str().unwrap(), &traced_trace, &[]);

    let url = format!("{}/data?n=1", upstream.url);
    let (trace_id, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let tp = format!("00-{trace_id}-{parent}-01");
    let without_tp = [("x-upstream", url.as_str())];
    let with_tp = [("x-upstream", url.as_str()), ("traceparent", tp.as_str())];
    for headers in [&without_tp[..], &with_tp[..]] {
        let expected = plain.get("/proxy", headers);
        assert_eq!(expected.0, "HTTP/1.1 200 OK", "{expected:?}");
        assert_eq!(
            expected.1,
            [
                "content-type: text/plain",
                "x-guest-upstream-status: 200",
                "x-guest: nebula"
            ]
        );
        assert_eq!(
            expected.2,
            "hello GET /proxy\nupstream 200: upstream saw GET /data?n=1"
        );
        assert_eq!(traced.get("/proxy", headers), expected, "{headers:?}");
    }
    plain.stop();
    traced.stop();
    assert_eq!(
        request_lines(&upstream),
        vec!["GET /data?n=1 HTTP/1.1"; 4],
        "one upstream request per served request"
    );
    // Every upstream request carries a `traceparent` naming the span it was
    // sent in: the host's server span for the plain guest (the host adds
    // it, as Spin's does), the guest's client span for the instrumented one
    // (plain and instrumented requests alternate).
    let sent_in = |request: &UpstreamRequest, trace: &std::path::Path| {
        let tp = request.traceparent.as_deref().expect("a traceparent");
        let parent = tp.split('-').nth(2).expect("a parent id").to_string();
        let spans = spans_of_file(trace);
        let span = spans.iter().find(|s| hex(&s.span_id) == parent);
        span.map(|s| (s.name.clone(), s.kind))
            .unwrap_or_else(|| panic!("no span {parent} in {:?}", names(&spans)))
    };
    for (i, request) in upstream.requests().iter().enumerate() {
        let (name, kind) = if i % 2 == 0 {
            sent_in(request, &plain_trace)
        } else {
            sent_in(request, &traced_trace)
        };
        let want = if i % 2 == 0 {
            ("GET /proxy", 2)
        } else {
            ("wasi:http/outgoing-handler#handle", 3)
        };
        assert_eq!((name.as_str(), kind), want, "request {i}");
    }

    // Plain: only the host's server spans.
    let spans = spans_of_file(&plain_trace);
    assert_eq!(names(&spans), ["GET /proxy", "GET /proxy"]);

    // Instrumented: host server span → incoming `handle` (server, export
    // proxy) → outgoing `handle` (client, import proxy), one trace each.
    let spans = spans_of_file(&traced_trace);
    assert_eq!(spans.len(), 6, "{:?}", names(&spans));
    let roots: Vec<&Span> = spans.iter().filter(|s| s.name == "GET /proxy").collect();
    assert_eq!(roots.len(), 2, "{:?}", names(&spans));
    let mut continued = 0;
    for root in roots {
        assert_eq!(root.kind, 2, "the host's span is a server span");
        if hex(&root.trace_id) == trace_id {
            assert_eq!(hex(&root.parent_span_id), parent);
            continued += 1;
        } else {
            assert!(root.parent_span_id.is_empty(), "a new trace");
        }
        let incoming = children_of(&spans, root);
        assert_eq!(incoming.len(), 1, "one span under {}", root.name);
        assert_eq!(incoming[0].name, "wasi:http/incoming-handler#handle");
        assert_eq!(
            incoming[0].kind, 2,
            "the export proxy's span is a server span"
        );
        let outgoing = children_of(&spans, incoming[0]);
        assert_eq!(outgoing.len(), 1, "one span under the incoming handle");
        assert_eq!(outgoing[0].name, "wasi:http/outgoing-handler#handle");
        assert_eq!(
            outgoing[0].kind, 3,
            "the import proxy's span is a client span"
        );
        assert!(children_of(&spans, outgoing[0]).is_empty());
    }
    assert_eq!(continued, 1, "one trace continues the `traceparent`");
}

#[test]
fn serve_denies_outgoing_requests_when_asked() {
    let upstream = upstream();
    let dir = scratch("serve-deny-outgoing");
    let served = Served::start(
        guests::HTTP,
        &dir.join("trace.json"),
        &["--deny-outgoing-http"],
    );
    let url = format!("{}/data", upstream.url);
    let (status, _, body) = served.get("/proxy", &[("x-upstream", url.as_str())]);
    served.stop();
    assert_eq!(status, "HTTP/1.1 502 Bad Gateway", "{body}");
    assert!(
        body.starts_with("hello GET /proxy\nupstream error: ")
            && body.contains("HttpRequestDenied"),
        "{body}"
    );
    assert!(
        upstream.requests().is_empty(),
        "{:?}",
        request_lines(&upstream)
    );
}

/// `--sample 0.25` over 4,000 requests: about a quarter of the traces are
/// exported, each whole (the host's server span and the guest's span under
/// it), and no span of an unsampled trace; a sampled `traceparent` is
/// always followed, an unsampled one never.
#[test]
fn serve_samples_a_share_of_the_traces_and_exports_them_whole() {
    use std::collections::HashMap;

    const REQUESTS: usize = 4000;
    let dir = scratch("sample");
    let instrumented = instrument(guests::HTTP, &dir, OtelFlavor::Inner);
    let trace = dir.join("trace.json");
    let served = Served::start(
        instrumented.to_str().unwrap(),
        &trace,
        &["--sample", "0.25"],
    );
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let served = &served;
            scope.spawn(move || {
                for _ in 0..REQUESTS / 4 {
                    let (status, _, body) = served.get("/a", &[]);
                    assert_eq!(status, "HTTP/1.1 200 OK", "worker {worker}");
                    assert_eq!(body, "hello GET /a");
                }
            });
        }
    });
    let (kept, dropped) = (
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
    );
    for tp in [kept, dropped] {
        assert_eq!(
            served.get("/b", &[("traceparent", tp)]).0,
            "HTTP/1.1 200 OK"
        );
    }
    served.stop();

    let spans = spans_of_file(&trace);
    let mut traces: HashMap<Vec<u8>, Vec<&Span>> = HashMap::new();
    for span in &spans {
        traces.entry(span.trace_id.clone()).or_default().push(span);
    }
    let followed: Vec<_> = traces
        .keys()
        .filter(|id| hex(id).starts_with("4bf92f35") || hex(id).starts_with("5bf92f35"))
        .map(|id| hex(id))
        .collect();
    assert_eq!(followed, ["4bf92f3577b34da6a3ce929d0e0e4736"]);
    let sampled = traces.len() - 1;
    let share = sampled as f64 / REQUESTS as f64;
    assert!(
        (0.21..=0.29).contains(&share),
        "{sampled} of {REQUESTS} sampled"
    );
    for (id, spans) in &traces {
        let server = spans.iter().find(|s| s.name.starts_with("GET /"));
        let handle = spans
            .iter()
            .find(|s| s.name == "wasi:http/incoming-handler#handle");
        match (server, handle) {
            (Some(server), Some(handle)) if spans.len() == 2 => {
                assert_eq!(handle.parent_span_id, server.span_id, "{}", hex(id));
            }
            _ => panic!("trace {} is not whole: {:?}", hex(id), names_of(spans)),
        }
    }
}

fn names_of(spans: &[&Span]) -> Vec<String> {
    spans.iter().map(|s| s.name.clone()).collect()
}
