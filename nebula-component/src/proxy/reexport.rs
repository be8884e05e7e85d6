//! The import proxy's own `wasi:http/types` instance: every item of the
//! host's (its resource types, its functions), re-exported as they are,
//! except `[constructor]outgoing-request`, which is the proxy's hook (see
//! [`super::trace_context::ConstructorHook`]). The target imports this
//! instance in place of the host's, so the requests it constructs carry
//! the trace context headers, while every handle it holds is still of the
//! host's resource types: nothing else about them changes.
//!
//! `wit-component` cannot express an exported instance whose resources are
//! imported ones, and a bag of exports cannot hold `[method]…` names, so
//! the instance comes from a small nested component appended to the
//! encoded proxy:
//!
//! ```text
//! (component $shim
//!   <the proxy's leading type and import sections, verbatim>
//!   (import "hook" (func (param "headers" (own $fields)) (result (own $outgoing-request))))
//!   (export "<each type and function of the host instance>" …)  ; aliased
//!   (export "[constructor]outgoing-request" (func $hook)))
//! (instance (instantiate $shim (with <each import> …) (with "hook" …)))
//! (export "wasi:http/types@…" (instance …))
//! ```

use std::borrow::Cow;
use std::collections::HashMap;

use wasm_encoder::{
    Alias, Component, ComponentAliasSection, ComponentExportKind, ComponentExportSection,
    ComponentImportSection, ComponentInstanceSection, ComponentSection, ComponentTypeRef,
    ComponentTypeSection, ComponentValType, NestedComponentSection, RawSection,
};
use wasmparser::component_types::{
    AliasableResourceId, ComponentAnyTypeId, ComponentDefinedType, ComponentDefinedTypeId,
    ComponentEntityType, ComponentFuncTypeId, ComponentValType as ValType, ResourceId,
};
use wasmparser::types::TypesRef;
use wasmparser::{ComponentExternalKind, Payload, Validator, WasmFeatures};

use super::trace_context::{CONSTRUCTOR, ConstructorHook, HOOK_FUNC};
use crate::Error;

/// The nested component's import of the hook function.
const HOOK_IMPORT: &str = "hook";

