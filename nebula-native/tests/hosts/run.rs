//! `nebula run`: commands, `--invoke`, root span and traceparent, flavors,
//! the tree printer, traps, mis-nested ends and bounded memory.

use nebula_component::OtelFlavor;
use nebula_native::guests;
use nebula_tests::fixtures;

use crate::support::*;

/// Calls over strings, lists, records, variants, options, results and
/// flags, and freestanding functions.
const TYPES_CALLS: &[&str] = &[
    r#"nebula:fixtures/types#reverse("héllo")"#,
    r#"nebula:fixtures/types#echo-nested-list([["a", "b"], [], ["c"]])"#,
    r#"nebula:fixtures/types#echo-points([{x: 1, y: -2}, {x: 3, y: 4}])"#,
    r#"nebula:fixtures/types@0.1.0#echo-mixed({id: 7, name: "n", ratio: 0.25, origin: {x: 0, y: 1}, nick: none, scores: [1, 2, 3], active: false})"#,
    r#"nebula:fixtures/types#echo-shape(text("t"))"#,
    r#"nebula:fixtures/types#echo-shape(at({x: 5, y: 6}))"#,
    r#"nebula:fixtures/types#echo-result(err(4))"#,
    r#"nebula:fixtures/types#echo-result(ok("fine"))"#,
    r#"nebula:fixtures/types#echo-option(some("x"))"#,
    r#"nebula:fixtures/types#echo-small-flags({a, c})"#,
    r#"nebula:fixtures/types#echo-color(cyan)"#,
    "add(40, 2)",
    r#"greet({name: "Ada", age: 36})"#,
];

fn invoke_args<'a>(component: &'a str, calls: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", component];
    for call in calls {
        args.extend(["--invoke", call]);
    }
    args.extend(extra);
    args
}

#[test]
fn invoke_prints_the_plain_results_with_one_span_per_call() {
    let dir = scratch("invoke");
    let instrumented = instrument(fixtures::TYPES, &dir, OtelFlavor::Inner);
    let trace = dir.join("trace.json");

    let plain = run(&invoke_args(fixtures::TYPES, TYPES_CALLS, &[]));
    assert!(plain.status.success(), "{}", stderr(&plain));
    let traced = run(&invoke_args(
        instrumented.to_str().unwrap(),
        TYPES_CALLS,
        &["--trace-file", trace.to_str().unwrap()],
    ));
    assert!(traced.status.success(), "{}", stderr(&traced));
    assert_eq!(stdout(&traced), stdout(&plain));
    assert_eq!(stdout(&plain).lines().count(), TYPES_CALLS.len());
    assert!(stdout(&plain).contains("\"olléh\""));
    assert!(stdout(&plain).contains("err(4)"));

    let spans = spans_of_file(&trace);
    let root = named(&spans, "run types");
    let calls: Vec<_> = spans.iter().filter(|s| s.name != "run types").collect();
    assert_eq!(calls.len(), TYPES_CALLS.len(), "{:?}", names(&spans));
    for span in &calls {
        assert_eq!(span.parent_span_id, root.span_id, "{}", span.name);
        assert_eq!(span.trace_id, root.trace_id);
    }
    assert!(root.parent_span_id.is_empty());
}

#[test]
fn errors_fixture_results_match_and_err_sets_the_status() {
    let dir = scratch("errors");
    let instrumented = instrument(fixtures::ERRORS, &dir, OtelFlavor::Inner);
    let trace = dir.join("trace.json");
    let calls = [
        "nebula:fixtures/errors#check-even(3)",
        "nebula:fixtures/errors#validate(\"\")",
        "nebula:fixtures/errors#by-code(2)",
    ];
    let plain = run(&invoke_args(fixtures::ERRORS, &calls, &[]));
    let traced = run(&invoke_args(
        instrumented.to_str().unwrap(),
        &calls,
        &["--trace-file", trace.to_str().unwrap()],
    ));
    assert!(traced.status.success(), "{}", stderr(&traced));
    assert_eq!(stdout(&traced), stdout(&plain));
    let spans = spans_of_file(&trace);
    let odd = named(&spans, "nebula:fixtures/errors#check-even");
    assert_eq!(odd.status.as_ref().map(|s| s.code), Some(2));
    assert!(
        status_message(odd).contains("odd"),
        "{}",
        status_message(odd)
    );
}

