//! Helpers shared by the structural tests: components from WIT, and their
//! exports printed as WIT for comparison.
#![allow(dead_code, reason = "each test binary uses a different part")]

use wit_component::{ComponentEncoder, StringEncoding, WitPrinter};
use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve, WorldId};

/// A component whose world is `world` in the WIT `source`.
pub fn component(source: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    push_deps(&mut resolve);
    let pkg = resolve
        .push_str("test.wit", source)
        .expect("test WIT parses");
    let world = resolve.select_world(&[pkg], None).unwrap();
    component_of(&resolve, world).expect("test world encodes")
}

/// A component of `world` whose functions all trap (a dummy module).
pub fn component_of(resolve: &Resolve, world: WorldId) -> anyhow::Result<Vec<u8>> {
    let mangling = ManglingAndAbi::Legacy(LiftLowerAbi::Sync);
    let mut module = wit_component::dummy_module(resolve, world, mangling);
    wit_component::embed_component_metadata(
        &mut module,
        resolve,
        world,
        StringEncoding::UTF8,
        false,
    )?;
    ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
}

/// The exports of a component's world, each printed as WIT, labels as
/// `label: ns:pkg/interface` when they implement one.
pub fn exports(bytes: &[u8]) -> Vec<(String, String)> {
    world_items(bytes, false)
}

/// The imports of a component's world, each printed as WIT (a type by its
/// name), labels as `label: ns:pkg/interface` when they implement one.
pub fn import_items(bytes: &[u8]) -> Vec<(String, String)> {
    world_items(bytes, true)
}

fn world_items(bytes: &[u8], imports: bool) -> Vec<(String, String)> {
    let (mut resolve, world): (Resolve, WorldId) =
        match wit_parser::decoding::decode(bytes).unwrap() {
            wit_parser::decoding::DecodedWasm::Component(resolve, world) => (resolve, world),
            _ => panic!("not a component"),
        };
    // Anonymous interfaces print `use`s relative to their package, which the
    // decoder picks; in a package of their own every `use` prints in full.
    let own = resolve.packages.alloc(wit_parser::Package {
        name: wit_parser::PackageName {
            namespace: "test".into(),
            name: "anonymous".into(),
            version: None,
        },
        docs: Default::default(),
        interfaces: Default::default(),
        worlds: Default::default(),
    });
    let items = |resolve: &Resolve| {
        let w = &resolve.worlds[world];
        if imports { &w.imports } else { &w.exports }.clone()
    };
    let names: Vec<String> = items(&resolve)
        .iter()
        .map(|(k, item)| {
            let name = resolve.name_world_key(k);
            match (k, item) {
                // A label implementing a named interface.
                (wit_parser::WorldKey::Name(_), wit_parser::WorldItem::Interface { id, .. }) => {
                    let iface = &resolve.interfaces[*id];
                    match (iface.package, &iface.name) {
                        (Some(pkg), Some(iface)) => {
                            format!("{name}: {}", resolve.id_of_name(pkg, iface))
                        }
                        _ => name,
                    }
                }
                _ => name,
            }
        })
        .collect();
    for (key, item) in &items(&resolve) {
        // (A label implementing a named interface shares that interface,
        // which stays in its package.)
        if let (wit_parser::WorldKey::Name(_), wit_parser::WorldItem::Interface { id, .. }) =
            (key, item)
            && resolve.interfaces[*id].name.is_none()
        {
            resolve.interfaces[*id].package = Some(own);
        }
    }
    items(&resolve)
        .iter()
        .zip(names)
        .map(|((_, item), name)| {
            let mut printer = WitPrinter::default();
            match item {
                wit_parser::WorldItem::Interface { id, .. } => {
                    printer.print_interface(&resolve, *id).unwrap()
                }
                wit_parser::WorldItem::Function(f) => {
                    for p in &f.params {
                        printer.print_type_name(&resolve, &p.ty).unwrap();
                    }
                    if let Some(r) = &f.result {
                        printer.print_type_name(&resolve, r).unwrap();
                    }
                }
                wit_parser::WorldItem::Type { id, .. } => printer
                    .print_type_name(&resolve, &wit_parser::Type::Id(*id))
                    .unwrap(),
            }
            (name, printer.output.to_string())
        })
        .collect()
}

/// Adds the packages under the repository's `wit/deps` (wasi:clocks,
/// wasi:random, wasi:otel) so test WIT can use them.
fn push_deps(resolve: &mut Resolve) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/deps");
    for dep in ["clocks", "random", "otel"] {
        resolve
            .push_dir(format!("{root}/{dep}"))
            .expect("wit/deps parse");
    }
}

/// The names a component imports, from its world.
pub fn imports(bytes: &[u8]) -> Vec<String> {
    let (resolve, world) = match wit_parser::decoding::decode(bytes).unwrap() {
        wit_parser::decoding::DecodedWasm::Component(resolve, world) => (resolve, world),
        _ => panic!("not a component"),
    };
    resolve.worlds[world]
        .imports
        .iter()
        .filter(|(_, item)| !matches!(item, wit_parser::WorldItem::Type { .. }))
        .map(|(key, _)| resolve.name_world_key(key))
        .collect()
}
