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

use crate::error::{Error, Unsupported};
use crate::toplevel::{Source, TopLevel, TypeEntry};

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
        None => Err(Unsupported::WorldTypeHandle {
            name: name.to_string(),
            resource: missing.to_string(),
        }
        .into()),
    }
}

/// The top-level type imports of `target` (the input component) that are
/// an imported instance's export: import name to the instance's import
/// name and the export's name.
pub(super) fn sources(target: &TopLevel<'_>) -> HashMap<String, (String, String)> {
    let mut out = HashMap::new();
    for import in &target.imports {
        let wasmparser::ComponentTypeRef::Type(wasmparser::TypeBounds::Eq(index)) = import.ty
        else {
            continue;
        };
        if let Some(TypeEntry::Source(Source::Alias(of, export))) = target.types.get(index as usize)
            && let Source::Import(instance) = &**of
        {
            out.insert(import.name.clone(), (instance.clone(), export.clone()));
        }
    }
    out
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
        let top = TopLevel::read(&bytes)
            .map_err(|e| Error::internal("reading a component's world-level types", e))?;
        let mut section = wasm_encoder::ComponentImportSection::new();
        for (name, instance, export) in &self.0 {
            let index = top.aliased_type(instance, export).ok_or_else(|| {
                Error::bug(format!(
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
                wasm_encoder::ComponentTypeRef::Type(wasm_encoder::TypeBounds::Eq(index)),
            );
        }
        // A component's sections run to the end of its bytes.
        let mut bytes = bytes;
        bytes.push(wasm_encoder::ComponentSection::id(&section));
        wasm_encoder::Encode::encode(&section, &mut bytes);
        Ok(bytes)
    }
}
