//! W3C Trace Context in the runtime: the `traceparent` and `tracestate`
//! header values a wrapped `wasi:http/incoming-handler#handle` found on its
//! request, made the remote parent of its server span ([`parse`]); and the
//! values an outgoing request gets where the guest constructs it
//! ([`reserve`]), naming a span id reserved for the client span that
//! sending it starts ([`take_reserved`]).
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
use crate::{Entry, hex, is_valid_context, next_random, parent_now, top};

/// The most `tracestate` members kept (the W3C limit).
const MAX_MEMBERS: usize = 32;

/// How many reserved span ids are remembered (requests constructed and
/// not yet sent); the oldest is forgotten first.
const MAX_RESERVED: usize = 8;

/// A span id handed out in a `traceparent`, with its trace id (fixed-size
/// bytes: the arena frees strings as spans end).
#[derive(Clone, Copy)]
struct Reserved {
    trace_id: [u8; 32],
    span_id: [u8; 16],
}

const NONE_RESERVED: Reserved = Reserved {
    trace_id: [0; 32],
    span_id: [0; 16],
};

static mut RESERVED: [Reserved; MAX_RESERVED] = [NONE_RESERVED; MAX_RESERVED];
static mut NEXT_RESERVED: usize = 0;

/// The `traceparent` and `tracestate` values for a request being
/// constructed now. Under a sampled (or no) parent they name a fresh span
/// id, reserved for the client span that sends the request; under an
/// unsampled one, that parent (flags `00`): no span will be made.
#[allow(static_mut_refs)]
pub(crate) fn reserve() -> (String, String) {
    let parent = match top() {
        Some(top) if top.entry == Entry::Unsampled => top.context.clone(),
        _ => match parent_now(false, || None) {
            Some(parent) => parent,
            None => return (String::new(), String::new()),
        },
    };
    let valid = is_valid_context(&parent);
    if valid && !parent.trace_flags.contains(TraceFlags::SAMPLED) {
        return (
            traceparent(&parent.trace_id, &parent.span_id, false),
            tracestate(&parent.trace_state),
        );
    }
    let trace_id = if valid {
        parent.trace_id
    } else {
        hex(&[next_random(), next_random()])
    };
    let span_id = hex(&[next_random()]);
    if trace_id.len() != 32 {
        // A host's malformed id: nothing to propagate.
        return (String::new(), String::new());
    }
    let mut reserved = NONE_RESERVED;
    reserved.trace_id.copy_from_slice(trace_id.as_bytes());
    reserved.span_id.copy_from_slice(span_id.as_bytes());
    unsafe {
        RESERVED[NEXT_RESERVED] = reserved;
        NEXT_RESERVED = (NEXT_RESERVED + 1) % MAX_RESERVED;
    }
    let state = if valid {
        tracestate(&parent.trace_state)
    } else {
        String::new()
    };
    (traceparent(&trace_id, &span_id, true), state)
}

/// The (trace id, span id) of `traceparent` if [`reserve`] handed it out
/// (and has not been taken since).
#[allow(static_mut_refs)]
pub(crate) fn take_reserved(traceparent: &str) -> Option<(String, String)> {
    let context = parse(traceparent, "")?;
    let (trace, span) = (context.trace_id.as_bytes(), context.span_id.as_bytes());
    let found = unsafe { RESERVED.iter_mut() }
        .find(|r| same_bytes(&r.trace_id, trace) && same_bytes(&r.span_id, span))?;
    *found = NONE_RESERVED;
    Some((context.trace_id, context.span_id))
}

/// `00-<trace>-<span>-<flags>`.
fn traceparent(trace_id: &str, span_id: &str, sampled: bool) -> String {
    let mut out = String::with_capacity(55);
    out.push_str("00-");
    out.push_str(trace_id);
    out.push('-');
    out.push_str(span_id);
    out.push_str(if sampled { "-01" } else { "-00" });
    out
}

/// The `tracestate` value of a trace state (empty for none).
fn tracestate(state: &[(String, String)]) -> String {
    let mut out = String::new();
    for (key, value) in state {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Byte-wise equality (slice `==` would call `memcmp`).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

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
    is_valid_context(&context).then_some(context)
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
