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
//! ([`nested`]) wires them all to its one runtime instance.
//!
//! The target is handed in as its stand-in ([`crate::stand_in`]), with the
//! real component's [`TopLevel`]; the real bytes go in after encoding.
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
mod graph;
mod labels;
mod nested;
mod served;
mod shared;
mod uses;
mod with_exporter;
mod world_types;

pub(crate) use nested::Composition;
pub use served::Served;
use served::ServedBy;
pub(crate) use shared::SharedImports;
pub(crate) use with_exporter::with_exporter;

use std::collections::{HashMap, HashSet};

use wac_graph::NodeId;
use wac_graph::types::{ItemKind, Type};

use graph::{Graph, Importer};

use crate::Direction;
use crate::Error;
use crate::analyze::BoundaryPlan;
use crate::proxy::Proxy;
use crate::toplevel::TopLevel;
use crate::wit_sources::SPANS_INTERFACE;

/// Composes `target` (the target's stand-in; `top`, the real target's top
/// level) with its import proxy and export proxy (either may be absent),
/// and with the span `runtime` component when given (otherwise the result
/// imports `nebula:spans`), which also serves the target's `wasi:otel`
/// imports that `served` names.
pub(crate) fn compose(
    target: &[u8],
    top: &TopLevel<'_>,
    plan: &BoundaryPlan,
    import_proxy: Option<&Proxy>,
    export_proxy: Option<&Proxy>,
    runtime: Option<&[u8]>,
    served: &Served,
) -> Result<Vec<u8>, Error> {
    let served = |name: &str| runtime.and(served.get(name));
    // The target's own export order (the decoded world may list anonymous
    // interfaces after functions).
    let order: Vec<&str> = top.export_names().collect();
    let mut graph = Graph::default();
    let target_pkg = graph.register("nebula:target", target)?;
    let import_pkg = import_proxy
        .map(|p| graph.register("nebula:import-proxy", &p.component))
        .transpose()?;
    let export_pkg = export_proxy
        .map(|p| graph.register("nebula:export-proxy", &p.component))
        .transpose()?;

    let worlds: Vec<_> = [Some(target_pkg), import_pkg, export_pkg]
        .into_iter()
        .flatten()
        .map(|pkg| graph.graph[pkg].ty())
        .collect();
    let types = graph.graph.types_mut();
    let hidden = borrows::hide(types, &worlds);
    let mut labels = labels::hide(types, &worlds);
    labels.keep_exports(top);
    uses::relink(types, &worlds, &plan.resolve);

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
            .flat_map(|w| graph.graph.types()[*w].imports.values())
            .filter_map(|kind| match kind {
                ItemKind::Type(Type::Resource(r)) => Some(graph.graph.types()[*r].name.clone()),
                _ => None,
            })
            .collect(),
        world_types: world_types::sources(top),
        aliased: world_types::Aliased::default(),
        graph,
    };
    let runtime_pkg = runtime
        .map(|runtime| wiring.graph.register("nebula:span-runtime", runtime))
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
    let target_imports = wiring.graph.package_imports(target_pkg);
    let mut wanted: Vec<_> = target_imports
        .iter()
        .filter(|(name, _)| served(name).is_none())
        .cloned()
        .collect();
    for pkg in [runtime_pkg, import_pkg].into_iter().flatten() {
        wanted.extend(wiring.graph.package_imports(pkg));
    }
    if let Some(pkg) = export_pkg {
        wanted.extend(
            wiring
                .graph
                .package_imports(pkg)
                .into_iter()
                .filter(|(name, _)| !from_target.contains(name.as_str())),
        );
    }
    wanted.retain(|(name, _)| name != SPANS_INTERFACE);
    wiring.graph.share(&wanted)?;

    for (name, kind) in &target_imports {
        if served(name).is_none() {
            wiring.import(name, *kind)?;
        }
    }
    let runtime_node = match runtime_pkg {
        Some(pkg) => {
            let node = graph::instantiate_runtime(&mut wiring, pkg)?;
            // Every proxy's import of `nebula:spans` gets the runtime's export.
            let spans = wiring.graph.alias(node, SPANS_INTERFACE)?;
            wiring.graph.define(SPANS_INTERFACE, spans);
            Some(node)
        }
        None => None,
    };
    let import_node = match import_pkg {
        Some(pkg) => {
            let node = wiring.graph.graph.instantiate(pkg);
            for (name, kind) in wiring.graph.package_imports(pkg) {
                let arg = wiring.import(&name, kind)?;
                wiring.graph.argument(node, &name, arg)?;
            }
            Some(node)
        }
        None => None,
    };

    // Interfaces the import proxy serves in the host's place (its hooked
    // `wasi:http/types`, see `proxy/reexport.rs`).
    let reexported: Vec<String> = import_proxy
        .map(|proxy| proxy.reexports.clone())
        .unwrap_or_default();
    let target = wiring.graph.graph.instantiate(target_pkg);
    for (name, kind) in target_imports {
        let arg = match (import_node, served(&name).zip(runtime_node)) {
            (_, Some((by, runtime))) => graph::served(&mut wiring, runtime, by, kind)?,
            (Some(node), _)
                if wrapped_imports.contains(name.as_str()) || reexported.contains(&name) =>
            {
                wiring.graph.alias(node, &name)?
            }
            _ => wiring.import(&name, kind)?,
        };
        wiring.graph.argument(target, &name, arg)?;
    }

    let export_node = match export_pkg {
        Some(pkg) => {
            let node = wiring.graph.graph.instantiate(pkg);
            for (name, kind) in wiring.graph.package_imports(pkg) {
                // Imported interfaces, wrapped or not, come from the host:
                // the exports' `use` links must point at the output's
                // imports. (Planning passes through every import whose
                // resources the exports use, so no wrapper resource is
                // missed.)
                let arg = if from_target.contains(name.as_str()) {
                    wiring.graph.alias(target, &name)?
                } else {
                    wiring.import(&name, kind)?
                };
                wiring.graph.argument(node, &name, arg)?;
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
        let node = wiring.graph.alias(source, &item.name)?;
        wiring.graph.export(node, &item.name)?;
    }

    let bytes = wiring.graph.encode()?;
    let bytes = labels.restore(hidden.restore(wiring.graph.graph.types(), bytes)?)?;
    let bytes = wiring.aliased.restore(bytes)?;
    validate(&bytes)?;
    Ok(bytes)
}

/// Validates a composed output: anything Nebula writes must validate.
pub(crate) fn validate(bytes: &[u8]) -> Result<(), Error> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .map_err(|e| Error::internal("the composed component does not validate", e))?;
    Ok(())
}

