//! Builds the wasm parts of every instrumented output (`runtime/`, a small
//! `no_std` workspace) as core wasm modules: the span runtime
//! (`nebula_span_runtime.wasm`, one instance per output) and the proxy base
//! (`nebula_proxy_base.wasm`, which every proxy's forwarders are linked
//! into; `nebula_proxy_base_http.wasm` for proxies that read trace
//! context off `wasi:http` requests), and the in-guest exporters of `--export-to`
//! (`nebula_exporter_stderr.wasm`, `nebula_exporter_file.wasm`,
//! `nebula_exporter_otlp.wasm`).
//! `nebula-build-support` runs the nested build.

use std::env;
use std::path::PathBuf;

use nebula_build_support::{NestedBuild, TARGET, watch};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let runtime_dir = manifest_dir.join("runtime");
    for path in [
        "arena",
        "spans",
        "base",
        "base-http",
        "exporter",
        "exporter-stderr",
        "exporter-file",
        "exporter-otlp",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        watch(&runtime_dir.join(path));
    }
    watch(&manifest_dir.join("../wit"));

    let target_dir = out_dir.join("runtime-target");
    NestedBuild::new(
        &runtime_dir,
        &target_dir,
        "the span runtime, proxy base and exporters",
    )
    .args(["--workspace"])
    // Core modules, not components: the generator adds to them before
    // `wit-component` makes components of them. A small stack: their
    // frames are shallow.
    .rustflags(&[
        "-Clink-arg=--skip-wit-component",
        "-Clink-arg=-zstack-size=65536",
    ])
    .run();
    for module in [
        "nebula_span_runtime.wasm",
        "nebula_proxy_base.wasm",
        "nebula_proxy_base_http.wasm",
        "nebula_exporter_stderr.wasm",
        "nebula_exporter_file.wasm",
        "nebula_exporter_otlp.wasm",
    ] {
        let built = target_dir.join(TARGET).join("release").join(module);
        let bytes =
            std::fs::read(&built).unwrap_or_else(|e| panic!("missing {}: {e}", built.display()));
        nebula_build_support::publish(&out_dir.join(module), &bytes);
    }
}
