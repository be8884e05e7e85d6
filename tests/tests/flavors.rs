//! Flavors on the hosts that ship: an output instrumented `--flavor outer`
//! imports `wasi:otel/tracing@0.2.0-rc.2` exactly as tagged and nests on a
//! host with Spin 4's rules ([`nebula_tests::spin_otel`]) as an `inner`
//! output nests on Nebula's host: same results as the plain component,
//! the same tree shape, every span inside the host's request span, no
//! `on-end` without its `on-start`. The span runtime answers parents from
//! its own stack, so a top-level call asks the host once, and it serves the
//! `wasi:otel` a component of the output imports itself, so hand-made spans
//! nest between Nebula's on that host too.

use nebula_component::{Options, OtelFlavor, instrument};
use nebula_native::host::otel::Recorded;
use nebula_tests::compose::{chain, plug};
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::{Runner, ended};
use nebula_tests::shapes;
use nebula_tests::span_tree::{RESTOCK_TREE, tree};
use nebula_tests::spin_otel::{SpinOtel, TRACING_RC2};
use nebula_tests::values::all_same;
use wasmtime::Result;
use wasmtime::component::Val;

const DESCRIBE: &str = "nebula:fixtures/frontend@0.1.0#describe";

fn instrumented(path: &str, flavor: OtelFlavor) -> Vec<u8> {
    let options = Options {
        flavor,
        ..Options::default()
    };
    instrument(&read(path), &options)
        .unwrap_or_else(|e| panic!("instrumenting {path}: {e}"))
        .component
}

/// front → back composed, plain and instrumented as a whole in `flavor`
/// (one span runtime for every boundary of the output).
fn front_back(flavor: OtelFlavor) -> Result<(Vec<u8>, Vec<u8>)> {
    let plain = plug(&read(fixtures::CHAIN_FRONT), &[&read(fixtures::CHAIN_BACK)])?;
    let options = Options {
        flavor,
        ..Options::default()
    };
    let traced = instrument(&plain, &options)?.component;
    Ok((plain, traced))
}

fn ids(ids: &[u32]) -> Val {
    Val::List(ids.iter().map(|i| Val::U32(*i)).collect())
}

/// The `wasi:otel` instance names `component` imports.
fn otel_imports(component: &[u8]) -> Vec<String> {
    let engine = nebula_tests::host::engine();
    wasmtime::component::Component::new(engine, component)
        .expect("compiles")
        .component_type()
        .imports(nebula_tests::host::engine())
        .map(|(name, _)| name.to_string())
        .filter(|name| name.starts_with("wasi:otel/"))
        .collect()
}

#[test]
fn an_outer_output_imports_the_tagged_rc2_interface() -> Result<()> {
    let traced = instrumented(fixtures::TYPES, OtelFlavor::Outer);
    let imports = otel_imports(&traced);
    assert!(imports.contains(&TRACING_RC2.to_string()), "{imports:?}");
    assert!(
        imports.iter().all(|name| name.ends_with("@0.2.0-rc.2")),
        "{imports:?}"
    );
    // Exactly the tagged functions (no `inner`/`current` query).
    let runner = Runner::new(&traced)?;
    let engine = nebula_tests::host::engine();
    let ty = runner.component().component_type();
    let (_, tracing) = ty
        .imports(engine)
        .find(|(name, _)| *name == TRACING_RC2)
        .expect("imports tracing");
    let wasmtime::component::types::ComponentItem::ComponentInstance(instance) = tracing.ty else {
        panic!("tracing is not an instance");
    };
    let functions: Vec<String> = instance
        .exports(engine)
        .filter(|(_, item)| {
            matches!(
                item.ty,
                wasmtime::component::types::ComponentItem::ComponentFunc(_)
            )
        })
        .map(|(name, _)| name.to_string())
        .collect();
    for name in &functions {
        assert!(
            ["on-start", "on-end", "outer-span-context"].contains(&name.as_str()),
            "`{name}` is not in the tagged rc.2 interface: {functions:?}"
        );
    }
    assert!(functions.contains(&"outer-span-context".to_string()));
    Ok(())
}

