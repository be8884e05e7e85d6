//! A proxy's WIT world: it imports the items it wraps (from the target for
//! the export proxy, from the host for the import proxy) and everything
//! those items depend on, exports the same items again, and imports the
//! output's span runtime.
//!
//! ```text
//! world export-proxy {   // or import-proxy
//!   import <what the wrapped items use>; // interfaces, world-level types
//!   import <each wrapped export>;        // satisfied by the target
//!   import nebula:spans/spans@0.1.0;     // the output's span runtime
//!   export <each wrapped export>;
//! }
//! ```

use std::collections::{HashMap, HashSet};

use wit_parser::{
    Docs, InterfaceId, Package, PackageName, Resolve, Stability, Type, TypeDefKind, TypeId,
    TypeOwner, World, WorldId, WorldItem, WorldKey,
};

use crate::analyze::BoundaryPlan;
use crate::{Direction, Error};

/// The package holding the proxy worlds.
const PACKAGE: &str = "proxy";

/// Adds the proxy world for `plan` to a copy of its `Resolve`.
pub(crate) fn proxy_world(
    plan: &BoundaryPlan,
    side: Direction,
) -> Result<(Resolve, WorldId), Error> {
    let mut resolve = plan.resolve.clone();
    let target = resolve.worlds[plan.world].clone();
    let needed = Needed::of(&resolve, plan, side);
    let (wrapped_side, exported) = match side {
        Direction::Export => (&target.exports, &target.exports),
        // An import proxy's items come from the host: the target's exports
        // play no part.
        Direction::Import => (&target.imports, &wit_parser::IndexMap::default()),
    };

    // What the wrapped items use, from the target's imports (in their order,
    // which is topological) and then from its exports: an interface the
    // target both imports and exports is the exported one here, as it is
    // for the target's own exported items.
    let mut imports = wit_parser::IndexMap::default();
    for (key, item) in target.imports.iter().chain(exported) {
        let used = match item {
            WorldItem::Interface { id, .. } => {
                matches!(key, WorldKey::Interface(_)) && needed.interfaces.contains(id)
            }
            WorldItem::Type { id, .. } => needed.world_types.contains(id),
            WorldItem::Function(_) => false,
        };
        if used {
            imports.insert(key.clone(), item.clone());
        }
    }
    let mut exports = wit_parser::IndexMap::default();
    for (item, _) in plan.wrapped(side) {
        let mut world_item = wrapped_side[&item.key].clone();
        exports.insert(item.key.clone(), world_item.clone());
        if let (WorldKey::Name(_), WorldItem::Interface { id, .. }) = (&item.key, &mut world_item) {
            // An anonymous interface exists once per world item: the import
            // side gets its own copy.
            *id = copy_interface(&mut resolve, *id);
        }
        imports.entry(item.key.clone()).or_insert(world_item);
    }
    import_with_deps(&resolve, &mut imports, plan.spans);
    let name = match side {
        Direction::Export => "export-proxy",
        Direction::Import => "import-proxy",
    };
    let world = add_world(&mut resolve, name, imports, exports);
    Ok((resolve, world))
}

/// Adds world `name` with these items to `resolve`, in a package of its own
/// (`nebula:proxy`).
pub(crate) fn add_world(
    resolve: &mut Resolve,
    name: &str,
    imports: wit_parser::IndexMap<WorldKey, WorldItem>,
    exports: wit_parser::IndexMap<WorldKey, WorldItem>,
) -> WorldId {
    let world = resolve.worlds.alloc(World {
        name: name.to_string(),
        imports,
        exports,
        package: None,
        docs: Docs::default(),
        stability: Stability::default(),
        includes: Vec::new(),
        span: Default::default(),
    });
    let package_name = PackageName {
        namespace: "nebula".to_string(),
        name: PACKAGE.to_string(),
        version: None,
    };
    let mut package = Package {
        name: package_name.clone(),
        docs: Docs::default(),
        interfaces: Default::default(),
        worlds: Default::default(),
    };
    package.worlds.insert(name.to_string(), world);
    let package = resolve.packages.alloc(package);
    resolve.package_names.insert(package_name, package);
    resolve.worlds[world].package = Some(package);
    world
}

/// The proxy world as WIT text, for the report.
pub(crate) fn print(resolve: &Resolve, world: WorldId) -> String {
    let Some(package) = resolve.worlds[world].package else {
        return String::new();
    };
    let mut printer = wit_component::WitPrinter::default();
    printer.emit_docs(false);
    match printer.print(resolve, package, &[]) {
        Ok(()) => printer.output.to_string(),
        Err(e) => format!("// the proxy world could not be printed: {e:#}\n"),
    }
}

