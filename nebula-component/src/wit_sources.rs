//! The WIT of the span runtime's imports (`wasi:otel`, the clock and the
//! random source) and of `nebula:spans`, which connects every proxy to the
//! runtime, embedded from the repository's `wit/`.

use wit_parser::{InterfaceId, Resolve};

use crate::options::OptionsError;
use crate::{Error, OtelFlavor};

/// The `wasi:otel` package version of the default (`inner`) flavor.
const INNER_VERSION: &str = "0.3.0";

/// The packages, dependencies first, as (file name, source).
const PACKAGES: &[(&str, &str)] = &[
    (
        "wit/deps/clocks/wall-clock.wit",
        include_str!("../../wit/deps/clocks/wall-clock.wit"),
    ),
    (
        "wit/deps/random/random.wit",
        include_str!("../../wit/deps/random/random.wit"),
    ),
    (
        "wit/deps/spans/spans.wit",
        include_str!("../../wit/deps/spans/spans.wit"),
    ),
    (
        "wit/deps/otel.wit",
        concat!(
            include_str!("../../wit/deps/otel/types.wit"),
            include_str!("../../wit/deps/otel/tracing.wit"),
            include_str!("../../wit/deps/otel/world.wit"),
        ),
    ),
];

/// The name proxies import the span runtime by, and the runtime exports.
pub(crate) const SPANS_INTERFACE: &str = "nebula:spans/spans@0.1.0";

/// The interfaces the span runtime imports, and the one it exports, in a
/// `Resolve` of their own.
pub(crate) struct RuntimeImports {
    /// The resolve holding only the packages above.
    pub resolve: Resolve,
    /// What the runtime imports, dependencies first, so they can be
    /// appended to a world's imports in this order.
    pub interfaces: Vec<InterfaceId>,
    /// `nebula:spans/spans`, what the runtime exports and proxies import.
    pub spans: InterfaceId,
}

impl RuntimeImports {
    /// Parses the embedded WIT, adapted to `flavor`: the `current` flavor
    /// is the same package at another version, with `current-span-context`
    /// in place of `inner-span-context` and `outer-span-context`.
    pub fn load(flavor: &OtelFlavor) -> Result<Self, Error> {
        let mut resolve = Resolve::default();
        for (path, source) in PACKAGES {
            let source = match flavor {
                OtelFlavor::Current(version) if path.ends_with("otel.wit") => {
                    current_flavor(source, version)?
                }
                _ => source.to_string(),
            };
            resolve
                .push_str(path, &source)
                .map_err(|e| Error::internal("embedded WIT does not parse", e))?;
        }
        let otel = format!("wasi:otel@{}", otel_version(flavor));
        let interface = |resolve: &Resolve, package: &str, name: &str| {
            resolve
                .packages
                .iter()
                .find(|(_, p)| p.name.to_string() == package)
                .and_then(|(_, p)| p.interfaces.get(name).copied())
                .ok_or_else(|| Error::bug(format!("embedded WIT lacks `{package}/{name}`")))
        };
        let interfaces = vec![
            interface(&resolve, "wasi:clocks@0.2.0", "wall-clock")?,
            interface(&resolve, "wasi:random@0.2.0", "random")?,
            interface(&resolve, &otel, "types")?,
            interface(&resolve, &otel, "tracing")?,
        ];
        let spans = interface(&resolve, "nebula:spans@0.1.0", "spans")?;
        Ok(RuntimeImports {
            resolve,
            interfaces,
            spans,
        })
    }
}

/// `nebula:spans` alone, in a `Resolve` of its own: what every proxy
/// imports. (The span runtime's other imports stay out of the target's
/// `Resolve`: merged into it, they would widen the target's own trimmed
/// view of `wasi:clocks` or `wasi:random`.)
pub(crate) fn spans_interface() -> Result<(Resolve, InterfaceId), Error> {
    let mut resolve = Resolve::default();
    let (path, source) = PACKAGES
        .iter()
        .find(|(path, _)| path.ends_with("spans.wit"))
        .ok_or_else(|| Error::bug("embedded WIT lacks `nebula:spans`"))?;
    let package = resolve
        .push_str(path, source)
        .map_err(|e| Error::internal("embedded WIT does not parse", e))?;
    let spans = resolve.packages[package]
        .interfaces
        .get("spans")
        .copied()
        .ok_or_else(|| Error::bug("embedded WIT lacks `nebula:spans/spans`"))?;
    Ok((resolve, spans))
}

/// The `wasi:otel` package version `flavor` imports.
fn otel_version(flavor: &OtelFlavor) -> &str {
    match flavor {
        OtelFlavor::Inner => INNER_VERSION,
        OtelFlavor::Current(version) => version,
    }
}

/// Checks the options' `flavor` before anything is built.
pub(crate) fn check_flavor(flavor: &OtelFlavor) -> Result<(), OptionsError> {
    match flavor {
        OtelFlavor::Current(version) if semver_like(version).is_none() => {
            Err(OptionsError::FlavorVersion(version.clone()))
        }
        _ => Ok(()),
    }
}

/// The embedded `wasi:otel` WIT rewritten for the `current` flavor.
fn current_flavor(source: &str, version: &str) -> Result<String, Error> {
    check_flavor(&OtelFlavor::Current(version.to_string()))?;
    let mut out = String::with_capacity(source.len());
    let mut skip_doc = Vec::new();
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("///") {
            skip_doc.push(line);
            continue;
        }
        if trimmed.starts_with("outer-span-context:") {
            skip_doc.clear();
            continue;
        }
        for doc in skip_doc.drain(..) {
            out.push_str(doc);
            out.push('\n');
        }
        let line = line
            .replace(
                &format!("package wasi:otel@{INNER_VERSION};"),
                &format!("package wasi:otel@{version};"),
            )
            .replace("inner-span-context:", "current-span-context:");
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// `Some` when `version` has the shape `MAJOR.MINOR.PATCH[-PRE][+BUILD]`.
fn semver_like(version: &str) -> Option<()> {
    let core = version.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    (parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(())
}
