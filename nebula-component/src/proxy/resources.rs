//! The resources a proxy deals with, and the core functions for them.
//!
//! A proxy that wraps an interface defining resource `R` cannot hand the
//! wrapped `R` out again: its imported and exported `R` are distinct types
//! in the component model. It exports its own `R`, a *wrapper* whose rep is
//! the handle of the wrapped `R` it holds:
//!
//! - `own<R>` results of the wrapped function are wrapped with
//!   `[resource-new]R` (see `handles.rs`, [`super::handles::Op::Wrap`]);
//! - `borrow<R>` arguments arrive as the rep, the inner handle itself;
//! - `own<R>` arguments are unwrapped by `unwrap-R`: take the rep, drop
//!   the wrapper while the `taking` flag tells the destructor to keep the
//!   inner handle, whose ownership then moves on with the call;
//! - the wrapper's destructor (`[dtor]R`) drops the inner handle, so the
//!   wrapped resource's destructor runs exactly once, when the outside
//!   drops its handle.
//!
//! Resources the proxy does not define ("foreign": defined by interfaces
//! it only imports) pass through as they are; only their lent borrows need
//! `[resource-drop]R`.
//!
//! Function indices: the intrinsic imports follow the forwarders' imports,
//! the helpers (`unwrap-R`, `[dtor]R`) follow the runtime's code; both are
//! placed by [`ResourceTable::place`] before any code is generated.

use wasm_encoder::{BlockType, Function, Instruction as I};
use wit_parser::{
    Function as WitFunction, Handle, ManglingAndAbi, Resolve, ResourceIntrinsic, Type, TypeDefKind,
    TypeId, TypeOwner, WasmExport, WasmImport, WorldId, WorldItem, WorldKey,
};

/// An imported core function the proxy adds.
pub(crate) struct Intrinsic {
    /// Core import (module, field).
    pub name: (String, String),
    /// Whether it returns an i32 (`new`, `rep`) or nothing (`drop`).
    pub returns: bool,
}

/// A generated core function of type `(i32) -> i32?`, maybe exported.
pub(crate) struct Helper {
    /// Whether it returns an i32.
    pub returns: bool,
    /// The body.
    pub body: Function,
    /// Its core export name, if any.
    pub export: Option<String>,
}

/// One resource reachable from the wrapped functions.
struct Entry {
    resource: TypeId,
    /// The export key of the interface defining it, when the proxy
    /// re-exports it (wraps it).
    defined: Option<WorldKey>,
    /// Index of its first intrinsic import, once placed.
    first_import: u32,
    /// Index of its first helper, once placed.
    first_helper: u32,
}

/// Every resource the wrapped functions reach, with the function indices
/// of the intrinsics and helpers that handle it.
pub(crate) struct ResourceTable {
    entries: Vec<Entry>,
    /// The proxy world's export keys of interfaces (by interface).
    world_exports: Vec<(wit_parser::InterfaceId, WorldKey)>,
    /// The proxy world's import keys of interfaces (by interface).
    world_imports: Vec<(wit_parser::InterfaceId, WorldKey)>,
}

/// Imports per defined resource: new, rep, exported drop, imported drop.
const DEFINED_IMPORTS: u32 = 4;
/// Helpers per defined resource: unwrap, destructor.
const DEFINED_HELPERS: u32 = 2;

