//! The only part of the generator that knows canonical-ABI layouts: where a
//! function's `result` discriminant and error payload sit, so a forwarder
//! can report `error` status without lifting the value.
//!
//! Forwarding itself needs no layout: flat core values and the return-area
//! pointer pass straight through. Layouts come from `wit-parser`'s
//! [`SizeAlign`], never from hand-computed offsets.

use wasm_encoder::{Instruction, MemArg};
use wit_parser::abi::WasmType;
use wit_parser::{Function, Int, Resolve, SizeAlign, Type, TypeDefKind};

use crate::wit_walk::dealias;

/// The status codes the span runtime understands (`nebula_span_end`).
mod code {
    pub const ERROR: i32 = 1;
    pub const ERROR_STRING: i32 = 2;
    pub const ERROR_CASE: i32 = 3;
    pub const ERROR_UNSIGNED: i32 = 4;
    pub const ERROR_SIGNED: i32 = 5;
}

/// How the error payload of a `result` is reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ErrorPayload {
    /// No payload, or one not cheap to render: the message is `error`.
    Opaque,
    /// A string: the message is the string.
    String,
    /// An enum or variant: the message is the case name.
    Case { tag: Int, names: Vec<String> },
    /// An integer of `bytes` width: the message is its decimal value.
    Integer { bytes: u8, signed: bool },
}

/// Where a forwarder finds whether a call returned `result::err`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StatusProbe {
    /// The function does not return a `result`.
    None,
    /// The single flat result is the discriminant (`result` without payloads).
    Flat,
    /// The result sits in the return area.
    Area {
        payload_offset: u32,
        error: ErrorPayload,
    },
}

impl StatusProbe {
    /// Works out the probe for `func`, whose results use a return area when
    /// `retptr` is set.
    pub fn new(resolve: &Resolve, sizes: &SizeAlign, func: &Function, retptr: bool) -> Self {
        let Some(Type::Id(id)) = func.result.map(|t| dealias(resolve, t)) else {
            return StatusProbe::None;
        };
        let TypeDefKind::Result(result) = &resolve.types[id].kind else {
            return StatusProbe::None;
        };
        if !retptr {
            return StatusProbe::Flat;
        }
        let payload_offset = sizes
            .payload_offset(Int::U8, [result.ok.as_ref(), result.err.as_ref()])
            .size_wasm32() as u32;
        let error = match result.err.map(|t| dealias(resolve, t)) {
            None => ErrorPayload::Opaque,
            Some(Type::String) => ErrorPayload::String,
            Some(Type::U8) => ErrorPayload::Integer {
                bytes: 1,
                signed: false,
            },
            Some(Type::U16) => ErrorPayload::Integer {
                bytes: 2,
                signed: false,
            },
            Some(Type::U32) => ErrorPayload::Integer {
                bytes: 4,
                signed: false,
            },
            Some(Type::U64) => ErrorPayload::Integer {
                bytes: 8,
                signed: false,
            },
            Some(Type::S8) => ErrorPayload::Integer {
                bytes: 1,
                signed: true,
            },
            Some(Type::S16) => ErrorPayload::Integer {
                bytes: 2,
                signed: true,
            },
            Some(Type::S32) => ErrorPayload::Integer {
                bytes: 4,
                signed: true,
            },
            Some(Type::S64) => ErrorPayload::Integer {
                bytes: 8,
                signed: true,
            },
            Some(Type::Id(err)) => match &resolve.types[err].kind {
                TypeDefKind::Enum(e) => ErrorPayload::Case {
                    tag: e.tag(),
                    names: e.cases.iter().map(|c| c.name.clone()).collect(),
                },
                TypeDefKind::Variant(v) => ErrorPayload::Case {
                    tag: v.tag(),
                    names: v.cases.iter().map(|c| c.name.clone()).collect(),
                },
                _ => ErrorPayload::Opaque,
            },
            Some(_) => ErrorPayload::Opaque,
        };
        StatusProbe::Area {
            payload_offset,
            error,
        }
    }

    /// The case names the runtime needs to render the message.
    pub fn case_names(&self) -> &[String] {
        match self {
            StatusProbe::Area {
                error: ErrorPayload::Case { names, .. },
                ..
            } => names,
            _ => &[],
        }
    }

