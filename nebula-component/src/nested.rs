//! Instruments inside compositions.
//!
//! A component made by `wac` (or `wasm-tools compose`) from several
//! components is, at its top level, only imports, inner component
//! definitions, instances of them wired to the imports and to each other,
//! aliases of their exports, and exports. [`Composition::read`] recognises
//! that shape and takes it apart; [`Composition::rebuild`] puts it back
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
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};
use wasmparser::{
    Chunk, ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentTypeRef, Parser,
    Payload,
};

use crate::wit_sources::SPANS_INTERFACE;
use crate::{Error, compose};

/// The re-composition's imports: one node per name, shared by all who
/// import it; `nebula:spans` comes from the span runtime, instantiated
/// when first asked for.
struct Imports {
    nodes: HashMap<String, NodeId>,
    /// The original's imports with its own view of their types.
    outer: HashMap<String, ItemKind>,
    /// The span runtime's package, until it is instantiated.
    runtime: Option<wac_graph::PackageId>,
    /// The one name and type of each import the parts share.
    shared: compose::SharedImports,
}

impl Imports {
    /// The node for import `name`; `kind` is the importer's view of its
    /// type, used when the original does not import it.
    fn get(
        &mut self,
        graph: &mut CompositionGraph,
        name: &str,
        kind: Option<ItemKind>,
    ) -> Result<NodeId, Error> {
        let name = self.shared.name(name).to_string();
        let name = name.as_str();
        if let Some(node) = self.nodes.get(name) {
            return Ok(*node);
        }
        if name == SPANS_INTERFACE
            && let Some(runtime) = self.runtime.take()
        {
            let node = compose::instantiate_runtime(graph, runtime, &mut |graph, name, kind| {
                self.get(graph, name, Some(kind))
            })?;
            self.nodes.insert(name.to_string(), node);
            return Ok(node);
        }
        let kind = self.outer.get(name).copied().or(kind).ok_or_else(|| {
            Error::Internal(format!("the composition's import `{name}` has no type"))
        })?;
        let kind = self.shared.kind(name, kind);
        let node = graph.import(name, kind).map_err(|e| {
            Error::Internal(format!(
                "re-composing the composition: importing `{name}`: {e}"
            ))
        })?;
        self.nodes.insert(name.to_string(), node);
        Ok(node)
    }
}

/// Something with an index in the composition's instance or function space.
#[derive(Debug, Clone)]
enum Source {
    /// The composition's import of this name.
    Import(String),
    /// Instance `.0` (an index into [`Composition::instances`]).
    Instance(usize),
    /// Export `.1` of the item `.0`.
    Alias(Box<Source>, String),
}

