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
//! The table imports the intrinsics in the builder's import phase and adds
//! the helpers (`unwrap-R`, `[dtor]R`) in its code phase, keeping the
//! indices the builder hands back for the forwarders' handle code.

use wasm_encoder::{BlockType, Function, Instruction as I, ValType};
use wit_parser::{
    Function as WitFunction, Handle, ManglingAndAbi, Resolve, ResourceIntrinsic, TypeDefKind,
    TypeId, TypeOwner, WasmExport, WasmImport, WorldId, WorldItem, WorldKey,
};

use super::module::{CodePhase, ImportPhase};
use crate::Error;

/// One resource reachable from the wrapped functions.
struct Entry {
    resource: TypeId,
    /// The export key of the interface defining it, when the proxy
    /// re-exports it (wraps it).
    defined: Option<WorldKey>,
    /// Its core functions, once added.
    funcs: Funcs,
}

/// The core functions of one resource, as the builder placed them.
#[derive(Default, Clone, Copy)]
struct Funcs {
    /// `[resource-new]R` of the wrapper.
    new: Option<u32>,
    /// `[resource-rep]R` of the wrapper.
    rep: Option<u32>,
    /// `[resource-drop]R` of the wrapper.
    drop_wrapper: Option<u32>,
    /// `[resource-drop]R` of the wrapped (imported) resource.
    drop_inner: Option<u32>,
    /// `unwrap-R`.
    unwrap: Option<u32>,
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
                let resource = crate::wit_walk::dealias_id(resolve, *r);
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
                        funcs: Funcs::default(),
                    });
                }
            }
        }
        table
    }

    /// Whether the proxy defines (wraps) `resource`.
    pub fn defines(&self, resource: TypeId) -> bool {
        self.entry(resource).is_some_and(|e| e.defined.is_some())
    }

    /// `[resource-drop]` of the imported `resource`.
    pub fn imported_drop(&self, resource: TypeId) -> Option<u32> {
        self.entry(resource)?.funcs.drop_inner
    }

    /// `unwrap-R`: wrapper handle in, inner handle out.
    pub fn unwrap(&self, resource: TypeId) -> Option<u32> {
        self.entry(resource)?.funcs.unwrap
    }

    /// `[resource-new]R`: inner handle in, wrapper handle out.
    pub fn wrap(&self, resource: TypeId) -> Option<u32> {
        self.entry(resource)?.funcs.new
    }

    fn entry(&self, resource: TypeId) -> Option<&Entry> {
        self.entries.iter().find(|e| e.resource == resource)
    }

    /// Imports the resource intrinsics: for a wrapped resource the
    /// wrapper's `new`, `rep` and `drop` and the wrapped one's `drop`, for a
    /// foreign one its `drop`.
    pub fn import_intrinsics(
        &mut self,
        imports: &mut ImportPhase<'_>,
        resolve: &Resolve,
        mangling: ManglingAndAbi,
    ) {
        for entry in &mut self.entries {
            let resource = entry.resource;
            let mut import = |key: Option<&WorldKey>, intrinsic, returns: bool| {
                let name = resolve.wasm_import_name(
                    mangling,
                    WasmImport::ResourceIntrinsic {
                        interface: key,
                        resource,
                        intrinsic,
                    },
                );
                let results: &[ValType] = if returns { &[ValType::I32] } else { &[] };
                Some(imports.func(name, &[ValType::I32], results))
            };
            match &entry.defined {
                Some(key) => {
                    entry.funcs.new = import(Some(key), ResourceIntrinsic::ExportedNew, true);
                    entry.funcs.rep = import(Some(key), ResourceIntrinsic::ExportedRep, true);
                    entry.funcs.drop_wrapper =
                        import(Some(key), ResourceIntrinsic::ExportedDrop, false);
                    // The wrapped resource is imported under the same key
                    // (an anonymous interface's import is its copy, named
                    // alike).
                    entry.funcs.drop_inner =
                        import(Some(key), ResourceIntrinsic::ImportedDrop, false);
                }
                None => {
                    let key = match resolve.types[resource].owner {
                        TypeOwner::Interface(owner) => self
                            .world_imports
                            .iter()
                            .find(|(id, _)| *id == owner)
                            .map(|(_, key)| key.clone())
                            .or(Some(WorldKey::Interface(owner))),
                        TypeOwner::World(_) | TypeOwner::None => None,
                    };
                    entry.funcs.drop_inner =
                        import(key.as_ref(), ResourceIntrinsic::ImportedDrop, false);
                }
            }
        }
    }

    /// Adds the helpers of every wrapped resource (`unwrap-R`, and the
    /// exported destructor `[dtor]R`), and the `taking` flag that keeps the
    /// destructor from dropping the inner handle while `unwrap-R` runs.
    pub fn add_helpers(
        &mut self,
        code: &mut CodePhase<'_>,
        resolve: &Resolve,
        mangling: ManglingAndAbi,
    ) -> Result<(), Error> {
        if self.entries.iter().all(|e| e.defined.is_none()) {
            return Ok(());
        }
        let taking = code.global_i32();
        for entry in &mut self.entries {
            let Some(key) = &entry.defined else { continue };
            let missing = || Error::bug("a wrapped resource's intrinsics were not imported");
            let funcs = entry.funcs;
            let (rep, drop_wrapper, drop_inner) = (
                funcs.rep.ok_or_else(missing)?,
                funcs.drop_wrapper.ok_or_else(missing)?,
                funcs.drop_inner.ok_or_else(missing)?,
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
            entry.funcs.unwrap = Some(code.func(&[ValType::I32], &[ValType::I32], unwrap));
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
            let dtor = code.func(&[ValType::I32], &[], dtor);
            let name = resolve.wasm_export_name(
                mangling,
                WasmExport::ResourceDtor {
                    interface: key,
                    resource: entry.resource,
                },
            );
            code.export_func(name, dtor);
        }
        Ok(())
    }
}
