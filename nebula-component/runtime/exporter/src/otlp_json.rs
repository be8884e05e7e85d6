//! OTLP JSON, as the OpenTelemetry file exporter writes it (and `nebula run
//! --trace-file`): one `ExportTraceServiceRequest` per line, the spans
//! grouped by instrumentation scope under one resource (`service.name`).
//! Ids are hex, 64-bit integers strings, enums numbers (proto3 JSON, OTLP's
//! spelling of the fields).

use alloc::vec::Vec;

use crate::bindings::exports::wasi::otel::tracing::{
    SpanContext, SpanData, SpanKind, Status, TraceFlags,
};
use crate::bindings::exports::wasi::otel::types::{InstrumentationScope, KeyValue};
use crate::bindings::wasi::clocks::wall_clock::Datetime;
use crate::config::Config;
use crate::json::{self, Object, array, display, key, string, u64_string};

/// The instrumentation scopes of `spans` in order of first appearance,
/// each with its spans (OTLP groups them so, in both encodings).
pub(crate) fn by_scope(spans: &[SpanData]) -> Vec<(&InstrumentationScope, Vec<&SpanData>)> {
    let mut scopes: Vec<(&InstrumentationScope, Vec<&SpanData>)> = Vec::new();
    for span in spans {
        let scope = &span.instrumentation_scope;
        match scopes.iter_mut().find(|(s, _)| same_scope(s, scope)) {
            Some((_, group)) => group.push(span),
            None => scopes.push((scope, alloc::vec![span])),
        }
    }
    scopes
}

/// Appends the request line holding `spans`.
pub fn request(out: &mut Vec<u8>, config: &Config, spans: &[SpanData]) {
    let scopes = by_scope(spans);
    out.extend_from_slice(b"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
    string(out, config.service_name);
    out.extend_from_slice(b"}}]},\"scopeSpans\":");
    array(out, &scopes, |out, (scope, spans)| {
        out.extend_from_slice(b"{\"scope\":{");
        key(out, "name");
        string(out, &scope.name);
        out.push(b',');
        key(out, "version");
        string(out, scope.version.as_deref().unwrap_or(""));
        out.push(b',');
        key(out, "attributes");
        attributes(out, &scope.attributes);
        out.extend_from_slice(b"},");
        key(out, "spans");
        array(out, spans, |out, span| self::span(out, span));
        out.push(b',');
        key(out, "schemaUrl");
        string(out, scope.schema_url.as_deref().unwrap_or(""));
        out.push(b'}');
    });
    out.extend_from_slice(b",\"schemaUrl\":\"\"}]}\n");
}

fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    a.name == b.name
        && a.version == b.version
        && a.schema_url == b.schema_url
        && a.attributes.len() == b.attributes.len()
        && a.attributes
            .iter()
            .zip(&b.attributes)
            .all(|(x, y)| x.key == y.key && x.value == y.value)
}

/// One span object.
fn span(out: &mut Vec<u8>, span: &SpanData) {
    let cx = &span.span_context;
    let mut o = Object::new(out);
    ids(&mut o, cx);
    o.field("parentSpanId", |out| {
        string(out, parent(&span.parent_span_id))
    })
    .field("flags", |out| display(out, flags(cx.trace_flags, None)))
    .field("name", |out| string(out, &span.name))
    .field("kind", |out| display(out, kind(span.span_kind)))
    .field("startTimeUnixNano", |out| {
        u64_string(out, nanos(span.start_time))
    })
    .field("endTimeUnixNano", |out| {
        u64_string(out, nanos(span.end_time))
    })
    .field("attributes", |out| attributes(out, &span.attributes))
    .field("droppedAttributesCount", |out| {
        display(out, span.dropped_attributes)
    })
    .field("events", |out| {
        array(out, &span.events, |out, event| {
            let mut e = Object::new(out);
            e.field("timeUnixNano", |out| u64_string(out, nanos(event.time)))
                .field("name", |out| string(out, &event.name))
                .field("attributes", |out| attributes(out, &event.attributes))
                .field("droppedAttributesCount", |out| display(out, 0));
            e.end();
        })
    })
    .field("droppedEventsCount", |out| {
        display(out, span.dropped_events)
    })
    .field("links", |out| {
        array(out, &span.links, |out, link| {
            let mut l = Object::new(out);
            ids(&mut l, &link.span_context);
            let remote = Some(link.span_context.is_remote);
            l.field("attributes", |out| attributes(out, &link.attributes))
                .field("droppedAttributesCount", |out| display(out, 0))
                .field("flags", |out| {
                    display(out, flags(link.span_context.trace_flags, remote))
                });
            l.end();
        })
    })
    .field("droppedLinksCount", |out| display(out, span.dropped_links));
    match &span.status {
        Status::Unset => {}
        Status::Ok => {
            o.field("status", |out| {
                out.extend_from_slice(b"{\"message\":\"\",\"code\":1}")
            });
        }
        Status::Error(message) => {
            o.field("status", |out| {
                let mut st = Object::new(out);
                st.field("message", |out| string(out, message))
                    .field("code", |out| display(out, 2));
                st.end();
            });
        }
    }
    o.end();
}

/// The fields `traceId`, `spanId` and `traceState` of `cx`.
fn ids(o: &mut Object<'_>, cx: &SpanContext) {
    o.field("traceId", |out| string(out, &cx.trace_id))
        .field("spanId", |out| string(out, &cx.span_id))
        .field("traceState", |out| {
            // W3C keys and values hold no characters JSON escapes.
            out.push(b'"');
            trace_state(out, cx);
            out.push(b'"');
        });
}

/// Appends the trace state of `cx` as the W3C `tracestate` header spells
/// it (`k=v,k2=v2`), as both encodings carry it.
pub(crate) fn trace_state(out: &mut Vec<u8>, cx: &SpanContext) {
    for (n, (k, v)) in cx.trace_state.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
    }
}

/// The parent id, or empty for none (an all-zero or empty id).
pub(crate) fn parent(id: &str) -> &str {
    if id.bytes().all(|b| b == b'0') {
        ""
    } else {
        id
    }
}

fn attributes(out: &mut Vec<u8>, attributes: &[KeyValue]) {
    array(out, attributes, |out, kv| {
        out.push(b'{');
        key(out, "key");
        string(out, &kv.key);
        out.push(b',');
        key(out, "value");
        json::any_value(out, &json::attribute_value(&kv.value));
        out.push(b'}');
    });
}

/// OTLP's `SpanKind` numbers.
pub(crate) fn kind(kind: SpanKind) -> u32 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// OTLP span flags: the W3C flags, and whether the context is remote when
/// known (only a link's context says).
pub(crate) fn flags(trace_flags: TraceFlags, remote: Option<bool>) -> u32 {
    let mut flags = u32::from(trace_flags.contains(TraceFlags::SAMPLED));
    if let Some(remote) = remote {
        flags |= 0x100;
        if remote {
            flags |= 0x200;
        }
    }
    flags
}

pub(crate) fn nanos(t: Datetime) -> u64 {
    t.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(t.nanoseconds))
}