#[test]
fn outer_on_spins_rules_nests_as_inner_does_on_nebulas_host() -> Result<()> {
    let args = [ids(&[1, 42, 2])];

    let (plain, inner) = front_back(OtelFlavor::Inner)?;
    let want = Runner::new(&plain)?.call(DESCRIBE, &args)?;
    let mut on_nebula = Runner::new(&inner)?;
    assert!(all_same(&want, &on_nebula.call(DESCRIBE, &args)?));
    let inner_tree = tree(&on_nebula.take_spans());

    let (_, outer) = front_back(OtelFlavor::Outer)?;
    let mut on_spin = Runner::new(&outer)?;
    let got = on_spin.call(DESCRIBE, &args)?;
    assert!(all_same(&want, &got), "plain {want:?}, outer {got:?}");
    assert!(on_nebula.spans().is_empty() && on_spin.spans().is_empty());
    let spin = on_spin.spin();
    let outer_tree = tree(spin.recorded());
    assert_eq!(outer_tree, inner_tree);
    assert!(
        inner_tree
            .matches("\n    nebula:fixtures/backend#lookup Server")
            .count()
            == 3,
        "server → client → server nesting at every boundary:\n{inner_tree}"
    );
    // Everything inside the host's request span, nothing left open, and
    // one host query for the whole call: nested parents come from the
    // runtime's own stack.
    let spans = ended(spin.recorded());
    let root = spans.last().expect("spans");
    assert_eq!(root.parent_span_id, spin.request().span_id);
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.trace_id == spin.request().trace_id)
    );
    assert!(spin.open().is_empty(), "{:?}", spin.open());
    assert_eq!(spin.queries(), 1);
    // Ends come in the reverse order of starts (stack discipline).
    let mut stack = Vec::new();
    for event in spin.recorded() {
        match event {
            Recorded::Started(cx) => stack.push(cx.span_id.clone()),
            Recorded::Ended(span) => {
                assert_eq!(stack.pop(), Some(span.span_context.span_id.clone()))
            }
        }
    }
    Ok(())
}

#[test]
fn a_single_component_on_spins_rules_gives_the_plain_results() -> Result<()> {
    let plain = read(fixtures::TYPES);
    let traced = instrumented(fixtures::TYPES, OtelFlavor::Outer);
    let mut want = Runner::new(&plain)?;
    let mut runner = Runner::new(&traced)?;
    let name = "nebula:fixtures/types@0.1.0#echo-string";
    let args = [Val::String("héllo".into())];
    assert!(all_same(
        &want.call(name, &args)?,
        &runner.call(name, &args)?
    ));
    let spin = runner.spin();
    let spans = ended(spin.recorded());
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].name, "nebula:fixtures/types#echo-string");
    assert_eq!(spans[0].parent_span_id, spin.request().span_id);
    assert_eq!(spans[0].span_context.trace_id, spin.request().trace_id);
    Ok(())
}

#[test]
fn under_an_unsampled_request_nested_calls_make_no_host_call() -> Result<()> {
    let (plain, outer) = front_back(OtelFlavor::Outer)?;
    let args = [ids(&[1, 42, 2])];
    let want = Runner::new(&plain)?.call(DESCRIBE, &args)?;
    let mut runner = Runner::builder()
        .spin(SpinOtel::with_request(
            "0af7651916cd43dd8448eb211c80319c",
            "b7ad6b7169203331",
            false,
        ))
        .build(&outer)?;
    for _ in 0..3 {
        assert!(all_same(&want, &runner.call(DESCRIBE, &args)?));
    }
    let spin = runner.spin();
    assert!(spin.recorded().is_empty(), "{:?}", spin.recorded());
    // One query per top-level call; the calls nested in it ask nothing.
    assert_eq!(spin.queries(), 3);
    Ok(())
}

/// front → middle → back composed, the middle instrumented by hand through
/// `wasi:otel@0.3.0`, plain and instrumented as a whole in `flavor`.
fn three_chain(flavor: OtelFlavor) -> Result<(Vec<u8>, Vec<u8>)> {
    let plain = chain(&[
        &read(fixtures::CHAIN_FRONT),
        &read(fixtures::CHAIN_MIDDLE),
        &read(fixtures::CHAIN_BACK),
    ])?;
    let options = Options {
        flavor,
        ..Options::default()
    };
    let traced = instrument(&plain, &options)?.component;
    Ok((plain, traced))
}

const RESTOCK: &str = "nebula:fixtures/frontend@0.1.0#restock";

fn names(names: &[&str]) -> Val {
    Val::List(names.iter().map(|n| Val::String((*n).into())).collect())
}

/// Checks that `events` end every span in the reverse order of its start.
fn assert_stack_order(events: &[Recorded]) {
    let mut stack = Vec::new();
    for event in events {
        match event {
            Recorded::Started(cx) => stack.push(cx.span_id.clone()),
            Recorded::Ended(span) => {
                assert_eq!(stack.pop(), Some(span.span_context.span_id.clone()))
            }
        }
    }
    assert!(stack.is_empty(), "left open: {stack:?}");
}

