//! Builds the span runtime (`runtime/`, a `no_std` Rust crate) as a core
//! wasm module that every generated proxy links in.
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
        runtime_dir.join("src"),
        runtime_dir.join("Cargo.toml"),
        wit_dir,
    ] {
        rerun_if_changed(&path);
    }

    let target_dir = out_dir.join("runtime-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&runtime_dir)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            // A core module, not a component: the proxy generator links it
            // into each proxy's module. A small stack: the runtime's frames
            // are shallow.
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
    let built = target_dir.join("wasm32-wasip2/release/nebula_span_runtime.wasm");
    std::fs::copy(&built, out_dir.join("nebula_span_runtime.wasm"))
        .unwrap_or_else(|e| panic!("missing {}: {e}", built.display()));
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
