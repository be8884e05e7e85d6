//! One boundary's plan: the component's world (recovered from its
//! stand-in), and for each export and import whether it is wrapped or
//! passed through (and why), as an immutable [`BoundaryPlan`].
//!
//! Limits (each passes through unwrapped, with the reason in the report):
//! - imported interfaces whose resources the target's exports also use
//!   (the output's exports would name the proxy's wrapper resource), or
//!   whose resources an import that cannot be wrapped uses;
//! - component-model async functions, futures, streams, maps and
//!   fixed-length lists;
//! - exported functions using a world-level type that holds a resource of
//!   an interface the component both imports and exports;
//! - `wasi:otel` itself, which is never wrapped.

use wit_parser::decoding::DecodedWasm;
use wit_parser::{
    Function, FunctionKind, InterfaceId, Resolve, Type, TypeDefKind, WorldId, WorldItem, WorldKey,
};

use crate::error::{InputError, Unsupported};
use crate::report::{Direction, Report, WrappedFunction};
use crate::wit_sources;
use crate::wit_walk::{reachable, signature};
use crate::{Error, Options};

/// What to do with one export of the target.
#[derive(Debug, Clone)]
pub enum Treatment {
    /// Forward every function through the proxy; those with a span say so.
    Wrap(Vec<PlannedFunction>),
    /// Export the target's item directly, without spans.
    PassThrough {
        /// Why it is not wrapped.
        reason: String,
    },
}

/// One function of a wrapped export.
#[derive(Debug, Clone)]
pub struct PlannedFunction {
    /// The WIT function, from the plan's `Resolve`.
    pub func: Function,
    /// The span around each call, or `None` when the filters leave it out
    /// (it is still forwarded: the proxy mirrors the whole item).
    pub span: Option<WrappedFunction>,
}

/// One export of the target, in the target's order.
#[derive(Debug, Clone)]
pub struct ExportItem {
    /// The export's name in the component (`ns:pkg/iface@1.0.0`, `f`).
    pub name: String,
    /// The export's key in the world.
    pub key: WorldKey,
    /// Wrapped or passed through.
    pub treatment: Treatment,
}

/// Everything the later phases need to wrap one component's boundary,
/// computed once from its stand-in.
pub struct BoundaryPlan {
    /// The target's decoded packages plus `nebula:spans`.
    pub resolve: Resolve,
    /// The target's world in `resolve`.
    pub world: WorldId,
    /// `nebula:spans/spans`, which every proxy imports (from the output's
    /// one span runtime).
    pub spans: InterfaceId,
    /// Every export, in order.
    pub exports: Vec<ExportItem>,
    /// Every import that is a function or an interface, in order.
    pub imports: Vec<ExportItem>,
    /// The `wasm.component.name` attribute value.
    pub component_name: String,
}

