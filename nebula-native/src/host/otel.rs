//! A typed wasmtime host for `wasi:otel/tracing`: `wasi:otel@0.3.0`
//! (`inner-span-context`, `outer-span-context`) and the upstream flavor
//! (`current-span-context`) at any package version.
//!
//! [`OtelHost`] keeps the stack of the active span contexts of one call
//! chain:
//!
//! - `on-start(context)` pushes `context`;
//! - `on-end(span)` removes the entry whose span-id equals
//!   `span.span-context.span-id`, searching from the top of the stack.
//!   **Mis-nested ends**: when that entry is not on top, only it is removed;
//!   the entries above it stay open, so the innermost span that is still
//!   open stays current and the stack keeps every other span exactly once.
//!   When no entry matches, the stack is left untouched. The span is
//!   exported (or recorded) either way;
//! - `inner-span-context()` / `current-span-context()` return the top of the
//!   stack, `outer-span-context()` its bottom;
//! - with an empty stack they return the remote parent given to
//!   [`OtelHost::with_remote_parent`], else [`invalid_context`].
//!
//! The host can open spans of its own ([`OtelHost::start_span`], e.g. the
//! root span of `nebula run`), and [`OtelHost::end_open_spans`] ends every
//! span still on the stack, innermost first, with an error status: after a
//! guest trap, nothing else would end them.
//!
//! Finished spans are recorded in memory (tests read them with
//! [`OtelHost::recorded`]) unless a [`SpanSink`] takes them
//! ([`OtelHost::with_sink`]); spans whose context is not sampled are not
//! given to the sink.
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

use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::component::{HasSelf, Linker};

use crate::export::SpanSink;
use crate::sampler::Sampler;

use crate::span_types::bindings;
use bindings::wasi::otel::tracing;

pub use crate::span_types::{
    Datetime, Event, InstrumentationScope, KeyValue, Link, SpanContext, SpanData, SpanKind, Status,
    TraceFlags,
};

/// The instance name of the default flavor's tracing interface.
pub const TRACING_0_3_0: &str = "wasi:otel/tracing@0.3.0";

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

/// What the host knows of an entry of the stack besides its context.
#[derive(Clone, Debug)]
struct Opened {
    start: Datetime,
    parent_span_id: String,
    /// Set for spans the host opened itself.
    host: Option<HostMeta>,
}

/// Name, kind and attributes of a span the host opened.
#[derive(Clone, Debug)]
struct HostMeta {
    name: String,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
}

/// A span opened by the host with [`OtelHost::start_span`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpan {
    context: SpanContext,
}

impl HostSpan {
    /// The span's context (e.g. for a `traceparent` header).
    pub fn context(&self) -> &SpanContext {
        &self.context
    }
}

/// The state of the `wasi:otel` host for one store.
#[derive(Clone, Debug, Default)]
pub struct OtelHost {
    stack: Vec<SpanContext>,
    opened: Vec<Opened>,
    recorded: Vec<Recorded>,
    remote_parent: Option<SpanContext>,
    sink: Option<SpanSink>,
    misnested: u64,
    sampler: Sampler,
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

    /// A host giving every finished, sampled span to `sink` instead of
    /// recording it; `remote_parent` as in [`OtelHost::with_remote_parent`].
    pub fn with_sink(sink: SpanSink, remote_parent: Option<SpanContext>) -> Self {
        Self {
            remote_parent,
            sink: Some(sink),
            ..Self::default()
        }
    }

    /// Decides with `sampler` whether the spans the host opens at the root
    /// are sampled (by default: the parent's decision, else sampled).
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// The active span contexts, bottom first.
    pub fn stack(&self) -> &[SpanContext] {
        &self.stack
    }

    /// Every `on-start` / `on-end` so far, in call order (empty with a sink).
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

    /// How many `on-end` calls named a span that was not on top of the stack.
    pub fn misnested(&self) -> u64 {
        self.misnested
    }

