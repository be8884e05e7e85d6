//! Property test: random worlds from `wit-smith` (no async, futures,
//! streams), each turned into a component by `wit-component`'s dummy module,
//! instrument without error (not even `unsupported`) into components that
//! validate and export exactly the same items with the same types.
//!
//! Seeds run until `NEBULA_SMITH_CASES` worlds (default 500) got at least
//! one span; `NEBULA_SMITH_SEED` sets the first seed, to replay a failure,
//! and `NEBULA_SMITH_SEEDS` caps how many seeds run (`1` replays exactly
//! one). `NEBULA_SMITH_KEEP_GOING` turns failures (panics included) into a
//! list printed at the end, for sweeps; `NEBULA_SMITH_TRACE` writes each
//! world's WIT and the input and output components under `/tmp/smith-*`.

mod common;

use arbitrary::{Arbitrary, Unstructured};
use nebula_component::{Options, instrument};
use wit_parser::decoding::DecodedWasm;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic bytes for `seed` (splitmix64).
fn bytes_for(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5151;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// Removes `@external-id` annotations: an unstable extension of extern
/// names that `wac-graph` 0.12 (the composer) does not carry yet.
fn strip_external_ids(resolve: &mut wit_parser::Resolve) {
    for (_, iface) in resolve.interfaces.iter_mut() {
        iface
            .functions
            .values_mut()
            .for_each(|f| f.external_id = None);
    }
    for (_, ty) in resolve.types.iter_mut() {
        ty.external_id = None;
    }
    for (_, world) in resolve.worlds.iter_mut() {
        for item in world.imports.values_mut().chain(world.exports.values_mut()) {
            match item {
                wit_parser::WorldItem::Interface { external_id, .. } => *external_id = None,
                wit_parser::WorldItem::Function(f) => f.external_id = None,
                wit_parser::WorldItem::Type { .. } => {}
            }
        }
    }
}

#[derive(Default, Debug)]
struct Tally {
    /// Worlds instrumented.
    worlds: usize,
    /// Of those, worlds where at least one function got a span.
    worlds_with_spans: usize,
    functions_wrapped: usize,
    /// Exports passed through unwrapped, by reason.
    passed_through: std::collections::BTreeMap<String, usize>,
    /// Seeds or worlds wit-smith / wit-component could not turn into input.
    not_generated: usize,
}

#[test]
fn random_worlds_instrument_and_keep_their_exports() {
    let cases = env_or("NEBULA_SMITH_CASES", 500) as usize;
    let first = env_or("NEBULA_SMITH_SEED", 0);
    let seeds = env_or("NEBULA_SMITH_SEEDS", u64::MAX);
    let keep_going = std::env::var_os("NEBULA_SMITH_KEEP_GOING").is_some();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for seed in first.. {
        if tally.worlds_with_spans >= cases || seed - first >= seeds {
            break;
        }
        assert!(
            seed - first < 100 * cases as u64,
            "wit-smith generates too few worlds with exports: {tally:#?}"
        );
        let data = bytes_for(seed, 8192);
        let mut u = Unstructured::new(&data);
        let Ok(mut config) = wit_smith::Config::arbitrary(&mut u) else {
            tally.not_generated += 1;
            continue;
        };
        // Worlds with something to export.
        config.max_world_items = config.max_world_items.max(4);
        config.max_interface_items = config.max_interface_items.max(4);
        config.async_ = false;
        config.futures = false;
        config.streams = false;
        config.error_context = false;
        config.fixed_length_lists = false;
        let Ok(wasm) = wit_smith::smith(&config, &mut u) else {
            tally.not_generated += 1;
            continue;
        };
        let Ok(DecodedWasm::WitPackage(mut resolve, package)) = wit_parser::decoding::decode(&wasm)
        else {
            panic!("seed {seed}: wit-smith output does not decode as a WIT package");
        };
        strip_external_ids(&mut resolve);
        for (name, world) in &resolve.packages[package].worlds {
            let Ok(input) = common::component_of(&resolve, *world) else {
                tally.not_generated += 1;
                continue;
            };
            tally.worlds += 1;
            if std::env::var_os("NEBULA_SMITH_TRACE").is_some() {
                eprintln!("seed {seed}, world `{name}`");
                let mut printer = wit_component::WitPrinter::default();
                let nested: Vec<_> = resolve
                    .packages
                    .iter()
                    .map(|(id, _)| id)
                    .filter(|id| *id != package)
                    .collect();
                printer.print(&resolve, package, &nested).unwrap();
                std::fs::write(
                    format!("/tmp/smith-input-{name}.wit"),
                    printer.output.to_string(),
                )
                .unwrap();
                std::fs::write(format!("/tmp/smith-input-{name}.wasm"), &input).unwrap();
            }
            // Every shape instruments: what cannot be wrapped passes through
            // (listed in the report), and no error is expected, not even
            // `unsupported`.
            let check = || {
                let out = instrument(&input, &Options::default())
                    .unwrap_or_else(|e| panic!("seed {seed}, world `{name}`: {e}"));
                if std::env::var_os("NEBULA_SMITH_TRACE").is_some() {
                    std::fs::write(format!("/tmp/smith-output-{name}.wasm"), &out.component)
                        .unwrap();
                }
                wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
                    .validate_all(&out.component)
                    .unwrap_or_else(|e| panic!("seed {seed}, world `{name}`: output invalid: {e}"));
                assert_eq!(
                    common::exports(&input),
                    common::exports(&out.component),
                    "seed {seed}, world `{name}`: exports differ"
                );
                out
            };
            let out = if keep_going {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
                    Ok(out) => out,
                    Err(payload) => {
                        let message = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        let first_line = message.lines().next().unwrap_or_default().to_string();
                        failures.push(format!("seed {seed}, world `{name}`: {first_line}"));
                        continue;
                    }
                }
            } else {
                check()
            };
            tally.functions_wrapped += out.report.wrapped.len();
            tally.worlds_with_spans += usize::from(!out.report.wrapped.is_empty());
            for skipped in &out.report.skipped {
                let reason = skipped.split_once(": ").map_or("", |(_, r)| r);
                let reason: String = reason.split('`').step_by(2).collect::<Vec<_>>().join("_");
                *tally.passed_through.entry(reason).or_default() += 1;
            }
        }
    }
    println!("wit-smith: {tally:#?}");
    for failure in &failures {
        println!("FAILED {failure}");
    }
    assert!(failures.is_empty(), "{} worlds failed", failures.len());
}
