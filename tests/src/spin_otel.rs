//! A `wasi:otel` host that serves exactly the upstream tag
//! `wasi:otel/tracing@0.2.0-rc.2` (`on-start`, `on-end`,
//! `outer-span-context`) with the rules Spin 4's host follows:
//!
//! - `outer-span-context` returns the host's own current span (the
//!   request's), never a guest's;
//! - `on-start` records the guest's span ([`SpinOtel::open`]), and spans
//!   the host makes later (Spin's outbound HTTP or key-value spans; here,
//!   one for every call of a function a test defines, see
//!   [`SpinOtel::host_span`]) are re-parented under the innermost guest
//!   span started and not ended;
//! - `on-end` of a span that was never started traps the guest.
//!
//! The outputs of `--flavor outer` must nest correctly on it.

use nebula_native::host::otel::{
    Datetime, InstrumentationScope, Recorded, SpanContext, SpanData, SpanKind, Status, TraceFlags,
};
use wasmtime::component::Linker;
use wasmtime::{Result, bail};

/// The instance name the host serves.
pub const TRACING_RC2: &str = "wasi:otel/tracing@0.2.0-rc.2";

/// The state of the rc.2 host: its request span, the started guest spans,
/// and what it recorded.
pub struct SpinOtel {
    request: SpanContext,
    started: Vec<SpanContext>,
    recorded: Vec<Recorded>,
    queries: usize,
    host_spans: u64,
}

impl SpinOtel {
    /// A host whose request span (`outer-span-context`) has these ids and
    /// is `sampled` or not.
    pub fn with_request(trace_id: &str, span_id: &str, sampled: bool) -> Self {
        SpinOtel {
            request: SpanContext {
                trace_id: trace_id.into(),
                span_id: span_id.into(),
                trace_flags: if sampled {
                    TraceFlags::SAMPLED
                } else {
                    TraceFlags::empty()
                },
                is_remote: false,
                trace_state: Vec::new(),
            },
            started: Vec::new(),
            recorded: Vec::new(),
            queries: 0,
            host_spans: 0,
        }
    }

    /// The request span guest spans nest in.
    pub fn request(&self) -> &SpanContext {
        &self.request
    }

    /// `on-start` and `on-end` calls, in order.
    pub fn recorded(&self) -> &[Recorded] {
        &self.recorded
    }

    /// How many times a guest asked `outer-span-context`.
    pub fn queries(&self) -> usize {
        self.queries
    }

    /// Guest spans started and not ended.
    pub fn open(&self) -> &[SpanContext] {
        &self.started
    }

    /// Makes a span of the host's own, named `name` (as Spin does for an
    /// outbound HTTP request made during a guest call): a client span
    /// whose parent is the innermost guest span started and not ended (the
    /// request span when none is), recorded as started and ended.
    pub fn host_span(&mut self, name: &str) {
        let parent = self.started.last().unwrap_or(&self.request).clone();
        self.host_spans += 1;
        let context = SpanContext {
            trace_id: parent.trace_id.clone(),
            span_id: format!("{:016x}", 0x5b1a_0000_0000_0000u64 + self.host_spans),
            trace_flags: parent.trace_flags,
            is_remote: false,
            trace_state: Vec::new(),
        };
        let now = Datetime {
            seconds: 0,
            nanoseconds: 0,
        };
        self.recorded.push(Recorded::Started(context.clone()));
        self.recorded.push(Recorded::Ended(SpanData {
            span_context: context,
            parent_span_id: parent.span_id,
            span_kind: SpanKind::Client,
            name: name.to_string(),
            start_time: now,
            end_time: now,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope {
                name: "spin".into(),
                version: None,
                schema_url: None,
                attributes: Vec::new(),
            },
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
        }));
    }

    fn on_start(&mut self, context: SpanContext) {
        self.recorded.push(Recorded::Started(context.clone()));
        self.started.push(context);
    }

    fn on_end(&mut self, span: SpanData) -> Result<()> {
        let Some(at) = self
            .started
            .iter()
            .rposition(|cx| cx.span_id == span.span_context.span_id)
        else {
            bail!(
                "on-end of span {} that was never started (Spin traps here)",
                span.span_context.span_id
            );
        };
        self.started.remove(at);
        self.recorded.push(Recorded::Ended(span));
        Ok(())
    }
}

/// Defines `wasi:otel/tracing@0.2.0-rc.2` (and nothing more) in `linker`.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut SpinOtel,
) -> Result<()> {
    let mut instance = linker.instance(TRACING_RC2)?;
    instance.func_wrap("on-start", move |mut cx, (context,): (SpanContext,)| {
        get(cx.data_mut()).on_start(context);
        Ok(())
    })?;
    instance.func_wrap("on-end", move |mut cx, (span,): (SpanData,)| {
        get(cx.data_mut()).on_end(span)
    })?;
    instance.func_wrap("outer-span-context", move |mut cx, (): ()| {
        let host = get(cx.data_mut());
        host.queries += 1;
        Ok((host.request.clone(),))
    })?;
    Ok(())
}