#[test]
fn a_hand_instrumented_middle_nests_on_spins_rules_as_on_nebulas_host() -> Result<()> {
    let args = [names(&["x", "y"])];
    let (plain, inner) = three_chain(OtelFlavor::Inner)?;
    let want = Runner::new(&plain)?.call(RESTOCK, &args)?;

    // `inner` on Nebula's host.
    let mut on_nebula = Runner::new(&inner)?;
    assert!(all_same(&want, &on_nebula.call(RESTOCK, &args)?));
    assert_eq!(tree(&on_nebula.take_spans()), RESTOCK_TREE);
    assert!(otel_imports(&inner).iter().all(|n| n.ends_with("@0.3.0")));

    // `outer` on Spin's rules: the middle's own `wasi:otel@0.3.0` is served
    // by the span runtime, so the output imports only the tagged rc.2 and
    // the hand-made span nests where it does on Nebula's host.
    let (_, outer) = three_chain(OtelFlavor::Outer)?;
    let imports = otel_imports(&outer);
    assert!(
        imports.iter().all(|n| n.ends_with("@0.2.0-rc.2")),
        "{imports:?}"
    );
    let mut on_spin = Runner::new(&outer)?;
    let got = on_spin.call(RESTOCK, &args)?;
    assert!(all_same(&want, &got), "plain {want:?}, outer {got:?}");
    assert!(on_spin.spans().is_empty(), "nothing reaches the 0.3.0 host");
    let spin = on_spin.spin();
    assert_eq!(tree(spin.recorded()), RESTOCK_TREE);
    let spans = ended(spin.recorded());
    assert_eq!(
        spans.last().expect("spans").parent_span_id,
        spin.request().span_id
    );
    assert!(spin.open().is_empty(), "{:?}", spin.open());
    assert_eq!(spin.queries(), 1, "one host query for the top-level call");
    assert_stack_order(spin.recorded());
    Ok(())
}

/// The tree one `work` call of `manual-outer` instrumented gives.
const MANUAL_OUTER_TREE: &str = "nebula:fixtures-rc2/manual#work Server
  manual-outer-work Internal
";

#[test]
fn hand_made_rc2_spans_nest_inside_nebulas_server_span() -> Result<()> {
    let work = "nebula:fixtures-rc2/manual@0.1.0#work";
    let args = [Val::U32(12)];
    let want = Runner::new(&read(fixtures::MANUAL_OUTER))?.call(work, &args)?;

    // On the rc.2 host, the component's `outer-span-context` answers the
    // span runtime's innermost span (Nebula's server span), not the host's.
    let outer = instrumented(fixtures::MANUAL_OUTER, OtelFlavor::Outer);
    let mut on_spin = Runner::new(&outer)?;
    assert!(all_same(&want, &on_spin.call(work, &args)?));
    let spin = on_spin.spin();
    assert_eq!(tree(spin.recorded()), MANUAL_OUTER_TREE);
    let spans = ended(spin.recorded());
    assert_eq!(spans[1].parent_span_id, spin.request().span_id);
    assert_eq!(spin.queries(), 1);
    assert_stack_order(spin.recorded());

    // `inner` on Nebula's host: the rc.2 import is served too (the records
    // match), so the output imports only `0.3.0`.
    let inner = instrumented(fixtures::MANUAL_OUTER, OtelFlavor::Inner);
    let imports = otel_imports(&inner);
    assert!(imports.iter().all(|n| n.ends_with("@0.3.0")), "{imports:?}");
    let mut on_nebula = Runner::new(&inner)?;
    assert!(all_same(&want, &on_nebula.call(work, &args)?));
    assert_eq!(tree(&on_nebula.take_spans()), MANUAL_OUTER_TREE);
    Ok(())
}

#[test]
fn host_spans_are_reparented_under_the_innermost_guest_span() -> anyhow::Result<()> {
    let shape = shapes::all()
        .into_iter()
        .find(|s| s.name == "middleware")
        .expect("the middleware shape");
    let component = shape.component()?;
    let options = Options {
        flavor: OtelFlavor::Outer,
        ..Options::default()
    };
    let traced = instrument(&component, &options)?.component;
    let handle = "test:middleware/handler@0.1.0#handle";
    let want = shape
        .runner()
        .build(&component)?
        .call(handle, &[Val::U32(4)])?;
    let mut runner = shape.runner().build(&traced)?;
    assert!(all_same(&want, &runner.call(handle, &[Val::U32(4)])?));
    // The host's span for the call out sits under the client span that
    // Nebula's proxy started around it.
    assert_eq!(
        tree(runner.spin().recorded()),
        "test:middleware/handler#handle Server
  test:middleware/handler#handle Client
    host test:middleware/handler@0.1.0#handle Client
"
    );
    Ok(())
}

