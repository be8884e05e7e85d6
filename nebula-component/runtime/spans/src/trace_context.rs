//! W3C Trace Context read by the runtime: the `traceparent` and
//! `tracestate` header values a wrapped `wasi:http/incoming-handler#handle`
//! found on its request, made the remote parent of its server span.
//!
//! `traceparent` is `<version>-<32 hex trace-id>-<16 hex parent-id>-<2 hex
//! flags>` (version `00` has exactly those four fields; a later version may
//! add more, which are ignored; `ff` is invalid). A value that does not
//! parse, or has all-zero ids, is ignored: the span starts a trace, as
//! without the header. `tracestate` is a comma-separated list of `key=value`
//! members (at most 32 kept; empty and malformed members are skipped).

use alloc::string::String;
use alloc::vec::Vec;

use crate::wasi::otel::tracing::{SpanContext, TraceFlags};

/// The most `tracestate` members kept (the W3C limit).
const MAX_MEMBERS: usize = 32;

/// The remote span context of a `traceparent` (and `tracestate`) value, or
/// `None` when it is absent or invalid.
pub(crate) fn parse(traceparent: &str, tracestate: &str) -> Option<SpanContext> {
    // Over bytes, byte by byte: `str` patterns and comparisons would call
    // `memcmp`, which no host provides.
    let mut fields = traceparent.trim().as_bytes().split(|b| *b == b'-');
    let version = fields.next()?;
    let trace_id = fields.next()?;
    let span_id = fields.next()?;
    let flags = fields.next()?;
    let more = fields.next().is_some();
    if !is_hex(version, 2) || (version[0] == b'f' && version[1] == b'f') {
        return None;
    }
    if version[0] == b'0' && version[1] == b'0' && more {
        return None;
    }
    if !is_hex(trace_id, 32) || !is_hex(span_id, 16) || !is_hex(flags, 2) {
        return None;
    }
    let context = SpanContext {
        trace_id: ascii(trace_id),
        span_id: ascii(span_id),
        trace_flags: if hex_digit(flags[1]) & 1 == 1 {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::empty()
        },
        is_remote: true,
        trace_state: members(tracestate),
    };
    crate::is_valid_context(&context).then_some(context)
}

/// The `key=value` members of a `tracestate` value.
fn members(tracestate: &str) -> Vec<(String, String)> {
    tracestate
        .as_bytes()
        .split(|b| *b == b',')
        .filter_map(|member| {
            let member = member.trim_ascii();
            let eq = member.iter().position(|b| *b == b'=')?;
            let (key, value) = (&member[..eq], &member[eq + 1..]);
            (!key.is_empty() && !value.is_empty()).then(|| (ascii(key), ascii(value)))
        })
        .take(MAX_MEMBERS)
        .collect()
}

/// `bytes`, a piece of a `str` split at ASCII bytes, as a `String`.
fn ascii(bytes: &[u8]) -> String {
    String::from(core::str::from_utf8(bytes).unwrap_or_default())
}

/// Whether `s` is `len` lowercase hex digits.
fn is_hex(s: &[u8], len: usize) -> bool {
    s.len() == len && s.iter().all(|b| matches!(*b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex_digit(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        _ => b - b'a' + 10,
    }
}
