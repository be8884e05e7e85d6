//! The exported functions of a component, found by walking its type.

use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, Type};

/// One exported function: its callable name and its types.
#[derive(Clone, Debug)]
pub struct ExportedFunc {
    /// `iface#func` for interface functions (e.g.
    /// `nebula:fixtures/types@0.1.0#echo-u8`), the bare name for
    /// freestanding world functions.
    pub name: String,
    /// Parameter names and types, in order.
    pub params: Vec<(String, Type)>,
    /// The result type, if the function returns a value.
    pub result: Option<Type>,
}

impl ExportedFunc {
    /// The parameter types, in order.
    pub fn param_types(&self) -> Vec<Type> {
        self.params.iter().map(|(_, ty)| ty.clone()).collect()
    }

    /// The interface part of [`Self::name`], if any.
    pub fn interface(&self) -> Option<&str> {
        self.name.split_once('#').map(|(iface, _)| iface)
    }

    /// The function part of [`Self::name`].
    pub fn function(&self) -> &str {
        self.name.split_once('#').map_or(&self.name, |(_, f)| f)
    }

    fn new(name: String, ty: &ComponentFunc) -> Self {
        Self {
            name,
            params: ty.params().map(|(n, t)| (n.to_owned(), t)).collect(),
            result: ty.results().next(),
        }
    }
}

/// Every function `component` exports, in export order: freestanding
/// functions and the functions of exported instances (resource
/// constructors, methods and statics included, e.g.
/// `ns:pkg/iface#[method]res.get`).
pub fn exported_funcs(engine: &Engine, component: &Component) -> Vec<ExportedFunc> {
    let ty = component.component_type();
    let mut out = Vec::new();
    for (name, export) in ty.exports(engine) {
        match &export.ty {
            ComponentItem::ComponentFunc(f) => out.push(ExportedFunc::new(name.to_owned(), f)),
            ComponentItem::ComponentInstance(inst) => {
                for (func, item) in inst.exports(engine) {
                    if let ComponentItem::ComponentFunc(f) = &item.ty {
                        out.push(ExportedFunc::new(format!("{name}#{func}"), f));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The name of the exported instance `iface` refers to: itself if the
/// component exports it, else the only export that matches it without its
/// version (so `wasi:cli/run` finds `wasi:cli/run@0.2.6`).
pub fn resolve_instance_name(
    engine: &Engine,
    component: &Component,
    iface: &str,
) -> Option<String> {
    let ty = component.component_type();
    if ty.get_export(engine, iface).is_some() {
        return Some(iface.to_owned());
    }
    let unversioned = |n: &str| n.split_once('@').map_or(n, |(base, _)| base).to_owned();
    let want = unversioned(iface);
    let mut matches = ty
        .exports(engine)
        .filter(|(n, e)| {
            matches!(e.ty, ComponentItem::ComponentInstance(_)) && unversioned(n) == want
        })
        .map(|(n, _)| n.to_owned());
    let first = matches.next()?;
    matches.next().is_none().then_some(first)
}
