//! The `wasi:otel` span types (`span-data`, `span-context`, ...) as Rust
//! types, generated once from `wit/`. A leaf module: the `wasi:otel` host
//! (`host/otel.rs`) takes them from guests, the exporters (`export/`) turn
//! them into OTLP, and neither imports the other's types.

/// The typed bindings of the `wasi:otel@0.3.0` imports world, whose
/// `Host` traits `host/otel.rs` implements.
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:otel/imports@0.3.0",
        additional_derives: [PartialEq, Eq],
    });
}

pub use bindings::wasi::clocks::wall_clock::Datetime;
pub use bindings::wasi::otel::tracing::{
    Event, Link, SpanContext, SpanData, SpanKind, Status, TraceFlags,
};
pub use bindings::wasi::otel::types::{InstrumentationScope, KeyValue};