impl BoundaryPlan {
    /// Decodes the world of `stand_in` (a valid component's stand-in; see
    /// [`crate::stand_in`]) and decides what to wrap. `own_name` is the
    /// component's name from its name section.
    pub(crate) fn new(
        stand_in: &[u8],
        own_name: Option<&str>,
        options: &Options,
    ) -> Result<Self, Error> {
        let (mut resolve, world) = match wit_parser::decoding::decode(stand_in) {
            Ok(DecodedWasm::Component(resolve, world)) => (resolve, world),
            Ok(DecodedWasm::WitPackage(..)) => {
                return Err(InputError::WitPackage.into());
            }
            Err(e) => {
                return Err(Unsupported::World(e.into()).into());
            }
        };
        let (spans_resolve, spans) = wit_sources::spans_interface()?;
        let remap = resolve
            .merge(spans_resolve)
            .map_err(|e| Unsupported::SpansPackage(e.into()))?;
        let spans = remap.interfaces[spans.index()].expect("merged interface");

        let component_name = options
            .component_name
            .clone()
            .or(own_name.map(str::to_string))
            .unwrap_or_else(|| "component".to_string());

        let mut exports = Vec::new();
        for (key, item) in &resolve.worlds[world].exports {
            let clashes =
                matches!(key, WorldKey::Name(_)) && resolve.worlds[world].imports.contains_key(key);
            let treatment = if clashes {
                Treatment::PassThrough {
                    reason: "an import has the same name, which a proxy cannot both import \
                             and export"
                        .into(),
                }
            } else if let WorldItem::Function(func) = item
                && let Some(reason) = ambiguous_world_type(&resolve, world, func)
            {
                Treatment::PassThrough { reason }
            } else {
                plan_item(&resolve, key, item, Direction::Export, options)
            };
            exports.push(ExportItem {
                name: resolve.name_world_key(key),
                key: key.clone(),
                treatment,
            });
        }
        keep_type_links(&resolve, &resolve.worlds[world].exports, &mut exports);
        let mut imports = Vec::new();
        for (key, item) in &resolve.worlds[world].imports {
            if matches!(item, WorldItem::Type { .. }) {
                continue;
            }
            imports.push(ExportItem {
                name: resolve.name_world_key(key),
                key: key.clone(),
                treatment: plan_item(&resolve, key, item, Direction::Import, options),
            });
        }
        settle_import_resources(&resolve, world, &exports, &mut imports);
        keep_type_links(&resolve, &resolve.worlds[world].imports, &mut imports);
        Ok(BoundaryPlan {
            resolve,
            world,
            spans,
            exports,
            imports,
            component_name,
        })
    }

    /// The items of one side (`Export`: the exports) that go through that
    /// side's proxy.
    pub fn wrapped(
        &self,
        side: Direction,
    ) -> impl Iterator<Item = (&ExportItem, &[PlannedFunction])> {
        let items = match side {
            Direction::Export => &self.exports,
            Direction::Import => &self.imports,
        };
        items.iter().filter_map(|item| match &item.treatment {
            Treatment::Wrap(funcs) => Some((item, funcs.as_slice())),
            Treatment::PassThrough { .. } => None,
        })
    }

    /// The report for this plan, with the proxy worlds' WIT text.
    pub fn report(&self, proxy_wit: String) -> Report {
        let mut report = Report {
            proxy_wit,
            ..Report::default()
        };
        for item in self.exports.iter().chain(&self.imports) {
            match &item.treatment {
                Treatment::Wrap(funcs) => report
                    .wrapped
                    .extend(funcs.iter().filter_map(|f| f.span.clone())),
                Treatment::PassThrough { reason } => {
                    report.skipped.push(format!("`{}`: {reason}", item.name))
                }
            }
        }
        report
    }
}

/// The span name of a function in an interface export (`ns:pkg/iface#f`,
/// without the version; `ns:pkg/iface#res.method` for resource items, the
/// constructor as `res.new`) or of a freestanding one (`f`).
fn span_name(resolve: &Resolve, key: Option<&WorldKey>, func: &Function) -> String {
    let item = function_label(resolve, func);
    let Some(key) = key else {
        return item;
    };
    let interface = match key {
        WorldKey::Name(name) => name.clone(),
        WorldKey::Interface(id) => {
            let iface = &resolve.interfaces[*id];
            match (iface.package, &iface.name) {
                (Some(pkg), Some(name)) => {
                    let pkg = &resolve.packages[pkg].name;
                    format!("{}:{}/{name}", pkg.namespace, pkg.name)
                }
                _ => resolve.name_world_key(key),
            }
        }
    };
    format!("{interface}#{item}")
}

/// A function's name as people read it: `f`, `res.method`, `res.new`.
fn function_label(resolve: &Resolve, func: &Function) -> String {
    let resource = |id: wit_parser::TypeId| resolve.types[id].name.clone().unwrap_or_default();
    match func.kind {
        FunctionKind::Constructor(r) => format!("{}.new", resource(r)),
        FunctionKind::Method(r) | FunctionKind::Static(r) => {
            format!("{}.{}", resource(r), func.item_name())
        }
        _ => func.name.clone(),
    }
}