impl ResourceTable {
    /// The resources reachable from `funcs` in the proxy world `world`.
    pub fn collect<'f>(
        resolve: &Resolve,
        world: WorldId,
        funcs: impl IntoIterator<Item = &'f WitFunction>,
    ) -> Self {
        let interfaces = |items: &wit_parser::IndexMap<WorldKey, WorldItem>| {
            items
                .iter()
                .filter_map(|(key, item)| match item {
                    WorldItem::Interface { id, .. } => Some((*id, key.clone())),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let mut table = ResourceTable {
            entries: Vec::new(),
            world_exports: interfaces(&resolve.worlds[world].exports),
            world_imports: interfaces(&resolve.worlds[world].imports),
        };
        let signatures = funcs.into_iter().flat_map(crate::wit_walk::signature);
        for id in crate::wit_walk::reachable(resolve, signatures) {
            if let TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) = &resolve.types[id].kind
            {
                let resource = dealias(resolve, *r);
                if table.entries.iter().all(|e| e.resource != resource) {
                    let defined = match resolve.types[resource].owner {
                        TypeOwner::Interface(owner) => table
                            .world_exports
                            .iter()
                            .find(|(id, _)| *id == owner)
                            .map(|(_, key)| key.clone()),
                        _ => None,
                    };
                    table.entries.push(Entry {
                        resource,
                        defined,
                        first_import: 0,
                        first_helper: 0,
                    });
                }
            }
        }
        table
    }

    /// How many core functions [`ResourceTable::intrinsics`] imports.
    pub fn import_count(&self) -> u32 {
        self.entries
            .iter()
            .map(|e| imports_of(e.defined.is_some()))
            .sum()
    }

    /// Gives the intrinsics indices from `first_import` on and the helpers
    /// indices from `first_helper` on.
    pub fn place(&mut self, mut first_import: u32, mut first_helper: u32) {
        for entry in &mut self.entries {
            entry.first_import = first_import;
            entry.first_helper = first_helper;
            first_import += imports_of(entry.defined.is_some());
            if entry.defined.is_some() {
                first_helper += DEFINED_HELPERS;
            }
        }
    }

    /// Whether the proxy defines (wraps) `resource`.
    pub fn defines(&self, resource: TypeId) -> bool {
        self.entry(resource).is_some_and(|e| e.defined.is_some())
    }

    /// `[resource-drop]` of the imported `resource`.
    pub fn imported_drop(&self, resource: TypeId) -> Option<u32> {
        let entry = self.entry(resource)?;
        Some(match entry.defined {
            Some(_) => entry.first_import + 3,
            None => entry.first_import,
        })
    }

    /// `unwrap-R`: wrapper handle in, inner handle out.
    pub fn unwrap(&self, resource: TypeId) -> Option<u32> {
        let entry = self.entry(resource)?;
        entry.defined.as_ref().map(|_| entry.first_helper)
    }

    /// `[resource-new]R`: inner handle in, wrapper handle out.
    pub fn wrap(&self, resource: TypeId) -> Option<u32> {
        let entry = self.entry(resource)?;
        entry.defined.as_ref().map(|_| entry.first_import)
    }

    fn entry(&self, resource: TypeId) -> Option<&Entry> {
        self.entries.iter().find(|e| e.resource == resource)
    }

    /// The imports, in index order.
    pub fn intrinsics(&self, resolve: &Resolve, mangling: ManglingAndAbi) -> Vec<Intrinsic> {
        let mut out = Vec::new();
        for entry in &self.entries {
            let import = |key: Option<&WorldKey>, intrinsic, returns| Intrinsic {
                name: resolve.wasm_import_name(
                    mangling,
                    WasmImport::ResourceIntrinsic {
                        interface: key,
                        resource: entry.resource,
                        intrinsic,
                    },
                ),
                returns,
            };
            match &entry.defined {
                Some(key) => {
                    out.push(import(Some(key), ResourceIntrinsic::ExportedNew, true));
                    out.push(import(Some(key), ResourceIntrinsic::ExportedRep, true));
                    out.push(import(Some(key), ResourceIntrinsic::ExportedDrop, false));
                    // The wrapped resource is imported under the same key
                    // (an anonymous interface's import is its copy, named
                    // alike).
                    out.push(import(Some(key), ResourceIntrinsic::ImportedDrop, false));
                }
                None => {
                    let key = match resolve.types[entry.resource].owner {
                        TypeOwner::Interface(owner) => self
                            .world_imports
                            .iter()
                            .find(|(id, _)| *id == owner)
                            .map(|(_, key)| key.clone())
                            .or(Some(WorldKey::Interface(owner))),
                        _ => None,
                    };
                    out.push(import(key.as_ref(), ResourceIntrinsic::ImportedDrop, false));
                }
            }
        }
        out
    }

    /// The helpers, in index order; `taking` is the index of the global
    /// flag that keeps the destructor from dropping the inner handle.
    pub fn helpers(&self, resolve: &Resolve, mangling: ManglingAndAbi, taking: u32) -> Vec<Helper> {
        let mut out = Vec::new();
        for entry in &self.entries {
            let Some(key) = &entry.defined else { continue };
            let (rep, drop_wrapper, drop_inner) = (
                entry.first_import + 1,
                entry.first_import + 2,
                entry.first_import + 3,
            );
            // unwrap-R(handle) -> rep
            let mut unwrap = Function::new([]);
            for i in [
                I::LocalGet(0),
                I::Call(rep),
                I::I32Const(1),
                I::GlobalSet(taking),
                I::LocalGet(0),
                I::Call(drop_wrapper),
                I::I32Const(0),
                I::GlobalSet(taking),
                I::End,
            ] {
                unwrap.instruction(&i);
            }
            out.push(Helper {
                returns: true,
                body: unwrap,
                export: None,
            });
            // [dtor]R(rep)
            let mut dtor = Function::new([]);
            for i in [
                I::GlobalGet(taking),
                I::I32Eqz,
                I::If(BlockType::Empty),
                I::LocalGet(0),
                I::Call(drop_inner),
                I::End,
                I::End,
            ] {
                dtor.instruction(&i);
            }
            out.push(Helper {
                returns: false,
                body: dtor,
                export: Some(resolve.wasm_export_name(
                    mangling,
                    WasmExport::ResourceDtor {
                        interface: key,
                        resource: entry.resource,
                    },
                )),
            });
        }
        out
    }
}

fn imports_of(defined: bool) -> u32 {
    if defined { DEFINED_IMPORTS } else { 1 }
}

/// The type `id` names, through aliases.
fn dealias(resolve: &Resolve, id: TypeId) -> TypeId {
    match crate::wit_walk::dealias(resolve, Type::Id(id)) {
        Type::Id(id) => id,
        _ => id,
    }
}
