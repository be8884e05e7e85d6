//! The `spans` guest: spans made by hand through `wasi:otel`, in the shapes
//! that test a host's fault handling (many spans, an `on-end` out of stack
//! order, spans still open when the guest traps), and the computation the
//! run benchmark times plain, with a hand-made span, and instrumented.

use hand_spans::{Span, Tracer};

wit_bindgen::generate!({
    path: ["../../../wit/deps/clocks", "../../../wit/deps/otel", "../wit"],
    world: "nebula:guests/spans-guest@0.1.0",
    with: {
        "wasi:otel/tracing@0.3.0": hand_spans::tracing,
        "wasi:otel/types@0.3.0": hand_spans::types,
        "wasi:clocks/wall-clock@0.2.0": hand_spans::wall_clock,
    },
    generate_all,
});

use exports::nebula::guests::spans::Guest;
use hand_spans::tracing;

const TRACER: Tracer = Tracer {
    name: "spans",
    version: None,
};

/// Starts a span named `name` under `inner-span-context()`.
fn start(name: &str) -> Span {
    TRACER.start(name)
}

/// Ends `span` with status unset.
fn end(span: Span) {
    span.end()
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
        let open: Vec<Span> = (0..depth).map(|i| start(&format!("level-{i}"))).collect();
        std::hint::black_box(&open);
        core::arch::wasm32::unreachable()
    }

    fn mis_nested() -> String {
        let outer = start("outer");
        let inner = start("inner");
        end(outer);
        let current = tracing::inner_span_context();
        let name = if current.span_id == inner.context().span_id {
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
