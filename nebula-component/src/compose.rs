//! Wires the target and its export proxy into one component with
//! `wac-graph`, then validates the result.
//!
//! ```text
//! host imports ──► import proxy ──► target ──► export proxy ──► wrapped exports
//!        │                            ▲  └───────────────────► passed-through exports
//!        ├────────────────────────────┘  (imports not wrapped)
//!        ├──────────────────────────────────► both proxies  (dependencies)
//!        └──► span runtime ─────────────────► both proxies  (nebula:spans)
//!             (wasi:otel, clock, random)
//! ```
//!
//! The span runtime is instantiated where the output is finished: here for
//! a single component; for a composition instrumented inside, each inner
//! component's proxies import `nebula:spans` and the re-composition
//! (`nested.rs`) wires them all to its one runtime instance.
//!
//! The export proxy takes the target's imported interfaces it uses (for
//! their types) from the host, wrapped or not, so the exports' `use` links
//! point at the output's own imports.
//!
//! Every import name becomes one composition import shared by all who
//! import it, so resource types the target and proxy both use stay one type.
//! Exports keep the target's order.
//!
//! Two shapes of imports `wac-graph` 0.12 cannot encode as they are get
//! hidden from it and restored in its output: top-level imports taking
//! `borrow` handles ([`borrows`]) and interfaces imported under more than
//! one name ([`labels`]). Labelled exports (`export x: ns:pkg/i;`) get
//! their `(implements "…")` back the same way ([`labels`]), and world-level
//! types holding handles to an imported interface's resources are taken
//! from that interface and imported again afterwards ([`world_types`]).
//! Chains of `use` that `wac-types` flattens are linked again ([`uses`]).

mod borrows;
mod labels;
mod shared;
mod uses;
mod world_types;

pub(crate) use shared::SharedImports;

use std::collections::{HashMap, HashSet};

use wac_graph::types::{ItemKind, Package, Type};
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

use crate::Direction;
use crate::Error;
use crate::analyze::Plan;
use crate::proxy::Proxy;
use crate::wit_sources::SPANS_INTERFACE;