/// Packages whose interfaces are imported everywhere and called all the
/// time; their imports are wrapped only when an include pattern asks.
const CHATTY_WASI: &[&str] = &["io", "clocks", "random", "cli", "filesystem"];

fn plan_item(
    resolve: &Resolve,
    key: &WorldKey,
    item: &WorldItem,
    direction: Direction,
    options: &Options,
) -> Treatment {
    match item {
        WorldItem::Interface { id, .. } => plan_interface(resolve, key, *id, direction, options),
        WorldItem::Function(func) => {
            if let Some(reason) = unwrappable(resolve, func) {
                return Treatment::PassThrough { reason };
            }
            if !matches!(func.kind, FunctionKind::Freestanding) {
                return Treatment::PassThrough {
                    reason: "an item of a world-level resource; only resources of interfaces \
                             are wrapped"
                        .into(),
                };
            }
            if direction == Direction::Import && uses_world_types(resolve, func) {
                return Treatment::PassThrough {
                    reason: "a top-level import using world-level types, which the composer \
                             (wac-graph 0.12) cannot import again"
                        .into(),
                };
            }
            let planned = planned(resolve, None, func, direction, options, false);
            if planned.span.is_none() && direction == Direction::Export {
                return Treatment::PassThrough {
                    reason: "not selected by the include/exclude patterns".into(),
                };
            }
            Treatment::Wrap(vec![planned])
        }
        WorldItem::Type { .. } => Treatment::PassThrough {
            reason: "a type, not a function".into(),
        },
    }
}

fn plan_interface(
    resolve: &Resolve,
    key: &WorldKey,
    id: InterfaceId,
    direction: Direction,
    options: &Options,
) -> Treatment {
    let iface = &resolve.interfaces[id];
    let package = iface.package.map(|p| &resolve.packages[p].name);
    if let Some(pkg) = package
        && pkg.namespace == "wasi"
        && pkg.name == "otel"
    {
        return Treatment::PassThrough {
            reason: "`wasi:otel` is never wrapped".into(),
        };
    }
    if let Some(pkg) = package
        && pkg.namespace == "nebula"
        && pkg.name == "spans"
    {
        return Treatment::PassThrough {
            reason: "Nebula's own span runtime is never wrapped".into(),
        };
    }
    let chatty = direction == Direction::Import
        && package.is_some_and(|p| p.namespace == "wasi" && CHATTY_WASI.contains(&p.name.as_str()));
    if direction == Direction::Import
        && let Some(name) = type_unused_by_functions(resolve, id)
    {
        // The proxy's look-alike would only carry the types its functions
        // use, and the target may need `name` too.
        return Treatment::PassThrough {
            reason: format!("declares type `{name}` that none of its functions use"),
        };
    }
    let mut funcs = Vec::new();
    for func in iface.functions.values() {
        if let Some(reason) = unwrappable(resolve, func) {
            return Treatment::PassThrough { reason };
        }
        funcs.push(planned(
            resolve,
            Some(key),
            func,
            direction,
            options,
            chatty,
        ));
    }
    // An import with no function selected stays forwardable here: it may
    // have to go through the proxy after all, when it uses the resources
    // of a wrapped import (see `settle_import_resources`).
    // An export goes through the proxy even with no function selected:
    // other exports may `use` its types, and those links must keep pointing
    // at one exported instance.
    Treatment::Wrap(funcs)
}

fn planned(
    resolve: &Resolve,
    key: Option<&WorldKey>,
    func: &Function,
    direction: Direction,
    options: &Options,
    only_if_included: bool,
) -> PlannedFunction {
    let span_name = span_name(resolve, key, func);
    let selected = if only_if_included {
        options.includes(&span_name) && options.selects(&span_name)
    } else {
        options.selects(&span_name)
    };
    let span = selected.then(|| WrappedFunction {
        span_name,
        direction,
        interface: key.map(|k| resolve.name_world_key(k)),
        function: function_label(resolve, func),
    });
    PlannedFunction {
        func: func.clone(),
        span,
    }
}

