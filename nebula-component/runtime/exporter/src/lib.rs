//! The in-guest exporter: composed into an output built with `--export-to`,
//! it implements the `wasi:otel/tracing` the output's span runtime (and a
//! hand-instrumented target) imports, and writes the spans through plain
//! WASI, so the output runs on any WASI 0.2 runtime with no `wasi:otel`
//! host.
//!
//! This crate is what every destination shares: the span bookkeeping and
//! the formats. Each destination is a small `cdylib` (`exporter-stderr`,
//! `exporter-file`) that imports only what it writes with and passes its
//! [`Sink`] to [`export_to!`] (`exporter-otlp` sends each batch as one
//! OTLP/HTTP request).
//!
//! - `on-start` pushes the span's context on a stack of open spans;
//!   `inner-span-context` answers its top (the innermost open span), and
//!   `outer-span-context` the invalid context: inside the guest there is no
//!   host span;
//! - `on-end` holds the span; when no span is open any more (the end of a
//!   top-level call) the held spans are written as one batch, in the
//!   configured [`Format`], and the arena is freed. A batch is also written
//!   when it reaches [`MAX_BATCH`] spans (then the arena keeps growing until
//!   the open spans end).
//!
//! The generator appends the configuration ([`config`]) to this module's
//! memory, where the module's own memory ended (`__heap_end`).
#![no_std]

extern crate alloc;

pub mod config;
mod json;
mod mem;
mod otlp_json;
mod otlp_proto;
mod tree;

use alloc::string::String;
use alloc::vec::Vec;

use nebula_arena::ArenaAlloc;

pub use config::{Config, Format};

/// The bindings of the `wasi:otel` side, shared by every destination.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "nebula:instrument/exporter",
        pub_export_macro: true,
        default_bindings_module: "nebula_exporter::bindings",
        generate_all,
    });
}

use bindings::exports::wasi::otel::tracing::{SpanContext, SpanData, TraceFlags};

#[global_allocator]
static GLOBAL: ArenaAlloc = ArenaAlloc;

/// Spans held at most before a batch is written even though spans are
/// still open.
pub const MAX_BATCH: usize = 512;

/// Where a destination writes a finished batch.
pub trait Sink {
    /// Writes `bytes` (whole lines); errors are the sink's to swallow: a
    /// failing destination never fails the guest's call.
    fn write(&mut self, config: &Config, bytes: &[u8]);
}

/// The open spans and the ended ones not written yet.
struct State {
    open: Vec<SpanContext>,
    batch: Vec<SpanData>,
}

static mut STATE: State = State {
    open: Vec::new(),
    batch: Vec::new(),
};

#[allow(static_mut_refs)]
fn state() -> &'static mut State {
    // Safety: a component instance is single-threaded and these functions
    // are not re-entered.
    unsafe { &mut STATE }
}

/// `on-start`: the span is open.
pub fn on_start(context: SpanContext) {
    state().open.push(context);
}

/// `on-end`: the span is held, and the batch written when no span is open
/// any more.
pub fn on_end(span: SpanData, sink: &mut impl Sink) {
    let state = state();
    if let Some(at) = state
        .open
        .iter()
        .rposition(|open| open.span_id == span.span_context.span_id)
    {
        state.open.remove(at);
    }
    state.batch.push(span);
    if state.open.is_empty() || state.batch.len() >= MAX_BATCH {
        flush(sink);
    }
}

/// `inner-span-context`: the innermost open span, else the invalid context.
pub fn inner_span_context() -> SpanContext {
    match state().open.last() {
        Some(top) => top.clone(),
        None => invalid(),
    }
}

/// `outer-span-context`: there is no host span inside the guest.
pub fn outer_span_context() -> SpanContext {
    invalid()
}

/// The invalid span context (all-zero ids): the span runtime starts a new
/// trace under it.
fn invalid() -> SpanContext {
    SpanContext {
        trace_id: String::from("00000000000000000000000000000000"),
        span_id: String::from("0000000000000000"),
        trace_flags: TraceFlags::empty(),
        is_remote: false,
        trace_state: Vec::new(),
    }
}

/// Writes the held spans and, when no span is open, frees the arena.
fn flush(sink: &mut impl Sink) {
    let state = state();
    let config = config::get();
    let mut out = Vec::new();
    match config.format {
        Format::OtlpJson => otlp_json::request(&mut out, &config, &state.batch),
        Format::Tree => tree::render(&mut out, &state.batch),
        Format::OtlpProto => otlp_proto::request(&mut out, &config, &state.batch),
    }
    sink.write(&config, &out);
    // Dropping frees nothing (the arena's `free` is a no-op); the reset
    // below does, once nothing allocated is referenced any more.
    core::mem::forget(core::mem::take(&mut state.batch));
    drop(out);
    if state.open.is_empty() {
        core::mem::forget(core::mem::take(&mut state.open));
        // Safety: nothing allocated is still referenced (the batch and the
        // stack were just emptied; the configuration lives in data).
        unsafe { nebula_arena::reset() };
    }
}

/// Defines a destination's exporter: the `wasi:otel/tracing` export,
/// writing through `$sink` (an expression of a [`Sink`] type).
#[macro_export]
macro_rules! export_to {
    ($sink:expr) => {
        struct Exporter;

        impl $crate::bindings::exports::wasi::otel::tracing::Guest for Exporter {
            fn on_start(context: $crate::bindings::exports::wasi::otel::tracing::SpanContext) {
                $crate::on_start(context)
            }

            fn on_end(span: $crate::bindings::exports::wasi::otel::tracing::SpanData) {
                $crate::on_end(span, &mut $sink)
            }

            fn outer_span_context() -> $crate::bindings::exports::wasi::otel::tracing::SpanContext
            {
                $crate::outer_span_context()
            }

            fn inner_span_context() -> $crate::bindings::exports::wasi::otel::tracing::SpanContext
            {
                $crate::inner_span_context()
            }
        }

        $crate::bindings::export!(Exporter with_types_in $crate::bindings);
    };
}
