//! Proxy synthesis: an export proxy and an import proxy per instrumented
//! component, and one span runtime per output they all share, generated as
//! wasm (no compiler at instrument time).
//!
//! - [`world`]: the proxy's WIT world;
//! - [`descriptor`]: the per-function data the span runtime reads;
//! - [`abi`]: where a call's `result` status sits;
//! - [`resources`], [`handles`]: wrapper resources, and the walk over a
//!   call's values that unwraps, wraps and drops their handles;
//! - [`module`]: the index-tracking builder of core modules that extend a
//!   prebuilt one (the proxy base; the span runtime);
//! - [`forwarder`]: the proxy's forwarders and post-returns;
//! - [`runtime`]: the output's span runtime component.
//!
//! `wit-component` turns the core modules into components.

mod abi;
mod descriptor;
mod forwarder;
mod handles;
pub(crate) mod module;
mod reexport;
mod resources;
mod runtime;
mod trace_context;
mod world;

pub use runtime::SpanRuntime;

use std::collections::HashMap;

use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::abi::AbiVariant;
use wit_parser::{
    ManglingAndAbi, SizeAlign, WasmExport, WasmExportKind, WasmImport, WorldItem, WorldKey,
};

use crate::analyze::BoundaryPlan;
use crate::{Direction, Error};
use abi::{StatusProbe, return_area};
use forwarder::Forwarder;
use module::{CoreNames, ImportPhase, Prebuilt};
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

/// The proxy base of proxies with a [`trace_context`] hook, built from
/// `runtime/base-http/`.
static PROXY_BASE_HTTP: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/nebula_proxy_base_http.wasm"));

/// A generated proxy of one component: the export proxy (instantiated
/// after the target, wrapping its exports) or the import proxy
/// (instantiated before it, wrapping its imports).
pub struct Proxy {
    /// The proxy component's bytes.
    pub component: Vec<u8>,
    /// The proxy world as WIT text.
    pub wit: String,
    /// Interfaces the target imports that this (import) proxy serves in
    /// the host's place (see [`reexport`]).
    pub reexports: Vec<String>,
    /// What the report says of the trace context the proxy propagates.
    pub notes: Vec<String>,
}

