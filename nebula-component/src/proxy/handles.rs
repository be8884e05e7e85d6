//! Code that walks the handles in a call's values: the parameters the
//! forwarder received or the results the wrapped function returned.
//!
//! Three jobs, one walk ([`Op`]):
//!
//! - the canonical ABI lends a callee a handle for every `borrow<R>`
//!   argument of a resource it does not define, and traps if any is still
//!   held when the call returns ("borrow handles still remain at the end of
//!   the call"). A forwarder passes the handle on (the target gets its own
//!   lend) and then drops its own with `[resource-drop]R`;
//! - a resource the proxy re-exports is a *wrapper* whose rep is the handle
//!   of the wrapped resource (see `resources.rs`): an `own<R>` argument is
//!   unwrapped (its rep taken, the wrapper dropped without dropping the
//!   inner resource) before the call;
//! - an `own<R>` result is wrapped with `[resource-new]R` after the call.
//!
//! (`borrow<R>` arguments of a wrapper resource need nothing: the callee
//! receives the rep, which is the inner handle the wrapped function wants.)
//!
//! Handles can sit anywhere in a value: flat in parameters (records and
//! tuples inline, variants behind their discriminant) or in memory
//! (indirect parameters, return areas, list elements); the walk follows the
//! types. Layouts come from `wit-parser` (`push_flat`, [`SizeAlign`]).

use wasm_encoder::{BlockType, Instruction as I, MemArg, ValType};
use wit_parser::abi::{FlatTypes, WasmType};
use wit_parser::{Handle, Int, Resolve, SizeAlign, Type, TypeDefKind, TypeId};

use super::resources::ResourceTable;
use crate::wit_walk::dealias;

/// What to do with the handles of one value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Drop lent `borrow`s of resources the proxy does not define (after
    /// the call, on the parameters).
    DropLent,
    /// Replace `own` wrapper handles by the inner handle (before the call,
    /// on the parameters).
    Unwrap,
    /// Replace `own` inner handles by new wrapper handles (after the call,
    /// on the results).
    Wrap,
}

/// Where a value sits in the forwarder.
pub(crate) enum Place<'t> {
    /// Flat in locals `0..` (the parameters), or behind one pointer in
    /// local 0 when `indirect`.
    Params { types: &'t [Type], indirect: bool },
    /// In memory at the address held by `local` (a return area).
    Memory { ty: Type, local: u32 },
    /// Flat in the single local `local` of type `slot`.
    Flat {
        ty: Type,
        local: u32,
        slot: WasmType,
    },
}

/// Code that applies one [`Op`] to every handle of a value.
#[derive(Default)]
pub(crate) struct HandleCode {
    /// Extra locals the code uses, after the ones given as `first_local`.
    pub locals: Vec<ValType>,
    /// The instructions.
    pub code: Vec<I<'static>>,
}

/// Emits [`HandleCode`].
pub(crate) struct HandleWalker<'a> {
    resolve: &'a Resolve,
    sizes: &'a SizeAlign,
    table: &'a ResourceTable,
    op: Op,
    first_local: u32,
    out: HandleCode,
}

/// What the walk does at one handle: call `func` on it, either consuming
/// it (`map == false`) or replacing it by the result.
struct Action {
    func: u32,
    map: bool,
}

impl<'a> HandleWalker<'a> {
    /// Code applying `op` to the value at `place`; its extra locals start
    /// at `first_local`.
    pub fn walk(
        resolve: &'a Resolve,
        sizes: &'a SizeAlign,
        table: &'a ResourceTable,
        op: Op,
        place: Place<'_>,
        first_local: u32,
    ) -> HandleCode {
        let mut walker = HandleWalker {
            resolve,
            sizes,
            table,
            op,
            first_local,
            out: HandleCode::default(),
        };
        match place {
            Place::Params { types, indirect } => {
                if !types.iter().any(|t| walker.touches(*t)) {
                    return walker.out;
                }
                if indirect {
                    let offsets = sizes.field_offsets(types.iter());
                    for (offset, ty) in offsets {
                        walker.memory(*ty, 0, offset.size_wasm32() as u64);
                    }
                } else {
                    let mut slot = 0;
                    for ty in types {
                        let flat = walker.flat_types(*ty);
                        let slots: Vec<(u32, WasmType)> =
                            (slot..).zip(flat.iter().copied()).collect();
                        walker.flat(*ty, &slots);
                        slot += flat.len() as u32;
                    }
                }
            }
            Place::Memory { ty, local } => walker.memory(ty, local, 0),
            Place::Flat { ty, local, slot } => walker.flat(ty, &[(local, slot)]),
        }
        walker.out
    }

