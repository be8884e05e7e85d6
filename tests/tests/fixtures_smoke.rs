//! Smoke test of the test infrastructure: the fixtures build and
//! instantiate, the runner calls every export with edge values, the
//! `wasi:otel` host records hand-made spans, the `store` host counts blobs.

use nebula_native::host::otel::{OtelHost, Recorded, SpanContext, TraceFlags};
use nebula_tests::compose;
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::Runner;
use nebula_tests::values::{arg_combinations, same};
use wasmtime::Result;
use wasmtime::component::{ResourceAny, Val};

const TYPES: &str = "nebula:fixtures/types@0.1.0";
const ERRORS: &str = "nebula:fixtures/errors@0.1.0";
const HANDLES: &str = "nebula:fixtures/handles@0.1.0";

/// Runs the `chain-front` fixture with `chain-back` plugged into it.
fn chain() -> Result<Runner> {
    let front = read(fixtures::CHAIN_FRONT);
    let back = read(fixtures::CHAIN_BACK);
    Runner::new(&compose::plug(&front, &[&back])?)
}

fn string(v: &str) -> Val {
    Val::String(v.into())
}

fn bytes(data: &[u8]) -> Val {
    Val::List(data.iter().map(|b| Val::U8(*b)).collect())
}

/// The single result of a call.
fn one(results: Vec<Val>) -> Val {
    assert_eq!(results.len(), 1, "expected one result: {results:?}");
    results.into_iter().next().unwrap()
}

/// The resource in a value that is one.
fn handle(v: &Val) -> ResourceAny {
    match v {
        Val::Resource(r) => *r,
        other => panic!("expected a resource, got {other:?}"),
    }
}

/// Calls every export of `runner` with edge values of its parameters;
/// `echo-*` functions must return their argument. Returns the call count.
fn call_all(runner: &mut Runner) -> Result<usize> {
    let mut calls = 0;
    for export in runner.exports() {
        let combos = arg_combinations(&export.param_types());
        assert!(!combos.is_empty(), "no edge values for `{}`", export.name);
        for args in combos {
            let results = runner.call(&export.name, &args)?;
            assert_eq!(results.len(), usize::from(export.result.is_some()));
            if export.function().starts_with("echo-") {
                assert!(
                    same(&results[0], &args[0]),
                    "`{}` echoed {:?} as {:?}",
                    export.name,
                    args[0],
                    results[0]
                );
            }
            if export.function() == "many-params" {
                let Val::Record(fields) = &results[0] else {
                    panic!("many-params returned {:?}", results[0]);
                };
                for ((_, got), sent) in fields.iter().zip(&args) {
                    assert!(same(got, sent), "many-params: {got:?} != {sent:?}");
                }
            }
            calls += 1;
        }
    }
    Ok(calls)
}

#[test]
fn every_fixture_instantiates() -> Result<()> {
    for (name, path) in fixtures::ALL {
        let runner = if *name == "chain-front" {
            chain()?
        } else if *name == "chain-middle" {
            // A backend over a backend: runs on top of `chain-back`.
            Runner::new(&nebula_tests::compose::plug(
                &read(path),
                &[&read(fixtures::CHAIN_BACK)],
            )?)?
        } else {
            Runner::new(&read(path))?
        };
        assert!(!runner.exports().is_empty(), "`{name}` exports no function");
    }
    Ok(())
}

