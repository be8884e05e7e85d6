//! The forwarders of a proxy: one core function per wrapped function,
//! exported as the proxy's lifted function, that calls the wrapped import
//! inside a span, and one `post-return` per distinct result signature.
//!
//! A forwarder is
//!
//! ```text
//! h = nebula_span_start(descriptor)       ; only when the function has a span
//!                                         ; (or a hook's entry, with param 0)
//! <unwrap own wrapper handles in params>  ; see `handles.rs`
//! import(params.., [area = cabi_realloc(0, 0, align, size)])
//! <wrap own handles in the result, drop lent borrows>
//! nebula_span_end(h, <status probe>)      ; see `abi.rs`
//! return result | area
//! ```
//!
//! and every `post-return` calls `nebula_reset`, freeing the arena.

use wasm_encoder::{Function, Instruction, ValType};
use wit_parser::abi::{WasmSignature, WasmType};
use wit_parser::{Resolve, SizeAlign, Type};

use super::abi::StatusProbe;
use super::handles::{HandleCode, HandleWalker, Op, Place};
use super::module::{CodePhase, ImportPhase};
use super::resources::ResourceTable;
use crate::Error;

/// One wrapped function, as its forwarder needs it.
pub(crate) struct Forwarder {
    /// Core import (module, field) of the wrapped function.
    pub import: (String, String),
    /// Core export name of the forwarder.
    pub export: String,
    /// Core export name of its `post-return`.
    pub post_return: String,
    /// The wrapped function lowered (the import's core signature).
    pub lowered: WasmSignature,
    /// The proxy's function lifted (the forwarder's core signature).
    pub lifted: WasmSignature,
    /// The WIT types of the parameters and the result.
    pub params: Vec<Type>,
    pub result: Option<Type>,
    /// Size and alignment of the import's return area.
    pub return_area: (u32, u32),
    /// Address of the span descriptor in the span runtime's memory, when
    /// the call gets a span.
    pub descriptor: Option<u32>,
    /// The base's entry point that starts the span from the call's own
    /// trace context (taking the descriptor and the first parameter; see
    /// `trace_context.rs`), instead of `nebula_span_start`.
    pub start_entry: Option<&'static str>,
    /// The base's entry point called with the first parameter before the
    /// call (the hooked constructor's `nebula_outgoing_headers`).
    pub prelude: Option<&'static str>,
    /// How to read the call's status.
    pub status: StatusProbe,
}

/// The locals of a forwarder: its parameters, then `handle` (the span),
/// `area` (the return area) and `result` (a flat result), always declared,
/// then the extra locals of its handle code.
struct Locals {
    params: u32,
    handle: u32,
    /// The return area's local, when the import returns through one.
    area: Option<u32>,
    /// The flat result's local and its slot type, when there is one.
    result: Option<(u32, WasmType)>,
    /// The first local of the handle code.
    first_extra: u32,
}

impl Forwarder {
    fn locals(&self) -> Locals {
        let params = self.lifted.params.len() as u32;
        Locals {
            params,
            handle: params,
            area: self.lowered.retptr.then_some(params + 1),
            result: match (self.lowered.retptr, self.lowered.results.as_slice()) {
                (false, [ty]) => Some((params + 2, *ty)),
                _ => None,
            },
            first_extra: params + 3,
        }
    }

    /// The handle code around the call: before it (unwrap the parameters'
    /// wrapper handles), and after it (wrap the result's, drop lent
    /// borrows).
    fn handle_code(
        &self,
        resolve: &Resolve,
        sizes: &SizeAlign,
        resources: &ResourceTable,
    ) -> (HandleCode, [HandleCode; 2]) {
        let locals = self.locals();
        let walk = |op, place, first_local| {
            HandleWalker::walk(resolve, sizes, resources, op, place, first_local)
        };
        let params = || Place::Params {
            types: &self.params,
            indirect: self.lifted.indirect_params,
        };
        let unwrap = walk(Op::Unwrap, params(), locals.first_extra);
        let after_unwrap = locals.first_extra + unwrap.locals.len() as u32;
        let wrap = match (self.result, locals.area, locals.result) {
            (Some(ty), Some(area), _) => {
                walk(Op::Wrap, Place::Memory { ty, local: area }, after_unwrap)
            }
            (Some(ty), None, Some((local, slot))) => {
                walk(Op::Wrap, Place::Flat { ty, local, slot }, after_unwrap)
            }
            (Some(_), None, None) | (None, _, _) => HandleCode::default(),
        };
        let drop_lent = walk(
            Op::DropLent,
            params(),
            after_unwrap + wrap.locals.len() as u32,
        );
        (unwrap, [wrap, drop_lent])
    }
}

