//! Components of the shapes other toolchains emit, made by this
//! repository's own code: a WIT world and a hand-written core module (WAT)
//! with real bodies, encoded by `wit-component` the way `wit-bindgen-c`,
//! TinyGo, MoonBit, Zig, Grain, TeaVM, .NET and componentize-* encode
//! theirs. `wit-component` trims every imported instance to the items the
//! core module imports, so a module that imports one function of an
//! interface makes a component importing that function alone.
//!
//! Each [`Shape`] runs: the tests call it plain and instrumented with the
//! same arguments and compare the results and spans.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use wasmtime::component::Val;
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::Resolve;

use crate::host::{HostFn, RunnerBuilder};

/// One shape: a world, its core module, and what the host must serve.
pub struct Shape {
    /// A short name, for messages.
    pub name: &'static str,
    /// What it stands for.
    pub about: &'static str,
    /// The world (the only world of its package).
    pub wit: &'static str,
    /// The core module, legacy (`iface#func`) names.
    pub wat: &'static str,
    /// The core module's string encoding.
    pub encoding: StringEncoding,
    /// Host functions the world imports beyond WASI, `wasi:otel` and the
    /// fixtures' `store`: (instance, function, body).
    pub host: fn() -> Vec<(&'static str, &'static str, HostFn)>,
    /// The span names of wrapped imports a call may make.
    pub client_spans: &'static [&'static str],
}

impl Shape {
    /// The component of this shape.
    pub fn component(&self) -> anyhow::Result<Vec<u8>> {
        component(self.wit, self.wat, self.encoding)
            .with_context(|| format!("building shape `{}`", self.name))
    }

    /// A runner builder serving this shape's host functions.
    pub fn runner(&self) -> RunnerBuilder {
        (self.host)()
            .into_iter()
            .fold(crate::host::Runner::builder(), |b, (i, f, body)| {
                b.host_fn(i, f, body)
            })
    }
}

/// A component of the world in `wit` (WIT that may use the repository's
/// `wit/deps`, the fixtures' `nebula:fixtures` package and `EXTRA_WIT`)
/// with the core module `wat`.
pub fn component(wit: &str, wat: &str, encoding: StringEncoding) -> anyhow::Result<Vec<u8>> {
    build(&[], wit, wat, encoding)
}

/// As [`component`] (UTF-8), with the packages `extra` (WIT sources)
/// besides: for worlds importing packages of their own.
pub fn component_with(extra: &[&str], wit: &str, wat: &str) -> anyhow::Result<Vec<u8>> {
    build(extra, wit, wat, StringEncoding::UTF8)
}

fn build(
    extra: &[&str],
    wit: &str,
    wat: &str,
    encoding: StringEncoding,
) -> anyhow::Result<Vec<u8>> {
    let mut resolve = Resolve::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in [
        "wit/deps/clocks",
        "wit/deps/random",
        "wit/deps/otel",
        "tests/fixtures/wit",
    ] {
        resolve.push_dir(root.join(dir))?;
    }
    for (i, source) in EXTRA_WIT.iter().chain(extra).enumerate() {
        resolve.push_str(format!("extra{i}.wit"), source)?;
    }
    let package = resolve.push_str("shape.wit", wit)?;
    let world = resolve.select_world(&[package], None)?;
    let mut module = wat::parse_str(wat)?;
    wit_component::embed_component_metadata(&mut module, &resolve, world, encoding, false)?;
    ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
}

/// Later patch versions of `wasi:random` and `wasi:clocks`, for worlds
/// that mix patch versions of WASI (the span runtime imports 0.2.0).
const EXTRA_WIT: &[&str] = &[
    "package wasi:random@0.2.3;
interface random {
    get-random-bytes: func(len: u64) -> list<u8>;
    get-random-u64: func() -> u64;
}",
    "package wasi:clocks@0.2.3;
interface wall-clock {
    record datetime { seconds: u64, nanoseconds: u32 }
    now: func() -> datetime;
    resolution: func() -> datetime;
}",
];

