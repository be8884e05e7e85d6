//! The one reader of a component's top level: its own name, imports and
//! exports (with their `(implements "…")` labels), nested component
//! definitions and their instances, and the component-level index spaces
//! (instances, functions, types), read in one walk that never descends
//! into nested modules or components.
//!
//! Every stage that needs to know how a component is put together asks the
//! [`TopLevel`] of it: planning (the own name), the composer (export order,
//! labels, world-level types taken from imported instances), re-composition
//! (the composition's shape), and the steps that patch `wac-graph`'s output
//! (`compose::borrows`, `compose::world_types`), which read the encoded
//! output with the same reader.
//!
//! ```text
//! index spaces   instances: [Source]   funcs: [Source]   types: [TypeEntry]
//! Source         Import(name) | Instance(i) | Alias(Source, export) | Local
//! ```

use std::ops::Range;

use wasmparser::{
    BinaryReader, BinaryReaderError, CanonicalFunction, Chunk, ComponentAlias,
    ComponentDefinedType, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind,
    ComponentType, ComponentTypeRef, ComponentValType, Parser, Payload,
};

/// Where an entry of an index space comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The top-level import of this (full) name.
    Import(String),
    /// Instance `.0` of [`TopLevel::instantiations`].
    Instance(usize),
    /// Export `.1` of the item `.0`.
    Alias(Box<Source>, String),
    /// Defined at the top level some other way (`canon lift`, an instance
    /// made of exports, an alias of an outer item).
    Local,
}

impl Source {
    /// Whether this is (part of) one of the component's imports.
    pub(crate) fn is_import(&self) -> bool {
        match self {
            Source::Import(_) => true,
            Source::Instance(_) | Source::Local => false,
            Source::Alias(of, _) => of.is_import(),
        }
    }
}

/// One entry of the top level's type index space.
#[derive(Debug, Clone)]
pub(crate) enum TypeEntry<'a> {
    /// A defined type and the offset of its first byte in the component.
    Defined(usize, ComponentDefinedType<'a>),
    /// A function type's parameters.
    Func(Vec<(&'a str, ComponentValType)>),
    /// A type import `(eq i)`.
    Eq(u32),
    /// An alias of an instance's type export, or a type re-exported.
    Source(Source),
    /// Anything else (resources, instance and component types, `sub`
    /// imports, outer aliases).
    Other,
}

/// A top-level import.
#[derive(Debug, Clone)]
pub(crate) struct Import {
    /// The import's full name (`wasi:io/error@0.2.0`, `label`).
    pub name: String,
    /// What is imported.
    pub ty: ComponentTypeRef,
}

/// A top-level export.
#[derive(Debug, Clone)]
pub(crate) struct Export<'a> {
    /// The export's full name.
    pub name: String,
    /// The name without a version suffix, as `wac-graph` encodes it.
    pub plain_name: &'a str,
    /// The interface a labelled export implements.
    pub implements: Option<&'a str>,
    /// Where the exported item comes from.
    pub source: Source,
}

/// One `instantiate` of a nested component definition.
#[derive(Debug, Clone)]
pub(crate) struct Instantiation {
    /// The index of the component instantiated, in the component space.
    pub component: u32,
    /// The instantiation arguments, by name; `None` for one whose source
    /// the reader does not follow (a core or value item).
    pub args: Vec<(String, Option<Source>)>,
}

/// What a component's top level says, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopLevel<'a> {
    /// The component's own name, from its name section.
    pub name: Option<String>,
    /// Imports, in order.
    pub imports: Vec<Import>,
    /// Exports, in order.
    pub exports: Vec<Export<'a>>,
    /// Byte ranges of the nested component definitions, in order.
    pub components: Vec<Range<usize>>,
    /// How many core modules the top level defines.
    pub modules: usize,
    /// The `instantiate`s of nested components, in order.
    pub instantiations: Vec<Instantiation>,
    /// The instance index space.
    pub instances: Vec<Source>,
    /// The component function index space.
    pub funcs: Vec<Source>,
    /// The type index space.
    pub types: Vec<TypeEntry<'a>>,
    /// Whether the top level holds only what a plain composition does:
    /// instance imports, component definitions, their instances, aliases
    /// of instance exports (instances, functions, types), type
    /// definitions, exports of those, and no `(implements "…")` label.
    /// Not one core item (module, core instance, core type, `canon`), no
    /// `start`, no import of another kind, nothing imported re-exported.
    pub plain: bool,
}

