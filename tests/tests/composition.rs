//! Across composition: components instrumented separately and then
//! composed nest their spans through `inner-span-context` (A's server span
//! → A's client span for the import → B's server span); hand-made spans
//! inside an instrumented component nest too; and a long-lived instance
//! does not grow its memory.

use nebula_component::proxy::SpanRuntime;
use nebula_component::{Options, OtelFlavor, instrument};
use nebula_native::host::otel::{Recorded, SpanKind};
use nebula_tests::compose::{chain, plug};
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::{Runner, ended};
use nebula_tests::span_tree::tree;
use nebula_tests::values::all_same;
use wasmtime::Result;
use wasmtime::component::Val;

fn instrumented(path: &str) -> Vec<u8> {
    instrument(&read(path), &Options::default())
        .unwrap_or_else(|e| panic!("instrumenting {path}: {e}"))
        .component
}

/// The chain fixtures, and front → middle → back composed with `wac-graph`.
fn three_chain() -> Result<([Vec<u8>; 3], Vec<u8>)> {
    let parts = [
        read(fixtures::CHAIN_FRONT),
        read(fixtures::CHAIN_MIDDLE),
        read(fixtures::CHAIN_BACK),
    ];
    let plain = chain(&[&parts[0], &parts[1], &parts[2]])?;
    Ok((parts, plain))
}

/// The most an output may grow per wrapped function, beyond its one span
/// runtime.
const PER_FUNCTION: usize = 2560;

/// How many copies of the span runtime's code `component` holds: core
/// modules (at any depth) exporting its `start`.
fn span_runtimes(component: &[u8]) -> usize {
    wasmparser::Parser::new(0)
        .parse_all(component)
        .filter_map(|payload| match payload.ok()? {
            wasmparser::Payload::ExportSection(exports) => Some(exports),
            _ => None,
        })
        .filter(|exports| {
            exports
                .clone()
                .into_iter()
                .any(|e| e.is_ok_and(|e| e.name == "nebula:spans/spans@0.1.0#start"))
        })
        .count()
}

fn ids(ids: &[u32]) -> Val {
    Val::List(ids.iter().map(|i| Val::U32(*i)).collect())
}

#[test]
fn a_calls_b_gives_server_client_server_spans() -> Result<()> {
    let plain = plug(&read(fixtures::CHAIN_FRONT), &[&read(fixtures::CHAIN_BACK)])?;
    let traced = plug(
        &instrumented(fixtures::CHAIN_FRONT),
        &[&instrumented(fixtures::CHAIN_BACK)],
    )?;
    assert_front_calls_back(&plain, &traced)
}

#[test]
fn a_composition_is_instrumented_inside() -> Result<()> {
    let plain = plug(&read(fixtures::CHAIN_FRONT), &[&read(fixtures::CHAIN_BACK)])?;
    let out = instrument(&plain, &Options::default())?;
    assert_eq!(out.report.components.len(), 2, "{:#?}", out.report);
    assert_front_calls_back(&plain, &out.component)?;

    // Depth 0: only the outer boundary, as for any component.
    let outer_only = Options {
        depth: Some(0),
        ..Options::default()
    };
    let out = instrument(&plain, &outer_only)?;
    assert!(out.report.components.is_empty());
    assert_eq!(
        describe_spans(&out.component)?,
        ["nebula:fixtures/frontend#describe"]
    );

    // Filters select inner boundaries: no client spans for `lookup`.
    let no_lookup = Options {
        exclude: vec!["*#lookup".parse()?],
        ..Options::default()
    };
    let out = instrument(&plain, &no_lookup)?;
    assert_eq!(
        describe_spans(&out.component)?,
        ["nebula:fixtures/frontend#describe"]
    );
    Ok(())
}

