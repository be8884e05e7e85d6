//! The shapes other toolchains emit (`nebula_tests::shapes`), each a
//! component with real code, instrumented and run against its plain self:
//! same results for the same edge-value arguments, one `server` span per
//! export call with the wrapped imports it made as `client` children.
//! Components whose imports are trimmed (an interface imported for a type
//! alone, or without the function the span runtime calls) share that import
//! with the span runtime, as single components and as inner components of
//! a composition.

use anyhow::Result;
use nebula_component::{Options, instrument};
use nebula_native::host::otel::{Recorded, SpanKind};
use nebula_tests::compose;
use nebula_tests::differential::span_name;
use nebula_tests::host::{self, Runner, RunnerBuilder};
use nebula_tests::shapes::{self, Shape};
use nebula_tests::values::{all_same, arg_combinations};
use wasmtime::component::Val;

fn instrumented(plain: &[u8], what: &str) -> Vec<u8> {
    let out = instrument(plain, &Options::default())
        .unwrap_or_else(|e| panic!("{what}: instrumenting failed: {e}"));
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&out.component)
        .unwrap_or_else(|e| panic!("{what}: output does not validate: {e}"));
    assert_eq!(
        exports_wit(plain),
        exports_wit(&out.component),
        "{what}: export types differ"
    );
    out.component
}

