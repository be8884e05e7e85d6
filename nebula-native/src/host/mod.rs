//! Wasmtime host implementations of the interfaces instrumented components
//! import.
//!
//! Each host follows the shape of `wasmtime-wasi`: a plain state struct kept
//! in the store's data and an `add_to_linker` function taking an accessor
//! from the store data to that state.
//!
//! - [`otel`]: `wasi:otel/tracing` (span stack, host spans, recording or
//!   exporting finished spans);
//! - [`state`]: the store data and linker `nebula run` / `nebula serve`
//!   use (WASI, `wasi:http`, `wasi:otel`).

pub mod otel;
pub mod state;
