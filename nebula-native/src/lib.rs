//! Nebula's native side: the wasmtime hosts around the instrumenter and
//! around instrumented components.
//!
//! - [`nebula_wasm`]: `nebula.wasm` (the instrumenter built as a component),
//!   embedded precompiled, run as a [`nebula_component::cli::Backend`];
//! - [`host::otel`] implements `wasi:otel@0.3.0` for wasmtime, keeping the
//!   stack of active span contexts and recording every finished span;
//! - [`engine`]: the wasmtime configuration `nebula.wasm` runs with.

pub mod engine;
pub mod host;
pub mod nebula_wasm;
