//! The differential check: every export of a component called plain and
//! instrumented with the same edge-value inputs; results must be identical,
//! and each call into the instrumented component makes exactly one span.

use nebula_native::host::otel::{Recorded, SpanKind};
use wasmtime::Result;

use crate::host::Runner;
use crate::values::{all_same, arg_combinations};

/// The span name of export `name` (`ns:pkg/iface@v#f` → `ns:pkg/iface#f`).
pub fn span_name(name: &str) -> String {
    match name.split_once('#') {
        Some((iface, func)) => {
            let iface = iface.split_once('@').map_or(iface, |(i, _)| i);
            format!("{iface}#{func}")
        }
        None => name.to_string(),
    }
}

/// Asserts the last call made exactly one server span named `name`, ended,
/// with the host's stack empty again.
pub fn assert_one_span(runner: &mut Runner, name: &str) {
    let events = runner.take_spans();
    assert_eq!(events.len(), 2, "`{name}`: {events:#?}");
    let (Recorded::Started(started), Recorded::Ended(ended)) = (&events[0], &events[1]) else {
        panic!("`{name}`: expected start then end: {events:#?}");
    };
    assert_eq!(started, &ended.span_context);
    assert_eq!(ended.name, span_name(name));
    assert_eq!(ended.span_kind, SpanKind::Server);
    assert!(runner.otel().stack().is_empty(), "`{name}` left spans open");
}

/// Calls every export of `plain` and of `traced` (its instrumented self)
/// with the same arguments, but those `skip` names; returns the number of
/// calls compared and the runner of `traced`, for more calls.
pub fn differential(
    plain: &[u8],
    traced: &[u8],
    skip: &dyn Fn(&str) -> bool,
) -> Result<(usize, Runner)> {
    let mut plain = Runner::new(plain)?;
    let mut traced = Runner::new(traced)?;
    let calls = compare_exports(&mut plain, &mut traced, skip, &mut assert_one_span)?;
    Ok((calls, traced))
}

/// The differential check on two running components: every export of
/// `plain` called on both with the same arguments (but those `skip` names
/// and resource functions), results compared; `after` checks `traced`
/// after each call, given the export's name. Returns the calls compared.
pub fn compare_exports(
    plain: &mut Runner,
    traced: &mut Runner,
    skip: &dyn Fn(&str) -> bool,
    after: &mut dyn FnMut(&mut Runner, &str),
) -> Result<usize> {
    let exports = plain.exports();
    let names = |r: &Runner| r.exports().into_iter().map(|e| e.name).collect::<Vec<_>>();
    assert_eq!(names(plain), names(traced), "export names differ");
    let mut calls = 0;
    for export in exports {
        // Resource constructors and methods hand out and take handles,
        // which compare by identity: `resources.rs` checks them.
        if export.name.contains("#[") || skip(&export.name) {
            continue;
        }
        for args in arg_combinations(&export.param_types()) {
            let want = plain.call(&export.name, &args)?;
            let got = traced.call(&export.name, &args)?;
            assert!(
                all_same(&want, &got),
                "`{}`({args:?}): plain {want:?}, instrumented {got:?}",
                export.name
            );
            after(traced, &export.name);
            calls += 1;
        }
    }
    Ok(calls)
}
