//! The span runtime with the in-guest exporter in front of it
//! (`--export-to`): one component in which the runtime's `wasi:otel`
//! imports are the exporter's exports, and whose other imports (the
//! clock, the random source, what the exporter writes with) are the
//! host's. The composers then wire it as they wire the plain runtime, and
//! the output imports no `wasi:otel`.
//!
//! It re-exports the exporter's `wasi:otel` first: the runtime's
//! `nebula:served-otel` exports use its types, and a component of the
//! output that imports `wasi:otel/types` itself gets them too
//! ([`super::Served`]).

use super::graph::Graph;
use crate::Error;

/// The prefix of the `wasi:otel` names the runtime imports.
const OTEL: &str = "wasi:otel/";

/// The span `runtime` component composed with the `exporter` component.
pub(crate) fn with_exporter(runtime: &[u8], exporter: &[u8]) -> Result<Vec<u8>, Error> {
    let mut graph = Graph::default();
    let exporter_pkg = graph.register("nebula:exporter", exporter)?;
    let runtime_pkg = graph.register("nebula:span-runtime", runtime)?;
    let mut wanted = graph.package_imports(exporter_pkg);
    wanted.extend(
        graph
            .package_imports(runtime_pkg)
            .into_iter()
            .filter(|(name, _)| !name.starts_with(OTEL)),
    );
    graph.share(&wanted)?;

    let host = |graph: &mut Graph, name: &str, kind| match graph.imported(name) {
        (_, Some(node)) => Ok(node),
        (name, None) => {
            let kind = graph.kind(&name, kind);
            graph.import_new(&name, kind)
        }
    };
    let exporter = graph.graph.instantiate(exporter_pkg);
    for (name, kind) in graph.package_imports(exporter_pkg) {
        let arg = host(&mut graph, &name, kind)?;
        graph.argument(exporter, &name, arg)?;
    }
    let runtime = graph.graph.instantiate(runtime_pkg);
    for (name, kind) in graph.package_imports(runtime_pkg) {
        let arg = if name.starts_with(OTEL) {
            graph.alias(exporter, &name)?
        } else {
            host(&mut graph, &name, kind)?
        };
        graph.argument(runtime, &name, arg)?;
    }

    for (node, name) in export_names(&graph, exporter_pkg)
        .into_iter()
        .map(|name| (exporter, name))
        .chain(
            export_names(&graph, runtime_pkg)
                .into_iter()
                .map(|name| (runtime, name)),
        )
    {
        let alias = graph.alias(node, &name)?;
        graph.export(alias, &name)?;
    }
    let bytes = graph.encode()?;
    super::validate(&bytes)?;
    Ok(bytes)
}

/// The export names of a registered package, in order.
fn export_names(graph: &Graph, package: wac_graph::PackageId) -> Vec<String> {
    let ty = graph.graph[package].ty();
    graph.graph.types()[ty].exports.keys().cloned().collect()
}
