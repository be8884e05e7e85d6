//! Differential tests: every export of each fixture is called plain and
//! instrumented with the same edge-value inputs; results must be identical,
//! and each call into the instrumented component makes exactly one span.

use nebula_component::{Options, instrument};
use nebula_tests::differential::assert_one_span;
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::Runner;
use nebula_tests::values::all_same;
use wasmtime::Result;
use wasmtime::component::{ResourceAny, Val};

/// The fixture at `path`, instrumented with default options.
fn instrumented(path: &str) -> Vec<u8> {
    instrument(&read(path), &Options::default())
        .unwrap_or_else(|e| panic!("instrumenting {path}: {e}"))
        .component
}

/// Calls every export of fixture `path` plain and instrumented; returns the
/// number of calls compared.
fn differential(path: &str) -> Result<usize> {
    let (calls, _) =
        nebula_tests::differential::differential(&read(path), &instrumented(path), &|_| false)?;
    Ok(calls)
}

#[test]
fn types_fixture_plain_and_instrumented_agree() -> Result<()> {
    let calls = differential(fixtures::TYPES)?;
    assert!(calls > 100, "only {calls} calls");
    Ok(())
}

#[test]
fn errors_fixture_plain_and_instrumented_agree() -> Result<()> {
    let calls = differential(fixtures::ERRORS)?;
    assert!(calls >= 10, "only {calls} calls");
    Ok(())
}

#[test]
fn chain_back_plain_and_instrumented_agree() -> Result<()> {
    differential(fixtures::CHAIN_BACK)?;
    Ok(())
}

const HANDLES: &str = "nebula:fixtures/handles@0.1.0";

fn bytes(data: &[u8]) -> Val {
    Val::List(data.iter().map(|b| Val::U8(*b)).collect())
}

fn one(results: Vec<Val>) -> Val {
    assert_eq!(results.len(), 1, "{results:?}");
    results.into_iter().next().unwrap()
}

fn handle(v: &Val) -> ResourceAny {
    match v {
        Val::Resource(r) => *r,
        other => panic!("expected a resource, got {other:?}"),
    }
}

/// A scripted session over the `handles` fixture (imported resources
/// passing through the proxy as own and borrow handles, alone and inside
/// lists and records); returns every plain value result and the host's
/// blob counts.
fn handles_session(runner: &mut Runner, traced: bool) -> Result<(Vec<Val>, (u32, u32))> {
    let mut out = Vec::new();
    let call = |runner: &mut Runner, f: &str, args: &[Val]| -> Result<Val> {
        let v = one(runner.call(&format!("{HANDLES}#{f}"), args)?);
        if traced {
            assert_one_span(runner, &format!("{HANDLES}#{f}"));
        }
        Ok(v)
    };
    let a = call(runner, "make", &[bytes(b"hello ")])?;
    let b = call(runner, "make", &[bytes(b"world")])?;
    let borrow = |v: &Val| Val::Resource(handle(v));
    out.push(call(runner, "size", &[borrow(&a)])?);
    let ab = call(runner, "concat", &[borrow(&a), borrow(&b)])?;
    out.push(call(runner, "size", &[borrow(&ab)])?);
    out.push(call(
        runner,
        "first",
        &[Val::List(vec![borrow(&b), borrow(&a)])],
    )?);
    out.push(call(runner, "first", &[Val::List(vec![])])?);
    out.push(call(runner, "consume", &[ab])?);
    let holder = call(runner, "wrap", &[b])?;
    let Val::Record(fields) = &holder else {
        panic!("wrap returned {holder:?}");
    };
    out.push(fields[1].1.clone());
    let inner = fields[0].1.clone();
    out.push(call(runner, "size", &[borrow(&inner)])?);
    runner.drop_owned(&holder)?;
    runner.drop_owned(&a)?;
    let blobs = runner.blobs();
    Ok((out, (blobs.created(), blobs.dropped())))
}

#[test]
fn imported_resource_handles_pass_through() -> Result<()> {
    let mut plain = Runner::new(&read(fixtures::HANDLES))?;
    let mut traced = Runner::new(&instrumented(fixtures::HANDLES))?;
    let (want, want_counts) = handles_session(&mut plain, false)?;
    let (got, got_counts) = handles_session(&mut traced, true)?;
    assert!(
        all_same(&want, &got),
        "plain {want:?}, instrumented {got:?}"
    );
    assert_eq!(want_counts, got_counts, "blobs (created, dropped)");
    assert_eq!(
        got_counts.0, got_counts.1,
        "every blob dropped exactly once"
    );
    Ok(())
}
