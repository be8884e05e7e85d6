//! OTLP JSON lines, as the in-guest exporter (`--export-to stderr`,
//! `file:`) and `nebula run --trace-file` write them: one
//! `ExportTraceServiceRequest` per line, read with `opentelemetry-proto`'s
//! own serde types, and their spans checked and drawn as a tree like
//! [`crate::span_tree::tree`]'s.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;

/// Each non-empty line of `text` parsed as an `ExportTraceServiceRequest`;
/// panics, naming the line, on one that does not parse.
pub fn requests(text: &str) -> Vec<ExportTraceServiceRequest> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not an OTLP JSON request ({e}): {line}"))
        })
        .collect()
}

/// The spans of `request`, in order.
pub fn spans(request: &ExportTraceServiceRequest) -> Vec<&Span> {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

/// The `service.name` resource attribute of every resource of `request`.
pub fn service_names(request: &ExportTraceServiceRequest) -> Vec<String> {
    request
        .resource_spans
        .iter()
        .filter_map(|r| r.resource.as_ref())
        .flat_map(|r| &r.attributes)
        .filter(|kv| kv.key == "service.name")
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// The span tree of one request's spans as `name Kind` lines, indented
/// under their parent, children in start order. Checks what a well-formed
/// trace needs: 16-byte trace ids and 8-byte span ids, one trace, each
/// parent among the spans (but the root's, which is `root_parent`), and
/// children inside their parent's time.
pub fn tree(spans: &[&Span], root_parent: &[u8]) -> String {
    let Some(first) = spans.first() else {
        return String::new();
    };
    for span in spans {
        assert_eq!(span.trace_id.len(), 16, "{span:?}");
        assert_eq!(span.span_id.len(), 8, "{span:?}");
        assert_eq!(span.trace_id, first.trace_id, "one trace: {span:?}");
        assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
        match spans.iter().find(|p| p.span_id == span.parent_span_id) {
            Some(parent) => assert!(
                parent.start_time_unix_nano <= span.start_time_unix_nano
                    && span.end_time_unix_nano <= parent.end_time_unix_nano,
                "`{}` outside its parent `{}`",
                span.name,
                parent.name
            ),
            None => assert_eq!(span.parent_span_id, root_parent, "the root's parent"),
        }
    }
    let mut by_start: Vec<&Span> = spans.to_vec();
    by_start.sort_by_key(|s| s.start_time_unix_nano);
    fn walk(out: &mut String, span: &Span, depth: usize, spans: &[&Span]) {
        let kind = match span.kind {
            1 => "Internal",
            2 => "Server",
            3 => "Client",
            4 => "Producer",
            5 => "Consumer",
            _ => "Unspecified",
        };
        out.push_str(&format!("{}{} {kind}\n", "  ".repeat(depth), span.name));
        for child in spans {
            if child.parent_span_id == span.span_id {
                walk(out, child, depth + 1, spans);
            }
        }
    }
    let mut out = String::new();
    for root in by_start
        .iter()
        .filter(|s| !spans.iter().any(|p| p.span_id == s.parent_span_id))
    {
        walk(&mut out, root, 0, &by_start);
    }
    out
}
