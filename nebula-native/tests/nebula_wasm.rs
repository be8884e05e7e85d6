//! `nebula.wasm` exercised through wasmtime both ways: as a library (the
//! exported `instrument`) and as a command (`wasi:cli/run` with preopened
//! directories); both must write exactly what the native CLI writes.

mod common;

use std::fs;
use std::path::Path;

use common::{SMALL_WIT, broken_component, component, run_in, sample, scratch};
use nebula_component::{ErrorKind, Options};
use nebula_native::nebula_wasm::{NEBULA_WASM, NEBULA_WASM_PATH, NebulaWasm};
use wasmtime::Store;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxView, WasiView};

/// The files `nebula instrument` writes for one input.
const OUTPUTS: [&str; 3] = ["instrumented.wasm", "proxy.wit", "report.txt"];

fn read_outputs(dir: &Path, stem: &str) -> [Vec<u8>; 3] {
    OUTPUTS.map(|ext| {
        fs::read(dir.join(format!("{stem}.{ext}")))
            .unwrap_or_else(|e| panic!("{}/{stem}.{ext}: {e}", dir.display()))
    })
}

#[test]
fn the_documented_path_holds_the_embedded_nebula_wasm() {
    let on_disk = fs::read(NEBULA_WASM_PATH).expect("target/nebula/nebula.wasm");
    assert!(on_disk == NEBULA_WASM);
    let wit = wit_component_exports(&on_disk);
    assert!(
        wit.contains(&"nebula:instrument/instrumenter@0.1.0".to_string()),
        "{wit:?}"
    );
    assert!(wit.contains(&"wasi:cli/run@0.2.0".to_string()), "{wit:?}");
}

/// The names of a component's exported interfaces.
fn wit_component_exports(bytes: &[u8]) -> Vec<String> {
    match wit_parser::decoding::decode(bytes).expect("nebula.wasm decodes") {
        wit_parser::decoding::DecodedWasm::Component(resolve, world) => resolve.worlds[world]
            .exports
            .keys()
            .map(|k| resolve.name_world_key(k))
            .collect(),
        _ => panic!("nebula.wasm is not a component"),
    }
}

#[test]
fn precompiled_code_loads() {
    let nebula = NebulaWasm::embedded().expect("nebula.wasm loads");
    assert!(
        nebula.precompiled(),
        "the code precompiled by build.rs was refused: the build script's \
         wasmtime features or engine config differ from the CLI's"
    );
}

#[test]
fn library_use_matches_the_native_library() {
    let nebula = NebulaWasm::embedded().unwrap();
    let options = Options {
        exclude: vec!["*#greet".parse().unwrap()],
        ..Options::default()
    };
    for input in [sample(), component(SMALL_WIT)] {
        let native = nebula_component::instrument(&input, &options).unwrap();
        let wasm = nebula.instrument(&input, &options).unwrap();
        assert!(wasm.component == native.component, "components differ");
        assert_eq!(wasm.report, native.report);
    }
    // Typed errors come back typed, with their whole chain of causes.
    let err = nebula
        .instrument(b"hello", &Options::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAComponent, "{err:?}");
    let native = nebula_component::instrument(b"hello", &Options::default()).unwrap_err();
    assert_eq!(err.to_string(), native.to_string());
    let broken = broken_component();
    let err = nebula.instrument(&broken, &Options::default()).unwrap_err();
    let native = nebula_component::instrument(&broken, &Options::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err:?}");
    assert_eq!(err.to_string(), "invalid component");
    assert_eq!(err.causes(), native.causes());
    assert!(!err.causes().is_empty(), "{err:?}");
}

/// Store data for running `nebula.wasm` as a command.
struct CommandState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for CommandState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs `nebula.wasm` as `wasmtime run --dir <dir>::. nebula.wasm <args>`
/// would; returns the exit code and standard output and error.
fn run_command(nebula: &NebulaWasm, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let stdout = MemoryOutputPipe::new(1 << 20);
    let stderr = MemoryOutputPipe::new(1 << 20);
    let mut argv = vec!["nebula.wasm"];
    argv.extend_from_slice(args);
    let wasi = WasiCtx::builder()
        .args(&argv)
        .preopened_dir(dir, ".", FsPerms::ReadWrite)
        .expect("preopen")
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .build();
    let state = CommandState {
        wasi,
        table: ResourceTable::new(),
    };
    let mut store = Store::new(nebula.engine(), state);
    let mut linker = Linker::new(nebula.engine());
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    let command = Command::instantiate(&mut store, nebula.component(), &linker).unwrap();
    let code = match command.wasi_cli_run().call_run(&mut store) {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => panic!("nebula.wasm trapped: {e:?}"),
        },
    };
    let text = |p: MemoryOutputPipe| String::from_utf8_lossy(&p.contents()).into_owned();
    (code, text(stdout), text(stderr))
}

#[test]
fn command_use_writes_what_the_native_cli_writes() {
    let dir = scratch("command_use");
    fs::create_dir_all(dir.join("in")).unwrap();
    fs::write(dir.join("in/sample.wasm"), sample()).unwrap();
    fs::write(dir.join("in/small.wasm"), component(SMALL_WIT)).unwrap();
    fs::write(dir.join("in/notes.txt"), "not wasm").unwrap();
    fs::write(dir.join("in/broken.wasm"), broken_component()).unwrap();
    let args = |out: &'static str| {
        vec![
            "instrument",
            "in/sample.wasm",
            "in/notes.txt",
            "in/broken.wasm",
            "in/small.wasm",
            "-o",
            out,
            "--exclude",
            "*#shout",
        ]
    };

    let native = run_in(&dir, &args("native"));
    assert_eq!(native.code, 1, "{native:#?}");

    let nebula = NebulaWasm::embedded().unwrap();
    let (code, stdout, stderr) = run_command(&nebula, &dir, &args("wasm"));
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    for stem in ["sample", "small"] {
        assert!(
            read_outputs(&dir.join("wasm"), stem) == read_outputs(&dir.join("native"), stem),
            "`{stem}`: nebula.wasm as a command wrote other bytes than the native CLI"
        );
    }
    // The same messages, each error with its whole chain of causes, the
    // same summary (times aside).
    assert_eq!(
        stderr.replace("wasm/", ""),
        native.stderr.replace("native/", "")
    );
    assert!(
        stderr.contains(
            "error: failed to instrument `in/broken.wasm`\n\nCaused by:\n    0: invalid component\n    1: "
        ),
        "{stderr}"
    );
    let summary = |s: &str| s.lines().last().unwrap_or_default().to_string();
    assert_eq!(summary(&stdout), summary(&native.stdout));
    assert_eq!(summary(&stdout), "instrumented 2 of 4 inputs (2 failed)");

    // Help, and a usage error, the clap way.
    let (code, stdout, _) = run_command(&nebula, &dir, &["instrument", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Examples:") && stdout.contains("Exit status:"));
    // WASI 0.2's `wasi:cli/exit` carries only ok or err: a usage error
    // exits 1 there, where the native CLI exits 2.
    let (code, _, stderr) = run_command(&nebula, &dir, &["instrument"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("Usage: nebula instrument <INPUTS>..."),
        "{stderr}"
    );
}