/// The names of the spans one `describe` call of `component` ends.
fn describe_spans(component: &[u8]) -> Result<Vec<String>> {
    let mut runner = Runner::new(component)?;
    runner.call(
        "nebula:fixtures/frontend@0.1.0#describe",
        &[ids(&[1, 42, 2])],
    )?;
    let events = runner.take_spans();
    Ok(ended(&events).iter().map(|s| s.name.clone()).collect())
}

#[test]
fn a_three_component_chain_gets_a_span_at_every_inner_boundary() -> Result<()> {
    let (parts, plain) = three_chain()?;
    let out = instrument(&plain, &Options::default())?;
    assert_eq!(out.report.components.len(), 3, "{:#?}", out.report);
    let single = instrument(&parts[2], &Options::default())?;
    let runtime = SpanRuntime::new()?.component(&OtelFlavor::Inner)?.len();
    println!(
        "sizes: chain {} -> {} bytes ({} functions wrapped); chain-back alone {} -> {} bytes ({}); \
         span runtime {runtime} bytes",
        plain.len(),
        out.component.len(),
        out.report.wrapped.len(),
        parts[2].len(),
        single.component.len(),
        single.report.wrapped.len()
    );
    // One span runtime for the whole output, however many inner components
    // (five proxies here) use it...
    assert_eq!(span_runtimes(&out.component), 1);
    assert_eq!(span_runtimes(&single.component), 1);
    // ...so the output is the input, one runtime, and an amount per
    // wrapped function (its forwarder, descriptor, types, and a share of
    // its proxy's small base).
    for (input, output, wrapped) in [
        (plain.len(), out.component.len(), out.report.wrapped.len()),
        (
            parts[2].len(),
            single.component.len(),
            single.report.wrapped.len(),
        ),
    ] {
        assert!(
            output <= input + runtime + PER_FUNCTION * wrapped,
            "{output} > {input} + {runtime} + {PER_FUNCTION} * {wrapped}"
        );
    }
    let mut traced = Runner::new(&out.component)?;
    let mut reference = Runner::new(&plain)?;

    let describe = "nebula:fixtures/frontend@0.1.0#describe";
    let args = [ids(&[1, 42])];
    let want = reference.call(describe, &args)?;
    let got = traced.call(describe, &args)?;
    assert!(
        all_same(&want, &got),
        "plain {want:?}, instrumented {got:?}"
    );
    let lookup = "nebula:fixtures/backend#lookup";
    let one = format!(
        "  {lookup} Client\n    {lookup} Server\n      {lookup} Client\n        {lookup} Server\n"
    );
    assert_eq!(
        tree(&traced.take_spans()),
        format!("nebula:fixtures/frontend#describe Server\n{one}{one}")
    );

    // The middle's hand-made span sits between its server and client spans.
    let restock = "nebula:fixtures/frontend@0.1.0#restock";
    let names = [Val::List(vec![
        Val::String("x".into()),
        Val::String("y".into()),
    ])];
    let want = reference.call(restock, &names)?;
    let got = traced.call(restock, &names)?;
    assert!(
        all_same(&want, &got),
        "plain {want:?}, instrumented {got:?}"
    );
    let store = "nebula:fixtures/backend#store";
    assert_eq!(
        tree(&traced.take_spans()),
        format!(
            "nebula:fixtures/frontend#restock Server\n  {store} Client\n    {store} Server\n      \
             middle-store Internal\n        {store} Client\n          {store} Server\n"
        )
    );

    // A resource across both inner boundaries: constructor and method calls
    // are spans at each hop, handles keep their identity (the cursor
    // advances), and dropping them makes no span.
    let list_from = "nebula:fixtures/frontend@0.1.0#list-from";
    let from = [Val::U32(2)];
    let want = reference.call(list_from, &from)?;
    let got = traced.call(list_from, &from)?;
    assert!(
        all_same(&want, &got),
        "plain {want:?}, instrumented {got:?}"
    );
    let Val::List(lines) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(lines.len(), 4, "bread, cheese, x, y: {got:?}");
    let hop = |method: &str| {
        let name = format!("nebula:fixtures/backend#cursor.{method}");
        format!("  {name} Client\n    {name} Server\n      {name} Client\n        {name} Server\n")
    };
    assert_eq!(
        tree(&traced.take_spans()),
        format!(
            "nebula:fixtures/frontend#list-from Server\n{}{}",
            hop("new"),
            hop("next").repeat(5)
        )
    );
    assert!(traced.otel().stack().is_empty());
    Ok(())
}