/// `component` (the encoded import proxy) with the instance appended and
/// exported as `hook.types_name`; `None` when the proxy's view of the host
/// instance lacks a type the target's declares (an encoder keeps only the
/// types the proxy's functions use), so the target keeps the host's.
pub(crate) fn append(component: &[u8], hook: &ConstructorHook) -> Result<Option<Vec<u8>>, Error> {
    let outer = Validator::new_with_features(WasmFeatures::all())
        .validate_all(component)
        .map_err(|e| Error::internal("validating the import proxy", e))?;
    let outer = outer.as_ref();
    let layout = Layout::read(component, &hook.types_name, &hook.hook_name)?;
    let host_type = &outer[outer.component_instance_at(layout.host_instance)];
    if hook
        .required_types
        .iter()
        .any(|name| !host_type.exports.contains_key(name.as_str()))
    {
        return Ok(None);
    }

    let shim = shim_component(&layout, &hook.types_name)?;

    // The outer component: the shim, the hook function aliased from the
    // proxy's exported hook instance, the instantiation and the export.
    let mut out = component.to_vec();
    let mut alias = ComponentAliasSection::new();
    alias.alias(Alias::InstanceExport {
        instance: layout.hook_instance,
        kind: ComponentExportKind::Func,
        name: HOOK_FUNC,
    });
    let hook_func = outer.component_function_count();
    let mut args: Vec<(Cow<'_, str>, ComponentExportKind, u32)> = layout
        .imports
        .iter()
        .map(|(name, kind, index)| (Cow::Borrowed(name.as_str()), *kind, *index))
        .collect();
    args.push((
        Cow::Borrowed(HOOK_IMPORT),
        ComponentExportKind::Func,
        hook_func,
    ));
    let mut instance = ComponentInstanceSection::new();
    instance.instantiate(outer.component_count(), args);
    let mut export = ComponentExportSection::new();
    export.export(
        &hook.types_name,
        ComponentExportKind::Instance,
        outer.component_instance_count(),
        None,
    );
    for section in [
        &NestedComponentSection(&shim) as &dyn ComponentSection,
        &alias,
        &instance,
        &export,
    ] {
        out.push(section.id());
        section.encode(&mut out);
    }
    crate::compose::validate(&out)?;
    Ok(Some(out))
}

/// The shim component: the proxy's imports (its leading sections), the
/// hook, and the host instance's items exported at its top level (where
/// `[method]…` names are checked against the exported resources).
fn shim_component(layout: &Layout<'_>, types_name: &str) -> Result<Component, Error> {
    let mut shim = Component::new();
    for (id, data) in &layout.prefix {
        shim.section(&RawSection { id: *id, data });
    }
    let prefix = Validator::new_with_features(WasmFeatures::all())
        .validate_all(&shim.clone().finish())
        .map_err(|e| Error::internal("validating the proxy's imports", e))?;
    let prefix = prefix.as_ref();
    let host_type = &prefix[prefix.component_instance_at(layout.host_instance)];
    let mut next_type = prefix.component_type_count();
    let mut next_func = prefix.component_function_count();

    // The hook's type: `func(headers: own<fields>) -> own<outgoing-request>`
    // over the host's resources.
    let mut aliases = ComponentAliasSection::new();
    for resource in ["fields", "outgoing-request"] {
        aliases.alias(Alias::InstanceExport {
            instance: layout.host_instance,
            kind: ComponentExportKind::Type,
            name: resource,
        });
    }
    let (fields, request) = (next_type, next_type + 1);
    let mut types = ComponentTypeSection::new();
    types.defined_type().own(fields);
    types.defined_type().own(request);
    types
        .function()
        .params([("headers", ComponentValType::Type(next_type + 2))])
        .result(Some(ComponentValType::Type(next_type + 3)));
    let func_type = next_type + 4;
    next_type += 5;
    let mut import = ComponentImportSection::new();
    import.import(HOOK_IMPORT, ComponentTypeRef::Func(func_type));
    let hook_func = next_func;
    next_func += 1;
    shim.section(&aliases);
    shim.section(&types);
    shim.section(&import);

    // The host instance's types, aliased and exported (an export makes an
    // index of its own), in the instance's order; then its functions,
    // aliased and exported with their types spelled over the exported
    // types (a function's `[method]R.…` name is checked against the
    // resource exported as `R`).
    let mut type_aliases = ComponentAliasSection::new();
    let mut type_exports = ComponentExportSection::new();
    let mut func_aliases = ComponentAliasSection::new();
    let mut named = Named::default();
    let type_items: Vec<_> = host_type
        .exports
        .iter()
        .filter_map(|(name, item)| match item.ty {
            ComponentEntityType::Type {
                referenced,
                created,
            } => Some((name.as_str(), referenced, created)),
            _ => None,
        })
        .collect();
    let aliased_from = next_type;
    next_type += type_items.len() as u32;
    for (i, (name, referenced, created)) in type_items.iter().enumerate() {
        type_aliases.alias(Alias::InstanceExport {
            instance: layout.host_instance,
            kind: ComponentExportKind::Type,
            name,
        });
        type_exports.export(
            *name,
            ComponentExportKind::Type,
            aliased_from + i as u32,
            None,
        );
        named.insert(*referenced, next_type);
        named.insert(*created, next_type);
        next_type += 1;
    }
    let mut func_types = TypeWriter {
        types: prefix,
        named,
        section: ComponentTypeSection::new(),
        next: next_type,
    };
    let mut func_exports = ComponentExportSection::new();
    for (name, item) in &host_type.exports {
        let ComponentEntityType::Func(id) = item.ty else {
            if !matches!(item.ty, ComponentEntityType::Type { .. }) {
                return Err(Error::bug(format!(
                    "`{types_name}` exports `{name}`, neither a type nor a function"
                )));
            }
            continue;
        };
        let ty = func_types.func(id)?;
        let index = if name.as_str() == CONSTRUCTOR {
            hook_func
        } else {
            func_aliases.alias(Alias::InstanceExport {
                instance: layout.host_instance,
                kind: ComponentExportKind::Func,
                name,
            });
            next_func += 1;
            next_func - 1
        };
        func_exports.export(
            name,
            ComponentExportKind::Func,
            index,
            Some(ComponentTypeRef::Func(ty)),
        );
    }
    shim.section(&type_aliases);
    shim.section(&type_exports);
    shim.section(&func_types.section);
    shim.section(&func_aliases);
    shim.section(&func_exports);
    Ok(shim)
}

/// The shim's exported type indices of the host instance's types.
#[derive(Default)]
struct Named {
    defined: HashMap<ComponentDefinedTypeId, u32>,
    resources: HashMap<ResourceId, u32>,
}

impl Named {
    fn insert(&mut self, id: ComponentAnyTypeId, index: u32) {
        match id {
            ComponentAnyTypeId::Defined(id) => {
                self.defined.insert(id, index);
            }
            // The resource itself comes before its aliases (`headers`,
            // `trailers` for `fields`): a method's `[method]R.…` name needs R.
            ComponentAnyTypeId::Resource(id) => {
                self.resources.entry(id.resource()).or_insert(index);
            }
            _ => {}
        }
    }
}

/// Writes function types (and the anonymous types they use) over the
/// shim's exported types.
struct TypeWriter<'t> {
    types: TypesRef<'t>,
    named: Named,
    section: ComponentTypeSection,
    next: u32,
}

