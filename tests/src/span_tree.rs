//! Span trees: the shape of what a run recorded (names, kinds, nesting),
//! to compare runs on different hosts and flavors.

use nebula_native::host::otel::{Recorded, SpanData};

use crate::host::ended;

/// The tree one `restock` call of the three-component chain (front →
/// middle → back, the middle instrumented by hand) gives instrumented,
/// on every host and flavor, and with the in-guest exporter: the middle's
/// hand-made span between its server and client spans.
pub const RESTOCK_TREE: &str = "nebula:fixtures/frontend#restock Server
  nebula:fixtures/backend#store Client
    nebula:fixtures/backend#store Server
      middle-store Internal
        nebula:fixtures/backend#store Client
          nebula:fixtures/backend#store Server
";

/// The span tree of `events` as indented `name kind` lines, children in
/// start order; checks that every span started and ended, and that all are
/// in one trace. Roots are the spans whose parent is not among them.
pub fn tree(events: &[Recorded]) -> String {
    let spans = ended(events);
    // Spans in the order they started.
    let started: Vec<&SpanData> = events
        .iter()
        .filter_map(|e| match e {
            Recorded::Started(cx) => spans
                .iter()
                .find(|s| s.span_context.span_id == cx.span_id)
                .copied(),
            Recorded::Ended(_) => None,
        })
        .collect();
    assert_eq!(started.len(), spans.len(), "every span started and ended");
    if let Some(first) = spans.first() {
        let trace = &first.span_context.trace_id;
        assert!(spans.iter().all(|s| &s.span_context.trace_id == trace));
    }
    fn walk(out: &mut String, span: &SpanData, depth: usize, started: &[&SpanData]) {
        let kind = format!("{:?}", span.span_kind);
        out.push_str(&format!(
            "{}{} {}\n",
            "  ".repeat(depth),
            span.name,
            kind.trim_start_matches("SpanKind::")
        ));
        for child in started {
            if child.parent_span_id == span.span_context.span_id {
                walk(out, child, depth + 1, started);
            }
        }
    }
    let mut out = String::new();
    for span in &started {
        if !started
            .iter()
            .any(|p| p.span_context.span_id == span.parent_span_id)
        {
            walk(&mut out, span, 0, &started);
        }
    }
    out
}