#[test]
fn types_round_trip_edge_values() -> Result<()> {
    let mut runner = Runner::new(&read(fixtures::TYPES))?;
    let exports = runner.exports();
    let names: Vec<_> = exports.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains(&"add") && names.contains(&"greet"),
        "{names:?}"
    );
    let echoes = exports.iter().filter(|e| e.function().starts_with("echo-"));
    assert_eq!(echoes.count(), 29);

    let calls = call_all(&mut runner)?;
    assert!(calls > 100, "only {calls} calls");

    let reversed = runner.call(&format!("{TYPES}#reverse"), &[string("héllo 🌍")])?;
    assert!(same(&one(reversed), &string("🌍 olléh")));
    let sum = runner.call(
        &format!("{TYPES}#sum"),
        &[Val::List(vec![Val::Float64(1.5), Val::Float64(2.25)])],
    )?;
    assert!(same(&one(sum), &Val::Float64(3.75)));
    let count = runner.call(&format!("{TYPES}#count-chars"), &[string("€🌍a")])?;
    assert!(same(&one(count), &Val::U32(3)));
    let added = runner.call("add", &[Val::U32(2), Val::U32(40)])?;
    assert!(same(&one(added), &Val::U32(42)));
    let person = Val::Record(vec![
        ("name".into(), string("Ada")),
        ("age".into(), Val::U8(36)),
    ]);
    let greeting = runner.call("greet", &[person])?;
    assert!(same(&one(greeting), &string("Hello, Ada (36)!")));
    // The interface may be named without its version.
    let echoed = runner.call("nebula:fixtures/types#echo-u8", &[Val::U8(7)])?;
    assert!(same(&one(echoed), &Val::U8(7)));
    assert!(runner.spans().is_empty());
    Ok(())
}

#[test]
fn errors_return_ok_and_err() -> Result<()> {
    let mut runner = Runner::new(&read(fixtures::ERRORS))?;
    assert_eq!(runner.exports().len(), 5);
    assert!(call_all(&mut runner)? > 5);

    let ok = |v: Option<Val>| Val::Result(Ok(v.map(Box::new)));
    let err = |v: Option<Val>| Val::Result(Err(v.map(Box::new)));
    let cases = [
        ("check-even", Val::U32(4), ok(Some(Val::U32(8)))),
        ("check-even", Val::U32(3), err(Some(string("odd: 3")))),
        ("by-code", Val::U32(0), ok(None)),
        (
            "by-code",
            Val::U32(2),
            err(Some(Val::Enum("denied".into()))),
        ),
        ("validate", string("ok"), ok(Some(string("ok")))),
        (
            "validate",
            string(""),
            err(Some(Val::Variant(
                "invalid".into(),
                Some(Box::new(string("empty name"))),
            ))),
        ),
        ("toggle", Val::Bool(true), ok(None)),
        ("toggle", Val::Bool(false), err(None)),
        ("non-negative", Val::S64(5), ok(Some(Val::U64(5)))),
        ("non-negative", Val::S64(-5), err(Some(Val::S64(-5)))),
    ];
    for (func, arg, want) in cases {
        let got = one(runner.call(&format!("{ERRORS}#{func}"), &[arg])?);
        assert!(same(&got, &want), "{func}: {got:?} != {want:?}");
    }
    Ok(())
}

#[test]
fn manual_span_is_recorded() -> Result<()> {
    let mut runner = Runner::new(&read(fixtures::MANUAL))?;
    let out = runner.call("nebula:fixtures/manual@0.1.0#work", &[Val::U32(10)])?;
    assert!(matches!(one(out), Val::U32(_)));

    let spans = runner.take_spans();
    let [Recorded::Started(started), Recorded::Ended(ended)] = spans.as_slice() else {
        panic!("expected one started and one ended span: {spans:#?}");
    };
    assert_eq!(ended.name, "manual-work");
    assert_eq!(&ended.span_context, started);
    assert_eq!(started.trace_id.len(), 32);
    assert_eq!(started.span_id.len(), 16);
    assert_eq!(ended.parent_span_id, "");
    assert!(runner.otel().stack().is_empty());

    // With a remote parent, the span joins the parent's trace.
    let parent = SpanContext {
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: true,
        trace_state: vec![("vendor".into(), "x".into())],
    };
    let mut runner = Runner::builder()
        .otel(OtelHost::with_remote_parent(parent.clone()))
        .build(&read(fixtures::MANUAL))?;
    runner.call("nebula:fixtures/manual@0.1.0#work", &[Val::U32(3)])?;
    let ended: Vec<_> = runner.otel().ended().cloned().collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].parent_span_id, parent.span_id);
    assert_eq!(ended[0].span_context.trace_id, parent.trace_id);
    assert_eq!(ended[0].span_context.trace_state, parent.trace_state);
    assert!(runner.otel().stack().is_empty());
    Ok(())
}

