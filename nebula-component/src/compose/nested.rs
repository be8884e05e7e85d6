//! Re-composition, for instrumenting inside compositions.
//!
//! A component made by `wac` (or `wasm-tools compose`) from several
//! components is, at its top level, only imports, inner component
//! definitions, instances of them wired to the imports and to each other,
//! aliases of their exports, and exports. [`Composition::of`] recognises
//! that shape in the input's [`TopLevel`]; [`Composition::rebuild`] puts it back
//! together with `wac-graph`, each inner component replaced by its
//! instrumented self. A call from inner A into inner B then gives A's
//! client span with B's server span as its child, and `wac-graph` gives all
//! the instrumented inner components one shared `wasi:otel` import.
//!
//! Anything else at the top level (core modules, `canon` functions,
//! imported functions, types or components, interface labels, imports
//! re-exported as they are) is not a plain composition: such an input is
//! instrumented at its outer boundary only, and the report says so. The
//! rebuilt composition keeps the inner components' own custom sections but
//! not the outer one's (its name section, for one).

use std::collections::HashMap;
use std::ops::Range;

use wac_graph::types::{ItemKind, Package};
use wac_graph::{NodeId, PackageId};

use super::Served;
use super::graph::{self, Graph, Importer};
use crate::Error;
use crate::toplevel::{Source, TopLevel};
use crate::wit_sources::SPANS_INTERFACE;

/// The re-composition's imports: the original's, with its own view of
/// their types, and what the parts add; `nebula:spans`, and the
/// `wasi:otel` imports the runtime serves, come from the span runtime,
/// instantiated when first asked for.
struct Imports<'s> {
    graph: Graph,
    /// The original's imports with its own view of their types.
    outer: HashMap<String, ItemKind>,
    /// The span runtime.
    runtime: RuntimeSlot,
    /// The `wasi:otel` imports the span runtime serves.
    served: &'s Served,
    /// The nodes serving them, by import name (which may also name one of
    /// the runtime's own imports: the same `wasi:otel` version).
    served_nodes: HashMap<String, NodeId>,
}

/// The span runtime of a re-composition.
#[derive(Clone, Copy)]
enum RuntimeSlot {
    /// Not part of this composition (an inner one, or nothing wrapped).
    Absent,
    /// Registered, not instantiated yet.
    Pending(PackageId),
    /// Instantiated.
    Instance(NodeId),
}

impl Imports<'_> {
    /// The span runtime's instance, instantiated when first asked for.
    fn runtime(&mut self) -> Result<Option<NodeId>, Error> {
        match self.runtime {
            RuntimeSlot::Absent => Ok(None),
            RuntimeSlot::Instance(node) => Ok(Some(node)),
            RuntimeSlot::Pending(package) => {
                // Its own imports never ask for it.
                self.runtime = RuntimeSlot::Absent;
                let node = graph::instantiate_runtime(self, package)?;
                self.runtime = RuntimeSlot::Instance(node);
                Ok(Some(node))
            }
        }
    }

    /// Whether the span runtime serves import `name`.
    fn serves(&self, name: &str) -> bool {
        !matches!(self.runtime, RuntimeSlot::Absent) && self.served.get(name).is_some()
    }

    /// The node for import `name`; `kind` is the importer's view of its
    /// type, used when the original does not import it.
    fn get(&mut self, name: &str, kind: Option<ItemKind>) -> Result<NodeId, Error> {
        let served = self.served;
        if self.serves(name)
            && let Some(by) = served.get(name)
        {
            if let Some(node) = self.served_nodes.get(name) {
                return Ok(*node);
            }
            let kind = self.outer.get(name).copied().or(kind).ok_or_else(|| {
                Error::bug(format!("the composition's import `{name}` has no type"))
            })?;
            let runtime = self
                .runtime()?
                .ok_or_else(|| Error::bug("no span runtime"))?;
            let node = graph::served(self, runtime, by, kind)?;
            self.served_nodes.insert(name.to_string(), node);
            return Ok(node);
        }
        let (name, node) = self.graph.imported(name);
        if let Some(node) = node {
            return Ok(node);
        }
        if name == SPANS_INTERFACE
            && let Some(runtime) = self.runtime()?
        {
            let node = self.graph.alias(runtime, SPANS_INTERFACE)?;
            self.graph.define(&name, node);
            return Ok(node);
        }
        let kind =
            self.outer.get(&name).copied().or(kind).ok_or_else(|| {
                Error::bug(format!("the composition's import `{name}` has no type"))
            })?;
        let kind = self.graph.kind(&name, kind);
        self.graph.import_new(&name, kind)
    }
}