impl TypeWriter<'_> {
    /// The index of a new function type equal to `id`.
    fn func(&mut self, id: ComponentFuncTypeId) -> Result<u32, Error> {
        let types = self.types;
        let func = &types[id];
        let params = func
            .params
            .iter()
            .map(|(name, ty)| Ok((name.as_str(), self.val(ty)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let result = func.result.as_ref().map(|ty| self.val(ty)).transpose()?;
        self.section.function().params(params).result(result);
        self.next += 1;
        Ok(self.next - 1)
    }

    fn val(&mut self, ty: &ValType) -> Result<ComponentValType, Error> {
        Ok(match ty {
            ValType::Primitive(p) => ComponentValType::Primitive((*p).into()),
            ValType::Type(id) => ComponentValType::Type(self.defined(*id)?),
        })
    }

    fn resource(&self, id: AliasableResourceId) -> Result<u32, Error> {
        self.named
            .resources
            .get(&id.resource())
            .copied()
            .ok_or_else(|| Error::bug("a resource of `wasi:http/types` the instance does not name"))
    }

    /// The index of defined type `id`: its exported name, or a new
    /// anonymous type.
    fn defined(&mut self, id: ComponentDefinedTypeId) -> Result<u32, Error> {
        if let Some(index) = self.named.defined.get(&id) {
            return Ok(*index);
        }
        let unnamed = || Error::bug("a named type of `wasi:http/types` the instance does not name");
        let types = self.types;
        match &types[id] {
            ComponentDefinedType::Primitive(p) => {
                self.section.defined_type().primitive((*p).into())
            }
            ComponentDefinedType::List { element, .. } => {
                let element = self.val(element)?;
                self.section.defined_type().list(element)
            }
            ComponentDefinedType::Tuple(tuple) => {
                let elements = tuple
                    .types
                    .iter()
                    .map(|ty| self.val(ty))
                    .collect::<Result<Vec<_>, Error>>()?;
                self.section.defined_type().tuple(elements)
            }
            ComponentDefinedType::Option { ty, .. } => {
                let ty = self.val(ty)?;
                self.section.defined_type().option(ty)
            }
            ComponentDefinedType::Result { ok, err, .. } => {
                let ok = ok.as_ref().map(|ty| self.val(ty)).transpose()?;
                let err = err.as_ref().map(|ty| self.val(ty)).transpose()?;
                self.section.defined_type().result(ok, err)
            }
            ComponentDefinedType::Own(resource) => {
                let resource = self.resource(*resource)?;
                self.section.defined_type().own(resource)
            }
            ComponentDefinedType::Borrow(resource) => {
                let resource = self.resource(*resource)?;
                self.section.defined_type().borrow(resource)
            }
            // Records, variants, enums and flags are named in WIT: the
            // instance exports them.
            _ => return Err(unnamed()),
        }
        self.next += 1;
        Ok(self.next - 1)
    }
}

/// Where the pieces are in the encoded proxy.
struct Layout<'a> {
    /// The leading type, import and alias sections: (id, contents).
    prefix: Vec<(u8, &'a [u8])>,
    /// The imports among them: (name, kind, index).
    imports: Vec<(String, ComponentExportKind, u32)>,
    /// The instance index of the host's `wasi:http/types` import.
    host_instance: u32,
    /// The instance index of the proxy's exported hook interface.
    hook_instance: u32,
}

impl<'a> Layout<'a> {
    fn read(component: &'a [u8], import: &str, export: &str) -> Result<Self, Error> {
        let mut layout = Layout {
            prefix: Vec::new(),
            imports: Vec::new(),
            host_instance: u32::MAX,
            hook_instance: u32::MAX,
        };
        let (mut instances, mut funcs, mut leading) = (0u32, 0u32, true);
        crate::toplevel::each_section(component, |payload, range| {
            let is_prefix = matches!(
                payload,
                Payload::ComponentTypeSection(_)
                    | Payload::ComponentImportSection(_)
                    | Payload::ComponentAliasSection(_)
            );
            leading &= is_prefix || matches!(payload, Payload::Version { .. });
            if leading
                && is_prefix
                && let Some((id, data)) = section_contents(&component[range])
            {
                layout.prefix.push((id, data));
            }
            match payload {
                Payload::ComponentImportSection(reader) => {
                    for item in reader.clone() {
                        let item = item?;
                        let name = item.name.full_name().into_owned();
                        let (kind, index) = match item.ty {
                            wasmparser::ComponentTypeRef::Instance(_) => {
                                if name == import {
                                    layout.host_instance = instances;
                                }
                                instances += 1;
                                (ComponentExportKind::Instance, instances - 1)
                            }
                            wasmparser::ComponentTypeRef::Func(_) => {
                                funcs += 1;
                                (ComponentExportKind::Func, funcs - 1)
                            }
                            // Types, modules, components, values: a proxy
                            // imports none.
                            _ => continue,
                        };
                        layout.imports.push((name, kind, index));
                    }
                }
                Payload::ComponentInstanceSection(reader) => instances += reader.count(),
                Payload::ComponentAliasSection(reader) => {
                    for alias in reader.clone() {
                        if let wasmparser::ComponentAlias::InstanceExport { kind, .. } = alias? {
                            match kind {
                                ComponentExternalKind::Instance => instances += 1,
                                ComponentExternalKind::Func => funcs += 1,
                                _ => {}
                            }
                        }
                    }
                }
                Payload::ComponentExportSection(reader) => {
                    for item in reader.clone() {
                        let item = item?;
                        match item.kind {
                            ComponentExternalKind::Instance => {
                                if item.name.full_name() == export {
                                    layout.hook_instance = instances;
                                }
                                instances += 1;
                            }
                            ComponentExternalKind::Func => funcs += 1,
                            _ => {}
                        }
                    }
                }
                Payload::ComponentCanonicalSection(reader) => {
                    for canon in reader.clone() {
                        if let wasmparser::CanonicalFunction::Lift { .. } = canon? {
                            funcs += 1;
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        })
        .map_err(|e| Error::internal("reading the import proxy", e))?;
        if layout.host_instance == u32::MAX || layout.hook_instance == u32::MAX {
            return Err(Error::bug(format!(
                "the import proxy lacks the `{import}` import or the `{export}` export"
            )));
        }
        Ok(layout)
    }
}

/// A section's id and contents (without its size), from its bytes.
fn section_contents(section: &[u8]) -> Option<(u8, &[u8])> {
    let (&id, rest) = section.split_first()?;
    let mut reader = wasmparser::BinaryReader::new(rest, 0);
    let size = reader.read_var_u32().ok()? as usize;
    let start = reader.original_position() as usize;
    rest.get(start..start + size).map(|data| (id, data))
}
