//! W3C trace context read by the proxies themselves, so an output continues
//! its callers' traces on any host, with or without a `wasi:otel` one.
//!
//! A wrapped `wasi:http/incoming-handler#handle` (0.2) starts its server
//! span with `nebula_span_start_incoming(descriptor, request)` of the
//! `http` proxy base (`runtime/base-http/`) instead of
//! `nebula_span_start`: the base reads the request's `traceparent` and
//! `tracestate` headers and calls `nebula:spans#start-remote`, which makes
//! them the span's remote parent when the host offers no valid context.
//!
//! The base calls `[method]incoming-request.headers`, `[method]fields.get`
//! and `[resource-drop]fields` of the host's `wasi:http/types` (the
//! resource types stay the host's: nothing else changes for the target).
//! A target's view of that interface lists only what it uses, so
//! [`add_header_functions`] merges those three functions into the proxy's
//! `Resolve`, in the version the target imports; the output's one import
//! of the interface then carries them too (`compose/shared.rs`).

use wit_parser::{Function, InterfaceId, Resolve, Type, TypeDefKind, WorldId, WorldItem, WorldKey};

use crate::{Direction, Error};

/// A wrapped function whose span starts from the call's own trace context.
pub(crate) struct ContextHook {
    /// The interface, without its version.
    interface: &'static str,
    /// The function in it.
    func: &'static str,
    /// Which proxy wraps it.
    side: Direction,
    /// The `http` base's entry point that starts the span; it takes the
    /// descriptor and the call's first parameter (a handle).
    pub entry: &'static str,
}

/// Every function whose span starts from the call's trace context.
const HOOKS: &[ContextHook] = &[
    ContextHook {
        interface: "wasi:http/incoming-handler",
        func: "handle",
        side: Direction::Export,
        entry: "nebula_span_start_incoming",
    },
    ContextHook {
        interface: "wasi:http/outgoing-handler",
        func: "handle",
        side: Direction::Import,
        entry: "nebula_span_start_outgoing",
    },
];

/// The hook of `func` of interface `key` on `side`, if it has one: the
/// `wasi:http` 0.2 function whose first parameter is the request handle.
pub(crate) fn hook(
    resolve: &Resolve,
    key: Option<&WorldKey>,
    func: &Function,
    side: Direction,
) -> Option<&'static ContextHook> {
    let Some(WorldKey::Interface(id)) = key else {
        return None;
    };
    let iface = &resolve.interfaces[*id];
    let package = &resolve.packages[iface.package?].name;
    let name = format!(
        "{}:{}/{}",
        package.namespace,
        package.name,
        iface.name.as_deref()?
    );
    let version = package.version.as_ref()?;
    let takes_handle = func.params.first().is_some_and(|param| {
        matches!(param.ty, Type::Id(id) if matches!(resolve.types[id].kind, TypeDefKind::Handle(_)))
    });
    (version.major == 0 && version.minor == 2 && takes_handle)
        .then(|| {
            HOOKS
                .iter()
                .find(|h| h.side == side && h.interface == name && h.func == func.name)
        })
        .flatten()
}

/// Adds what the `http` base calls to the `wasi:http/types` of the package
/// of `hooked` (a hooked function's interface), keeping what the target's
/// view already declares.
pub(crate) fn add_header_functions(
    resolve: &mut Resolve,
    hooked: InterfaceId,
) -> Result<(), Error> {
    let version = resolve.interfaces[hooked]
        .package
        .and_then(|package| resolve.packages[package].name.version.clone())
        .ok_or_else(|| Error::bug("a hooked `wasi:http` function without its version"))?;
    let mut headers = Resolve::default();
    headers
        .push_str("nebula-http-headers.wit", &header_wit(&version.to_string()))
        .map_err(|e| Error::internal("the embedded `wasi:http/types` headers WIT", e))?;
    resolve
        .merge(headers)
        .map_err(|e| Error::internal("adding header access to the proxy's `wasi:http/types`", e))?;
    Ok(())
}

/// The part of `wasi:http/types` the `http` base calls, with the names every
/// 0.2 release declares (`field-key` since 0.2.0, `headers` a `fields`).
fn header_wit(version: &str) -> String {
    format!(
        "package wasi:http@{version};

interface types {{
    type field-key = string;
    type field-value = list<u8>;
    variant header-error {{
        invalid-syntax,
        forbidden,
        immutable,
    }}
    resource fields {{
        get: func(name: field-key) -> list<field-value>;
        has: func(name: field-key) -> bool;
        set: func(name: field-key, value: list<field-value>) -> result<_, header-error>;
    }}
    resource incoming-request {{
        headers: func() -> fields;
    }}
    resource outgoing-request {{
        headers: func() -> fields;
    }}
}}
"
    )
}

