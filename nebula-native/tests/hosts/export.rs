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
