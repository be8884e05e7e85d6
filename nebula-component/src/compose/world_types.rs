//! World-level types taken from an imported interface that hold a handle
//! to one of its resources (`use i.{holder};` in a world, where `holder` is
//! a record with an `own<r>` field), which `wac-graph` 0.12 cannot encode as
//! a top-level type import: it encodes the type as a local definition, and
//! the handle's resource is not in the composition's scope (its type
//! encoder panics).
//!
//! The way around, in two steps around [`wac_graph::CompositionGraph::encode`]:
//!
//! 1. [`aliasable`]: the type is not imported by the composition; whoever
//!    imports it gets the imported interface's export instead (`wac-graph`
//!    encodes an alias of that export);
//! 2. [`Aliased::restore`]: the type import goes back as the composition's
//!    last section, `(import "holder" (type (eq A)))` with `A` that alias,
//!    so the output's world keeps the item. Being last, it moves no index.
//!
//! Limits: only types some imported interface exports as they are; any
//! other top-level type import with such a handle is refused with an
//! `unsupported` error (before `wac-graph` could panic on it).

use std::borrow::Cow;
use std::collections::HashMap;

use wac_graph::types::{DefinedType, ItemKind, Type, Types, ValueType};

use crate::Error;

/// The type imports taken out of the composition, in import order: the
/// import's name, the import name of the interface that exports the type,
/// and the type's name there.
#[derive(Default)]
pub(super) struct Aliased(Vec<(String, String, String)>);

/// The export of an imported instance that the top-level type import
/// `name` of kind `kind` should be taken from, when `wac-graph` cannot
/// encode the import itself: the instance's import name and the export's
/// name, as the target (`sources`, from [`sources`]) takes it.
///
/// `resource_imports` are the names of the composition's top-level
/// resource imports. Returns an error for a type with a handle that the
/// target does not take from an instance and no top-level resource import
/// of the same name stands for.
pub(super) fn aliasable(
    types: &Types,
    name: &str,
    kind: ItemKind,
    sources: &HashMap<String, (String, String)>,
    resource_imports: &[String],
) -> Result<Option<(String, String)>, Error> {
    let ItemKind::Type(Type::Value(ty)) = kind else {
        return Ok(None);
    };
    let mut handles = Vec::new();
    resources_of(types, ty, &mut handles, &mut Vec::new());
    let Some(missing) = handles.iter().find(|r| !resource_imports.contains(r)) else {
        // None, or `wac-graph` finds them by name at the top level.
        return Ok(None);
    };
    match sources.get(name) {
        Some(source) => Ok(Some(source.clone())),
        None => Err(Error::Unsupported(format!(
            "the world-level type `{name}` holds a handle to resource `{missing}` but is \
             not taken from an imported interface, which Nebula cannot compose yet"
        ))),
    }
}

/// The top-level type imports of `target` (the input component) that are
/// an imported instance's export: import name to the instance's import
/// name and the export's name.
pub(super) fn sources(target: &[u8]) -> Result<HashMap<String, (String, String)>, Error> {
    let top = TopLevel::read(target)?;
    let mut out = HashMap::new();
    for (name, index) in &top.type_imports {
        if let Some((instance, export)) = top.aliases.get(index) {
            let instance = top.instance_imports.iter().find(|(_, i)| *i == instance);
            if let Some((instance, _)) = instance {
                out.insert(name.to_string(), (instance.to_string(), export.to_string()));
            }
        }
    }
    Ok(out)
}

/// The names of the resources whose handles `ty` holds.
fn resources_of(
    types: &Types,
    ty: ValueType,
    out: &mut Vec<String>,
    seen: &mut Vec<wac_graph::types::DefinedTypeId>,
) {
    let id = match ty {
        ValueType::Primitive(_) => return,
        ValueType::Own(r) | ValueType::Borrow(r) => {
            out.push(types[r].name.clone());
            return;
        }
        ValueType::Defined(id) => id,
    };
    if seen.contains(&id) {
        return;
    }
    seen.push(id);
    let inner: Vec<ValueType> = match &types[id] {
        DefinedType::Tuple(tys) => tys.clone(),
        DefinedType::List(t)
        | DefinedType::FixedSizeList(t, _)
        | DefinedType::Option(t)
        | DefinedType::Alias(t) => vec![*t],
        DefinedType::Map(k, v) => vec![*k, *v],
        DefinedType::Result { ok, err } => ok.iter().chain(err).copied().collect(),
        DefinedType::Variant(v) => v.cases.values().flatten().copied().collect(),
        DefinedType::Record(r) => r.fields.values().copied().collect(),
        DefinedType::Stream(t) | DefinedType::Future(t) => t.iter().copied().collect(),
        DefinedType::Flags(_) | DefinedType::Enum(_) => Vec::new(),
    };
    for t in inner {
        resources_of(types, t, out, seen);
    }
}

