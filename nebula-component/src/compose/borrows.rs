//! Top-level imports that take `borrow` handles (methods and functions of
//! world-level resources), which `wac-graph` 0.12 cannot encode: its type
//! encoder asserts that a `borrow` type only appears inside an instance or
//! component type, never directly in the composition.
//!
//! The way around, in two steps around [`wac_graph::CompositionGraph::encode`]:
//!
//! 1. [`hide`]: before wiring, every `borrow<r>` in a top-level import's type
//!    becomes `own<r'>`, where `r'` is a stand-in for `r` with the same name
//!    (the encoder finds resources by name, so `own<r'>` is encoded as
//!    `(own r)`, but as a type entry of its own: the stand-in is used
//!    nowhere else);
//! 2. [`Hidden::restore`]: in the encoded bytes, each of those `(own r)`
//!    entries becomes `(borrow r)`. The two encodings have the same length
//!    (opcode `0x69` and `0x68`, then the resource's index), so no index or
//!    offset moves.
//!
//! Limits: only the composition's own (top-level) type entries are read
//! (with [`TopLevel`]), which is where `wac-graph` encodes its imports.

use std::collections::HashMap;

use wac_graph::types::{
    DefinedType, DefinedTypeId, FuncType, FuncTypeId, ItemKind, Record, ResourceId, Type, Types,
    ValueType, Variant, WorldId,
};
use wasmparser::{ComponentDefinedType, ComponentTypeRef, ComponentValType};

use crate::Error;
use crate::toplevel::{TopLevel, TypeEntry};

/// Opcodes of the `own` and `borrow` defined types.
const OWN: u8 = 0x69;
const BORROW: u8 = 0x68;

/// What [`hide`] changed: the stand-in resources and the imports whose
/// types use them.
#[derive(Default)]
pub(super) struct Hidden {
    /// Original resource to its stand-in.
    stand_ins: HashMap<ResourceId, ResourceId>,
    /// Substituted copies of defined types (`None`: no borrow inside).
    defined: HashMap<DefinedTypeId, Option<DefinedTypeId>>,
    /// The top-level imports whose types changed, with their new kinds.
    imports: Vec<(String, ItemKind)>,
}

/// Replaces the `borrow` handles in the top-level function and type imports
/// of `worlds` (the registered packages) by `own` handles of stand-ins.
pub(super) fn hide(types: &mut Types, worlds: &[WorldId]) -> Hidden {
    let mut hidden = Hidden::default();
    for world in worlds {
        let imports: Vec<(String, ItemKind)> = types[*world]
            .imports
            .iter()
            .map(|(name, kind)| (name.clone(), *kind))
            .collect();
        for (name, kind) in imports {
            let changed = match kind {
                ItemKind::Func(id) => hidden.func(types, id).map(ItemKind::Func),
                ItemKind::Type(Type::Value(ty)) => hidden
                    .value(types, ty)
                    .map(|ty| ItemKind::Type(Type::Value(ty))),
                _ => None,
            };
            if let Some(kind) = changed {
                types[*world].imports.insert(name.clone(), kind);
                if !hidden.imports.iter().any(|(n, _)| *n == name) {
                    hidden.imports.push((name, kind));
                }
            }
        }
    }
    hidden
}

impl Hidden {
    fn func(&mut self, types: &mut Types, id: FuncTypeId) -> Option<FuncTypeId> {
        let func = types[id].clone();
        let mut changed = false;
        let mut params = func.params.clone();
        for ty in params.values_mut() {
            if let Some(new) = self.value(types, *ty) {
                *ty = new;
                changed = true;
            }
        }
        changed.then(|| {
            types.add_func_type(FuncType {
                params,
                result: func.result,
                is_async: func.is_async,
            })
        })
    }

    /// `ty` with its borrows replaced, or `None` when it has none.
    fn value(&mut self, types: &mut Types, ty: ValueType) -> Option<ValueType> {
        match ty {
            ValueType::Borrow(resource) => {
                let stand_in = *self.stand_ins.entry(resource).or_insert_with(|| {
                    let copy = types[resource].clone();
                    types.add_resource(copy)
                });
                Some(ValueType::Own(stand_in))
            }
            ValueType::Own(_) | ValueType::Primitive(_) => None,
            ValueType::Defined(id) => self.defined(types, id).map(ValueType::Defined),
        }
    }

