//! OTLP/HTTP export to an in-test receiver, and an unreachable collector.

use nebula_component::OtelFlavor;
use nebula_tests::fixtures;

use crate::support::*;

#[test]
fn spans_reach_an_otlp_http_receiver() {
    let dir = scratch("otlp");
    let instrumented = instrument(fixtures::TYPES, &dir, OtelFlavor::Inner);
    let receiver = otlp_receiver();
    let trace = dir.join("trace.json");
    let out = nebula(&[
        "run",
        instrumented.to_str().unwrap(),
        "--invoke",
        "nebula:fixtures/types#reverse(\"ab\")",
        "--invoke",
        "add(1, 2)",
        "--trace-file",
        trace.to_str().unwrap(),
        "--no-tree",
    ])
    .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url)
    .env("OTEL_SERVICE_NAME", "svc")
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    // Flushed on exit: everything arrived before the process ended.
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let (path, content_type, request) = &requests[0];
    assert_eq!(path, "/v1/traces");
    assert_eq!(content_type, "application/x-protobuf");
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(resource.attributes[0].key, "service.name");
    assert_eq!(
        format!("{:?}", resource.attributes[0].value),
        format!(
            "{:?}",
            Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                value: Some(
                    opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                        "svc".into()
                    )
                )
            })
        )
    );
    let received = spans_of(request);
    assert_eq!(
        names(&received),
        ["nebula:fixtures/types#reverse", "add", "run types"]
    );
    let root = named(&received, "run types");
    for span in &received[..2] {
        assert_eq!(span.parent_span_id, root.span_id);
        assert_eq!(span.kind, 2);
        let keys: Vec<&str> = span.attributes.iter().map(|a| a.key.as_str()).collect();
        assert!(keys.contains(&"wasm.function"), "{keys:?}");
    }
    // The JSON file holds the same spans.
    assert_eq!(spans_of_file(&trace), received);
}

#[test]
fn an_unreachable_collector_warns_once_and_the_run_completes() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&[
        "run",
        "--otlp",
        &format!("http://127.0.0.1:{port}"),
        "--no-tree",
        fixtures::CLI,
        "x",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello from nebula: [x]\n");
    let err = stderr(&out);
    assert_eq!(
        err.matches("warning: cannot export spans").count(),
        1,
        "{err}"
    );
    assert!(err.contains("1 spans not delivered"), "{err}");
}