/// Composes `target` (the input bytes) with its import proxy and export
/// proxy (either may be absent), and with the span `runtime` component when
/// given (otherwise the result imports `nebula:spans`).
pub fn compose(
    target: &[u8],
    plan: &Plan,
    import_proxy: Option<&Proxy>,
    export_proxy: Option<&Proxy>,
    runtime: Option<&[u8]>,
) -> Result<Vec<u8>, Error> {
    // The target's own export order (the decoded world may list anonymous
    // interfaces after functions).
    let order = export_order(target);
    let mut graph = CompositionGraph::new();
    let register = |graph: &mut CompositionGraph, name: &str, bytes: &[u8]| {
        let package = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
            .map_err(|e| Error::internal(&format!("reading `{name}` for composition"), e))?;
        graph
            .register_package(package)
            .map_err(|e| Error::internal(&format!("registering `{name}`"), e))
    };
    let target_pkg = register(&mut graph, "nebula:target", target)?;
    let import_pkg = import_proxy
        .map(|p| register(&mut graph, "nebula:import-proxy", &p.component))
        .transpose()?;
    let export_pkg = export_proxy
        .map(|p| register(&mut graph, "nebula:export-proxy", &p.component))
        .transpose()?;

    let worlds: Vec<_> = [Some(target_pkg), import_pkg, export_pkg]
        .into_iter()
        .flatten()
        .map(|pkg| graph[pkg].ty())
        .collect();
    let hidden = borrows::hide(graph.types_mut(), &worlds);
    let mut labels = labels::hide(graph.types_mut(), &worlds);
    labels.keep_exports(target)?;
    uses::relink(graph.types_mut(), &worlds, &plan.resolve);

    let wrapped = |side| -> HashSet<&str> {
        plan.wrapped(side)
            .map(|(item, _)| item.name.as_str())
            .collect()
    };
    let (wrapped_imports, wrapped_exports) =
        (wrapped(Direction::Import), wrapped(Direction::Export));

    // Host imports are declared with the target's view of them first, the
    // wrapped ones too: a proxy imports only the part it uses (in the order
    // it uses it), and the output must import what the input imports.
    let mut wiring = Wiring {
        resources: worlds
            .iter()
            .flat_map(|w| graph.types()[*w].imports.values())
            .filter_map(|kind| match kind {
                ItemKind::Type(Type::Resource(r)) => Some(graph.types()[*r].name.clone()),
                _ => None,
            })
            .collect(),
        world_types: world_types::sources(target)?,
        ..Wiring::default()
    };
    let runtime_pkg = runtime
        .map(|runtime| register(&mut graph, "nebula:span-runtime", runtime))
        .transpose()?;
    // The export proxy imports the target's exported interfaces (wrapped,
    // or used by wrapped ones) and wrapped functions by their names;
    // everything else comes from the host.
    let from_target: HashSet<&str> = plan
        .exports
        .iter()
        .filter(|e| {
            matches!(e.key, wit_parser::WorldKey::Interface(_))
                || wrapped_exports.contains(e.name.as_str())
        })
        .map(|e| e.name.as_str())
        .collect();

    // What every part imports from the host, in the order the parts are
    // wired, so each name gets one type all of them accept.
    let target_imports = package_imports(&graph, target_pkg);
    let mut wanted = target_imports.clone();
    for pkg in [runtime_pkg, import_pkg].into_iter().flatten() {
        wanted.extend(package_imports(&graph, pkg));
    }
    if let Some(pkg) = export_pkg {
        wanted.extend(
            package_imports(&graph, pkg)
                .into_iter()
                .filter(|(name, _)| !from_target.contains(name.as_str())),
        );
    }
    wanted.retain(|(name, _)| name != SPANS_INTERFACE);
    wiring.shared = SharedImports::new(&mut graph, &wanted)?;

    for (name, kind) in &target_imports {
        wiring.import(&mut graph, name, *kind)?;
    }
    if let Some(pkg) = runtime_pkg {
        let spans = instantiate_runtime(&mut graph, pkg, &mut |graph, name, kind| {
            wiring.import(graph, name, kind)
        })?;
        // Every proxy's import of `nebula:spans` gets the runtime's export.
        wiring.imports.insert(SPANS_INTERFACE.to_string(), spans);
    }
    let import_node = match import_pkg {
        Some(pkg) => {
            let node = graph.instantiate(pkg);
            for (name, kind) in package_imports(&graph, pkg) {
                let arg = wiring.import(&mut graph, &name, kind)?;
                wiring.argument(&mut graph, node, &name, arg)?;
            }
            Some(node)
        }
        None => None,
    };

    let target = graph.instantiate(target_pkg);
    for (name, kind) in target_imports {
        let arg = match import_node {
            Some(node) if wrapped_imports.contains(name.as_str()) => {
                wiring.alias(&mut graph, node, &name)?
            }
            _ => wiring.import(&mut graph, &name, kind)?,
        };
        wiring.argument(&mut graph, target, &name, arg)?;
    }

    let export_node = match export_pkg {
        Some(pkg) => {
            let node = graph.instantiate(pkg);
            for (name, kind) in package_imports(&graph, pkg) {
                // Imported interfaces, wrapped or not, come from the host:
                // the exports' `use` links must point at the output's
                // imports. (Planning passes through every import whose
                // resources the exports use, so no wrapper resource is
                // missed.)
                let arg = if from_target.contains(name.as_str()) {
                    wiring.alias(&mut graph, target, &name)?
                } else {
                    wiring.import(&mut graph, &name, kind)?
                };
                wiring.argument(&mut graph, node, &name, arg)?;
            }
            Some(node)
        }
        None => None,
    };

    let mut exports: Vec<_> = plan.exports.iter().collect();
    exports.sort_by_key(|item| order.iter().position(|n| *n == item.name));
    for item in exports {
        let source = match export_node {
            Some(node) if wrapped_exports.contains(item.name.as_str()) => node,
            _ => target,
        };
        let node = wiring.alias(&mut graph, source, &item.name)?;
        graph
            .export(node, &item.name)
            .map_err(|e| Error::internal(&format!("exporting `{}`", item.name), e))?;
    }

    let bytes = graph
        .encode(EncodeOptions {
            define_components: true,
            validate: false,
            processor: None,
        })
        .map_err(|e| Error::internal("encoding the composition", e))?;
    let bytes = labels.restore(hidden.restore(graph.types(), bytes)?)?;
    let bytes = wiring.aliased.restore(bytes)?;
    validate(&bytes)?;
    Ok(bytes)
}

