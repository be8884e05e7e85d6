//! An index-tracking builder of core modules that extend a prebuilt one
//! (the proxy base of `runtime/base/`, or the span runtime of
//! `runtime/spans/`), re-encoded with its function indices shifted.
//!
//! Building goes in two named phases, each addition returning its index:
//!
//! 1. [`ImportPhase`]: imported functions, placed after the prebuilt
//!    module's own imports;
//! 2. [`CodePhase`]: the prebuilt module's code moves past every added
//!    import, then come the added functions in the order they are added,
//!    a mutable `i32` global per [`CodePhase::global_i32`], exports, and a
//!    data segment just past the prebuilt module's memory.
//!
//! A proxy adds, in this order (`proxy/mod.rs`):
//!
//! ```text
//! functions: [base imports][wrapped imports][resource intrinsics]
//!            [base code][resource helpers][forwarders][post-returns]
//! globals:   [base globals][`taking` flag of the resource helpers]
//! memory:    [base stack+data][bump arena, grown on demand]
//! ```
//!
//! and the span runtime only its descriptors:
//!
//! ```text
//! memory:    [runtime stack+data][descriptors][bump arena, grown on demand]
//! ```

use std::collections::HashMap;

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, ConstExpr, DataCountSection, DataSection, ElementSection, EntityType, ExportKind,
    ExportSection, Function, FunctionSection, GlobalSection, GlobalType, ImportSection,
    MemorySection, MemoryType, Module, TableSection, TypeSection, ValType,
};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

use crate::Error;

const PAGE: u64 = 65536;

/// The facts about a prebuilt module (the proxy base or the span runtime)
/// the builder needs, read once.
pub(crate) struct Prebuilt<'a> {
    bytes: &'a [u8],
    imported_funcs: u32,
    defined_funcs: u32,
    exports: HashMap<String, u32>,
    memory_pages: u64,
    globals: u32,
    has_global_section: bool,
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
            has_global_section: false,
        };
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(bad)? {
                Payload::ImportSection(imports) => {
                    for import in imports.into_imports() {
                        match import.map_err(bad)?.ty {
                            TypeRef::Func(_) | TypeRef::FuncExact(_) => rt.imported_funcs += 1,
                            TypeRef::Global(_) => rt.globals += 1,
                            TypeRef::Table(_) | TypeRef::Memory(_) | TypeRef::Tag(_) => {}
                        }
                    }
                }
                Payload::FunctionSection(funcs) => rt.defined_funcs = funcs.count(),
                Payload::GlobalSection(globals) => {
                    rt.globals += globals.count();
                    rt.has_global_section = true;
                }
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

    /// The module's imports, as (module, name).
    pub fn imports(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let bytes = self.bytes;
        Parser::new(0)
            .parse_all(bytes)
            .filter_map(|payload| match payload {
                Ok(Payload::ImportSection(imports)) => Some(imports),
                _ => None,
            })
            .flat_map(|imports| imports.into_imports())
            .filter_map(|import| import.ok())
            .map(|import| (import.module, import.name))
    }

    /// Where an added data segment starts: just past the module's memory.
    pub fn data_base(&self) -> u32 {
        (self.memory_pages * PAGE) as u32
    }
}

/// The core names the built module gives the prebuilt module's own
/// imports and exports.
pub(crate) struct CoreNames<'a> {
    /// The prebuilt `(module, name)` import as the output imports it.
    pub import: &'a dyn Fn(&str, &str) -> (String, String),
    /// The name a prebuilt export keeps, if it stays exported.
    pub export: &'a dyn Fn(ExternalKind, &str) -> Option<String>,
}

/// What both phases add to.
struct Additions<'a> {
    base: &'a Prebuilt<'a>,
    types: Types,
    imports: Vec<((String, String), u32)>,
    funcs: Vec<(u32, Function)>,
    globals: u32,
    exports: Vec<(String, u32)>,
    data: Vec<u8>,
}

/// Phase 1: the imported functions the module adds.
pub(crate) struct ImportPhase<'a>(Additions<'a>);

