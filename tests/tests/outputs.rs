//! Blessed outputs: every deterministic input the repository can make,
//! instrumented with a spread of options, its output's length and hash
//! compared with the ones recorded in `snapshots/`.
//!
//! A change to the generator, the composer or the span runtime that moves
//! one byte of an output shows up here; a restructuring must leave the
//! snapshot as it is. When an output changes on purpose, bless the new
//! figures with `INSTA_UPDATE=always cargo test -p nebula-tests --test
//! outputs` (or `cargo insta review`) and say why in the commit.
//!
//! Each line also records the input's length and hash, so a changed input
//! (a fixture's source, the toolchain) is told apart from a changed output.

use nebula_component::{Options, OtelFlavor, Pattern, Skeleton, instrument};
use nebula_tests::compose::{chain, side_by_side};
use nebula_tests::fixtures::{self, read};
use nebula_tests::shapes;

/// FNV-1a, 64 bits: enough to tell outputs apart, stable across platforms
/// and toolchains (unlike `std`'s `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One line of the listing: the input, then what instrumenting it gave.
fn line(case: &str, input: &[u8], options: &Options) -> String {
    let outcome = match instrument(input, options) {
        Ok(done) => format!(
            "{} {:016x} ({} wrapped)",
            done.component.len(),
            fnv1a(&done.component),
            done.report.wrapped.len()
        ),
        Err(e) => format!("error: {e}"),
    };
    format!(
        "{case}: in {} {:016x} -> {outcome}",
        input.len(),
        fnv1a(input)
    )
}

fn patterns(ps: &[&str]) -> Vec<Pattern> {
    ps.iter().map(|p| Pattern::new(p).unwrap()).collect()
}

/// The option sets each fixture is instrumented with.
fn option_sets() -> Vec<(&'static str, Options)> {
    vec![
        ("default", Options::default()),
        (
            "current",
            Options {
                flavor: OtelFlavor::Current("0.2.0-rc.2".into()),
                ..Options::default()
            },
        ),
        (
            "outer",
            Options {
                flavor: OtelFlavor::Outer,
                ..Options::default()
            },
        ),
        (
            "exclude",
            Options {
                exclude: patterns(&["*#get*", "*.new"]),
                ..Options::default()
            },
        ),
        (
            "include-imports",
            Options {
                include: patterns(&["*"]),
                component_name: Some("named".into()),
                ..Options::default()
            },
        ),
        (
            "depth0",
            Options {
                depth: Some(0),
                ..Options::default()
            },
        ),
    ]
}

/// Every deterministic input, named.
fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs: Vec<(String, Vec<u8>)> = fixtures::ALL
        .iter()
        .map(|(name, path)| (format!("fixture {name}"), read(path)))
        .collect();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/nebula/sample.wasm");
    if let Ok(bytes) = std::fs::read(sample) {
        inputs.push(("sample".into(), bytes));
    }
    for shape in shapes::all() {
        inputs.push((format!("shape {}", shape.name), shape.component().unwrap()));
    }
    let (front, middle, back) = (
        read(fixtures::CHAIN_FRONT),
        read(fixtures::CHAIN_MIDDLE),
        read(fixtures::CHAIN_BACK),
    );
    inputs.push((
        "chain front-middle-back".into(),
        chain(&[&front, &middle, &back]).unwrap(),
    ));
    inputs.push((
        "chain middle-back".into(),
        chain(&[&middle, &back]).unwrap(),
    ));
    let counters = read(fixtures::COUNTERS);
    let types = read(fixtures::TYPES);
    inputs.push((
        "side by side counters+types".into(),
        side_by_side(&[&counters, &types]).unwrap(),
    ));
    // Compositions of already instrumented components, and an output
    // instrumented again.
    let middle_done = instrument(&middle, &Options::default()).unwrap().component;
    inputs.push((
        "chain instrumented-middle-back".into(),
        chain(&[&middle_done, &back]).unwrap(),
    ));
    inputs.push((
        "instrumented counters".into(),
        instrument(&counters, &Options::default())
            .unwrap()
            .component,
    ));
    inputs
}

#[test]
fn outputs_match_the_blessed_hashes() {
    let mut listing = String::new();
    for (case, input) in &inputs() {
        for (name, options) in option_sets() {
            listing.push_str(&line(&format!("{case} [{name}]"), input, &options));
            listing.push('\n');
        }
    }
    insta::assert_snapshot!(listing);
}

/// What `nebula.wasm`'s native shim does with a valid input (instrument its
/// skeleton, put the real modules back) gives the native library's output
/// byte for byte, for every input and option set; and through
/// `nebula.wasm` itself for each input with the default options.
#[test]
fn a_skeleton_restored_is_the_native_output() {
    let nebula = nebula_native::nebula_wasm::NebulaWasm::embedded().unwrap();
    for (case, input) in &inputs() {
        let skeleton = Skeleton::of(input).unwrap();
        assert!(
            skeleton.bytes().len() < input.len() || input.len() < 64 * 1024,
            "{case}: the skeleton ({} bytes) is not smaller than the input ({} bytes)",
            skeleton.bytes().len(),
            input.len()
        );
        for (name, options) in option_sets() {
            let native = instrument(input, &options).unwrap();
            let through = instrument(skeleton.bytes(), &options).unwrap();
            let restored = skeleton.restore(&through.component).unwrap();
            assert!(
                restored == native.component,
                "{case} [{name}]: the restored skeleton output differs from the native output"
            );
            assert_eq!(through.report, native.report, "{case} [{name}]");
        }
        let wasm = nebula.instrument(input, &Options::default()).unwrap();
        let native = instrument(input, &Options::default()).unwrap();
        assert!(
            wasm.component == native.component,
            "{case}: nebula.wasm's output differs from the native output"
        );
    }
}
