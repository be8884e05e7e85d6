//! `nebula run --invoke 'CALL'`: calls of exported functions written as
//! `name(args)`, with the arguments in WAVE (the WebAssembly Value
//! Encoding, as `wasmtime run --invoke` takes them) and results printed in
//! WAVE.
//!
//! Names: `ns:pkg/iface#func` (the interface with or without its version,
//! e.g. `nebula:fixtures/types#reverse` or
//! `nebula:fixtures/types@0.1.0#reverse`) or a bare `func` for a
//! freestanding function of the component's world.
//!
//! Everything is checked before the component runs ([`prepare`]): an
//! unknown function or an argument that does not parse or does not fit the
//! parameter type is an [`InvokeError`], which the CLI reports as a usage
//! error.

use std::error::Error as _;
use std::fmt;

use wasm_wave::untyped::UntypedFuncCall;
use wasmtime::AsContextMut;
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, ComponentExportIndex, Instance, Val};

/// A call that cannot be made: the message says why and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeError(pub String);

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvokeError {}

/// A checked call: the function found, the arguments typed.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The call as the user wrote it.
    pub source: String,
    /// The function's full name (`iface#func` or `func`).
    pub name: String,
    index: ComponentExportIndex,
    params: Vec<Val>,
    results: usize,
}

/// Finds the function `call` names in `component` and parses its
/// arguments against the parameter types.
pub fn prepare(
    engine: &Engine,
    component: &Component,
    call: &str,
) -> Result<Prepared, InvokeError> {
    let source = call.trim();
    let open = source.find('(').ok_or_else(|| {
        InvokeError(format!(
            "`{source}` is not a call; write it as `name(args)`, e.g. \
             `--invoke 'ns:pkg/iface#func(1, \"two\")'` or `--invoke 'run()'`"
        ))
    })?;
    let name = source[..open].trim();
    let (index, ty, full_name) = find(engine, component, name)?;
    // The name grammar of WAVE calls has no `#`: parse the arguments as a
    // call of a placeholder name.
    let args = format!("f{}", &source[open..]);
    let parsed = UntypedFuncCall::parse(&args).map_err(|e| {
        InvokeError(format!(
            "the arguments of `{source}` are not valid WAVE: {}",
            wave_error(&e, &args)
        ))
    })?;
    let types: Vec<_> = ty.params().map(|(_, t)| t).collect();
    let params: Vec<Val> = parsed.to_wasm_params(&types).map_err(|e| {
        let signature = ty
            .params()
            .map(|(n, t)| format!("{n}: {}", type_name(&t)))
            .collect::<Vec<_>>()
            .join(", ");
        InvokeError(format!(
            "the arguments of `{source}` do not fit `{full_name}({signature})`: {}",
            wave_error(&e, &args)
        ))
    })?;
    Ok(Prepared {
        source: source.to_string(),
        name: full_name,
        index,
        params,
        results: ty.results().len(),
    })
}

/// A WAVE error naming the text it is about (`args` is what was parsed).
fn wave_error(e: &wasm_wave::parser::ParserError, args: &str) -> String {
    let span = e.span();
    let near = args
        .get(span.clone())
        .filter(|s| !s.is_empty())
        .map_or_else(|| "at the end".to_string(), |s| format!("at `{s}`"));
    match (e.detail(), e.source()) {
        (Some(detail), _) => format!("{} {near} ({detail})", e.kind()),
        (None, Some(source)) => format!("{} {near}: {source}", e.kind()),
        (None, None) => format!("{} {near}", e.kind()),
    }
}

/// Calls `prepared` on `instance`; its results.
pub fn call(
    mut store: impl AsContextMut,
    instance: &Instance,
    prepared: &Prepared,
) -> wasmtime::Result<Vec<Val>> {
    let func = instance
        .get_func(&mut store, prepared.index)
        .ok_or_else(|| wasmtime::format_err!("`{}` is not a function", prepared.name))?;
    let mut results = vec![Val::Bool(false); prepared.results];
    func.call(&mut store, &prepared.params, &mut results)?;
    Ok(results)
}

/// The results in WAVE, one per line (nothing for a function without
/// results).
pub fn format_results(results: &[Val]) -> Vec<String> {
    results
        .iter()
        .map(|v| wasm_wave::to_string(v).unwrap_or_else(|e| format!("<unprintable: {e}>")))
        .collect()
}