/// A bump allocator over the module's memory, reset by each export that
/// allocates (nothing it allocates outlives a call).
macro_rules! bump {
    () => {
        r#"
  (memory (export "memory") 16)
  (global $next (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $at i32)
    (local.set $at
      (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
               (i32.sub (i32.const 0) (local.get 2))))
    (global.set $next (i32.add (local.get $at) (local.get 3)))
    (local.get $at))
"#
    };
}

fn no_host() -> Vec<(&'static str, &'static str, HostFn)> {
    Vec::new()
}

fn u32_arg(args: &[Val]) -> u32 {
    match args.first() {
        Some(Val::U32(v)) => *v,
        other => panic!("expected a u32 argument, got {other:?}"),
    }
}

/// Every shape.
pub fn all() -> Vec<Shape> {
    vec![
        Shape {
            name: "clock-types-only",
            about: "imports `wasi:clocks/wall-clock@0.2.0` for its `datetime` type alone \
                    (no `now`); an unversioned package; no realloc, no string encoding",
            wit: "package test:clock-types;
interface api {
    use wasi:clocks/wall-clock@0.2.0.{datetime};
    seconds: func(d: datetime) -> u64;
    shift: func(d: datetime, by: u32) -> datetime;
}
world shape { export api; }",
            wat: r#"(module
  (memory (export "memory") 1)
  (func (export "test:clock-types/api#seconds") (param i64 i32) (result i64) (local.get 0))
  (func (export "test:clock-types/api#shift") (param i64 i32 i32) (result i32)
    (i64.store (i32.const 64) (i64.add (local.get 0) (i64.extend_i32_u (local.get 2))))
    (i32.store (i32.const 72) (local.get 1))
    (i32.const 64)))"#,
            encoding: StringEncoding::UTF8,
            host: no_host,
            client_spans: &[],
        },
        Shape {
            name: "random-without-u64",
            about: "imports `wasi:random/random@0.2.0` with `get-random-bytes` alone",
            wit: "package test:random-bytes@0.1.0;
interface api { count: func(n: u8) -> u32; }
world shape { import wasi:random/random@0.2.0; export api; }",
            wat: concat!(
                r#"(module
  (import "wasi:random/random@0.2.0" "get-random-bytes" (func $bytes (param i64 i32)))"#,
                bump!(),
                r#"
  (func (export "test:random-bytes/api@0.1.0#count") (param i32) (result i32)
    (global.set $next (i32.const 1024))
    (call $bytes (i64.extend_i32_u (local.get 0)) (i32.const 16))
    (i32.load (i32.const 20))))"#
            ),
            encoding: StringEncoding::UTF8,
            host: no_host,
            client_spans: &[],
        },
        Shape {
            name: "utf16",
            about: "`string-encoding=utf16` (Java/TeaVM, .NET, JavaScript engines): a \
                    string's length counts UTF-16 code units",
            wit: "package test:utf16@0.1.0;
interface text {
    echo: func(s: string) -> string;
    units: func(s: string) -> u32;
}
world shape { export text; }",
            wat: concat!(
                "(module",
                bump!(),
                r#"
  (func (export "test:utf16/text@0.1.0#echo") (param i32 i32) (result i32)
    (global.set $next (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 1))))
    (i32.store (i32.const 16) (local.get 0))
    (i32.store (i32.const 20) (local.get 1))
    (i32.const 16))
  (func (export "test:utf16/text@0.1.0#units") (param i32 i32) (result i32)
    (global.set $next (i32.const 1024))
    (local.get 1)))"#
            ),
            encoding: StringEncoding::UTF16,
            host: no_host,
            client_spans: &[],
        },
        Shape {
            name: "keywords-and-world-functions",
            about: "keyword-escaped names (`%flags`, `%list`, `%map`); a world-level \
                    function next to an interface; no memory at all",
            wit: "package test:keywords;
interface %flags {
    %list: func(%type: u32) -> u32;
    %record: func(%enum: bool) -> bool;
}
world shape {
    export %flags;
    export %map: func(%u32: u32) -> u32;
}",
            wat: r#"(module
  (func (export "test:keywords/flags#list") (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 3)))
  (func (export "test:keywords/flags#record") (param i32) (result i32)
    (i32.eqz (local.get 0)))
  (func (export "map") (param i32) (result i32)
    (i32.xor (local.get 0) (i32.const 0x5a5a))))"#,
            encoding: StringEncoding::UTF8,
            host: no_host,
            client_spans: &[],
        },
        Shape {
            name: "inline-interfaces",
            about: "interfaces of no package: `import host: interface {…}` and \
                    `export calc: interface {…}`",
            wit: "package test:inline;
world shape {
    import host: interface { base: func() -> u32; }
    export calc: interface { add-base: func(x: u32) -> u32; }
}",
            wat: r#"(module
  (import "host" "base" (func $base (result i32)))
  (func (export "calc#add-base") (param i32) (result i32)
    (i32.add (local.get 0) (call $base))))"#,
            encoding: StringEncoding::UTF8,
            host: || vec![("host", "base", Arc::new(|_: &[Val]| vec![Val::U32(1000)]))],
            client_spans: &["host#base"],
        },
        Shape {
            name: "middleware",
            about: "one interface both imported and exported (HTTP middleware's shape)",
            wit: "package test:middleware@0.1.0;
interface handler { handle: func(x: u32) -> u32; }
world shape { import handler; export handler; }",
            wat: r#"(module
  (import "test:middleware/handler@0.1.0" "handle" (func $next (param i32) (result i32)))
  (func (export "test:middleware/handler@0.1.0#handle") (param i32) (result i32)
    (i32.add (call $next (local.get 0)) (i32.const 1))))"#,
            encoding: StringEncoding::UTF8,
            host: || {
                vec![(
                    "test:middleware/handler@0.1.0",
                    "handle",
                    Arc::new(|args: &[Val]| vec![Val::U32(u32_arg(args).wrapping_mul(2))]),
                )]
            },
            client_spans: &["test:middleware/handler#handle"],
        },
        Shape {
            name: "wasi-patch-versions",
            about: "two patch versions of WASI in one world (`wasi:random@0.2.3`, \
                    `wasi:clocks@0.2.0`), the span runtime importing 0.2.0 of both",
            wit: "package test:versions@0.1.0;
interface api {
    roll: func() -> bool;
    clock-runs: func() -> bool;
}
world shape {
    import wasi:random/random@0.2.3;
    import wasi:clocks/wall-clock@0.2.0;
    export api;
}",
            wat: r#"(module
  (import "wasi:random/random@0.2.3" "get-random-u64" (func $u64 (result i64)))
  (import "wasi:clocks/wall-clock@0.2.0" "now" (func $now (param i32)))
  (memory (export "memory") 1)
  (func (export "test:versions/api@0.1.0#roll") (result i32)
    (i32.eqz (i64.eqz (i64.or (call $u64) (i64.const 1)))))
  (func (export "test:versions/api@0.1.0#clock-runs") (result i32)
    (call $now (i32.const 16))
    (i64.gt_u (i64.load (i32.const 16)) (i64.const 0))))"#,
            encoding: StringEncoding::UTF8,
            host: no_host,
            client_spans: &[],
        },
        Shape {
            name: "newer-wall-clock",
            about: "`wasi:clocks/wall-clock@0.2.3`, newer than the 0.2.0 whose `datetime` \
                    the span runtime's `wasi:otel` types use",
            wit: "package test:newer-clock@0.1.0;
interface api { clock-runs: func() -> bool; }
world shape { import wasi:clocks/wall-clock@0.2.3; export api; }",
            wat: r#"(module
  (import "wasi:clocks/wall-clock@0.2.3" "now" (func $now (param i32)))
  (memory (export "memory") 1)
  (func (export "test:newer-clock/api@0.1.0#clock-runs") (result i32)
    (call $now (i32.const 16))
    (i64.gt_u (i64.load (i32.const 16)) (i64.const 0))))"#,
            encoding: StringEncoding::UTF8,
            host: no_host,
            client_spans: &[],
        },
        Shape {
            name: "types-only-import",
            about: "an interface imported only for its types",
            wit: "package test:types-only@0.1.0;
interface geometry { record point { x: s32, y: s32 } }
interface api {
    use geometry.{point};
    manhattan: func(p: point) -> u32;
}
world shape { export api; }",
            wat: r#"(module
  (func $abs (param i32) (result i32)
    (select (i32.sub (i32.const 0) (local.get 0)) (local.get 0)
            (i32.lt_s (local.get 0) (i32.const 0))))
  (func (export "test:types-only/api@0.1.0#manhattan") (param i32 i32) (result i32)
    (i32.add (call $abs (local.get 0)) (call $abs (local.get 1)))))"#,
            encoding: StringEncoding::UTF8,
            host: no_host,
            client_spans: &[],
        },
        Shape {
            name: "wasm-gc-types",
            about: "a core module using WebAssembly GC types (MoonBit's, Kotlin's and \
                    Dart's wasm-gc back ends) behind a linear-memory ABI",
            wit: "package test:gc@0.1.0;
interface api { pair-sum: func(a: s32, b: s32) -> s32; }
world shape { export api; }",
            wat: r#"(module
  (type $pair (struct (field i32) (field i32)))
  (func (export "test:gc/api@0.1.0#pair-sum") (param i32 i32) (result i32)
    (local $p (ref $pair))
    (local.set $p (struct.new $pair (local.get 0) (local.get 1)))
    (i32.add (struct.get $pair 0 (local.get $p)) (struct.get $pair 1 (local.get $p)))))"#,
            encoding: StringEncoding::UTF8,
            host: no_host,
            client_spans: &[],
        },
        Shape {
            name: "imported-resource-parameters",
            about: "exports taking and returning handles of an imported resource \
                    (`own` and `borrow` of the host's `blob`)",
            wit: "package test:borrowed@0.1.0;
interface api {
    use nebula:fixtures/store@0.1.0.{blob};
    make: func(data: list<u8>) -> blob;
    size: func(b: borrow<blob>) -> u32;
    consume: func(b: blob) -> u32;
}
world shape { export api; }",
            wat: concat!(
                r#"(module
  (import "nebula:fixtures/store@0.1.0" "[constructor]blob" (func $new (param i32 i32) (result i32)))
  (import "nebula:fixtures/store@0.1.0" "[method]blob.read" (func $read (param i32 i32)))
  (import "nebula:fixtures/store@0.1.0" "take" (func $take (param i32 i32)))
  (import "nebula:fixtures/store@0.1.0" "[resource-drop]blob" (func $drop (param i32)))"#,
                bump!(),
                r#"
  (func (export "test:borrowed/api@0.1.0#make") (param i32 i32) (result i32)
    (call $new (local.get 0) (local.get 1)))
  (func (export "test:borrowed/api@0.1.0#size") (param i32) (result i32)
    (global.set $next (i32.const 1024))
    (call $read (local.get 0) (i32.const 16))
    ;; A borrowed handle is the callee's to drop before it returns.
    (call $drop (local.get 0))
    (i32.load (i32.const 20)))
  (func (export "test:borrowed/api@0.1.0#consume") (param i32) (result i32)
    (global.set $next (i32.const 1024))
    (call $take (local.get 0) (i32.const 16))
    (i32.load (i32.const 20))))"#
            ),
            encoding: StringEncoding::UTF8,
            host: no_host,
            // The store passes through: its handles cross the exports.
            client_spans: &[],
        },
    ]
}
