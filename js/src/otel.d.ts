/** A `wasi:otel/tracing` host in JavaScript (the native host's semantics). */

/** `wasi:clocks/wall-clock.datetime`. */
export interface Datetime {
  seconds: bigint;
  nanoseconds: number;
}

/** `wasi:otel/tracing.span-context`. */
export interface SpanContext {
  traceId: string;
  spanId: string;
  traceFlags: { sampled?: boolean };
  isRemote: boolean;
  traceState: [string, string][];
}

/** `wasi:otel/types.key-value`: the value is JSON text. */
export interface KeyValue {
  key: string;
  value: string;
}

/** `wasi:otel/tracing.span-data`, as jco lifts it. */
export interface SpanData {
  spanContext: SpanContext;
  parentSpanId: string;
  spanKind: 'client' | 'server' | 'producer' | 'consumer' | 'internal';
  name: string;
  startTime: Datetime;
  endTime: Datetime;
  attributes: KeyValue[];
  events: unknown[];
  links: unknown[];
  status: { tag: 'unset' } | { tag: 'ok' } | { tag: 'error'; val: string };
  instrumentationScope: { name: string; version?: string; schemaUrl?: string; attributes: KeyValue[] };
  droppedAttributes: number;
  droppedEvents: number;
  droppedLinks: number;
}

/** The `wasi:otel/tracing` functions (every flavor's names). */
export interface Tracing {
  onStart(context: SpanContext): void;
  onEnd(span: SpanData): void;
  innerSpanContext(): SpanContext;
  currentSpanContext(): SpanContext;
  outerSpanContext(): SpanContext;
}

/** One host: the stack of active spans and what happens to finished ones. */
export class OtelHost {
  constructor(config?: { onSpan?: (span: SpanData) => void; remoteParent?: SpanContext });
  /** Active span contexts, bottom first. */
  readonly stack: SpanContext[];
  /** Finished spans, when there is no handler. */
  readonly recorded: SpanData[];
  /** How many `on-end` calls named a span that was not on top. */
  readonly misnested: number;
  readonly tracing: Tracing;
  setHandler(onSpan?: (span: SpanData) => void): void;
  /** Imports for a jco `--instantiation` build. */
  imports(): { 'wasi:otel/tracing': Tracing; 'wasi:otel/types': {} };
  /** Takes the recorded spans, in the order they ended. */
  take(): SpanData[];
}

/** The host behind the `--map`ped imports. */
export const defaultHost: OtelHost;
/** `wasi:otel/tracing` of `defaultHost`. */
export const tracing: Tracing;
/** `wasi:otel/types` (no functions). */
export const types: {};

export function invalidContext(): SpanContext;
export function isInvalid(cx: SpanContext): boolean;
/** A datetime as milliseconds since the epoch. */
export function millis(dt: Datetime): number;

export interface SpanNode {
  span: SpanData;
  children: SpanNode[];
}
/** Finished spans as a forest, children by parent id, siblings by start. */
export function spanTree(spans: SpanData[]): SpanNode[];
/** The tree as indented `name kind [duration]` lines. */
export function formatTree(spans: SpanData[], options?: { durations?: boolean }): string;
export function printTree(spans: SpanData[], log?: (text: string) => void): void;

/** A span handler re-creating sampled spans through `@opentelemetry/api`. */
export function openTelemetryHandler(api: unknown): (span: SpanData) => void;
/** The same with `@opentelemetry/api` imported, if present. */
export function tryOpenTelemetryHandler(): Promise<((span: SpanData) => void) | undefined>;