    /// Opens a span of the host's own, child of the current span (or the
    /// root of a new trace), and pushes it on the stack; at the root, the
    /// sampler decides whether it is sampled.
    pub fn start_span(
        &mut self,
        name: &str,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
    ) -> HostSpan {
        let parent = self.current();
        let mut context = child_context(&parent);
        if self.stack.is_empty() {
            // A root: head sampling decides its flags, which every span of
            // its trace follows.
            let sampled = self.sampler.samples(&parent, &context.trace_id);
            // (`sampled` is the only trace flag.)
            context.trace_flags = if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::empty()
            };
        }
        self.push(
            context.clone(),
            Some(HostMeta {
                name: name.to_string(),
                kind,
                attributes,
            }),
        );
        HostSpan { context }
    }

    /// Ends `span` with `status` and `more` attributes; nothing happens when
    /// it already ended (e.g. by [`OtelHost::end_open_spans`]).
    pub fn end_span(&mut self, span: &HostSpan, status: Status, more: Vec<KeyValue>) {
        let Some(at) = self.position(&span.context.span_id) else {
            return;
        };
        let (context, mut opened) = self.remove(at);
        if let Some(meta) = &mut opened.host {
            meta.attributes.extend(more);
        }
        let data = synthesized(context, opened, status);
        self.export(data);
    }

    /// Ends every span still on the stack, innermost first, with status
    /// `error(message)`: the host's own spans keep their name, the guest's
    /// (whose data only the guest had) are named `(unfinished)`. Returns how
    /// many spans it ended.
    pub fn end_open_spans(&mut self, message: &str) -> usize {
        let mut count = 0;
        while let Some(at) = self.stack.len().checked_sub(1) {
            let (context, opened) = self.remove(at);
            let data = synthesized(context, opened, Status::Error(message.to_string()));
            self.export(data);
            count += 1;
        }
        count
    }

    /// The context reported when the stack is empty.
    fn fallback(&self) -> SpanContext {
        self.remote_parent.clone().unwrap_or_else(invalid_context)
    }

    /// The innermost active span, else the fallback.
    /// The innermost active span, else the remote parent (what
    /// `inner-span-context` answers, without copying it); `None` when
    /// there is neither.
    pub fn current_span(&self) -> Option<&SpanContext> {
        self.stack.last().or(self.remote_parent.as_ref())
    }

    fn current(&self) -> SpanContext {
        self.stack
            .last()
            .cloned()
            .unwrap_or_else(|| self.fallback())
    }

    fn push(&mut self, context: SpanContext, host: Option<HostMeta>) {
        let parent = self.current();
        let parent_span_id = if is_invalid(&parent) {
            String::new()
        } else {
            parent.span_id
        };
        self.opened.push(Opened {
            start: now(),
            parent_span_id,
            host,
        });
        self.stack.push(context);
    }

    fn position(&self, span_id: &str) -> Option<usize> {
        self.stack.iter().rposition(|cx| cx.span_id == span_id)
    }

    fn remove(&mut self, at: usize) -> (SpanContext, Opened) {
        (self.stack.remove(at), self.opened.remove(at))
    }

    /// Gives `span` to the sink, or records it.
    fn export(&mut self, span: SpanData) {
        match &mut self.sink {
            Some(sink) => {
                if span.span_context.trace_flags.contains(TraceFlags::SAMPLED) {
                    sink.send(span, self.stack.is_empty());
                }
            }
            None => self.recorded.push(Recorded::Ended(span)),
        }
    }
}

/// The span data the host makes for a span it ends itself.
fn synthesized(context: SpanContext, opened: Opened, status: Status) -> SpanData {
    let (name, kind, attributes) = match opened.host {
        Some(meta) => (meta.name, meta.kind, meta.attributes),
        None => (
            "(unfinished)".to_string(),
            SpanKind::Internal,
            vec![KeyValue {
                key: "nebula.unfinished".into(),
                value: "true".into(),
            }],
        ),
    };
    SpanData {
        span_context: context,
        parent_span_id: opened.parent_span_id,
        span_kind: kind,
        name,
        start_time: opened.start,
        end_time: now(),
        attributes,
        events: Vec::new(),
        links: Vec::new(),
        status,
        instrumentation_scope: InstrumentationScope {
            name: "nebula".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            schema_url: None,
            attributes: Vec::new(),
        },
        dropped_attributes: 0,
        dropped_events: 0,
        dropped_links: 0,
    }
}

impl tracing::Host for OtelHost {
    fn on_start(&mut self, context: SpanContext) {
        if self.sink.is_none() {
            self.recorded.push(Recorded::Started(context.clone()));
        }
        self.push(context, None);
    }

    fn on_end(&mut self, span: SpanData) {
        if let Some(at) = self.position(&span.span_context.span_id) {
            if at + 1 != self.stack.len() {
                self.misnested += 1;
            }
            self.remove(at);
        }
        self.export(span);
    }

    fn outer_span_context(&mut self) -> SpanContext {
        self.stack
            .first()
            .cloned()
            .unwrap_or_else(|| self.fallback())
    }

