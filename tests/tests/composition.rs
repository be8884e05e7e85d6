//! Across composition: components instrumented separately and then
//! composed nest their spans through `inner-span-context` (A's server span
//! → A's client span for the import → B's server span); hand-made spans
//! inside an instrumented component nest too; and a long-lived instance
//! does not grow its memory.

use nebula_component::{Options, instrument};
use nebula_native::host::otel::{Recorded, SpanData, SpanKind};
use nebula_tests::compose::plug;
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::Runner;
use nebula_tests::values::all_same;
use wasmtime::Result;
use wasmtime::component::Val;

fn instrumented(path: &str) -> Vec<u8> {
    instrument(&read(path), &Options::default())
        .unwrap_or_else(|e| panic!("instrumenting {path}: {e}"))
        .component
}

fn ended(events: &[Recorded]) -> Vec<&SpanData> {
    events
        .iter()
        .filter_map(|e| match e {
            Recorded::Ended(span) => Some(span),
            Recorded::Started(_) => None,
        })
        .collect()
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
    let describe = "nebula:fixtures/frontend@0.1.0#describe";
    let args = [ids(&[1, 42, 2])];
    let want = Runner::new(&plain)?.call(describe, &args)?;
    let mut runner = Runner::new(&traced)?;
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
