//! Exported resources through the export proxy: a scripted session over
//! the `counters` fixture runs plain and instrumented; values, object
//! identity and destructor counts must agree, and every call makes one
//! server span named `<interface>#<resource>.<method>`.

use nebula_component::{Instrumented, Options, instrument};
use nebula_native::host::otel::{Recorded, SpanKind};
use nebula_tests::fixtures::{self, read};
use nebula_tests::host::Runner;
use nebula_tests::values::all_same;
use wasmtime::Result;
use wasmtime::component::{ResourceAny, Val};

const COUNTERS: &str = "nebula:fixtures/counters@0.1.0";

/// One session over a runner: calls functions, checks spans when traced.
struct Session {
    runner: Runner,
    traced: bool,
    /// The plain values seen, in call order.
    seen: Vec<Val>,
}

impl Session {
    fn new(component: &[u8], traced: bool) -> Result<Self> {
        Ok(Session {
            runner: Runner::new(component)?,
            traced,
            seen: Vec::new(),
        })
    }

    /// Calls `func` (`[method]counter.add`, `make-pair`, ...); checks its
    /// span (named `span`) when traced.
    fn call(&mut self, func: &str, span: &str, args: &[Val]) -> Result<Val> {
        let results = self.runner.call(&format!("{COUNTERS}#{func}"), args)?;
        if self.traced {
            let events = self.runner.take_spans();
            let [Recorded::Started(started), Recorded::Ended(ended)] = events.as_slice() else {
                panic!("`{func}`: expected one span, got {events:#?}");
            };
            assert_eq!(started, &ended.span_context);
            assert_eq!(ended.name, format!("nebula:fixtures/counters#{span}"));
            assert_eq!(ended.span_kind, SpanKind::Server);
            assert!(self.runner.otel().stack().is_empty());
        }
        Ok(results.into_iter().next().unwrap_or(Val::Bool(false)))
    }

    /// Like [`Session::call`], and remembers the (resource-free) result.
    fn value(&mut self, func: &str, span: &str, args: &[Val]) -> Result<()> {
        let v = self.call(func, span, args)?;
        self.seen.push(v);
        Ok(())
    }

    fn get(&mut self, c: ResourceAny) -> Result<()> {
        self.value("[method]counter.get", "counter.get", &[res(c)])
    }

    fn name(&mut self, c: ResourceAny) -> Result<()> {
        self.value("[method]counter.name", "counter.name", &[res(c)])
    }

    fn new_counter(&mut self, name: &str, start: i64) -> Result<ResourceAny> {
        let v = self.call(
            "[constructor]counter",
            "counter.new",
            &[Val::String(name.into()), Val::S64(start)],
        )?;
        Ok(handle(&v))
    }

    /// Drops `c` from the outside; no span, no trap.
    fn drop(&mut self, c: ResourceAny) -> Result<()> {
        self.runner.drop_resource(c)?;
        if self.traced {
            assert_eq!(self.runner.take_spans(), Vec::new(), "a drop made spans");
        }
        Ok(())
    }
}

fn instrumented() -> Instrumented {
    instrument(&read(fixtures::COUNTERS), &Options::default())
        .unwrap_or_else(|e| panic!("instrumenting counters: {e}"))
}

fn res(c: ResourceAny) -> Val {
    Val::Resource(c)
}

fn handle(v: &Val) -> ResourceAny {
    match v {
        Val::Resource(r) => *r,
        other => panic!("expected a resource, got {other:?}"),
    }
}

fn list(v: &Val) -> Vec<ResourceAny> {
    match v {
        Val::List(items) => items.iter().map(handle).collect(),
        other => panic!("expected a list, got {other:?}"),
    }
}

fn payload(v: &Val) -> &Val {
    match v {
        Val::Option(Some(p)) => p,
        Val::Result(Ok(Some(p))) | Val::Result(Err(Some(p))) => p,
        Val::Variant(_, Some(p)) => p,
        other => panic!("expected a payload, got {other:?}"),
    }
}

