//! One import per name for all the parts of an output (target, proxies,
//! span runtime, inner components), typed so that every part accepts it.
//!
//! Encoders trim an imported instance's type to the items the component
//! uses: a target may import `wasi:clocks/wall-clock@0.2.0` for its
//! `datetime` type alone, or `wasi:random/random@0.2.0` without
//! `get-random-u64`, while the span runtime calls `now` and
//! `get-random-u64`. Parts may also import semver-compatible versions of
//! one interface (`0.2.0` and `0.2.6`), which one component cannot import
//! side by side. The output imports each such interface once, under the
//! highest version, with the union of the items the parts need, the way
//! `wac` merges the implicit imports of a composition and wasmtime's
//! linker matches versions.
//!
//! `wac-types`' [`TypeAggregator`] computes the union (resources matched
//! by name, used types followed). It keeps its result in a type arena of
//! its own, so the merged types travel into the graph's arena as a small
//! component that only imports them, read back with
//! [`Package::from_bytes`].
//!
//! Names on which every part already agrees (the first part's view is a
//! subtype of every other's) keep the first part's view, as before: such
//! outputs stay byte for byte what they were.

use std::collections::{HashMap, HashSet};

use wac_graph::types::{
    ItemKind, Package, SubtypeChecker, TypeAggregator, Types, are_semver_compatible,
};
use wac_graph::{CompositionGraph, EncodeOptions};

use crate::error::{Error, Unsupported};

/// The merged import types of one composition.
#[derive(Debug, Default)]
pub(crate) struct SharedImports {
    /// Names whose parts disagree: the merged kind, in the graph's arena.
    merged: HashMap<String, ItemKind>,
    /// Semver-compatible names folded into one: name → the name imported.
    canonical: HashMap<String, String>,
}

impl SharedImports {
    /// Merges what the parts of `graph` want to import: `wanted` lists each
    /// part's (name, view of the type), in the parts' order.
    pub(crate) fn new(
        graph: &mut CompositionGraph,
        wanted: &[(String, ItemKind)],
    ) -> Result<Self, Error> {
        let groups = disagreeing_groups(graph, wanted);
        if groups.is_empty() {
            return Ok(SharedImports::default());
        }
        let mut cache = Default::default();
        let mut checker = SubtypeChecker::new(&mut cache);
        let mut aggregator = TypeAggregator::new();
        for (name, kind) in groups.iter().flatten() {
            aggregator = aggregator
                .aggregate(name, graph.types(), *kind, &mut checker)
                .map_err(|source| {
                    Error::from(Unsupported::IncompatibleImports {
                        name: name.clone(),
                        source: source.into(),
                    })
                })?;
        }
        let canonical = groups
            .iter()
            .flatten()
            .map(|(name, _)| (name.clone(), aggregator.canonical_import_name(name)))
            .filter(|(name, to)| name != to)
            .map(|(name, to)| (name, to.to_string()))
            .collect();

        // Carry the merged types into the graph's arena: a component that
        // imports exactly them, read back as a package.
        let mut carrier = CompositionGraph::new();
        *carrier.types_mut() = aggregator.types().clone();
        let roots: Vec<ItemKind> = aggregator.imports().map(|(_, kind)| kind).collect();
        rename_interfaces(carrier.types_mut(), roots, &canonical);
        for (name, kind) in aggregator.imports() {
            carrier
                .import(name, kind)
                .map_err(|e| Error::internal(&format!("merging the imports `{name}`"), e))?;
        }
        let bytes = carrier
            .encode(EncodeOptions {
                define_components: false,
                validate: false,
                processor: None,
            })
            .map_err(|e| Error::internal("encoding the merged imports", e))?;
        let package = Package::from_bytes("nebula:shared-imports", None, bytes, graph.types_mut())
            .map_err(|e| Error::internal("reading the merged imports", e))?;
        // Every part now refers to a folded version by the name imported,
        // so `use`s of its types alias that one import.
        let roots: Vec<ItemKind> = graph
            .packages()
            .map(|p| p.ty())
            .chain([package.ty()])
            .flat_map(|w| {
                let world = &graph.types()[w];
                let used = world.uses.values().map(|u| ItemKind::Instance(u.interface));
                world
                    .imports
                    .values()
                    .chain(world.exports.values())
                    .copied()
                    .chain(used)
                    .collect::<Vec<_>>()
            })
            .collect();
        rename_interfaces(graph.types_mut(), roots, &canonical);
        let world = &graph.types()[package.ty()];
        let merged = aggregator
            .imports()
            .filter_map(|(name, _)| Some((name.to_string(), *world.imports.get(name)?)))
            .collect();
        Ok(SharedImports { merged, canonical })
    }

    /// The name the output imports `name` by (the highest of
    /// semver-compatible versions the parts import).
    pub(crate) fn name<'a>(&'a self, name: &'a str) -> &'a str {
        self.canonical.get(name).map_or(name, String::as_str)
    }

    /// The type the output imports `name` (a name from [`Self::name`]) with:
    /// the union of the parts' views where they differ, else `kind`.
    pub(crate) fn kind(&self, name: &str, kind: ItemKind) -> ItemKind {
        self.merged.get(name).copied().unwrap_or(kind)
    }
}

/// `wanted` grouped by semver-compatible name, only the groups whose parts
/// do not all accept the first part's view (or import different versions).
fn disagreeing_groups(
    graph: &CompositionGraph,
    wanted: &[(String, ItemKind)],
) -> Vec<Vec<(String, ItemKind)>> {
    let mut groups: Vec<Vec<(String, ItemKind)>> = Vec::new();
    for (name, kind) in wanted {
        match groups
            .iter_mut()
            .find(|group| are_semver_compatible(&group[0].0, name))
        {
            Some(group) => group.push((name.clone(), *kind)),
            None => groups.push(vec![(name.clone(), *kind)]),
        }
    }
    let types = graph.types();
    let mut cache = Default::default();
    let mut checker = SubtypeChecker::new(&mut cache);
    groups.retain(|group| {
        let (first, first_kind) = &group[0];
        group.iter().any(|(name, kind)| {
            name != first
                || (kind != first_kind
                    && checker
                        .is_subtype(*first_kind, types, *kind, types)
                        .is_err())
        })
    });
    groups
}

/// Renames the interfaces reachable from `roots` that `canonical` folds
/// into another version, so that every `use` of their types names the
/// version the output imports.
fn rename_interfaces(types: &mut Types, roots: Vec<ItemKind>, canonical: &HashMap<String, String>) {
    if canonical.is_empty() {
        return;
    }
    let mut pending: Vec<_> = roots
        .into_iter()
        .filter_map(|kind| match kind {
            ItemKind::Instance(id) => Some(id),
            _ => None,
        })
        .collect();
    let mut seen = HashSet::new();
    while let Some(id) = pending.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(to) = types[id].id.as_ref().and_then(|name| canonical.get(name)) {
            types[id].id = Some(to.clone());
        }
        pending.extend(types[id].uses.values().map(|used| used.interface));
    }
}
