// A `wasi:otel/tracing` (and `wasi:otel/types`) host in JavaScript, with the
// native host's semantics (`nebula-native/src/host/otel.rs`):
//
// - `on-start(context)` pushes `context` on the stack of active spans;
// - `on-end(span)` removes the entry with the span's span-id, searching from
//   the top (a mis-nested end removes only that entry), then hands the span
//   to the host's callback (or records it);
// - `inner-span-context` / `current-span-context` return the top of the
//   stack, `outer-span-context` its bottom; with an empty stack, the remote
//   parent given to the host, else the invalid (all-zero) context.
//
// Wire it to a component transpiled by jco with
// `--map 'wasi:otel/*=<path to this file>#*'` (the imports then use
// `defaultHost`), or pass `host.imports()` to an `--instantiation` build.

/** The invalid span context: all-zero ids, no flags, not remote, no state. */
export function invalidContext() {
  return {
    traceId: '0'.repeat(32),
    spanId: '0'.repeat(16),
    traceFlags: { sampled: false },
    isRemote: false,
    traceState: [],
  };
}

/** Whether `cx` is the invalid context (all-zero or empty ids). */
export function isInvalid(cx) {
  const zero = (s) => /^0*$/.test(s);
  return zero(cx.traceId) || zero(cx.spanId);
}

/** A `wasi:clocks` datetime as milliseconds since the epoch. */
export function millis(datetime) {
  return Number(datetime.seconds) * 1e3 + datetime.nanoseconds / 1e6;
}

/** The wall-clock time now, as a `wasi:clocks` datetime. */
function now() {
  const ms = (performance.timeOrigin ?? Date.now()) + performance.now();
  const seconds = Math.floor(ms / 1e3);
  return { seconds: BigInt(seconds), nanoseconds: Math.floor((ms - seconds * 1e3) * 1e6) };
}

/**
 * The state of one `wasi:otel` host: the stack of active spans of one call
 * chain and what happens to finished spans.
 */
export class OtelHost {
  /**
   * @param {object} [config]
   * @param {(span: object) => void} [config.onSpan] receives every finished
   *   span (the lifted `span-data` record); without it spans are recorded
   *   (see {@link OtelHost#take}).
   * @param {object} [config.remoteParent] the context an empty stack reports.
   */
  constructor({ onSpan, remoteParent } = {}) {
    this.onSpan = onSpan;
    this.remoteParent = remoteParent;
    /** Active span contexts, bottom first. */
    this.stack = [];
    /** When each active span started (host clock), parallel to `stack`. */
    this.started = [];
    /** Finished spans, when there is no `onSpan`. */
    this.recorded = [];
    /** How many `on-end` calls named a span that was not on top. */
    this.misnested = 0;
    /** The `wasi:otel/tracing` functions, bound to this host. */
    this.tracing = {
      onStart: (context) => this.onStart(context),
      onEnd: (span) => this.onEnd(span),
      innerSpanContext: () => this.current(),
      currentSpanContext: () => this.current(),
      outerSpanContext: () => this.stack[0] ?? this.fallback(),
    };
  }

  /** Sets (or clears) the callback that receives finished spans. */
  setHandler(onSpan) {
    this.onSpan = onSpan;
  }

  /** The imports of an `--instantiation` build, every flavor's name. */
  imports() {
    return {
      'wasi:otel/tracing': this.tracing,
      'wasi:otel/types': types,
    };
  }

  /** Takes the recorded spans, in the order they ended. */
  take() {
    const out = this.recorded;
    this.recorded = [];
    return out;
  }

  /** `on-start`: pushes `context`. */
  onStart(context) {
    this.stack.push(context);
    this.started.push(now());
  }

  /** `on-end`: pops the span's entry and hands the span on. */
  onEnd(span) {
    const id = span.spanContext.spanId;
    const at = this.stack.findLastIndex((cx) => cx.spanId === id);
    if (at >= 0) {
      if (at !== this.stack.length - 1) this.misnested += 1;
      this.stack.splice(at, 1);
      this.started.splice(at, 1);
    }
    if (this.onSpan) this.onSpan(span);
    else this.recorded.push(span);
  }

  /** The context reported when the stack is empty. */
  fallback() {
    return this.remoteParent ?? invalidContext();
  }

  /** The innermost active span, else the fallback. */
  current() {
    return this.stack.at(-1) ?? this.fallback();
  }
}

