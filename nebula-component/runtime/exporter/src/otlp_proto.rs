//! OTLP protobuf: one `ExportTraceServiceRequest` per batch, the body of
//! an OTLP/HTTP request (`exporter-otlp`). The same grouping and field
//! values as [`crate::otlp_json`], in the protocol's wire format (field
//! numbers of `opentelemetry/proto/{collector/trace,trace,common,resource}/v1`).

use alloc::vec::Vec;

use serde_json::Value;

use crate::bindings::exports::wasi::otel::tracing::{SpanContext, SpanData, Status};
use crate::bindings::exports::wasi::otel::types::KeyValue;
use crate::config::Config;
use crate::json::attribute_value;
use crate::otlp_json::{by_scope, flags, kind, nanos, parent, trace_state};

/// Appends the request holding `spans`.
pub fn request(out: &mut Vec<u8>, config: &Config, spans: &[SpanData]) {
    // ExportTraceServiceRequest.resource_spans = 1
    message(out, 1, |rs| {
        // ResourceSpans.resource = 1: Resource.attributes = 1
        message(rs, 1, |resource| {
            message(resource, 1, |kv| {
                bytes(kv, 1, b"service.name");
                message(kv, 2, |any| bytes(any, 1, config.service_name.as_bytes()));
            });
        });
        for (scope, spans) in by_scope(spans) {
            // ResourceSpans.scope_spans = 2
            message(rs, 2, |ss| {
                // ScopeSpans.scope = 1
                message(ss, 1, |sc| {
                    bytes(sc, 1, scope.name.as_bytes());
                    bytes(sc, 2, scope.version.as_deref().unwrap_or("").as_bytes());
                    attributes(sc, 3, &scope.attributes);
                });
                for span in spans {
                    // ScopeSpans.spans = 2
                    message(ss, 2, |out| self::span(out, span));
                }
                bytes(ss, 3, scope.schema_url.as_deref().unwrap_or("").as_bytes());
            });
        }
    });
}

/// One `Span`.
fn span(out: &mut Vec<u8>, span: &SpanData) {
    let cx = &span.span_context;
    ids(out, cx);
    hex_bytes(out, 4, parent(&span.parent_span_id));
    bytes(out, 5, span.name.as_bytes());
    varint_field(out, 6, u64::from(kind(span.span_kind)));
    fixed64(out, 7, nanos(span.start_time));
    fixed64(out, 8, nanos(span.end_time));
    attributes(out, 9, &span.attributes);
    varint_field(out, 10, u64::from(span.dropped_attributes));
    for event in &span.events {
        message(out, 11, |e| {
            fixed64(e, 1, nanos(event.time));
            bytes(e, 2, event.name.as_bytes());
            attributes(e, 3, &event.attributes);
        });
    }
    varint_field(out, 12, u64::from(span.dropped_events));
    for link in &span.links {
        message(out, 13, |l| {
            ids(l, &link.span_context);
            attributes(l, 4, &link.attributes);
            let remote = Some(link.span_context.is_remote);
            fixed32(l, 6, flags(link.span_context.trace_flags, remote));
        });
    }
    varint_field(out, 14, u64::from(span.dropped_links));
    match &span.status {
        Status::Unset => {}
        Status::Ok => message(out, 15, |st| varint_field(st, 3, 1)),
        Status::Error(text) => message(out, 15, |st| {
            bytes(st, 2, text.as_bytes());
            varint_field(st, 3, 2);
        }),
    }
    fixed32(out, 16, flags(cx.trace_flags, None));
}

/// `trace_id` = 1, `span_id` = 2 and `trace_state` = 3 (in `Span` and
/// `Link` alike).
fn ids(out: &mut Vec<u8>, cx: &SpanContext) {
    hex_bytes(out, 1, &cx.trace_id);
    hex_bytes(out, 2, &cx.span_id);
    let mut state = Vec::new();
    trace_state(&mut state, cx);
    bytes(out, 3, &state);
}

/// Repeated `KeyValue`s as field `field`.
fn attributes(out: &mut Vec<u8>, field: u32, attributes: &[KeyValue]) {
    for kv in attributes {
        message(out, field, |m| {
            bytes(m, 1, kv.key.as_bytes());
            message(m, 2, |any| any_value(any, &attribute_value(&kv.value)));
        });
    }
}

/// The fields of an `AnyValue` (`null` is the empty value).
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(b) => varint_field(out, 2, u64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            // int64 is the two's complement as a varint.
            Some(i) => varint_field(out, 3, i as u64),
            None => {
                tag(out, 4, 1);
                out.extend_from_slice(&n.as_f64().unwrap_or(f64::NAN).to_le_bytes());
            }
        },
        Value::String(s) => bytes(out, 1, s.as_bytes()),
        Value::Array(items) => message(out, 5, |array| {
            for item in items {
                message(array, 1, |any| any_value(any, item));
            }
        }),
        Value::Object(map) => message(out, 6, |list| {
            for (k, v) in map {
                message(list, 1, |kv| {
                    bytes(kv, 1, k.as_bytes());
                    message(kv, 2, |any| any_value(any, v));
                });
            }
        }),
    }
}

fn tag(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A varint field; proto3 leaves zeros out.
fn varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        tag(out, field, 0);
        varint(out, value);
    }
}

fn fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        tag(out, field, 1);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn fixed32(out: &mut Vec<u8>, field: u32, value: u32) {
    if value != 0 {
        tag(out, field, 5);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// A length-delimited field (bytes, string); empty ones are left out.
fn bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    if !value.is_empty() {
        tag(out, field, 2);
        varint(out, value.len() as u64);
        out.extend_from_slice(value);
    }
}

/// The bytes a hex id stands for, as field `field` (nothing for an empty
/// or malformed id).
fn hex_bytes(out: &mut Vec<u8>, field: u32, hex: &str) {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let decoded: Option<Vec<u8>> = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some((digit(*hi)? << 4) | digit(*lo)?),
            _ => None,
        })
        .collect();
    if let Some(decoded) = decoded {
        bytes(out, field, &decoded);
    }
}

/// A nested message as field `field`, its fields written by `fill`
/// (always written, even when empty: a message's presence means something).
fn message(out: &mut Vec<u8>, field: u32, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    fill(&mut inner);
    tag(out, field, 2);
    varint(out, inner.len() as u64);
    out.extend_from_slice(&inner);
}
