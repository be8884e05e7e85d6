//! Components built by other toolchains than Rust's, from the sources in
//! `tests/fixtures/toolchains/`: a Python component (componentize-py, about
//! 18 MB: CPython inside) and a JavaScript one (componentize-js, about
//! 12 MB: StarlingMonkey inside).
//!
//! The toolchains come from their registries on first use (PyPI and npm,
//! pinned versions) into `target/nebula-tools/`, as the Rust fixtures'
//! toolchain comes from rustup; the built components are kept there too and
//! rebuilt when their sources change.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

/// The componentize-py release the Python fixture is built with.
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
/// The componentize-js release the JavaScript fixture is built with.
const COMPONENTIZE_JS: &str = "@bytecodealliance/componentize-js@0.23.0";

/// One build at a time: tests run in parallel threads.
static BUILDING: Mutex<()> = Mutex::new(());

/// The Python fixture component (`tests/fixtures/toolchains/python/`): a
/// `nebula:fixtures/backend` that the Rust `chain-front` can be plugged
/// into.
pub fn python_component() -> Result<Vec<u8>> {
    let _guard = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let source = sources().join("python");
    let fixtures_wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/wit/chain.wit");
    let repo_wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/deps");
    let work = tools_dir().join("python");
    let inputs = [source.clone(), fixtures_wit.clone(), repo_wit.clone()];
    cached(&inputs, &work.join("app.wasm"), |out| {
        let site = work.join("site");
        if !site.join("componentize_py").is_dir() {
            run(
                Command::new(python())
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .arg("--target")
                    .arg(&site)
                    .arg(COMPONENTIZE_PY),
                "installing componentize-py from PyPI (needs python3 with pip)",
            )?;
        }
        // The sources with their WIT dependencies, in a directory of
        // their own (componentize-py leaves `__pycache__` behind).
        let build = work.join("src");
        let _ = std::fs::remove_dir_all(&build);
        copy_tree(&source, &build)?;
        let deps = build.join("wit/deps");
        copy_tree(&repo_wit.join("otel"), &deps.join("otel"))?;
        copy_tree(&repo_wit.join("clocks"), &deps.join("clocks"))?;
        std::fs::create_dir_all(deps.join("fixtures"))?;
        std::fs::copy(&fixtures_wit, deps.join("fixtures/chain.wit"))?;
        run(
            Command::new(python())
                .env("PYTHONPATH", &site)
                .current_dir(&build)
                .args([
                    "-c",
                    "import sys; from componentize_py import script; sys.exit(script())",
                ])
                .args(["-d", "wit", "-w", "app", "componentize", "app", "-o"])
                .arg(out),
            "building the Python fixture with componentize-py",
        )
    })
}

/// The JavaScript fixture component (`tests/fixtures/toolchains/javascript/`).
pub fn javascript_component() -> Result<Vec<u8>> {
    let _guard = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let source = sources().join("javascript");
    let work = tools_dir().join("javascript");
    cached(
        std::slice::from_ref(&source),
        &work.join("app.wasm"),
        |out| {
            let package = work.join("node_modules/@bytecodealliance/componentize-js");
            if !package.is_dir() {
                std::fs::create_dir_all(&work)?;
                run(
                    Command::new("npm")
                        .args([
                            "install",
                            "--no-audit",
                            "--no-fund",
                            "--no-save",
                            "--prefix",
                        ])
                        .arg(&work)
                        .arg(COMPONENTIZE_JS),
                    "installing componentize-js from npm (needs node and npm)",
                )?;
            }
            // Node resolves the package from the script's own directory.
            let script = work.join("build.mjs");
            std::fs::copy(source.join("build.mjs"), &script)?;
            run(
                Command::new("node").arg(&script).arg(&source).arg(out),
                "building the JavaScript fixture with componentize-js",
            )
        },
    )
}

/// `out`, built by `build` unless it is there already for these `inputs`
/// (files or directories).
fn cached(
    inputs: &[PathBuf],
    out: &Path,
    build: impl FnOnce(&Path) -> Result<()>,
) -> Result<Vec<u8>> {
    let stamp = out.with_extension("stamp");
    let mut hasher = DefaultHasher::new();
    for input in inputs {
        hash_tree(input, &mut hasher)?;
    }
    let hash = format!("{:016x}", hasher.finish());
    if out.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(hash.as_str()) {
        return Ok(std::fs::read(out)?);
    }
    std::fs::create_dir_all(out.parent().unwrap())?;
    build(out)?;
    std::fs::write(&stamp, &hash)?;
    std::fs::read(out).with_context(|| format!("reading {}", out.display()))
}

/// Hashes every file under `root` (a file or a directory): names and
/// contents.
fn hash_tree(root: &Path, hasher: &mut DefaultHasher) -> Result<()> {
    for file in files(root)? {
        file.strip_prefix(root).unwrap_or(&file).hash(hasher);
        std::fs::read(&file)?.hash(hasher);
    }
    Ok(())
}

/// Every file under `root` (itself, if a file), sorted.
fn files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        } else {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Copies the files under `from` to `to`.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for file in files(from)? {
        let dest = to.join(file.strip_prefix(from)?);
        std::fs::create_dir_all(dest.parent().unwrap())?;
        std::fs::copy(&file, &dest)?;
    }
    Ok(())
}

/// Runs `command`; its output becomes the error when it fails.
fn run(command: &mut Command, what: &str) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("{what}: could not start {:?}", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/toolchains")
}

fn tools_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("nebula-tools")
}