impl Proxy {
    /// Generates the proxy for everything `plan` wraps on `side`; its span
    /// descriptors go to the output's `spans` runtime.
    pub fn build(
        plan: &BoundaryPlan,
        side: Direction,
        spans: &mut SpanRuntime,
    ) -> Result<Self, Error> {
        let (mut resolve, world) = world::proxy_world(plan, side)?;
        // The first hooked function's interface, whose `wasi:http/types`
        // the `http` base reads headers with.
        let hooked = plan.wrapped(side).find_map(|(item, funcs)| {
            let WorldKey::Interface(id) = item.key else {
                return None;
            };
            funcs
                .iter()
                .any(|f| {
                    f.span.is_some()
                        && trace_context::hook(&resolve, Some(&item.key), &f.func, side).is_some()
                })
                .then_some(id)
        });
        if let Some(id) = hooked {
            trace_context::add_header_functions(&mut resolve, id)?;
        }
        let constructor_hook = match (side, hooked) {
            (Direction::Import, Some(id)) => {
                trace_context::add_constructor_hook(&mut resolve, world, id)?
            }
            _ => None,
        };
        let mut sizes = SizeAlign::default();
        sizes
            .fill(&resolve)
            .map_err(|e| Error::internal("computing type layouts", e))?;
        let base = Prebuilt::parse(if hooked.is_some() {
            PROXY_BASE_HTTP
        } else {
            PROXY_BASE
        })?;
        spans.count_proxy();
        let data = spans.descriptors();
        let mangling = MANGLING;

        let mut forwarders = Vec::new();
        for (item, funcs) in plan.wrapped(side) {
            let target = &resolve.worlds[plan.world];
            let items = match side {
                Direction::Export => &target.exports,
                Direction::Import => &target.imports,
            };
            let interface = match &items[&item.key] {
                WorldItem::Function(_) => None,
                WorldItem::Interface { .. } | WorldItem::Type { .. } => Some(&item.key),
            };
            for planned in funcs {
                let func = &planned.func;
                let lowered = resolve.wasm_signature(AbiVariant::GuestImport, func);
                let lifted = resolve.wasm_signature(AbiVariant::GuestExport, func);
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
                let status = StatusProbe::new(&resolve, &sizes, func, lowered.retptr);
                let descriptor = planned
                    .span
                    .as_ref()
                    .map(|span| data.add(&plan.component_name, span, status.case_names()));
                let start_entry = descriptor
                    .and_then(|_| trace_context::hook(&resolve, interface, func, side))
                    .map(|hook| hook.entry);
                forwarders.push(Forwarder {
                    import: resolve
                        .wasm_import_name(mangling, WasmImport::Func { interface, func }),
                    export: export_name(WasmExportKind::Normal),
                    post_return: export_name(WasmExportKind::PostReturn),
                    lowered,
                    lifted,
                    params: func.params.iter().map(|p| p.ty).collect(),
                    result: func.result,
                    return_area: return_area(&sizes, func),
                    descriptor,
                    start_entry,
                    prelude: None,
                    status,
                });
            }
        }
        if let Some(hook) = &constructor_hook {
            forwarders.push(constructor_forwarder(&resolve, &sizes, hook));
        }
        let mut resources = ResourceTable::collect(
            &resolve,
            world,
            plan.wrapped(side)
                .flat_map(|(_, funcs)| funcs.iter().map(|f| &f.func)),
        );

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
        // The `http` base imports `wasi:http/types@0.2.0`: it becomes the
        // version the world imports (the one its headers were merged into).
        let unversioned = |name: &str| name.split_once('@').map_or(name, |(n, _)| n).to_string();
        let by_interface: HashMap<String, &String> = canonical
            .iter()
            .map(|(id, canonical)| (unversioned(id), canonical))
            .collect();
        let rename = |module: &str, name: &str| {
            let module = canonical
                .get(module)
                .or_else(|| by_interface.get(&unversioned(module)).copied())
                .map_or(module, String::as_str);
            // Resource drops are `<resource>_drop` in the standard scheme.
            let name = match name.strip_prefix("[resource-drop]") {
                Some(resource) => format!("{resource}_drop"),
                None => name.to_string(),
            };
            (format!("cm32p2|{module}"), name)
        };
        // Phase 1: the imports (wrapped functions, resource intrinsics).
        let mut imports = ImportPhase::new(&base);
        let imported = forwarder::import_all(&mut imports, &forwarders);
        resources.import_intrinsics(&mut imports, &resolve, mangling);
        if let Some(hook) = &constructor_hook {
            // The re-exported instance offers what the target imports, so
            // the proxy imports all of it (an encoder trims an import to
            // the functions the module imports).
            let mut have: std::collections::HashSet<(String, String)> =
                forwarders.iter().map(|f| f.import.clone()).collect();
            have.extend(base.imports().map(|(module, name)| rename(module, name)));
            let WorldKey::Interface(types) = hook.types else {
                return Err(Error::bug(
                    "the hooked `wasi:http/types` is not an interface",
                ));
            };
            for func in resolve.interfaces[types].functions.values() {
                let name = resolve.wasm_import_name(
                    mangling,
                    WasmImport::Func {
                        interface: Some(&hook.types),
                        func,
                    },
                );
                if have.insert(name.clone()) {
                    let sig = resolve.wasm_signature(AbiVariant::GuestImport, func);
                    imports.func(
                        name,
                        &forwarder::core_types(&sig.params),
                        &forwarder::core_types(&sig.results),
                    );
                }
            }
        }
        // Phase 2: the base's code, then the resource helpers and the
        // forwarders that call them.
        let mut code = imports.code();
        resources.add_helpers(&mut code, &resolve, mangling)?;
        forwarder::add_all(
            &mut code,
            &forwarders,
            &imported,
            &resolve,
            &sizes,
            &resources,
        )?;

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
        let module = code.finish(&names)?;
        let mut component = encode_component(module, &resolve, world, Names::Standard, "proxy")?;
        let (mut reexports, mut notes) = (Vec::new(), Vec::new());
        let mut served_hook = None;
        if let Some(hook) = &constructor_hook
            && let Some(with_types) = reexport::append(&component, hook)?
        {
            component = with_types;
            reexports.push(hook.types_name.clone());
            served_hook = Some(hook);
        }
        if hooked.is_some() {
            notes.push(trace_context::note(side, served_hook));
        }
        Ok(Proxy {
            component,
            wit: world::print(&resolve, world),
            reexports,
            notes,
        })
    }
}

/// The forwarder of the import proxy's hooked constructor: the host's
/// `[constructor]outgoing-request`, exported as the hook interface's
/// function, with the trace context headers added first.
fn constructor_forwarder(
    resolve: &wit_parser::Resolve,
    sizes: &SizeAlign,
    hook: &trace_context::ConstructorHook,
) -> Forwarder {
    let interface_of = |key: &WorldKey| match key {
        WorldKey::Interface(id) => *id,
        WorldKey::Name(_) => unreachable!("hook interfaces are named"),
    };
    let host = &resolve.interfaces[interface_of(&hook.types)].functions[trace_context::CONSTRUCTOR];
    let own = &resolve.interfaces[interface_of(&hook.hook)].functions[trace_context::HOOK_FUNC];
    let lowered = resolve.wasm_signature(AbiVariant::GuestImport, host);
    let export_name = |kind| {
        resolve.wasm_export_name(
            MANGLING,
            WasmExport::Func {
                interface: Some(&hook.hook),
                func: own,
                kind,
            },
        )
    };
    Forwarder {
        import: resolve.wasm_import_name(
            MANGLING,
            WasmImport::Func {
                interface: Some(&hook.types),
                func: host,
            },
        ),
        export: export_name(WasmExportKind::Normal),
        post_return: export_name(WasmExportKind::PostReturn),
        status: StatusProbe::new(resolve, sizes, host, lowered.retptr),
        lowered,
        lifted: resolve.wasm_signature(AbiVariant::GuestExport, own),
        params: own.params.iter().map(|p| p.ty).collect(),
        result: own.result,
        return_area: return_area(sizes, host),
        descriptor: None,
        start_entry: None,
        prelude: Some(trace_context::CONSTRUCTOR_PRELUDE),
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
