//! Drops the `borrow` handles a forwarder was lent.
//!
//! The canonical ABI lends a callee a handle for every `borrow<R>` argument
//! of a resource it does not define, and traps if any is still held when
//! the call returns ("borrow handles still remain at the end of the call").
//! A forwarder passes the handle on (the target gets its own lend) and then
//! must drop its own with `[resource-drop]R`. Borrows can sit anywhere in
//! the arguments: flat in parameters (records and tuples inline, variants
//! behind their discriminant) or in memory (indirect parameters, list
//! elements); this module walks the types and emits the drops.
//!
//! Layouts come from `wit-parser` (`push_flat`, [`SizeAlign`]).

use wasm_encoder::{BlockType, Instruction as I, MemArg, ValType};
use wit_parser::abi::{FlatTypes, WasmType};
use wit_parser::{Function, Handle, Int, Resolve, SizeAlign, Type, TypeDefKind, TypeId};

/// Code that drops every borrow in one function's parameters.
#[derive(Default)]
pub(crate) struct Cleanup {
    /// Extra locals the code uses, after the ones given as `first_local`.
    pub locals: Vec<ValType>,
    /// The instructions.
    pub code: Vec<I<'static>>,
}

/// Emits [`Cleanup`] code; `drop_of` gives the function index of
/// `[resource-drop]` for a resource (dealiased type id).
pub(crate) struct BorrowWalker<'a> {
    resolve: &'a Resolve,
    sizes: &'a SizeAlign,
    drop_of: &'a mut dyn FnMut(TypeId) -> u32,
    first_local: u32,
    out: Cleanup,
}

impl<'a> BorrowWalker<'a> {
    /// Cleanup for `func`'s parameters, which the forwarder holds in locals
    /// `0..` (one pointer when `indirect`); extra locals start at
    /// `first_local`.
    pub fn cleanup(
        resolve: &'a Resolve,
        sizes: &'a SizeAlign,
        func: &Function,
        indirect: bool,
        first_local: u32,
        drop_of: &'a mut dyn FnMut(TypeId) -> u32,
    ) -> Cleanup {
        let mut walker = BorrowWalker {
            resolve,
            sizes,
            drop_of,
            first_local,
            out: Cleanup::default(),
        };
        let types: Vec<Type> = func.params.iter().map(|p| p.ty).collect();
        if !types.iter().any(|t| walker.has_borrow(*t)) {
            return walker.out;
        }
        if indirect {
            let offsets = sizes.field_offsets(types.iter());
            for (offset, ty) in offsets {
                walker.memory(*ty, 0, offset.size_wasm32() as u64);
            }
        } else {
            let mut slot = 0;
            for ty in &types {
                let flat = walker.flat_types(*ty);
                let slots: Vec<(u32, WasmType)> = (slot..).zip(flat.iter().copied()).collect();
                walker.flat(*ty, &slots);
                slot += flat.len() as u32;
            }
        }
        walker.out
    }

    fn local(&mut self, ty: ValType) -> u32 {
        self.out.locals.push(ty);
        self.first_local + self.out.locals.len() as u32 - 1
    }

    fn dealias(&self, mut ty: Type) -> Type {
        while let Type::Id(id) = ty {
            match self.resolve.types[id].kind {
                TypeDefKind::Type(inner) => ty = inner,
                _ => break,
            }
        }
        ty
    }

    fn has_borrow(&self, ty: Type) -> bool {
        let Type::Id(id) = self.dealias(ty) else {
            return false;
        };
        match &self.resolve.types[id].kind {
            TypeDefKind::Handle(Handle::Borrow(_)) => true,
            TypeDefKind::Handle(Handle::Own(_)) => false,
            kind => crate::wit_walk::children(kind)
                .into_iter()
                .any(|t| self.has_borrow(t)),
        }
    }

    fn flat_types(&self, ty: Type) -> Vec<WasmType> {
        let mut storage = [WasmType::I32; 64];
        let mut flat = FlatTypes::new(&mut storage);
        self.resolve.push_flat(&ty, &mut flat);
        flat.to_vec()
    }

    /// The resource a handle refers to, dealiased.
    fn resource(&self, id: TypeId) -> TypeId {
        match self.dealias(Type::Id(id)) {
            Type::Id(r) => r,
            _ => id,
        }
    }

    /// Pushes slot `(local, joined)` as an i32 (the slot may be wider).
    fn get_i32(&mut self, (local, joined): (u32, WasmType)) {
        self.out.code.push(I::LocalGet(local));
        if matches!(joined, WasmType::I64 | WasmType::PointerOrI64) {
            self.out.code.push(I::I32WrapI64);
        }
    }

    /// Walks a value held flat in `slots` (local, type of the slot).
    fn flat(&mut self, ty: Type, slots: &[(u32, WasmType)]) {
        if !self.has_borrow(ty) {
            return;
        }
        let Type::Id(id) = self.dealias(ty) else {
            return;
        };
        match self.resolve.types[id].kind.clone() {
            TypeDefKind::Handle(Handle::Borrow(r)) => {
                let resource = self.resource(r);
                let drop = (self.drop_of)(resource);
                self.get_i32(slots[0]);
                self.out.code.push(I::Call(drop));
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
            kind => {
                let cases = cases(&kind);
                for (index, case) in cases.into_iter().enumerate() {
                    let Some(case) = case else { continue };
                    if !self.has_borrow(case) {
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
        if !self.has_borrow(ty) {
            return;
        }
        let Type::Id(id) = self.dealias(ty) else {
            return;
        };
        let load = |offset: u64, bytes: u32| -> I<'static> {
            let arg = MemArg {
                offset,
                align: bytes.trailing_zeros(),
                target: Default::default(),
                ordering: None,
            };
            match bytes {
                1 => I::I32Load8U(arg),
                2 => I::I32Load16U(arg),
                _ => I::I32Load(arg),
            }
        };
        match self.resolve.types[id].kind.clone() {
            TypeDefKind::Handle(Handle::Borrow(r)) => {
                let resource = self.resource(r);
                let drop = (self.drop_of)(resource);
                self.out
                    .code
                    .extend([I::LocalGet(base), load(offset, 4), I::Call(drop)]);
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
            kind => {
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
                    if !self.has_borrow(case) {
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

/// The cases of an option, result or variant, by discriminant.
fn cases(kind: &TypeDefKind) -> Vec<Option<Type>> {
    match kind {
        TypeDefKind::Option(t) => vec![None, Some(*t)],
        TypeDefKind::Result(r) => vec![r.ok, r.err],
        TypeDefKind::Variant(v) => v.cases.iter().map(|c| c.ty).collect(),
        _ => Vec::new(),
    }
}
