//! `nebula instrument` end to end: the real binary over real files.

mod common;

use std::fs;
use std::path::Path;

use common::{Run, SMALL_WIT, component, core_module, run_in, sample, scratch};
use nebula_component::Options;

/// Lays out `dir/in/` with the sample and the small component.
fn inputs(dir: &Path) {
    fs::create_dir_all(dir.join("in")).unwrap();
    fs::write(dir.join("in/sample.wasm"), sample()).unwrap();
    fs::write(dir.join("in/small.wasm"), component(SMALL_WIT)).unwrap();
}

/// Asserts that `out/<stem>.*` are the library's output for `input`, byte
/// for byte, and returns the report.
fn assert_outputs(out: &Path, stem: &str, input: &[u8], options: &Options) -> String {
    let expected = nebula_component::instrument(input, options).expect("library instruments");
    let component = fs::read(out.join(format!("{stem}.instrumented.wasm"))).unwrap();
    assert!(
        component == expected.component,
        "`{stem}.instrumented.wasm` differs from the in-process library's output"
    );
    wasmparser::Validator::new()
        .validate_all(&component)
        .expect("the output validates");
    let wit = fs::read_to_string(out.join(format!("{stem}.proxy.wit"))).unwrap();
    assert_eq!(wit, expected.report.proxy_wit);
    let report = fs::read_to_string(out.join(format!("{stem}.report.txt"))).unwrap();
    for f in &expected.report.wrapped {
        assert!(
            report.contains(&f.span_name),
            "report lacks {}",
            f.span_name
        );
    }
    report
}

fn assert_code(run: &Run, code: i32) {
    assert_eq!(run.code, code, "unexpected exit code: {run:#?}");
}

