//! Composes components with `wac-graph`, as `wac plug` does.

use wac_graph::{CompositionGraph, EncodeOptions, types::Package};
use wasmtime::{Result, format_err};

/// Plugs the exports of each of `plugs` into the matching imports of
/// `socket`; the result exports what `socket` exports and imports what
/// none of the plugs provide.
pub fn plug(socket: &[u8], plugs: &[&[u8]]) -> Result<Vec<u8>> {
    let err = |e: &dyn std::fmt::Display| format_err!("composing: {e}");
    let mut graph = CompositionGraph::new();
    let socket =
        Package::from_bytes("socket", None, socket, graph.types_mut()).map_err(|e| err(&e))?;
    let socket = graph.register_package(socket).map_err(|e| err(&e))?;
    let mut ids = Vec::new();
    for (i, bytes) in plugs.iter().enumerate() {
        let name = format!("plug{i}");
        let package =
            Package::from_bytes(&name, None, *bytes, graph.types_mut()).map_err(|e| err(&e))?;
        ids.push(graph.register_package(package).map_err(|e| err(&e))?);
    }
    wac_graph::plug(&mut graph, ids, socket).map_err(|e| err(&e))?;
    graph.encode(EncodeOptions::default()).map_err(|e| err(&e))
}