#[test]
fn compositions_nested_two_levels_deep_are_instrumented_all_the_way() -> Result<()> {
    // (front + middle) is itself a composition, plugged onto back.
    let upper = plug(
        &read(fixtures::CHAIN_FRONT),
        &[&read(fixtures::CHAIN_MIDDLE)],
    )?;
    let plain = plug(&upper, &[&read(fixtures::CHAIN_BACK)])?;
    let describe = "nebula:fixtures/frontend@0.1.0#describe";
    let args = [ids(&[3])];
    let want = Runner::new(&plain)?.call(describe, &args)?;
    let lookup = "nebula:fixtures/backend#lookup";

    let deep = instrument(&plain, &Options::default())?;
    assert_eq!(
        deep.report.components.len(),
        4,
        "{:?}",
        deep.report.components
    );
    let mut runner = Runner::new(&deep.component)?;
    let got = runner.call(describe, &args)?;
    assert!(
        all_same(&want, &got),
        "plain {want:?}, instrumented {got:?}"
    );
    assert_eq!(
        tree(&runner.take_spans()),
        format!(
            "nebula:fixtures/frontend#describe Server\n  {lookup} Client\n    {lookup} Server\n      \
             {lookup} Client\n        {lookup} Server\n"
        )
    );

    // Depth 1: the inner composition is one component, wrapped at its
    // boundary; the call from front to middle inside it stays invisible.
    let one_level = Options {
        depth: Some(1),
        ..Options::default()
    };
    let shallow = instrument(&plain, &one_level)?;
    assert_eq!(shallow.report.components.len(), 2);
    let mut runner = Runner::new(&shallow.component)?;
    runner.call(describe, &args)?;
    assert_eq!(
        tree(&runner.take_spans()),
        format!(
            "nebula:fixtures/frontend#describe Server\n  {lookup} Client\n    {lookup} Server\n"
        )
    );
    Ok(())
}

/// `traced` (a front → back composition with spans) gives the same results
/// as `plain`, and the span tree front server → front client → back server
/// per lookup, in one trace.
fn assert_front_calls_back(plain: &[u8], traced: &[u8]) -> Result<()> {
    let describe = "nebula:fixtures/frontend@0.1.0#describe";
    let args = [ids(&[1, 42, 2])];
    let want = Runner::new(plain)?.call(describe, &args)?;
    let mut runner = Runner::new(traced)?;
    let got = runner.call(describe, &args)?;
    assert!(
        all_same(&want, &got),
        "plain {want:?}, instrumented {got:?}"
    );

    let events = runner.take_spans();
    let spans = ended(&events);
    // Per lookup: back's server span ends, then front's client span; the
    // front's server span ends last.
    assert_eq!(spans.len(), 7, "{spans:#?}");
    let front = spans[6];
    assert_eq!(front.name, "nebula:fixtures/frontend#describe");
    assert_eq!(front.span_kind, SpanKind::Server);
    assert_eq!(front.parent_span_id, "", "the front span is the root");
    for pair in spans[..6].chunks(2) {
        let (back, client) = (pair[0], pair[1]);
        assert_eq!(client.name, "nebula:fixtures/backend#lookup");
        assert_eq!(client.span_kind, SpanKind::Client);
        assert_eq!(client.parent_span_id, front.span_context.span_id);
        assert_eq!(back.name, "nebula:fixtures/backend#lookup");
        assert_eq!(back.span_kind, SpanKind::Server);
        assert_eq!(back.parent_span_id, client.span_context.span_id);
        for span in [client, back] {
            assert_eq!(span.span_context.trace_id, front.span_context.trace_id);
        }
    }
    // The unknown id's lookup failed; both of its spans say so.
    for span in &spans[2..4] {
        assert!(matches!(
            span.status,
            nebula_native::host::otel::Status::Error(_)
        ));
    }
    // Ordering: the front span starts first and ends last.
    assert!(matches!(&events[0], Recorded::Started(cx) if *cx == front.span_context));
    assert!(runner.otel().stack().is_empty());
    Ok(())
}

