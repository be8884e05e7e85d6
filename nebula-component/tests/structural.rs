//! Structural checks on components made from WIT text with
//! `wit_component::dummy_module`: the output validates and exports exactly
//! what the input exports, with the same types.

mod common;

use common::{component, exports};
use nebula_component::{Options, instrument};

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