impl Aliased {
    /// Records that the type import `name` was replaced by the export
    /// `export` of the instance imported as `instance`.
    pub(super) fn push(&mut self, name: &str, instance: &str, export: &str) {
        self.0
            .push((name.to_string(), instance.to_string(), export.to_string()));
    }

    /// Appends the taken-out type imports to the encoded composition
    /// `bytes`, each equal to `wac-graph`'s alias of the interface's export.
    pub(super) fn restore(&self, bytes: Vec<u8>) -> Result<Vec<u8>, Error> {
        if self.0.is_empty() {
            return Ok(bytes);
        }
        let top = TopLevel::read(&bytes)?;
        let mut section = wasm_encoder::ComponentImportSection::new();
        for (name, instance, export) in &self.0 {
            let index = top
                .instance_imports
                .get(instance.as_str())
                .and_then(|i| {
                    let alias = top
                        .aliases
                        .iter()
                        .find(|(_, (inst, e))| inst == i && e == export);
                    alias.map(|(index, _)| index)
                })
                .ok_or_else(|| {
                    Error::Internal(format!(
                        "restoring the world-level type `{name}`: the composition does not \
                         alias `{export}` of `{instance}`"
                    ))
                })?;
            section.import(
                wasm_encoder::ComponentExternName {
                    name: Cow::Borrowed(name),
                    implements: None,
                    version_suffix: None,
                    external_id: None,
                },
                wasm_encoder::ComponentTypeRef::Type(wasm_encoder::TypeBounds::Eq(*index)),
            );
        }
        // A component's sections run to the end of its bytes.
        let mut bytes = bytes;
        bytes.push(wasm_encoder::ComponentSection::id(&section));
        wasm_encoder::Encode::encode(&section, &mut bytes);
        Ok(bytes)
    }
}

/// What the top level of an encoded component says about its type and
/// instance index spaces: enough to find an imported instance's aliased
/// type exports and the type imports equal to them.
struct TopLevel<'a> {
    /// Instance imports: import name to instance index.
    instance_imports: HashMap<&'a str, u32>,
    /// Aliases of instance exports that are types: type index to the
    /// instance index and the export's name.
    aliases: HashMap<u32, (u32, &'a str)>,
    /// Type imports `(eq i)`: import name to `i`.
    type_imports: Vec<(&'a str, u32)>,
}

impl<'a> TopLevel<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, Error> {
        let err = |e| Error::internal("reading a component's world-level types", e);
        let mut top = TopLevel {
            instance_imports: HashMap::new(),
            aliases: HashMap::new(),
            type_imports: Vec::new(),
        };
        let (mut types, mut instances) = (0u32, 0u32);
        let mut depth = 0usize;
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            match payload.map_err(err)? {
                wasmparser::Payload::Version { .. } => depth += 1,
                wasmparser::Payload::End(_) => depth -= 1,
                _ if depth != 1 => {}
                wasmparser::Payload::ComponentTypeSection(reader) => types += reader.count(),
                wasmparser::Payload::ComponentImportSection(reader) => {
                    for import in reader {
                        let import = import.map_err(err)?;
                        match import.ty {
                            wasmparser::ComponentTypeRef::Type(bounds) => {
                                if let wasmparser::TypeBounds::Eq(i) = bounds {
                                    top.type_imports.push((import.name.name, i));
                                }
                                types += 1;
                            }
                            wasmparser::ComponentTypeRef::Instance(_) => {
                                top.instance_imports.insert(import.name.name, instances);
                                instances += 1;
                            }
                            _ => {}
                        }
                    }
                }
                wasmparser::Payload::ComponentInstanceSection(reader) => {
                    instances += reader.count()
                }
                wasmparser::Payload::ComponentAliasSection(reader) => {
                    for alias in reader {
                        match alias.map_err(err)? {
                            wasmparser::ComponentAlias::InstanceExport {
                                kind: wasmparser::ComponentExternalKind::Type,
                                instance_index,
                                name,
                            } => {
                                top.aliases.insert(types, (instance_index, name));
                                types += 1;
                            }
                            wasmparser::ComponentAlias::InstanceExport {
                                kind: wasmparser::ComponentExternalKind::Instance,
                                ..
                            } => instances += 1,
                            wasmparser::ComponentAlias::Outer {
                                kind: wasmparser::ComponentOuterAliasKind::Type,
                                ..
                            } => types += 1,
                            _ => {}
                        }
                    }
                }
                wasmparser::Payload::ComponentExportSection(reader) => {
                    for export in reader {
                        match export.map_err(err)?.kind {
                            wasmparser::ComponentExternalKind::Type => types += 1,
                            wasmparser::ComponentExternalKind::Instance => instances += 1,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(top)
    }
}
