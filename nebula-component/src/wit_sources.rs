//! The WIT of the span runtime's imports (`wasi:otel`, the clock and the
//! random source), of `nebula:spans`, which connects every proxy to the
//! runtime, and of `nebula:served-otel`, the `wasi:otel/tracing` it serves
//! to components of its output, embedded from the repository's `wit/`. A flavor's `wasi:otel`
//! is the embedded one with the parsed `Resolve` edited ([`Edits`]): its
//! version, and the context queries it has.

use std::collections::HashMap;

use wit_parser::{
    InterfaceId, LiftLowerAbi, ManglingAndAbi, Resolve, WasmImport, WorldId, WorldKey,
};

use crate::options::OptionsError;
use crate::{Error, OtelFlavor};

/// The `wasi:otel` package version of the default (`inner`) flavor.
const INNER_VERSION: &str = "0.3.0";

/// The `wasi:otel` package version of the `outer` flavor (the upstream tag).
const OUTER_VERSION: &str = "0.2.0-rc.2";

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
    (
        "wit/deps/served-otel/served.wit",
        include_str!("../../wit/deps/served-otel/served.wit"),
    ),
];

/// The WASI 0.2 packages the in-guest exporter's destinations write
/// through, and the worlds of its components (in `wit/instrument.wit`),
/// read after [`PACKAGES`].
const EXPORTER_PACKAGES: &[(&str, &str)] = &[
    (
        "wit/deps/io/io.wit",
        include_str!("../../wit/deps/io/io.wit"),
    ),
    (
        "wit/deps/cli/stderr.wit",
        include_str!("../../wit/deps/cli/stderr.wit"),
    ),
    (
        "wit/deps/filesystem/filesystem.wit",
        include_str!("../../wit/deps/filesystem/filesystem.wit"),
    ),
    (
        "wit/deps/http/http.wit",
        include_str!("../../wit/deps/http/http.wit"),
    ),
    (
        "wit/instrument.wit",
        include_str!("../../wit/instrument.wit"),
    ),
];

/// The world `name` of `nebula:instrument` (an exporter's), in a
/// `Resolve` of the embedded WIT.
pub(crate) fn exporter_world(name: &str) -> Result<(Resolve, WorldId), Error> {
    let mut resolve = Resolve::default();
    let mut package = None;
    for (path, source) in PACKAGES.iter().chain(EXPORTER_PACKAGES) {
        package = Some(
            resolve
                .push_str(path, source)
                .map_err(|e| Error::internal("embedded WIT does not parse", e))?,
        );
    }
    let world = package
        .and_then(|package| resolve.packages[package].worlds.get(name).copied())
        .ok_or_else(|| Error::bug(format!("embedded WIT lacks the world `{name}`")))?;
    Ok((resolve, world))
}

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
    /// `nebula:served-otel`'s interfaces, which the runtime exports for the
    /// components of its output that import `wasi:otel/tracing` themselves.
    pub served: Vec<InterfaceId>,
    /// The core (legacy `module#name`) names of the `wasi:otel` functions
    /// the prebuilt span runtime imports (the `inner` flavor's), to the
    /// flavor's.
    renames: HashMap<(String, String), (String, String)>,
}

impl RuntimeImports {
    /// Parses the embedded WIT, adapted to `flavor` by editing the parsed
    /// `Resolve` (see [`Edits`]).
    pub fn load(flavor: &OtelFlavor) -> Result<Self, Error> {
        let mut resolve = Resolve::default();
        for (path, source) in PACKAGES {
            resolve
                .push_str(path, source)
                .map_err(|e| Error::internal("embedded WIT does not parse", e))?;
        }
        let inner = format!("wasi:otel@{INNER_VERSION}");
        let tracing = interface(&resolve, &inner, "tracing")?;
        let before = core_names(&resolve, tracing);
        let edits = Edits::of(flavor)?;
        edits.apply(&mut resolve, tracing)?;
        let after = core_names(&resolve, tracing);
        let renames = before
            .into_iter()
            .filter_map(|(function, core)| {
                let renamed = edits.function(&function)?;
                Some((core, after.get(renamed)?.clone()))
            })
            .collect();

        let otel = format!("wasi:otel@{}", otel_version(flavor));
        let interfaces = vec![
            interface(&resolve, "wasi:clocks@0.2.0", "wall-clock")?,
            interface(&resolve, "wasi:random@0.2.0", "random")?,
            interface(&resolve, &otel, "types")?,
            tracing,
        ];
        let spans = interface(&resolve, "nebula:spans@0.1.0", "spans")?;
        let served = ["tracing", "tracing-inner"]
            .into_iter()
            .map(|name| interface(&resolve, "nebula:served-otel@0.1.0", name))
            .collect::<Result<_, _>>()?;
        Ok(RuntimeImports {
            resolve,
            interfaces,
            spans,
            served,
            renames,
        })
    }

