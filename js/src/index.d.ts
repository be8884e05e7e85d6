/** Nebula's instrumenter (`nebula.wasm` through jco), for Node and browsers. */

/** What to instrument and how (every field optional). */
export interface Options {
  /** Glob patterns on span names: only matching functions are wrapped (default: all). */
  include?: string[];
  /** Glob patterns on span names: matching functions are not wrapped. */
  exclude?: string[];
  /** `inner` (default: `wasi:otel@0.3.0`, Nebula's hosts), `outer` (`0.2.0-rc.2` as tagged, with `outer-span-context`: Spin 4, wasmCloud, composable-runtime), `current` (upstream HEAD's `current-span-context`, `0.2.0-rc.2`) or `current=VERSION`. */
  flavor?: 'inner' | 'outer' | 'current' | `current=${string}`;
  /** The value of `wasm.component.name` on every span. */
  componentName?: string;
  /** How many levels of inner components of a composition get spans (default: all). */
  depth?: number;
  /** Compose the in-guest exporter into the output, which then imports no `wasi:otel` and runs on any WASI 0.2 runtime (jco without a JS `wasi:otel` host too): `stderr` (OTLP JSON lines), `console` (a span tree on stderr), `file:PATH` (OTLP JSON lines appended to a file in a preopened directory), `otlp:URL` (OTLP/HTTP protobuf to a collector through `wasi:http`). Only with the `inner` flavor. */
  exportTo?: 'stderr' | 'console' | `file:${string}` | `otlp:${string}`;
  /** The `service.name` of the exported spans (default: the component's name). */
  serviceName?: string;
}

/** One function the proxies wrap in a span. */
export interface WrappedFunction {
  /** The span name, e.g. `ns:pkg/iface#func`. */
  spanName: string;
  /** `export` (server span) or `import` (client span). */
  direction: 'export' | 'import';
  /** The interface with its version, unless a freestanding function. */
  interface?: string;
  /** The function's name in its interface or world. */
  function: string;
}

/** What `instrument` did (the WIT `report` record). */
export interface Report {
  /** The proxy world, as WIT text. */
  proxyWit: string;
  /** Every wrapped function, in the order of the component's exports. */
  wrapped: WrappedFunction[];
  /** Items left unwrapped, each with the reason. */
  skipped: string[];
  /** The inner components instrumented inside a composition. */
  components: string[];
}

/** Sizes and time of one call. */
export interface Stats {
  inputBytes: number;
  outputBytes: number;
  /** Time spent inside `nebula.wasm`'s `instrument`, in milliseconds. */
  millis: number;
}

/** The instrumented component and what was done to it. */
export interface Instrumented {
  component: Uint8Array;
  report: Report;
  stats: Stats;
}

/** The cases of the WIT `error` variant. */
export type ErrorKind = 'not-a-component' | 'invalid' | 'unsupported' | 'bad-options' | 'internal';

/** Why instrumenting failed; `message` is what the native library displays. */
export class NebulaError extends Error {
  constructor(kind: ErrorKind, detail: string);
  readonly kind: ErrorKind;
  /** The variant's text. */
  readonly detail: string;
}

/** The `wasi:otel` version of the `current` flavor when none is given. */
export const DEFAULT_CURRENT_VERSION: string;

/** Loads and compiles `nebula.wasm` ahead of the first call. */
export function load(): Promise<void>;

/** Instruments one component; rejects with a {@link NebulaError}. */
export function instrument(
  component: Uint8Array | ArrayBuffer | ArrayBufferView,
  options?: Options,
): Promise<Instrumented>;
