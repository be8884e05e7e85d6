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
use wit_parser::{IndexMap, InterfaceId, PackageId, Resolve, WorldId, WorldItem, WorldKey};

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

/// One generated world, ready to build a component of.
struct Generated<'a> {
    seed: u64,
    name: &'a str,
    resolve: &'a Resolve,
    package: PackageId,
    world: WorldId,
}

/// Feeds every world wit-smith generates from seed `first` on to `each`
/// until `each` returns `false`; counts seeds that gave no world.
fn for_each_world(
    first: u64,
    not_generated: &mut usize,
    mut each: impl FnMut(Generated<'_>) -> bool,
) {
    let seeds = env_or("NEBULA_SMITH_SEEDS", u64::MAX);
    for seed in (first..).take_while(|s| s - first < seeds) {
        let data = bytes_for(seed, 8192);
        let mut u = Unstructured::new(&data);
        let Ok(mut config) = wit_smith::Config::arbitrary(&mut u) else {
            *not_generated += 1;
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
            *not_generated += 1;
            continue;
        };
        let Ok(DecodedWasm::WitPackage(mut resolve, package)) = wit_parser::decoding::decode(&wasm)
        else {
            panic!("seed {seed}: wit-smith output does not decode as a WIT package");
        };
        strip_external_ids(&mut resolve);
        for (name, world) in &resolve.packages[package].worlds {
            let generated = Generated {
                seed,
                name,
                resolve: &resolve,
                package,
                world: *world,
            };
            if !each(generated) {
                return;
            }
        }
    }
}

#[test]
fn random_worlds_instrument_and_keep_their_exports() {
    let cases = env_or("NEBULA_SMITH_CASES", 500) as usize;
    let first = env_or("NEBULA_SMITH_SEED", 0);
    let keep_going = std::env::var_os("NEBULA_SMITH_KEEP_GOING").is_some();
    let trace = std::env::var_os("NEBULA_SMITH_TRACE").is_some();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let mut not_generated = 0;
    for_each_world(first, &mut not_generated, |g| {
        let (seed, name, resolve, package) = (g.seed, g.name, g.resolve, g.package);
        assert!(
            seed - first < 100 * cases as u64,
            "wit-smith generates too few worlds with exports: {tally:#?}"
        );
        let Ok(input) = common::component_of(resolve, g.world) else {
            tally.not_generated += 1;
            return true;
        };
        tally.worlds += 1;
        if trace {
            eprintln!("seed {seed}, world `{name}`");
            let mut printer = wit_component::WitPrinter::default();
            let nested: Vec<_> = resolve
                .packages
                .iter()
                .map(|(id, _)| id)
                .filter(|id| *id != package)
                .collect();
            printer.print(resolve, package, &nested).unwrap();
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
            if trace {
                std::fs::write(format!("/tmp/smith-output-{name}.wasm"), &out.component).unwrap();
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
                    return true;
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
        tally.worlds_with_spans < cases
    });
    tally.not_generated += not_generated;
    println!("wit-smith: {tally:#?}");
    for failure in &failures {
        println!("FAILED {failure}");
    }
    assert!(failures.is_empty(), "{} worlds failed", failures.len());
}

/// A world in `resolve` that exports every named interface `world` imports
/// (with what those use imported): a component of it can feed one of
/// `world`.
fn provider_world(resolve: &mut Resolve, package: PackageId, world: WorldId) -> Option<WorldId> {
    let provided: Vec<InterfaceId> = resolve.worlds[world]
        .imports
        .iter()
        .filter_map(|(key, item)| match (key, item) {
            (WorldKey::Interface(_), WorldItem::Interface { id, .. })
                if !resolve.interfaces[*id].functions.is_empty() =>
            {
                Some(*id)
            }
            _ => None,
        })
        .collect();
    if provided.is_empty() {
        return None;
    }
    let mut imports = IndexMap::default();
    let mut exports = IndexMap::default();
    for id in &provided {
        exports.insert(WorldKey::Interface(*id), interface_item(*id));
    }
    // Interfaces the provided ones use, transitively, are imported.
    let mut pending = provided.clone();
    while let Some(id) = pending.pop() {
        for dep in resolve.interface_direct_deps(id).collect::<Vec<_>>() {
            if !provided.contains(&dep) && !imports.contains_key(&WorldKey::Interface(dep)) {
                imports.insert(WorldKey::Interface(dep), interface_item(dep));
                pending.push(dep);
            }
        }
    }
    let id = resolve.worlds.alloc(wit_parser::World {
        name: "nebula-provider".into(),
        imports,
        exports,
        package: Some(package),
        docs: Default::default(),
        stability: Default::default(),
        includes: Default::default(),
        span: Default::default(),
    });
    Some(id)
}

fn interface_item(id: InterfaceId) -> WorldItem {
    WorldItem::Interface {
        id,
        stability: Default::default(),
        span: Default::default(),
        docs: Default::default(),
        external_id: None,
    }
}

/// `user` with its imports that `provider` exports plugged in (`wac plug`).
fn plug(user: &[u8], provider: &[u8]) -> Option<Vec<u8>> {
    let mut graph = wac_graph::CompositionGraph::new();
    let mut register = |name: &str, bytes: &[u8]| {
        let package =
            wac_graph::types::Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
                .ok()?;
        graph.register_package(package).ok()
    };
    let user = register("smith:user", user)?;
    let provider = register("smith:provider", provider)?;
    wac_graph::plug(&mut graph, vec![provider], user).ok()?;
    // wac-graph 0.12 panics encoding some shapes (top-level `borrow`
    // imports); those pairs make no input.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        graph.encode(wac_graph::EncodeOptions::default()).ok()
    }))
    .ok()
    .flatten()
}

