//! Nebula's instrumenter: WebAssembly component bytes in, the same component
//! wrapped in `wasi:otel` tracing proxies out.
//!
//! The pipeline runs in named phases, each in its own module:
//!
//! 1. [`analyze`]: validate the input, recover its world and decide what to
//!    wrap (an immutable [`analyze::Plan`]);
//! 2. [`proxy`]: synthesize the proxies as wasm: core modules made of the
//!    prebuilt proxy base plus one generated forwarder per function, and
//!    the output's one span runtime, turned into components by
//!    `wit-component`;
//! 3. [`compose`]: wire target, proxies and runtime together with
//!    `wac-graph` and validate the result (`nested` does the same inside
//!    compositions).
//!
//! No I/O happens here: the same code runs natively and inside `nebula.wasm`.
#![deny(missing_docs)]

pub mod analyze;
#[cfg(feature = "cli")]
pub mod cli;
pub mod compose;
mod error;
mod nested;
mod options;
pub mod proxy;
mod report;
mod wit_sources;
mod wit_walk;

pub use error::Error;
pub use options::{Options, OtelFlavor, Pattern};
pub use report::{Direction, Report, WrappedFunction};

/// The instrumented component and what was done to it.
#[derive(Debug, Clone)]
pub struct Instrumented {
    /// The binary-encoded, validated, composed component.
    pub component: Vec<u8>,
    /// What was wrapped, what was left alone, and the proxy world.
    pub report: Report,
}

/// Instruments one component: every exported function the options select is
/// wrapped in a `server` span.
///
/// Returns a typed [`Error`] for input that is not a valid component, and
/// never panics on bad input.
pub fn instrument(component: &[u8], options: &Options) -> Result<Instrumented, Error> {
    let mut runtime = proxy::SpanRuntime::new()?;
    instrument_part(component, options, &mut runtime, Finish::Output)
}

/// Whether a part is the whole output (its composition instantiates the
/// span runtime) or an inner component of one (its proxies import
/// `nebula:spans` from the enclosing composition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    Output,
    Inner,
}

/// Instruments `component`, its proxies' span descriptors going to
/// `runtime`.
fn instrument_part(
    component: &[u8],
    options: &Options,
    runtime: &mut proxy::SpanRuntime,
    finish: Finish,
) -> Result<Instrumented, Error> {
    let plan = analyze::Plan::new(component, options)?;
    if options.depth != Some(0) {
        if let Some(composition) = nested::Composition::read(component) {
            return instrument_inside(component, &composition, options, runtime, finish);
        }
        if nested::has_inner_components(component) {
            let mut done = instrument_boundary(component, &plan, options, runtime, finish)?;
            done.report.skipped.push(NOT_A_PLAIN_COMPOSITION.into());
            return Ok(done);
        }
    }
    instrument_boundary(component, &plan, options, runtime, finish)
}

/// The span runtime component when `finish` is the output's and a proxy
/// needs it.
fn runtime_here(
    runtime: &proxy::SpanRuntime,
    options: &Options,
    finish: Finish,
) -> Result<Option<Vec<u8>>, Error> {
    match finish {
        Finish::Output if runtime.is_used() => runtime.component(&options.flavor).map(Some),
        _ => Ok(None),
    }
}

/// What the report says of inner components left alone.
const NOT_A_PLAIN_COMPOSITION: &str = "inner components: not instrumented, only the outer \
    boundary is: the top level is not a plain composition (it also has core modules, `canon` \
    functions, or imports of functions or types)";

/// Wraps the boundary of the component `plan` describes.
fn instrument_boundary(
    component: &[u8],
    plan: &analyze::Plan,
    options: &Options,
    runtime: &mut proxy::SpanRuntime,
    finish: Finish,
) -> Result<Instrumented, Error> {
    let mut proxy = |side| -> Result<Option<proxy::Proxy>, Error> {
        match plan.wrapped(side).next() {
            Some(_) => proxy::Proxy::build(plan, side, runtime).map(Some),
            None => Ok(None),
        }
    };
    let import_proxy = proxy(Direction::Import)?;
    let export_proxy = proxy(Direction::Export)?;
    if import_proxy.is_none() && export_proxy.is_none() {
        // Nothing to wrap: the input is already the answer.
        return Ok(Instrumented {
            component: component.to_vec(),
            report: plan.report(String::new()),
        });
    }
    let composed = compose::compose(
        component,
        plan,
        import_proxy.as_ref(),
        export_proxy.as_ref(),
        runtime_here(runtime, options, finish)?.as_deref(),
    )?;
    let wit = [import_proxy, export_proxy]
        .into_iter()
        .flatten()
        .map(|p| p.wit)
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Instrumented {
        component: composed,
        report: plan.report(wit),
    })
}

/// Instruments each inner component of `composition` (one level less deep)
/// and re-composes them: calls between inner components, and from them to
/// the composition's imports, become spans; the composition's exports are
/// the inner components' wrapped exports.
fn instrument_inside(
    component: &[u8],
    composition: &nested::Composition,
    options: &Options,
    runtime: &mut proxy::SpanRuntime,
    finish: Finish,
) -> Result<Instrumented, Error> {
    let inner_options = Options {
        depth: options.depth.map(|d| d - 1),
        component_name: None,
        ..options.clone()
    };
    let mut report = Report::default();
    let mut replaced = Vec::new();
    for (i, inner) in composition.components(component).into_iter().enumerate() {
        let label = analyze::component_name(inner).unwrap_or_else(|| format!("#{i}"));
        let instrumented = instrument_part(inner, &inner_options, runtime, Finish::Inner)
            .map_err(|e| e.inside(&label))?;
        let inner_report = instrumented.report;
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
        replaced.push(instrumented.component);
    }
    let bytes = composition.rebuild(
        component,
        &replaced,
        runtime_here(runtime, options, finish)?.as_deref(),
    )?;
    compose::validate(&bytes)?;
    Ok(Instrumented {
        component: bytes,
        report,
    })
}