    /// The flavor's core name of the prebuilt runtime's import
    /// `(module, name)` (the same, outside `wasi:otel/tracing`).
    pub fn core_import(&self, module: &str, name: &str) -> (String, String) {
        self.renames
            .get(&(module.to_string(), name.to_string()))
            .cloned()
            .unwrap_or_else(|| (module.to_string(), name.to_string()))
    }
}

/// Interface `name` of `package` (`namespace:name@version`) in `resolve`.
fn interface(resolve: &Resolve, package: &str, name: &str) -> Result<InterfaceId, Error> {
    resolve
        .packages
        .iter()
        .find(|(_, p)| p.name.to_string() == package)
        .and_then(|(_, p)| p.interfaces.get(name).copied())
        .ok_or_else(|| Error::bug(format!("embedded WIT lacks `{package}/{name}`")))
}

/// The legacy core import name of every function of `interface`, by
/// function name: how a module built with `wit-bindgen` imports them.
fn core_names(resolve: &Resolve, interface: InterfaceId) -> HashMap<String, (String, String)> {
    let key = WorldKey::Interface(interface);
    resolve.interfaces[interface]
        .functions
        .iter()
        .map(|(name, func)| {
            let core = resolve.wasm_import_name(
                ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
                WasmImport::Func {
                    interface: Some(&key),
                    func,
                },
            );
            (name.clone(), core)
        })
        .collect()
}

/// How a flavor's `wasi:otel` differs from the embedded one (`inner`,
/// `wasi:otel@0.3.0`): the package version, and the functions of
/// `tracing` it renames or does not have.
struct Edits {
    /// The package version, when not the embedded one.
    version: Option<semver::Version>,
    /// `(embedded name, flavor's name)`; `None` when the flavor lacks it.
    functions: &'static [(&'static str, Option<&'static str>)],
}

impl Edits {
    fn of(flavor: &OtelFlavor) -> Result<Self, Error> {
        Ok(match flavor {
            OtelFlavor::Inner => Edits {
                version: None,
                functions: &[],
            },
            // The upstream tag `v0.2.0-rc.2`, which the shipped hosts
            // serve: one context query, `outer-span-context` (the host's
            // span), which the runtime asks only when its own stack is empty.
            OtelFlavor::Outer => Edits {
                version: Some(parse_version(OUTER_VERSION)?),
                functions: &[
                    ("outer-span-context", None),
                    ("inner-span-context", Some("outer-span-context")),
                ],
            },
            // Upstream HEAD: one context query, `current-span-context`.
            OtelFlavor::Current(version) => Edits {
                version: Some(parse_version(version)?),
                functions: &[
                    ("inner-span-context", Some("current-span-context")),
                    ("outer-span-context", None),
                ],
            },
        })
    }

    /// The flavor's name of the embedded function `name`, if it has one.
    fn function<'a>(&self, name: &'a str) -> Option<&'a str> {
        match self.functions.iter().find(|(from, _)| *from == name) {
            Some((_, to)) => *to,
            None => Some(name),
        }
    }

    /// Edits `resolve`, whose `wasi:otel/tracing` is `tracing`.
    fn apply(&self, resolve: &mut Resolve, tracing: InterfaceId) -> Result<(), Error> {
        if let Some(version) = &self.version {
            let package = resolve.interfaces[tracing]
                .package
                .ok_or_else(|| Error::bug("embedded `wasi:otel/tracing` has no package"))?;
            let old = resolve.packages[package].name.clone();
            let mut new = old.clone();
            new.version = Some(version.clone());
            resolve.packages[package].name = new.clone();
            resolve.package_names.shift_remove(&old);
            resolve.package_names.insert(new, package);
        }
        let functions = std::mem::take(&mut resolve.interfaces[tracing].functions);
        resolve.interfaces[tracing].functions = functions
            .into_iter()
            .filter_map(|(name, mut func)| {
                let renamed = self.function(&name)?.to_string();
                func.name.clone_from(&renamed);
                Some((renamed, func))
            })
            .collect();
        Ok(())
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
        OtelFlavor::Outer => OUTER_VERSION,
        OtelFlavor::Current(version) => version,
    }
}

/// Checks the options' `flavor` before anything is built.
pub(crate) fn check_flavor(flavor: &OtelFlavor) -> Result<(), OptionsError> {
    match flavor {
        OtelFlavor::Current(version) => parse_version(version).map(drop),
        OtelFlavor::Inner | OtelFlavor::Outer => Ok(()),
    }
}

/// A flavor's package version, which must be `MAJOR.MINOR.PATCH[-PRE][+BUILD]`.
fn parse_version(version: &str) -> Result<semver::Version, OptionsError> {
    semver::Version::parse(version).map_err(|_| OptionsError::FlavorVersion(version.to_string()))
}