#[test]
fn hand_made_spans_nest_inside_nebula_spans() -> Result<()> {
    let mut runner = Runner::new(&instrumented(fixtures::MANUAL))?;
    let out = runner.call("nebula:fixtures/manual@0.1.0#work", &[Val::U32(5)])?;
    let want = Runner::new(&read(fixtures::MANUAL))?
        .call("nebula:fixtures/manual@0.1.0#work", &[Val::U32(5)])?;
    assert!(all_same(&want, &out));
    let events = runner.take_spans();
    let spans = ended(&events);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let (manual, nebula) = (spans[0], spans[1]);
    assert_eq!(manual.name, "manual-work");
    assert_eq!(nebula.name, "nebula:fixtures/manual#work");
    assert_eq!(manual.parent_span_id, nebula.span_context.span_id);
    assert_eq!(manual.span_context.trace_id, nebula.span_context.trace_id);
    Ok(())
}

/// The largest linear memory size any instance asked for, in bytes.
fn memory_high_water(runner: &mut Runner) -> usize {
    runner.store().data().memory_high_water()
}

#[test]
fn long_lived_instance_keeps_its_memory_flat() -> Result<()> {
    let mut runner = Runner::new(&instrumented(fixtures::TYPES))?;
    let text = Val::String("x".repeat(4096));
    let call = |runner: &mut Runner| -> Result<()> {
        runner.call(
            "nebula:fixtures/types@0.1.0#echo-string",
            std::slice::from_ref(&text),
        )?;
        runner.take_spans();
        Ok(())
    };
    for _ in 0..100 {
        call(&mut runner)?;
    }
    let warm = memory_high_water(&mut runner);
    for _ in 0..10_000 {
        call(&mut runner)?;
    }
    assert_eq!(
        memory_high_water(&mut runner),
        warm,
        "memory grew over 10,000 calls of 4 KiB each"
    );
    Ok(())
}

#[test]
fn spans_inside_one_long_call_do_not_accumulate_memory() -> Result<()> {
    // One `describe` of many ids makes four spans per id (front client,
    // middle server and client, back server) under one open server span:
    // the shared span runtime must free each span's data when it ends, not
    // when the outer call returns.
    let (_, plain) = three_chain()?;
    let out = instrument(&plain, &Options::default())?;
    let describe = |runner: &mut Runner, n: u32| -> Result<usize> {
        let ids = Val::List((0..n).map(|i| Val::U32(i % 4)).collect());
        runner.call("nebula:fixtures/frontend@0.1.0#describe", &[ids])?;
        Ok(ended(&runner.take_spans()).len())
    };
    let mut runner = Runner::new(&out.component)?;
    describe(&mut runner, 10)?;
    let warm = memory_high_water(&mut runner);
    let spans = describe(&mut runner, 5_000)?;
    assert_eq!(spans, 1 + 4 * 5_000, "the server span and four per id");
    let grown = memory_high_water(&mut runner) - warm;
    // The call's own values (5,000 ids and descriptions) take a few hundred
    // KiB across the instances; 20,000 spans kept until the end would take
    // megabytes.
    assert!(
        grown < 1 << 20,
        "memory grew by {grown} bytes over one call making 20,000 spans"
    );
    Ok(())
}