/// The names of a component's top-level exports, in order.
fn export_order(component: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    crate::nested::for_each_top_level(component, |payload, _| {
        if let wasmparser::Payload::ComponentExportSection(reader) = payload {
            names.extend(
                reader
                    .clone()
                    .into_iter()
                    .flatten()
                    .map(|export| export.name.full_name().into_owned()),
            );
        }
    });
    names
}

/// Validates a composed output: anything Nebula writes must validate.
pub(crate) fn validate(bytes: &[u8]) -> Result<(), Error> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .map_err(|e| Error::internal("the composed component does not validate", e))?;
    Ok(())
}

/// Instantiates the span runtime `package`, its imports from `import`;
/// returns the node of its `nebula:spans` export.
pub(crate) fn instantiate_runtime(
    graph: &mut CompositionGraph,
    package: wac_graph::PackageId,
    import: &mut dyn FnMut(&mut CompositionGraph, &str, ItemKind) -> Result<NodeId, Error>,
) -> Result<NodeId, Error> {
    let node = graph.instantiate(package);
    for (name, kind) in package_imports(graph, package) {
        let arg = import(graph, &name, kind)?;
        graph
            .set_instantiation_argument(node, &name, arg)
            .map_err(|e| Error::internal(&format!("wiring the span runtime's `{name}`"), e))?;
    }
    graph
        .alias_instance_export(node, SPANS_INTERFACE)
        .map_err(|e| Error::internal("taking the span runtime's export", e))
}

/// The composition's imports, one node per name shared by all who import it.
#[derive(Default)]
struct Wiring {
    imports: HashMap<String, NodeId>,
    /// The target's world-level types taken from its imported instances
    /// (see [`world_types::sources`]).
    world_types: HashMap<String, (String, String)>,
    /// The resource names of the top-level resource imports.
    resources: Vec<String>,
    /// Type imports taken from an instance import instead.
    aliased: world_types::Aliased,
    /// The one name and type of each import the parts share.
    shared: SharedImports,
}

impl Wiring {
    fn import(
        &mut self,
        graph: &mut CompositionGraph,
        name: &str,
        kind: ItemKind,
    ) -> Result<NodeId, Error> {
        let name = self.shared.name(name).to_string();
        let name = name.as_str();
        if let Some(node) = self.imports.get(name) {
            return Ok(*node);
        }
        let kind = self.shared.kind(name, kind);
        let aliasable = world_types::aliasable(
            graph.types(),
            name,
            kind,
            &self.world_types,
            &self.resources,
        )?;
        let node = match aliasable {
            Some((instance, export)) => {
                let source = self.import_of(&instance, name)?;
                let node = self.alias(graph, source, &export)?;
                self.aliased.push(name, &instance, &export);
                node
            }
            None => graph
                .import(name, kind)
                .map_err(|e| Error::internal(&format!("importing `{name}`"), e))?,
        };
        self.imports.insert(name.to_string(), node);
        Ok(node)
    }

    /// The node of the instance import `instance`, which the type import
    /// `user` is taken from.
    fn import_of(&self, instance: &str, user: &str) -> Result<NodeId, Error> {
        let instance = self.shared.name(instance);
        self.imports.get(instance).copied().ok_or_else(|| {
            Error::Internal(format!(
                "the world-level type `{user}` is taken from `{instance}`, which the \
                 composition does not import before it"
            ))
        })
    }

    fn alias(
        &mut self,
        graph: &mut CompositionGraph,
        instance: NodeId,
        name: &str,
    ) -> Result<NodeId, Error> {
        graph
            .alias_instance_export(instance, name)
            .map_err(|e| Error::internal(&format!("taking export `{name}`"), e))
    }

    fn argument(
        &mut self,
        graph: &mut CompositionGraph,
        instance: NodeId,
        name: &str,
        argument: NodeId,
    ) -> Result<(), Error> {
        graph
            .set_instantiation_argument(instance, name, argument)
            .map_err(|e| Error::internal(&format!("wiring `{name}`"), e))
    }
}

/// A package's imports, in order.
pub(crate) fn package_imports(
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
