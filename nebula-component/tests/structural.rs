//! Structural checks on components made from WIT text with
//! `wit_component::dummy_module`: the output validates and exports exactly
//! what the input exports, with the same types.

mod common;

use common::{component, exports};
use nebula_component::{Direction, Options, instrument};

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

#[test]
fn component_already_importing_otel_shares_the_import() {
    let input = component(
        r#"
        package a:b;
        interface api { work: func(n: u32) -> u32; }
        world w {
            import wasi:otel/tracing@0.3.0;
            import wasi:clocks/wall-clock@0.2.0;
            export api;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    let imports = common::imports(&out.component);
    for name in ["wasi:otel/tracing@0.3.0", "wasi:clocks/wall-clock@0.2.0"] {
        assert_eq!(
            imports.iter().filter(|i| *i == name).count(),
            1,
            "{name} imported once: {imports:?}"
        );
    }
    assert_eq!(exports(&input), exports(&out.component));
}

#[test]
fn output_imports_are_the_inputs_plus_the_span_runtimes() {
    let input = component(
        r#"
        package a:b;
        interface host { get: func(k: string) -> option<string>; }
        interface api { work: func(n: u32) -> u32; }
        world w { import host; export api; }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    let mut expected = common::imports(&input);
    expected.extend(
        [
            "wasi:clocks/wall-clock@0.2.0",
            "wasi:random/random@0.2.0",
            "wasi:otel/types@0.3.0",
            "wasi:otel/tracing@0.3.0",
        ]
        .map(String::from),
    );
    let mut actual = common::imports(&out.component);
    expected.sort();
    actual.sort();
    assert_eq!(actual, expected);
}

#[test]
fn nothing_to_wrap_returns_the_input() {
    // Only low-level WASI imports (not wrapped by default), no exports.
    let input = component(
        r#"
        package a:b;
        world w { import wasi:clocks/wall-clock@0.2.0; }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    assert!(out.component == input, "the output differs from the input");
    assert!(out.report.wrapped.is_empty());
}

#[test]
fn filters_choose_the_spans_but_every_function_is_forwarded() {
    let input = component(
        r#"
        package a:b;
        interface api { keep: func(); drop-me: func(); }
        world w { export api; export top: func(); }
        "#,
    );
    let options = Options {
        exclude: vec!["*#drop-me".parse().unwrap(), "top".parse().unwrap()],
        ..Options::default()
    };
    let out = instrument(&input, &options).expect("instruments");
    let names: Vec<_> = out
        .report
        .wrapped
        .iter()
        .map(|w| w.span_name.as_str())
        .collect();
    assert_eq!(names, ["a:b/api#keep"]);
    assert_eq!(exports(&input), exports(&out.component));
}

#[test]
fn current_flavor_imports_upstreams_current_span_context() {
    let input = component(
        r#"
        package a:b;
        interface api { work: func(n: u32) -> u32; }
        world w { export api; }
        "#,
    );
    let options = Options {
        flavor: nebula_component::OtelFlavor::Current("0.2.0-rc.2".into()),
        ..Options::default()
    };
    let out = instrument(&input, &options).expect("instruments");
    let imports = common::imports(&out.component);
    assert!(
        imports.contains(&"wasi:otel/tracing@0.2.0-rc.2".to_string()),
        "{imports:?}"
    );
    assert!(
        !imports
            .iter()
            .any(|i| i.contains("otel") && i.contains("0.3.0"))
    );
    let wit_parser::decoding::DecodedWasm::Component(resolve, _) =
        wit_parser::decoding::decode(&out.component).unwrap()
    else {
        panic!("not a component");
    };
    let tracing = resolve
        .interfaces
        .iter()
        .find(|(_, i)| i.name.as_deref() == Some("tracing"))
        .map(|(_, i)| i.functions.keys().cloned().collect::<Vec<_>>())
        .unwrap();
    assert!(
        tracing.contains(&"current-span-context".to_string()),
        "{tracing:?}"
    );
    assert!(
        !tracing.contains(&"inner-span-context".to_string()),
        "{tracing:?}"
    );
    let bad = Options {
        flavor: nebula_component::OtelFlavor::Current("latest".into()),
        ..Options::default()
    };
    assert_eq!(
        instrument(&input, &bad).map(|_| ()).map_err(|e| e.kind()),
        Err(nebula_component::ErrorKind::BadOptions)
    );
}

/// Every import of `input` is an import of `output`, with the same WIT.
fn assert_imports_kept(input: &[u8], output: &[u8]) {
    let kept = common::import_items(output);
    for item in common::import_items(input) {
        assert!(kept.contains(&item), "import {item:?} lost: {kept:#?}");
    }
}

#[test]
fn world_level_resource_imports_pass_through() {
    // `wac-graph` 0.12 cannot encode a top-level import taking a `borrow`
    // handle by itself; the composer hides and restores those handles.
    let input = component(
        r#"
        package a:b;
        interface api { work: func(n: u32) -> u32; }
        world w {
            resource r {
                constructor();
                m: func(other: borrow<r>) -> u32;
                s: static func(x: option<borrow<r>>, y: r);
            }
            import f: func(x: borrow<r>, y: tuple<borrow<r>, u32>, z: list<r>);
            import g: func() -> r;
            export api;
            export h: func(n: u32) -> u32;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    assert_eq!(exports(&input), exports(&out.component));
    assert_imports_kept(&input, &out.component);
    let mut spans: Vec<_> = out.report.wrapped.iter().map(|w| &w.span_name).collect();
    spans.sort();
    assert_eq!(spans, ["a:b/api#work", "h"]);
    for name in ["[constructor]r", "[method]r.m", "[static]r.s", "f", "g"] {
        assert!(
            out.report
                .skipped
                .iter()
                .any(|s| s.starts_with(&format!("`{name}`: "))),
            "{name} passes through: {:#?}",
            out.report.skipped
        );
    }
}

#[test]
fn interface_imported_under_two_names_is_wrapped_twice() {
    // `wac-graph` 0.12 would give both imports one instance type, which
    // `wit-parser` cannot decode; each keeps its own, and the label keeps
    // the interface it implements.
    let input = component(
        r#"
        package a:b;
        interface host {
            record pair { a: u32, b: string }
            get: func(p: pair) -> u32;
        }
        interface api { work: func(n: u32) -> u32; }
        world w {
            import x: host;
            import host;
            export api;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    assert_eq!(exports(&input), exports(&out.component));
    assert_imports_kept(&input, &out.component);
    assert!(
        common::import_items(&out.component)
            .iter()
            .any(|(name, _)| name == "x: a:b/host"),
        "{:#?}",
        common::import_items(&out.component)
    );
    let mut spans: Vec<_> = out.report.wrapped.iter().map(|w| &w.span_name).collect();
    spans.sort();
    assert_eq!(spans, ["a:b/api#work", "a:b/host#get", "x#get"]);
    assert!(out.report.skipped.is_empty(), "{:#?}", out.report.skipped);
}

#[test]
fn exports_keep_their_use_of_wrapped_imports() {
    // The export proxy takes `host` from the host, not from the import
    // proxy, so `api`'s `use host.{pair}` still points at the output's
    // import; a passed-through export keeps it by passing `host` through.
    let host = r#"
        package a:b;
        interface host {
            record pair { a: u32, b: string }
            get: func(p: pair) -> u32;
        }
        interface api {
            use host.{pair};
            work: func(p: pair) -> u32;
        }
    "#;
    let check = |world: &str| {
        let input = component(&format!("{host} world w {{ {world} }}"));
        let out = instrument(&input, &Options::default()).expect("instruments");
        wasmparser::Validator::new()
            .validate_all(&out.component)
            .expect("output validates");
        assert_eq!(exports(&input), exports(&out.component));
        assert_imports_kept(&input, &out.component);
        let mut spans: Vec<_> = out
            .report
            .wrapped
            .into_iter()
            .map(|w| w.span_name)
            .collect();
        spans.sort();
        (spans, out.report.skipped)
    };
    let (wrapped, skipped) = check("import x: host; import host; export api;");
    assert_eq!(wrapped, ["a:b/api#work", "a:b/host#get", "x#get"]);
    assert!(skipped.is_empty(), "{skipped:#?}");

    // `thing` passes through: an import has the same name.
    let (wrapped, skipped) = check(
        "import x: host; import host; import thing: func(); \
         export thing: interface { use host.{pair}; work: func(p: pair) -> u32; }",
    );
    assert_eq!(wrapped, ["thing", "x#get"]);
    assert!(
        skipped.iter().any(|s| s.starts_with(
            "`a:b/host`: the passed-through export `thing` uses the types of `a:b/host`"
        )),
        "{skipped:#?}"
    );
}

#[test]
fn anonymous_imported_interface_with_a_resource_is_wrapped() {
    // The import proxy's copy of an anonymous interface must give its
    // methods, statics and constructor the copied resource (wit-component
    // panicked on the original one).
    let input = component(
        r#"
        package a:b;
        interface api { work: func(n: u32) -> u32; }
        world w {
            import store: interface {
                resource handle {
                    constructor(n: u32);
                    get: func() -> u32;
                    make: static func(n: u64, other: handle) -> string;
                }
                ping: func();
            }
            export api;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    assert_eq!(exports(&input), exports(&out.component));
    assert_imports_kept(&input, &out.component);
    let mut spans: Vec<_> = out.report.wrapped.iter().map(|w| &w.span_name).collect();
    spans.sort();
    assert_eq!(
        spans,
        [
            "a:b/api#work",
            "store#handle.get",
            "store#handle.make",
            "store#handle.new",
            "store#ping"
        ]
    );
}

#[test]
fn passed_through_anonymous_export_keeps_its_use_of_an_export() {
    // `thing` passes through (an import has its name) and uses `api`'s
    // types, so `api` must come from the target too.
    let input = component(
        r#"
        package a:b;
        interface api {
            variant v { a(u8), b }
            work: func(x: v) -> u32;
        }
        world w {
            import thing: func();
            export api;
            export thing: interface {
                use api.{v};
                other: func(x: v);
            }
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    assert_eq!(exports(&input), exports(&out.component));
    assert!(
        out.report
            .skipped
            .iter()
            .any(|s| s == "`a:b/api`: passed-through `thing` uses its types"),
        "{:#?}",
        out.report.skipped
    );
}

#[test]
fn labelled_export_keeps_the_interface_it_implements() {
    // `wac-graph` 0.12 encodes the composition's exports by name alone: the
    // label `x` would lose its `(implements "a:b/host")` and `api`, which
    // uses `host`'s types, would no longer name the interface `x` is.
    let input = component(
        r#"
        package a:b;
        interface host {
            flags perms { read, write }
            record pair { a: u32, b: string }
            get: func(p: pair) -> u32;
        }
        interface api {
            use host.{perms};
            work: func(p: perms) -> u32;
        }
        world w {
            import host;
            export x: host;
            export api;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    let exported = exports(&out.component);
    assert_eq!(exports(&input), exported);
    assert!(
        exported.iter().any(|(name, _)| name == "x: a:b/host"),
        "{exported:#?}"
    );
    let mut spans: Vec<_> = out.report.wrapped.iter().map(|w| &w.span_name).collect();
    spans.sort();
    assert_eq!(spans, ["a:b/api#work", "x#get"]);
}

#[test]
fn world_type_with_an_imported_resource_handle_is_kept() {
    // A world-level `use` of a type holding a handle to a resource of an
    // imported interface: `wac-graph` 0.12 would encode the type import as
    // a local definition and fail to find the resource (a panic).
    let input = component(
        r#"
        package a:b;
        interface res {
            resource r { get: func() -> u32; }
            record holder { h: r, n: u32 }
        }
        interface api { work: func(n: u32) -> u32; }
        world w {
            import res;
            use res.{holder};
            export api;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    assert_eq!(exports(&input), exports(&out.component));
    assert_imports_kept(&input, &out.component);
    let spans: Vec<_> = out.report.wrapped.iter().map(|w| &w.span_name).collect();
    assert_eq!(spans, ["a:b/api#work"]);
}

#[test]
fn use_chains_keep_their_middle_interface() {
    // `wac-types` 0.12 credits `mid`'s and `top`'s `use` of `kind` to
    // `base`, which defines it: the output's `top` would `use base.{kind}`,
    // and so would the label `x` implementing it.
    let input = component(
        r#"
        package a:b;
        interface base { enum kind { a, b } }
        interface mid { use base.{kind}; }
        interface top {
            use mid.{kind};
            get: func(k: kind) -> u32;
        }
        world w {
            import top;
            export x: top;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    let exported = exports(&out.component);
    assert_eq!(exports(&input), exported);
    assert!(exported[0].1.contains("use mid.{kind};"), "{exported:#?}");
    assert_imports_kept(&input, &out.component);
}

#[test]
fn wrapped_import_keeps_the_targets_view() {
    // A proxy imports `api` with its types in the order its functions use
    // them; were the host import of the wrapped `api` declared with that
    // view, `api` (imported and exported) would list `second` first.
    let input = component(
        r#"
        package a:b;
        interface api {
            type first = option<f64>;
            type second = list<bool>;
            f: func(x: tuple<second, first>) -> u32;
        }
        world w {
            import api;
            use api.{first};
            export api;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    assert_eq!(exports(&input), exports(&out.component));
    assert_imports_kept(&input, &out.component);
    let mut spans: Vec<_> = out.report.wrapped.iter().map(|w| &w.span_name).collect();
    spans.sort();
    assert_eq!(spans, ["a:b/api#f", "a:b/api#f"]);
}

#[test]
fn export_using_a_resource_of_an_interface_imported_and_exported_passes_through() {
    // `make` returns the world-level `k`, the imported `res`'s resource; a
    // proxy's world would take `res` from the target's export instead, and
    // the composition would not validate.
    let input = component(
        r#"
        package a:b;
        interface res {
            resource r;
            f: func();
        }
        world w {
            import res;
            use res.{r as k};
            export make: func() -> k;
            export res;
            export other: func(n: u32) -> u32;
        }
        "#,
    );
    let out = instrument(&input, &Options::default()).expect("instruments");
    wasmparser::Validator::new()
        .validate_all(&out.component)
        .expect("output validates");
    assert_eq!(exports(&input), exports(&out.component));
    assert_imports_kept(&input, &out.component);
    assert!(
        out.report.skipped.iter().any(|s| s.starts_with("`make`: ")),
        "{:#?}",
        out.report.skipped
    );
    assert!(out.report.wrapped.iter().any(|w| w.span_name == "other"));
}

/// The span names `options` selects in a component that imports a custom
/// interface and a chatty WASI one and exports an interface.
fn selected_spans(options: &Options) -> Vec<(String, Direction)> {
    let input = component(
        r#"
        package a:b;
        interface host { fetch: func(key: string) -> string; }
        interface api { get: func(key: string) -> string; put: func(v: u32); }
        world w {
            import host;
            import wasi:random/random@0.2.0;
            export api;
        }
        "#,
    );
    let out = instrument(&input, options).expect("instruments");
    assert_eq!(exports(&input), exports(&out.component));
    out.report
        .wrapped
        .iter()
        .map(|w| (w.span_name.clone(), w.direction))
        .collect()
}

#[test]
fn filters_apply_to_imports_and_exports_with_chatty_wasi_off_by_default() {
    let spans = |include: &[&str], exclude: &[&str]| {
        let options = Options {
            include: include.iter().map(|p| p.parse().unwrap()).collect(),
            exclude: exclude.iter().map(|p| p.parse().unwrap()).collect(),
            ..Options::default()
        };
        let mut names: Vec<_> = selected_spans(&options)
            .into_iter()
            .map(|(name, direction)| format!("{direction:?} {name}"))
            .collect();
        names.sort();
        names
    };
    // Defaults: every export and the custom import; `wasi:random` is one of
    // the chatty low-level interfaces, skipped unless included.
    assert_eq!(
        spans(&[], &[]),
        [
            "Export a:b/api#get",
            "Export a:b/api#put",
            "Import a:b/host#fetch"
        ]
    );
    // Include selects in both directions, and re-enables a chatty import.
    assert_eq!(
        spans(&["wasi:random/*", "*#get"], &[]),
        [
            "Export a:b/api#get",
            "Import wasi:random/random#get-random-bytes",
            "Import wasi:random/random#get-random-u64",
        ]
    );
    // Exclude removes in both directions.
    assert_eq!(spans(&[], &["a:b/host#*", "*#put"]), ["Export a:b/api#get"]);
    assert_eq!(spans(&["*#fetch"], &[]), ["Import a:b/host#fetch"]);
}

#[test]
fn a_composition_with_core_modules_at_its_top_is_wrapped_at_its_boundary() {
    use wasm_encoder::{
        Alias, ComponentAliasSection, ComponentExportKind, ComponentExportSection,
        ComponentInstanceSection, Module,
    };
    let inner = component(
        r#"
        package a:b;
        interface api { work: func(n: u32) -> u32; }
        world w { export api; }
        "#,
    );
    // Two inner components and, beside them, a core module: not a plain
    // composition.
    let mut outer = wasm_encoder::Component::new();
    for _ in 0..2 {
        outer.section(&wasm_encoder::RawSection {
            id: wasm_encoder::ComponentSectionId::Component as u8,
            data: &inner,
        });
    }
    outer.section(&wasm_encoder::ModuleSection(&Module::new()));
    let mut instances = ComponentInstanceSection::new();
    instances.instantiate(0, Vec::<(&str, ComponentExportKind, u32)>::new());
    instances.instantiate(1, Vec::<(&str, ComponentExportKind, u32)>::new());
    outer.section(&instances);
    let mut aliases = ComponentAliasSection::new();
    aliases.alias(Alias::InstanceExport {
        instance: 0,
        kind: ComponentExportKind::Instance,
        name: "a:b/api",
    });
    outer.section(&aliases);
    let mut export_section = ComponentExportSection::new();
    export_section.export("a:b/api", ComponentExportKind::Instance, 2, None);
    outer.section(&export_section);
    let input = outer.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&input)
        .expect("the test input validates");

    let out = instrument(&input, &Options::default()).expect("instruments");
    assert!(out.report.components.is_empty(), "{:?}", out.report);
    let names: Vec<_> = out
        .report
        .wrapped
        .iter()
        .map(|w| w.span_name.as_str())
        .collect();
    assert_eq!(names, ["a:b/api#work"]);
    assert!(
        out.report
            .skipped
            .iter()
            .any(|s| s.starts_with("inner components: not instrumented")),
        "{:#?}",
        out.report.skipped
    );
    assert_eq!(exports(&input), exports(&out.component));
}
