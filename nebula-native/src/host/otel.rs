//! A typed wasmtime host for `wasi:otel@0.3.0` (`wasi:otel/tracing`).
//!
//! [`OtelHost`] keeps a stack of the active span contexts of one call chain
//! and records every `on-start` / `on-end` in call order:
//!
//! - `on-start(context)` pushes `context`;
//! - `on-end(span)` removes the entry whose span-id equals
//!   `span.span-context.span-id`, searching from the top of the stack; when
//!   no entry matches, the stack is left untouched. The span is recorded
//!   either way;
//! - `inner-span-context()` returns the top of the stack;
//! - `outer-span-context()` returns the bottom of the stack;
//! - with an empty stack both return the remote parent given to
//!   [`OtelHost::with_remote_parent`], else [`invalid_context`].
//!
//! ```no_run
//! use nebula_native::host::otel::{self, OtelHost};
//! use wasmtime::component::Linker;
//!
//! struct State {
//!     otel: OtelHost,
//! }
//!
//! let engine = wasmtime::Engine::default();
//! let mut linker = Linker::<State>::new(&engine);
//! otel::add_to_linker(&mut linker, |s| &mut s.otel).unwrap();
//! ```

use wasmtime::component::{HasSelf, Linker};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:otel/imports@0.3.0",
        additional_derives: [PartialEq, Eq],
    });
}

use bindings::wasi::otel::tracing;

pub use bindings::wasi::clocks::wall_clock::Datetime;
pub use bindings::wasi::otel::tracing::{
    Event, Link, SpanContext, SpanData, SpanKind, Status, TraceFlags,
};
pub use bindings::wasi::otel::types::{InstrumentationScope, KeyValue};

/// One call the guest made into the host, in call order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "most events are `Ended`; plain payloads keep matching simple"
)]
pub enum Recorded {
    /// `on-start` with this context.
    Started(SpanContext),
    /// `on-end` with this span.
    Ended(SpanData),
}

impl Recorded {
    /// The span-id of the started or ended span.
    pub fn span_id(&self) -> &str {
        match self {
            Recorded::Started(cx) => &cx.span_id,
            Recorded::Ended(data) => &data.span_context.span_id,
        }
    }
}

/// The state of the `wasi:otel` host for one store.
#[derive(Clone, Debug, Default)]
pub struct OtelHost {
    stack: Vec<SpanContext>,
    recorded: Vec<Recorded>,
    remote_parent: Option<SpanContext>,
}

impl OtelHost {
    /// A host whose empty stack reports `parent` as the current span, as when
    /// the caller continues a trace that started elsewhere.
    pub fn with_remote_parent(parent: SpanContext) -> Self {
        Self {
            remote_parent: Some(parent),
            ..Self::default()
        }
    }

    /// The active span contexts, bottom first.
    pub fn stack(&self) -> &[SpanContext] {
        &self.stack
    }

    /// Every `on-start` / `on-end` so far, in call order.
    pub fn recorded(&self) -> &[Recorded] {
        &self.recorded
    }

    /// Takes the recorded events, leaving the record empty.
    pub fn take_recorded(&mut self) -> Vec<Recorded> {
        std::mem::take(&mut self.recorded)
    }

    /// The finished spans recorded so far, in the order they ended.
    pub fn ended(&self) -> impl Iterator<Item = &SpanData> {
        self.recorded.iter().filter_map(|r| match r {
            Recorded::Ended(data) => Some(data),
            Recorded::Started(_) => None,
        })
    }

    /// The context reported when the stack is empty.
    fn fallback(&self) -> SpanContext {
        self.remote_parent.clone().unwrap_or_else(invalid_context)
    }
}

impl tracing::Host for OtelHost {
    fn on_start(&mut self, context: SpanContext) {
        self.recorded.push(Recorded::Started(context.clone()));
        self.stack.push(context);
    }

    fn on_end(&mut self, span: SpanData) {
        let id = &span.span_context.span_id;
        if let Some(at) = self.stack.iter().rposition(|cx| &cx.span_id == id) {
            self.stack.remove(at);
        }
        self.recorded.push(Recorded::Ended(span));
    }

    fn outer_span_context(&mut self) -> SpanContext {
        self.stack
            .first()
            .cloned()
            .unwrap_or_else(|| self.fallback())
    }

    fn inner_span_context(&mut self) -> SpanContext {
        self.stack
            .last()
            .cloned()
            .unwrap_or_else(|| self.fallback())
    }
}

// `wasi:otel/types` has no functions: nothing to link.
impl bindings::wasi::otel::types::Host for OtelHost {}

/// The invalid span context: all-zero ids, no flags, not remote, no state.
pub fn invalid_context() -> SpanContext {
    SpanContext {
        trace_id: "0".repeat(32),
        span_id: "0".repeat(16),
        trace_flags: TraceFlags::empty(),
        is_remote: false,
        trace_state: Vec::new(),
    }
}

/// Whether `cx` is the invalid context (all-zero or empty ids).
pub fn is_invalid(cx: &SpanContext) -> bool {
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    zero(&cx.trace_id) || zero(&cx.span_id)
}

/// Defines `wasi:otel/tracing@0.3.0` in `linker`, backed by the [`OtelHost`]
/// that `get` finds in the store data.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut OtelHost,
) -> wasmtime::Result<()> {
    tracing::add_to_linker::<T, HasSelf<OtelHost>>(linker, get)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Host as _;

    fn cx(span: &str) -> SpanContext {
        SpanContext {
            trace_id: "1".repeat(32),
            span_id: span.repeat(16),
            trace_flags: TraceFlags::SAMPLED,
            is_remote: false,
            trace_state: Vec::new(),
        }
    }

    fn data(cx: SpanContext) -> SpanData {
        let t = Datetime {
            seconds: 0,
            nanoseconds: 0,
        };
        SpanData {
            span_context: cx,
            parent_span_id: String::new(),
            span_kind: SpanKind::Internal,
            name: "s".into(),
            start_time: t,
            end_time: t,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope {
                name: "test".into(),
                version: None,
                schema_url: None,
                attributes: Vec::new(),
            },
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
        }
    }

    #[test]
    fn empty_stack_reports_invalid_or_remote_parent() {
        let mut host = OtelHost::default();
        assert_eq!(host.inner_span_context(), invalid_context());
        assert_eq!(host.outer_span_context(), invalid_context());
        assert!(is_invalid(&host.inner_span_context()));

        let mut host = OtelHost::with_remote_parent(cx("a"));
        assert_eq!(host.inner_span_context(), cx("a"));
        assert_eq!(host.outer_span_context(), cx("a"));
    }

    #[test]
    fn stack_push_pop_and_record() {
        let mut host = OtelHost::default();
        host.on_start(cx("a"));
        host.on_start(cx("b"));
        assert_eq!(host.inner_span_context(), cx("b"));
        assert_eq!(host.outer_span_context(), cx("a"));

        // Ending a span that is not on the stack leaves it untouched.
        host.on_end(data(cx("c")));
        assert_eq!(host.stack().len(), 2);

        // Ending a span below the top removes only that span.
        host.on_end(data(cx("a")));
        assert_eq!(host.stack(), &[cx("b")]);
        host.on_end(data(cx("b")));
        assert!(host.stack().is_empty());

        let ids: Vec<_> = host.recorded().iter().map(Recorded::span_id).collect();
        let expect = ["a", "b", "c", "a", "b"].map(|s| s.repeat(16));
        assert_eq!(ids, expect);
        assert_eq!(host.ended().count(), 3);
        assert_eq!(host.take_recorded().len(), 5);
        assert!(host.recorded().is_empty());
    }
}