#[test]
fn a_wasi_otel_the_runtime_cannot_serve_goes_to_the_host_and_the_report_says_so()
-> anyhow::Result<()> {
    // A `wasi:otel/tracing` whose `span-context` is not the runtime's.
    let wit = "package test:other@0.1.0;
world shape {
    import wasi:otel/tracing@0.9.0;
    export api;
}
interface api { work: func(n: u32) -> u32; }";
    let otel = "package wasi:otel@0.9.0;
interface tracing {
    record span-context { trace-id: string, span-id: string }
    on-start: func(context: span-context);
}";
    let wat = r#"(module
  (import "wasi:otel/tracing@0.9.0" "on-start" (func $start (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "test:other/api@0.1.0#work") (param i32) (result i32)
    (call $start (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))
    (local.get 0))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64)))"#;
    let component = shapes::component_with(&[otel], wit, wat)?;
    let out = instrument(&component, &Options::default())?;
    let imports = otel_imports(&out.component);
    assert!(
        imports.contains(&"wasi:otel/tracing@0.9.0".to_string()),
        "{imports:?}"
    );
    assert!(
        out.report
            .skipped
            .iter()
            .any(|s| s.starts_with("`wasi:otel/tracing@0.9.0`: wired to the host")),
        "{:#?}",
        out.report.skipped
    );
    Ok(())
}

/// `wasi:otel@0.2.0-rc.2` as one WIT source (the fixtures' copy of the tag).
const RC2_WIT: &str = concat!(
    include_str!("../fixtures/wit-otel-rc2/types.wit"),
    include_str!("../fixtures/wit-otel-rc2/tracing.wit"),
);

/// A component calling `wasi:otel@0.2.0-rc.2` by hand: `begin` starts a
/// span it ends only in `finish` (a span that outlives the call it started
/// in), `stray` ends a span that was never started (all-zero `span-data`).
fn rc2_by_hand() -> anyhow::Result<Vec<u8>> {
    let wit = "package test:spans@0.1.0;
interface api { begin: func(); finish: func(); stray: func(); }
world shape { import wasi:otel/tracing@0.2.0-rc.2; export api; }";
    // span-data at 1024: its span-context's trace id (512, 32 bytes) and
    // span id (544, 16 bytes); every other field zero (empty, unset).
    let wat = r#"(module
  (import "wasi:otel/tracing@0.2.0-rc.2" "on-start"
    (func $start (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "wasi:otel/tracing@0.2.0-rc.2" "on-end" (func $end (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "0af7651916cd43dd8448eb211c80319c00000000000000a1")
  (data (i32.const 1024) "\00\02\00\00\20\00\00\00\20\02\00\00\10\00\00\00")
  (func (export "test:spans/api@0.1.0#begin")
    (call $start (i32.const 512) (i32.const 32) (i32.const 544) (i32.const 16)
                 (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))
  (func (export "test:spans/api@0.1.0#finish") (call $end (i32.const 1024)))
  (func (export "test:spans/api@0.1.0#stray") (call $end (i32.const 2048)))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 4096)))"#;
    shapes::component_with(&[RC2_WIT], wit, wat)
}

#[test]
fn an_end_without_its_start_never_reaches_the_host_and_a_span_outliving_its_call_still_ends()
-> anyhow::Result<()> {
    let plain = rc2_by_hand()?;
    // Plain on Spin's rules, the stray end traps.
    let mut runner = Runner::new(&plain)?;
    assert!(runner.call("test:spans/api#stray", &[]).is_err());

    let options = Options {
        flavor: OtelFlavor::Outer,
        ..Options::default()
    };
    let traced = instrument(&plain, &options)?.component;
    let mut runner = Runner::new(&traced)?;
    for call in ["begin", "finish", "stray"] {
        runner.call(&format!("test:spans/api#{call}"), &[])?;
    }
    let spin = runner.spin();
    assert!(spin.open().is_empty(), "left open: {:?}", spin.open());
    let ended: Vec<&str> = ended(spin.recorded())
        .iter()
        .map(|s| s.span_context.span_id.as_str())
        .collect();
    // `begin`'s server span, the hand-made span (ended in `finish`, after
    // `begin` returned), `finish`'s and `stray`'s server spans.
    assert_eq!(ended.len(), 4, "{ended:?}");
    assert_eq!(ended[1], "00000000000000a1");
    Ok(())
}