    /// Emits code leaving `code, a, b` on the stack for `nebula_span_end`.
    ///
    /// `result` is the local holding the flat result (for [`StatusProbe::Flat`])
    /// or the return-area pointer (for [`StatusProbe::Area`]).
    pub fn emit(&self, result: Option<u32>, out: &mut Vec<Instruction<'static>>) {
        use Instruction as I;
        let (payload_offset, error) = match self {
            StatusProbe::None => {
                out.extend([I::I32Const(0), I::I32Const(0), I::I32Const(0)]);
                return;
            }
            StatusProbe::Flat => {
                // Discriminant 1 is `err`, which is code::ERROR.
                out.extend([I::LocalGet(result.unwrap()), I::I32Const(0), I::I32Const(0)]);
                return;
            }
            StatusProbe::Area {
                payload_offset,
                error,
            } => (*payload_offset as u64, error),
        };
        let area = result.unwrap();
        let load = |offset: u64, bytes: u8, signed: bool| -> Instruction<'static> {
            let arg = MemArg {
                offset,
                align: bytes.trailing_zeros(),
                target: Default::default(),
                ordering: None,
            };
            match (bytes, signed) {
                (1, false) => I::I32Load8U(arg),
                (1, true) => I::I32Load8S(arg),
                (2, false) => I::I32Load16U(arg),
                (2, true) => I::I32Load16S(arg),
                _ => I::I32Load(arg),
            }
        };
        // code = discriminant * CODE (0 when ok).
        let code = match error {
            ErrorPayload::Opaque => code::ERROR,
            ErrorPayload::String => code::ERROR_STRING,
            ErrorPayload::Case { .. } => code::ERROR_CASE,
            ErrorPayload::Integer { signed: false, .. } => code::ERROR_UNSIGNED,
            ErrorPayload::Integer { signed: true, .. } => code::ERROR_SIGNED,
        };
        out.extend([
            I::LocalGet(area),
            load(0, 1, false),
            I::I32Const(code),
            I::I32Mul,
        ]);
        match error {
            ErrorPayload::Opaque => out.extend([I::I32Const(0), I::I32Const(0)]),
            ErrorPayload::String => out.extend([
                I::LocalGet(area),
                load(payload_offset, 4, false),
                I::LocalGet(area),
                load(payload_offset + 4, 4, false),
            ]),
            ErrorPayload::Case { tag, .. } => {
                let bytes = match tag {
                    Int::U8 => 1,
                    Int::U16 => 2,
                    Int::U32 | Int::U64 => 4,
                };
                out.extend([
                    I::LocalGet(area),
                    load(payload_offset, bytes, false),
                    I::I32Const(0),
                ]);
            }
            ErrorPayload::Integer { bytes: 8, .. } => out.extend([
                I::LocalGet(area),
                load(payload_offset, 4, false),
                I::LocalGet(area),
                load(payload_offset + 4, 4, false),
            ]),
            ErrorPayload::Integer { bytes, signed } => {
                out.extend([I::LocalGet(area), load(payload_offset, *bytes, *signed)]);
                if *signed {
                    // The high word is the sign extension of the low one.
                    out.extend([
                        I::LocalGet(area),
                        load(payload_offset, *bytes, true),
                        I::I32Const(31),
                        I::I32ShrS,
                    ]);
                } else {
                    out.push(I::I32Const(0));
                }
            }
        }
    }
}

/// The core value type of a flat canonical-ABI value on wasm32.
pub(crate) fn core_type(ty: WasmType) -> wasm_encoder::ValType {
    match ty {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => wasm_encoder::ValType::I32,
        WasmType::I64 | WasmType::PointerOrI64 => wasm_encoder::ValType::I64,
        WasmType::F32 => wasm_encoder::ValType::F32,
        WasmType::F64 => wasm_encoder::ValType::F64,
    }
}

/// Size and alignment of `func`'s result, for its return area.
pub(crate) fn return_area(sizes: &SizeAlign, func: &Function) -> (u32, u32) {
    match &func.result {
        Some(ty) => (
            sizes.size(ty).size_wasm32() as u32,
            sizes.align(ty).align_wasm32() as u32,
        ),
        None => (0, 1),
    }
}
