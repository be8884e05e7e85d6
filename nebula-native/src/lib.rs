//! Nebula's native side: the wasmtime hosts that run instrumented components.
//!
//! [`host::otel`] implements `wasi:otel@0.3.0` for wasmtime, keeping the
//! stack of active span contexts and recording every finished span.

pub mod host;
