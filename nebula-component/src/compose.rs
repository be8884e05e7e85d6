//! Wires the target and its export proxy into one component with
//! `wac-graph`, then validates the result.
//!
//! ```text
//! host imports ──► target ──► proxy ──► wrapped exports
//!        │            └────────────────► passed-through exports
//!        └──────────────────► proxy      (shared dependencies, wasi:otel)
//! ```
//!
//! Every import name becomes one composition import shared by all who
//! import it, so resource types the target and proxy both use stay one type.
//! Exports keep the target's order.

use std::collections::{HashMap, HashSet};

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

use crate::Error;
use crate::analyze::{Plan, Treatment};
use crate::proxy::ExportProxy;

/// Composes `target` (the input bytes) with `proxy`.
pub fn compose(target: &[u8], plan: &Plan, proxy: &ExportProxy) -> Result<Vec<u8>, Error> {
    let err = |context: &str| {
        let context = context.to_string();
        move |e: anyhow::Error| Error::internal(&context, e)
    };
    let mut graph = CompositionGraph::new();
    let target_pkg = Package::from_bytes("nebula:target", None, target, graph.types_mut())
        .map_err(err("reading the target for composition"))?;
    let target_pkg = graph
        .register_package(target_pkg)
        .map_err(|e| err("registering the target")(e.into()))?;
    let proxy_pkg = Package::from_bytes(
        "nebula:proxy",
        None,
        proxy.component.clone(),
        graph.types_mut(),
    )
    .map_err(err("reading the proxy for composition"))?;
    let proxy_pkg = graph
        .register_package(proxy_pkg)
        .map_err(|e| err("registering the proxy")(e.into()))?;

    let wrapped: HashSet<&str> = plan
        .exports
        .iter()
        .filter(|e| matches!(e.treatment, Treatment::Wrap(_)))
        .map(|e| e.name.as_str())
        .collect();
    // The proxy imports the target's exported interfaces (wrapped, or used
    // by wrapped ones) and wrapped functions by their names.
    let target_exports: HashSet<&str> = plan
        .exports
        .iter()
        .filter(|e| {
            matches!(e.key, wit_parser::WorldKey::Interface(_)) || wrapped.contains(e.name.as_str())
        })
        .map(|e| e.name.as_str())
        .collect();

    let mut imports: HashMap<String, NodeId> = HashMap::new();
    let mut import = |graph: &mut CompositionGraph, name: &str, kind| -> Result<NodeId, Error> {
        if let Some(node) = imports.get(name) {
            return Ok(*node);
        }
        let node = graph
            .import(name, kind)
            .map_err(|e| err(&format!("importing `{name}`"))(e.into()))?;
        imports.insert(name.to_string(), node);
        Ok(node)
    };

    let target = graph.instantiate(target_pkg);
    let target_imports = package_imports(&graph, target_pkg);
    for (name, kind) in target_imports {
        let node = import(&mut graph, &name, kind)?;
        graph
            .set_instantiation_argument(target, &name, node)
            .map_err(|e| err(&format!("wiring `{name}` into the target"))(e.into()))?;
    }

    let proxy_node = graph.instantiate(proxy_pkg);
    for (name, kind) in package_imports(&graph, proxy_pkg) {
        let node = if target_exports.contains(name.as_str()) {
            graph
                .alias_instance_export(target, &name)
                .map_err(|e| err(&format!("taking the target's export `{name}`"))(e.into()))?
        } else {
            import(&mut graph, &name, kind)?
        };
        graph
            .set_instantiation_argument(proxy_node, &name, node)
            .map_err(|e| err(&format!("wiring `{name}` into the proxy"))(e.into()))?;
    }

    for item in &plan.exports {
        let source = if wrapped.contains(item.name.as_str()) {
            proxy_node
        } else {
            target
        };
        let node = graph
            .alias_instance_export(source, &item.name)
            .map_err(|e| err(&format!("taking export `{}`", item.name))(e.into()))?;
        graph
            .export(node, &item.name)
            .map_err(|e| err(&format!("exporting `{}`", item.name))(e.into()))?;
    }

    let bytes = graph
        .encode(EncodeOptions {
            define_components: true,
            validate: false,
            processor: None,
        })
        .map_err(|e| err("encoding the composition")(e.into()))?;
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .map_err(|e| Error::internal("the composed component does not validate", e))?;
    Ok(bytes)
}

fn package_imports(
    graph: &CompositionGraph,
    package: wac_graph::PackageId,
) -> Vec<(String, wac_graph::types::ItemKind)> {
    let ty = graph[package].ty();
    graph.types()[ty]
        .imports
        .iter()
        .map(|(name, kind)| (name.clone(), *kind))
        .collect()
}
