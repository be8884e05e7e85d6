//! The default exporter: a readable span tree, written when the local part
//! of a trace ends (the host's stack became empty).
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736
//! run types (3.20 ms)
//! └─ nebula:fixtures/types#echo-string server (41.0 µs)
//! ```
//!
//! Each line: the span's name, its kind unless `internal`, its duration in
//! parentheses, its status unless unset, and its attributes other than
//! those the name already says (`wasm.*`). Children are indented under
//! their parent in start order; a span whose parent is not in the trace
//! (a remote parent, or one that was dropped) starts a tree of its own.
//!
//! Memory is bounded: at most `limit` spans are kept in all; further spans
//! are counted and the count printed with their trace.

use std::collections::HashMap;
use std::io::Write;

use super::SpanExporter;
use crate::span_types::{SpanData, SpanKind, Status};

/// Attributes the span name already says.
const HIDDEN_PREFIX: &str = "wasm.";

/// The tree printer.
pub struct TreePrinter {
    out: Box<dyn Write + Send>,
    limit: usize,
    held: usize,
    traces: HashMap<String, Trace>,
}

/// The spans of one trace, held until it ends.
#[derive(Default)]
struct Trace {
    spans: Vec<SpanData>,
    omitted: u64,
}

impl TreePrinter {
    /// A printer writing to `out`, holding at most `limit` spans.
    pub fn new(out: Box<dyn Write + Send>, limit: usize) -> Self {
        Self {
            out,
            limit,
            held: 0,
            traces: HashMap::new(),
        }
    }

    fn print(&mut self, trace_id: &str) {
        if let Some(trace) = self.traces.remove(trace_id) {
            self.held -= trace.spans.len();
            let text = render(trace_id, &trace.spans, trace.omitted, true);
            let _ = self.out.write_all(text.as_bytes());
            let _ = self.out.flush();
        }
    }
}

impl SpanExporter for TreePrinter {
    fn span(&mut self, span: &SpanData, trace_done: bool, _warn: &mut dyn Write) {
        let trace_id = &span.span_context.trace_id;
        let trace = self.traces.entry(trace_id.clone()).or_default();
        if self.held < self.limit {
            trace.spans.push(span.clone());
            self.held += 1;
        } else {
            trace.omitted += 1;
        }
        if trace_done {
            let id = trace_id.clone();
            self.print(&id);
        }
    }

    fn flush(&mut self, _warn: &mut dyn Write) {}

    fn lost(&self) -> u64 {
        0
    }
}

impl Drop for TreePrinter {
    /// Prints the traces that never ended (e.g. still open at exit).
    fn drop(&mut self) {
        let mut ids: Vec<String> = self.traces.keys().cloned().collect();
        ids.sort();
        for id in ids {
            self.print(&id);
        }
    }
}

/// The text of one trace's tree; `durations` off gives stable text (tests).
pub fn render(trace_id: &str, spans: &[SpanData], omitted: u64, durations: bool) -> String {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| {
        let t = spans[i].start_time;
        (t.seconds, t.nanoseconds)
    });
    let ids: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_context.span_id.as_str(), i))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for &i in &order {
        match ids.get(spans[i].parent_span_id.as_str()) {
            Some(&p) if p != i => children.entry(p).or_default().push(i),
            _ => roots.push(i),
        }
    }
    let mut out = format!("trace {trace_id}\n");
    let mut stack: Vec<(usize, String, bool, bool)> = roots
        .iter()
        .rev()
        .enumerate()
        .map(|(n, &i)| (i, String::new(), n == 0, true))
        .collect();
    while let Some((i, prefix, last, root)) = stack.pop() {
        let (branch, next) = match (root, last) {
            (true, _) => ("", String::new()),
            (false, true) => ("└─ ", format!("{prefix}   ")),
            (false, false) => ("├─ ", format!("{prefix}│  ")),
        };
        out.push_str(&format!("{prefix}{branch}{}\n", line(&spans[i], durations)));
        let kids = children.get(&i).map(Vec::as_slice).unwrap_or_default();
        for (n, &k) in kids.iter().enumerate().rev() {
            stack.push((k, next.clone(), n + 1 == kids.len(), false));
        }
    }
    if omitted > 0 {
        out.push_str(&format!(
            "… {omitted} more spans not shown (the tree keeps at most the first ones)\n"
        ));
    }
    out
}

/// One span's line: name, kind, duration, status, attributes.
fn line(span: &SpanData, durations: bool) -> String {
    let mut text = span.name.clone();
    let kind = match span.span_kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "",
    };
    if !kind.is_empty() {
        text.push(' ');
        text.push_str(kind);
    }
    if durations {
        text.push_str(&format!(" ({})", duration(span)));
    }
    match &span.status {
        Status::Unset => {}
        Status::Ok => text.push_str(" ok"),
        Status::Error(message) => text.push_str(&format!(" error: {message}")),
    }
    let shown: Vec<String> = span
        .attributes
        .iter()
        .filter(|kv| !kv.key.starts_with(HIDDEN_PREFIX))
        .map(|kv| format!("{}={}", kv.key, plain(&kv.value)))
        .collect();
    if !shown.is_empty() {
        text.push_str(&format!(" [{}]", shown.join(" ")));
    }
    text
}

/// A JSON-encoded string value without its quotes; others as they are.
fn plain(json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::String(s)) => s,
        _ => json.to_string(),
    }
}

/// The span's duration, human-sized.
fn duration(span: &SpanData) -> String {
    let nanos = |t: crate::span_types::Datetime| {
        i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanoseconds)
    };
    let ns = (nanos(span.end_time) - nanos(span.start_time)).max(0) as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}
