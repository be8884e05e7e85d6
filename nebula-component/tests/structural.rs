//! Structural checks on components made from WIT text with
//! `wit_component::dummy_module`: the output validates and exports exactly
//! what the input exports, with the same types.

use nebula_component::{Options, instrument};
use wit_component::{ComponentEncoder, StringEncoding, WitPrinter};
use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

/// A component whose world is `world` in the WIT `source`.
fn component(source: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    let pkg = resolve.push_str("test.wit", source).expect("test WIT parses");
    let world = resolve.select_world(&[pkg], None).unwrap();
    let mangling = ManglingAndAbi::Legacy(LiftLowerAbi::Sync);
    let mut module = wit_component::dummy_module(&resolve, world, mangling);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        StringEncoding::UTF8,
        false,
    )
    .unwrap();
    ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

/// The exports of a component's world, each printed as WIT.
fn exports(bytes: &[u8]) -> Vec<(String, String)> {
    let (resolve, world) = match wit_parser::decoding::decode(bytes).unwrap() {
        wit_parser::decoding::DecodedWasm::Component(resolve, world) => (resolve, world),
        _ => panic!("not a component"),
    };
    resolve.worlds[world]
        .exports
        .iter()
        .map(|(key, item)| {
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
                wit_parser::WorldItem::Type { .. } => {}
            }
            (resolve.name_world_key(key), printer.output.to_string())
        })
        .collect()
}

#[test]
fn interface_export_round_trips() {
    let input = component(
        r#"
        package a:b@1.0.0;
        interface api {
            record point { x: s32, y: s32 }
            variant shape { circle(f64), square(point), none }
            flags perms { read, write, exec }
            echo: func(s: string) -> string;
            sum: func(xs: list<point>) -> point;
            classify: func(s: shape, p: perms) -> result<u32, string>;
            many: func(a: u8, b: u16, c: u32, d: u64, e: s8, f: s16, g: s32, h: s64,
                       i: f32, j: f64, k: char, l: bool, m: string, n: list<u8>,
                       o: option<u32>, p: tuple<u8, u8>, q: u32) -> tuple<string, u64>;
            nothing: func();
        }
        world w {
            export api;
            export add: func(a: u32, b: u32) -> u32;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    assert_eq!(out.report.wrapped.len(), 6, "{:#?}", out.report);
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    assert_eq!(exports(&input), exports(&out.component));
}
