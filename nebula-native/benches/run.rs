//! `cargo bench -p nebula-native --bench run`: the per-call cost of
//! tracing on the `nebula run` host, side by side in one run.
//!
//! One component (`guests/spans`) supplies the same computation three ways:
//!
//! - *none*: `work(n)`, plain;
//! - *manual*: `work-manual(n)`, the same inside one span made by hand
//!   through `wasi:otel` (the way hand-written instrumentation does it);
//! - *automatic*: `work(n)` of the component instrumented by Nebula (one
//!   server span per call, made by the proxy);
//! - *forwarded, no span*: `work(n)` through a proxy whose filter excludes
//!   it (the forwarding hop alone);
//!
//! each with a sampled parent (spans go through the export queue to a
//! worker with no exporter, the cost a run pays before any output), and
//! with an unsampled parent (the host drops the spans: what remains is the
//! forwarding and the `wasi:otel` calls themselves).
//!
//! A second table times a wrapped import: `guests/imports`'
//! `work-imports(n)` calls the host's `host-work.tick` `n` times, plain
//! (*none*) and instrumented with only the import wrapped (*automatic*: one
//! client span per `tick`, made by the import proxy; the export is excluded,
//! so its proxy hop is the only other difference, shared by the `n` calls).
//!
//! A fourth table puts the in-guest exporter of `--export-to` beside the
//! host.
//!
//! Engine: wasmtime 48, `Config::concurrency_support(false)`, typed host
//! bindings. Figures: median ns per call over rounds of calls on one
//! instance.

use std::time::Instant;

use nebula_component::{Options, Pattern};
use nebula_native::export::{ExportConfig, Exporter, Resource};
use nebula_native::guests;
use nebula_native::host::otel::{OtelHost, SpanContext, TraceFlags};
use nebula_native::host::state::{self, HostState, Mode};
use wasmtime::Store;
use wasmtime::component::Component;
use wasmtime_wasi::WasiCtx;

/// Rounds of arithmetic per call: small, so the call overhead shows.
const WORK: u32 = 10;
/// Calls per timed round.
const CALLS: u32 = 20_000;
/// Timed rounds (the median is reported).
const ROUNDS: usize = 7;
/// Import calls per call of `work-imports`.
const IMPORTS: u32 = 10;

/// A remote parent with or without the sampled flag.
fn parent(sampled: bool) -> SpanContext {
    SpanContext {
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        trace_flags: if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::empty()
        },
        is_remote: true,
        trace_state: Vec::new(),
    }
}

/// Median ns per call of `iface#func(arg)` in `component` over rounds of
/// `calls` calls, and spans dropped. The host provides `host-work.tick` to components that import it.
fn measure(
    engine: &wasmtime::Engine,
    component: &Component,
    (iface, func, arg): (&str, &str, u32),
    calls: u32,
    sampled: bool,
) -> anyhow::Result<(f64, u64)> {
    let exporter = Exporter::start(ExportConfig {
        tree: None,
        warnings: Box::new(std::io::sink()),
        trace_file: None,
        collector: None,
        queue_capacity: 1 << 20,
        resource: Resource {
            service_name: "bench".into(),
        },
    });
    let mut linker = state::linker(engine, component, Mode::Sync)?;
    linker
        .instance("nebula:guests/host-work@0.1.0")?
        .func_wrap("tick", |_, (x,): (u32,)| Ok((x.wrapping_mul(31) ^ 7,)))?;
    let otel = OtelHost::with_sink(exporter.sink(), Some(parent(sampled)));
    let mut store = Store::new(engine, HostState::new(WasiCtx::builder().build(), otel));
    let instance = linker.instantiate(&mut store, component)?;
    let iface = component
        .get_export_index(None, iface)
        .ok_or_else(|| anyhow::anyhow!("no `{iface}`"))?;
    let index = component
        .get_export_index(Some(&iface), func)
        .ok_or_else(|| anyhow::anyhow!("no `{func}`"))?;
    let f = instance.get_typed_func::<(u32,), (u32,)>(&mut store, index)?;
    for _ in 0..calls {
        f.call(&mut store, (arg,))?;
    }
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..calls {
            std::hint::black_box(f.call(&mut store, (arg,))?);
        }
        rounds.push(start.elapsed().as_nanos() as f64 / f64::from(calls));
    }
    drop(store);
    let summary = exporter.finish();
    rounds.sort_by(f64::total_cmp);
    Ok((rounds[ROUNDS / 2], summary.dropped_queue_full))
}

