//! W3C Trace Context `traceparent` values
//! (`00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`), read into and
//! written from `wasi:otel` span contexts.

use crate::host::otel::{SpanContext, TraceFlags, is_invalid};

/// Parses a `traceparent` value into a remote span context; the error says
/// what is wrong.
pub fn parse(value: &str) -> Result<SpanContext, String> {
    let value = value.trim();
    let bad = |why: &str| {
        format!(
            "`{value}` is not a W3C traceparent ({why}); \
             expected `00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`"
        )
    };
    let parts: Vec<&str> = value.split('-').collect();
    let [version, trace_id, span_id, flags, ..] = parts.as_slice() else {
        return Err(bad("it has fewer than 4 fields"));
    };
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !hex(version, 2) || *version == "ff" {
        return Err(bad("bad version"));
    }
    if *version == "00" && parts.len() != 4 {
        return Err(bad("version 00 has exactly 4 fields"));
    }
    if !hex(trace_id, 32) {
        return Err(bad("the trace-id is not 32 lowercase hex digits"));
    }
    if !hex(span_id, 16) {
        return Err(bad("the parent-id is not 16 lowercase hex digits"));
    }
    if !hex(flags, 2) {
        return Err(bad("the flags are not 2 hex digits"));
    }
    let flags = u8::from_str_radix(flags, 16).map_err(|_| bad("bad flags"))?;
    let context = SpanContext {
        trace_id: trace_id.to_string(),
        span_id: span_id.to_string(),
        trace_flags: if flags & 1 == 1 {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::empty()
        },
        is_remote: true,
        trace_state: Vec::new(),
    };
    if is_invalid(&context) {
        return Err(bad("all-zero ids are invalid"));
    }
    Ok(context)
}

/// The `traceparent` value of `context`.
pub fn format(context: &SpanContext) -> String {
    let flags = u8::from(context.trace_flags.contains(TraceFlags::SAMPLED));
    format!("00-{}-{}-{flags:02x}", context.trace_id, context.span_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parse(tp).unwrap();
        assert!(cx.is_remote);
        assert!(cx.trace_flags.contains(TraceFlags::SAMPLED));
        assert_eq!(format(&cx), tp);
        let unsampled = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!unsampled.trace_flags.contains(TraceFlags::SAMPLED));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "00-abc-def-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
