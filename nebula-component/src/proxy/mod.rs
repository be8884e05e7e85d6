//! Proxy synthesis: an export proxy and an import proxy per instrumented
//! component, and one span runtime per output they all share, generated as
//! wasm (no compiler at instrument time).
//!
//! - [`world`]: the proxy's WIT world;
//! - [`descriptor`]: the per-function data the span runtime reads;
//! - [`abi`]: where a call's `result` status sits;
//! - [`resources`], [`handles`]: wrapper resources, and the walk over a
//!   call's values that unwraps, wraps and drops their handles;
//! - [`module`]: the core modules (proxy base + forwarders; span runtime +
//!   descriptors);
//! - [`runtime`]: the output's span runtime component.
//!
//! `wit-component` turns the core modules into components.

mod abi;
mod descriptor;
mod handles;
mod module;
mod resources;
mod runtime;
mod world;

pub use runtime::SpanRuntime;

use std::collections::HashMap;

use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::abi::AbiVariant;
use wit_parser::{ManglingAndAbi, SizeAlign, WasmExport, WasmExportKind, WasmImport, WorldItem};

use crate::analyze::BoundaryPlan;
use crate::{Direction, Error};
use abi::{StatusProbe, core_type, return_area};
use handles::{HandleCode, HandleWalker, Op, Place};
use module::{CoreNames, Forwarder, ForwarderLocals, FuncLayout, Prebuilt};
use resources::ResourceTable;
use wasmparser::ExternalKind;

/// Core names of the generated imports and exports. The standard
/// (`cm32p2|…`) scheme: wit-component resolves these names by lookup, where
/// legacy names are matched by formatting every candidate (quadratic in the
/// number of wrapped functions). The base's own imports, memory and
/// `cabi_realloc` are renamed into the same scheme.
const MANGLING: ManglingAndAbi = ManglingAndAbi::Standard32;