/// A deep copy of interface `id`: its own types (and the anonymous types
/// that use them) are copied, so the copy is a distinct interface, as an
/// anonymous interface imported and exported by one world must be.
fn copy_interface(resolve: &mut Resolve, id: InterfaceId) -> InterfaceId {
    let mut iface = resolve.interfaces[id].clone();
    let copy = resolve.interfaces.alloc(iface.clone());
    let mut copier = TypeCopier {
        map: HashMap::new(),
        from: TypeOwner::Interface(id),
        to: TypeOwner::Interface(copy),
    };
    for ty in iface.types.values_mut() {
        *ty = copier.own(resolve, *ty);
    }
    for func in iface.functions.values_mut() {
        // Methods, statics and constructors name their resource too.
        if let Some(resource) = func.kind.resource_mut()
            && let Type::Id(copy) = copier.ty(resolve, Type::Id(*resource))
        {
            *resource = copy;
        }
        for param in &mut func.params {
            param.ty = copier.ty(resolve, param.ty);
        }
        func.result = func.result.map(|t| copier.ty(resolve, t));
    }
    resolve.interfaces[copy] = iface;
    copy
}

/// Copies the types owned by one interface to another, rewriting references.
struct TypeCopier {
    map: HashMap<TypeId, TypeId>,
    from: TypeOwner,
    to: TypeOwner,
}

impl TypeCopier {
    /// The copy of a type owned by the source interface.
    fn own(&mut self, resolve: &mut Resolve, id: TypeId) -> TypeId {
        if let Some(copy) = self.map.get(&id) {
            return *copy;
        }
        let mut def = resolve.types[id].clone();
        def.owner = self.to;
        self.rewrite(resolve, &mut def.kind);
        let copy = resolve.types.alloc(def);
        self.map.insert(id, copy);
        copy
    }

    /// `ty` with references to the source interface's types rewritten.
    fn ty(&mut self, resolve: &mut Resolve, ty: Type) -> Type {
        let Type::Id(id) = ty else { return ty };
        if let Some(copy) = self.map.get(&id) {
            return Type::Id(*copy);
        }
        let def = &resolve.types[id];
        if def.owner == self.from {
            return Type::Id(self.own(resolve, id));
        }
        if def.owner != TypeOwner::None {
            return ty;
        }
        // An anonymous type (`list<t>`, `option<t>`, ...): copy it only if
        // something inside changes.
        let mut kind = def.kind.clone();
        if !self.rewrite(resolve, &mut kind) {
            return ty;
        }
        let mut def = resolve.types[id].clone();
        def.kind = kind;
        let copy = resolve.types.alloc(def);
        self.map.insert(id, copy);
        Type::Id(copy)
    }

    /// Rewrites every type inside `kind`; returns whether any changed.
    fn rewrite(&mut self, resolve: &mut Resolve, kind: &mut TypeDefKind) -> bool {
        let mut changed = false;
        crate::wit_walk::children_mut(kind, |ty| {
            let new = self.ty(resolve, *ty);
            changed |= new != *ty;
            *ty = new;
        });
        changed
    }
}

/// What the wrapped items refer to.
struct Needed {
    /// Interfaces whose types they use, transitively.
    interfaces: Vec<InterfaceId>,
    /// World-level types their functions use.
    world_types: HashSet<TypeId>,
}

impl Needed {
    fn of(resolve: &Resolve, plan: &BoundaryPlan, side: Direction) -> Self {
        let mut needed = Needed {
            interfaces: Vec::new(),
            world_types: HashSet::new(),
        };
        let world = &resolve.worlds[plan.world];
        let items = match side {
            Direction::Export => &world.exports,
            Direction::Import => &world.imports,
        };
        for (item, funcs) in plan.wrapped(side) {
            match &items[&item.key] {
                WorldItem::Interface { id, .. } => needed.interface(*id),
                _ => {
                    for func in funcs {
                        let types = func
                            .func
                            .params
                            .iter()
                            .map(|p| p.ty)
                            .chain(func.func.result);
                        types.for_each(|ty| needed.ty(resolve, plan.world, ty));
                    }
                }
            }
        }
        let mut i = 0;
        while i < needed.interfaces.len() {
            for dep in resolve.interface_direct_deps(needed.interfaces[i]) {
                needed.interface(dep);
            }
            i += 1;
        }
        needed
    }

    fn interface(&mut self, id: InterfaceId) {
        if !self.interfaces.contains(&id) {
            self.interfaces.push(id);
        }
    }

    fn ty(&mut self, resolve: &Resolve, world: WorldId, ty: Type) {
        let Type::Id(id) = ty else { return };
        let def = &resolve.types[id];
        match def.owner {
            TypeOwner::Interface(iface) => return self.interface(iface),
            TypeOwner::World(w) if w == world && !self.world_types.insert(id) => return,
            _ => {}
        }
        for child in crate::wit_walk::children(&def.kind) {
            self.ty(resolve, world, child);
        }
    }
}

/// Imports interface `id` after everything it uses (which may be other
/// versions than the embedded WIT names, once merged with the target's).
pub(crate) fn import_with_deps(
    resolve: &Resolve,
    imports: &mut wit_parser::IndexMap<WorldKey, WorldItem>,
    id: InterfaceId,
) {
    let key = WorldKey::Interface(id);
    if imports.contains_key(&key) {
        return;
    }
    for dep in resolve.interface_direct_deps(id) {
        import_with_deps(resolve, imports, dep);
    }
    imports.insert(
        key,
        WorldItem::Interface {
            id,
            stability: Stability::default(),
            external_id: None,
            docs: Docs::default(),
            span: Default::default(),
        },
    );
}
