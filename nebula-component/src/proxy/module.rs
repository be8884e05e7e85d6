//! Extends a prebuilt core module, re-encoded with its function indices
//! shifted. For a proxy, the module is the proxy base
//! (`runtime/base/`) plus generated imports of the wrapped functions, one
//! forwarder per function and the `post-return`s; for the output's span
//! runtime (`runtime/spans/`), it is the runtime plus the descriptors of
//! every wrapped function in its memory.
//!
//! Index spaces of a proxy:
//!
//! ```text
//! functions: [base imports][wrapped imports][resource intrinsics]
//!            [base code][resource helpers][forwarders][post-returns]
//! globals:   [base globals][`taking` flag of the resource helpers]
//! memory:    [base stack+data][bump arena, grown on demand]
//! ```
//!
//! and of the runtime's memory:
//!
//! ```text
//! memory:    [runtime stack+data][descriptors][bump arena, grown on demand]
//! ```
//!
//! A forwarder is
//!
//! ```text
//! h = nebula_span_start(descriptor)       ; only when the function has a span
//! <unwrap own wrapper handles in params>  ; see `handles.rs`
//! import(params.., [area = cabi_realloc(0, 0, align, size)])
//! <wrap own handles in the result, drop lent borrows>
//! nebula_span_end(h, <status probe>)      ; see `abi.rs`
//! return result | area
//! ```
//!
//! and every `post-return` calls `nebula_reset`, freeing the arena.

use std::collections::HashMap;

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, ConstExpr, DataCountSection, DataSection, ElementSection, EntityType, ExportKind,
    ExportSection, Function, FunctionSection, GlobalSection, GlobalType, ImportSection,
    Instruction, MemorySection, MemoryType, Module, TableSection, TypeSection, ValType,
};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};
use wit_parser::abi::{WasmSignature, WasmType};

use super::abi::StatusProbe;
use super::handles::HandleCode;
use super::resources::{Helper, Intrinsic};
use crate::Error;

const PAGE: u64 = 65536;

/// One generated forwarder.
pub(crate) struct Forwarder {
    /// Core import (module, field) of the wrapped function.
    pub import: (String, String),
    /// Core export name of the forwarder.
    pub export: String,
    /// Core export name of its `post-return`.
    pub post_return: String,
    /// Flat signature of the import (lowered).
    pub import_params: Vec<ValType>,
    pub import_results: Vec<ValType>,
    /// Flat signature of the export (lifted).
    pub export_params: Vec<ValType>,
    pub export_results: Vec<ValType>,
    /// Whether the import writes its results to a return area.
    pub retptr: bool,
    /// Size and alignment of that return area.
    pub return_area: (u32, u32),
    /// Address of the span descriptor in the span runtime's memory, when
    /// the call gets a span.
    pub descriptor: Option<u32>,
    /// How to read the call's status.
    pub status: StatusProbe,
    /// Handle code before the call (on the parameters).
    pub before: HandleCode,
    /// Handle code after the call (on the results, then the parameters).
    pub after: Vec<HandleCode>,
}

/// The locals of a forwarder: its parameters, then `handle` (the span),
/// `area` (the return area) and `result` (a flat result), then the extra
/// locals of its handle code.
pub(crate) struct ForwarderLocals {
    /// The return area's local, when the import returns through one.
    pub area: Option<u32>,
    /// The flat result's local and its slot type, when there is one.
    pub result: Option<(u32, WasmType)>,
    /// The first local of the handle code.
    pub first_extra: u32,
}

impl ForwarderLocals {
    /// The layout for a function lifted as `export` and lowered as `import`.
    pub fn new(export: &WasmSignature, import: &WasmSignature) -> Self {
        let params = export.params.len() as u32;
        ForwarderLocals {
            area: import.retptr.then_some(params + 1),
            result: match (import.retptr, import.results.as_slice()) {
                (false, [ty]) => Some((params + 2, *ty)),
                _ => None,
            },
            first_extra: params + 3,
        }
    }
}

/// The facts about a prebuilt module (the proxy base or the span runtime)
/// the linker needs, read once.
pub(crate) struct Prebuilt<'a> {
    bytes: &'a [u8],
    imported_funcs: u32,
    defined_funcs: u32,
    exports: HashMap<String, u32>,
    memory_pages: u64,
    globals: u32,
}

