//! Nebula's instrumenter: WebAssembly component bytes in, the same component
//! wrapped in `wasi:otel` tracing proxies out.
//!
//! The pipeline runs in named phases, each in its own module:
//!
//! 1. `input`: check what the input is and validate it, once; `toplevel`
//!    reads its top level (the one reader of how a component is put
//!    together);
//! 2. `plan`: one boundary to wrap, or a composition of parts, each part
//!    with a stand-in (`stand_in`: a component of the same type without
//!    code) that the later phases handle in place of the real bytes;
//!    [`analyze`] decides what to wrap at a boundary;
//! 3. `emit`: builds what the plan says: [`proxy`] synthesizes the proxies
//!    as wasm (core modules made of the prebuilt proxy base plus one
//!    generated forwarder per function, and the output's one span runtime,
//!    turned into components by `wit-component`), [`compose`] wires
//!    target, proxies and runtime together with `wac-graph` and validates
//!    the result (and re-composes compositions);
//! 4. `stand_in`: the real components go back in place of their
//!    stand-ins.
//!
//! A caller that copies the input across a boundary (the native shim of
//! `nebula.wasm`) can hand over a [`Skeleton`] instead: the same component
//! without its modules' code, restored after.
//!
//! No I/O happens here: the same code runs natively and inside `nebula.wasm`.
#![deny(missing_docs)]

pub mod analyze;
pub mod compose;
mod emit;
mod error;
mod exporter;
mod input;
mod options;
mod plan;
pub mod proxy;
mod report;
mod skeleton;
mod stand_in;
mod toplevel;
mod wit_conversions;
mod wit_sources;
mod wit_walk;

pub use error::{Error, ErrorKind, InputError, Internal, OptionsError, ReportedCause, Unsupported};
pub use options::{ExportTo, Options, OtelFlavor, Pattern};
pub use report::{Direction, Report, WrappedFunction};
pub use skeleton::Skeleton;

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
    let input = input::Input::read(component)?;
    wit_sources::check_flavor(&options.flavor)?;
    options.check_export()?;
    let imports_otel = input
        .top
        .imports
        .iter()
        .any(|import| import.name.starts_with("wasi:otel/"));
    let service_name = options
        .service_name
        .clone()
        .or(options.component_name.clone())
        .or(input.top.name.clone())
        .unwrap_or_else(|| "component".to_string());
    let mut stand_ins = stand_in::StandIns::default();
    let plan = plan::Plan::new(input.bytes, input.top, options, &mut stand_ins)?;
    let mut runtime = proxy::SpanRuntime::new()?;
    if let Some(export_to) = &options.export_to {
        runtime.export_through(exporter::component(export_to, &service_name)?);
    }
    if imports_otel {
        // A component that talks to `wasi:otel` itself is served by the
        // span runtime where the types allow (`compose::Served`). One that
        // is not makes spans only the host sees, so the runtime asks the
        // host for every parent, in the flavors whose query answers the
        // innermost span. (`outer`'s answers only the host's own span:
        // there the stack is the truth.)
        let served =
            compose::Served::decide(plan.stand_in(), &runtime.component(&options.flavor)?)?;
        if served.leaves_tracing_to_host() && !matches!(options.flavor, OtelFlavor::Outer) {
            runtime.descriptors().ask_host_for_parents();
        }
        runtime.serve(served);
    }
    let (bytes, mut report) =
        emit::emit(&plan, &options.flavor, &mut runtime, emit::Finish::Output)?;
    if runtime.is_used() {
        report.skipped.extend(runtime.served().describe());
        if let Some(export_to) = &options.export_to {
            report.skipped.push(exporter::describe(export_to));
        }
    }
    Ok(Instrumented {
        component: stand_ins.splice(&bytes)?,
        report,
    })
}
