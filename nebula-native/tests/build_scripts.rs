//! `cargo build` twice in a row with no change runs no build script the
//! second time (a build script watching a path that does not exist, or
//! rewriting a file another one watches, would rerun on every build and
//! re-precompile `nebula.wasm`).

use std::process::Command;

#[test]
fn a_second_build_runs_no_build_script() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = || {
        let out = Command::new(&cargo)
            .args(["build", "--workspace", "--offline", "-v"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs");
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "cargo build failed:\n{log}");
        log
    };
    // The first build may have work left (`cargo test` builds test units).
    build();
    let second = build();
    let reruns: Vec<&str> = second
        .lines()
        .filter(|line| {
            line.contains("build-script-build") && line.trim_start().starts_with("Running")
        })
        .collect();
    assert!(
        reruns.is_empty(),
        "the second `cargo build` ran build scripts again:\n{}\n\nfull log:\n{second}",
        reruns.join("\n")
    );
}