    fn defined(&mut self, types: &mut Types, id: DefinedTypeId) -> Option<DefinedTypeId> {
        if let Some(done) = self.defined.get(&id) {
            return *done;
        }
        let mut changed = false;
        let mut sub =
            |this: &mut Self, types: &mut Types, ty: ValueType| match this.value(types, ty) {
                Some(new) => {
                    changed = true;
                    new
                }
                None => ty,
            };
        let new = match types[id].clone() {
            DefinedType::Tuple(tys) => {
                DefinedType::Tuple(tys.into_iter().map(|t| sub(self, types, t)).collect())
            }
            DefinedType::List(t) => DefinedType::List(sub(self, types, t)),
            DefinedType::Option(t) => DefinedType::Option(sub(self, types, t)),
            DefinedType::Alias(t) => DefinedType::Alias(sub(self, types, t)),
            DefinedType::Result { ok, err } => DefinedType::Result {
                ok: ok.map(|t| sub(self, types, t)),
                err: err.map(|t| sub(self, types, t)),
            },
            DefinedType::Variant(v) => DefinedType::Variant(Variant {
                cases: v
                    .cases
                    .into_iter()
                    .map(|(n, t)| (n, t.map(|t| sub(self, types, t))))
                    .collect(),
            }),
            DefinedType::Record(r) => DefinedType::Record(Record {
                fields: r
                    .fields
                    .into_iter()
                    .map(|(n, t)| (n, sub(self, types, t)))
                    .collect(),
            }),
            other => other,
        };
        let result = changed.then(|| types.add_defined_type(new));
        self.defined.insert(id, result);
        result
    }

    /// Turns the stand-ins' `(own r)` entries of the encoded composition
    /// `bytes` back into `(borrow r)`.
    pub(super) fn restore(&self, types: &Types, mut bytes: Vec<u8>) -> Result<Vec<u8>, Error> {
        if self.imports.is_empty() {
            return Ok(bytes);
        }
        let patches = {
            let top = TopLevel::read(&bytes)
                .map_err(|e| Error::internal("reading the encoded composition", e))?;
            let mut patches = Vec::new();
            for (name, kind) in &self.imports {
                let missing = || {
                    Error::bug(format!(
                        "restoring `borrow` in `{name}`: the import is not where it was hidden"
                    ))
                };
                let import = top.imports.iter().find(|i| i.name == *name).map(|i| i.ty);
                match (kind, import) {
                    (ItemKind::Func(id), Some(ComponentTypeRef::Func(index))) => {
                        let Some(TypeEntry::Func(params)) = top.types.get(index as usize) else {
                            return Err(missing());
                        };
                        for (ty, (_, encoded)) in types[*id].params.values().zip(params) {
                            self.mark(types, &top, *ty, *encoded, &mut patches);
                        }
                    }
                    (
                        ItemKind::Type(Type::Value(ty)),
                        Some(ComponentTypeRef::Type(wasmparser::TypeBounds::Eq(index))),
                    ) => self.mark(
                        types,
                        &top,
                        *ty,
                        ComponentValType::Type(index),
                        &mut patches,
                    ),
                    _ => return Err(missing()),
                }
            }
            patches
        };
        for offset in patches {
            match bytes.get_mut(offset) {
                Some(byte) if *byte == OWN || *byte == BORROW => *byte = BORROW,
                _ => {
                    return Err(Error::bug(
                        "restoring `borrow`: a marked type entry is not an `own`",
                    ));
                }
            }
        }
        Ok(bytes)
    }

    /// Walks `ty` (a substituted type) alongside its encoding, collecting
    /// the offsets of the stand-ins' `own` entries.
    fn mark(
        &self,
        types: &Types,
        top: &TopLevel<'_>,
        ty: ValueType,
        encoded: ComponentValType,
        out: &mut Vec<usize>,
    ) {
        let ComponentValType::Type(index) = encoded else {
            return;
        };
        let Some((offset, def)) = top.defined(index) else {
            return;
        };
        let mut pairs = |tys: Vec<ValueType>, encs: Vec<ComponentValType>| {
            for (t, e) in tys.into_iter().zip(encs) {
                self.mark(types, top, t, e, out);
            }
        };
        match (ty, def) {
            (ValueType::Own(r), ComponentDefinedType::Own(_))
                if self.stand_ins.values().any(|s| *s == r) =>
            {
                out.push(offset)
            }
            (ValueType::Defined(id), def) => match (&types[id], def) {
                (DefinedType::Alias(inner), _) => self.mark(types, top, *inner, encoded, out),
                (DefinedType::Tuple(tys), ComponentDefinedType::Tuple(encs)) => {
                    pairs(tys.clone(), encs.to_vec())
                }
                (DefinedType::List(t), ComponentDefinedType::List(e))
                | (DefinedType::Option(t), ComponentDefinedType::Option(e)) => {
                    pairs(vec![*t], vec![*e])
                }
                (
                    DefinedType::Result { ok, err },
                    ComponentDefinedType::Result { ok: eo, err: ee },
                ) => {
                    let (tys, encs) = ok.iter().zip(eo).chain(err.iter().zip(ee)).unzip();
                    pairs(tys, encs)
                }
                (DefinedType::Variant(v), ComponentDefinedType::Variant(cases)) => {
                    let (tys, encs) = v
                        .cases
                        .values()
                        .zip(cases.iter())
                        .filter_map(|(t, c)| Some((*t.as_ref()?, c.ty?)))
                        .unzip();
                    pairs(tys, encs)
                }
                (DefinedType::Record(r), ComponentDefinedType::Record(fields)) => pairs(
                    r.fields.values().copied().collect(),
                    fields.iter().map(|(_, e)| *e).collect(),
                ),
                _ => {}
            },
            _ => {}
        }
    }
}