#[test]
fn single_file() {
    let dir = scratch("single_file");
    inputs(&dir);
    let run = run_in(&dir, &["instrument", "in/sample.wasm", "-o", "out"]);
    assert_code(&run, 0);
    let report = assert_outputs(&dir.join("out"), "sample", &sample(), &Options::default());
    for name in [
        "export  nebula:sample/calculator#add",
        "export  nebula:sample/calculator#divide",
        "export  nebula:sample/greeter#shout",
        "export  version",
    ] {
        assert!(report.contains(name), "report lacks `{name}`:\n{report}");
    }
    assert!(report.contains("wrapped (6):"), "{report}");
    // The small components `wit-component` nests to type exports are not
    // inner components.
    assert!(!report.contains("inner components"), "{report}");
    // One summary line: functions wrapped, sizes, time, output path.
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{run:#?}");
    assert!(lines[0].starts_with("in/sample.wasm: 6 functions wrapped, "));
    assert!(lines[0].contains(" → ") && lines[0].contains(" ms"));
    assert!(lines[0].ends_with("out/sample.instrumented.wasm"));
    assert!(run.stderr.is_empty(), "{run:#?}");
}

#[test]
fn default_output_dir_is_tmp() {
    let dir = scratch("default_output_dir_is_tmp");
    inputs(&dir);
    let run = run_in(&dir, &["instrument", "in/small.wasm"]);
    assert_code(&run, 0);
    assert_outputs(
        &dir.join("tmp"),
        "small",
        &component(SMALL_WIT),
        &Options::default(),
    );
}

#[test]
fn several_files() {
    let dir = scratch("several_files");
    inputs(&dir);
    let run = run_in(
        &dir,
        &["instrument", "in/sample.wasm", "in/small.wasm", "-o", "out"],
    );
    assert_code(&run, 0);
    assert_outputs(&dir.join("out"), "sample", &sample(), &Options::default());
    assert_outputs(
        &dir.join("out"),
        "small",
        &component(SMALL_WIT),
        &Options::default(),
    );
    assert!(
        run.stdout.contains("instrumented 2 of 2 inputs"),
        "{run:#?}"
    );
}

#[test]
fn directory_skips_non_components_with_a_note() {
    let dir = scratch("directory");
    inputs(&dir);
    fs::write(dir.join("in/notes.txt"), "not wasm").unwrap();
    fs::write(dir.join("in/core.wasm"), core_module(SMALL_WIT).0).unwrap();
    let run = run_in(&dir, &["instrument", "in", "-o", "out"]);
    assert_code(&run, 0);
    assert_outputs(&dir.join("out"), "sample", &sample(), &Options::default());
    assert_outputs(
        &dir.join("out"),
        "small",
        &component(SMALL_WIT),
        &Options::default(),
    );
    assert!(!dir.join("out/core.instrumented.wasm").exists());
    assert!(
        run.stderr
            .contains("note: skipping `in/notes.txt`: not a WebAssembly component")
    );
    assert!(run.stderr.contains("note: skipping `in/core.wasm`"));
    // Instrumenting into the input directory, then again: earlier outputs
    // are not taken for inputs.
    let run = run_in(&dir, &["instrument", "in", "-o", "in"]);
    assert_code(&run, 0);
    let run = run_in(&dir, &["instrument", "in", "-o", "in", "--force"]);
    assert_code(&run, 0);
    assert!(
        run.stderr.contains("an output of `nebula instrument`"),
        "{run:#?}"
    );
}

#[test]
fn empty_directory_is_an_error() {
    let dir = scratch("empty_directory");
    fs::create_dir_all(dir.join("empty")).unwrap();
    let run = run_in(&dir, &["instrument", "empty", "-o", "out"]);
    assert_code(&run, 1);
    assert!(
        run.stderr
            .contains("error: no WebAssembly component in the directory `empty`")
    );
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = scratch("overwrite");
    inputs(&dir);
    let args = ["instrument", "in/sample.wasm", "in/small.wasm", "-o", "out"];
    assert_code(&run_in(&dir, &args), 0);
    // An existing output of one input: that input fails, the other is
    // still written.
    for ext in ["instrumented.wasm", "proxy.wit", "report.txt"] {
        fs::remove_file(dir.join(format!("out/small.{ext}"))).unwrap();
    }
    fs::write(dir.join("out/sample.report.txt"), "keep me").unwrap();
    let run = run_in(&dir, &args);
    assert_code(&run, 1);
    assert!(
        run.stderr
            .contains("error: failed to instrument `in/sample.wasm`")
            && run
                .stderr
                .contains("`out/sample.instrumented.wasm` already exists; pass `--force`"),
        "{run:#?}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("out/sample.report.txt")).unwrap(),
        "keep me"
    );
    assert!(dir.join("out/small.instrumented.wasm").exists());
    assert!(run.stdout.contains("instrumented 1 of 2 inputs (1 failed)"));

    let mut forced = args.to_vec();
    forced.push("--force");
    assert_code(&run_in(&dir, &forced), 0);
    assert_outputs(&dir.join("out"), "sample", &sample(), &Options::default());
}

#[test]
fn include_and_exclude() {
    let dir = scratch("filters");
    inputs(&dir);
    let run = run_in(
        &dir,
        &[
            "instrument",
            "in/sample.wasm",
            "-o",
            "out",
            "--include",
            "nebula:sample/calculator#*",
            "--include",
            "version",
            "--exclude",
            "*#divide",
        ],
    );
    assert_code(&run, 0);
    let options = Options {
        include: vec![
            "nebula:sample/calculator#*".parse().unwrap(),
            "version".parse().unwrap(),
        ],
        exclude: vec!["*#divide".parse().unwrap()],
        ..Options::default()
    };
    let report = assert_outputs(&dir.join("out"), "sample", &sample(), &options);
    assert!(report.contains("wrapped (3):"), "{report}");
    assert!(report.contains("nebula:sample/calculator#add"));
    assert!(report.contains("nebula:sample/calculator#sum"));
    assert!(!report.contains("calculator#divide\n") && !report.contains("greeter#greet\n"));
    assert!(report.contains("include: nebula:sample/calculator#* version"));
    assert!(report.contains("exclude: *#divide"));
}

#[test]
fn bad_inputs_fail_alone() {
    let dir = scratch("bad_inputs");
    inputs(&dir);
    fs::write(dir.join("in/notes.txt"), "not wasm").unwrap();
    fs::write(dir.join("in/core.wasm"), core_module(SMALL_WIT).0).unwrap();
    let run = run_in(
        &dir,
        &[
            "instrument",
            "in/notes.txt",
            "in/sample.wasm",
            "in/missing.wasm",
            "in/core.wasm",
            "in/small.wasm",
            "-o",
            "out",
        ],
    );
    assert_code(&run, 1);
    assert_outputs(&dir.join("out"), "sample", &sample(), &Options::default());
    assert_outputs(
        &dir.join("out"),
        "small",
        &component(SMALL_WIT),
        &Options::default(),
    );
    for stem in ["notes.txt", "core", "missing"] {
        assert!(!dir.join(format!("out/{stem}.instrumented.wasm")).exists());
    }
    let err = &run.stderr;
    assert!(
        err.contains("error: cannot read `in/missing.wasm`; check the path"),
        "{err}"
    );
    assert!(err.contains("error: failed to instrument `in/notes.txt`\n\nCaused by:\n    0: "));
    assert!(err.contains("error: failed to instrument `in/core.wasm`\n\nCaused by:\n    0: "));
    assert!(
        err.contains("core WebAssembly module, not a component"),
        "{err}"
    );
    assert!(
        run.stdout.contains("instrumented 2 of 5 inputs (3 failed)"),
        "{run:#?}"
    );
}

#[test]
fn same_file_name_twice_is_refused() {
    let dir = scratch("same_stem");
    inputs(&dir);
    fs::create_dir_all(dir.join("other")).unwrap();
    fs::write(dir.join("other/sample.wasm"), component(SMALL_WIT)).unwrap();
    let run = run_in(
        &dir,
        &[
            "instrument",
            "in/sample.wasm",
            "other/sample.wasm",
            "-o",
            "out",
        ],
    );
    assert_code(&run, 1);
    assert!(
        run.stderr
            .contains("`other/sample.wasm` would overwrite the outputs of `in/sample.wasm`"),
        "{run:#?}"
    );
    assert_outputs(&dir.join("out"), "sample", &sample(), &Options::default());
}

#[test]
fn usage_errors_exit_2() {
    let dir = scratch("usage");
    inputs(&dir);
    for args in [
        &["instrument"][..],
        &["instrument", "in/sample.wasm", "--flavor", "sideways"],
        &["instrument", "in/sample.wasm", "--flavor", "current=1"],
        &["instrument", "in/sample.wasm", "--include", ""],
        &["instrument", "in/sample.wasm", "--bogus"],
        &["instrument", "in/sample.wasm", "-q", "-v"],
        &["frobnicate"],
        &[],
    ] {
        let run = run_in(&dir, args);
        assert_code(&run, 2);
        // No subcommand at all: clap shows the help instead of an error.
        let expected = if args.is_empty() { "Usage:" } else { "error:" };
        assert!(run.stderr.contains(expected), "{args:?}: {run:#?}");
    }
    assert!(!dir.join("tmp").exists(), "a usage error wrote nothing");
}

/// `--flavor` reaches the instrumenter: the outputs are the library's with
/// that flavor, and the report names it.
#[test]
fn flavors_are_passed_to_the_instrumenter() {
    use nebula_component::OtelFlavor;
    for (arg, flavor, reported) in [
        (
            "current=0.2.0-rc.3",
            OtelFlavor::Current("0.2.0-rc.3".into()),
            "current (wasi:otel/tracing@0.2.0-rc.3, current-span-context)",
        ),
        (
            "outer",
            OtelFlavor::Outer,
            "outer (wasi:otel/tracing@0.2.0-rc.2, outer-span-context)",
        ),
    ] {
        let dir = scratch(&format!("flavor-{}", arg.replace(['=', '.'], "-")));
        inputs(&dir);
        let run = run_in(
            &dir,
            &["instrument", "in/small.wasm", "-o", "out", "--flavor", arg],
        );
        assert_code(&run, 0);
        let options = Options {
            flavor,
            ..Options::default()
        };
        assert_outputs(&dir.join("out"), "small", &component(SMALL_WIT), &options);
        let report = std::fs::read_to_string(dir.join("out/small.report.txt")).unwrap();
        assert!(report.contains(reported), "{arg}: {report}");
    }
}

#[test]
fn quiet_and_verbose() {
    let dir = scratch("verbosity");
    inputs(&dir);
    let run = run_in(&dir, &["instrument", "in/small.wasm", "-o", "out", "-q"]);
    assert_code(&run, 0);
    assert!(run.stdout.is_empty() && run.stderr.is_empty(), "{run:#?}");
    let run = run_in(
        &dir,
        &["instrument", "in/small.wasm", "-o", "out", "-v", "--force"],
    );
    assert_code(&run, 0);
    let report = fs::read_to_string(dir.join("out/small.report.txt")).unwrap();
    assert!(
        run.stdout.contains(&report),
        "-v prints the report: {run:#?}"
    );
    // Errors still show with `-q`.
    let run = run_in(&dir, &["instrument", "in/nope.wasm", "-q"]);
    assert_code(&run, 1);
    assert!(run.stderr.contains("error: cannot read `in/nope.wasm`"));
}

#[test]
fn help_and_version() {
    let dir = scratch("help");
    let run = run_in(&dir, &["instrument", "--help"]);
    assert_code(&run, 0);
    for text in [
        "Examples:",
        "Exit status:",
        "--output-dir",
        "--force",
        "--flavor",
        "./tmp",
    ] {
        assert!(
            run.stdout.contains(text),
            "help lacks `{text}`: {}",
            run.stdout
        );
    }
    let run = run_in(&dir, &["-V"]);
    assert_code(&run, 0);
    assert_eq!(
        run.stdout.trim(),
        format!("nebula {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn twice_gives_the_same_bytes() {
    let dir = scratch("twice");
    inputs(&dir);
    let read = |out: &str| {
        ["instrumented.wasm", "proxy.wit", "report.txt"]
            .map(|ext| fs::read(dir.join(format!("{out}/sample.{ext}"))).unwrap())
    };
    assert_code(
        &run_in(&dir, &["instrument", "in/sample.wasm", "-o", "a"]),
        0,
    );
    assert_code(
        &run_in(&dir, &["instrument", "in/sample.wasm", "-o", "b"]),
        0,
    );
    assert!(read("a") == read("b"), "two runs wrote different bytes");
}

#[test]
fn depth_chooses_between_inner_and_outer_boundaries() {
    use nebula_tests::fixtures::{self, read};
    let dir = scratch("depth");
    fs::create_dir_all(dir.join("in")).unwrap();
    let chain =
        nebula_tests::compose::plug(&read(fixtures::CHAIN_FRONT), &[&read(fixtures::CHAIN_BACK)])
            .unwrap();
    fs::write(dir.join("in/chain.wasm"), &chain).unwrap();

    let run = run_in(&dir, &["instrument", "in/chain.wasm", "-o", "deep"]);
    assert_code(&run, 0);
    let report = assert_outputs(&dir.join("deep"), "chain", &chain, &Options::default());
    assert!(
        report.contains("inner components instrumented (2):"),
        "{report}"
    );
    // Front's client span for `lookup` and back's server span.
    assert!(
        report.contains("import  nebula:fixtures/backend#lookup"),
        "{report}"
    );
    assert!(
        report.contains("export  nebula:fixtures/backend#lookup"),
        "{report}"
    );

    let run = run_in(
        &dir,
        &["instrument", "in/chain.wasm", "-o", "outer", "--depth", "0"],
    );
    assert_code(&run, 0);
    let outer_only = Options {
        depth: Some(0),
        ..Options::default()
    };
    let report = assert_outputs(&dir.join("outer"), "chain", &chain, &outer_only);
    assert!(!report.contains("inner components"), "{report}");
    assert!(!report.contains("backend#lookup"), "{report}");

    let run = run_in(&dir, &["instrument", "in/chain.wasm", "--depth", "x"]);
    assert_code(&run, 2);
}
