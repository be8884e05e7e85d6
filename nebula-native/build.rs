//! Builds the wasm parts of the `nebula` CLI, from this repository's source:
//!
//! - `nebula.wasm`: `nebula-component`'s `nebula-guest` binary for
//!   `wasm32-wasip2` (feature `guest`), which the CLI embeds precompiled for
//!   the host (`$OUT_DIR/nebula.cwasm`, made with the same wasmtime
//!   [`engine::config`] the CLI runs it with, so start-up compiles nothing);
//! - `sample.wasm`: the small component of `sample/`, the input of the
//!   README's first command;
//! - the guests of `guests/` (`spans.wasm`, `http.wasm`, `imports.wasm`),
//!   run by the `nebula run` / `nebula serve` tests and the run benchmark.
//!
//! They are copied to `<workspace>/target/nebula/` (`nebula.wasm`,
//! `sample.wasm`, `guests/*.wasm`), a stable path for people, tests and
//! benchmarks.
//!
//! As wasmtime's `test-programs/artifacts/build.rs` does, the nested
//! `cargo build` runs with none of the outer build's flags (they are for the
//! host). Its target directory is `target/nebula/build`, outside the outer
//! build's profile directories: the debug and release builds of the CLI (and
//! `cargo clippy`) then share one `nebula.wasm`, built once.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/engine.rs"]
mod engine;

/// The target the wasm parts are built for.
const TARGET: &str = "wasm32-wasip2";

/// The guest crates of `guests/` (each builds `<name>.wasm`).
const GUESTS: &[&str] = &["spans", "http", "imports"];

/// Variables of the outer build that must not reach the nested ones.
const SCRUBBED_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_LLVM_COV",
    "CARGO_LLVM_COV_TARGET_DIR",
    "LLVM_PROFILE_FILE",
    "RUSTC_LINKER",
];

/// Prefixes of variables of the outer build that must not reach the nested
/// ones.
const SCRUBBED_PREFIXES: &[&str] = &[
    "CARGO_TARGET_",
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_PROFILE_",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let component_dir = workspace.join("nebula-component");
    let sample_dir = manifest_dir.join("sample");
    let guests_dir = manifest_dir.join("guests");
    for path in [
        component_dir.join("src"),
        component_dir.join("build.rs"),
        component_dir.join("Cargo.toml"),
        component_dir.join("runtime/src"),
        component_dir.join("runtime/Cargo.toml"),
        workspace.join("wit"),
        workspace.join("Cargo.lock"),
        sample_dir.join("src"),
        sample_dir.join("wit"),
        sample_dir.join("Cargo.toml"),
        sample_dir.join("Cargo.lock"),
        guests_dir.join("Cargo.toml"),
        guests_dir.join("Cargo.lock"),
        guests_dir.join("wit"),
        guests_dir.join("spans/src"),
        guests_dir.join("spans/Cargo.toml"),
        guests_dir.join("http/src"),
        guests_dir.join("http/Cargo.toml"),
        guests_dir.join("imports/src"),
        guests_dir.join("imports/Cargo.toml"),
        manifest_dir.join("src/engine.rs"),
    ] {
        rerun_if_changed(&path);
    }

    let nebula_dir = workspace.join("target/nebula");
    let build_dir = nebula_dir.join("build");
    let release = build_dir.join(TARGET).join("release");

    cargo_build(
        &workspace,
        &build_dir,
        &[
            "-p",
            "nebula-component",
            "--bin",
            "nebula-guest",
            "--features",
            "guest",
        ],
        "nebula.wasm",
    );
    let nebula_wasm = fs::read(release.join("nebula-guest.wasm")).expect("the built nebula.wasm");
    publish(&nebula_dir.join("nebula.wasm"), &nebula_wasm);
    publish(&out_dir.join("nebula.wasm"), &nebula_wasm);

    let engine = wasmtime::Engine::new(&engine::config()).expect("the engine configuration");
    let precompiled = engine
        .precompile_component(&nebula_wasm)
        .expect("precompiling nebula.wasm for the host");
    publish(&out_dir.join("nebula.cwasm"), &precompiled);

    cargo_build(
        &sample_dir,
        &build_dir,
        &["--manifest-path", "Cargo.toml", "--locked"],
        "the sample component",
    );
    let sample = fs::read(release.join("nebula_sample.wasm")).expect("the built sample");
    publish(&nebula_dir.join("sample.wasm"), &sample);

    cargo_build(
        &guests_dir,
        &build_dir,
        &["--manifest-path", "Cargo.toml", "--locked", "--workspace"],
        "the guests of nebula-native/guests",
    );
    for guest in GUESTS {
        let built = fs::read(release.join(format!("{guest}.wasm"))).expect("a built guest");
        let path = nebula_dir.join("guests").join(format!("{guest}.wasm"));
        publish(&path, &built);
        println!(
            "cargo:rustc-env=NEBULA_GUEST_{}={}",
            guest.to_uppercase(),
            path.display()
        );
    }

    println!(
        "cargo:rustc-env=NEBULA_WASM_PATH={}",
        nebula_dir.join("nebula.wasm").display()
    );
    println!(
        "cargo:rustc-env=NEBULA_SAMPLE_PATH={}",
        nebula_dir.join("sample.wasm").display()
    );
}

/// Runs `cargo build --release --target wasm32-wasip2 <args>` in `dir`.
fn cargo_build(dir: &Path, target_dir: &Path, args: &[&str], what: &str) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(["build", "--release", "--target", TARGET])
        .args(args)
        .arg("--target-dir")
        .arg(target_dir);
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if SCRUBBED_ENV.contains(&key.as_ref())
            || SCRUBBED_PREFIXES.iter().any(|p| key.starts_with(p))
        {
            cmd.env_remove(key.as_ref());
        }
    }
    // Debug info would make `nebula.wasm` six times larger; the name section
    // stays for readable backtraces.
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {what}: {e}"));
    assert!(
        status.success(),
        "building {what} for {TARGET} failed; is the target installed? \
         (`rustup target add {TARGET}`)"
    );
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// concurrent build never reads half a file; an unchanged file is left
/// alone.
fn publish(path: &Path, bytes: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", tmp.display()));
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn rerun_if_changed(path: &Path) {
    if path.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            rerun_if_changed(&entry.unwrap().path());
        }
    } else {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