/// Why `func` cannot be forwarded by a synchronous proxy, if it cannot.
fn unwrappable(resolve: &Resolve, func: &Function) -> Option<String> {
    match func.kind {
        FunctionKind::Freestanding
        | FunctionKind::Constructor(_)
        | FunctionKind::Method(_)
        | FunctionKind::Static(_) => {}
        FunctionKind::AsyncFreestanding
        | FunctionKind::AsyncMethod(_)
        | FunctionKind::AsyncStatic(_) => {
            return Some(format!(
                "`{}` is a component-model async function",
                func.name
            ));
        }
        _ => {
            return Some(format!(
                "`{}` is a getter or setter, which Nebula does not forward yet",
                func.name
            ));
        }
    }
    let types = func.params.iter().map(|p| p.ty).chain(func.result);
    for ty in types {
        if let Some(kind) = unsupported_type(resolve, ty) {
            return Some(format!("`{}` uses a {kind}", func.name));
        }
    }
    None
}

/// The first type inside `ty` that a synchronous proxy cannot forward.
fn unsupported_type(resolve: &Resolve, ty: Type) -> Option<&'static str> {
    let Type::Id(id) = ty else {
        return (ty == Type::ErrorContext).then_some("error-context");
    };
    let kind = &resolve.types[id].kind;
    match kind {
        TypeDefKind::Future(_) => return Some("future"),
        TypeDefKind::Stream(_) => return Some("stream"),
        TypeDefKind::Map(..) => return Some("map"),
        TypeDefKind::FixedLengthList(..) => return Some("fixed-length list"),
        TypeDefKind::Unknown => return Some("type Nebula does not know"),
        _ => {}
    }
    let inner = crate::wit_walk::children(kind);
    inner.into_iter().find_map(|t| unsupported_type(resolve, t))
}

/// An interface passed through exports the target's instance; every
/// exported interface whose types it uses must then come from the target
/// too, or its `use` links would point at an instance the output does not
/// export. Passes such interfaces through, to a fixpoint.
fn keep_type_links(
    resolve: &Resolve,
    items: &wit_parser::IndexMap<WorldKey, WorldItem>,
    exports: &mut [ExportItem],
) {
    loop {
        let mut demote = None;
        'search: for item in exports.iter() {
            // Anonymous interfaces (`export x: interface { use … }`) too.
            let (Some(WorldItem::Interface { id, .. }), Treatment::PassThrough { .. }) =
                (items.get(&item.key), &item.treatment)
            else {
                continue;
            };
            for dep in resolve.interface_direct_deps(*id) {
                let wrapped = exports.iter().position(|e| {
                    e.key == WorldKey::Interface(dep) && matches!(e.treatment, Treatment::Wrap(_))
                });
                if let Some(index) = wrapped {
                    demote = Some((index, item.name.clone()));
                    break 'search;
                }
            }
        }
        let Some((index, user)) = demote else { return };
        exports[index].treatment = Treatment::PassThrough {
            reason: format!("passed-through `{user}` uses its types"),
        };
    }
}

/// A type of interface `id` that no function signature of it reaches.
pub(crate) fn type_unused_by_functions(resolve: &Resolve, id: InterfaceId) -> Option<&str> {
    let iface = &resolve.interfaces[id];
    let used: std::collections::HashSet<_> =
        reachable(resolve, iface.functions.values().flat_map(signature)).collect();
    iface
        .types
        .iter()
        .find(|(_, t)| !used.contains(*t))
        .map(|(name, _)| name.as_str())
}

