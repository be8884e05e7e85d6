//! Helpers shared by the CLI tests and the benchmark: input components made
//! from WIT text, scratch directories, and the `nebula` binary.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

/// The sample component the build put in `target/nebula/sample.wasm`.
pub fn sample() -> Vec<u8> {
    std::fs::read(nebula_native::nebula_wasm::SAMPLE_PATH).expect("the built sample component")
}

/// A component of the world `source` (a WIT package with one world) whose
/// functions all trap: enough to instrument.
pub fn component(source: &str) -> Vec<u8> {
    let (mut module, resolve, world) = core_module(source);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        StringEncoding::UTF8,
        false,
    )
    .expect("metadata embeds");
    ComponentEncoder::default()
        .module(&module)
        .expect("module is accepted")
        .validate(true)
        .encode()
        .expect("component encodes")
}

/// The core module (no component metadata) of the world `source`.
pub fn core_module(source: &str) -> (Vec<u8>, Resolve, wit_parser::WorldId) {
    let mut resolve = Resolve::default();
    let pkg = resolve.push_str("gen.wit", source).expect("WIT parses");
    let world = resolve.select_world(&[pkg], None).expect("one world");
    let mangling = ManglingAndAbi::Legacy(LiftLowerAbi::Sync);
    let module = wit_component::dummy_module(&resolve, world, mangling);
    (module, resolve, world)
}

/// WIT of a world exporting `interfaces` interfaces of `functions` functions
/// each, with strings, lists, records and results in their signatures.
pub fn generated_wit(interfaces: usize, functions: usize) -> String {
    let mut wit = String::from("package bench:generated@0.1.0;\n\n");
    for i in 0..interfaces {
        let _ = writeln!(wit, "interface api{i} {{");
        let _ = writeln!(
            wit,
            "    record item {{ id: u64, name: string, tags: list<string> }}"
        );
        for f in 0..functions {
            let _ = match f % 3 {
                0 => writeln!(wit, "    get{f}: func(id: u64) -> result<item, string>;"),
                1 => writeln!(wit, "    put{f}: func(item: item, flag: bool) -> u32;"),
                _ => writeln!(
                    wit,
                    "    find{f}: func(query: string, limit: u32) -> list<item>;"
                ),
            };
        }
        wit.push_str("}\n\n");
    }
    wit.push_str("world generated {\n");
    for i in 0..interfaces {
        let _ = writeln!(wit, "    export api{i};");
    }
    wit.push_str("}\n");
    wit
}

/// A small two-interface component with a `result`.
pub const SMALL_WIT: &str = "package test:small@0.1.0;

interface math {
    add: func(a: u32, b: u32) -> u32;
    checked-div: func(a: u32, b: u32) -> result<u32, string>;
}

interface text {
    upper: func(s: string) -> string;
}

world small {
    export math;
    export text;
}
";

/// A fresh, empty scratch directory named after the test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("nebula-native")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// The `nebula` binary of this build.
pub fn nebula() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nebula"))
}

/// Runs `nebula` with `args` in `cwd`.
pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    let output = nebula()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("nebula runs");
    Run::from(output)
}

/// What one `nebula` run did.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().expect("an exit code, not a signal"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A component of about `megabytes` MB that is mostly code, as compiled
/// programs are: one exported `run: func(x: u32) -> u32` (in interface
/// `test:big/api`) calling a chain of internal functions whose bodies are
/// plain arithmetic. Validation has to read every instruction.
pub fn code_heavy(megabytes: usize) -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, Module,
        TypeSection, ValType,
    };
    /// Arithmetic steps per function: about 480 bytes of code each.
    const STEPS: i32 = 40;
    let functions = (megabytes * 1_000_000 / 480) as u32;
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    for f in 0..functions {
        funcs.function(0);
        let mut body = Function::new([]);
        for step in 0..STEPS {
            body.instruction(&Instruction::LocalGet(0));
            body.instruction(&Instruction::I32Const(step * 7919 + f as i32));
            body.instruction(&Instruction::I32Add);
            body.instruction(&Instruction::I32Const(3));
            body.instruction(&Instruction::I32Mul);
            body.instruction(&Instruction::LocalSet(0));
        }
        body.instruction(&Instruction::LocalGet(0));
        if f + 1 < functions {
            body.instruction(&Instruction::Call(f + 1));
        }
        body.instruction(&Instruction::End);
        code.function(&body);
    }
    let mut exports = ExportSection::new();
    exports.export("test:big/api#run", ExportKind::Func, 0);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&funcs)
        .section(&exports)
        .section(&code);
    let mut module = module.finish();

    let mut resolve = Resolve::default();
    let pkg = resolve
        .push_str(
            "big.wit",
            "package test:big;\n\
             interface api { run: func(x: u32) -> u32; }\n\
             world big { export api; }\n",
        )
        .expect("WIT parses");
    let world = resolve.select_world(&[pkg], None).expect("one world");
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        StringEncoding::UTF8,
        false,
    )
    .expect("metadata embeds");
    ComponentEncoder::default()
        .module(&module)
        .expect("module is accepted")
        .validate(true)
        .encode()
        .expect("component encodes")
}

/// The crate of the Rust package registry the instrument benchmark builds
/// as a real, large Rust command: ripgrep, `wasm32-wasip2`, release with
/// full debug info (about 20 MB, most of it custom sections).
pub const RUST_COMMAND: (&str, &str) = ("ripgrep", "14.1.1");

/// The Rust command of [`RUST_COMMAND`], built with `cargo install` on
/// first use into `target/nebula-tools/` and read from there after;
/// `None` (with the reason printed) when it cannot be built here.
pub fn rust_command() -> Option<Vec<u8>> {
    let (krate, version) = RUST_COMMAND;
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/nebula-tools");
    let root = tools.join(format!("{krate}-{version}-debug"));
    let wasm = root.join("bin/rg.wasm");
    if !wasm.is_file() {
        eprintln!("building {krate} {version} for wasm32-wasip2 with debug info (once) ...");
        let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
        cargo
            // Not `--locked`: ripgrep 14.1.1's lock file pins lexopt 0.3.0,
            // which does not build for wasm32-wasip2.
            .args(["install", krate, "--version", version, "--force"])
            .args(["--target", "wasm32-wasip2", "--root"])
            .arg(&root)
            .arg("--target-dir")
            .arg(tools.join("rust-command-build"))
            .args(["--config", "profile.release.debug=2"])
            .args(["--config", "profile.release.strip=false"]);
        // The bench's own build flags are for the host.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_") && name != "CARGO_HOME" || name.contains("RUSTFLAGS") {
                cargo.env_remove(&*name);
            }
        }
        match cargo.status() {
            Ok(status) if status.success() => {}
            other => {
                eprintln!("cannot build {krate} for wasm32-wasip2 ({other:?}); skipping it");
                return None;
            }
        }
    }
    fs::read(&wasm).ok()
}

/// A component header followed by bytes that are no section: `invalid
/// component`, with the reader's message as its cause.
pub fn broken_component() -> Vec<u8> {
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.extend_from_slice(&[0x7f; 8]);
    bytes
}
