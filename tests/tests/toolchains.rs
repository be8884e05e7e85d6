//! Components built by other toolchains than Rust's (componentize-py and
//! componentize-js, see `nebula_tests::toolchains`): large, with the
//! toolchain's own runtime inside, and (for Python) an exported resource
//! and dozens of WASI imports. Instrumented, they keep their exports and
//! imports, and the Python one behaves the same, export by export (the
//! JavaScript one is only checked structurally: running each costs a
//! Cranelift compile of its engine, half a minute on CI).

use std::collections::BTreeSet;

use anyhow::Result;
use nebula_component::{Direction, Options, instrument};
use nebula_native::host::otel::{Recorded, SpanKind, Status};
use nebula_tests::differential::differential;
use nebula_tests::exports::exported_funcs;
use nebula_tests::host::engine;
use nebula_tests::toolchains;
use wasmtime::component::{Component, Val};

/// The names of a component's exported functions and of its imports.
/// (Sets: the component model links by name, and the decoded world an
/// output is composed from may list anonymous interfaces in another order.)
fn names(bytes: &[u8]) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
    let component = Component::new(engine(), bytes)?;
    let exports = exported_funcs(engine(), &component)
        .into_iter()
        .map(|f| f.name)
        .collect();
    let ty = component.component_type();
    let imports = ty
        .imports(engine())
        .map(|(name, _)| name.to_string())
        .collect();
    Ok((exports, imports))
}

/// Asserts `out` exports what `plain` exports and imports what it imports
/// (plus the span runtime's imports).
fn keeps_exports_and_imports(plain: &[u8], out: &[u8]) -> Result<()> {
    let (want_exports, want_imports) = names(plain)?;
    let (got_exports, got_imports) = names(out)?;
    assert_eq!(want_exports, got_exports);
    assert!(
        want_imports.is_subset(&got_imports),
        "{want_imports:?} ⊄ {got_imports:?}"
    );
    assert!(
        got_imports.contains("wasi:otel/tracing@0.3.0"),
        "{got_imports:?}"
    );
    Ok(())
}

#[test]
fn a_python_component_behaves_the_same_instrumented() -> Result<()> {
    let plain = toolchains::python_component()?;
    let out = instrument(&plain, &Options::default())?;
    let wrapped: BTreeSet<&str> = out
        .report
        .wrapped
        .iter()
        .filter(|f| f.direction == Direction::Export)
        .map(|f| f.span_name.as_str())
        .collect();
    for name in [
        "greet",
        "demo:py/store#lookup",
        "demo:py/store#total",
        "demo:py/store#counter.new",
        "demo:py/store#counter.add",
    ] {
        assert!(wrapped.contains(name), "`{name}` not wrapped: {wrapped:?}");
    }
    keeps_exports_and_imports(&plain, &out.component)?;

    // Every export but the resource's, with edge-value arguments: the same
    // results, one server span each (and the same types, or the calls with
    // the plain component's arguments would fail). Not `exports#init`:
    // componentize-py's build-time initializer, which traps once the
    // interpreter runs.
    let build_time = |name: &str| name == "exports#init";
    let (calls, mut runner) = differential(&plain, &out.component, &build_time)?;
    assert!(calls >= 10, "only {calls} calls");

    // The resource through the proxy, and an error status.
    let counter = runner.call("demo:py/store@0.1.0#[constructor]counter", &[Val::S64(40)])?;
    let add = "demo:py/store@0.1.0#[method]counter.add";
    let sum = runner.call(add, &[counter[0].clone(), Val::S64(2)])?;
    assert!(matches!(sum[..], [Val::S64(42)]), "{sum:?}");
    runner.call("demo:py/store@0.1.0#lookup", &[Val::U32(0)])?;
    let ended: Vec<_> = runner
        .take_spans()
        .into_iter()
        .filter_map(|e| match e {
            Recorded::Ended(span) => Some(span),
            Recorded::Started(_) => None,
        })
        .collect();
    let names: Vec<_> = ended.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "demo:py/store#counter.new",
            "demo:py/store#counter.add",
            "demo:py/store#lookup"
        ]
    );
    assert!(ended.iter().all(|s| s.span_kind == SpanKind::Server));
    assert_eq!(ended[2].status, Status::Error("no item 0".into()));
    runner.drop_owned(&counter[0])?;
    Ok(())
}

#[test]
fn a_javascript_component_keeps_its_exports_and_imports() -> Result<()> {
    let plain = toolchains::javascript_component()?;
    let out = instrument(&plain, &Options::default())?;
    let wrapped: BTreeSet<&str> = out
        .report
        .wrapped
        .iter()
        .map(|f| f.span_name.as_str())
        .collect();
    assert_eq!(
        wrapped,
        BTreeSet::from(["greet", "demo:js/store#lookup", "demo:js/store#total"])
    );
    keeps_exports_and_imports(&plain, &out.component)
}