/// The composition of a component of `g`'s world with a provider of the
/// interfaces it imports plugged in, both from `resolve`.
fn composition(resolve: &mut Resolve, g: &Generated<'_>) -> Option<Vec<u8>> {
    let provider = provider_world(resolve, g.package, g.world)?;
    let user = common::component_of(resolve, g.world).ok()?;
    let provider = common::component_of(resolve, provider).ok()?;
    plug(&user, &provider)
}

#[test]
fn random_compositions_instrument_inside_and_keep_their_exports() {
    let cases = env_or("NEBULA_SMITH_PAIRS", 200) as usize;
    let first = env_or("NEBULA_SMITH_SEED", 0);
    let (mut composed, mut inside, mut wrapped, mut not_generated) = (0, 0, 0, 0);
    for_each_world(first, &mut not_generated, |g| {
        assert!(
            g.seed - first < 200 * cases as u64,
            "too few compositions: {inside} of {composed}"
        );
        let mut resolve = g.resolve.clone();
        let Some(input) = composition(&mut resolve, &g) else {
            return true;
        };
        composed += 1;
        let (seed, name) = (g.seed, g.name);
        let out = instrument(&input, &Options::default())
            .unwrap_or_else(|e| panic!("seed {seed}, world `{name}` composed: {e}"));
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&out.component)
            .unwrap_or_else(|e| {
                panic!("seed {seed}, world `{name}` composed: output invalid: {e}")
            });
        // Instance types are sets of named items: compare them in any order.
        let items = |bytes: &[u8]| {
            common::exports(bytes)
                .into_iter()
                .map(|(name, wit)| {
                    let mut items: Vec<String> = wit.split("\n\n").map(str::to_string).collect();
                    items.sort();
                    (name, items)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            items(&input),
            items(&out.component),
            "seed {seed}, world `{name}` composed: exports differ"
        );
        // The output imports what the input does, plus the span runtime's
        // interfaces.
        let (before, after) = (common::imports(&input), common::imports(&out.component));
        for name in &before {
            assert!(
                after.contains(name),
                "seed {seed}: import `{name}` lost: {after:?}"
            );
        }
        for name in after.iter().filter(|n| !before.contains(n)) {
            assert!(
                ["wasi:otel/", "wasi:clocks/wall-clock", "wasi:random/random"]
                    .iter()
                    .any(|p| name.starts_with(p)),
                "seed {seed}: unexpected import `{name}`"
            );
        }
        if !out.report.components.is_empty() {
            assert_eq!(
                out.report.components.len(),
                2,
                "seed {seed}: {:?}",
                out.report
            );
            inside += 1;
            wrapped += out.report.wrapped.len();
        }
        inside < cases
    });
    println!(
        "wit-smith compositions: {composed} composed, {inside} instrumented inside \
         ({wrapped} functions wrapped), {not_generated} seeds gave no world"
    );
    assert!(inside >= cases);
}

/// `world` importing `wasi:clocks/wall-clock@0.2.0` and
/// `wasi:random/random@0.2.0` too (the span runtime's imports), with each
/// interface it imports but does not export trimmed to a random subset of
/// its functions (sometimes none: imported for its types alone), as
/// encoders trim what a component does not use. `None` when the WASI
/// packages do not fit in `resolve`.
fn trimmed(resolve: &mut Resolve, world: WorldId, seed: u64) -> Option<()> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/deps");
    for (dir, name) in [("clocks", "wall-clock"), ("random", "random")] {
        let (package, _) = resolve.push_dir(format!("{root}/{dir}")).ok()?;
        let id = *resolve.packages[package].interfaces.get(name)?;
        resolve.worlds[world]
            .imports
            .insert(WorldKey::Interface(id), interface_item(id));
    }
    let exported: Vec<InterfaceId> = resolve.worlds[world]
        .exports
        .values()
        .filter_map(|item| match item {
            WorldItem::Interface { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    let imported: Vec<InterfaceId> = resolve.worlds[world]
        .imports
        .values()
        .filter_map(|item| match item {
            WorldItem::Interface { id, .. } if !exported.contains(id) => Some(*id),
            _ => None,
        })
        .collect();
    let choices = bytes_for(seed ^ 0x7472_696d, 4096);
    let mut choice = choices.iter().cycle();
    for id in imported {
        // A quarter of the interfaces keep no function at all.
        let none = choice.next().is_some_and(|b| b % 4 == 0);
        resolve.interfaces[id]
            .functions
            .retain(|_, _| !none && choice.next().is_some_and(|b| b % 2 == 0));
    }
    Some(())
}

/// The outcome of instrumenting one input of a property test: `Err` with
/// a line for the failure list when it is an internal error or the output
/// does not validate; `Ok(None)` for a user error.
fn outcome(input: &[u8], what: &str) -> Result<Option<nebula_component::Instrumented>, String> {
    match instrument(input, &Options::default()) {
        Ok(out) => {
            wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
                .validate_all(&out.component)
                .map_err(|e| format!("{what}: output invalid: {e}"))?;
            Ok(Some(out))
        }
        Err(e @ nebula_component::Error::Internal(_)) => Err(format!("{what}: {e}")),
        Err(_) => Ok(None),
    }
}

#[test]
fn worlds_with_trimmed_imports_never_fail_internally() {
    // Cases are worlds where something got a span, so the span runtime
    // shares the trimmed WASI imports.
    let cases = env_or("NEBULA_SMITH_TRIMMED", 2000) as usize;
    let first = env_or("NEBULA_SMITH_SEED", 0);
    let (mut with_spans, mut worlds, mut wrapped, mut refused, mut skipped) = (0, 0, 0, 0, 0);
    let mut not_generated = 0;
    let mut failures = Vec::new();
    for_each_world(first, &mut not_generated, |g| {
        assert!(
            g.seed - first < 100 * cases as u64,
            "too few trimmed worlds with spans: {with_spans} of {worlds}"
        );
        let mut resolve = g.resolve.clone();
        let input = trimmed(&mut resolve, g.world, g.seed)
            .and_then(|()| common::component_of(&resolve, g.world).ok());
        let Some(input) = input else {
            skipped += 1;
            return true;
        };
        worlds += 1;
        match outcome(&input, &format!("seed {}, world `{}`", g.seed, g.name)) {
            Ok(Some(out)) => {
                wrapped += out.report.wrapped.len();
                with_spans += usize::from(!out.report.wrapped.is_empty());
            }
            Ok(None) => refused += 1,
            Err(failure) => {
                failures.push(failure);
                with_spans += 1;
            }
        }
        with_spans < cases
    });
    println!(
        "wit-smith, trimmed imports: {worlds} worlds, {with_spans} with spans ({wrapped} \
         functions wrapped), {refused} refused with a user error, {} not generated",
        skipped + not_generated
    );
    for failure in &failures {
        println!("FAILED {failure}");
    }
    assert!(failures.is_empty(), "{} worlds failed", failures.len());
    assert!(with_spans >= cases);
}

#[test]
fn compositions_with_trimmed_imports_never_fail_internally() {
    let cases = env_or("NEBULA_SMITH_TRIMMED_PAIRS", 300) as usize;
    let first = env_or("NEBULA_SMITH_SEED", 0);
    let (mut inside, mut composed, mut not_generated) = (0, 0, 0);
    let mut failures = Vec::new();
    for_each_world(first, &mut not_generated, |g| {
        assert!(
            g.seed - first < 300 * cases as u64,
            "too few trimmed compositions: {inside} of {composed}"
        );
        let mut resolve = g.resolve.clone();
        let Some(input) =
            trimmed(&mut resolve, g.world, g.seed).and_then(|()| composition(&mut resolve, &g))
        else {
            return true;
        };
        composed += 1;
        if std::env::var_os("NEBULA_SMITH_TRACE").is_some() {
            std::fs::write(format!("/tmp/trim-{}-{}.wasm", g.seed, g.name), &input).unwrap();
        }
        match outcome(
            &input,
            &format!("seed {}, world `{}` composed", g.seed, g.name),
        ) {
            Ok(Some(out)) => inside += usize::from(out.report.components.len() == 2),
            Ok(None) => {}
            Err(failure) => failures.push(failure),
        }
        inside < cases
    });
    println!("wit-smith, trimmed imports: {composed} compositions, {inside} instrumented inside");
    for failure in &failures {
        println!("FAILED {failure}");
    }
    assert!(
        failures.is_empty(),
        "{} compositions failed",
        failures.len()
    );
}