    fn local(&mut self, ty: ValType) -> u32 {
        self.out.locals.push(ty);
        self.first_local + self.out.locals.len() as u32 - 1
    }

    /// The resource a handle refers to, dealiased.
    fn resource(&self, id: TypeId) -> TypeId {
        crate::wit_walk::dealias_id(self.resolve, id)
    }

    /// What `op` does with a handle, if anything.
    fn action(&self, handle: &Handle) -> Option<Action> {
        let (resource, borrowed) = match handle {
            Handle::Own(r) => (self.resource(*r), false),
            Handle::Borrow(r) => (self.resource(*r), true),
        };
        let defined = self.table.defines(resource);
        match self.op {
            Op::DropLent if borrowed && !defined => Some(Action {
                func: self.table.imported_drop(resource)?,
                map: false,
            }),
            Op::Unwrap if !borrowed && defined => Some(Action {
                func: self.table.unwrap(resource)?,
                map: true,
            }),
            Op::Wrap if !borrowed && defined => Some(Action {
                func: self.table.wrap(resource)?,
                map: true,
            }),
            _ => None,
        }
    }

    /// Whether `op` does anything inside `ty`.
    fn touches(&self, ty: Type) -> bool {
        let Type::Id(id) = dealias(self.resolve, ty) else {
            return false;
        };
        match &self.resolve.types[id].kind {
            TypeDefKind::Handle(h) => self.action(h).is_some(),
            kind @ (TypeDefKind::Record(_)
            | TypeDefKind::Tuple(_)
            | TypeDefKind::List(_)
            | TypeDefKind::Variant(_)
            | TypeDefKind::Option(_)
            | TypeDefKind::Result(_)
            | TypeDefKind::Type(_)
            | TypeDefKind::Future(_)
            | TypeDefKind::Stream(_)
            | TypeDefKind::Map(..)
            | TypeDefKind::FixedLengthList(..)) => crate::wit_walk::children(kind)
                .into_iter()
                .any(|t| self.touches(t)),
            TypeDefKind::Enum(_)
            | TypeDefKind::Flags(_)
            | TypeDefKind::Resource
            | TypeDefKind::Unknown => false,
        }
    }

    fn flat_types(&self, ty: Type) -> Vec<WasmType> {
        let mut storage = [WasmType::I32; 64];
        let mut flat = FlatTypes::new(&mut storage);
        self.resolve.push_flat(&ty, &mut flat);
        flat.to_vec()
    }

    /// Pushes slot `(local, joined)` as an i32 (the slot may be wider).
    fn get_i32(&mut self, (local, joined): (u32, WasmType)) {
        self.out.code.push(I::LocalGet(local));
        if is_64(joined) {
            self.out.code.push(I::I32WrapI64);
        }
    }

    /// Stores the i32 on the stack into slot `(local, joined)`.
    fn set_i32(&mut self, (local, joined): (u32, WasmType)) {
        if is_64(joined) {
            self.out.code.push(I::I64ExtendI32U);
        }
        self.out.code.push(I::LocalSet(local));
    }