impl<'a> TopLevel<'a> {
    /// Reads the top level of the component `bytes` (the whole of it, or a
    /// nested definition's bytes).
    pub(crate) fn read(bytes: &'a [u8]) -> Result<Self, BinaryReaderError> {
        let mut top = TopLevel {
            plain: true,
            ..TopLevel::default()
        };
        let mut parser = Parser::new(0);
        let mut offset = 0;
        loop {
            let Chunk::Parsed { consumed, payload } = parser.parse(&bytes[offset..], true)? else {
                unreachable!("the whole input is given at once");
            };
            offset += consumed;
            match payload {
                Payload::ComponentSection {
                    unchecked_range, ..
                } => {
                    // The parser has moved past the nested component; the
                    // input slice has to follow.
                    let range = usize_range(&unchecked_range);
                    offset += range.len();
                    top.components.push(range);
                }
                Payload::ModuleSection {
                    unchecked_range, ..
                } => {
                    offset += usize_range(&unchecked_range).len();
                    top.modules += 1;
                    top.plain = false;
                }
                Payload::ComponentTypeSection(reader) => {
                    for entry in reader.into_iter_with_offsets() {
                        let (at, ty) = entry?;
                        top.types.push(match ty {
                            ComponentType::Defined(def) => TypeEntry::Defined(at as usize, def),
                            ComponentType::Func(f) => TypeEntry::Func(f.params.into_vec()),
                            _ => TypeEntry::Other,
                        });
                    }
                }
                Payload::ComponentImportSection(reader) => {
                    for import in reader {
                        top.import(import?);
                    }
                }
                Payload::ComponentInstanceSection(reader) => {
                    for instance in reader {
                        top.instance(instance?);
                    }
                }
                Payload::ComponentAliasSection(reader) => {
                    for alias in reader {
                        top.alias(alias?);
                    }
                }
                Payload::ComponentCanonicalSection(reader) => {
                    top.plain = false;
                    for func in reader {
                        if let CanonicalFunction::Lift { .. } = func? {
                            top.funcs.push(Source::Local);
                        }
                    }
                }
                Payload::ComponentExportSection(reader) => {
                    for export in reader {
                        top.export(export?);
                    }
                }
                Payload::CustomSection(section) => {
                    if top.name.is_none() {
                        top.name = own_name(&section);
                    }
                }
                Payload::Version { .. } => {}
                Payload::End(_) => return Ok(top),
                _ => top.plain = false,
            }
        }
    }

    fn import(&mut self, import: wasmparser::ComponentImport<'a>) {
        let name = import.name.full_name().into_owned();
        let source = Source::Import(name.clone());
        // Labels are not carried through `wac-graph` 0.12; top-level
        // function imports may take `borrow` handles and type imports may
        // hold handles of an imported interface's resources, which it
        // cannot import again (see `compose::borrows`,
        // `compose::world_types`).
        self.plain &=
            import.name.implements.is_none() && matches!(import.ty, ComponentTypeRef::Instance(_));
        match import.ty {
            ComponentTypeRef::Instance(_) => self.instances.push(source),
            ComponentTypeRef::Func(_) => self.funcs.push(source),
            ComponentTypeRef::Type(wasmparser::TypeBounds::Eq(i)) => {
                self.types.push(TypeEntry::Eq(i))
            }
            ComponentTypeRef::Type(_) => self.types.push(TypeEntry::Other),
            ComponentTypeRef::Component(_)
            | ComponentTypeRef::Module(_)
            | ComponentTypeRef::Value(_) => {}
        }
        self.imports.push(Import {
            name,
            ty: import.ty,
        });
    }

    fn instance(&mut self, instance: ComponentInstance<'a>) {
        match instance {
            ComponentInstance::Instantiate {
                component_index,
                args,
            } => {
                let args = args
                    .iter()
                    .map(|arg| (arg.name.to_string(), self.get(arg.kind, arg.index)))
                    .collect();
                self.instances
                    .push(Source::Instance(self.instantiations.len()));
                self.instantiations.push(Instantiation {
                    component: component_index,
                    args,
                });
            }
            ComponentInstance::FromExports(_) => {
                self.plain = false;
                self.instances.push(Source::Local);
            }
        }
    }

    fn alias(&mut self, alias: ComponentAlias<'a>) {
        match alias {
            ComponentAlias::InstanceExport {
                kind,
                instance_index,
                name,
            } => {
                let of = self.instances.get(instance_index as usize).cloned();
                self.plain &= of.is_some() && wired(kind);
                let of = of.unwrap_or(Source::Local);
                self.push(kind, Source::Alias(Box::new(of), name.to_string()));
            }
            ComponentAlias::CoreInstanceExport { .. } => self.plain = false,
            ComponentAlias::Outer { kind, .. } => {
                self.plain = false;
                if kind == ComponentOuterAliasKind::Type {
                    self.types.push(TypeEntry::Other);
                }
            }
        }
    }

    fn export(&mut self, export: wasmparser::ComponentExport<'a>) {
        let source = self.get(export.kind, export.index);
        // Labels, and imports passed straight through: not plain.
        self.plain &= export.name.implements.is_none()
            && wired(export.kind)
            && source.as_ref().is_some_and(|s| !s.is_import());
        let source = source.unwrap_or(Source::Local);
        // An export is also a new index for what it exports.
        self.push(export.kind, source.clone());
        self.exports.push(Export {
            name: export.name.full_name().into_owned(),
            plain_name: export.name.name,
            implements: export.name.implements,
            source,
        });
    }