impl<'a> Prebuilt<'a> {
    /// Reads a prebuilt module.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut rt = Prebuilt {
            bytes,
            imported_funcs: 0,
            defined_funcs: 0,
            exports: HashMap::new(),
            memory_pages: 0,
            globals: 0,
        };
        let bad = |e: wasmparser::BinaryReaderError| Error::internal("prebuilt module", e);
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(bad)? {
                Payload::ImportSection(imports) => {
                    for import in imports.into_imports() {
                        match import.map_err(bad)?.ty {
                            TypeRef::Func(_) => rt.imported_funcs += 1,
                            TypeRef::Global(_) => rt.globals += 1,
                            _ => {}
                        }
                    }
                }
                Payload::FunctionSection(funcs) => rt.defined_funcs = funcs.count(),
                Payload::GlobalSection(globals) => rt.globals += globals.count(),
                Payload::MemorySection(mems) => {
                    for mem in mems {
                        rt.memory_pages = mem.map_err(bad)?.initial;
                    }
                }
                Payload::ExportSection(exports) => {
                    for export in exports {
                        let export = export.map_err(bad)?;
                        if export.kind == ExternalKind::Func {
                            rt.exports.insert(export.name.to_string(), export.index);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(rt)
    }

    /// The index of the global the linker adds for the resource helpers.
    pub fn taking_global(&self) -> u32 {
        self.globals
    }

    /// Where an appended data segment starts: just past the module's memory.
    pub fn descriptor_base(&self) -> u32 {
        (self.memory_pages * PAGE) as u32
    }

    fn export(&self, name: &str) -> Result<u32, Error> {
        self.exports
            .get(name)
            .copied()
            .ok_or_else(|| Error::bug(format!("prebuilt module lacks export `{name}`")))
    }
}

/// The function index space of a linked module (the diagram above): the
/// one place its arithmetic lives, asked by the generator (where the
/// resource intrinsics and helpers go) and by [`link`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct FuncLayout {
    /// The prebuilt module's own imports.
    base_imports: u32,
    /// The wrapped functions' imports (one per forwarder).
    wrapped: u32,
    /// The resource intrinsics' imports.
    intrinsics: u32,
    /// The prebuilt module's own functions.
    base_code: u32,
    /// The resource helpers.
    helpers: u32,
}

impl FuncLayout {
    /// The layout of `rt` linked with `wrapped` forwarders, `intrinsics`
    /// resource intrinsics and `helpers` resource helpers.
    pub(crate) fn new(
        rt: &Prebuilt<'_>,
        wrapped: usize,
        intrinsics: usize,
        helpers: usize,
    ) -> Self {
        FuncLayout {
            base_imports: rt.imported_funcs,
            wrapped: wrapped as u32,
            intrinsics: intrinsics as u32,
            base_code: rt.defined_funcs,
            helpers: helpers as u32,
        }
    }

    /// The import of wrapped function `i`.
    fn wrapped_import(&self, i: usize) -> u32 {
        self.base_imports + i as u32
    }

    /// The first resource intrinsic.
    pub(crate) fn first_intrinsic(&self) -> u32 {
        self.base_imports + self.wrapped
    }

    /// Where the prebuilt module's function `index` lands: its imports stay,
    /// its code moves past the added imports.
    fn base(&self, index: u32) -> u32 {
        if index < self.base_imports {
            index
        } else {
            index + self.wrapped + self.intrinsics
        }
    }

    /// The first resource helper.
    pub(crate) fn first_helper(&self) -> u32 {
        self.base_imports + self.wrapped + self.intrinsics + self.base_code
    }

    /// Forwarder `i`.
    fn forwarder(&self, i: usize) -> u32 {
        self.first_helper() + self.helpers + i as u32
    }

    /// Post-return `i`.
    fn post_return(&self, i: usize) -> u32 {
        self.forwarder(self.wrapped as usize) + i as u32
    }
}

impl Reencode for FuncLayout {
    type Error = std::convert::Infallible;

    fn function_index(
        &mut self,
        func: u32,
    ) -> Result<u32, wasm_encoder::reencode::Error<Self::Error>> {
        Ok(self.base(func))
    }
}

/// What a link adds to the prebuilt module; `Additions::default()` adds
/// nothing.
#[derive(Default)]
pub(crate) struct Additions<'a> {
    /// The forwarders (and their imports and post-returns).
    pub forwarders: &'a [Forwarder],
    /// The resource intrinsics, imported after the forwarders' imports.
    pub intrinsics: &'a [Intrinsic],
    /// The resource helpers, after the prebuilt module's code.
    pub helpers: &'a [Helper],
    /// A data segment just past the prebuilt module's memory.
    pub data: &'a [u8],
}

