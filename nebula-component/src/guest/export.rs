//! The `nebula:instrument/instrumenter` export: converts between the WIT
//! types and the library's, and calls [`nebula_component::instrument`].

use nebula_component::{Error, Options, OtelFlavor, Pattern};

wit_bindgen::generate!({
    path: "../wit",
    world: "nebula:instrument/instrument",
});

use exports::nebula::instrument::instrumenter as wit;

struct Instrumenter;

impl wit::Guest for Instrumenter {
    fn instrument(
        component: Vec<u8>,
        options: wit::Options,
    ) -> Result<wit::Instrumented, wit::Error> {
        let options = convert_options(options).map_err(convert_error)?;
        let done = nebula_component::instrument(&component, &options).map_err(convert_error)?;
        let report = done.report;
        Ok(wit::Instrumented {
            component: done.component,
            report: wit::Report {
                proxy_wit: report.proxy_wit,
                wrapped: report
                    .wrapped
                    .into_iter()
                    .map(|f| wit::WrappedFunction {
                        span_name: f.span_name,
                        direction: match f.direction {
                            nebula_component::Direction::Export => wit::Direction::Export,
                            nebula_component::Direction::Import => wit::Direction::Import,
                        },
                        interface: f.interface,
                        function: f.function,
                    })
                    .collect(),
                skipped: report.skipped,
                components: report.components,
            },
        })
    }
}

/// The library's options from the WIT record; a malformed pattern is
/// [`Error::BadOptions`].
fn convert_options(options: wit::Options) -> Result<Options, Error> {
    let patterns = |ps: Vec<String>| {
        ps.iter()
            .map(|p| Pattern::new(p))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Options {
        include: patterns(options.include)?,
        exclude: patterns(options.exclude)?,
        flavor: match options.flavor {
            wit::OtelFlavor::Inner => OtelFlavor::Inner,
            wit::OtelFlavor::Current(version) => OtelFlavor::Current(version),
        },
        component_name: options.component_name,
        depth: options.depth,
    })
}

fn convert_error(error: Error) -> wit::Error {
    match error {
        Error::NotAComponent(m) => wit::Error::NotAComponent(m),
        Error::Invalid(m) => wit::Error::Invalid(m),
        Error::Unsupported(m) => wit::Error::Unsupported(m),
        Error::BadOptions(m) => wit::Error::BadOptions(m),
        Error::Internal(m) => wit::Error::Internal(m),
    }
}

export!(Instrumenter);