/// The output's import names, in order.
fn import_names(component: &[u8]) -> Vec<String> {
    world_wit(component, true)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// Asserts the spans of one call of `export`: all ended, one root `server`
/// span of that name, every other span a `client` child of it named in
/// `clients`; returns how many client spans there were.
fn check_call_spans(runner: &mut Runner, export: &str, clients: &[&str]) -> usize {
    let events = runner.take_spans();
    let started = events
        .iter()
        .filter(|e| matches!(e, Recorded::Started(_)))
        .count();
    let ended = host::ended(&events);
    assert_eq!(
        started,
        ended.len(),
        "`{export}`: spans left open: {events:#?}"
    );
    assert!(
        runner.otel().stack().is_empty(),
        "`{export}` left spans open"
    );
    let servers: Vec<_> = ended
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    assert_eq!(servers.len(), 1, "`{export}`: {ended:#?}");
    let server = servers[0];
    assert_eq!(server.name, span_name(export));
    assert_eq!(server.parent_span_id, "", "`{export}`: a root span");
    let mut count = 0;
    for span in ended.iter().filter(|s| s.span_kind != SpanKind::Server) {
        assert_eq!(span.span_kind, SpanKind::Client, "`{export}`: {span:#?}");
        assert!(
            clients.contains(&span.name.as_str()),
            "`{export}`: unexpected client span `{}`",
            span.name
        );
        assert_eq!(span.parent_span_id, server.span_context.span_id);
        assert_eq!(span.span_context.trace_id, server.span_context.trace_id);
        count += 1;
    }
    count
}

/// Calls every export of `plain` and `traced` with the same edge-value
/// arguments; results equal, spans as [`check_call_spans`] says. Returns
/// (calls, client spans).
fn differential(
    runner: &dyn Fn() -> RunnerBuilder,
    plain: &[u8],
    traced: &[u8],
    clients: &[&str],
    what: &str,
) -> Result<(usize, usize)> {
    let mut plain = runner().build(plain)?;
    let mut traced = runner().build(traced)?;
    let signature = |r: &Runner| {
        r.exports()
            .into_iter()
            .map(|e| format!("{} {:?} -> {:?}", e.name, e.param_types(), e.result))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        signature(&plain),
        signature(&traced),
        "{what}: exports differ"
    );
    let (mut calls, mut client_spans) = (0, 0);
    for export in plain.exports() {
        let combos = arg_combinations(&export.param_types());
        assert!(
            !combos.is_empty(),
            "{what}: no arguments for `{}`",
            export.name
        );
        for args in combos {
            let want = plain.call(&export.name, &args)?;
            let got = traced.call(&export.name, &args)?;
            assert!(
                all_same(&want, &got),
                "{what}: `{}`({args:?}): plain {want:?}, instrumented {got:?}",
                export.name
            );
            client_spans += check_call_spans(&mut traced, &export.name, clients);
            calls += 1;
        }
    }
    Ok((calls, client_spans))
}

fn shape(name: &str) -> Shape {
    shapes::all()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no shape `{name}`"))
}

#[test]
fn every_shape_instruments_and_runs_like_the_plain_component() -> Result<()> {
    for shape in shapes::all() {
        if shape.name == "imported-resource-parameters" {
            continue; // handles: see its own test below
        }
        let plain = shape.component()?;
        let traced = instrumented(&plain, shape.name);
        let (calls, clients) = differential(
            &|| shape.runner(),
            &plain,
            &traced,
            shape.client_spans,
            shape.name,
        )?;
        println!(
            "{}: {calls} calls equal, {clients} client spans ({})",
            shape.name, shape.about
        );
        assert!(calls > 0);
        assert_eq!(
            clients > 0,
            !shape.client_spans.is_empty(),
            "{}: wrapped imports must make client spans",
            shape.name
        );
    }
    Ok(())
}

#[test]
fn trimmed_wasi_imports_are_shared_with_the_span_runtime_as_their_union() -> Result<()> {
    for (name, interface, runtime_needs) in [
        (
            "clock-types-only",
            "wasi:clocks/wall-clock@0.2.0",
            "now: func() -> datetime",
        ),
        (
            "random-without-u64",
            "wasi:random/random@0.2.0",
            "get-random-u64: func() -> u64",
        ),
    ] {
        let shape = shape(name);
        let plain = shape.component()?;
        let before = wit_of_import(&plain, interface);
        assert!(
            !before.contains(runtime_needs),
            "{name}: the fixture must not import `{runtime_needs}`: {before}"
        );
        let traced = instrumented(&plain, name);
        // One import of the interface, with what the target and the span
        // runtime each need.
        let imports = import_names(&traced);
        assert_eq!(
            imports.iter().filter(|n| n.starts_with(interface)).count(),
            1,
            "{name}: {imports:?}"
        );
        let after = wit_of_import(&traced, interface);
        assert!(after.contains(runtime_needs), "{name}: {after}");
        for line in before.lines().filter(|l| l.contains(": func")) {
            assert!(
                after.contains(line.trim()),
                "{name}: lost `{line}`: {after}"
            );
        }
        differential(&|| shape.runner(), &plain, &traced, &[], name)?;
    }
    Ok(())
}

#[test]
fn trimmed_imports_inside_a_composition_are_shared_with_the_span_runtime() -> Result<()> {
    let clock = shape("clock-types-only").component()?;
    let random = shape("random-without-u64").component()?;
    let plain = compose::side_by_side(&[&clock, &random])?;
    let out = instrument(&plain, &Options::default())
        .unwrap_or_else(|e| panic!("composition: instrumenting failed: {e}"));
    assert_eq!(out.report.components.len(), 2, "{:?}", out.report);
    let traced = out.component;
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&traced)?;
    assert!(wit_of_import(&traced, "wasi:clocks/wall-clock@0.2.0").contains("now: func"));
    assert!(wit_of_import(&traced, "wasi:random/random@0.2.0").contains("get-random-u64"));
    let (calls, _) = differential(&Runner::builder, &plain, &traced, &[], "composition")?;
    assert!(calls > 0);
    Ok(())
}

#[test]
fn semver_compatible_versions_are_imported_once_under_the_highest() -> Result<()> {
    let shape = shape("wasi-patch-versions");
    let traced = instrumented(&shape.component()?, shape.name);
    let imports = import_names(&traced);
    assert!(
        imports.contains(&"wasi:random/random@0.2.3".to_string()),
        "{imports:?}"
    );
    assert!(
        !imports.contains(&"wasi:random/random@0.2.0".to_string()),
        "the span runtime's 0.2.0 must fold into the target's 0.2.3: {imports:?}"
    );
    // The span runtime's `wasi:otel` types use `datetime` of
    // `wall-clock@0.2.0`; with the target's 0.2.3 they use that one.
    let shape = self::shape("newer-wall-clock");
    let traced = instrumented(&shape.component()?, shape.name);
    let clocks: Vec<_> = import_names(&traced)
        .into_iter()
        .filter(|n| n.starts_with("wasi:clocks/wall-clock@"))
        .collect();
    assert_eq!(clocks, ["wasi:clocks/wall-clock@0.2.3"]);
    Ok(())
}

