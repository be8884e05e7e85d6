//! The export proxy's WIT world: it imports what the target exports (and
//! everything those items depend on) and exports the same items again,
//! plus the interfaces the span runtime imports.
//!
//! ```text
//! world nebula-proxy {
//!   import <target's imports>;          // wit-component keeps only the used ones
//!   import <each wrapped export>;       // satisfied by the target
//!   import wasi:otel/tracing@0.3.0; ... // the span runtime's
//!   export <each wrapped export>;
//! }
//! ```

use wit_parser::{
    Docs, Package, PackageName, Resolve, Stability, World, WorldId, WorldItem, WorldKey,
};

use crate::Error;
use crate::analyze::Plan;

/// The world's name, also the name of the package holding it.
const NAME: &str = "nebula-proxy";

/// Adds the proxy world for `plan` to a copy of its `Resolve`.
pub(crate) fn proxy_world(plan: &Plan) -> Result<(Resolve, WorldId), Error> {
    let mut resolve = plan.resolve.clone();
    let target = &resolve.worlds[plan.world];
    let mut imports = target.imports.clone();
    let mut exports = wit_parser::IndexMap::default();
    for (item, _) in plan.wrapped() {
        let world_item = target.exports[&item.key].clone();
        // An interface the target both imports and exports is imported once:
        // from the target's export.
        imports.entry(item.key.clone()).or_insert_with(|| world_item.clone());
        exports.insert(item.key.clone(), world_item);
    }
    for id in &plan.runtime_imports {
        imports
            .entry(WorldKey::Interface(*id))
            .or_insert_with(|| WorldItem::Interface {
                id: *id,
                stability: Stability::default(),
                external_id: None,
                docs: Docs::default(),
                span: Default::default(),
            });
    }
    let world = resolve.worlds.alloc(World {
        name: NAME.to_string(),
        imports,
        exports,
        package: None,
        docs: Docs::default(),
        stability: Stability::default(),
        includes: Vec::new(),
        span: Default::default(),
    });
    let name = PackageName {
        namespace: "nebula".to_string(),
        name: NAME.to_string(),
        version: None,
    };
    let mut package = Package {
        name: name.clone(),
        docs: Docs::default(),
        interfaces: Default::default(),
        worlds: Default::default(),
    };
    package.worlds.insert(NAME.to_string(), world);
    let package = resolve.packages.alloc(package);
    resolve.package_names.insert(name, package);
    resolve.worlds[world].package = Some(package);
    Ok((resolve, world))
}

/// The proxy world as WIT text, for the report.
pub(crate) fn print(resolve: &Resolve, world: WorldId) -> String {
    let Some(package) = resolve.worlds[world].package else {
        return String::new();
    };
    let mut printer = wit_component::WitPrinter::default();
    printer.emit_docs(false);
    match printer.print(resolve, package, &[]) {
        Ok(()) => printer.output.to_string(),
        Err(e) => format!("// the proxy world could not be printed: {e:#}\n"),
    }
}