impl<'a> ImportPhase<'a> {
    /// Starts extending `base`.
    pub fn new(base: &'a Prebuilt<'a>) -> Self {
        ImportPhase(Additions {
            base,
            types: Types::default(),
            imports: Vec::new(),
            funcs: Vec::new(),
            globals: 0,
            exports: Vec::new(),
            data: Vec::new(),
        })
    }

    /// Imports function `(module, name)` of type `params -> results`;
    /// returns its index.
    pub fn func(&mut self, name: (String, String), params: &[ValType], results: &[ValType]) -> u32 {
        let ty = self.0.types.get(params, results);
        self.0.imports.push((name, ty));
        self.0.base.imported_funcs + self.0.imports.len() as u32 - 1
    }

    /// Closes the imports: the prebuilt module's code lands after them.
    pub fn code(self) -> CodePhase<'a> {
        CodePhase(self.0)
    }
}

/// Phase 2: the prebuilt module's code in place, then the added functions,
/// globals, exports and data.
pub(crate) struct CodePhase<'a>(Additions<'a>);

impl CodePhase<'_> {
    /// The index of the prebuilt module's exported function `name`.
    pub fn base_func(&self, name: &str) -> Result<u32, Error> {
        let index = self
            .0
            .base
            .exports
            .get(name)
            .copied()
            .ok_or_else(|| Error::bug(format!("prebuilt module lacks export `{name}`")))?;
        Ok(self.shift().func(index))
    }

    /// Adds a mutable `i32` global starting at 0; returns its index.
    pub fn global_i32(&mut self) -> u32 {
        self.0.globals += 1;
        self.0.base.globals + self.0.globals - 1
    }

    /// Adds function `body` of type `params -> results`; returns its index.
    pub fn func(&mut self, params: &[ValType], results: &[ValType], body: Function) -> u32 {
        let ty = self.0.types.get(params, results);
        self.0.funcs.push((ty, body));
        let base = self.0.base;
        base.imported_funcs
            + self.0.imports.len() as u32
            + base.defined_funcs
            + self.0.funcs.len() as u32
            - 1
    }

    /// Exports function `index` as `name`, after the prebuilt exports.
    pub fn export_func(&mut self, name: String, index: u32) {
        self.0.exports.push((name, index));
    }

    /// Puts `bytes` just past the prebuilt module's memory (at
    /// [`Prebuilt::data_base`]), growing it to hold them.
    pub fn data(&mut self, bytes: &[u8]) {
        self.0.data = bytes.to_vec();
    }

    fn shift(&self) -> Shift {
        Shift {
            base_imports: self.0.base.imported_funcs,
            added_imports: self.0.imports.len() as u32,
        }
    }

    /// The built module; `names` renames the prebuilt module's own imports
    /// and exports.
    pub fn finish(self, names: &CoreNames<'_>) -> Result<Vec<u8>, Error> {
        let mut shift = self.shift();
        let Additions {
            base,
            mut types,
            imports,
            funcs,
            globals,
            exports,
            data,
        } = self.0;
        if globals > 0 && !base.has_global_section {
            return Err(Error::bug("prebuilt module has no global section"));
        }
        let reencode = |e: wasm_encoder::reencode::Error<std::convert::Infallible>| {
            Error::internal("re-encoding a prebuilt module", e)
        };
        let mut module = Module::new();
        let mut code: Option<CodeSection> = None;
        let mut wrote_data = false;
        let data_segment = |section: &mut DataSection| {
            if !data.is_empty() {
                section.active(
                    0,
                    &ConstExpr::i32_const(base.data_base() as i32),
                    data.iter().copied(),
                );
            }
        };

        for payload in Parser::new(0).parse_all(base.bytes) {
            let payload = payload.map_err(bad)?;
            if let Some(mut code) = flush_code(&payload, &mut code) {
                for (_, body) in &funcs {
                    code.function(body);
                }
                module.section(&code);
            }
            match payload {
                Payload::TypeSection(reader) => {
                    let mut section = TypeSection::new();
                    let count = reader.count();
                    RoundtripReencoder
                        .parse_type_section(&mut section, reader)
                        .map_err(reencode)?;
                    types.emit(count, &mut section);
                    module.section(&section);
                }
                Payload::ImportSection(reader) => {
                    let mut section = ImportSection::new();
                    for import in reader.into_imports() {
                        let import = import.map_err(bad)?;
                        let (m, n) = (names.import)(import.module, import.name);
                        let ty: EntityType = RoundtripReencoder
                            .entity_type(import.ty)
                            .map_err(reencode)?;
                        section.import(&m, &n, ty);
                    }
                    for ((module, name), ty) in &imports {
                        section.import(module, name, EntityType::Function(types.index(*ty)));
                    }
                    module.section(&section);
                }
                Payload::FunctionSection(reader) => {
                    let mut section = FunctionSection::new();
                    shift
                        .parse_function_section(&mut section, reader)
                        .map_err(reencode)?;
                    for (ty, _) in &funcs {
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
                        let pages = base.memory_pages + (data.len() as u64).div_ceil(PAGE);
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
                    for _ in 0..globals {
                        section.global(
                            GlobalType {
                                val_type: ValType::I32,
                                mutable: true,
                                shared: false,
                            },
                            &ConstExpr::i32_const(0),
                        );
                    }
                    module.section(&section);
                }
                Payload::ExportSection(reader) => {
                    let mut section = ExportSection::new();
                    for export in reader {
                        let export = export.map_err(bad)?;
                        let Some(name) = (names.export)(export.kind, export.name) else {
                            continue;
                        };
                        let (kind, index) = match export.kind {
                            ExternalKind::Func | ExternalKind::FuncExact => {
                                (ExportKind::Func, shift.func(export.index))
                            }
                            ExternalKind::Memory => (ExportKind::Memory, export.index),
                            ExternalKind::Global => (ExportKind::Global, export.index),
                            ExternalKind::Table => (ExportKind::Table, export.index),
                            ExternalKind::Tag => (ExportKind::Tag, export.index),
                        };
                        section.export(&name, kind, index);
                    }
                    for (name, index) in &exports {
                        section.export(name, ExportKind::Func, *index);
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
                    data_segment(&mut section);
                    module.section(&section);
                    wrote_data = true;
                }
                Payload::StartSection { .. } => {
                    return Err(Error::bug("prebuilt module has a start function"));
                }
                Payload::End(_) if !wrote_data && !data.is_empty() => {
                    let mut section = DataSection::new();
                    data_segment(&mut section);
                    module.section(&section);
                }
                // Names, producers and the prebuilt module's own
                // component-type section are not carried over: the output
                // gets its own metadata.
                _ => {}
            }
        }
        Ok(module.finish())
    }
}

fn bad(e: wasmparser::BinaryReaderError) -> Error {
    Error::internal("prebuilt module", e)
}

/// Where the prebuilt module's function indices land: its imports stay,
/// its code moves past the added imports.
#[derive(Debug, Clone, Copy)]
struct Shift {
    base_imports: u32,
    added_imports: u32,
}

impl Shift {
    fn func(&self, index: u32) -> u32 {
        if index < self.base_imports {
            index
        } else {
            index + self.added_imports
        }
    }
}

impl Reencode for Shift {
    type Error = std::convert::Infallible;

    fn function_index(
        &mut self,
        func: u32,
    ) -> Result<u32, wasm_encoder::reencode::Error<Self::Error>> {
        Ok(self.func(func))
    }
}

/// When `payload` follows the code section, hands back the finished section.
fn flush_code(payload: &Payload<'_>, code: &mut Option<CodeSection>) -> Option<CodeSection> {
    match payload {
        Payload::CodeSectionEntry(_) | Payload::CodeSectionStart { .. } => None,
        _ => code.take(),
    }
}

/// New function types appended after the prebuilt module's, deduplicated.
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