/// The scripted session; returns the census `(constructed, destroyed)`
/// after everything was dropped.
fn script(s: &mut Session) -> Result<(u32, u32)> {
    let a = s.new_counter("a", 5)?;
    let b = s.new_counter("b", 7)?;
    s.value("[method]counter.add", "counter.add", &[res(a), Val::S64(3)])?;
    s.get(a)?;
    s.name(b)?;
    let overflow = [res(a), Val::S64(i64::MAX)];
    s.value(
        "[method]counter.checked-add",
        "counter.checked-add",
        &overflow,
    )?;
    s.value(
        "[method]counter.checked-add",
        "counter.checked-add",
        &[res(b), Val::S64(1)],
    )?;

    // Static taking two borrows, returning a new own handle.
    let merged = s.call("[static]counter.merge", "counter.merge", &[res(a), res(b)])?;
    let merged = handle(&merged);
    s.get(merged)?;
    s.name(merged)?;

    // A list of own handles out, borrowed back in, then moved back in.
    let parts = s.call(
        "[method]counter.split",
        "counter.split",
        &[res(a), Val::U32(3)],
    )?;
    let parts = list(&parts);
    for part in &parts {
        s.name(*part)?;
    }
    let borrowed = Val::List(parts.iter().map(|p| res(*p)).collect());
    s.value(
        "sum-borrowed",
        "sum-borrowed",
        std::slice::from_ref(&borrowed),
    )?;
    s.value("sum-owned", "sum-owned", &[borrowed])?;

    // Own handles inside a record, out and back in.
    let pair = s.call(
        "make-pair",
        "make-pair",
        &[Val::String("p".into()), Val::S64(1), Val::S64(2)],
    )?;
    let Val::Record(fields) = &pair else {
        panic!("make-pair returned {pair:?}");
    };
    let (left, right) = (handle(&fields[0].1), handle(&fields[1].1));
    s.seen.push(fields[2].1.clone());
    s.name(left)?;
    s.get(right)?;
    s.value("sum-pair", "sum-pair", std::slice::from_ref(&pair))?;

    // Options and results.
    let some = s.call(
        "maybe",
        "maybe",
        &[Val::Option(Some(Box::new(Val::S64(4))))],
    )?;
    let some = handle(payload(&some));
    s.get(some)?;
    s.value("maybe", "maybe", &[Val::Option(None)])?;
    s.value("try-make", "try-make", &[Val::S64(-1)])?;
    let tried = s.call("try-make", "try-make", &[Val::S64(9)])?;
    let tried = handle(payload(&tried));

    // Variants: one handle, a list of handles; each comes back bumped.
    let one = s.call(
        "bump",
        "bump",
        &[Val::Variant("one".into(), Some(Box::new(res(some))))],
    )?;
    let some = handle(payload(&one));
    s.get(some)?;
    let many = Val::Variant(
        "many".into(),
        Some(Box::new(Val::List(vec![res(tried), res(merged)]))),
    );
    let many = s.call("bump", "bump", &[many])?;
    let bumped = list(payload(&many));
    for c in &bumped {
        s.get(*c)?;
    }
    s.value("bump", "bump", &[Val::Variant("empty".into(), None)])?;

    // The same object comes back: its state is kept.
    let same = s.call("identity", "identity", &[res(a)])?;
    let a = handle(&same);
    s.get(a)?;
    s.name(a)?;
    s.value("[static]counter.consume", "counter.consume", &[res(b)])?;

    for c in [a, some].into_iter().chain(bumped) {
        s.drop(c)?;
    }
    let census = s.call("census", "census", &[])?;
    let Val::Tuple(counts) = &census else {
        panic!("census returned {census:?}");
    };
    let [Val::U32(made), Val::U32(gone)] = counts.as_slice() else {
        panic!("census returned {census:?}");
    };
    Ok((*made, *gone))
}

#[test]
fn exported_resources_plain_and_instrumented_agree() -> Result<()> {
    let plain_bytes = read(fixtures::COUNTERS);
    let traced_bytes = instrumented().component;
    let mut plain = Session::new(&plain_bytes, false)?;
    let mut traced = Session::new(&traced_bytes, true)?;
    let plain_census = script(&mut plain)?;
    let traced_census = script(&mut traced)?;
    assert!(
        all_same(&plain.seen, &traced.seen),
        "plain {:?}\ninstrumented {:?}",
        plain.seen,
        traced.seen
    );
    assert!(plain.seen.len() > 25, "only {} values", plain.seen.len());
    assert_eq!(plain_census, traced_census, "(constructed, destroyed)");
    assert_eq!(
        traced_census.0, traced_census.1,
        "every counter destroyed exactly once"
    );
    assert!(traced_census.0 >= 10, "census {traced_census:?}");
    Ok(())
}

#[test]
fn exported_resource_functions_are_reported_with_resource_names() {
    let out = instrumented();
    let names: Vec<&str> = out
        .report
        .wrapped
        .iter()
        .map(|w| w.span_name.as_str())
        .collect();
    for want in [
        "nebula:fixtures/counters#counter.new",
        "nebula:fixtures/counters#counter.add",
        "nebula:fixtures/counters#counter.merge",
        "nebula:fixtures/counters#counter.consume",
        "nebula:fixtures/counters#make-pair",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let skipped = &out.report.skipped;
    assert!(
        skipped.iter().all(|s| !s.contains("counters")),
        "{skipped:?}"
    );
}