impl Source {
    /// Whether this is (part of) one of the composition's imports.
    fn is_import(&self) -> bool {
        match self {
            Source::Import(_) => true,
            Source::Instance(_) => false,
            Source::Alias(of, _) => of.is_import(),
        }
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

/// Index spaces of the top level while reading it.
#[derive(Default)]
struct Spaces {
    instances: Vec<Source>,
    funcs: Vec<Source>,
    /// Types: imported or aliased ones can be wired; defined ones
    /// (`None`) only describe imports.
    types: Vec<Option<Source>>,
}

impl Spaces {
    fn get(&self, kind: ComponentExternalKind, index: u32) -> Option<Source> {
        let space = match kind {
            ComponentExternalKind::Instance => &self.instances,
            ComponentExternalKind::Func => &self.funcs,
            ComponentExternalKind::Type => return self.types.get(index as usize)?.clone(),
            _ => return None,
        };
        space.get(index as usize).cloned()
    }
}

/// Whether the top level of `bytes` instantiates inner components with code
/// of their own. `wit-component` itself nests small components without code
/// (they only give exports their types); those do not count.
pub fn has_inner_components(bytes: &[u8]) -> bool {
    let (mut with_code, mut instantiated) = (false, false);
    for_each_top_level(bytes, |payload, nested| match payload {
        Payload::ComponentSection { .. } => {
            with_code |= nested.is_some_and(has_code);
        }
        Payload::ComponentInstanceSection(reader) => {
            instantiated |= reader
                .clone()
                .into_iter()
                .any(|i| matches!(i, Ok(ComponentInstance::Instantiate { .. })));
        }
        _ => {}
    });
    with_code && instantiated
}

/// Whether the component `bytes` defines core modules or components.
fn has_code(bytes: &[u8]) -> bool {
    let mut found = false;
    for_each_top_level(bytes, |payload, _| {
        found |= matches!(
            payload,
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. }
        );
    });
    found
}

/// Calls `each` with every top-level payload of `bytes` (and, for nested
/// modules and components, their bytes), without descending into them.
pub(crate) fn for_each_top_level(bytes: &[u8], mut each: impl FnMut(&Payload<'_>, Option<&[u8]>)) {
    let mut parser = Parser::new(0);
    let mut offset = 0;
    while let Ok(Chunk::Parsed { consumed, payload }) = parser.parse(&bytes[offset..], true) {
        offset += consumed;
        let nested = match &payload {
            Payload::ComponentSection {
                unchecked_range, ..
            }
            | Payload::ModuleSection {
                unchecked_range, ..
            } => {
                let range = unchecked_range.start as usize..unchecked_range.end as usize;
                offset += range.len();
                bytes.get(range)
            }
            _ => None,
        };
        let end = matches!(payload, Payload::End(_));
        each(&payload, nested);
        if end {
            break;
        }
    }
}

impl Composition {
    /// The composition `bytes` is, or `None` when its top level holds more
    /// than components, their instances and the wiring between them (or no
    /// inner component at all). `bytes` has been validated.
    pub fn read(bytes: &[u8]) -> Option<Composition> {
        let mut parser = Parser::new(0);
        let mut offset = 0;
        let mut spaces = Spaces::default();
        let mut composition = Composition {
            components: Vec::new(),
            instances: Vec::new(),
            exports: Vec::new(),
        };
        loop {
            let Chunk::Parsed { consumed, payload } = parser.parse(&bytes[offset..], true).ok()?
            else {
                return None;
            };
            offset += consumed;
            match payload {
                Payload::Version { .. } => {}
                Payload::ComponentSection {
                    unchecked_range, ..
                } => {
                    let range = unchecked_range.start as usize..unchecked_range.end as usize;
                    // The parser has moved past the inner component; the
                    // input slice has to follow.
                    offset += range.len();
                    composition.components.push(range);
                }
                Payload::ComponentTypeSection(reader) => {
                    spaces.types.extend((0..reader.count()).map(|_| None));
                }
                Payload::CustomSection(_) => {}
                Payload::ComponentImportSection(reader) => {
                    for import in reader {
                        let import = import.ok()?;
                        if import.name.implements.is_some() {
                            // Labels (`(implements …)`) are not carried
                            // through `wac-graph` 0.12.
                            return None;
                        }
                        let source = Source::Import(import.name.full_name().into_owned());
                        match import.ty {
                            ComponentTypeRef::Instance(_) => spaces.instances.push(source),
                            // Top-level function imports may take `borrow`
                            // handles, which `wac-graph` 0.12 cannot import
                            // again; such compositions keep their outer
                            // boundary only (see `compose::borrows`).
                            ComponentTypeRef::Func(_) => return None,
                            // A type imported at the top level may hold
                            // handles of an imported interface's resources,
                            // which `wac-graph` 0.12 cannot import again
                            // (see `compose::world_types`): outer boundary
                            // only.
                            ComponentTypeRef::Type(_) => return None,
                            _ => return None,
                        }
                    }
                }
                Payload::ComponentInstanceSection(reader) => {
                    for instance in reader {
                        let ComponentInstance::Instantiate {
                            component_index,
                            args,
                        } = instance.ok()?
                        else {
                            return None;
                        };
                        let args = args
                            .iter()
                            .map(|arg| {
                                Some((arg.name.to_string(), spaces.get(arg.kind, arg.index)?))
                            })
                            .collect::<Option<Vec<_>>>()?;
                        if component_index as usize >= composition.components.len() {
                            return None;
                        }
                        spaces
                            .instances
                            .push(Source::Instance(composition.instances.len()));
                        composition.instances.push(Instantiation {
                            component: component_index as usize,
                            args,
                        });
                    }
                }
                Payload::ComponentAliasSection(reader) => {
                    for alias in reader {
                        let ComponentAlias::InstanceExport {
                            kind,
                            instance_index,
                            name,
                        } = alias.ok()?
                        else {
                            return None;
                        };
                        let instance = spaces.instances.get(instance_index as usize)?.clone();
                        let source = Source::Alias(Box::new(instance), name.to_string());
                        match kind {
                            ComponentExternalKind::Instance => spaces.instances.push(source),
                            ComponentExternalKind::Func => spaces.funcs.push(source),
                            ComponentExternalKind::Type => spaces.types.push(Some(source)),
                            _ => return None,
                        }
                    }
                }
                Payload::ComponentExportSection(reader) => {
                    for export in reader {
                        let export = export.ok()?;
                        let source = spaces.get(export.kind, export.index)?;
                        if export.name.implements.is_some() || source.is_import() {
                            // Labels, and imports passed straight through:
                            // the outer boundary only.
                            return None;
                        }
                        // An export is also a new index for what it exports.
                        match export.kind {
                            ComponentExternalKind::Instance => {
                                spaces.instances.push(source.clone())
                            }
                            ComponentExternalKind::Func => spaces.funcs.push(source.clone()),
                            ComponentExternalKind::Type => spaces.types.push(Some(source.clone())),
                            _ => return None,
                        }
                        composition
                            .exports
                            .push((export.name.full_name().into_owned(), source));
                    }
                }
                Payload::End(_) => break,
                // Core modules, core instances, `canon`, `start`, nested
                // type definitions of other kinds: not a plain composition.
                _ => return None,
            }
        }
        (!composition.instances.is_empty()).then_some(composition)
    }

    /// The inner component definitions' bytes, in order.
    pub fn components<'a>(&self, bytes: &'a [u8]) -> Vec<&'a [u8]> {
        self.components.iter().map(|r| &bytes[r.clone()]).collect()
    }