/// The HTTP guest instrumented with `--export-to otlp:URL` sends its own
/// spans, one OTLP/HTTP protobuf request per served request, through the
/// host's plain `wasi:http/outgoing-handler`: `nebula serve` here only
/// plays a `wasmtime-wasi` + `wasmtime-wasi-http` host (the output imports
/// no `wasi:otel`, so its own otel host sees no guest span).
#[test]
fn the_http_guest_exporting_over_otlp_sends_its_own_spans() {
    use nebula_component::{ExportTo, Options};
    use nebula_native::guests;

    let dir = scratch("otlp-in-guest");
    let receiver = otlp_receiver();
    let upstream = upstream();
    let options = Options {
        export_to: Some(ExportTo::otlp(&receiver.url).unwrap()),
        service_name: Some("http-guest".into()),
        ..Options::default()
    };
    let out =
        nebula_component::instrument(&std::fs::read(guests::HTTP).unwrap(), &options).unwrap();
    assert!(
        out.report
            .skipped
            .iter()
            .any(|s| s.contains("wasi:http/outgoing-handler")),
        "{:#?}",
        out.report.skipped
    );
    // The report says what the proxies propagate.
    let notes = out.report.skipped.join("\n");
    assert!(
        notes.contains("`wasi:http/incoming-handler#handle`: its server span continues"),
        "{notes}"
    );
    assert!(
        notes.contains("`[constructor]outgoing-request` adds a `traceparent`"),
        "{notes}"
    );
    let instrumented = dir.join("http.instrumented.wasm");
    std::fs::write(&instrumented, &out.component).unwrap();
    let (plain_trace, traced_trace) = (dir.join("plain.json"), dir.join("traced.json"));
    let plain = Served::start(guests::HTTP, &plain_trace, &[]);
    let traced = Served::start(instrumented.to_str().unwrap(), &traced_trace, &[]);
    let url = format!("{}/data", upstream.url);
    let proxy = [("x-upstream", url.as_str())];
    // The first request continues a caller's trace (with its trace
    // state); the second starts one.
    let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let continued = [("traceparent", caller), ("tracestate", "vendor=abc")];
    for (path, headers) in [("/a", &continued[..]), ("/proxy", &proxy[..])] {
        let expected = plain.get(path, headers);
        assert_eq!(expected.0, "HTTP/1.1 200 OK");
        assert_eq!(traced.get(path, headers), expected, "{path}");
    }
    plain.stop();
    traced.stop();

    // The host saw only its own server spans.
    let host_spans = spans_of_file(&traced_trace);
    assert!(
        host_spans.iter().all(|s| s.name.starts_with("GET ")),
        "{:?}",
        names(&host_spans)
    );

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "one request per served request");
    for (path, content_type, request) in &requests {
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type, "application/x-protobuf");
        let resource = request.resource_spans[0].resource.as_ref().unwrap();
        assert_eq!(resource.attributes[0].key, "service.name");
    }
    let first = spans_of(&requests[0].2);
    assert_eq!(names(&first), ["wasi:http/incoming-handler#handle"]);
    assert_eq!(first[0].kind, 2);
    // The server span continues the incoming `traceparent`.
    assert_eq!(hex(&first[0].trace_id), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(hex(&first[0].parent_span_id), "b7ad6b7169203331");
    assert_eq!(first[0].trace_state, "vendor=abc");
    let second = spans_of(&requests[1].2);
    let server = named(&second, "wasi:http/incoming-handler#handle");
    let client = named(&second, "wasi:http/outgoing-handler#handle");
    assert_eq!(client.kind, 3);
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(client.trace_id, server.trace_id);
    assert_eq!(server.trace_id.len(), 16);
    assert!(
        server.parent_span_id.is_empty(),
        "no traceparent: a new trace"
    );
    // The upstream the guest called got a `traceparent` naming the
    // guest's client span (set by the output where the guest constructed
    // the request; `nebula serve` only adds one to a request without).
    // (The plain guest's request came first.)
    let sent = upstream.requests();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(
        sent[1].traceparent.as_deref(),
        Some(format!("00-{}-{}-01", hex(&client.trace_id), hex(&client.span_id)).as_str()),
        "{sent:?}"
    );
    assert!(server.start_time_unix_nano <= client.start_time_unix_nano);
    assert!(client.end_time_unix_nano <= server.end_time_unix_nano);
    assert_ne!(
        first[0].trace_id, server.trace_id,
        "each request its own trace"
    );
}

/// Under `wasmtime serve` (no `wasi:otel` there), the HTTP guest with
/// `--export-to stderr` answers as the plain guest and writes one OTLP
/// JSON line per request, its server span continuing the request's
/// `traceparent`.
#[test]
fn under_wasmtime_serve_the_http_guest_exporting_to_stderr_continues_the_callers_trace() {
    use nebula_component::{ExportTo, Options};
    use nebula_native::guests;
    use nebula_tests::otlp;

    let Some(wasmtime) = nebula_tests::host::wasmtime_cli() else {
        eprintln!("SKIPPED: no `wasmtime` CLI on PATH (install it to run this test)");
        return;
    };
    let dir = scratch("wasmtime-serve");
    let options = Options {
        export_to: Some(ExportTo::Stderr),
        ..Options::default()
    };
    let out =
        nebula_component::instrument(&std::fs::read(guests::HTTP).unwrap(), &options).unwrap();
    let instrumented = dir.join("http.instrumented.wasm");
    std::fs::write(&instrumented, &out.component).unwrap();
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let headers = [("traceparent", caller)];
    let plain = Served::wasmtime(&wasmtime, std::path::Path::new(guests::HTTP));
    let expected = plain.get("/a", &headers);
    drop(plain);
    let traced = Served::wasmtime(&wasmtime, &instrumented);
    assert_eq!(traced.get("/a", &headers), expected);
    assert_eq!(expected.0, "HTTP/1.1 200 OK");
    // The line is written when the request's call returns; give the
    // server a moment to flush it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !traced.stderr().contains("resourceSpans") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let err = traced.stderr();
    let lines: String = err
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| format!("{line}\n"))
        .collect();
    let requests = otlp::requests(&lines);
    assert_eq!(requests.len(), 1, "{err}");
    let spans = otlp::spans(&requests[0]);
    assert_eq!(spans.len(), 1, "{err}");
    assert_eq!(spans[0].name, "wasi:http/incoming-handler#handle");
    assert_eq!(hex(&spans[0].trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&spans[0].parent_span_id), "00f067aa0ba902b7");
}
