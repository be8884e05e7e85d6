//! The `spans` guest: spans made by hand through `wasi:otel`, in the shapes
//! that test a host's fault handling (many spans, an `on-end` out of stack
//! order, spans still open when the guest traps), and the computation the
//! run benchmark times plain, with a hand-made span, and instrumented.

use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

wit_bindgen::generate!({
    path: ["../../../wit/deps/clocks", "../../../wit/deps/otel", "../wit"],
    world: "nebula:guests/spans-guest@0.1.0",
    generate_all,
});

use exports::nebula::guests::spans::Guest;
use wasi::clocks::wall_clock::Datetime;
use wasi::otel::tracing::{self, SpanContext, SpanData, SpanKind, Status, TraceFlags};
use wasi::otel::types::InstrumentationScope;

/// `n` random bytes as lowercase hex.
fn random_hex(n: usize) -> String {
    let state = RandomState::new();
    (0..n.div_ceil(8))
        .map(|i| format!("{:016x}", state.hash_one(i)))
        .collect::<String>()[..2 * n]
        .to_string()
}

/// Whether an id is unset (empty or all zeros).
fn is_zero(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

/// The wall-clock time now.
fn now() -> Datetime {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Datetime {
        seconds: d.as_secs(),
        nanoseconds: d.subsec_nanos(),
    }
}

/// A span started under the host's current span.
struct Open {
    name: String,
    parent_span_id: String,
    context: SpanContext,
    start_time: Datetime,
}

/// Starts a span named `name` under `inner-span-context()`.
fn start(name: &str) -> Open {
    let parent = tracing::inner_span_context();
    let root = is_zero(&parent.trace_id) || is_zero(&parent.span_id);
    let context = SpanContext {
        trace_id: if root {
            random_hex(16)
        } else {
            parent.trace_id.clone()
        },
        span_id: random_hex(8),
        trace_flags: if root {
            TraceFlags::SAMPLED
        } else {
            parent.trace_flags
        },
        is_remote: false,
        trace_state: parent.trace_state.clone(),
    };
    tracing::on_start(&context);
    Open {
        name: name.to_string(),
        parent_span_id: if root { String::new() } else { parent.span_id },
        context,
        start_time: now(),
    }
}

/// Ends `span` with status unset.
fn end(span: Open) {
    tracing::on_end(&SpanData {
        span_context: span.context,
        parent_span_id: span.parent_span_id,
        span_kind: SpanKind::Internal,
        name: span.name,
        start_time: span.start_time,
        end_time: now(),
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope {
            name: "spans".into(),
            version: None,
            schema_url: None,
            attributes: Vec::new(),
        },
        dropped_attributes: 0,
        dropped_events: 0,
        dropped_links: 0,
    });
}

/// The computation `work` and `work-manual` time.
fn compute(n: u32) -> u32 {
    (0..n).fold(1u32, |acc, i| acc.wrapping_mul(31).wrapping_add(i))
}

struct Spans;

impl Guest for Spans {
    fn emit(n: u32) -> u32 {
        for _ in 0..n {
            end(start("tick"));
        }
        n
    }

    fn trap_inside(depth: u32) {
        let open: Vec<Open> = (0..depth).map(|i| start(&format!("level-{i}"))).collect();
        std::hint::black_box(&open);
        core::arch::wasm32::unreachable()
    }

    fn mis_nested() -> String {
        let outer = start("outer");
        let inner = start("inner");
        end(outer);
        let current = tracing::inner_span_context();
        let name = if current.span_id == inner.context.span_id {
            "inner"
        } else {
            "other"
        };
        end(inner);
        name.to_string()
    }

    fn work(n: u32) -> u32 {
        compute(std::hint::black_box(n))
    }

    fn work_manual(n: u32) -> u32 {
        let span = start("manual-work");
        let out = compute(std::hint::black_box(n));
        end(span);
        out
    }
}

export!(Spans);