    /// Appends `source` to the index space of `kind`.
    fn push(&mut self, kind: ComponentExternalKind, source: Source) {
        match kind {
            ComponentExternalKind::Instance => self.instances.push(source),
            ComponentExternalKind::Func => self.funcs.push(source),
            ComponentExternalKind::Type => self.types.push(TypeEntry::Source(source)),
            ComponentExternalKind::Component
            | ComponentExternalKind::Module
            | ComponentExternalKind::Value => {}
        }
    }

    /// Where item `index` of the index space of `kind` comes from, when it
    /// is an instance, a function, or a type taken from an instance.
    pub(crate) fn get(&self, kind: ComponentExternalKind, index: u32) -> Option<Source> {
        let index = index as usize;
        match kind {
            ComponentExternalKind::Instance => self.instances.get(index).cloned(),
            ComponentExternalKind::Func => self.funcs.get(index).cloned(),
            ComponentExternalKind::Type => match self.types.get(index)? {
                TypeEntry::Source(source) => Some(source.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    /// The top-level export names, in order.
    pub(crate) fn export_names(&self) -> impl Iterator<Item = &str> {
        self.exports.iter().map(|e| e.name.as_str())
    }

    /// The index of the type that aliases export `export` of the instance
    /// imported as `instance`.
    pub(crate) fn aliased_type(&self, instance: &str, export: &str) -> Option<u32> {
        self.types
            .iter()
            .position(|entry| {
                matches!(entry, TypeEntry::Source(Source::Alias(of, name))
                if name == export && **of == Source::Import(instance.to_string()))
            })
            .map(|i| i as u32)
    }

    /// The defined type at `index`, through type imports `(eq i)`, with the
    /// offset of its first byte.
    pub(crate) fn defined(&self, mut index: u32) -> Option<(usize, &ComponentDefinedType<'a>)> {
        loop {
            match self.types.get(index as usize)? {
                TypeEntry::Defined(offset, def) => return Some((*offset, def)),
                TypeEntry::Eq(i) => index = *i,
                _ => return None,
            }
        }
    }

    /// Whether the top level instantiates nested components with code of
    /// their own (`bytes`: the component this was read from).
    /// `wit-component` itself nests small components without code (they
    /// only give exports their types); those do not count.
    pub(crate) fn has_inner_components(&self, bytes: &[u8]) -> bool {
        !self.instantiations.is_empty()
            && self
                .components
                .iter()
                .any(|range| has_code(&bytes[range.clone()]))
    }
}

/// Whether the component `bytes` defines core modules or components.
fn has_code(bytes: &[u8]) -> bool {
    TopLevel::read(bytes).is_ok_and(|top| top.modules > 0 || !top.components.is_empty())
}

/// The kinds of items a plain composition wires: instances, functions and
/// types.
fn wired(kind: ComponentExternalKind) -> bool {
    matches!(
        kind,
        ComponentExternalKind::Instance | ComponentExternalKind::Func | ComponentExternalKind::Type
    )
}

/// The component's own name, if `section` is its name section.
fn own_name(section: &wasmparser::CustomSectionReader<'_>) -> Option<String> {
    let wasmparser::KnownCustom::ComponentName(names) = section.as_known() else {
        return None;
    };
    names.into_iter().flatten().find_map(|entry| match entry {
        wasmparser::ComponentName::Component { name, .. } => Some(name.to_string()),
        _ => None,
    })
}

/// Calls `each` with every section of the top level of `bytes` (a module
/// or a component) and its byte range, header included, without
/// descending into nested modules, components or function bodies.
pub(crate) fn each_section<'a>(
    bytes: &'a [u8],
    mut each: impl FnMut(&Payload<'a>, std::ops::Range<usize>) -> Result<(), BinaryReaderError>,
) -> Result<(), BinaryReaderError> {
    let mut parser = Parser::new(0);
    let mut offset = 0;
    loop {
        let Chunk::Parsed { consumed, payload } = parser.parse(&bytes[offset..], true)? else {
            unreachable!("the whole input is given at once");
        };
        let start = offset;
        offset += consumed;
        match &payload {
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => offset += usize_range(unchecked_range).len(),
            Payload::CodeSectionStart { size, .. } => {
                // Skip the bodies: the parser would hand them out one by one.
                offset += *size as usize;
                parser.skip_section();
            }
            Payload::End(_) => return Ok(()),
            _ => {}
        }
        if offset > bytes.len() {
            // A section longer than the bytes (unvalidated input): the
            // parser's own end-of-input error, at the section.
            return Err(BinaryReader::new(&[], start as u64)
                .read_u8()
                .expect_err("nothing to read"));
        }
        each(&payload, start..offset)?;
    }
}

/// A byte range of the parser's as indices into the bytes it was given.
pub(crate) fn usize_range(range: &Range<u64>) -> Range<usize> {
    range.start as usize..range.end as usize
}
