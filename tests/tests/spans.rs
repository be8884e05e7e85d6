//! Span semantics of instrumented components: names, kinds, attributes,
//! scope, ids and parent links, trace continuity, ordering, and `error`
//! status on `result::err`.

use nebula_component::{Options, instrument};
use nebula_native::host::otel::{
    OtelHost, Recorded, SpanContext, SpanData, SpanKind, Status, TraceFlags,
};
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::Runner;
use wasmtime::Result;
use wasmtime::component::Val;

const TYPES: &str = "nebula:fixtures/types@0.1.0";
const ERRORS: &str = "nebula:fixtures/errors@0.1.0";

fn runner(path: &str, otel: OtelHost) -> Result<Runner> {
    let options = Options {
        component_name: Some("fixture".into()),
        ..Options::default()
    };
    let component = instrument(&read(path), &options)?.component;
    Runner::builder().otel(otel).build(&component)
}

/// The one span the last call made.
fn only_span(runner: &mut Runner) -> SpanData {
    let mut ended: Vec<SpanData> = runner
        .take_spans()
        .into_iter()
        .filter_map(|e| match e {
            Recorded::Ended(span) => Some(span),
            Recorded::Started(_) => None,
        })
        .collect();
    assert_eq!(ended.len(), 1, "{ended:#?}");
    ended.pop().unwrap()
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a str> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[test]
fn export_span_has_name_kind_attributes_and_scope() -> Result<()> {
    let mut runner = runner(fixtures::TYPES, OtelHost::default())?;
    runner.call(&format!("{TYPES}#echo-string"), &[Val::String("hi".into())])?;
    let events = runner.spans().to_vec();
    let span = only_span(&mut runner);
    let Recorded::Started(started) = &events[0] else {
        panic!("first event is not on-start: {events:#?}");
    };
    assert_eq!(started, &span.span_context, "on-start and on-end agree");
    assert_eq!(span.name, "nebula:fixtures/types#echo-string");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(attribute(&span, "wasm.component.name"), Some("\"fixture\""));
    assert_eq!(
        attribute(&span, "wasm.interface"),
        Some("\"nebula:fixtures/types@0.1.0\"")
    );
    assert_eq!(attribute(&span, "wasm.function"), Some("\"echo-string\""));
    assert_eq!(attribute(&span, "wasm.direction"), Some("\"export\""));
    assert_eq!(span.instrumentation_scope.name, "nebula");
    assert_eq!(
        span.instrumentation_scope.version.as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(span.status, Status::Unset);
    assert!(is_hex(&span.span_context.trace_id, 32), "{span:?}");
    assert!(is_hex(&span.span_context.span_id, 16), "{span:?}");
    assert!(!span.span_context.is_remote);
    let (start, end) = (&span.start_time, &span.end_time);
    assert!(
        (start.seconds, start.nanoseconds) <= (end.seconds, end.nanoseconds),
        "starts before it ends"
    );
    Ok(())
}

#[test]
fn freestanding_function_span_is_named_bare() -> Result<()> {
    let mut runner = runner(fixtures::TYPES, OtelHost::default())?;
    let sum = runner.call("add", &[Val::U32(2), Val::U32(40)])?;
    assert_eq!(sum, [Val::U32(42)]);
    let span = only_span(&mut runner);
    assert_eq!(span.name, "add");
    assert_eq!(attribute(&span, "wasm.interface"), None);
    assert_eq!(attribute(&span, "wasm.function"), Some("\"add\""));
    Ok(())
}

#[test]
fn without_a_parent_each_call_starts_a_trace() -> Result<()> {
    let mut runner = runner(fixtures::TYPES, OtelHost::default())?;
    runner.call(&format!("{TYPES}#echo-u8"), &[Val::U8(1)])?;
    let first = only_span(&mut runner);
    runner.call(&format!("{TYPES}#echo-u8"), &[Val::U8(2)])?;
    let second = only_span(&mut runner);
    for span in [&first, &second] {
        assert_eq!(span.parent_span_id, "", "a root span");
        assert!(span.span_context.trace_id.bytes().any(|b| b != b'0'));
        assert_eq!(span.span_context.trace_flags, TraceFlags::SAMPLED);
    }
    assert_ne!(first.span_context.trace_id, second.span_context.trace_id);
    assert_ne!(first.span_context.span_id, second.span_context.span_id);
    Ok(())
}

#[test]
fn the_hosts_current_span_is_the_parent() -> Result<()> {
    let parent = SpanContext {
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: true,
        trace_state: vec![("vendor".into(), "value".into())],
    };
    let mut runner = runner(
        fixtures::TYPES,
        OtelHost::with_remote_parent(parent.clone()),
    )?;
    runner.call(&format!("{TYPES}#echo-bool"), &[Val::Bool(true)])?;
    let span = only_span(&mut runner);
    assert_eq!(span.span_context.trace_id, parent.trace_id, "same trace");
    assert_eq!(
        span.parent_span_id, parent.span_id,
        "child of the current span"
    );
    assert_ne!(span.span_context.span_id, parent.span_id);
    assert_eq!(
        span.span_context.trace_flags, parent.trace_flags,
        "flags carried"
    );
    assert_eq!(
        span.span_context.trace_state, parent.trace_state,
        "state carried"
    );
    assert!(!span.span_context.is_remote);
    Ok(())
}

#[test]
fn an_unsampled_parent_makes_no_spans_and_the_same_results() -> Result<()> {
    let parent = SpanContext {
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        trace_flags: TraceFlags::empty(),
        is_remote: true,
        trace_state: Vec::new(),
    };
    let mut traced = runner(fixtures::TYPES, OtelHost::with_remote_parent(parent))?;
    let mut plain = Runner::new(&read(fixtures::TYPES))?;
    for text in ["", "unsampled", "λ"] {
        let name = format!("{TYPES}#echo-string");
        let args = [Val::String(text.into())];
        assert_eq!(traced.call(&name, &args)?, plain.call(&name, &args)?);
    }
    assert_eq!(
        traced.spans(),
        &[],
        "no on-start or on-end under an unsampled parent"
    );
    Ok(())
}

#[test]
fn result_err_sets_error_status_with_a_message() -> Result<()> {
    let mut runner = runner(fixtures::ERRORS, OtelHost::default())?;
    let cases: Vec<(&str, Val, Status)> = vec![
        ("check-even", Val::U32(4), Status::Unset),
        ("check-even", Val::U32(3), Status::Error("odd: 3".into())),
        ("by-code", Val::U32(0), Status::Unset),
        ("by-code", Val::U32(2), Status::Error("denied".into())),
        ("validate", Val::String("ok".into()), Status::Unset),
        ("toggle", Val::Bool(true), Status::Unset),
        ("toggle", Val::Bool(false), Status::Error("error".into())),
        ("non-negative", Val::S64(7), Status::Unset),
        ("non-negative", Val::S64(-5), Status::Error("-5".into())),
    ];
    for (func, arg, want) in cases {
        let result = runner.call(&format!("{ERRORS}#{func}"), std::slice::from_ref(&arg))?;
        let span = only_span(&mut runner);
        assert_eq!(span.status, want, "{func}({arg:?}) returned {result:?}");
    }
    // A variant error reports its case name.
    let result = runner.call(&format!("{ERRORS}#validate"), &[Val::String(String::new())])?;
    let span = only_span(&mut runner);
    let Val::Result(Err(Some(failure))) = &result[0] else {
        panic!("validate(\"\") returned {result:?}");
    };
    let Val::Variant(case, _) = failure.as_ref() else {
        panic!("not a variant: {failure:?}");
    };
    assert_eq!(span.status, Status::Error(case.clone()));
    Ok(())
}
