//! The JavaScript package (`js/`): `nebula.wasm` through jco, the JS
//! `wasi:otel` host and the page, tested by node's test runner against
//! what the native side does with the same inputs.
//!
//! This test installs `js/node_modules` when missing (`npm ci`), runs
//! `js/build.mjs`, writes the native outputs the JS must match into a
//! scratch directory (`NEBULA_JS_NATIVE`: inputs, the native CLI's outputs,
//! reports and typed errors of the native library, as `manifest.json`),
//! then runs `node --test` on `js/test/*.test.mjs` and fails with its
//! output when it fails. The browser test needs Debian's Chromium
//! (`/usr/bin/chromium`); `NEBULA_SKIP_BROWSER=1` skips it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Instant, SystemTime};

use nebula_component::{
    Direction, Error, ErrorKind, Options, OtelFlavor, Pattern, Report, instrument,
};
use nebula_tests::compose::chain;
use nebula_tests::fixtures;
use serde_json::{Value, json};

/// The JS package's directory.
fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../js")
}

/// Runs `cmd` in `js/`, panicking with its output unless it succeeds.
fn run(what: &str, cmd: &mut Command) -> Output {
    let start = Instant::now();
    let out = cmd.current_dir(js_dir()).output().unwrap_or_else(|e| {
        panic!(
            "{what}: cannot start {:?}: {e} (is Node.js 20+ on PATH?)",
            cmd.get_program()
        )
    });
    eprintln!("{what}: {:.1} s", start.elapsed().as_secs_f64());
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `npm ci` when `node_modules` is missing or older than the lockfile.
fn ensure_node_modules() {
    let dir = js_dir();
    let installed = modified(&dir.join("node_modules/.package-lock.json"));
    let locked = modified(&dir.join("package-lock.json"));
    if installed.is_none() || installed < locked {
        run(
            "npm ci",
            Command::new("npm").args(["ci", "--no-audit", "--no-fund"]),
        );
    }
}

/// The JS form of a report (`index.d.ts`'s `Report`).
fn report_json(report: &Report) -> Value {
    let wrapped: Vec<Value> = report
        .wrapped
        .iter()
        .map(|f| {
            let mut v = json!({
                "spanName": f.span_name,
                "direction": match f.direction {
                    Direction::Export => "export",
                    Direction::Import => "import",
                },
                "function": f.function,
            });
            if let Some(interface) = &f.interface {
                v["interface"] = json!(interface);
            }
            v
        })
        .collect();
    json!({
        "proxyWit": report.proxy_wit,
        "wrapped": wrapped,
        "skipped": report.skipped,
        "components": report.components,
    })
}

/// The WIT case of an error's kind, its message and its causes.
fn error_json(error: &Error) -> Value {
    let kind = match error.kind() {
        ErrorKind::NotAComponent => "not-a-component",
        ErrorKind::Invalid => "invalid",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::BadOptions => "bad-options",
        ErrorKind::Internal => "internal",
    };
    json!({ "kind": kind, "message": error.to_string(), "causes": error.causes() })
}

/// What the native CLI prints under `Caused by:` for a failing `input`
/// (after its own `failed to instrument` line): the error's message, then
/// its causes.
fn native_cli_chain(input: &Path, out: &Path) -> Vec<String> {
    let run = Command::new(env!("CARGO_BIN_EXE_nebula"))
        .arg("instrument")
        .arg(input)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let stderr = String::from_utf8(run.stderr).unwrap();
    let (_, causes) = stderr
        .split_once("Caused by:\n")
        .unwrap_or_else(|| panic!("no causes in {stderr}"));
    causes
        .lines()
        .map_while(|line| {
            line.trim_start()
                .split_once(": ")
                .map(|(_, c)| c.to_string())
        })
        .collect()
}

/// Runs the native CLI: `nebula instrument <inputs> -o <out> <args>`.
fn native_cli(inputs: &Path, out: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_nebula"))
        .arg("instrument")
        .arg(inputs)
        .arg("-o")
        .arg(out)
        .args(["--force", "-q"])
        .args(args)
        .status()
        .expect("running the nebula CLI");
    assert!(
        status.success(),
        "nebula instrument {}: {status}",
        inputs.display()
    );
}

/// Writes the inputs and the native outputs into `dir`; returns the manifest.
fn write_native(dir: &Path) -> Value {
    let inputs = dir.join("inputs");
    fs::create_dir_all(&inputs).unwrap();
    let mut components: Vec<(String, Vec<u8>)> = fixtures::ALL
        .iter()
        .map(|(name, path)| (name.to_string(), fixtures::read(path)))
        .collect();
    components.push((
        "sample".into(),
        fs::read(nebula_native::nebula_wasm::SAMPLE_PATH).unwrap(),
    ));
    components.push((
        "imports".into(),
        fs::read(nebula_native::guests::IMPORTS).unwrap(),
    ));
    let parts = ["chain-front", "chain-middle", "chain-back"].map(|n| {
        components
            .iter()
            .find(|(name, _)| name == n)
            .unwrap()
            .1
            .clone()
    });
    components.push((
        "chain".into(),
        chain(&[&parts[0], &parts[1], &parts[2]]).unwrap(),
    ));

    // The native CLI's outputs, default options; `sample` also with an
    // exclude pattern.
    for (name, bytes) in &components {
        fs::write(inputs.join(format!("{name}.wasm")), bytes).unwrap();
    }
    native_cli(&inputs, &dir.join("cli"), &[]);
    native_cli(
        &inputs.join("sample.wasm"),
        &dir.join("cli-exclude"),
        &["--exclude", "*#greet"],
    );

    let mut cases = Vec::new();
    for (name, bytes) in &components {
        let out = instrument(bytes, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        cases.push(json!({
            "name": name,
            "input": format!("inputs/{name}.wasm"),
            "options": {},
            "output": format!("cli/{name}.instrumented.wasm"),
            "report": report_json(&out.report),
        }));
    }
    let exclude = Options {
        exclude: vec![Pattern::new("*#greet").unwrap()],
        ..Options::default()
    };
    let sample = &components.iter().find(|(n, _)| n == "sample").unwrap().1;
    let out = instrument(sample, &exclude).unwrap();
    cases.push(json!({
        "name": "sample --exclude '*#greet'",
        "input": "inputs/sample.wasm",
        "options": { "exclude": ["*#greet"] },
        "output": "cli-exclude/sample.instrumented.wasm",
        "report": report_json(&out.report),
    }));

    // Bad inputs and bad options, with the native library's typed errors.
    let bad = dir.join("bad");
    fs::create_dir_all(&bad).unwrap();
    let mut invalid = b"\0asm\x0d\0\x01\0".to_vec();
    invalid.extend_from_slice(&[0x7f; 8]);
    let bad_inputs: [(&str, Vec<u8>); 4] = [
        ("empty", Vec::new()),
        ("core module", b"\0asm\x01\0\0\0".to_vec()),
        ("text", b"hello, not wasm\n".to_vec()),
        ("broken component", invalid),
    ];
    let mut errors = Vec::new();
    for (i, (name, bytes)) in bad_inputs.iter().enumerate() {
        let file = format!("bad/{i}.bin");
        fs::write(dir.join(&file), bytes).unwrap();
        let err = instrument(bytes, &Options::default()).expect_err(name);
        let cli = native_cli_chain(&dir.join(&file), &dir.join("bad-out"));
        errors.push(json!({
            "name": name,
            "input": file,
            "options": {},
            "error": error_json(&err),
            "cli": cli,
        }));
    }
    let empty_pattern = Pattern::new("").expect_err("an empty pattern is refused");
    errors.push(json!({
        "name": "empty include pattern",
        "input": "inputs/sample.wasm",
        "options": { "include": [""] },
        "error": error_json(&empty_pattern.into()),
    }));
    let bad_version = Options {
        flavor: OtelFlavor::Current("x".into()),
        ..Options::default()
    };
    let err = instrument(sample, &bad_version).expect_err("a bad version is refused");
    errors.push(json!({
        "name": "flavor current=x",
        "input": "inputs/sample.wasm",
        "options": { "flavor": "current=x" },
        "error": error_json(&err),
    }));

    json!({ "instrument": cases, "errors": errors })
}

#[test]
fn the_js_package_matches_the_native_instrumenter() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let native = tmp.join("js-native");
    let artifacts = tmp.join("js-artifacts");
    let _ = fs::remove_dir_all(&native);
    fs::create_dir_all(&native).unwrap();
    fs::create_dir_all(&artifacts).unwrap();
    let manifest = write_native(&native);
    fs::write(
        native.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();

    ensure_node_modules();
    let nebula_dir = Path::new(nebula_native::nebula_wasm::NEBULA_WASM_PATH)
        .parent()
        .unwrap()
        .to_path_buf();
    run(
        "node build.mjs",
        Command::new("node")
            .arg("build.mjs")
            .env("NEBULA_ARTIFACTS", &nebula_dir),
    );

    let mut tests: Vec<PathBuf> = fs::read_dir(js_dir().join("test"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 4, "js/test/*.test.mjs: {tests:?}");
    let out = run(
        "node --test",
        Command::new("node")
            .arg("--test")
            .args(&tests)
            .env("NEBULA_JS_NATIVE", &native)
            .env("NEBULA_JS_ARTIFACTS", &artifacts),
    );
    // The runner's summary, for `cargo test -- --nocapture`.
    println!("{}", String::from_utf8_lossy(&out.stdout));
}
