//! Components built by other toolchains than Rust's (componentize-py and
//! componentize-js, see `nebula_tests::toolchains`): large, with the
//! toolchain's own runtime inside, and (for Python) an exported resource
//! and dozens of WASI imports. Instrumented, they keep their exports and
//! imports; the Python one behaves the same, export by export, alone and
//! composed under the Rust `chain-front` (the JavaScript one is only
//! checked structurally: running each costs a Cranelift compile of its
//! engine, half a minute on CI).

use std::collections::BTreeSet;

use anyhow::Result;
use nebula_component::{Direction, Options, instrument};
use nebula_native::host::otel::{SpanKind, Status};
use nebula_tests::compose::plug;
use nebula_tests::differential::differential;
use nebula_tests::exports::exported_funcs;
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::{Runner, ended, engine};
use nebula_tests::toolchains;
use nebula_tests::values::all_same;
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

const BACKEND: &str = "nebula:fixtures/backend@0.1.0";

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
        "nebula:fixtures/backend#lookup",
        "nebula:fixtures/backend#store",
        "nebula:fixtures/backend#cursor.new",
        "nebula:fixtures/backend#cursor.next",
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
    let cursor = runner.call(&format!("{BACKEND}#[constructor]cursor"), &[Val::U32(2)])?;
    let next = runner.call(
        &format!("{BACKEND}#[method]cursor.next"),
        std::slice::from_ref(&cursor[0]),
    )?;
    assert!(
        format!("{next:?}").contains("bread"),
        "the item with id 2: {next:?}"
    );
    runner.call(&format!("{BACKEND}#lookup"), &[Val::U32(99)])?;
    let events = runner.take_spans();
    let ended = ended(&events);
    let names: Vec<_> = ended.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "nebula:fixtures/backend#cursor.new",
            "nebula:fixtures/backend#cursor.next",
            "nebula:fixtures/backend#lookup"
        ]
    );
    assert!(ended.iter().all(|s| s.span_kind == SpanKind::Server));
    assert_eq!(ended[2].status, Status::Error("no item with id 99".into()));
    runner.drop_owned(&cursor[0])?;
    Ok(())
}

#[test]
fn a_rust_front_over_a_python_back_is_instrumented_inside() -> Result<()> {
    // Two toolchains in one composition: Rust's `chain-front` calls the
    // Python backend (records, lists, results, a resource).
    let plain = plug(
        &read(fixtures::CHAIN_FRONT),
        &[&toolchains::python_component()?],
    )?;
    let out = instrument(&plain, &Options::default())?;
    assert_eq!(out.report.components.len(), 2, "{:#?}", out.report);
    let mut reference = Runner::new(&plain)?;
    let mut traced = Runner::new(&out.component)?;
    let frontend = "nebula:fixtures/frontend@0.1.0";
    let ids = Val::List([1, 99, 2].map(Val::U32).to_vec());
    let names = Val::List(vec![Val::String("figs".into())]);
    for (function, args) in [
        ("describe", vec![ids]),
        ("restock", vec![names]),
        ("list-from", vec![Val::U32(2)]),
    ] {
        let name = format!("{frontend}#{function}");
        let want = reference.call(&name, &args)?;
        let got = traced.call(&name, &args)?;
        assert!(all_same(&want, &got), "`{function}`: {want:?} vs {got:?}");
        let events = traced.take_spans();
        let spans = ended(&events);
        // front's server span → front's client span → the Python back's
        // server span, for each call front makes, in one trace.
        let root = spans
            .iter()
            .find(|s| s.parent_span_id.is_empty())
            .expect("a root span");
        assert_eq!(root.name, format!("nebula:fixtures/frontend#{function}"));
        assert_eq!(root.span_kind, SpanKind::Server);
        let clients: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_span_id == root.span_context.span_id)
            .collect();
        assert!(!clients.is_empty(), "`{function}`: {spans:#?}");
        for client in &clients {
            assert_eq!(client.span_kind, SpanKind::Client);
            let servers: Vec<_> = spans
                .iter()
                .filter(|s| s.parent_span_id == client.span_context.span_id)
                .collect();
            assert_eq!(servers.len(), 1, "`{}`: {spans:#?}", client.name);
            assert_eq!(servers[0].name, client.name);
            assert_eq!(servers[0].span_kind, SpanKind::Server);
        }
        assert_eq!(spans.len(), 1 + 2 * clients.len(), "{spans:#?}");
        let trace = &root.span_context.trace_id;
        assert!(spans.iter().all(|s| &s.span_context.trace_id == trace));
    }
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

/// Through `nebula.wasm` (whose native shim hands the guest each input's
/// skeleton and puts the modules back), both toolchains' components come
/// out byte for byte as the native library makes them.
#[test]
fn through_nebula_wasm_the_outputs_are_the_native_ones() -> Result<()> {
    let nebula = nebula_native::nebula_wasm::NebulaWasm::embedded()?;
    for (name, plain) in [
        ("python", toolchains::python_component()?),
        ("javascript", toolchains::javascript_component()?),
    ] {
        let native = instrument(&plain, &Options::default())?;
        let wasm = nebula.instrument(&plain, &Options::default())?;
        assert!(
            wasm.component == native.component,
            "{name}: nebula.wasm's output differs from the native output"
        );
        assert_eq!(wasm.report, native.report, "{name}");
    }
    Ok(())
}
