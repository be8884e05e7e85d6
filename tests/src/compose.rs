//! Composes components with `wac-graph`: as `wac plug` does, or in a chain.

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

/// Composes `components` in a chain: each one's imports that the next one
/// exports are wired to the next one's exports; everything else is
/// imported. The result exports what the first one exports.
pub fn chain(components: &[&[u8]]) -> Result<Vec<u8>> {
    let err = |e: &dyn std::fmt::Display| format_err!("composing: {e}");
    let mut graph = CompositionGraph::new();
    let mut instances = Vec::new();
    for (i, bytes) in components.iter().enumerate() {
        let package = Package::from_bytes(&format!("link{i}"), None, *bytes, graph.types_mut())
            .map_err(|e| err(&e))?;
        let package = graph.register_package(package).map_err(|e| err(&e))?;
        instances.push((package, graph.instantiate(package)));
    }
    for pair in instances.windows(2) {
        let ((user, user_node), (provider, provider_node)) = (pair[0], pair[1]);
        let imports: Vec<String> = graph.types()[graph[user].ty()]
            .imports
            .keys()
            .cloned()
            .collect();
        let exports = &graph.types()[graph[provider].ty()].exports;
        let provided: Vec<String> = imports
            .into_iter()
            .filter(|name| exports.contains_key(name))
            .collect();
        for name in provided {
            let alias = graph
                .alias_instance_export(provider_node, &name)
                .map_err(|e| err(&e))?;
            graph
                .set_instantiation_argument(user_node, &name, alias)
                .map_err(|e| err(&e))?;
        }
    }
    let (first, first_node) = instances[0];
    export_all(&mut graph, first, first_node)?;
    graph.encode(EncodeOptions::default()).map_err(|e| err(&e))
}

/// Composes `components` side by side: each is instantiated with its
/// imports taken from the result's (one import per name, shared), and the
/// result exports everything each of them exports.
pub fn side_by_side(components: &[&[u8]]) -> Result<Vec<u8>> {
    let err = |e: &dyn std::fmt::Display| format_err!("composing: {e}");
    let mut graph = CompositionGraph::new();
    for (i, bytes) in components.iter().enumerate() {
        let package = Package::from_bytes(&format!("part{i}"), None, *bytes, graph.types_mut())
            .map_err(|e| err(&e))?;
        let package = graph.register_package(package).map_err(|e| err(&e))?;
        let node = graph.instantiate(package);
        export_all(&mut graph, package, node)?;
    }
    graph.encode(EncodeOptions::default()).map_err(|e| err(&e))
}

/// Exports from the graph everything the instance `node` of `package`
/// exports, under the same names.
fn export_all(
    graph: &mut CompositionGraph,
    package: wac_graph::PackageId,
    node: wac_graph::NodeId,
) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| format_err!("composing: {e}");
    let exports: Vec<String> = graph.types()[graph[package].ty()]
        .exports
        .keys()
        .cloned()
        .collect();
    for name in exports {
        let alias = graph
            .alias_instance_export(node, &name)
            .map_err(|e| err(&e))?;
        graph.export(alias, &name).map_err(|e| err(&e))?;
    }
    Ok(())
}