/// Imports every wrapped function; returns their indices.
pub(crate) fn import_all(imports: &mut ImportPhase<'_>, forwarders: &[Forwarder]) -> Vec<u32> {
    forwarders
        .iter()
        .map(|f| {
            imports.func(
                f.import.clone(),
                &core_types(&f.lowered.params),
                &core_types(&f.lowered.results),
            )
        })
        .collect()
}

/// Adds the forwarders of `forwarders` (whose imports are `imported`) and
/// their post-returns, and exports them.
pub(crate) fn add_all(
    code: &mut CodePhase<'_>,
    forwarders: &[Forwarder],
    imported: &[u32],
    resolve: &Resolve,
    sizes: &SizeAlign,
    resources: &ResourceTable,
) -> Result<(), Error> {
    if forwarders.is_empty() {
        return Ok(());
    }
    let entry = EntryPoints {
        span_start: code.base_func("nebula_span_start")?,
        span_end: code.base_func("nebula_span_end")?,
        reset: code.base_func("nebula_reset")?,
        realloc: code.base_func("cabi_realloc")?,
    };
    let mut added = Vec::with_capacity(forwarders.len());
    for (f, import) in forwarders.iter().zip(imported) {
        let start = match f.start_entry {
            Some(name) => code.base_func(name)?,
            None => entry.span_start,
        };
        let prelude = f.prelude.map(|name| code.base_func(name)).transpose()?;
        let body = f.body(
            *import,
            &entry,
            (start, prelude),
            f.handle_code(resolve, sizes, resources),
        );
        let index = code.func(
            &core_types(&f.lifted.params),
            &core_types(&f.lifted.results),
            body,
        );
        added.push(index);
    }
    // One post-return per distinct result signature.
    let mut post_returns: Vec<(Vec<ValType>, u32)> = Vec::new();
    let mut post_return_of = Vec::with_capacity(forwarders.len());
    for f in forwarders {
        let results = core_types(&f.lifted.results);
        let index = match post_returns.iter().find(|(r, _)| *r == results) {
            Some((_, index)) => *index,
            None => {
                let mut body = Function::new([]);
                body.instruction(&Instruction::Call(entry.reset));
                body.instruction(&Instruction::End);
                let index = code.func(&results, &[], body);
                post_returns.push((results, index));
                index
            }
        };
        post_return_of.push(index);
    }
    for ((f, index), post) in forwarders.iter().zip(added).zip(post_return_of) {
        code.export_func(f.export.clone(), index);
        code.export_func(f.post_return.clone(), post);
    }
    Ok(())
}

/// The base's entry points the forwarders call.
struct EntryPoints {
    span_start: u32,
    span_end: u32,
    reset: u32,
    realloc: u32,
}

impl Forwarder {
    fn body(
        &self,
        import: u32,
        entry: &EntryPoints,
        (span_start, prelude): (u32, Option<u32>),
        (before, after): (HandleCode, [HandleCode; 2]),
    ) -> Function {
        use Instruction as I;
        let Locals {
            params,
            handle,
            area,
            result,
            ..
        } = self.locals();
        let result_slot = result.map(|(_, slot)| super::abi::core_type(slot));
        let mut locals = vec![(2, ValType::I32), (1, result_slot.unwrap_or(ValType::I32))];
        let handle_code = std::iter::once(&before).chain(&after);
        locals.extend(handle_code.flat_map(|c| c.locals.iter().map(|ty| (1, *ty))));
        let result = result.map(|(local, _)| local);

        let mut body = Vec::new();
        if let Some(addr) = self.descriptor {
            body.push(I::I32Const(addr as i32));
            if self.start_entry.is_some() {
                body.push(I::LocalGet(0));
            }
            body.extend([I::Call(span_start), I::LocalSet(handle)]);
        }
        if let Some(prelude) = prelude {
            body.extend([I::LocalGet(0), I::Call(prelude)]);
        }
        body.extend(before.code);
        body.extend((0..params).map(I::LocalGet));
        if let Some(area) = area {
            let (size, align) = self.return_area;
            body.extend([
                I::I32Const(0),
                I::I32Const(0),
                I::I32Const(align as i32),
                I::I32Const(size as i32),
                I::Call(entry.realloc),
                I::LocalTee(area),
            ]);
        }
        body.push(I::Call(import));
        if let Some(result) = result {
            body.push(I::LocalSet(result));
        }
        for code in after {
            body.extend(code.code);
        }
        if self.descriptor.is_some() {
            body.push(I::LocalGet(handle));
            self.status.emit(area.or(result), &mut body);
            body.push(I::Call(entry.span_end));
        }
        if let Some(value) = area.or(result) {
            body.push(I::LocalGet(value));
        }
        body.push(I::End);

        let mut func = Function::new(locals);
        for instruction in &body {
            func.instruction(instruction);
        }
        func
    }
}

pub(crate) fn core_types(types: &[WasmType]) -> Vec<ValType> {
    types.iter().map(|t| super::abi::core_type(*t)).collect()
}