/// The single component's imports: [`Graph`]'s, and world-level types
/// taken from imported instances.
struct Wiring {
    graph: Graph,
    /// The target's world-level types taken from its imported instances
    /// (see [`world_types::sources`]).
    world_types: HashMap<String, (String, String)>,
    /// The resource names of the top-level resource imports.
    resources: Vec<String>,
    /// Type imports taken from an instance import instead.
    aliased: world_types::Aliased,
}

impl Importer for Wiring {
    fn graph(&mut self) -> &mut Graph {
        &mut self.graph
    }

    /// The node of import `name`, imported when first asked for (as `kind`,
    /// or as an alias of an imported instance's export, see
    /// [`world_types`]).
    fn import(&mut self, name: &str, kind: ItemKind) -> Result<NodeId, Error> {
        let (name, node) = self.graph.imported(name);
        if let Some(node) = node {
            return Ok(node);
        }
        let kind = self.graph.kind(&name, kind);
        let aliasable = world_types::aliasable(
            self.graph.graph.types(),
            &name,
            kind,
            &self.world_types,
            &self.resources,
        )?;
        match aliasable {
            Some((instance, export)) => {
                let source = self.import_of(&instance, &name)?;
                let node = self.graph.alias(source, &export)?;
                self.aliased.push(&name, &instance, &export);
                self.graph.define(&name, node);
                Ok(node)
            }
            None => self.graph.import_new(&name, kind),
        }
    }
}

impl Wiring {
    /// The node of the instance import `instance`, which the type import
    /// `user` is taken from.
    fn import_of(&self, instance: &str, user: &str) -> Result<NodeId, Error> {
        let (instance, node) = self.graph.imported(instance);
        node.ok_or_else(|| {
            Error::bug(format!(
                "the world-level type `{user}` is taken from `{instance}`, which the \
                 composition does not import before it"
            ))
        })
    }
}
