//! Proxy synthesis: one export proxy per instrumented component, generated
//! as wasm (no compiler at instrument time).
//!
//! - [`world`]: the proxy's WIT world;
//! - [`descriptor`]: the per-function data the span runtime reads;
//! - [`abi`]: where a call's `result` status sits (the only canonical-ABI
//!   layout knowledge);
//! - [`module`]: the core module (span runtime + forwarders);
//!
//! `wit-component` turns the core module into the proxy component.

mod abi;
mod borrows;
mod descriptor;
mod module;
mod world;

use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::abi::AbiVariant;
use wit_parser::{
    LiftLowerAbi, ManglingAndAbi, Resolve, ResourceIntrinsic, SizeAlign, TypeId, TypeOwner,
    WasmExport, WasmExportKind, WasmImport, WorldId, WorldItem, WorldKey,
};

use crate::analyze::Plan;
use crate::{Direction, Error, Options, OtelFlavor};
use abi::{StatusProbe, core_type, return_area};
use borrows::BorrowWalker;
use descriptor::DescriptorData;
use module::{Forwarder, SpanRuntime};

/// The span runtime, a core module built from `runtime/` by `build.rs`.
static SPAN_RUNTIME: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nebula_span_runtime.wasm"));

/// A generated proxy of one component: the export proxy (instantiated
/// after the target, wrapping its exports) or the import proxy
/// (instantiated before it, wrapping its imports).
pub struct Proxy {
    /// The proxy component's bytes.
    pub component: Vec<u8>,
    /// The proxy world as WIT text.
    pub wit: String,
}

impl Proxy {
    /// Generates the proxy for everything `plan` wraps on `side`.
    pub fn build(plan: &Plan, options: &Options, side: Direction) -> Result<Self, Error> {
        let (resolve, world) = world::proxy_world(plan, side)?;
        let mut sizes = SizeAlign::default();
        sizes
            .fill(&resolve)
            .map_err(|e| Error::internal("computing type layouts", e))?;
        let runtime = SpanRuntime::parse(SPAN_RUNTIME)?;
        let mut data = DescriptorData::new(runtime.descriptor_base());
        let mangling = ManglingAndAbi::Legacy(LiftLowerAbi::Sync);

        // `[resource-drop]` imports come right after the forwarders' imports.
        let forwarded: usize = plan.wrapped(side).map(|(_, funcs)| funcs.len()).sum();
        let first_drop = runtime.imported_funcs() + forwarded as u32;
        let mut drops: Vec<(TypeId, (String, String))> = Vec::new();
        let mut drop_of = |resource: TypeId| -> u32 {
            let index = drops
                .iter()
                .position(|(r, _)| *r == resource)
                .unwrap_or_else(|| {
                    drops.push((resource, drop_import(&resolve, world, resource)));
                    drops.len() - 1
                });
            first_drop + index as u32
        };

        let mut forwarders = Vec::new();
        for (item, funcs) in plan.wrapped(side) {
            let target = &resolve.worlds[plan.world];
            let items = match side {
                Direction::Export => &target.exports,
                Direction::Import => &target.imports,
            };
            let interface = match &items[&item.key] {
                WorldItem::Function(_) => None,
                _ => Some(&item.key),
            };
            for planned in funcs {
                let func = &planned.func;
                let import = resolve.wasm_signature(AbiVariant::GuestImport, func);
                let export = resolve.wasm_signature(AbiVariant::GuestExport, func);
                let export_name = |kind| {
                    resolve.wasm_export_name(
                        mangling,
                        WasmExport::Func {
                            interface,
                            func,
                            kind,
                        },
                    )
                };
                let status = StatusProbe::new(&resolve, &sizes, func, import.retptr);
                let descriptor = planned
                    .span
                    .as_ref()
                    .map(|span| data.add(&plan.component_name, span, status.case_names()));
                forwarders.push(Forwarder {
                    import: resolve
                        .wasm_import_name(mangling, WasmImport::Func { interface, func }),
                    export: export_name(WasmExportKind::Normal),
                    post_return: export_name(WasmExportKind::PostReturn),
                    import_params: import.params.iter().map(|t| core_type(*t)).collect(),
                    import_results: import.results.iter().map(|t| core_type(*t)).collect(),
                    export_params: export.params.iter().map(|t| core_type(*t)).collect(),
                    export_results: export.results.iter().map(|t| core_type(*t)).collect(),
                    retptr: import.retptr,
                    return_area: return_area(&sizes, func),
                    descriptor,
                    status,
                    cleanup: BorrowWalker::cleanup(
                        &resolve,
                        &sizes,
                        func,
                        export.indirect_params,
                        export.params.len() as u32 + 3,
                        &mut drop_of,
                    ),
                });
            }
        }

        let drops: Vec<(String, String)> = drops.into_iter().map(|(_, name)| name).collect();
        let rename =
            |module: &str, name: &str| rename_runtime_import(module, name, &options.flavor);
        let mut module = module::link(&runtime, &forwarders, &drops, data.bytes(), &rename)?;
        wit_component::embed_component_metadata(
            &mut module,
            &resolve,
            world,
            StringEncoding::UTF8,
            false,
        )
        .map_err(|e| Error::internal("embedding the proxy world", e))?;
        let component = ComponentEncoder::default()
            .module(&module)
            .and_then(|encoder| encoder.validate(true).encode())
            .map_err(|e| Error::internal("encoding the proxy component", e))?;
        Ok(Proxy {
            component,
            wit: world::print(&resolve, world),
        })
    }
}

/// The core import (module, field) of `[resource-drop]` for `resource`,
/// imported through the proxy world's import of its interface.
fn drop_import(resolve: &Resolve, world: WorldId, resource: TypeId) -> (String, String) {
    let key = match resolve.types[resource].owner {
        TypeOwner::Interface(owner) => resolve.worlds[world]
            .imports
            .iter()
            .find(|(_, item)| matches!(item, WorldItem::Interface { id, .. } if *id == owner))
            .map(|(key, _)| key.clone())
            .or(Some(WorldKey::Interface(owner))),
        _ => None,
    };
    resolve.wasm_import_name(
        ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
        WasmImport::ResourceIntrinsic {
            interface: key.as_ref(),
            resource,
            intrinsic: ResourceIntrinsic::ImportedDrop,
        },
    )
}

/// The runtime is built against the `inner` flavor; the `current` flavor
/// renames its `wasi:otel` imports.
fn rename_runtime_import(module: &str, name: &str, flavor: &OtelFlavor) -> (String, String) {
    match flavor {
        OtelFlavor::Current(version) if module.starts_with("wasi:otel/") => {
            let interface = module.split('@').next().unwrap_or(module);
            let name = match name {
                "inner-span-context" => "current-span-context",
                other => other,
            };
            (format!("{interface}@{version}"), name.to_string())
        }
        _ => (module.to_string(), name.to_string()),
    }
}