/// The core names the linked module gives the prebuilt module's own
/// imports and exports.
pub(crate) struct CoreNames<'a> {
    /// The prebuilt `(module, name)` import as the output imports it.
    pub import: &'a dyn Fn(&str, &str) -> (String, String),
    /// The name a prebuilt export keeps, if it stays exported.
    pub export: &'a dyn Fn(ExternalKind, &str) -> Option<String>,
}

/// The base's entry points the forwarders call.
struct EntryPoints {
    span_start: u32,
    span_end: u32,
    reset: u32,
    realloc: u32,
}

/// Links the prebuilt module with what `additions` holds.
pub(crate) fn link(
    rt: &Prebuilt<'_>,
    additions: &Additions<'_>,
    names: &CoreNames<'_>,
) -> Result<Vec<u8>, Error> {
    let Additions {
        forwarders,
        intrinsics,
        helpers,
        data,
    } = *additions;
    let mut shift = FuncLayout::new(rt, forwarders.len(), intrinsics.len(), helpers.len());
    let layout = shift;
    let runtime_func = |name: &str| rt.export(name).map(|i| layout.base(i));
    let entry = match forwarders {
        [] => None,
        _ => Some(EntryPoints {
            span_start: runtime_func("nebula_span_start")?,
            span_end: runtime_func("nebula_span_end")?,
            reset: runtime_func("nebula_reset")?,
            realloc: runtime_func("cabi_realloc")?,
        }),
    };

    let mut types = Types::default();
    let import_types: Vec<u32> = forwarders
        .iter()
        .map(|f| types.get(&f.import_params, &f.import_results))
        .collect();
    let mut handle_type = |returns: bool| {
        let results: &[ValType] = if returns { &[ValType::I32] } else { &[] };
        types.get(&[ValType::I32], results)
    };
    let intrinsic_types: Vec<u32> = intrinsics.iter().map(|i| handle_type(i.returns)).collect();
    let helper_types: Vec<u32> = helpers.iter().map(|h| handle_type(h.returns)).collect();
    let forwarder_types: Vec<u32> = forwarders
        .iter()
        .map(|f| types.get(&f.export_params, &f.export_results))
        .collect();
    // One post-return per distinct result signature.
    let mut post_returns: Vec<(Vec<ValType>, u32)> = Vec::new();
    let post_return_of: Vec<usize> = forwarders
        .iter()
        .map(|f| {
            post_returns
                .iter()
                .position(|(r, _)| *r == f.export_results)
                .unwrap_or_else(|| {
                    let ty = types.get(&f.export_results, &[]);
                    post_returns.push((f.export_results.clone(), ty));
                    post_returns.len() - 1
                })
        })
        .collect();

    let bad = |e: wasmparser::BinaryReaderError| Error::internal("prebuilt module", e);
    let reencode = |e: wasm_encoder::reencode::Error<std::convert::Infallible>| {
        Error::internal("re-encoding a prebuilt module", e)
    };
    let mut module = Module::new();
    let mut code: Option<CodeSection> = None;
    let mut wrote_data = false;
    let mut wrote_globals = false;
    let descriptor_segment = |section: &mut DataSection| {
        if !data.is_empty() {
            section.active(
                0,
                &wasm_encoder::ConstExpr::i32_const(rt.descriptor_base() as i32),
                data.iter().copied(),
            );
        }
    };

    for payload in Parser::new(0).parse_all(rt.bytes) {
        let payload = payload.map_err(bad)?;
        if let Some(code) = flush_code(&payload, &mut code) {
            let mut code = code;
            for helper in helpers {
                code.function(&helper.body);
            }
            if let Some(entry) = &entry {
                for (i, f) in forwarders.iter().enumerate() {
                    let import = layout.wrapped_import(i);
                    code.function(&forwarder_body(f, import, entry));
                }
                for _ in &post_returns {
                    let mut body = Function::new([]);
                    body.instruction(&Instruction::Call(entry.reset));
                    body.instruction(&Instruction::End);
                    code.function(&body);
                }
            }
            module.section(&code);
        }
        match payload {
            Payload::TypeSection(reader) => {
                let mut section = TypeSection::new();
                let base = reader.count();
                RoundtripReencoder
                    .parse_type_section(&mut section, reader)
                    .map_err(|e| Error::internal("re-encoding a prebuilt module", e))?;
                types.emit(base, &mut section);
                module.section(&section);
            }
            Payload::ImportSection(reader) => {
                let mut section = ImportSection::new();
                for import in reader.into_imports() {
                    let import = import.map_err(bad)?;
                    let (m, n) = (names.import)(import.module, import.name);
                    let ty: EntityType = RoundtripReencoder
                        .entity_type(import.ty)
                        .map_err(|e| Error::internal("re-encoding a prebuilt module", e))?;
                    section.import(&m, &n, ty);
                }
                for (f, ty) in forwarders.iter().zip(&import_types) {
                    section.import(
                        &f.import.0,
                        &f.import.1,
                        EntityType::Function(types.index(*ty)),
                    );
                }
                for (intrinsic, ty) in intrinsics.iter().zip(&intrinsic_types) {
                    let (module, name) = &intrinsic.name;
                    section.import(module, name, EntityType::Function(types.index(*ty)));
                }
                module.section(&section);
            }
            Payload::FunctionSection(reader) => {
                let mut section = FunctionSection::new();
                shift
                    .parse_function_section(&mut section, reader)
                    .map_err(reencode)?;
                for ty in helper_types.iter().chain(&forwarder_types) {
                    section.function(types.index(*ty));
                }
                for (_, ty) in &post_returns {
                    section.function(types.index(*ty));
                }
                module.section(&section);
            }
            Payload::TableSection(reader) => {
                let mut section = TableSection::new();
                shift
                    .parse_table_section(&mut section, reader)
                    .map_err(reencode)?;
                module.section(&section);
            }
            Payload::MemorySection(reader) => {
                let mut section = MemorySection::new();
                for mem in reader {
                    let mem = mem.map_err(bad)?;
                    let pages = rt.memory_pages + (data.len() as u64).div_ceil(PAGE);
                    section.memory(MemoryType {
                        minimum: pages.max(mem.initial),
                        maximum: mem.maximum.map(|m| m.max(pages)),
                        memory64: mem.memory64,
                        shared: mem.shared,
                        page_size_log2: mem.page_size_log2,
                    });
                }
                module.section(&section);
            }
            Payload::GlobalSection(reader) => {
                let mut section = GlobalSection::new();
                shift
                    .parse_global_section(&mut section, reader)
                    .map_err(reencode)?;
                if !helpers.is_empty() {
                    section.global(
                        GlobalType {
                            val_type: ValType::I32,
                            mutable: true,
                            shared: false,
                        },
                        &ConstExpr::i32_const(0),
                    );
                }
                wrote_globals = true;
                module.section(&section);
            }
            Payload::ExportSection(reader) => {
                if !wrote_globals && !helpers.is_empty() {
                    return Err(Error::bug("prebuilt module has no global section"));
                }
                let mut section = ExportSection::new();
                for export in reader {
                    let export = export.map_err(bad)?;
                    let Some(name) = (names.export)(export.kind, export.name) else {
                        continue;
                    };
                    let (kind, index) = match export.kind {
                        ExternalKind::Func => (ExportKind::Func, layout.base(export.index)),
                        ExternalKind::Memory => (ExportKind::Memory, export.index),
                        ExternalKind::Global => (ExportKind::Global, export.index),
                        ExternalKind::Table => (ExportKind::Table, export.index),
                        _ => continue,
                    };
                    section.export(&name, kind, index);
                }
                for (i, helper) in helpers.iter().enumerate() {
                    if let Some(name) = &helper.export {
                        section.export(name, ExportKind::Func, layout.first_helper() + i as u32);
                    }
                }
                for (i, f) in forwarders.iter().enumerate() {
                    section.export(&f.export, ExportKind::Func, layout.forwarder(i));
                    let post = layout.post_return(post_return_of[i]);
                    section.export(&f.post_return, ExportKind::Func, post);
                }
                module.section(&section);
            }
            Payload::ElementSection(reader) => {
                let mut section = ElementSection::new();
                shift
                    .parse_element_section(&mut section, reader)
                    .map_err(reencode)?;
                module.section(&section);
            }
            Payload::DataCountSection { count, .. } => {
                let extra = u32::from(!data.is_empty());
                module.section(&DataCountSection {
                    count: count + extra,
                });
            }
            Payload::CodeSectionStart { .. } => code = Some(CodeSection::new()),
            Payload::CodeSectionEntry(body) => {
                let section = code.as_mut().expect("code section started");
                shift.parse_function_body(section, body).map_err(reencode)?;
            }
            Payload::DataSection(reader) => {
                let mut section = DataSection::new();
                shift
                    .parse_data_section(&mut section, reader)
                    .map_err(reencode)?;
                descriptor_segment(&mut section);
                module.section(&section);
                wrote_data = true;
            }
            Payload::StartSection { .. } => {
                return Err(Error::bug("prebuilt module has a start function"));
            }
            Payload::End(_) if !wrote_data && !data.is_empty() => {
                let mut section = DataSection::new();
                descriptor_segment(&mut section);
                module.section(&section);
            }
            // Names, producers and the runtime's own component-type section
            // are not carried over: the proxy gets its own metadata.
            _ => {}
        }
    }
    Ok(module.finish())
}

