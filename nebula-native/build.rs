//! Builds the wasm parts of the `nebula` CLI, from this repository's source:
//!
//! - `nebula.wasm`: the `nebula-guest` crate (`nebula-component/guest`) built for
//!   `wasm32-wasip2`, which the CLI embeds precompiled for
//!   the host (`$OUT_DIR/nebula.cwasm`, made with the same wasmtime
//!   [`engine::config`] the CLI runs it with, so start-up compiles nothing);
//! - `sample.wasm`: the small component of `sample/`, the input of the
//!   README's first command;
//! - the guests of `guests/` (`spans.wasm`, `http.wasm`, `imports.wasm`,
//!   `faults.wasm`),
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

use nebula_build_support::{NestedBuild, TARGET, publish, watch};

#[path = "src/engine.rs"]
mod engine;

/// The guest crates of `guests/` (each builds `<name>.wasm`).
const GUESTS: &[&str] = &["spans", "http", "imports", "faults"];

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
        component_dir.join("cli/src"),
        component_dir.join("cli/Cargo.toml"),
        component_dir.join("guest/src"),
        component_dir.join("guest/Cargo.toml"),
        component_dir.join("runtime"),
        component_dir.join("build-support"),
        workspace.join("wit"),
        workspace.join("Cargo.lock"),
        sample_dir.join("src"),
        sample_dir.join("wit"),
        sample_dir.join("Cargo.toml"),
        sample_dir.join("Cargo.lock"),
        guests_dir.join("Cargo.toml"),
        guests_dir.join("Cargo.lock"),
        guests_dir.join("wit"),
        // The hand-made-span helper the `spans` guest shares with the
        // test fixtures.
        workspace.join("tests/fixtures/support/hand-spans"),
        manifest_dir.join("src/engine.rs"),
    ] {
        watch(&path);
    }
    for guest in GUESTS {
        watch(&guests_dir.join(guest).join("src"));
        watch(&guests_dir.join(guest).join("Cargo.toml"));
    }

    let nebula_dir = workspace.join("target/nebula");
    let build_dir = nebula_dir.join("build");
    let release = build_dir.join(TARGET).join("release");

    nested(&workspace, &build_dir, "nebula.wasm")
        .args(["-p", "nebula-guest"])
        .run();
    let nebula_wasm = fs::read(release.join("nebula-guest.wasm")).expect("the built nebula.wasm");
    publish(&nebula_dir.join("nebula.wasm"), &nebula_wasm);
    publish(&out_dir.join("nebula.wasm"), &nebula_wasm);

    let engine = wasmtime::Engine::new(&engine::config()).expect("the engine configuration");
    let precompiled = engine
        .precompile_component(&nebula_wasm)
        .expect("precompiling nebula.wasm for the host");
    publish(&out_dir.join("nebula.cwasm"), &precompiled);

    nested(&sample_dir, &build_dir, "the sample component")
        .args(["--manifest-path", "Cargo.toml", "--locked"])
        .run();
    let sample = fs::read(release.join("nebula_sample.wasm")).expect("the built sample");
    publish(&nebula_dir.join("sample.wasm"), &sample);

    nested(
        &guests_dir,
        &build_dir,
        "the guests of nebula-native/guests",
    )
    .args(["--manifest-path", "Cargo.toml", "--locked", "--workspace"])
    .run();
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

/// A nested release build for [`TARGET`] in `dir`, into `target_dir`.
fn nested(dir: &Path, target_dir: &Path, what: &str) -> NestedBuild {
    // Debug info would make `nebula.wasm` six times larger; the name
    // section stays for readable backtraces.
    NestedBuild::new(dir, target_dir, what)
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
}
