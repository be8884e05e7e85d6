//! `--export-to`: outputs with the in-guest exporter run on a host that
//! links only `wasmtime-wasi` (no `wasi:otel` at all), give the plain
//! component's results, and write their spans through plain WASI: OTLP
//! JSON lines that `opentelemetry-proto`'s types read (stderr, a file in a
//! preopened directory), or span trees (console).

use nebula_component::{ErrorKind, ExportTo, Options, OtelFlavor, instrument};
use nebula_tests::compose::chain;
use nebula_tests::differential::{compare_exports, span_name};
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::Runner;
use nebula_tests::otlp;
use nebula_tests::span_tree::RESTOCK_TREE;
use nebula_tests::values::all_same;
use wasmtime::Result;
use wasmtime::component::Val;

fn exporting(component: &[u8], export_to: ExportTo) -> Result<Vec<u8>> {
    let options = Options {
        export_to: Some(export_to),
        service_name: Some("shop".into()),
        ..Options::default()
    };
    Ok(instrument(component, &options)?.component)
}

/// The plain WASI runtime: `wasmtime-wasi` alone.
fn wasi_only(component: &[u8]) -> Result<Runner> {
    Runner::builder().wasi_only().build(component)
}

/// The import names of `component` that start with `prefix`.
fn imports_of(runner: &Runner, prefix: &str) -> Vec<String> {
    let engine = nebula_tests::host::engine();
    runner
        .component()
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

#[test]
fn fixtures_exporting_to_stderr_give_the_plain_results_and_one_otlp_line_per_call() -> Result<()> {
    for path in [fixtures::TYPES, fixtures::ERRORS] {
        let plain_bytes = read(path);
        let mut plain = Runner::new(&plain_bytes)?;
        let mut traced = wasi_only(&exporting(&plain_bytes, ExportTo::Stderr)?)?;
        assert_eq!(imports_of(&traced, "wasi:otel/"), Vec::<String>::new());
        let mut calls = 0;
        let mut one_line_more = |traced: &mut Runner, name: &str| {
            calls += 1;
            let requests = otlp::requests(&traced.stderr());
            assert_eq!(requests.len(), calls, "one line per top-level call");
            let last = requests.last().unwrap();
            assert_eq!(otlp::service_names(last), ["shop"]);
            assert_eq!(
                otlp::tree(&otlp::spans(last), &[]),
                format!("{} Server\n", span_name(name))
            );
        };
        compare_exports(&mut plain, &mut traced, &|_| false, &mut one_line_more)?;
        assert!(calls > 10, "{path}: {calls} calls");
        // Every call its own trace.
        let requests = otlp::requests(&traced.stderr());
        let mut traces: Vec<_> = requests
            .iter()
            .map(|r| otlp::spans(r)[0].trace_id.clone())
            .collect();
        traces.sort();
        traces.dedup();
        assert_eq!(traces.len(), calls);
    }
    Ok(())
}

/// front → middle → back composed, the middle instrumented by hand
/// through `wasi:otel@0.3.0`.
fn three_chain() -> Result<Vec<u8>> {
    chain(&[
        &read(fixtures::CHAIN_FRONT),
        &read(fixtures::CHAIN_MIDDLE),
        &read(fixtures::CHAIN_BACK),
    ])
}

const RESTOCK: &str = "nebula:fixtures/frontend@0.1.0#restock";

#[test]
fn a_composition_with_a_hand_instrumented_middle_exports_one_tree_per_call() -> Result<()> {
    let plain = three_chain()?;
    let traced = exporting(&plain, ExportTo::Stderr)?;
    let args = [Val::List(vec![Val::String("x".into())])];
    let mut plain = Runner::new(&plain)?;
    let mut runner = wasi_only(&traced)?;
    assert_eq!(imports_of(&runner, "wasi:otel/"), Vec::<String>::new());
    for _ in 0..2 {
        let want = plain.call(RESTOCK, &args)?;
        let got = runner.call(RESTOCK, &args)?;
        assert!(
            all_same(&want, &got),
            "plain {want:?}, instrumented {got:?}"
        );
    }
    let requests = otlp::requests(&runner.stderr());
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(otlp::tree(&otlp::spans(request), &[]), RESTOCK_TREE);
    }
    let trace = |i: usize| otlp::spans(&requests[i])[0].trace_id.clone();
    assert_ne!(trace(0), trace(1), "each call its own trace");
    Ok(())
}

