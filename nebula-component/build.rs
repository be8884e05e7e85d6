//! Builds the wasm parts of every instrumented output (`runtime/`, a small
//! `no_std` workspace) as core wasm modules: the span runtime
//! (`nebula_span_runtime.wasm`, one instance per output) and the proxy base
//! (`nebula_proxy_base.wasm`, which every proxy's forwarders are linked
//! into).
//!
//! The nested `cargo build --target wasm32-wasip2` gets its own target
//! directory under `OUT_DIR` (sharing the outer one would block on its lock)
//! and none of the outer build's rustflags, which are for the host.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let runtime_dir = manifest_dir.join("runtime");
    let wit_dir = manifest_dir.join("../wit");
    for path in [
        runtime_dir.join("arena"),
        runtime_dir.join("spans"),
        runtime_dir.join("base"),
        runtime_dir.join("Cargo.toml"),
        wit_dir,
    ] {
        rerun_if_changed(&path);
    }

    let target_dir = out_dir.join("runtime-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&runtime_dir)
        .args([
            "build",
            "--release",
            "--workspace",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            // Core modules, not components: the generator adds to them
            // before `wit-component` makes components of them. A small
            // stack: their frames are shallow.
            [
                "-Clink-arg=--skip-wit-component",
                "-Clink-arg=-zstack-size=65536",
            ]
            .join("\x1f"),
        );
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("failed to run cargo to build the span runtime");
    if !status.success() {
        panic!(
            "building the span runtime for wasm32-wasip2 failed; \
             is the target installed? (`rustup target add wasm32-wasip2`)"
        );
    }
    for module in ["nebula_span_runtime.wasm", "nebula_proxy_base.wasm"] {
        let built = target_dir.join("wasm32-wasip2/release").join(module);
        std::fs::copy(&built, out_dir.join(module))
            .unwrap_or_else(|e| panic!("missing {}: {e}", built.display()));
    }
}

fn rerun_if_changed(path: &Path) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rerun_if_changed(&entry.unwrap().path());
        }
    } else {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
