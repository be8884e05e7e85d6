//! Wasmtime host implementations of the interfaces instrumented components
//! import.
//!
//! Each host follows the shape of `wasmtime-wasi`: a plain state struct kept
//! in the store's data and an `add_to_linker` function taking an accessor
//! from the store data to that state.

pub mod otel;