#[test]
fn exports_taking_imported_resources_run_like_the_plain_component() -> Result<()> {
    let shape = shape("imported-resource-parameters");
    let plain = shape.component()?;
    let out = instrument(&plain, &Options::default())?;
    // The store's handles cross the export boundary, so its import passes
    // through unwrapped (one resource type for target and host), and the
    // report says why.
    assert!(
        out.report
            .skipped
            .iter()
            .any(|s| s.contains("nebula:fixtures/store")),
        "{:?}",
        out.report.skipped
    );
    println!("report: {:?}", out.report.skipped);
    let traced = out.component;
    let api = "test:borrowed/api@0.1.0";
    let session = |bytes: &[u8], traced: bool| -> Result<Vec<Val>> {
        let mut runner = shape.runner().build(bytes)?;
        let mut results = Vec::new();
        for data in [&b""[..], b"abc", &[7; 300]] {
            let list = Val::List(data.iter().map(|b| Val::U8(*b)).collect());
            let blob = runner.call(&format!("{api}#make"), &[list])?.remove(0);
            if traced {
                check_call_spans(&mut runner, &format!("{api}#make"), &[]);
            }
            for f in ["size", "consume"] {
                let name = format!("{api}#{f}");
                results.extend(runner.call(&name, std::slice::from_ref(&blob))?);
                if traced {
                    assert_eq!(check_call_spans(&mut runner, &name, &[]), 0);
                }
            }
        }
        results.push(Val::U32(runner.blobs().alive()));
        Ok(results)
    };
    let (want, got) = (session(&plain, false)?, session(&traced, true)?);
    assert!(
        all_same(&want, &got),
        "plain {want:?}, instrumented {got:?}"
    );
    assert_eq!(want.last(), Some(&Val::U32(0)), "every blob consumed");
    Ok(())
}

/// The WIT of the interface `name` as `component` imports it.
fn wit_of_import(component: &[u8], name: &str) -> String {
    world_wit(component, true)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no import `{name}`"))
        .1
}

fn exports_wit(component: &[u8]) -> Vec<(String, String)> {
    world_wit(component, false)
}

/// A component's imports or exports, each printed as WIT.
fn world_wit(component: &[u8], imports: bool) -> Vec<(String, String)> {
    let wit_parser::decoding::DecodedWasm::Component(resolve, world) =
        wit_parser::decoding::decode(component).expect("a component")
    else {
        panic!("not a component");
    };
    let world = &resolve.worlds[world];
    let items = if imports {
        &world.imports
    } else {
        &world.exports
    };
    items
        .iter()
        .map(|(key, item)| {
            let mut printer = wit_component::WitPrinter::default();
            match item {
                wit_parser::WorldItem::Interface { id, .. } => {
                    printer.print_interface(&resolve, *id).unwrap()
                }
                wit_parser::WorldItem::Function(f) => {
                    for p in &f.params {
                        printer.print_type_name(&resolve, &p.ty).unwrap();
                    }
                }
                wit_parser::WorldItem::Type { id, .. } => printer
                    .print_type_name(&resolve, &wit_parser::Type::Id(*id))
                    .unwrap(),
            }
            (resolve.name_world_key(key), printer.output.to_string())
        })
        .collect()
}

#[test]
fn the_differential_check_catches_a_different_result() -> Result<()> {
    // The harness itself: two shapes with the same export but different
    // code must be told apart.
    let wit = "package test:same@0.1.0;
interface api { f: func(x: u32) -> u32; }
world shape { export api; }";
    let one = shapes::component(
        wit,
        r#"(module (func (export "test:same/api@0.1.0#f") (param i32) (result i32) (local.get 0)))"#,
        wit_component::StringEncoding::UTF8,
    )?;
    let two = shapes::component(
        wit,
        r#"(module (func (export "test:same/api@0.1.0#f") (param i32) (result i32) (i32.const 7)))"#,
        wit_component::StringEncoding::UTF8,
    )?;
    let traced = instrumented(&two, "two");
    let caught = std::panic::catch_unwind(|| {
        differential(&Runner::builder, &one, &traced, &[], "one vs two").map(|_| ())
    });
    assert!(caught.is_err(), "a different result went unnoticed");
    Ok(())
}