/// When `payload` follows the code section, hands back the finished section.
fn flush_code(payload: &Payload<'_>, code: &mut Option<CodeSection>) -> Option<CodeSection> {
    match payload {
        Payload::CodeSectionEntry(_) | Payload::CodeSectionStart { .. } => None,
        _ => code.take(),
    }
}

/// New function types appended after the runtime's, deduplicated.
#[derive(Default)]
struct Types {
    list: Vec<(Vec<ValType>, Vec<ValType>)>,
    base: u32,
}

impl Types {
    /// A placeholder id for the signature; resolved by [`Types::index`].
    fn get(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        let sig = (params.to_vec(), results.to_vec());
        match self.list.iter().position(|s| *s == sig) {
            Some(i) => i as u32,
            None => {
                self.list.push(sig);
                self.list.len() as u32 - 1
            }
        }
    }

    fn emit(&mut self, base: u32, section: &mut TypeSection) {
        self.base = base;
        for (params, results) in &self.list {
            section
                .ty()
                .function(params.iter().copied(), results.iter().copied());
        }
    }

    fn index(&self, id: u32) -> u32 {
        self.base + id
    }
}

fn forwarder_body(f: &Forwarder, import: u32, entry: &EntryPoints) -> Function {
    let (start, end, realloc) = (entry.span_start, entry.span_end, entry.realloc);
    use Instruction as I;
    // Locals: the parameters, then `handle`, `area`, `result` (always
    // declared; the borrow cleanup's locals follow), then the cleanup's.
    let params = f.export_params.len() as u32;
    let (handle, area, result) = (params, params + 1, params + 2);
    let result_type = match (f.retptr, f.export_results.as_slice()) {
        (false, [ty]) => Some(*ty),
        _ => None,
    };
    let mut locals = vec![(2, ValType::I32), (1, result_type.unwrap_or(ValType::I32))];
    let handle_code = std::iter::once(&f.before).chain(&f.after);
    locals.extend(handle_code.flat_map(|c| c.locals.iter().map(|ty| (1, *ty))));
    let area = f.retptr.then_some(area);
    let result = result_type.map(|_| result);

    let mut body = Vec::new();
    if let Some(addr) = f.descriptor {
        body.extend([
            I::I32Const(addr as i32),
            I::Call(start),
            I::LocalSet(handle),
        ]);
    }
    body.extend(f.before.code.iter().cloned());
    body.extend((0..params).map(I::LocalGet));
    if let Some(area) = area {
        let (size, align) = f.return_area;
        body.extend([
            I::I32Const(0),
            I::I32Const(0),
            I::I32Const(align as i32),
            I::I32Const(size as i32),
            I::Call(realloc),
            I::LocalTee(area),
        ]);
    }
    body.push(I::Call(import));
    if let Some(result) = result {
        body.push(I::LocalSet(result));
    }
    for code in &f.after {
        body.extend(code.code.iter().cloned());
    }
    if f.descriptor.is_some() {
        body.push(I::LocalGet(handle));
        f.status.emit(area.or(result), &mut body);
        body.push(I::Call(end));
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
