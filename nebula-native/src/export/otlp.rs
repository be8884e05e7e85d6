//! `wasi:otel` span data → the official OTLP protobuf types
//! (`opentelemetry-proto`), the one model both the JSON file and the
//! collector export.
//!
//! - ids: the hex strings of `wasi:otel` become bytes; an empty or malformed
//!   parent id becomes "no parent";
//! - attribute values are JSON-encoded `AnyValue`s in `wasi:otel`: strings,
//!   integers, floats, booleans, arrays and objects map to their OTLP
//!   counterparts, and a value that is not JSON is kept as a string;
//! - spans are grouped by instrumentation scope under one resource.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status as ProtoStatus, span, status,
};

use super::Resource;
use crate::span_types::{self as otel, Datetime, SpanData, SpanKind, Status, TraceFlags};

/// One OTLP request holding `spans` under `resource`, grouped by scope in
/// order of first appearance.
pub fn request(resource: &Resource, spans: &[SpanData]) -> ExportTraceServiceRequest {
    let mut scopes: Vec<ScopeSpans> = Vec::new();
    for data in spans {
        let scope = scope(&data.instrumentation_scope);
        let proto = span(data);
        match scopes.iter_mut().find(|s| s.scope.as_ref() == Some(&scope)) {
            Some(group) => group.spans.push(proto),
            None => scopes.push(ScopeSpans {
                scope: Some(scope),
                spans: vec![proto],
                schema_url: data
                    .instrumentation_scope
                    .schema_url
                    .clone()
                    .unwrap_or_default(),
            }),
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(ProtoResource {
                attributes: vec![string_attribute("service.name", &resource.service_name)],
                ..Default::default()
            }),
            scope_spans: scopes,
            schema_url: String::new(),
        }],
    }
}

/// One span in OTLP form.
pub fn span(data: &SpanData) -> Span {
    let cx = &data.span_context;
    Span {
        trace_id: hex_bytes(&cx.trace_id, 16).unwrap_or_default(),
        span_id: hex_bytes(&cx.span_id, 8).unwrap_or_default(),
        trace_state: trace_state(&cx.trace_state),
        parent_span_id: hex_bytes(&data.parent_span_id, 8)
            .filter(|id| id.iter().any(|&b| b != 0))
            .unwrap_or_default(),
        flags: flags(cx.trace_flags, None),
        name: data.name.clone(),
        kind: kind(data.span_kind) as i32,
        start_time_unix_nano: unix_nanos(data.start_time),
        end_time_unix_nano: unix_nanos(data.end_time),
        attributes: attributes(&data.attributes),
        dropped_attributes_count: data.dropped_attributes,
        events: data
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: unix_nanos(e.time),
                name: e.name.clone(),
                attributes: attributes(&e.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: data.dropped_events,
        links: data
            .links
            .iter()
            .map(|l| span::Link {
                trace_id: hex_bytes(&l.span_context.trace_id, 16).unwrap_or_default(),
                span_id: hex_bytes(&l.span_context.span_id, 8).unwrap_or_default(),
                trace_state: trace_state(&l.span_context.trace_state),
                attributes: attributes(&l.attributes),
                dropped_attributes_count: 0,
                flags: flags(l.span_context.trace_flags, Some(l.span_context.is_remote)),
            })
            .collect(),
        dropped_links_count: data.dropped_links,
        status: match &data.status {
            Status::Unset => None,
            Status::Ok => Some(ProtoStatus {
                message: String::new(),
                code: status::StatusCode::Ok as i32,
            }),
            Status::Error(message) => Some(ProtoStatus {
                message: message.clone(),
                code: status::StatusCode::Error as i32,
            }),
        },
    }
}

/// `wasi:otel` attributes (JSON-encoded values) as OTLP key-values.
pub fn attributes(attrs: &[otel::KeyValue]) -> Vec<KeyValue> {
    attrs
        .iter()
        .map(|kv| KeyValue {
            key: kv.key.clone(),
            value: Some(any_value_of(&kv.value)),
            ..Default::default()
        })
        .collect()
}

/// The attribute value `json` encodes; `json` itself as a string when it is
/// not JSON.
pub fn any_value_of(json: &str) -> AnyValue {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(value) => from_json(value),
        Err(_) => string_value(json),
    }
}

/// A JSON value as an OTLP `AnyValue` (`null` becomes an empty value).
fn from_json(value: serde_json::Value) -> AnyValue {
    use serde_json::Value as J;
    let value = match value {
        J::Null => None,
        J::Bool(b) => Some(any_value::Value::BoolValue(b)),
        J::Number(n) => Some(match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        }),
        J::String(s) => Some(any_value::Value::StringValue(s)),
        J::Array(items) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: items.into_iter().map(from_json).collect(),
        })),
        J::Object(map) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: map
                .into_iter()
                .map(|(key, v)| KeyValue {
                    key,
                    value: Some(from_json(v)),
                    ..Default::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}

fn string_value(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.to_string())),
    }
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(string_value(value)),
        ..Default::default()
    }
}

fn scope(scope: &otel::InstrumentationScope) -> InstrumentationScope {
    InstrumentationScope {
        name: scope.name.clone(),
        version: scope.version.clone().unwrap_or_default(),
        attributes: attributes(&scope.attributes),
        dropped_attributes_count: 0,
    }
}

fn kind(kind: SpanKind) -> span::SpanKind {
    match kind {
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
        SpanKind::Internal => span::SpanKind::Internal,
    }
}

/// OTLP span flags: the W3C flags in the low byte, plus whether the
/// context is remote when known (a span's own data does not say whether
/// its parent was remote; a link's does).
fn flags(trace_flags: TraceFlags, remote: Option<bool>) -> u32 {
    let mut flags = u32::from(trace_flags.contains(TraceFlags::SAMPLED));
    if let Some(remote) = remote {
        flags |= 0x100; // CONTEXT_HAS_IS_REMOTE
        if remote {
            flags |= 0x200; // CONTEXT_IS_REMOTE
        }
    }
    flags
}

fn trace_state(state: &[(String, String)]) -> String {
    state
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Nanoseconds since the Unix epoch.
pub fn unix_nanos(t: Datetime) -> u64 {
    t.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(t.nanoseconds))
}

/// `len` bytes from `2 * len` hex digits; `None` for anything else.
pub fn hex_bytes(hex: &str, len: usize) -> Option<Vec<u8>> {
    if hex.len() != 2 * len || !hex.is_ascii() {
        return None;
    }
    (0..len)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_from_json() {
        let v = |s: &str| any_value_of(s).value;
        assert_eq!(v("\"x\""), Some(any_value::Value::StringValue("x".into())));
        assert_eq!(v("42"), Some(any_value::Value::IntValue(42)));
        assert_eq!(v("1.5"), Some(any_value::Value::DoubleValue(1.5)));
        assert_eq!(v("true"), Some(any_value::Value::BoolValue(true)));
        assert_eq!(
            v("not json"),
            Some(any_value::Value::StringValue("not json".into()))
        );
        assert!(
            matches!(v("[1, \"a\"]"), Some(any_value::Value::ArrayValue(a)) if a.values.len() == 2)
        );
    }

    #[test]
    fn hex_ids() {
        assert_eq!(hex_bytes("00ff", 2), Some(vec![0, 255]));
        assert_eq!(hex_bytes("0g", 1), None);
        assert_eq!(hex_bytes("", 8), None);
    }
}
