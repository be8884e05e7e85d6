//! The one wasmtime configuration of Nebula: the engine `nebula.wasm` is
//! precompiled with (by `build.rs`, which includes this file) and run
//! with, which must agree or the precompiled code is refused, and the base
//! of the hosts' engines (`nebula run` / `serve`, which add epoch
//! interruption to serve) and of the tests'.
//!
//! - component model on; its async (`concurrency_support(false)`) off:
//!   neither `nebula.wasm` nor the WASI 0.2 components the hosts run use
//!   it, and the bookkeeping would slow every call;
//! - GC and typed function references on, so components whose core modules
//!   use GC types (wasm-gc toolchains: MoonBit, Kotlin, Java) load.

use wasmtime::Config;

/// The configuration every engine of Nebula starts from.
pub fn config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.concurrency_support(false);
    config.wasm_gc(true);
    config.wasm_function_references(true);
    config
}