    /// Re-composes with `components` (the inner definitions, in order,
    /// instrumented or not) in place of the original ones. Imports the
    /// replacements add become imports of the result, one per name, except
    /// `nebula:spans`, which the span `runtime` component serves when given.
    pub fn rebuild(
        &self,
        outer: &[u8],
        components: &[Vec<u8>],
        runtime: Option<&[u8]>,
    ) -> Result<Vec<u8>, Error> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            Error::Internal(format!("re-composing the composition: {what}: {e}"))
        };
        let mut graph = CompositionGraph::new();
        // The original's own view of its imports, for their types.
        let outer = Package::from_bytes("nebula:outer", None, outer.to_vec(), graph.types_mut())
            .map_err(|e| fail("reading the input", &e))?;
        let outer_imports: Vec<(String, ItemKind)> = graph.types()[outer.ty()]
            .imports
            .iter()
            .map(|(name, kind)| (name.clone(), *kind))
            .collect();
        let mut packages = Vec::new();
        for (i, bytes) in components.iter().enumerate() {
            let name = format!("nebula:inner{i}");
            let package = Package::from_bytes(&name, None, bytes.clone(), graph.types_mut())
                .map_err(|e| fail(&format!("reading inner component {i}"), &e))?;
            packages.push(
                graph
                    .register_package(package)
                    .map_err(|e| fail(&format!("registering inner component {i}"), &e))?,
            );
        }

        let runtime = runtime
            .map(|bytes| {
                let package = Package::from_bytes(
                    "nebula:span-runtime",
                    None,
                    bytes.to_vec(),
                    graph.types_mut(),
                )
                .map_err(|e| fail("reading the span runtime", &e))?;
                graph
                    .register_package(package)
                    .map_err(|e| fail("registering the span runtime", &e))
            })
            .transpose()?;
        let shared = self.shared_imports(&mut graph, &outer_imports, &packages, runtime)?;
        let mut imports = Imports {
            nodes: HashMap::new(),
            outer: outer_imports.into_iter().collect(),
            runtime,
            shared,
        };
        let mut instances: Vec<NodeId> = Vec::new();
        let mut aliases: HashMap<(NodeId, String), NodeId> = HashMap::new();
        for instantiation in &self.instances {
            let package = packages[instantiation.component];
            let node = graph.instantiate(package);
            let wanted = graph.types()[graph[package].ty()].imports.clone();
            for (name, source) in &instantiation.args {
                let arg = self.node(
                    &mut graph,
                    source,
                    &instances,
                    &mut aliases,
                    &mut |graph, name| imports.get(graph, name, None),
                )?;
                graph
                    .set_instantiation_argument(node, name, arg)
                    .map_err(|e| fail(&format!("wiring `{name}`"), &e))?;
            }
            // What the replacement imports beyond the original's arguments
            // (`nebula:spans`, or `wasi:otel` when the runtime is not here)
            // comes from the span runtime or the result's imports.
            for (name, kind) in wanted {
                if !instantiation.args.iter().any(|(arg, _)| *arg == name) {
                    let arg = imports.get(&mut graph, &name, Some(kind))?;
                    graph
                        .set_instantiation_argument(node, &name, arg)
                        .map_err(|e| fail(&format!("wiring `{name}`"), &e))?;
                }
            }
            instances.push(node);
        }
        for (name, source) in &self.exports {
            let node = self.node(
                &mut graph,
                source,
                &instances,
                &mut aliases,
                &mut |_, name| {
                    Err(Error::Internal(format!(
                        "the composition re-exports its import `{name}`"
                    )))
                },
            )?;
            graph
                .export(node, name)
                .map_err(|e| fail(&format!("exporting `{name}`"), &e))?;
        }
        graph
            .encode(EncodeOptions {
                validate: false,
                ..EncodeOptions::default()
            })
            .map_err(|e| fail("encoding", &e))
    }

    /// One type for each import that the original, the replacements and
    /// the span `runtime` share (they may import different subsets of an
    /// interface, or semver-compatible versions of it).
    fn shared_imports(
        &self,
        graph: &mut CompositionGraph,
        outer: &[(String, ItemKind)],
        packages: &[wac_graph::PackageId],
        runtime: Option<wac_graph::PackageId>,
    ) -> Result<compose::SharedImports, Error> {
        let mut wanted = outer.to_vec();
        if let Some(runtime) = runtime {
            wanted.extend(compose::package_imports(graph, runtime));
        }
        for instantiation in &self.instances {
            let package = packages[instantiation.component];
            for (name, kind) in compose::package_imports(graph, package) {
                match instantiation.args.iter().find(|(arg, _)| *arg == name) {
                    Some((_, Source::Import(outer_name))) => {
                        wanted.push((outer_name.clone(), kind))
                    }
                    Some(_) => {}
                    None => wanted.push((name, kind)),
                }
            }
        }
        wanted.retain(|(name, _)| name != SPANS_INTERFACE);
        compose::SharedImports::new(graph, &wanted)
    }

    /// The graph node for `source`.
    fn node(
        &self,
        graph: &mut CompositionGraph,
        source: &Source,
        instances: &[NodeId],
        aliases: &mut HashMap<(NodeId, String), NodeId>,
        import: &mut dyn FnMut(&mut CompositionGraph, &str) -> Result<NodeId, Error>,
    ) -> Result<NodeId, Error> {
        match source {
            Source::Import(name) => import(graph, name),
            Source::Instance(i) => instances.get(*i).copied().ok_or_else(|| {
                Error::Internal(format!("instance {i} is used before it is created"))
            }),
            Source::Alias(of, name) => {
                let of = self.node(graph, of, instances, aliases, import)?;
                if let Some(node) = aliases.get(&(of, name.clone())) {
                    return Ok(*node);
                }
                let node = graph.alias_instance_export(of, name).map_err(|e| {
                    Error::Internal(format!("re-composing: aliasing `{name}`: {e}"))
                })?;
                aliases.insert((of, name.clone()), node);
                Ok(node)
            }
        }
    }
}
