//! The `wac-graph` composition both composers build (one component and its
//! proxies in `compose`, a composition's parts in [`super::nested`]):
//! packages registered from bytes, each import name imported once under the
//! one name and type all the parts share ([`SharedImports`]), aliases,
//! instantiation arguments and exports, all with one error mapping, and the
//! span runtime's instance, and what it serves.

use std::collections::HashMap;

use wac_graph::types::{ItemKind, Package};
use wac_graph::{CompositionGraph, EncodeOptions, NodeId, PackageId};

use super::{ServedBy, SharedImports};
use crate::Error;

/// A composition being wired.
#[derive(Default)]
pub(super) struct Graph {
    /// The `wac-graph` graph itself.
    pub graph: CompositionGraph,
    /// The node of each import name (after [`SharedImports::name`]).
    imports: HashMap<String, NodeId>,
    /// The one name and type of each import the parts share.
    shared: SharedImports,
}

impl Graph {
    /// Registers the component `bytes` as package `name`.
    pub(super) fn register(&mut self, name: &str, bytes: &[u8]) -> Result<PackageId, Error> {
        let package = Package::from_bytes(name, None, bytes.to_vec(), self.graph.types_mut())
            .map_err(|e| Error::internal(&format!("reading `{name}` for composition"), e))?;
        self.graph
            .register_package(package)
            .map_err(|e| Error::internal(&format!("registering `{name}`"), e))
    }

    /// Merges what the parts import: `wanted` lists each part's (name,
    /// view of the type), in the parts' order.
    pub(super) fn share(&mut self, wanted: &[(String, ItemKind)]) -> Result<(), Error> {
        self.shared = SharedImports::new(&mut self.graph, wanted)?;
        Ok(())
    }

    /// The name under which `name` is imported, and its node when it has
    /// one already.
    pub(super) fn imported(&self, name: &str) -> (String, Option<NodeId>) {
        let name = self.shared.name(name).to_string();
        let node = self.imports.get(&name).copied();
        (name, node)
    }

    /// The type `name` (a name from [`Self::imported`]) is imported with,
    /// given one importer's view `kind`.
    pub(super) fn kind(&self, name: &str, kind: ItemKind) -> ItemKind {
        self.shared.kind(name, kind)
    }

    /// Imports `name` (a name from [`Self::imported`]) as `kind`.
    pub(super) fn import_new(&mut self, name: &str, kind: ItemKind) -> Result<NodeId, Error> {
        let node = self
            .graph
            .import(name, kind)
            .map_err(|e| Error::internal(&format!("importing `{name}`"), e))?;
        self.define(name, node);
        Ok(node)
    }

    /// Makes `node` what import `name` stands for.
    pub(super) fn define(&mut self, name: &str, node: NodeId) {
        self.imports.insert(name.to_string(), node);
    }

    /// Export `name` of the instance `instance`.
    pub(super) fn alias(&mut self, instance: NodeId, name: &str) -> Result<NodeId, Error> {
        self.graph
            .alias_instance_export(instance, name)
            .map_err(|e| Error::internal(&format!("taking export `{name}`"), e))
    }

    /// Passes `argument` as the import `name` of `instance`.
    pub(super) fn argument(
        &mut self,
        instance: NodeId,
        name: &str,
        argument: NodeId,
    ) -> Result<(), Error> {
        self.graph
            .set_instantiation_argument(instance, name, argument)
            .map_err(|e| Error::internal(&format!("wiring `{name}`"), e))
    }

    /// Exports `node` as `name`.
    pub(super) fn export(&mut self, node: NodeId, name: &str) -> Result<(), Error> {
        self.graph
            .export(node, name)
            .map_err(|e| Error::internal(&format!("exporting `{name}`"), e))
    }

    /// A package's imports, in order.
    pub(super) fn package_imports(&self, package: PackageId) -> Vec<(String, ItemKind)> {
        let ty = self.graph[package].ty();
        self.graph.types()[ty]
            .imports
            .iter()
            .map(|(name, kind)| (name.clone(), *kind))
            .collect()
    }

    /// The encoded composition, not validated yet (the restore steps come
    /// first); registered components are embedded as they are.
    pub(super) fn encode(&self) -> Result<Vec<u8>, Error> {
        self.graph
            .encode(EncodeOptions {
                define_components: true,
                validate: false,
                processor: None,
            })
            .map_err(|e| Error::internal("encoding the composition", e))
    }
}

/// Whoever wires a composition's imports over a [`Graph`]: how an import
/// name becomes a node differs between the composers.
pub(super) trait Importer {
    /// The graph being wired.
    fn graph(&mut self) -> &mut Graph;
    /// The node of import `name`; `kind` is the importer's view of its
    /// type.
    fn import(&mut self, name: &str, kind: ItemKind) -> Result<NodeId, Error>;
}

/// Instantiates the span runtime `package`, its imports from `importer`;
/// returns the instance's node.
pub(super) fn instantiate_runtime(
    importer: &mut impl Importer,
    package: PackageId,
) -> Result<NodeId, Error> {
    let node = importer.graph().graph.instantiate(package);
    for (name, kind) in importer.graph().package_imports(package) {
        let arg = importer.import(&name, kind)?;
        importer.graph().argument(node, &name, arg)?;
    }
    Ok(node)
}

/// The node that serves a component's `wasi:otel` import (`kind`, the
/// component's view) as `by` says: an export of the span `runtime`
/// instance, or one of the runtime's own imports.
pub(super) fn served(
    importer: &mut impl Importer,
    runtime: NodeId,
    by: &ServedBy,
    kind: ItemKind,
) -> Result<NodeId, Error> {
    match by {
        ServedBy::Runtime(export) => importer.graph().alias(runtime, export),
        ServedBy::ExporterTypes(export) => importer.graph().alias(runtime, export),
        ServedBy::RuntimeImport(name) => importer.import(name, kind),
    }
}
