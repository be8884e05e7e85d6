//! Prints how long instrumenting takes next to how long validating the same
//! input takes, for components from ~10 KB to over 10 MB, and how long the
//! CLI takes to start. Figures, not a pass/fail test:
//!
//! ```sh
//! cargo bench -p nebula-native --bench instrument
//! NEBULA_BENCH=1,000 cargo bench -p nebula-native --bench instrument  # some inputs
//! NEBULA_BENCH_NATIVE=1 cargo bench -p nebula-native --bench instrument  # in-process only
//! ```
//!
//! For each input: `wasmparser` validation on one thread, and on every
//! core as `wasm-tools validate` does it (function bodies in parallel;
//! the `∥val` column), `nebula_component::instrument` in-process (native),
//! the same through `nebula.wasm` in wasmtime (what the CLI runs), and the
//! whole `nebula instrument` process; each as the median of several runs,
//! with its ratio to validation (the CLI's also to the parallel one, and
//! to the `wasm-tools validate` process when `wasm-tools` is installed).
//! Goals: instrument ≤ 3× validate, start-up (`nebula --version`) ≤ 50 ms.
//! The last input is a real Rust command from the package registry
//! (ripgrep, release, full debug info: about 20 MB), built once into
//! `target/nebula-tools/`. The engine runs
//! `nebula.wasm` with `concurrency_support(false)` (see `src/engine.rs`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use nebula_cli::output::human_size;
use nebula_component::Options;
use nebula_native::nebula_wasm::{NEBULA_WASM, NebulaWasm};

/// Runs `f` until about `budget` is spent (3 to 15 times); the median.
fn median(budget: Duration, mut f: impl FnMut()) -> Duration {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (times.len() < 15 && start.elapsed() < budget) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.1}×", a.as_secs_f64() / b.as_secs_f64())
}

fn main() {
    let budget = Duration::from_secs(3);
    let scratch = common::scratch("bench");
    let nebula = NebulaWasm::embedded().expect("nebula.wasm loads");
    let options = Options::default();

    let mut inputs: Vec<(String, Vec<u8>)> = vec![
        ("sample (Rust, wit-bindgen)".into(), common::sample()),
        (
            "generated 10 functions".into(),
            common::component(&common::generated_wit(1, 10)),
        ),
        (
            "generated 1,000 functions".into(),
            common::component(&common::generated_wit(10, 100)),
        ),
        (
            "generated 2,000 functions".into(),
            common::component(&common::generated_wit(20, 100)),
        ),
    ];
    inputs.push(("nebula.wasm (Rust command)".into(), NEBULA_WASM.to_vec()));
    inputs.push(("code-heavy 12 MB".into(), common::code_heavy(12)));
    inputs.push(("code-heavy 24 MB".into(), common::code_heavy(24)));
    let (krate, version) = common::RUST_COMMAND;
    let wanted =
        |name: &str| std::env::var("NEBULA_BENCH").map_or(true, |filter| name.contains(&filter));
    let command_name = format!("{krate} {version} +debug info");
    if wanted(&command_name)
        && let Some(bytes) = common::rust_command()
    {
        inputs.push((command_name, bytes));
    }

    // `NEBULA_BENCH_NATIVE=1`: only validation and in-process instrumenting
    // (for profiling the instrumenter with `perf`).
    let native_only = std::env::var_os("NEBULA_BENCH_NATIVE").is_some();
    // `NEBULA_BENCH=<text>`: only the inputs whose name contains it.
    if let Ok(filter) = std::env::var("NEBULA_BENCH") {
        inputs.retain(|(name, _)| name.contains(&filter));
    }
    // `wasm-tools validate` as a process (reading the file included), the
    // yardstick of the CLI's goal, when it is installed.
    let wasm_tools = Command::new("wasm-tools")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    println!(
        "nebula instrument: {} inputs, median of 3-15 runs each",
        inputs.len()
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>10} {:>6} {:>11} {:>6} {:>10} {:>6} {:>6} {:>10} {:>6} {:>8}",
        "input",
        "size",
        "validate",
        "∥validate",
        "native",
        "×val",
        "nebula.wasm",
        "×val",
        "CLI",
        "×val",
        "×∥val",
        "wasm-tools",
        "×wt",
        "wrapped"
    );
    for (i, (name, bytes)) in inputs.iter().enumerate() {
        let validate = median(budget, || {
            wasmparser::Validator::new()
                .validate_all(bytes)
                .expect("input validates");
        });
        let parallel = median(budget, || validate_in_parallel(bytes));
        let mut wrapped = 0;
        let native = median(budget, || {
            wrapped = nebula_component::instrument(bytes, &options)
                .expect("instruments")
                .report
                .wrapped
                .len();
        });
        if native_only {
            println!(
                "{:<28} {:>10} {:>10} {:>10} {:>6}",
                name,
                human_size(bytes.len()),
                ms(validate),
                ms(native),
                ratio(native, validate),
            );
            continue;
        }
        let wasm = median(budget, || {
            nebula.instrument(bytes, &options).expect("instruments");
        });
        let input = scratch.join(format!("input{i}.wasm"));
        fs::write(&input, bytes).unwrap();
        let cli = median(budget, || {
            let status = common::nebula()
                .args(["instrument", "-q", "--force", "-o"])
                .arg(scratch.join("out"))
                .arg(&input)
                .status()
                .expect("nebula runs");
            assert!(status.success());
        });
        let wasm_tools_validate = wasm_tools.then(|| {
            median(budget, || {
                let status = Command::new("wasm-tools")
                    .arg("validate")
                    .arg(&input)
                    .status()
                    .expect("wasm-tools runs");
                assert!(status.success());
            })
        });
        let (wt, cli_wt) =
            wasm_tools_validate.map_or(("–".into(), "–".into()), |wt| (ms(wt), ratio(cli, wt)));
        println!(
            "{:<28} {:>10} {:>10} {:>10} {:>10} {:>6} {:>11} {:>6} {:>10} {:>6} {:>6} {:>10} {:>6} {:>8}",
            name,
            human_size(bytes.len()),
            ms(validate),
            ms(parallel),
            ms(native),
            ratio(native, validate),
            ms(wasm),
            ratio(wasm, validate),
            ms(cli),
            ratio(cli, validate),
            ratio(cli, parallel),
            wt,
            cli_wt,
            wrapped,
        );
    }

    let startup = median(budget, || {
        let out = Command::new(env!("CARGO_BIN_EXE_nebula"))
            .arg("--version")
            .output()
            .expect("nebula runs");
        assert!(out.status.success());
    });
    let load = median(budget, || {
        NebulaWasm::embedded().expect("nebula.wasm loads");
    });
    println!("start-up: `nebula --version` {}", ms(startup));
    println!(
        "loading the precompiled nebula.wasm (deserialize + link): {}",
        ms(load)
    );
}

/// Validates `bytes` as `wasm-tools validate` does (function bodies on
/// every core).
fn validate_in_parallel(bytes: &[u8]) {
    nebula_native::validate::in_parallel(bytes).expect("input validates");
}