impl Importer for Imports<'_> {
    fn graph(&mut self) -> &mut Graph {
        &mut self.graph
    }

    fn import(&mut self, name: &str, kind: ItemKind) -> Result<NodeId, Error> {
        self.get(name, Some(kind))
    }
}

/// One instance of an inner component.
#[derive(Debug)]
struct Instantiation {
    /// The index of the inner component definition.
    component: usize,
    /// Instantiation arguments by name.
    args: Vec<(String, Source)>,
}

/// A composition taken apart: inner component definitions, their instances
/// and the exports.
#[derive(Debug)]
pub struct Composition {
    /// Byte ranges of the inner component definitions, in order.
    components: Vec<Range<usize>>,
    /// Instances, in order.
    instances: Vec<Instantiation>,
    /// The composition's exports.
    exports: Vec<(String, Source)>,
}

impl Composition {
    /// The composition the component with top level `top` is, or `None`
    /// when its top level holds more than components, their instances and
    /// the wiring between them (or no inner component at all).
    pub(crate) fn of(top: &TopLevel<'_>) -> Option<Composition> {
        if !top.plain || top.instantiations.is_empty() {
            return None;
        }
        let instances = top
            .instantiations
            .iter()
            .map(|i| {
                let component = i.component as usize;
                let args = i
                    .args
                    .iter()
                    .map(|(name, source)| Some((name.clone(), source.clone()?)))
                    .collect::<Option<Vec<_>>>()?;
                (component < top.components.len()).then_some(Instantiation { component, args })
            })
            .collect::<Option<Vec<_>>>()?;
        let exports = top
            .exports
            .iter()
            .map(|e| (e.name.clone(), e.source.clone()))
            .collect();
        Some(Composition {
            components: top.components.clone(),
            instances,
            exports,
        })
    }