/// The export `name` names: an `iface#func` or a world-level `func`.
fn find(
    engine: &Engine,
    component: &Component,
    name: &str,
) -> Result<(ComponentExportIndex, ComponentFunc, String), InvokeError> {
    let ty = component.component_type();
    let unknown = || {
        // Functions of the interface named, when it exists; else all.
        let mut known = functions(engine, component);
        if let Some((iface, _)) = name.rsplit_once('#') {
            let iface = iface.split('@').next().unwrap_or(iface);
            let prefix = format!("{iface}#");
            if known.iter().any(|f| f.starts_with(&prefix)) {
                known.retain(|f| f.starts_with(&prefix));
            }
        }
        let listed = if known.is_empty() {
            "it exports no functions".to_string()
        } else {
            let shown: Vec<&str> = known.iter().take(40).map(String::as_str).collect();
            let more = known.len().saturating_sub(shown.len());
            format!(
                "it exports: {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                }
            )
        };
        InvokeError(format!("the component has no function `{name}`; {listed}"))
    };
    match name.rsplit_once('#') {
        Some((iface, func)) => {
            let (iface_name, instance_ty) = ty
                .exports(engine)
                .find_map(|(export, item)| match item.ty {
                    ComponentItem::ComponentInstance(i) if same_interface(export, iface) => {
                        Some((export.to_string(), i))
                    }
                    _ => None,
                })
                .ok_or_else(unknown)?;
            let Some(ComponentItem::ComponentFunc(f)) =
                instance_ty.get_export(engine, func).map(|e| e.ty)
            else {
                return Err(unknown());
            };
            let outer = component
                .get_export_index(None, &iface_name)
                .ok_or_else(unknown)?;
            let index = component
                .get_export_index(Some(&outer), func)
                .ok_or_else(unknown)?;
            Ok((index, f, format!("{iface_name}#{func}")))
        }
        None => {
            let Some(ComponentItem::ComponentFunc(f)) = ty.get_export(engine, name).map(|e| e.ty)
            else {
                return Err(unknown());
            };
            let index = component.get_export_index(None, name).ok_or_else(unknown)?;
            Ok((index, f, name.to_string()))
        }
    }
}

/// Whether the export `export` (`ns:pkg/iface@1.0.0`) is the interface the
/// user wrote (with or without the version).
fn same_interface(export: &str, wanted: &str) -> bool {
    export == wanted || (!wanted.contains('@') && export.split('@').next() == Some(wanted))
}

/// Every exported function, as `--invoke` names it.
pub fn functions(engine: &Engine, component: &Component) -> Vec<String> {
    let mut out = Vec::new();
    for (name, item) in component.component_type().exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(_) => out.push(name.to_string()),
            ComponentItem::ComponentInstance(i) => {
                let iface = name.split('@').next().unwrap_or(name);
                for (func, item) in i.exports(engine) {
                    if matches!(item.ty, ComponentItem::ComponentFunc(_)) {
                        out.push(format!("{iface}#{func}"));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A short name of a component value type, for messages.
fn type_name(ty: &wasmtime::component::Type) -> String {
    use wasmtime::component::Type as T;
    match ty {
        T::Bool => "bool".into(),
        T::S8 => "s8".into(),
        T::U8 => "u8".into(),
        T::S16 => "s16".into(),
        T::U16 => "u16".into(),
        T::S32 => "s32".into(),
        T::U32 => "u32".into(),
        T::S64 => "s64".into(),
        T::U64 => "u64".into(),
        T::Float32 => "f32".into(),
        T::Float64 => "f64".into(),
        T::Char => "char".into(),
        T::String => "string".into(),
        T::List(l) => format!("list<{}>", type_name(&l.ty())),
        T::Option(o) => format!("option<{}>", type_name(&o.ty())),
        T::Record(_) => "record".into(),
        T::Tuple(_) => "tuple".into(),
        T::Variant(_) => "variant".into(),
        T::Enum(_) => "enum".into(),
        T::Flags(_) => "flags".into(),
        T::Result(_) => "result".into(),
        T::Own(_) | T::Borrow(_) => "resource".into(),
        _ => "value".into(),
    }
}
