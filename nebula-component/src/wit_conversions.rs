//! The one conversion between the library's types and the
//! `nebula:instrument/instrumenter` WIT types.
//!
//! The WIT types exist twice in Rust, with the same names and fields: as
//! `wit-bindgen` makes them inside `nebula.wasm` and as wasmtime's
//! `bindgen!` makes them for its native host. [`wit_conversions!`] is
//! written once against those names and expanded on each side, so the
//! options, results and errors cross the boundary by the same code both
//! ways.

/// Defines, in the calling module, the conversions between the library's
/// types and those of the generated WIT module `$wit`, a name in scope (the
/// `nebula:instrument/instrumenter` interface's bindings):
///
/// - `options_to_wit(&Options) -> $wit::Options` and
///   `options_from_wit($wit::Options) -> Result<Options, OptionsError>` (a
///   pattern is checked again as it comes in);
/// - `instrumented_to_wit(Instrumented) -> $wit::Instrumented` and
///   `instrumented_from_wit($wit::Instrumented) -> Instrumented`;
/// - `error_to_wit(&Error) -> $wit::Error` (kind, message, causes) and
///   `error_from_wit($wit::Error) -> Error` (the same chain, rebuilt).
#[macro_export]
macro_rules! wit_conversions {
    ($wit:ident) => {
        #[allow(dead_code)]
        mod wit_conversions {
            use super::$wit as wit;
            use $crate::{
                Direction, Error, ErrorKind, ExportTo, Instrumented, Options, OptionsError,
                OtelFlavor, Pattern, Report, WrappedFunction,
            };

            /// The error kinds, each with its WIT case.
            const KINDS: [(ErrorKind, wit::ErrorKind); 5] = [
                (ErrorKind::NotAComponent, wit::ErrorKind::NotAComponent),
                (ErrorKind::Invalid, wit::ErrorKind::Invalid),
                (ErrorKind::Unsupported, wit::ErrorKind::Unsupported),
                (ErrorKind::BadOptions, wit::ErrorKind::BadOptions),
                (ErrorKind::Internal, wit::ErrorKind::Internal),
            ];

            pub fn options_to_wit(options: &Options) -> wit::Options {
                let patterns = |ps: &[Pattern]| ps.iter().map(|p| p.as_str().into()).collect();
                wit::Options {
                    include: patterns(&options.include),
                    exclude: patterns(&options.exclude),
                    flavor: match &options.flavor {
                        OtelFlavor::Inner => wit::OtelFlavor::Inner,
                        OtelFlavor::Outer => wit::OtelFlavor::Outer,
                        OtelFlavor::Current(version) => wit::OtelFlavor::Current(version.clone()),
                    },
                    component_name: options.component_name.clone(),
                    depth: options.depth,
                    export_to: options.export_to.as_ref().map(|to| match to {
                        ExportTo::Stderr => wit::ExportTo::Stderr,
                        ExportTo::Console => wit::ExportTo::Console,
                        ExportTo::File(path) => wit::ExportTo::File(path.clone()),
                        ExportTo::Otlp(url) => wit::ExportTo::Otlp(url.clone()),
                    }),
                    service_name: options.service_name.clone(),
                }
            }

            pub fn options_from_wit(options: wit::Options) -> Result<Options, OptionsError> {
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
                        wit::OtelFlavor::Outer => OtelFlavor::Outer,
                        wit::OtelFlavor::Current(version) => OtelFlavor::Current(version),
                    },
                    component_name: options.component_name,
                    depth: options.depth,
                    export_to: match options.export_to {
                        None => None,
                        Some(wit::ExportTo::Stderr) => Some(ExportTo::Stderr),
                        Some(wit::ExportTo::Console) => Some(ExportTo::Console),
                        Some(wit::ExportTo::File(path)) if path.is_empty() => {
                            return Err(OptionsError::ExportTo("file:".into()));
                        }
                        Some(wit::ExportTo::File(path)) => Some(ExportTo::File(path)),
                        Some(wit::ExportTo::Otlp(url)) => Some(ExportTo::otlp(&url)?),
                    },
                    service_name: options.service_name,
                })
            }

            pub fn instrumented_to_wit(done: Instrumented) -> wit::Instrumented {
                let report = done.report;
                wit::Instrumented {
                    component: done.component,
                    report: wit::Report {
                        proxy_wit: report.proxy_wit,
                        wrapped: report
                            .wrapped
                            .into_iter()
                            .map(|f| wit::WrappedFunction {
                                span_name: f.span_name,
                                direction: match f.direction {
                                    Direction::Export => wit::Direction::Export,
                                    Direction::Import => wit::Direction::Import,
                                },
                                interface: f.interface,
                                function: f.function,
                            })
                            .collect(),
                        skipped: report.skipped,
                        components: report.components,
                    },
                }
            }

            pub fn instrumented_from_wit(done: wit::Instrumented) -> Instrumented {
                let report = done.report;
                Instrumented {
                    component: done.component,
                    report: Report {
                        proxy_wit: report.proxy_wit,
                        wrapped: report
                            .wrapped
                            .into_iter()
                            .map(|f| WrappedFunction {
                                span_name: f.span_name,
                                direction: match f.direction {
                                    wit::Direction::Export => Direction::Export,
                                    wit::Direction::Import => Direction::Import,
                                },
                                interface: f.interface,
                                function: f.function,
                            })
                            .collect(),
                        skipped: report.skipped,
                        components: report.components,
                    },
                }
            }

            pub fn error_to_wit(error: &Error) -> wit::Error {
                let kind = error.kind();
                wit::Error {
                    kind: KINDS
                        .iter()
                        .find(|(k, _)| *k == kind)
                        .map(|(_, w)| *w)
                        .expect("every kind is in KINDS"),
                    message: error.to_string(),
                    causes: error.causes(),
                }
            }

            pub fn error_from_wit(error: wit::Error) -> Error {
                let kind = KINDS
                    .iter()
                    .find(|(_, w)| *w == error.kind)
                    .map(|(k, _)| *k)
                    .expect("every kind is in KINDS");
                Error::reported(kind, error.message, error.causes)
            }
        }
        #[allow(unused_imports)]
        use wit_conversions::*;
    };
}
