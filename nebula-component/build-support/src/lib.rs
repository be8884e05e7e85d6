//! What the build scripts that build Nebula's wasm parts share
//! (`nebula-component/build.rs`: the span runtime and proxy base;
//! `nebula-native/build.rs`: `nebula.wasm`, the sample and the run guests;
//! `tests/build.rs`: the fixture components).
//!
//! - [`ensure_target`]: the `wasm32-wasip2` target is there, added with
//!   rustup when it is not (`rust-toolchain.toml` names it, but rustup adds
//!   targets only when it installs the toolchain itself);
//! - [`NestedBuild`]: `cargo build --release --target wasm32-wasip2` of a
//!   guest workspace, as wasmtime's `test-programs/artifacts/build.rs`
//!   does: in a target directory of its own (sharing the outer one would
//!   block on its lock) and with none of the outer build's flags (they are
//!   for the host);
//! - [`watch`]: `cargo:rerun-if-changed` for every file under a path that
//!   must exist (a missing path makes cargo rerun the script on every
//!   build);
//! - [`publish`]: writes a built file only when its bytes changed.
#![deny(missing_docs)]

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target Nebula's wasm parts are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Variables of the outer build that must not reach a nested one.
const SCRUBBED: &[&str] = &[
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

/// Prefixes of variables of the outer build that must not reach a nested
/// one.
const SCRUBBED_PREFIXES: &[&str] = &[
    "CARGO_TARGET_",
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_PROFILE_",
];

/// Makes sure the active toolchain has [`TARGET`]: when it lacks it and
/// rustup is there, adds it (once, whichever build script gets there
/// first), with a warning; without rustup, stops with the command to run.
pub fn ensure_target() {
    if target_installed() {
        return;
    }
    // Several build scripts may get here at once: one adds the target.
    let lock_path = env::temp_dir().join("nebula-rustup-target-add.lock");
    let lock = fs::File::create(&lock_path).ok();
    if let Some(lock) = &lock {
        let _ = lock.lock();
    }
    if target_installed() {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    println!(
        "cargo:warning=the toolchain lacks the `{TARGET}` target Nebula's wasm parts are \
         built for; adding it: rustup target add {TARGET}"
    );
    let added = rustup.status().is_ok_and(|s| s.success());
    if !added || !target_installed() {
        panic!(
            "\n\nNebula's wasm parts are built for `{TARGET}`, which this toolchain lacks{}.\n\
             Install it with:\n\n    rustup target add {TARGET}\n\n",
            if added {
                ""
            } else {
                " (and `rustup target add` did not work here)"
            }
        );
    }
}

/// Whether the active toolchain's standard library for [`TARGET`] is there.
fn target_installed() -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|dir| dir.is_dir())
}

/// A nested `cargo build --release --target wasm32-wasip2`.
pub struct NestedBuild {
    command: Command,
    what: String,
}

impl NestedBuild {
    /// Builds in `dir` (a guest workspace or package), into `target_dir`;
    /// `what` names it in messages.
    pub fn new(dir: &Path, target_dir: &Path, what: &str) -> Self {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .current_dir(dir)
            .args(["build", "--release", "--target", TARGET])
            .arg("--target-dir")
            .arg(target_dir);
        for (key, _) in env::vars_os() {
            let key = key.to_string_lossy();
            if SCRUBBED.contains(&key.as_ref())
                || SCRUBBED_PREFIXES.iter().any(|p| key.starts_with(p))
            {
                command.env_remove(key.as_ref());
            }
        }
        // As many jobs as cargo gave this build script.
        if let Ok(jobs) = env::var("NUM_JOBS") {
            command.args(["--jobs", &jobs]);
        }
        NestedBuild {
            command,
            what: what.to_string(),
        }
    }

    /// More `cargo build` arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.command.args(args.into_iter().map(Into::into));
        self
    }

    /// Rust flags for the guest code (none by default).
    pub fn rustflags(mut self, flags: &[&str]) -> Self {
        self.command
            .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
        self
    }

    /// An environment variable of the nested build.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    /// Runs the build (its output goes to the build script's stderr).
    pub fn run(mut self) {
        ensure_target();
        self.command.stdout(std::io::stderr());
        let what = &self.what;
        let status = self
            .command
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build {what}: {e}"));
        assert!(status.success(), "building {what} for {TARGET} failed");
    }
}

/// `cargo:rerun-if-changed` for `path` and, for a folder, every file under
/// it. `path` must exist: cargo reruns a script watching a missing path on
/// every build.
pub fn watch(path: &Path) {
    assert!(
        path.exists(),
        "the build script watches {}, which does not exist",
        path.display()
    );
    if path.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        entries.iter().for_each(|entry| watch(entry));
    } else {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// concurrent build never reads half a file; an unchanged file is left
/// alone (its time too, so nothing watching it reruns).
pub fn publish(path: &Path, bytes: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    let parent = path.parent().expect("a file path");
    fs::create_dir_all(parent).unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", tmp.display()));
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
