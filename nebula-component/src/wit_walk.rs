//! One walk over the types inside a WIT type definition, shared by every
//! pass that needs to look into (or rewrite) nested types.

use std::collections::HashSet;

use wit_parser::{Function, Handle, Resolve, Type, TypeDefKind, TypeId};

/// Calls `visit` on each type directly inside `kind` (record fields, case
/// payloads, list elements, handle targets, ...), letting it rewrite them.
pub(crate) fn children_mut(kind: &mut TypeDefKind, mut visit: impl FnMut(&mut Type)) {
    match kind {
        TypeDefKind::Record(r) => r.fields.iter_mut().for_each(|f| visit(&mut f.ty)),
        TypeDefKind::Tuple(t) => t.types.iter_mut().for_each(visit),
        TypeDefKind::Variant(v) => v
            .cases
            .iter_mut()
            .filter_map(|c| c.ty.as_mut())
            .for_each(visit),
        TypeDefKind::Option(t)
        | TypeDefKind::List(t)
        | TypeDefKind::Type(t)
        | TypeDefKind::FixedLengthList(t, _) => visit(t),
        TypeDefKind::Map(k, v) => {
            visit(k);
            visit(v);
        }
        TypeDefKind::Result(r) => {
            r.ok.iter_mut().for_each(&mut visit);
            r.err.iter_mut().for_each(&mut visit);
        }
        TypeDefKind::Future(t) | TypeDefKind::Stream(t) => t.iter_mut().for_each(visit),
        TypeDefKind::Handle(Handle::Own(id) | Handle::Borrow(id)) => {
            let mut ty = Type::Id(*id);
            visit(&mut ty);
            if let Type::Id(new) = ty {
                *id = new;
            }
        }
        TypeDefKind::Resource
        | TypeDefKind::Flags(_)
        | TypeDefKind::Enum(_)
        | TypeDefKind::Unknown => {}
    }
}

/// The types directly inside `kind`.
pub(crate) fn children(kind: &TypeDefKind) -> Vec<Type> {
    let mut out = Vec::new();
    children_mut(&mut kind.clone(), |t| out.push(*t));
    out
}

/// Every type defined in `resolve` that `roots` reach (each once, the roots'
/// own definitions included), for passes that ask what a signature touches.
pub(crate) fn reachable(
    resolve: &Resolve,
    roots: impl IntoIterator<Item = Type>,
) -> impl Iterator<Item = TypeId> + '_ {
    let mut stack: Vec<Type> = roots.into_iter().collect();
    let mut seen = HashSet::new();
    std::iter::from_fn(move || {
        while let Some(ty) = stack.pop() {
            if let Type::Id(id) = ty
                && seen.insert(id)
            {
                stack.extend(children(&resolve.types[id].kind));
                return Some(id);
            }
        }
        None
    })
}

/// The types of `func`'s parameters and result.
pub(crate) fn signature(func: &Function) -> impl Iterator<Item = Type> + '_ {
    func.params.iter().map(|p| p.ty).chain(func.result)
}

/// Follows type aliases (`type a = b`, `use`d types) to the type itself.
pub(crate) fn dealias(resolve: &Resolve, mut ty: Type) -> Type {
    while let Type::Id(id) = ty
        && let TypeDefKind::Type(inner) = resolve.types[id].kind
    {
        ty = inner;
    }
    ty
}

/// The type definition `id` names, through aliases (for handles, whose
/// resource may be a `use`d alias).
pub(crate) fn dealias_id(resolve: &Resolve, id: TypeId) -> TypeId {
    match dealias(resolve, Type::Id(id)) {
        Type::Id(id) => id,
        // An alias chain of type definitions ends in one.
        _ => id,
    }
}