    /// Walks a value held flat in `slots` (local, type of the slot).
    fn flat(&mut self, ty: Type, slots: &[(u32, WasmType)]) {
        if !self.touches(ty) {
            return;
        }
        let Type::Id(id) = dealias(self.resolve, ty) else {
            return;
        };
        match self.resolve.types[id].kind.clone() {
            TypeDefKind::Handle(h) => {
                let Some(action) = self.action(&h) else {
                    return;
                };
                self.get_i32(slots[0]);
                self.out.code.push(I::Call(action.func));
                if action.map {
                    self.set_i32(slots[0]);
                }
            }
            TypeDefKind::Record(r) => {
                self.flat_sequence(r.fields.iter().map(|f| f.ty).collect(), slots)
            }
            TypeDefKind::Tuple(t) => self.flat_sequence(t.types, slots),
            TypeDefKind::List(elem) => {
                // (ptr, len) of elements in memory.
                let ptr = self.local(ValType::I32);
                let len = self.local(ValType::I32);
                self.get_i32(slots[0]);
                self.out.code.push(I::LocalSet(ptr));
                self.get_i32(slots[1]);
                self.out.code.push(I::LocalSet(len));
                self.list_loop(elem, ptr, len);
            }
            kind @ (TypeDefKind::Variant(_) | TypeDefKind::Option(_) | TypeDefKind::Result(_)) => {
                let cases = cases(&kind);
                for (index, case) in cases.into_iter().enumerate() {
                    let Some(case) = case else { continue };
                    if !self.touches(case) {
                        continue;
                    }
                    self.get_i32(slots[0]);
                    self.out.code.extend([
                        I::I32Const(index as i32),
                        I::I32Eq,
                        I::If(BlockType::Empty),
                    ]);
                    self.flat(case, &slots[1..]);
                    self.out.code.push(I::End);
                }
            }
            // Nothing to walk: no handle inside (`touches` said so), or a
            // kind planning never lets through (`analyze::unsupported_type`).
            TypeDefKind::Enum(_)
            | TypeDefKind::Flags(_)
            | TypeDefKind::Resource
            | TypeDefKind::Type(_)
            | TypeDefKind::Future(_)
            | TypeDefKind::Stream(_)
            | TypeDefKind::Map(..)
            | TypeDefKind::FixedLengthList(..)
            | TypeDefKind::Unknown => {}
        }
    }

    fn flat_sequence(&mut self, types: Vec<Type>, slots: &[(u32, WasmType)]) {
        let mut at = 0;
        for ty in types {
            let flat = self.flat_types(ty);
            self.flat(ty, &slots[at..at + flat.len()]);
            at += flat.len();
        }
    }

    /// Walks a value in memory at `local` + `offset`.
    fn memory(&mut self, ty: Type, base: u32, offset: u64) {
        if !self.touches(ty) {
            return;
        }
        let Type::Id(id) = dealias(self.resolve, ty) else {
            return;
        };
        match self.resolve.types[id].kind.clone() {
            TypeDefKind::Handle(h) => {
                let Some(action) = self.action(&h) else {
                    return;
                };
                if action.map {
                    self.out.code.push(I::LocalGet(base));
                }
                self.out
                    .code
                    .extend([I::LocalGet(base), load(offset, 4), I::Call(action.func)]);
                if action.map {
                    self.out.code.push(I::I32Store(mem_arg(offset, 4)));
                }
            }
            TypeDefKind::Record(r) => {
                let types: Vec<Type> = r.fields.iter().map(|f| f.ty).collect();
                self.memory_sequence(&types, base, offset);
            }
            TypeDefKind::Tuple(t) => self.memory_sequence(&t.types, base, offset),
            TypeDefKind::List(elem) => {
                let ptr = self.local(ValType::I32);
                let len = self.local(ValType::I32);
                self.out.code.extend([
                    I::LocalGet(base),
                    load(offset, 4),
                    I::LocalSet(ptr),
                    I::LocalGet(base),
                    load(offset + 4, 4),
                    I::LocalSet(len),
                ]);
                self.list_loop(elem, ptr, len);
            }
            kind @ (TypeDefKind::Variant(_) | TypeDefKind::Option(_) | TypeDefKind::Result(_)) => {
                let tag = match &kind {
                    TypeDefKind::Variant(v) => v.tag(),
                    _ => Int::U8,
                };
                let cases = cases(&kind);
                let payload = self
                    .sizes
                    .payload_offset(tag, cases.iter().map(|c| c.as_ref()))
                    .size_wasm32() as u64;
                let tag_bytes = match tag {
                    Int::U8 => 1,
                    Int::U16 => 2,
                    Int::U32 | Int::U64 => 4,
                };
                for (index, case) in cases.into_iter().enumerate() {
                    let Some(case) = case else { continue };
                    if !self.touches(case) {
                        continue;
                    }
                    self.out.code.extend([
                        I::LocalGet(base),
                        load(offset, tag_bytes),
                        I::I32Const(index as i32),
                        I::I32Eq,
                        I::If(BlockType::Empty),
                    ]);
                    self.memory(case, base, offset + payload);
                    self.out.code.push(I::End);
                }
            }
            // Nothing to walk: no handle inside (`touches` said so), or a
            // kind planning never lets through (`analyze::unsupported_type`).
            TypeDefKind::Enum(_)
            | TypeDefKind::Flags(_)
            | TypeDefKind::Resource
            | TypeDefKind::Type(_)
            | TypeDefKind::Future(_)
            | TypeDefKind::Stream(_)
            | TypeDefKind::Map(..)
            | TypeDefKind::FixedLengthList(..)
            | TypeDefKind::Unknown => {}
        }
    }

