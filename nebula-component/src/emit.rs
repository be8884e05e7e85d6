//! Builds what a [`Plan`] says: for a boundary, its proxies (through
//! [`crate::proxy`]) composed with the target's stand-in (through
//! [`crate::compose`]); for a composition, each part the same way, then
//! the composition again with the parts replaced. The output's one span
//! runtime is instantiated where the output is finished.

use crate::plan::{Boundary, CompositionPlan, Plan};
use crate::proxy::{Proxy, SpanRuntime};
use crate::{Direction, Error, OtelFlavor, Report, compose};

/// Whether a part is the whole output (its composition instantiates the
/// span runtime) or an inner component of one (its proxies import
/// `nebula:spans` from the enclosing composition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The whole output.
    Output,
    /// An inner component of the output.
    Inner,
}

/// What the report says of inner components left alone.
const NOT_A_PLAIN_COMPOSITION: &str = "inner components: not instrumented, only the outer \
    boundary is: the top level is not a plain composition (it also has core modules, `canon` \
    functions, or imports of functions or types)";

/// Builds the component `plan` describes, its proxies' span descriptors
/// going to `runtime`. The result holds stand-ins where the plan's
/// components go.
pub(crate) fn emit(
    plan: &Plan<'_>,
    flavor: &OtelFlavor,
    runtime: &mut SpanRuntime,
    finish: Finish,
) -> Result<(Vec<u8>, Report), Error> {
    match plan {
        Plan::Boundary(boundary) => {
            let (bytes, mut report) = boundary_of(boundary, flavor, runtime, finish)?;
            if boundary.inner_left_alone {
                report.skipped.push(NOT_A_PLAIN_COMPOSITION.into());
            }
            Ok((bytes, report))
        }
        Plan::Composition(composition) => inside(composition, flavor, runtime, finish),
    }
}

/// The span runtime component when `finish` is the output's and a proxy
/// needs it.
fn runtime_here(
    runtime: &SpanRuntime,
    flavor: &OtelFlavor,
    finish: Finish,
) -> Result<Option<Vec<u8>>, Error> {
    match finish {
        Finish::Output if runtime.is_used() => runtime.component(flavor).map(Some),
        _ => Ok(None),
    }
}

/// Wraps one boundary.
fn boundary_of(
    boundary: &Boundary<'_>,
    flavor: &OtelFlavor,
    runtime: &mut SpanRuntime,
    finish: Finish,
) -> Result<(Vec<u8>, Report), Error> {
    let plan = &boundary.plan;
    let mut proxy = |side| -> Result<Option<Proxy>, Error> {
        match plan.wrapped(side).next() {
            Some(_) => Proxy::build(plan, side, runtime).map(Some),
            None => Ok(None),
        }
    };
    let import_proxy = proxy(Direction::Import)?;
    let export_proxy = proxy(Direction::Export)?;
    if import_proxy.is_none() && export_proxy.is_none() {
        // Nothing to wrap: the input is already the answer.
        return Ok((boundary.stand_in.clone(), plan.report(String::new())));
    }
    let composed = compose::compose(
        &boundary.stand_in,
        &boundary.top,
        plan,
        import_proxy.as_ref(),
        export_proxy.as_ref(),
        runtime_here(runtime, flavor, finish)?.as_deref(),
        runtime.served(),
    )?;
    let proxies: Vec<Proxy> = [import_proxy, export_proxy].into_iter().flatten().collect();
    let wit = proxies
        .iter()
        .map(|p| p.wit.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut report = plan.report(wit);
    report
        .skipped
        .extend(proxies.iter().flat_map(|p| p.notes.iter().cloned()));
    Ok((composed, report))
}

/// Instruments each inner component of a composition and re-composes them:
/// calls between inner components, and from them to the composition's
/// imports, become spans; the composition's exports are the inner
/// components' wrapped exports.
fn inside(
    plan: &CompositionPlan<'_>,
    flavor: &OtelFlavor,
    runtime: &mut SpanRuntime,
    finish: Finish,
) -> Result<(Vec<u8>, Report), Error> {
    let mut report = Report::default();
    let mut replaced = Vec::new();
    for part in &plan.parts {
        let label = &part.label;
        let (bytes, inner_report) =
            emit(&part.plan, flavor, runtime, Finish::Inner).map_err(|e| e.inside(label))?;
        report.components.push(label.clone());
        report.wrapped.extend(inner_report.wrapped);
        report.skipped.extend(
            inner_report
                .skipped
                .into_iter()
                .map(|s| format!("[{label}] {s}")),
        );
        if !inner_report.proxy_wit.is_empty() {
            report.proxy_wit.push_str(&format!(
                "// inner component {label}\n{}\n",
                inner_report.proxy_wit
            ));
        }
        report.components.extend(
            inner_report
                .components
                .into_iter()
                .map(|c| format!("{label}/{c}")),
        );
        replaced.push(bytes);
    }
    let bytes = plan.composition.rebuild(
        &plan.stand_in,
        &replaced,
        runtime_here(runtime, flavor, finish)?.as_deref(),
        runtime.served(),
    )?;
    compose::validate(&bytes)?;
    Ok((bytes, report))
}