#[test]
fn handles_pass_blobs_and_destructors_run() -> Result<()> {
    let mut runner = Runner::new(&read(fixtures::HANDLES))?;
    let f = |name: &str| format!("{HANDLES}#{name}");

    let a = one(runner.call(&f("make"), &[bytes(b"abc")])?);
    let b = one(runner.call(&f("make"), &[bytes(b"de")])?);
    let size = one(runner.call(&f("size"), std::slice::from_ref(&a))?);
    assert!(same(&size, &Val::U32(3)));

    let ab = one(runner.call(&f("concat"), &[a.clone(), b.clone()])?);
    let size = one(runner.call(&f("size"), std::slice::from_ref(&ab))?);
    assert!(same(&size, &Val::U32(5)));

    let first = one(runner.call(&f("first"), &[Val::List(vec![b.clone(), a.clone()])])?);
    assert!(same(&first, &Val::Option(Some(Box::new(bytes(b"de"))))));
    let none = one(runner.call(&f("first"), &[Val::List(Vec::new())])?);
    assert!(same(&none, &Val::Option(None)));

    // `consume` takes ownership: the guest drops `b`.
    let data = one(runner.call(&f("consume"), &[b])?);
    assert!(same(&data, &bytes(b"de")));
    assert_eq!(runner.blobs().dropped(), 1);

    // `wrap` moves `ab` into the returned record.
    let holder = one(runner.call(&f("wrap"), &[ab])?);
    let Val::Record(fields) = &holder else {
        panic!("wrap returned {holder:?}");
    };
    assert!(same(&fields[1].1, &string("5 bytes")));
    assert_eq!(runner.blobs().alive(), 2);

    // Every function taking only plain values runs with edge values.
    // (`make` with byte lists; `first` with the empty list.)
    let mut results = Vec::new();
    for export in runner.exports() {
        for args in arg_combinations(&export.param_types()) {
            results.extend(runner.call(&export.name, &args)?);
        }
    }
    let mut made = 0;
    for v in &results {
        made += runner.drop_owned(v)?;
    }
    assert_eq!(made, 3);

    assert_eq!(runner.drop_owned(&holder)?, 1);
    runner.drop_resource(handle(&a))?;
    let counts = runner.blobs();
    assert_eq!(counts.created(), 3 + made as u32);
    assert_eq!(counts.dropped(), counts.created());
    assert_eq!(counts.alive(), 0);
    Ok(())
}

#[test]
fn chain_front_calls_back() -> Result<()> {
    let mut runner = chain()?;
    let ids = Val::List(vec![Val::U32(1), Val::U32(9)]);
    let out = one(runner.call("nebula:fixtures/frontend@0.1.0#describe", &[ids])?);
    let want = Val::List(vec![
        string("#1: apple [fruit, red]"),
        string("#9: error: no item with id 9"),
    ]);
    assert!(same(&out, &want), "{out:?}");

    let mut back = Runner::new(&read(fixtures::CHAIN_BACK))?;
    let item = Val::Record(vec![
        ("id".into(), Val::U32(7)),
        ("name".into(), string("kiwi")),
        ("tags".into(), Val::List(vec![string("green")])),
    ]);
    let stored = one(back.call(
        "nebula:fixtures/backend@0.1.0#store",
        &[Val::List(vec![item.clone()])],
    )?);
    assert!(same(&stored, &Val::U32(1)));
    let found = one(back.call("nebula:fixtures/backend@0.1.0#lookup", &[Val::U32(7)])?);
    assert!(same(&found, &Val::Result(Ok(Some(Box::new(item))))));
    Ok(())
}

#[test]
fn cli_prints_its_arguments() -> Result<()> {
    let mut runner = Runner::builder()
        .args(&["cli", "one", "two"])
        .build(&read(fixtures::CLI))?;
    let status = one(runner.call("wasi:cli/run#run", &[])?);
    assert!(same(&status, &Val::Result(Ok(None))));
    assert_eq!(runner.stdout(), "hello from nebula: [one, two]\n");
    Ok(())
}