/// The proxy base, a core module built from `runtime/base/` by `build.rs`.
static PROXY_BASE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nebula_proxy_base.wasm"));

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
    /// Generates the proxy for everything `plan` wraps on `side`; its span
    /// descriptors go to the output's `spans` runtime.
    pub fn build(
        plan: &BoundaryPlan,
        side: Direction,
        spans: &mut SpanRuntime,
    ) -> Result<Self, Error> {
        let (resolve, world) = world::proxy_world(plan, side)?;
        let mut sizes = SizeAlign::default();
        sizes
            .fill(&resolve)
            .map_err(|e| Error::internal("computing type layouts", e))?;
        let runtime = Prebuilt::parse(PROXY_BASE)?;
        spans.count_proxy();
        let data = spans.descriptors();
        let mangling = MANGLING;

        // Function indices: the resource intrinsics come right after the
        // forwarders' imports, the resource helpers right after the
        // runtime's code (see `module.rs`).
        let forwarded: usize = plan.wrapped(side).map(|(_, funcs)| funcs.len()).sum();
        let mut resources = ResourceTable::collect(
            &resolve,
            world,
            plan.wrapped(side)
                .flat_map(|(_, funcs)| funcs.iter().map(|f| &f.func)),
        );
        let layout = FuncLayout::new(&runtime, forwarded, resources.import_count() as usize, 0);
        resources.place(layout.first_intrinsic(), layout.first_helper());

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
                let params: Vec<_> = func.params.iter().map(|p| p.ty).collect();
                let locals = ForwarderLocals::new(&export, &import);
                let walk = |op, place, first_local| {
                    HandleWalker::walk(&resolve, &sizes, &resources, op, place, first_local)
                };
                let param_place = || Place::Params {
                    types: &params,
                    indirect: export.indirect_params,
                };
                let unwrap = walk(Op::Unwrap, param_place(), locals.first_extra);
                let wrap = match (func.result, &locals) {
                    (None, _) => HandleCode::default(),
                    (
                        Some(ty),
                        ForwarderLocals {
                            area: Some(area), ..
                        },
                    ) => walk(
                        Op::Wrap,
                        Place::Memory { ty, local: *area },
                        locals.first_extra + unwrap.locals.len() as u32,
                    ),
                    (
                        Some(ty),
                        ForwarderLocals {
                            result: Some((result, slot)),
                            ..
                        },
                    ) => walk(
                        Op::Wrap,
                        Place::Flat {
                            ty,
                            local: *result,
                            slot: *slot,
                        },
                        locals.first_extra + unwrap.locals.len() as u32,
                    ),
                    _ => HandleCode::default(),
                };
                let drop_lent = walk(
                    Op::DropLent,
                    param_place(),
                    locals.first_extra + (unwrap.locals.len() + wrap.locals.len()) as u32,
                );
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
                    before: unwrap,
                    after: vec![wrap, drop_lent],
                });
            }
        }

        // The base's imports by plain name, with their canonical (`@0.1`
        // for `@0.1.0`) names that the standard mangling uses.
        let canonical: HashMap<String, String> = resolve.worlds[world]
            .imports
            .values()
            .filter_map(|item| match item {
                WorldItem::Interface { id, .. } => {
                    Some((resolve.id_of(*id)?, resolve.canonicalized_id_of(*id)?))
                }
                _ => None,
            })
            .collect();
        let rename = |module: &str, name: &str| {
            let module = canonical.get(module).map_or(module, String::as_str);
            (format!("cm32p2|{module}"), name.to_string())
        };
        let memory = resolve.wasm_export_name(mangling, WasmExport::Memory);
        let realloc = resolve.wasm_export_name(mangling, WasmExport::Realloc);
        let export = |kind, name: &str| match (kind, name) {
            (ExternalKind::Memory, _) => Some(memory.clone()),
            (ExternalKind::Func, "cabi_realloc") => Some(realloc.clone()),
            // The base's entry points stay internal.
            _ => None,
        };
        let names = CoreNames {
            import: &rename,
            export: &export,
        };
        let intrinsics = resources.intrinsics(&resolve, mangling);
        let helpers = resources.helpers(&resolve, mangling, runtime.taking_global());
        let additions = module::Additions {
            forwarders: &forwarders,
            intrinsics: &intrinsics,
            helpers: &helpers,
            data: &[],
        };
        let module = module::link(&runtime, &additions, &names)?;
        Ok(Proxy {
            component: encode_component(module, &resolve, world, Names::Standard, "proxy")?,
            wit: world::print(&resolve, world),
        })
    }
}

/// The core names a module given to [`encode_component`] uses.
pub(crate) enum Names {
    /// Only standard (`cm32p2|…`) names, which `wit-component` looks up.
    Standard,
    /// Legacy (`module#name`) names too, as `wit-bindgen` gives them.
    Legacy,
}

/// `module` made a component of `world` by `wit-component`, without the
/// names and producers it records (a quarter of a small proxy's size,
/// describing nothing the user wrote). `what` names it in errors.
pub(crate) fn encode_component(
    mut module: Vec<u8>,
    resolve: &wit_parser::Resolve,
    world: wit_parser::WorldId,
    names: Names,
    what: &str,
) -> Result<Vec<u8>, Error> {
    wit_component::embed_component_metadata(
        &mut module,
        resolve,
        world,
        StringEncoding::UTF8,
        false,
    )
    .map_err(|e| Error::internal(&format!("embedding the {what}'s world"), e))?;
    let component = ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| {
            encoder
                .reject_legacy_names(matches!(names, Names::Standard))
                .encode()
        })
        .map_err(|e| Error::internal(&format!("encoding the {what} component"), e))?;
    let mut out = Vec::with_capacity(component.len());
    crate::toplevel::each_section(&component, |payload, range| {
        if !matches!(payload, wasmparser::Payload::CustomSection(_)) {
            out.extend_from_slice(&component[range]);
        }
        Ok(())
    })
    .map_err(|e| Error::internal(&format!("reading the {what} component"), e))?;
    Ok(out)
}