fn main() -> anyhow::Result<()> {
    let plain_bytes = std::fs::read(guests::SPANS)?;
    let instrumented_bytes =
        nebula_component::instrument(&plain_bytes, &Options::default())?.component;
    // Every function still goes through the proxy, but `work` gets no span:
    // the cost of the forwarding hop alone.
    let forward_only = Options {
        exclude: vec![nebula_component::Pattern::new("*#work")?],
        ..Options::default()
    };
    let forwarded_bytes = nebula_component::instrument(&plain_bytes, &forward_only)?.component;
    let engine = state::engine(Mode::Sync)?;
    let plain = Component::new(&engine, &plain_bytes)?;
    let instrumented = Component::new(&engine, &instrumented_bytes)?;
    let forwarded = Component::new(&engine, &forwarded_bytes)?;

    println!(
        "per-call cost on the nebula run host (wasmtime 48, concurrency_support(false)), \
         work({WORK}), median of {ROUNDS} rounds of {CALLS} calls\n"
    );
    println!("| case | sampled | ns/call | spans dropped |");
    println!("| --- | --- | ---: | ---: |");
    let mut figures = Vec::new();
    for (case, component, func) in [
        ("none", &plain, "work"),
        ("manual", &plain, "work-manual"),
        ("automatic", &instrumented, "work"),
        ("forwarded, no span", &forwarded, "work"),
    ] {
        for sampled in [true, false] {
            if matches!(case, "none" | "forwarded, no span") && !sampled {
                continue;
            }
            let call = ("nebula:guests/spans@0.1.0", func, WORK);
            let (ns, dropped) = measure(&engine, component, call, CALLS, sampled)?;
            println!(
                "| {case} | {} | {ns:.0} | {dropped} |",
                if sampled { "yes" } else { "no" }
            );
            figures.push(((case, sampled), ns));
        }
    }
    let get = |case, sampled| {
        figures
            .iter()
            .find(|(k, _)| *k == (case, sampled))
            .map_or(f64::NAN, |(_, ns)| *ns)
    };
    let (none, manual, automatic) = (
        get("none", true),
        get("manual", true),
        get("automatic", true),
    );
    let unsampled = get("automatic", false);
    let hop = get("forwarded, no span", true);
    println!();
    println!(
        "automatic / manual: {:.2}x (goal <= 1.1x)",
        automatic / manual
    );
    println!(
        "automatic, spans not sampled, over none: {:+.0} ns/call (goal <= 50 ns)",
        unsampled - none
    );
    println!(
        "of which the proxy hop (forwarded, no span) over none: {:+.0} ns/call; \
         the rest is one `inner-span-context` call",
        hop - none
    );
    println!(
        "manual over none: {:+.0} ns/call; automatic over none: {:+.0} ns/call",
        manual - none,
        automatic - none
    );
    imports(&engine)?;
    flavors(&engine, &plain)?;
    in_guest(&engine, &plain_bytes, automatic - none)
}

/// The fourth table: the in-guest exporter (`--export-to`) against the
/// `nebula run` host, ns per sampled call over plain. The exporter
/// serializes each top-level call's span and writes it through
/// `wasi:cli/stderr` (here a sink); the host's figure is the first
/// table's *automatic*, sampled.
fn in_guest(engine: &wasmtime::Engine, plain_bytes: &[u8], host: f64) -> anyhow::Result<()> {
    use nebula_component::ExportTo;
    let plain = Component::new(engine, plain_bytes)?;
    let call = ("nebula:guests/spans@0.1.0", "work", WORK);
    let (none, _) = measure(engine, &plain, call, CALLS, true)?;
    println!(
        "
the in-guest exporter (`--export-to`, stderr a sink) against the nebula run host, \
         one sampled span per call, ns per call over plain, median of {ROUNDS} rounds\n"
    );
    println!("| where spans go | ns/call over plain |");
    println!("| --- | ---: |");
    println!("| nebula run host (export queue) | {host:+.0} |");
    for export_to in [ExportTo::Stderr, ExportTo::Console] {
        let options = Options {
            export_to: Some(export_to.clone()),
            ..Options::default()
        };
        let bytes = nebula_component::instrument(plain_bytes, &options)?.component;
        let component = Component::new(engine, &bytes)?;
        let (ns, _) = measure(engine, &component, call, CALLS, true)?;
        println!(
            "| in-guest, `--export-to {export_to}` | {:+.0} |",
            ns - none
        );
    }
    Ok(())
}

