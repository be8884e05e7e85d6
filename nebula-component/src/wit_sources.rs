//! The WIT that every proxy imports (`wasi:otel`, the clock and the random
//! source the span runtime uses), embedded from the repository's `wit/`.

use wit_parser::{InterfaceId, Resolve};

use crate::Error;

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
        "wit/deps/otel.wit",
        concat!(
            include_str!("../../wit/deps/otel/types.wit"),
            include_str!("../../wit/deps/otel/tracing.wit"),
            include_str!("../../wit/deps/otel/world.wit"),
        ),
    ),
];

/// The interfaces the span runtime imports, in a `Resolve` of their own.
pub(crate) struct RuntimeImports {
    /// The resolve holding only the packages above.
    pub resolve: Resolve,
    /// Dependencies first, so they can be appended to a world's imports in
    /// this order.
    pub interfaces: Vec<InterfaceId>,
}

impl RuntimeImports {
    /// Parses the embedded WIT.
    pub fn load() -> Result<Self, Error> {
        let mut resolve = Resolve::default();
        for (path, source) in PACKAGES {
            resolve
                .push_str(path, source)
                .map_err(|e| Error::internal("embedded WIT does not parse", e))?;
        }
        let interface = |resolve: &Resolve, package: &str, name: &str| {
            resolve
                .packages
                .iter()
                .find(|(_, p)| p.name.to_string() == package)
                .and_then(|(_, p)| p.interfaces.get(name).copied())
                .ok_or_else(|| Error::Internal(format!("embedded WIT lacks `{package}/{name}`")))
        };
        let interfaces = vec![
            interface(&resolve, "wasi:clocks@0.2.0", "wall-clock")?,
            interface(&resolve, "wasi:random@0.2.0", "random")?,
            interface(&resolve, "wasi:otel@0.3.0", "types")?,
            interface(&resolve, "wasi:otel@0.3.0", "tracing")?,
        ];
        Ok(RuntimeImports {
            resolve,
            interfaces,
        })
    }
}
