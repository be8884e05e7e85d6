//! The Nebula test harness: fixture components and a wasmtime runner.
//!
//! - [`fixtures`]: paths of the fixture components built by `build.rs`;
//! - [`host::Runner`]: instantiates any component with WASI, `wasi:otel`
//!   and the fixtures' `store` host, and calls its exports dynamically;
//! - [`exports`]: every exported function of a component, with its types;
//! - [`values`]: edge-case values of any component type, and a structural
//!   equality that compares floats by bits;
//! - [`compose`]: plugs components together (e.g. the `chain` fixtures);
//! - [`differential`]: plain vs instrumented, export by export;
//! - [`spin_otel`]: a `wasi:otel@0.2.0-rc.2` host with Spin 4's rules;
//! - [`span_tree`]: the shape of recorded spans, to compare runs;
//! - [`otlp`]: OTLP JSON lines (the in-guest exporter's) read and checked;
//! - [`shapes`]: components of the shapes other toolchains emit, from WIT
//!   and hand-written core modules;
//! - [`toolchains`]: fixtures built by componentize-py and componentize-js.

pub mod blobs;
pub mod compose;
pub mod differential;
pub mod exports;
pub mod host;
pub mod otlp;
pub mod shapes;
pub mod span_tree;
pub mod spin_otel;
pub mod toolchains;
pub mod values;

/// The fixture components, as absolute paths of their `.wasm` files.
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

    /// Reads the fixture component at `path` (one of this module's constants).
    pub fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("reading fixture {path}: {e}"))
    }
}
