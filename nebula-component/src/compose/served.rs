//! Which of an output's own `wasi:otel` imports the span runtime serves.
//!
//! A component that imports `wasi:otel/tracing` itself (a hand-instrumented
//! target, an inner component of a composition) makes spans that only the
//! host would see, and on the hosts that ship, whose context query answers
//! only the host's own span, they would not nest with Nebula's. So the
//! composers wire such an import to the span runtime's
//! `nebula:served-otel` exports instead (see
//! `nebula-component/runtime/spans/src/served.rs`): its spans go on the
//! runtime's stack, and its context queries are answered from it.
//!
//! The runtime's served interfaces take their records from its own
//! `wasi:otel` import, at the flavor's version, so they serve an import of
//! another revision only if its types match: whether they do is the
//! component model's subtype check (`wac-types`' [`SubtypeChecker`]) of
//! the runtime's export against the component's import, done once per
//! output, before any proxy is built. An import it cannot serve goes to the
//! host as before (and the report says so).
//!
//! `wasi:otel/types`, which holds only types, is wired to the output's own
//! import of the flavor's `wasi:otel/types` when that satisfies it (the
//! records are the same), so the output imports one `wasi:otel` revision;
//! with the in-guest exporter (`--export-to`), to the exporter's, so it
//! imports none.

use std::collections::HashMap;

use wac_graph::CompositionGraph;
use wac_graph::types::{ItemKind, Package, SubtypeChecker};

use crate::Error;

/// What the span runtime exports for components that import
/// `wasi:otel/tracing` at any revision but Nebula's `0.3.0`.
pub(crate) const SERVED_TRACING: &str = "nebula:served-otel/tracing@0.1.0";

/// What the span runtime exports for `wasi:otel/tracing@0.3.0`, whose
/// `outer-span-context` means the host's own span.
pub(crate) const SERVED_TRACING_INNER: &str = "nebula:served-otel/tracing-inner@0.1.0";

/// The prefix of every `wasi:otel/tracing` import name.
const TRACING: &str = "wasi:otel/tracing@";

/// The prefix of every `wasi:otel/types` import name.
const TYPES: &str = "wasi:otel/types@";

/// Where one served import comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServedBy {
    /// The span runtime's export of this name.
    Runtime(&'static str),
    /// The runtime's own import of this name (the flavor's `wasi:otel/types`).
    RuntimeImport(String),
    /// The `wasi:otel/types` the runtime re-exports from the in-guest
    /// exporter in front of it (`--export-to`), by this name.
    ExporterTypes(String),
}

/// The output's `wasi:otel` imports the span runtime serves, by the name
/// the component imports them under (at the top level of the input).
#[derive(Debug, Default, Clone)]
pub struct Served {
    by_name: HashMap<String, ServedBy>,
    /// `wasi:otel/tracing` imports the runtime cannot serve (their types
    /// differ): they go to the host.
    not_served: Vec<String>,
}

impl Served {
    /// Decides, for the component `stand_in` (an input's stand-in: only its
    /// imports are read), which of its `wasi:otel` imports the span
    /// `runtime` component serves.
    pub(crate) fn decide(stand_in: &[u8], runtime: &[u8]) -> Result<Self, Error> {
        let mut graph = CompositionGraph::new();
        let read = |graph: &mut CompositionGraph, name: &str, bytes: &[u8]| {
            Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
                .map_err(|e| Error::internal(&format!("reading `{name}` for composition"), e))
        };
        let target = read(&mut graph, "nebula:target", stand_in)?;
        let runtime = read(&mut graph, "nebula:span-runtime", runtime)?;
        let types = graph.types();
        let (imports, runtime_world) = (&types[target.ty()].imports, &types[runtime.ty()]);
        let mut cache = Default::default();
        let mut checker = SubtypeChecker::new(&mut cache);
        let mut fits = |have: Option<&ItemKind>, want: ItemKind| {
            have.is_some_and(|have| checker.is_subtype(*have, types, want, types).is_ok())
        };
        let mut served = Served::default();
        for (name, kind) in imports {
            if let Some(version) = name.strip_prefix(TRACING) {
                let export = match version.split('.').take(2).collect::<Vec<_>>()[..] {
                    ["0", "3"] => SERVED_TRACING_INNER,
                    _ => SERVED_TRACING,
                };
                if fits(runtime_world.exports.get(export), *kind) {
                    served
                        .by_name
                        .insert(name.clone(), ServedBy::Runtime(export));
                } else {
                    served.not_served.push(name.clone());
                }
            } else if name.starts_with(TYPES) {
                let types = |(name, _): &(&String, &ItemKind)| name.starts_with(TYPES);
                let exported = runtime_world.exports.iter().find(types);
                let imported = runtime_world.imports.iter().find(types);
                if let Some((own, have)) = exported
                    && fits(Some(have), *kind)
                {
                    served
                        .by_name
                        .insert(name.clone(), ServedBy::ExporterTypes(own.clone()));
                } else if let Some((own, have)) = imported
                    && own != name
                    && fits(Some(have), *kind)
                {
                    served
                        .by_name
                        .insert(name.clone(), ServedBy::RuntimeImport(own.clone()));
                }
            }
        }
        Ok(served)
    }

    /// Where import `name` comes from, when the span runtime serves it.
    pub(crate) fn get(&self, name: &str) -> Option<&ServedBy> {
        self.by_name.get(name)
    }

    /// Whether some `wasi:otel/tracing` import goes to the host, whose
    /// spans the runtime's stack then does not see.
    pub(crate) fn leaves_tracing_to_host(&self) -> bool {
        !self.not_served.is_empty()
    }

    /// What the report says of the `wasi:otel` imports, one line each.
    pub(crate) fn describe(&self) -> Vec<String> {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        let served = names.into_iter().map(|name| match &self.by_name[name] {
            ServedBy::Runtime(_) => format!(
                "`{name}`: served by the span runtime: the component's own spans nest with \
                 Nebula's on every host"
            ),
            ServedBy::RuntimeImport(own) => {
                format!("`{name}`: the output's `{own}` (the same types)")
            }
            ServedBy::ExporterTypes(own) => {
                format!("`{name}`: the in-guest exporter's `{own}` (the same types)")
            }
        });
        let host = self.not_served.iter().map(|name| {
            format!(
                "`{name}`: wired to the host, not served by the span runtime (its types differ \
                 from the runtime's `wasi:otel`): the runtime asks the host for every parent"
            )
        });
        served.chain(host).collect()
    }
}