    fn inner_span_context(&mut self) -> SpanContext {
        self.current()
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

/// A new context under `parent`: its trace, flags and state with a fresh
/// span id; a new sampled trace when `parent` is invalid.
pub fn child_context(parent: &SpanContext) -> SpanContext {
    let span_id = format!("{:016x}", rand::random::<u64>() | 1);
    if is_invalid(parent) {
        SpanContext {
            trace_id: format!("{:032x}", rand::random::<u128>() | 1),
            span_id,
            trace_flags: TraceFlags::SAMPLED,
            is_remote: false,
            trace_state: Vec::new(),
        }
    } else {
        SpanContext {
            trace_id: parent.trace_id.clone(),
            span_id,
            trace_flags: parent.trace_flags,
            is_remote: false,
            trace_state: parent.trace_state.clone(),
        }
    }
}

/// The wall-clock time now.
pub fn now() -> Datetime {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Datetime {
        seconds: d.as_secs(),
        nanoseconds: d.subsec_nanos(),
    }
}

/// Defines `wasi:otel/tracing@0.3.0` in `linker`, backed by the [`OtelHost`]
/// that `get` finds in the store data.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut OtelHost,
) -> wasmtime::Result<()> {
    tracing::add_to_linker::<T, HasSelf<OtelHost>>(linker, get)
}

/// Defines the tracing interface under the instance name `name` (e.g.
/// `wasi:otel/tracing@0.2.0-rc.2`, the upstream flavor): `on-start`,
/// `on-end`, `current-span-context`, `inner-span-context` and
/// `outer-span-context`, whichever the component imports. The records have
/// the same shape in every flavor, so the typed bindings serve them all.
pub fn add_flavor_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    name: &str,
    get: fn(&mut T) -> &mut OtelHost,
) -> wasmtime::Result<()> {
    use tracing::Host as _;
    let mut instance = linker.instance(name)?;
    instance.func_wrap("on-start", move |mut cx, (context,): (SpanContext,)| {
        get(cx.data_mut()).on_start(context);
        Ok(())
    })?;
    instance.func_wrap("on-end", move |mut cx, (span,): (SpanData,)| {
        get(cx.data_mut()).on_end(span);
        Ok(())
    })?;
    for inner in ["current-span-context", "inner-span-context"] {
        instance.func_wrap(inner, move |mut cx, (): ()| {
            Ok((get(cx.data_mut()).inner_span_context(),))
        })?;
    }
    instance.func_wrap("outer-span-context", move |mut cx, (): ()| {
        Ok((get(cx.data_mut()).outer_span_context(),))
    })?;
    Ok(())
}

/// Defines every `wasi:otel/tracing` flavor that `component` imports:
/// `@0.3.0` through [`add_to_linker`], any other version through
/// [`add_flavor_to_linker`]. Returns the instance names it defined.
pub fn add_imported_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    component: &wasmtime::component::Component,
    get: fn(&mut T) -> &mut OtelHost,
) -> wasmtime::Result<Vec<String>> {
    let engine = linker.engine().clone();
    let ty = component.component_type();
    let mut defined = Vec::new();
    for (name, _) in ty.imports(&engine) {
        if !name.starts_with("wasi:otel/tracing@") {
            continue;
        }
        if name == TRACING_0_3_0 {
            add_to_linker(linker, get)?;
        } else {
            add_flavor_to_linker(linker, name, get)?;
        }
        defined.push(name.to_string());
    }
    Ok(defined)
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
        assert_eq!(host.misnested(), 1);
        host.on_end(data(cx("b")));
        assert!(host.stack().is_empty());

        let ids: Vec<_> = host.recorded().iter().map(Recorded::span_id).collect();
        let expect = ["a", "b", "c", "a", "b"].map(|s| s.repeat(16));
        assert_eq!(ids, expect);
        assert_eq!(host.ended().count(), 3);
        assert_eq!(host.take_recorded().len(), 5);
        assert!(host.recorded().is_empty());
    }

    #[test]
    fn host_spans_parent_guest_spans_and_end_on_trap() {
        let mut host = OtelHost::with_remote_parent(cx("r"));
        let root = host.start_span("root", SpanKind::Server, Vec::new());
        assert_eq!(root.context().trace_id, "1".repeat(32));
        assert_eq!(host.inner_span_context(), *root.context());
        host.on_start(cx("g"));

        assert_eq!(host.end_open_spans("trap: boom"), 2);
        assert!(host.stack().is_empty());
        let ended: Vec<_> = host.ended().collect();
        assert_eq!(ended[0].name, "(unfinished)");
        assert_eq!(ended[0].parent_span_id, root.context().span_id);
        assert_eq!(ended[1].name, "root");
        assert_eq!(ended[1].parent_span_id, "r".repeat(16));
        assert_eq!(ended[1].status, Status::Error("trap: boom".into()));

        // Already ended: nothing more.
        host.end_span(&root, Status::Ok, Vec::new());
        assert_eq!(host.ended().count(), 2);
    }

    #[test]
    fn a_new_trace_without_parent() {
        let mut host = OtelHost::default();
        let root = host.start_span("root", SpanKind::Internal, Vec::new());
        assert!(!is_invalid(root.context()));
        assert!(root.context().trace_flags.contains(TraceFlags::SAMPLED));
        host.end_span(&root, Status::Unset, Vec::new());
        let ended: Vec<_> = host.ended().collect();
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].parent_span_id, "");
    }
}