/// Why exported `func` cannot go through the export proxy when its
/// signature reaches a world-level type (`use i.{r as k};`) holding a
/// resource of an interface the world both imports and exports: the
/// proxy's world would take `i` from the target's export, the target's `k`
/// is the import's.
fn ambiguous_world_type(resolve: &Resolve, world: WorldId, func: &Function) -> Option<String> {
    let w = &resolve.worlds[world];
    let both = |id: InterfaceId| {
        let key = WorldKey::Interface(id);
        w.imports.contains_key(&key) && w.exports.contains_key(&key)
    };
    for t in reachable(resolve, signature(func)) {
        let def = &resolve.types[t];
        if let (wit_parser::TypeOwner::World(_), TypeDefKind::Type(Type::Id(used))) =
            (def.owner, &def.kind)
            && let wit_parser::TypeOwner::Interface(owner) = resolve.types[*used].owner
            && both(owner)
            && reaches_resource(resolve, Type::Id(*used))
        {
            return Some(format!(
                "uses the world-level type `{}`, which holds a resource of `{}`, an interface \
                 the component both imports and exports (a proxy would take it from the export)",
                def.name.as_deref().unwrap_or_default(),
                resolve.id_of(owner).unwrap_or_default()
            ));
        }
    }
    None
}

/// Whether `ty` is or holds a resource (or a handle to one).
fn reaches_resource(resolve: &Resolve, ty: Type) -> bool {
    reachable(resolve, [ty]).any(|t| {
        matches!(
            resolve.types[t].kind,
            TypeDefKind::Resource | TypeDefKind::Handle(_)
        )
    })
}

/// Whether `func`'s signature reaches a type defined at world level.
fn uses_world_types(resolve: &Resolve, func: &Function) -> bool {
    reachable(resolve, signature(func))
        .any(|t| matches!(resolve.types[t].owner, wit_parser::TypeOwner::World(_)))
}

/// Makes the import plan coherent for resources and type links, then
/// passes through the imports that nothing needs.
///
/// An import proxy that wraps interface `X` exports its own wrapper of each
/// resource `X` defines, and the target sees only that one. So every other
/// import that uses those resources must come through the proxy too (it is
/// forwarded even with no span selected), and `X` cannot be wrapped when
/// the target's exports use its resources (the output's exports would name
/// the proxy's wrapper) or when an import that cannot be wrapped uses them.
/// Nor when an export passed through uses any of its types: the target's
/// export would `use` them from the proxy's copy of `X`, which the output
/// does not import, and the link to `X` would be lost. (Wrapped exports
/// take `X` from the host, see `compose`.)
/// Imports with no selected function that nothing needs pass through.
fn settle_import_resources(
    resolve: &Resolve,
    world: WorldId,
    exports: &[ExportItem],
    imports: &mut [ExportItem],
) {
    let passed_through_reaches: Vec<(&str, Vec<InterfaceId>)> = exports
        .iter()
        .filter(|e| matches!(e.treatment, Treatment::PassThrough { .. }))
        .map(|e| {
            let item = &resolve.worlds[world].exports[&e.key];
            (e.name.as_str(), item_deps(resolve, item))
        })
        .collect();
    let reaches: Vec<Vec<InterfaceId>> = imports
        .iter()
        .map(|item| item_deps(resolve, &resolve.worlds[world].imports[&item.key]))
        .collect();
    // Items that always keep the host's (or the target's own) types: the
    // exports, and world-level types taken from imported interfaces.
    let w = &resolve.worlds[world];
    let type_imports = w
        .imports
        .iter()
        .filter(|(_, item)| matches!(item, WorldItem::Type { .. }));
    let export_reaches: Vec<(String, Vec<InterfaceId>)> = w
        .exports
        .iter()
        .chain(type_imports)
        .map(|(key, item)| (resolve.name_world_key(key), item_deps(resolve, item)))
        .collect();
    let interface_of = |item: &ExportItem| match item.key {
        WorldKey::Interface(id) => Some(id),
        WorldKey::Name(_) => match &resolve.worlds[world].imports[&item.key] {
            WorldItem::Interface { id, .. } => Some(*id),
            _ => None,
        },
    };
    let defines_resource = |id: InterfaceId| {
        resolve.interfaces[id]
            .types
            .values()
            .any(|t| matches!(resolve.types[*t].kind, TypeDefKind::Resource))
    };
    loop {
        // `needed[i]`: the wanted item (with a span) that needs item `i`.
        let mut needed: Vec<Option<usize>> = imports
            .iter()
            .enumerate()
            .map(|(i, item)| match &item.treatment {
                Treatment::Wrap(funcs) if funcs.iter().any(|f| f.span.is_some()) => Some(i),
                _ => None,
            })
            .collect();
        let mut conflict = None;
        let mut queue: Vec<usize> = (0..imports.len())
            .filter(|i| needed[*i].is_some())
            .collect();
        while let Some(i) = queue.pop() {
            let root = needed[i].expect("queued items are needed");
            // Type links point at the import by the interface's own name.
            if let WorldKey::Interface(id) = imports[i].key
                && let Some((name, _)) = passed_through_reaches
                    .iter()
                    .find(|(_, deps)| deps.contains(&id))
            {
                conflict = Some((
                    root,
                    format!(
                        "the passed-through export `{name}` uses the types of `{}`, which a \
                         proxy would replace by its own",
                        imports[i].name
                    ),
                ));
                break;
            }
            let Some(id) = interface_of(&imports[i]).filter(|id| defines_resource(*id)) else {
                continue;
            };
            if let Some((name, _)) = export_reaches.iter().find(|(_, deps)| deps.contains(&id)) {
                conflict = Some((
                    root,
                    format!(
                        "the component's export or world type `{name}` uses the resources of \
                         `{}`, which a proxy would replace by its own",
                        imports[i].name
                    ),
                ));
                break;
            }
            for (j, deps) in reaches.iter().enumerate() {
                if j == i || !deps.contains(&id) || needed[j].is_some() {
                    continue;
                }
                if let Treatment::PassThrough { reason } = &imports[j].treatment {
                    conflict = Some((
                        root,
                        format!(
                            "`{}` uses the resources of `{}` and cannot be wrapped ({reason})",
                            imports[j].name, imports[i].name
                        ),
                    ));
                    break;
                }
                needed[j] = Some(root);
                queue.push(j);
            }
            if conflict.is_some() {
                break;
            }
        }
        if let Some((root, reason)) = conflict {
            imports[root].treatment = Treatment::PassThrough { reason };
            continue;
        }
        for (item, needed) in imports.iter_mut().zip(needed) {
            if needed.is_none() && matches!(item.treatment, Treatment::Wrap(_)) {
                item.treatment = Treatment::PassThrough {
                    reason: unselected_reason(resolve, interface_of(item)).into(),
                };
            }
        }
        return;
    }
}

