//! Chains of `use` (`interface x { use name3.{t}; }` and
//! `interface x6 { use x.{t}; }`), which `wac-types` 0.12 flattens: it
//! credits every use of `t` to the interface that defines it (`name3`), so
//! the composition's import of `x6` aliases `t` from `name3` rather than
//! from `x`. The type is the same (`x`'s `t` is `name3`'s), but the
//! output's world then says `x6` uses `name3.{t}`, and so does every
//! export implementing `x6` (`export e: x6;`).
//!
//! [`relink`] puts each use back on the interface the target's world takes
//! it from, before encoding.

use std::collections::HashMap;

use wac_graph::types::{InterfaceId, ItemKind, Types, UsedType, WorldId};
use wit_parser::{Resolve, Type, TypeDefKind, TypeOwner};

/// Points each `use` of the interfaces reachable from `worlds` (the
/// registered packages) at the interface `resolve` (the target's world)
/// says it comes from, when `wac-types` credited another one.
pub(super) fn relink(types: &mut Types, worlds: &[WorldId], resolve: &Resolve) {
    // (user interface, type name) to (source interface, its name there).
    let mut links: HashMap<(String, &str), (String, &str)> = HashMap::new();
    for (id, iface) in resolve.interfaces.iter() {
        let Some(user) = resolve.id_of(id) else {
            continue;
        };
        for (name, ty) in &iface.types {
            if let TypeDefKind::Type(Type::Id(used)) = resolve.types[*ty].kind
                && let TypeOwner::Interface(source) = resolve.types[used].owner
                && source != id
                && let Some(source_id) = resolve.id_of(source)
                && let Some(source_name) = &resolve.types[used].name
            {
                links.insert((user.clone(), name), (source_id, source_name));
            }
        }
    }
    if links.is_empty() {
        return;
    }

    // Every interface reachable from the worlds, through their uses.
    let mut interfaces: Vec<InterfaceId> = Vec::new();
    let mut pending: Vec<InterfaceId> = worlds
        .iter()
        .flat_map(|w| types[*w].imports.values().chain(types[*w].exports.values()))
        .filter_map(|kind| match kind {
            ItemKind::Instance(id) => Some(*id),
            _ => None,
        })
        .collect();
    while let Some(id) = pending.pop() {
        if !interfaces.contains(&id) {
            interfaces.push(id);
            pending.extend(types[id].uses.values().map(|u| u.interface));
        }
    }
    let exports = |types: &Types, id: InterfaceId, name: &str| {
        matches!(types[id].exports.get(name), Some(ItemKind::Type(_)))
    };

    for user in &interfaces {
        let Some(user_iid) = types[*user].id.clone() else {
            continue;
        };
        let uses: Vec<(String, UsedType)> = types[*user]
            .uses
            .iter()
            .map(|(name, used)| (name.clone(), used.clone()))
            .collect();
        for (name, used) in uses {
            let Some((source_iid, source_name)) = links.get(&(user_iid.clone(), name.as_str()))
            else {
                continue;
            };
            if types[used.interface].id.as_deref() == Some(source_iid.as_str()) {
                continue;
            }
            let source = interfaces.iter().copied().find(|id| {
                types[*id].id.as_deref() == Some(source_iid.as_str())
                    && exports(types, *id, source_name)
            });
            if let Some(source) = source {
                types[*user].uses.insert(
                    name.clone(),
                    UsedType {
                        interface: source,
                        name: (*source_name != name).then(|| source_name.to_string()),
                    },
                );
            }
        }
    }
}
