//! The `wasi:otel/tracing` the runtime serves to the components of its
//! output that import it themselves (`nebula:served-otel`, see
//! `wit/deps/served-otel/`): a hand-instrumented target, an inner
//! component of a composition. The composer wires their import to these
//! exports instead of the host, at whatever revision they import, so
//! their hand-made spans nest between Nebula's on every host:
//!
//! - `on-start` passes the span on to the host and pushes it on the
//!   runtime's stack (a *foreign* entry), so what starts inside it, Nebula's
//!   spans or hand-made ones, is its child;
//! - `on-end` passes on only a span whose `on-start` went through here
//!   (Spin traps on an unknown one) and takes it off the stack. A span
//!   ended under entries still open stays until they close; one that a
//!   wrapped call's end took off the stack (it outlived the call) is
//!   remembered in [`LEFT_OPEN`], so its end still reaches the host;
//! - every context query answers the innermost open entry and asks the
//!   host only when none is open. `wasi:otel@0.3.0`'s `outer-span-context`
//!   (`tracing-inner`) answers the parent of the outermost open span.

use alloc::string::String;

use super::{Entry, MAX_OPEN, NO_TIME, Runtime, depth, host_span_context, pop_to, push, top};
use crate::exports::nebula::served_otel::{tracing as served, tracing_inner as served_inner};
use crate::wasi::otel::tracing::{self, SpanContext, SpanData};

/// How many spans that outlived the wrapped call they started in are
/// remembered, so their `on-end` still goes to the host.
const LEFT_OPEN_SLOTS: usize = 16;

/// A span id (16 hex digits, though any string up to 32 bytes fits).
#[derive(Clone, Copy)]
struct SpanId {
    len: u8,
    bytes: [u8; 32],
}

impl SpanId {
    const EMPTY: SpanId = SpanId {
        len: 0,
        bytes: [0; 32],
    };

    fn is(&self, id: &str) -> bool {
        self.len > 0 && same(&self.bytes[..self.len as usize], id)
    }
}

/// Whether `a` and `b` hold the same bytes, compared here (`==` on slices
/// would import `memcmp`, which no host provides).
fn same(a: &[u8], b: &str) -> bool {
    let b = b.as_bytes();
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The spans a component started here whose entry a wrapped call's end
/// took off the stack, by span id (a ring: the oldest is forgotten first).
/// Kept outside the arena: they outlive the spans whose data it frees.
static mut LEFT_OPEN: [SpanId; LEFT_OPEN_SLOTS] = [SpanId::EMPTY; LEFT_OPEN_SLOTS];
static mut LEFT_OPEN_NEXT: usize = 0;

/// Remembers span `id`, started here and not ended, whose entry is gone.
#[allow(static_mut_refs)]
pub(super) fn left_open(id: &str) {
    if id.is_empty() || id.len() > 32 {
        return;
    }
    let mut slot = SpanId::EMPTY;
    slot.len = id.len() as u8;
    slot.bytes[..id.len()].copy_from_slice(id.as_bytes());
    unsafe {
        LEFT_OPEN[LEFT_OPEN_NEXT] = slot;
        LEFT_OPEN_NEXT = (LEFT_OPEN_NEXT + 1) % LEFT_OPEN_SLOTS;
    }
}

/// Forgets span `id` if it is remembered; returns whether it was.
#[allow(static_mut_refs)]
fn take_left_open(id: &str) -> bool {
    unsafe {
        match LEFT_OPEN.iter_mut().find(|slot| slot.is(id)) {
            Some(slot) => {
                *slot = SpanId::EMPTY;
                true
            }
            None => false,
        }
    }
}

/// A component's `on-start`.
fn on_start(context: SpanContext) {
    tracing::on_start(&context);
    if depth() < MAX_OPEN {
        push(Entry::Foreign(false), context, String::new(), NO_TIME);
    } else {
        left_open(&context.span_id);
    }
}

/// A component's `on-end`.
#[allow(static_mut_refs)]
fn on_end(span: SpanData) {
    let id = &span.span_context.span_id;
    let depth = depth();
    let open = (0..depth).rev().find(|&i| {
        let open = unsafe { super::OPEN[i].assume_init_ref() };
        open.entry == Entry::Foreign(false) && same(open.context.span_id.as_bytes(), id)
    });
    match open {
        Some(at) => {
            tracing::on_end(&span);
            if at + 1 == depth {
                drop(unsafe { pop_to(at) });
            } else {
                // Ended under entries still open: it goes with the last
                // of them.
                unsafe { super::OPEN[at].assume_init_mut().entry = Entry::Foreign(true) };
            }
        }
        None if take_left_open(id) => tracing::on_end(&span),
        // Never started here: not passed on (Spin would trap).
        None => {}
    }
    unsafe { super::release_above(super::depth()) };
}

/// What every revision's context query answers: the innermost open entry's
/// context, else the host's.
fn current() -> SpanContext {
    match top() {
        Some(open) => open.context.clone(),
        None => {
            // Nothing is open, so nothing in the arena is in use.
            unsafe { nebula_arena::reset() };
            host_span_context()
        }
    }
}

/// `wasi:otel@0.3.0`'s `outer-span-context`: the parent of the outermost
/// open span (the host's span the output's work started under), else the
/// host's answer.
#[allow(static_mut_refs)]
fn outermost_parent() -> SpanContext {
    if depth() == 0 {
        return current();
    }
    let bottom = unsafe { super::OPEN[0].assume_init_ref() };
    match bottom.entry {
        Entry::Unsampled => bottom.context.clone(),
        Entry::Span(_) => SpanContext {
            trace_id: if bottom.parent_span_id.is_empty() {
                String::new()
            } else {
                bottom.context.trace_id.clone()
            },
            span_id: bottom.parent_span_id.clone(),
            trace_flags: bottom.context.trace_flags,
            is_remote: false,
            trace_state: bottom.context.trace_state.clone(),
        },
        // A hand-made span's parent is not known here.
        Entry::Foreign(_) => host_span_context(),
    }
}

impl served::Guest for Runtime {
    fn on_start(context: SpanContext) {
        on_start(context)
    }

    fn on_end(span: SpanData) {
        on_end(span)
    }

    fn outer_span_context() -> SpanContext {
        current()
    }

    fn current_span_context() -> SpanContext {
        current()
    }

    fn inner_span_context() -> SpanContext {
        current()
    }
}

impl served_inner::Guest for Runtime {
    fn on_start(context: SpanContext) {
        on_start(context)
    }

    fn on_end(span: SpanData) {
        on_end(span)
    }

    fn outer_span_context() -> SpanContext {
        outermost_parent()
    }

    fn inner_span_context() -> SpanContext {
        current()
    }
}