/// The report's line on what a proxy with a hook propagates.
pub(crate) fn note(side: Direction, constructor: Option<&ConstructorHook>) -> String {
    match (side, constructor) {
        (Direction::Export, _) => "`wasi:http/incoming-handler#handle`: its server span continues \
             the request's `traceparent` (and `tracestate`) when the host offers no span context"
            .into(),
        (Direction::Import, Some(hook)) => format!(
            "`{}`: served to the component by its import proxy (the host's resources and \
             functions, but `[constructor]outgoing-request` adds a `traceparent` naming the \
             client span of sending the request, and the trace's `tracestate`, unless the \
             component set them)",
            hook.types_name
        ),
        (Direction::Import, None) => "`wasi:http/outgoing-handler#handle`: the requests the \
             component sends carry no `traceparent` from the output (it constructs none \
             through `wasi:http/types`, or its view of that interface has types the proxy \
             cannot offer)"
            .into(),
    }
}

/// The `wasi:http/types` function an import proxy serves itself, so the
/// requests the guest constructs carry the client span's `traceparent`.
pub(crate) const CONSTRUCTOR: &str = "[constructor]outgoing-request";

/// The base's entry point the hooked constructor calls with the headers
/// first.
pub(crate) const CONSTRUCTOR_PRELUDE: &str = "nebula_outgoing_headers";

/// An import proxy's hooked `[constructor]outgoing-request`: it exports
/// `nebula:http-hooks/request-hooks#construct-outgoing-request` (the
/// host's constructor after `nebula_outgoing_headers`), and
/// [`super::reexport`] makes of it, with everything else of the host's
/// `wasi:http/types`, the instance the target imports instead.
pub(crate) struct ConstructorHook {
    /// The target's `wasi:http/types` and its world key.
    pub types: WorldKey,
    /// Its name as the component imports it (`wasi:http/types@0.2.0`).
    pub types_name: String,
    /// The hook interface, exported by the proxy.
    pub hook: WorldKey,
    /// Its exported name.
    pub hook_name: String,
    /// The type names the target's view of `wasi:http/types` declares,
    /// which the served instance must offer.
    pub required_types: Vec<String>,
}

/// The hook's function in the hook interface.
pub(crate) const HOOK_FUNC: &str = "construct-outgoing-request";

/// Adds the constructor hook to the import proxy `world` when the target
/// constructs outgoing requests: `hooked` is the wrapped
/// `wasi:http/outgoing-handler`, whose package's `types` the target imports.
pub(crate) fn add_constructor_hook(
    resolve: &mut Resolve,
    world: WorldId,
    hooked: InterfaceId,
) -> Result<Option<ConstructorHook>, Error> {
    let Some(package) = resolve.interfaces[hooked].package else {
        return Ok(None);
    };
    let Some(&types) = resolve.packages[package].interfaces.get("types") else {
        return Ok(None);
    };
    let types_key = WorldKey::Interface(types);
    if !resolve.worlds[world].imports.contains_key(&types_key)
        || !resolve.interfaces[types]
            .functions
            .contains_key(CONSTRUCTOR)
    {
        return Ok(None);
    }
    let version = resolve.packages[package]
        .name
        .version
        .as_ref()
        .map(|v| format!("@{v}"))
        .unwrap_or_default();
    let source = format!(
        "package nebula:http-hooks@0.1.0;

/// What an import proxy serves in place of the host's `wasi:http/types`.
interface request-hooks {{
    use wasi:http/types{version}.{{fields, outgoing-request}};
    /// The host's `[constructor]outgoing-request`, the trace context
    /// headers added first.
    {HOOK_FUNC}: func(headers: fields) -> outgoing-request;
}}
"
    );
    let required_types = resolve.interfaces[types].types.keys().cloned().collect();
    let pkg = resolve
        .push_str("nebula-http-hooks.wit", &source)
        .map_err(|e| Error::internal("the request hook's WIT", e))?;
    let hook = resolve.packages[pkg].interfaces["request-hooks"];
    let hook_key = WorldKey::Interface(hook);
    resolve.worlds[world].exports.insert(
        hook_key.clone(),
        WorldItem::Interface {
            id: hook,
            stability: Default::default(),
            external_id: None,
            docs: Default::default(),
            span: Default::default(),
        },
    );
    Ok(Some(ConstructorHook {
        types_name: resolve.name_world_key(&types_key),
        hook_name: resolve.name_world_key(&hook_key),
        types: types_key,
        hook: hook_key,
        required_types,
    }))
}