/// Why an import with no selected function passes through.
fn unselected_reason(resolve: &Resolve, interface: Option<InterfaceId>) -> &'static str {
    let package = interface
        .and_then(|id| resolve.interfaces[id].package)
        .map(|p| &resolve.packages[p].name);
    match package {
        Some(p) if p.namespace == "wasi" && CHATTY_WASI.contains(&p.name.as_str()) => {
            "low-level WASI, wrapped only when an include pattern names it"
        }
        _ if interface.is_some() => "no function selected by the include/exclude patterns",
        _ => "not selected by the include/exclude patterns",
    }
}

/// The interfaces whose types the world item `item` can reach: an
/// interface's transitive dependencies, or the owners (and their
/// dependencies) of the types a function's signature reaches.
fn item_deps(resolve: &Resolve, item: &WorldItem) -> Vec<InterfaceId> {
    let mut out: Vec<InterfaceId> = Vec::new();
    let mut pending: Vec<InterfaceId> = Vec::new();
    let mut stack: Vec<Type> = Vec::new();
    match item {
        WorldItem::Interface { id, .. } => pending.extend(resolve.interface_direct_deps(*id)),
        WorldItem::Type { id, .. } => stack.push(Type::Id(*id)),
        WorldItem::Function(func) => stack.extend(signature(func)),
    }
    for t in reachable(resolve, stack) {
        if let wit_parser::TypeOwner::Interface(owner) = resolve.types[t].owner {
            pending.push(owner);
        }
    }
    while let Some(id) = pending.pop() {
        if !out.contains(&id) {
            out.push(id);
            pending.extend(resolve.interface_direct_deps(id));
        }
    }
    out
}