    fn memory_sequence(&mut self, types: &[Type], base: u32, offset: u64) {
        for (field, ty) in self.sizes.field_offsets(types.iter()) {
            self.memory(*ty, base, offset + field.size_wasm32() as u64);
        }
    }

    /// `for each element at ptr, ptr + size, ...: walk it`.
    fn list_loop(&mut self, elem: Type, ptr: u32, len: u32) {
        let size = self.sizes.size(&elem).size_wasm32() as i32;
        self.out.code.extend([
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(len),
            I::I32Eqz,
            I::BrIf(1),
        ]);
        self.memory(elem, ptr, 0);
        self.out.code.extend([
            I::LocalGet(ptr),
            I::I32Const(size),
            I::I32Add,
            I::LocalSet(ptr),
            I::LocalGet(len),
            I::I32Const(1),
            I::I32Sub,
            I::LocalSet(len),
            I::Br(0),
            I::End,
            I::End,
        ]);
    }
}

fn is_64(slot: WasmType) -> bool {
    matches!(slot, WasmType::I64 | WasmType::PointerOrI64)
}

fn mem_arg(offset: u64, bytes: u32) -> MemArg {
    MemArg {
        offset,
        align: bytes.trailing_zeros(),
        target: Default::default(),
        ordering: None,
    }
}

/// An unsigned load of `bytes` (1, 2 or 4) at `offset` into an i32.
fn load(offset: u64, bytes: u32) -> I<'static> {
    let arg = mem_arg(offset, bytes);
    match bytes {
        1 => I::I32Load8U(arg),
        2 => I::I32Load16U(arg),
        _ => I::I32Load(arg),
    }
}

/// The cases of an option, result or variant, by discriminant.
fn cases(kind: &TypeDefKind) -> Vec<Option<Type>> {
    match kind {
        TypeDefKind::Option(t) => vec![None, Some(*t)],
        TypeDefKind::Result(r) => vec![r.ok, r.err],
        TypeDefKind::Variant(v) => v.cases.iter().map(|c| c.ty).collect(),
        TypeDefKind::Enum(_)
        | TypeDefKind::Flags(_)
        | TypeDefKind::Record(_)
        | TypeDefKind::Tuple(_)
        | TypeDefKind::List(_)
        | TypeDefKind::Handle(_)
        | TypeDefKind::Resource
        | TypeDefKind::Type(_)
        | TypeDefKind::Future(_)
        | TypeDefKind::Stream(_)
        | TypeDefKind::Map(..)
        | TypeDefKind::FixedLengthList(..)
        | TypeDefKind::Unknown => Vec::new(),
    }
}