/// The third table: per flavor, what the span runtime's own stack saves.
/// *Nested, unsampled*: each of `work-imports`' `tick` calls (import and
/// export wrapped) runs inside the export's call under an unsampled parent,
/// so the runtime answers its parent from its stack and makes no host
/// call (the figure: over the same call with only the export wrapped, per
/// `tick`); *top-level, unsampled*: `work(n)` under an unsampled parent, one
/// host query per call; *sampled*: `work(n)` with a span, against the
/// hand-made span of `work-manual` (built for `inner`, the same guest in
/// every row).
fn flavors(engine: &wasmtime::Engine, plain: &Component) -> anyhow::Result<()> {
    use nebula_component::OtelFlavor;
    let spans_bytes = std::fs::read(guests::SPANS)?;
    let imports_bytes = std::fs::read(guests::IMPORTS)?;
    let spans_call = |func| ("nebula:guests/spans@0.1.0", func, WORK);
    let imports_call = ("nebula:guests/imports@0.1.0", "work-imports", IMPORTS);
    let calls = CALLS / IMPORTS;
    let (none, _) = measure(engine, plain, spans_call("work"), CALLS, true)?;
    let (manual, _) = measure(engine, plain, spans_call("work-manual"), CALLS, true)?;
    println!(
        "\nper flavor (the span runtime answers parents from its own stack), \
         ns per call over plain, median of {ROUNDS} rounds\n"
    );
    println!(
        "| flavor | nested call, unsampled | top-level call, unsampled | sampled automatic | automatic / manual |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, flavor) in [
        ("inner", OtelFlavor::Inner),
        ("outer", OtelFlavor::Outer),
        ("current", OtelFlavor::Current("0.2.0-rc.2".into())),
    ] {
        let options = Options {
            flavor,
            ..Options::default()
        };
        let spans = nebula_component::instrument(&spans_bytes, &options)?.component;
        let spans = Component::new(engine, &spans)?;
        let imports = nebula_component::instrument(&imports_bytes, &options)?;
        assert_eq!(imports.report.wrapped.len(), 2, "the export and the import");
        let imports = Component::new(engine, &imports.component)?;
        // The same with the import left alone: the export's own cost.
        let export_only = Options {
            exclude: vec![Pattern::new("*#tick")?],
            ..options.clone()
        };
        let export_only = nebula_component::instrument(&imports_bytes, &export_only)?;
        assert_eq!(export_only.report.wrapped.len(), 1, "the export alone");
        let export_only = Component::new(engine, &export_only.component)?;
        let (nested, _) = measure(engine, &imports, imports_call, calls, false)?;
        let (outer_call, _) = measure(engine, &export_only, imports_call, calls, false)?;
        let nested = (nested - outer_call) / f64::from(IMPORTS);
        let (top, _) = measure(engine, &spans, spans_call("work"), CALLS, false)?;
        let (sampled, _) = measure(engine, &spans, spans_call("work"), CALLS, true)?;
        println!(
            "| {name} | {nested:+.0} | {:+.0} | {:+.0} | {:.2}x |",
            top - none,
            sampled - none,
            sampled / manual
        );
    }
    println!("\ngoals: nested unsampled <= 50 ns over plain; automatic / manual <= 1.1x");
    Ok(())
}

/// The second table: ns per call of a wrapped import.
fn imports(engine: &wasmtime::Engine) -> anyhow::Result<()> {
    let plain_bytes = std::fs::read(guests::IMPORTS)?;
    let options = Options {
        exclude: vec![Pattern::new("nebula:guests/imports#work-imports")?],
        ..Options::default()
    };
    let instrumented_bytes = nebula_component::instrument(&plain_bytes, &options)?.component;
    let plain = Component::new(engine, &plain_bytes)?;
    let instrumented = Component::new(engine, &instrumented_bytes)?;

    // As many spans per round as the first table makes.
    let calls = CALLS / IMPORTS;
    println!(
        "\nper-import-call cost: work-imports({IMPORTS}) calls the host's `tick` {IMPORTS} times \
         (only the import wrapped), median of {ROUNDS} rounds of {calls} calls, \
         ns per `tick` call\n"
    );
    println!("| case | sampled | ns/import call | spans dropped |");
    println!("| --- | --- | ---: | ---: |");
    let call = ("nebula:guests/imports@0.1.0", "work-imports", IMPORTS);
    let mut figures = Vec::new();
    for (case, component, sampled) in [
        ("none", &plain, None),
        ("automatic", &instrumented, Some(true)),
        ("automatic", &instrumented, Some(false)),
    ] {
        let sampled_parent = sampled.unwrap_or(true);
        let (ns, dropped) = measure(engine, component, call, calls, sampled_parent)?;
        let ns = ns / f64::from(IMPORTS);
        let shown = match sampled {
            None => "–",
            Some(true) => "yes",
            Some(false) => "no",
        };
        println!("| {case} | {shown} | {ns:.0} | {dropped} |");
        figures.push(ns);
    }
    let [none, sampled, unsampled] = figures[..] else {
        unreachable!("three cases")
    };
    println!();
    println!(
        "wrapped import over plain: {:+.0} ns/call sampled, {:+.0} ns/call not sampled",
        sampled - none,
        unsampled - none
    );
    Ok(())
}