#[test]
fn bad_invocations_are_usage_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["--invoke", "nope()"], "has no function `nope`"),
        (
            &["--invoke", "nebula:fixtures/types#nope(1)"],
            "nebula:fixtures/types#reverse",
        ),
        (&["--invoke", "add(1, 2"], "not valid WAVE"),
        (
            &["--invoke", "add(1, \"x\")"],
            "do not fit `add(a: u32, b: u32)`",
        ),
        (&["--invoke", "add"], "not a call"),
        (&[], "is not a command"),
        (&["--traceparent", "00-bad"], "not a W3C traceparent"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["run", fixtures::TYPES];
        args.extend(*extra);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn a_command_runs_in_a_root_span_with_its_arguments() {
    let dir = scratch("command");
    let instrumented = instrument(fixtures::CLI, &dir, OtelFlavor::Inner);
    let trace = dir.join("trace.json");
    let plain = run(&["run", fixtures::CLI, "a", "--b"]);
    let traced = run(&[
        "run",
        "--trace-file",
        trace.to_str().unwrap(),
        instrumented.to_str().unwrap(),
        "a",
        "--b",
    ]);
    assert!(traced.status.success(), "{}", stderr(&traced));
    assert_eq!(stdout(&plain), "hello from nebula: [a, --b]\n");
    assert_eq!(stdout(&traced), stdout(&plain));

    let spans = spans_of_file(&trace);
    assert_eq!(names(&spans), ["wasi:cli/run#run", "run cli"]);
    assert_eq!(spans[0].parent_span_id, spans[1].span_id);
    assert_eq!(spans[0].kind, 2, "server");
}

#[test]
fn a_traceparent_replaces_the_root_span() {
    let dir = scratch("traceparent");
    let instrumented = instrument(fixtures::TYPES, &dir, OtelFlavor::Inner);
    let (trace_id, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let tp = format!("00-{trace_id}-{parent}-01");
    for by_env in [false, true] {
        let trace = dir.join(format!("trace-{by_env}.json"));
        let mut cmd = nebula(&[
            "run",
            instrumented.to_str().unwrap(),
            "--invoke",
            "add(1, 2)",
            "--trace-file",
            trace.to_str().unwrap(),
        ]);
        if by_env {
            cmd.env("TRACEPARENT", &tp);
        } else {
            cmd.args(["--traceparent", &tp]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let spans = spans_of_file(&trace);
        assert_eq!(names(&spans), ["add"]);
        assert_eq!(hex(&spans[0].trace_id), trace_id);
        assert_eq!(hex(&spans[0].parent_span_id), parent);
    }

    // Not sampled: nothing is exported.
    let trace = dir.join("unsampled.json");
    let out = run(&[
        "run",
        instrumented.to_str().unwrap(),
        "--invoke",
        "add(1, 2)",
        "--traceparent",
        &format!("00-{trace_id}-{parent}-00"),
        "--trace-file",
        trace.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "3\n");
    assert!(spans_of_file(&trace).is_empty());
}

#[test]
fn the_current_flavor_is_served_at_its_version() {
    let dir = scratch("flavor");
    for version in ["0.2.0-rc.2", "0.2.0-rc.3"] {
        let instrumented = instrument(
            fixtures::TYPES,
            &dir,
            OtelFlavor::Current(version.to_string()),
        );
        let trace = dir.join(format!("{version}.json"));
        let out = run(&[
            "run",
            instrumented.to_str().unwrap(),
            "--invoke",
            "nebula:fixtures/types#reverse(\"ab\")",
            "--trace-file",
            trace.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{version}: {}", stderr(&out));
        assert_eq!(stdout(&out), "\"ba\"\n");
        let spans = spans_of_file(&trace);
        let call = named(&spans, "nebula:fixtures/types#reverse");
        assert_eq!(call.parent_span_id, named(&spans, "run types").span_id);
    }
}

#[test]
fn the_span_tree_on_stderr() {
    let dir = scratch("tree");
    let types = instrument(fixtures::TYPES, &dir, OtelFlavor::Inner);
    let out = run(&invoke_args(
        types.to_str().unwrap(),
        &[
            "nebula:fixtures/types#reverse(\"ab\")",
            "add(1, 2)",
            "greet({name: \"Ada\", age: 36})",
        ],
        &[],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let errors = instrument(fixtures::ERRORS, &dir, OtelFlavor::Inner);
    let failing = run(&[
        "run",
        errors.to_str().unwrap(),
        "--invoke",
        "nebula:fixtures/errors#check-even(3)",
    ]);
    let spans = instrument(guests::SPANS, &dir, OtelFlavor::Inner);
    let nested = run(&[
        "run",
        spans.to_str().unwrap(),
        "--invoke",
        "nebula:guests/spans#mis-nested()",
        "--invoke",
        "nebula:guests/spans#emit(2)",
    ]);
    let text = [&out, &failing, &nested]
        .map(|o| normalize_tree(&stderr(o)))
        .join("\n");
    insta::assert_snapshot!(text);
}

#[test]
fn a_trap_ends_every_open_span_with_an_error() {
    let dir = scratch("trap");
    let trace = dir.join("trace.json");
    let out = run(&[
        "run",
        guests::SPANS,
        "--invoke",
        "nebula:guests/spans#trap-inside(2)",
        "--trace-file",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error: the component trapped"));
    let spans = spans_of_file(&trace);
    // Innermost first: the two guest spans, then the root.
    assert_eq!(names(&spans), ["(unfinished)", "(unfinished)", "run spans"]);
    for span in &spans {
        assert_eq!(
            span.status.as_ref().map(|s| s.code),
            Some(2),
            "{}",
            span.name
        );
        assert!(
            status_message(span).starts_with("trap: "),
            "{}",
            status_message(span)
        );
    }
    assert_eq!(spans[0].parent_span_id, spans[1].span_id);
    assert_eq!(spans[1].parent_span_id, spans[2].span_id);
}

#[test]
fn a_mis_nested_end_leaves_the_stack_sound() {
    let dir = scratch("misnested");
    let trace = dir.join("trace.json");
    let out = run(&[
        "run",
        guests::SPANS,
        "--invoke",
        "nebula:guests/spans#mis-nested()",
        "--invoke",
        "nebula:guests/spans#emit(1)",
        "--trace-file",
        trace.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Between the two ends, `inner` (still open) was the current span.
    assert_eq!(stdout(&out), "\"inner\"\n1\n");
    let spans = spans_of_file(&trace);
    assert_eq!(names(&spans), ["outer", "inner", "tick", "run spans"]);
    let root = named(&spans, "run spans");
    assert_eq!(named(&spans, "outer").parent_span_id, root.span_id);
    assert_eq!(
        named(&spans, "inner").parent_span_id,
        named(&spans, "outer").span_id
    );
    // After both ended, new spans are children of the root again.
    assert_eq!(named(&spans, "tick").parent_span_id, root.span_id);
}

/// Peak memory (kB) and the `stats:` line of a run emitting `n` spans.
fn emit(n: u32, dir: &std::path::Path) -> (u64, String) {
    let trace = dir.join(format!("emit-{n}.json"));
    let out = run(&[
        "run",
        guests::SPANS,
        "--invoke",
        &format!("nebula:guests/spans#emit({n})"),
        "--queue-size",
        "1000",
        "--trace-file",
        trace.to_str().unwrap(),
        "--stats",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let stats = err
        .lines()
        .find(|l| l.starts_with("stats:"))
        .expect("a stats line")
        .to_string();
    let kb = stats
        .rsplit("peak memory ")
        .next()
        .and_then(|s| s.trim_end_matches(" kB").parse().ok())
        .expect("peak memory in kB");
    (kb, stats)
}

#[test]
fn many_spans_run_in_bounded_memory() {
    let dir = scratch("bounded");
    let (small, _) = emit(10_000, &dir);
    let (large, stats) = emit(200_000, &dir);
    // Spans held in memory would take ~100 MB; the queue and the bounded
    // exporters keep the difference small.
    assert!(
        large < small + 30_000,
        "peak {large} kB for 200k spans vs {small} kB for 10k"
    );
    // Every span was either exported or counted as dropped.
    let count = |label: &str| -> u64 {
        stats
            .split(", ")
            .find_map(|part| {
                let part = part.trim_start_matches("stats: ");
                part.strip_suffix(label).and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("`{label}` in {stats}"))
    };
    let exported = count("spans exported");
    let dropped = count("dropped (queue full)");
    assert_eq!(exported + dropped, 200_001, "{stats}");
}

/// `OTEL_TRACES_SAMPLER=always_off`: the command runs as before and no span
/// of its trace is exported (the guest makes none under the unsampled
/// root); a bad sampler is a usage error that names it.
#[test]
fn an_unsampled_run_exports_nothing_and_bad_samplers_are_usage_errors() {
    let dir = scratch("unsampled");
    let instrumented = instrument(fixtures::CLI, &dir, OtelFlavor::Inner);
    let trace = dir.join("trace.json");
    let traced = nebula(&[
        "run",
        "--trace-file",
        trace.to_str().unwrap(),
        instrumented.to_str().unwrap(),
        "a",
    ])
    .env("OTEL_TRACES_SAMPLER", "always_off")
    .output()
    .unwrap();
    assert!(traced.status.success(), "{}", stderr(&traced));
    assert_eq!(stdout(&traced), "hello from nebula: [a]\n");
    assert!(spans_of_file(&trace).is_empty());
    assert!(stderr(&traced).is_empty(), "no tree: {}", stderr(&traced));

    let out = run(&["run", "--sample", "1.5", fixtures::CLI]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--sample `1.5`"), "{}", stderr(&out));
    let out = nebula(&["run", fixtures::CLI])
        .env("OTEL_TRACES_SAMPLER", "sometimes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`sometimes`"), "{}", stderr(&out));
}