#[test]
fn console_writes_the_span_tree() -> Result<()> {
    let traced = exporting(&three_chain()?, ExportTo::Console)?;
    let mut runner = wasi_only(&traced)?;
    runner.call(RESTOCK, &[Val::List(vec![Val::String("x".into())])])?;
    let stderr = runner.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines[0].starts_with("trace "), "{stderr}");
    assert_eq!(lines[0].len(), "trace ".len() + 32, "{stderr}");
    let names: Vec<String> = lines[1..]
        .iter()
        .map(|line| {
            let line = line.trim_start_matches(['│', '├', '└', '─', ' ']);
            line.split(" (").next().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "nebula:fixtures/frontend#restock server",
            "nebula:fixtures/backend#store client",
            "nebula:fixtures/backend#store server",
            "middle-store",
            "nebula:fixtures/backend#store client",
            "nebula:fixtures/backend#store server",
        ],
        "{stderr}"
    );
    // Deeper spans are indented further.
    let indent = |line: &str| line.len() - line.trim_start_matches(['│', '├', '└', '─', ' ']).len();
    let depths: Vec<usize> = lines[1..].iter().map(|l| indent(l)).collect();
    assert!(depths.windows(2).all(|w| w[0] < w[1]), "{stderr}");
    Ok(())
}

#[test]
fn a_file_in_a_preopened_directory_gets_the_lines_appended() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("nebula-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("spans.jsonl");
    let _ = std::fs::remove_file(&file);
    std::fs::write(&file, "")?;
    let traced = exporting(&three_chain()?, ExportTo::File("spans.jsonl".into()))?;
    let args = [Val::List(vec![Val::String("x".into())])];
    for _ in 0..2 {
        let mut runner = Runner::builder()
            .wasi_only()
            .dir(&dir, ".")
            .build(&traced)?;
        runner.call(RESTOCK, &args)?;
        assert_eq!(runner.stderr(), "");
    }
    let requests = otlp::requests(&std::fs::read_to_string(&file)?);
    assert_eq!(requests.len(), 2, "appended, not overwritten");
    for request in &requests {
        assert_eq!(otlp::tree(&otlp::spans(request), &[]), RESTOCK_TREE);
    }

    // An absolute path, under the preopen it names.
    let traced = exporting(&three_chain()?, ExportTo::File("/data/abs.jsonl".into()))?;
    let mut runner = Runner::builder()
        .wasi_only()
        .dir(&dir, "/data")
        .build(&traced)?;
    runner.call(RESTOCK, &args)?;
    let requests = otlp::requests(&std::fs::read_to_string(dir.join("abs.jsonl"))?);
    assert_eq!(requests.len(), 1);
    std::fs::remove_dir_all(&dir)?;

    // No such directory: the guest's call still succeeds.
    let mut runner = wasi_only(&traced)?;
    runner.call(RESTOCK, &args)?;
    Ok(())
}

#[test]
fn the_service_name_defaults_to_the_component_name() -> Result<()> {
    let options = Options {
        export_to: Some(ExportTo::Stderr),
        component_name: Some("typed".into()),
        ..Options::default()
    };
    let traced = instrument(&read(fixtures::TYPES), &options)?.component;
    let mut runner = wasi_only(&traced)?;
    runner.call(
        "nebula:fixtures/types@0.1.0#echo-string",
        &[Val::String("hi".into())],
    )?;
    let requests = otlp::requests(&runner.stderr());
    assert_eq!(otlp::service_names(&requests[0]), ["typed"]);
    Ok(())
}

#[test]
fn the_report_names_what_the_exporter_adds_and_a_host_flavor_is_refused() -> Result<()> {
    let plain = read(fixtures::TYPES);
    let options = Options {
        export_to: Some(ExportTo::Stderr),
        ..Options::default()
    };
    let report = instrument(&plain, &options)?.report;
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.contains("in-guest exporter") && s.contains("wasi:cli/stderr")),
        "{:#?}",
        report.skipped
    );
    for flavor in [OtelFlavor::Outer, OtelFlavor::Current("0.2.0-rc.2".into())] {
        let options = Options {
            flavor,
            ..options.clone()
        };
        let error = instrument(&plain, &options).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BadOptions);
        assert!(error.to_string().contains("inner"), "{error}");
    }
    Ok(())
}

#[test]
fn under_the_wasmtime_cli_a_command_exporting_to_stderr_runs_as_the_plain_one() -> Result<()> {
    let Some(wasmtime) = nebula_tests::host::wasmtime_cli() else {
        eprintln!("SKIPPED: no `wasmtime` CLI on PATH (install it to run this test)");
        return Ok(());
    };
    let dir = std::env::temp_dir().join(format!("nebula-wasmtime-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let plain = read(fixtures::CLI);
    let (plain_path, traced_path) = (dir.join("plain.wasm"), dir.join("traced.wasm"));
    std::fs::write(&plain_path, &plain)?;
    std::fs::write(&traced_path, exporting(&plain, ExportTo::Stderr)?)?;
    let run = |path: &std::path::Path| {
        std::process::Command::new(&wasmtime)
            .arg("run")
            .arg(path)
            .arg("a")
            .output()
    };
    let (want, got) = (run(&plain_path)?, run(&traced_path)?);
    assert_eq!(got.status.code(), want.status.code());
    assert_eq!(got.stdout, want.stdout);
    let requests = otlp::requests(&String::from_utf8_lossy(&got.stderr));
    assert_eq!(requests.len(), 1);
    assert_eq!(
        otlp::tree(&otlp::spans(&requests[0]), &[]),
        "wasi:cli/run#run Server\n"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
