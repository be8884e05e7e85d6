//! The wasmtime configuration `nebula.wasm` is precompiled with (by
//! `build.rs`, which includes this file) and run with: the two must agree,
//! or the precompiled code is refused.
//!
//! Component-model async is off (`concurrency_support(false)`):
//! `nebula.wasm` uses none, and the bookkeeping would slow every call.

use wasmtime::Config;

/// The configuration of the engine that runs `nebula.wasm`.
pub fn config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.concurrency_support(false);
    config
}
