//! `--export-to console`: each trace of a batch as a readable tree, as
//! `nebula run` prints it:
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736
//! nebula:fixtures/types#echo-string server (41.0 µs)
//! └─ nebula:fixtures/store#get client (3.2 µs)
//! ```
//!
//! Each line: the span's name, its kind unless `internal`, its duration,
//! its status unless unset, and its attributes other than `wasm.*` (the
//! name says them). Children are indented under their parent in start
//! order; a span whose parent is not in the batch starts a tree of its own.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use serde_json::Value;

use crate::bindings::exports::wasi::otel::tracing::{SpanData, SpanKind, Status};
use crate::bindings::wasi::clocks::wall_clock::Datetime;
use crate::json::{Bytes, attribute_value};

/// Appends the trees of `spans`, one per trace, in order of first
/// appearance.
pub fn render(out: &mut Vec<u8>, spans: &[SpanData]) {
    let mut traces: Vec<&str> = Vec::new();
    for span in spans {
        let id = span.span_context.trace_id.as_str();
        if !traces.contains(&id) {
            traces.push(id);
        }
    }
    for trace in traces {
        let mut order: Vec<&SpanData> = spans
            .iter()
            .filter(|s| s.span_context.trace_id == trace)
            .collect();
        order.sort_by_key(|s| (s.start_time.seconds, s.start_time.nanoseconds));
        let _ = writeln!(Bytes(out), "trace {trace}");
        let is_root = |s: &SpanData| {
            !order.iter().any(|p| {
                p.span_context.span_id == s.parent_span_id
                    && p.span_context.span_id != s.span_context.span_id
            })
        };
        for root in order.iter().filter(|s| is_root(s)) {
            let _ = writeln!(Bytes(out), "{}", line(root));
            children(out, &order, root, &mut String::new());
        }
    }
}

/// Appends the subtree under `parent`, each line after `prefix`.
fn children(out: &mut Vec<u8>, spans: &[&SpanData], parent: &SpanData, prefix: &mut String) {
    let id = &parent.span_context.span_id;
    let kids: Vec<&SpanData> = spans
        .iter()
        .copied()
        .filter(|s| &s.parent_span_id == id && &s.span_context.span_id != id)
        .collect();
    for (n, kid) in kids.iter().enumerate() {
        let last = n + 1 == kids.len();
        let branch = if last { "└─ " } else { "├─ " };
        let _ = writeln!(Bytes(out), "{prefix}{branch}{}", line(kid));
        let keep = prefix.len();
        prefix.push_str(if last { "   " } else { "│  " });
        children(out, spans, kid, prefix);
        prefix.truncate(keep);
    }
}

/// One span's line.
fn line(span: &SpanData) -> String {
    let mut text = span.name.clone();
    let kind = match span.span_kind {
        SpanKind::Client => " client",
        SpanKind::Server => " server",
        SpanKind::Producer => " producer",
        SpanKind::Consumer => " consumer",
        SpanKind::Internal => "",
    };
    text.push_str(kind);
    let _ = write!(text, " ({})", Duration(span.start_time, span.end_time));
    match &span.status {
        Status::Unset => {}
        Status::Ok => text.push_str(" ok"),
        Status::Error(message) => {
            let _ = write!(text, " error: {message}");
        }
    }
    let mut shown = span
        .attributes
        .iter()
        .filter(|kv| !kv.key.starts_with("wasm."))
        .peekable();
    if shown.peek().is_some() {
        text.push_str(" [");
        for (n, kv) in shown.enumerate() {
            if n > 0 {
                text.push(' ');
            }
            match attribute_value(&kv.value) {
                Value::String(s) => {
                    let _ = write!(text, "{}={s}", kv.key);
                }
                _ => {
                    let _ = write!(text, "{}={}", kv.key, kv.value);
                }
            }
        }
        text.push(']');
    }
    text
}

/// A span's duration, human-sized.
struct Duration(Datetime, Datetime);

impl core::fmt::Display for Duration {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let nanos = |t: Datetime| i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanoseconds);
        let ns = (nanos(self.1) - nanos(self.0)).max(0) as f64;
        if ns < 1e3 {
            write!(f, "{ns:.0} ns")
        } else if ns < 1e6 {
            write!(f, "{:.1} µs", ns / 1e3)
        } else if ns < 1e9 {
            write!(f, "{:.2} ms", ns / 1e6)
        } else {
            write!(f, "{:.2} s", ns / 1e9)
        }
    }
}
