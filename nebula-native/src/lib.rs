//! Nebula's native side: the wasmtime hosts around the instrumenter and
//! around instrumented components.
//!
//! - [`nebula_wasm`]: `nebula.wasm` (the instrumenter built as a component),
//!   embedded precompiled, run as a [`nebula_cli::Backend`];
//! - [`host`]: the `wasi:otel` host (span stack, host spans, flavors) and
//!   the store data / linker of `nebula run` and `nebula serve`;
//! - [`export`]: where finished spans go (bounded queue, span tree, OTLP
//!   JSON file, OTLP/HTTP collector);
//! - [`run`], [`invoke`], [`serve`]: `nebula run`, its `--invoke` calls in
//!   WAVE, and `nebula serve`;
//! - [`span_types`]: the `wasi:otel` span types, a leaf both the host and
//!   the exporters use;
//! - [`sampler`]: head sampling of the roots the host opens;
//! - [`traceparent`]: W3C `traceparent` values;
//! - [`validate`]: validation with the function bodies on every core;
//! - [`engine`]: the one wasmtime configuration (precompiled `nebula.wasm`,
//!   the hosts, the tests).

pub mod engine;
pub mod export;
pub mod host;
pub mod invoke;
pub mod nebula_wasm;
pub mod run;
pub mod sampler;
pub mod serve;
pub mod span_types;
pub mod traceparent;
pub mod validate;

/// The guest components `build.rs` builds from `guests/`, for the tests and
/// the run benchmark (absolute paths under `target/nebula/guests/`).
pub mod guests {
    /// Spans made by hand: many, mis-nested, or open at a trap.
    pub const SPANS: &str = env!("NEBULA_GUEST_SPANS");
    /// A `wasi:http/incoming-handler` answering `hello <method> <path>`,
    /// after a `GET` of the URL in its `x-upstream` request header if any.
    pub const HTTP: &str = env!("NEBULA_GUEST_HTTP");
    /// `work-imports(n)`: `n` calls of the host's `host-work.tick` import.
    pub const IMPORTS: &str = env!("NEBULA_GUEST_IMPORTS");
    /// A `wasi:http/incoming-handler` failing in the way its request path
    /// names (traps, a dropped outparam, an unfinished body, an endless
    /// loop, unbounded allocation), for the `nebula serve` fault tests.
    pub const FAULTS: &str = env!("NEBULA_GUEST_FAULTS");
}