    /// The inner component definitions' bytes, in order.
    pub fn components<'a>(&self, bytes: &'a [u8]) -> Vec<&'a [u8]> {
        self.components.iter().map(|r| &bytes[r.clone()]).collect()
    }

    /// Re-composes with `components` (the inner definitions, in order,
    /// instrumented or not) in place of the original ones. Imports the
    /// replacements add become imports of the result, one per name, except
    /// `nebula:spans`, which the span `runtime` component serves when given,
    /// with the `wasi:otel` imports `served` names. `outer` is the
    /// composition's stand-in: only its imports' types are read.
    pub fn rebuild(
        &self,
        outer: &[u8],
        components: &[Vec<u8>],
        runtime: Option<&[u8]>,
        served: &Served,
    ) -> Result<Vec<u8>, Error> {
        let mut graph = Graph::default();
        // The original's own view of its imports, for their types.
        let outer = Package::from_bytes(
            "nebula:outer",
            None,
            outer.to_vec(),
            graph.graph.types_mut(),
        )
        .map_err(|e| Error::internal("reading the composition's imports", e))?;
        let outer_imports: Vec<(String, ItemKind)> = graph.graph.types()[outer.ty()]
            .imports
            .iter()
            .map(|(name, kind)| (name.clone(), *kind))
            .collect();
        let mut packages = Vec::new();
        for (i, bytes) in components.iter().enumerate() {
            packages.push(graph.register(&format!("nebula:inner{i}"), bytes)?);
        }
        let runtime = runtime
            .map(|bytes| graph.register("nebula:span-runtime", bytes))
            .transpose()?;
        let served = match runtime {
            Some(_) => served,
            None => &Served::default(),
        };
        self.share_imports(&mut graph, &outer_imports, &packages, runtime, served)?;
        let mut imports = Imports {
            graph,
            outer: outer_imports.into_iter().collect(),
            runtime: runtime.map_or(RuntimeSlot::Absent, RuntimeSlot::Pending),
            served,
            served_nodes: HashMap::new(),
        };
        let mut instances: Vec<NodeId> = Vec::new();
        let mut aliases: HashMap<(NodeId, String), NodeId> = HashMap::new();
        for instantiation in &self.instances {
            let package = packages[instantiation.component];
            let node = imports.graph.graph.instantiate(package);
            let wanted = imports.graph.package_imports(package);
            for (name, source) in &instantiation.args {
                let arg = self.node(&mut imports, source, &instances, &mut aliases)?;
                imports.graph.argument(node, name, arg)?;
            }
            // What the replacement imports beyond the original's arguments
            // (`nebula:spans`, or `wasi:otel` when the runtime is not here)
            // comes from the span runtime or the result's imports.
            for (name, kind) in wanted {
                if !instantiation.args.iter().any(|(arg, _)| *arg == name) {
                    let arg = imports.get(&name, Some(kind))?;
                    imports.graph.argument(node, &name, arg)?;
                }
            }
            instances.push(node);
        }
        for (name, source) in &self.exports {
            if source.is_import() {
                return Err(Error::bug(format!(
                    "the composition re-exports its import `{name}`"
                )));
            }
            let node = self.node(&mut imports, source, &instances, &mut aliases)?;
            imports.graph.export(node, name)?;
        }
        imports.graph.encode()
    }

    /// One type for each import that the original, the replacements and
    /// the span `runtime` share (they may import different subsets of an
    /// interface, or semver-compatible versions of it).
    fn share_imports(
        &self,
        graph: &mut Graph,
        outer: &[(String, ItemKind)],
        packages: &[PackageId],
        runtime: Option<PackageId>,
        served: &Served,
    ) -> Result<(), Error> {
        let mut wanted = outer.to_vec();
        if let Some(runtime) = runtime {
            wanted.extend(graph.package_imports(runtime));
        }
        for instantiation in &self.instances {
            let package = packages[instantiation.component];
            for (name, kind) in graph.package_imports(package) {
                match instantiation.args.iter().find(|(arg, _)| *arg == name) {
                    Some((_, Source::Import(outer_name))) => {
                        wanted.push((outer_name.clone(), kind))
                    }
                    Some(_) => {}
                    None => wanted.push((name, kind)),
                }
            }
        }
        wanted.retain(|(name, _)| name != SPANS_INTERFACE && served.get(name).is_none());
        graph.share(&wanted)
    }

    /// The graph node for `source`.
    fn node(
        &self,
        imports: &mut Imports,
        source: &Source,
        instances: &[NodeId],
        aliases: &mut HashMap<(NodeId, String), NodeId>,
    ) -> Result<NodeId, Error> {
        match source {
            Source::Import(name) => imports.get(name, None),
            Source::Instance(i) => instances
                .get(*i)
                .copied()
                .ok_or_else(|| Error::bug(format!("instance {i} is used before it is created"))),
            Source::Alias(of, name) => {
                let of = self.node(imports, of, instances, aliases)?;
                if let Some(node) = aliases.get(&(of, name.clone())) {
                    return Ok(*node);
                }
                let node = imports.graph.alias(of, name)?;
                aliases.insert((of, name.clone()), node);
                Ok(node)
            }
            Source::Local => Err(Error::bug(
                "a plain composition wires an item defined at its top level",
            )),
        }
    }
}