/** `wasi:otel/types` has no functions. */
export const types = {};

/** The host the `--map`ped imports use. */
export const defaultHost = new OtelHost();

/** `wasi:otel/tracing` of {@link defaultHost}, for `--map 'wasi:otel/*=…#*'`. */
export const tracing = defaultHost.tracing;

/**
 * Finished spans as a forest: `{ span, children }` nodes, children under
 * their parent (by `parentSpanId`), siblings by start time. A span whose
 * parent is not among `spans` is a root.
 */
export function spanTree(spans) {
  const nodes = new Map(spans.map((span) => [span.spanContext.spanId, { span, children: [] }]));
  const roots = [];
  for (const node of nodes.values()) {
    const parent = nodes.get(node.span.parentSpanId);
    (parent && parent !== node ? parent.children : roots).push(node);
  }
  const byStart = (a, b) => millis(a.span.startTime) - millis(b.span.startTime);
  const sort = (list) => {
    list.sort(byStart);
    for (const n of list) sort(n.children);
    return list;
  };
  return sort(roots);
}

/**
 * The span tree as text, one span a line indented by depth:
 * `name kind` (and the duration unless `durations` is false; status when
 * it is `error`).
 */
export function formatTree(spans, { durations = true } = {}) {
  const lines = [];
  const walk = (node, depth) => {
    const { span } = node;
    let line = `${'  '.repeat(depth)}${span.name} ${span.spanKind}`;
    if (span.status?.tag === 'error') line += ` error(${span.status.val})`;
    if (durations) line += ` ${(millis(span.endTime) - millis(span.startTime)).toFixed(3)} ms`;
    lines.push(line);
    for (const child of node.children) walk(child, depth + 1);
  };
  for (const root of spanTree(spans)) walk(root, 0);
  return lines.join('\n');
}

/** Prints the span tree of `spans` with `log` (default `console.log`). */
export function printTree(spans, log = console.log) {
  log(formatTree(spans));
}

/** `@opentelemetry/api`'s `SpanKind` numbers, by `wasi:otel` kind. */
const KINDS = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 };

/** A `wasi:otel` attribute value (JSON text) as an OpenTelemetry one. */
function attributeValue(value) {
  try {
    const v = JSON.parse(value);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? value : v;
  } catch {
    return value;
  }
}

/**
 * A span callback that re-creates each sampled span through
 * `@opentelemetry/api` (pass the module: it is not a dependency of this
 * package): same name, kind, times, attributes and status, parent taken
 * from the span's trace and parent ids. The OpenTelemetry SDK assigns its
 * own span ids, so grand-children point at the `wasi:otel` ids of their
 * parents: use it to feed an existing pipeline, not to keep ids.
 * @param {typeof import('@opentelemetry/api')} api
 */
export function openTelemetryHandler(api) {
  const time = (dt) => [Number(dt.seconds), dt.nanoseconds];
  return (span) => {
    const cx = span.spanContext;
    if (!cx.traceFlags.sampled) return;
    const scope = span.instrumentationScope ?? { name: 'wasi:otel' };
    const tracer = api.trace.getTracer(scope.name, scope.version);
    let parent = api.context.active();
    if (span.parentSpanId && !/^0*$/.test(span.parentSpanId)) {
      parent = api.trace.setSpanContext(parent, {
        traceId: cx.traceId,
        spanId: span.parentSpanId,
        traceFlags: cx.traceFlags.sampled ? 1 : 0,
        isRemote: true,
      });
    }
    const attributes = Object.fromEntries(span.attributes.map((kv) => [kv.key, attributeValue(kv.value)]));
    const out = tracer.startSpan(
      span.name,
      { kind: KINDS[span.spanKind] ?? 0, startTime: time(span.startTime), attributes },
      parent,
    );
    if (span.status?.tag === 'ok') out.setStatus({ code: 1 });
    if (span.status?.tag === 'error') out.setStatus({ code: 2, message: span.status.val });
    out.end(time(span.endTime));
  };
}

/**
 * `openTelemetryHandler` with `@opentelemetry/api` imported when the
 * environment has it; `undefined` when it does not.
 */
export async function tryOpenTelemetryHandler() {
  try {
    const api = await import('@opentelemetry/api');
    return openTelemetryHandler(api);
  } catch {
    return undefined;
  }
}
