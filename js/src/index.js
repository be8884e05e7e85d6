// Nebula's instrumenter, `nebula.wasm` transpiled by jco, as an ES module
// that runs in Node and in browsers.
//
// `build.mjs` transpiles `target/nebula/nebula.wasm` into `dist/nebula/`
// with `--instantiation async`, so this module chooses the imports: the
// preview2-shim for clocks, streams and randomness, and, as the native CLI's
// wasmtime host does, nothing else: no preopened directory, no environment,
// no arguments. Every call gets a fresh instance of the (compiled once)
// core modules, like the native host's fresh store per call.

import * as cli from '@bytecodealliance/preview2-shim/cli';
import * as clocks from '@bytecodealliance/preview2-shim/clocks';
import * as filesystem from '@bytecodealliance/preview2-shim/filesystem';
import * as io from '@bytecodealliance/preview2-shim/io';
import * as random from '@bytecodealliance/preview2-shim/random';

/** The `wasi:otel` version the `current` flavor uses when none is given. */
export const DEFAULT_CURRENT_VERSION = '0.2.0-rc.2';

/** Where `build.mjs` puts the transpiled `nebula.wasm`. */
const DIST = new URL('../dist/nebula/', import.meta.url);

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * Why instrumenting failed, as the WIT `error` record says: `kind`
 * (`not-a-component`, `invalid`, `unsupported`, `bad-options`, `internal`),
 * `message` (the outermost one) and `causes` (the messages under it,
 * outermost first) — the very lines the native `nebula` CLI prints under
 * `Caused by:`. `String(error)` gives them all, one per line.
 */
export class NebulaError extends Error {
  /**
   * @param {string} kind
   * @param {string} message
   * @param {string[]} [causes]
   */
  constructor(kind, message, causes = []) {
    super(message);
    this.name = 'NebulaError';
    this.kind = kind;
    this.causes = causes;
  }

  toString() {
    return [`${this.name}: ${this.message}`, ...this.causes.map((c, i) => `    ${i}: ${c}`)].join('\n');
  }
}

let transpiled;
const compiled = new Map();

/** The transpiled module, imported once. */
async function loadTranspiled() {
  transpiled ??= import(new URL('nebula.js', DIST).href).catch((e) => {
    transpiled = undefined;
    throw new Error(
      `the transpiled nebula.wasm is missing (${e.message}); build it with \`node js/build.mjs\` ` +
        '(after `cargo build -p nebula-native`, which builds target/nebula/nebula.wasm)',
    );
  });
  return transpiled;
}

/** Compiles one core module of the transpiled component, once. */
function coreModule(name) {
  if (!compiled.has(name)) {
    const url = new URL(name, DIST);
    const module = isNode
      ? import('node:fs/promises').then((fs) => fs.readFile(url)).then((b) => WebAssembly.compile(b))
      : WebAssembly.compileStreaming(fetch(url));
    compiled.set(name, module);
  }
  return compiled.get(name);
}

/** The imports of `nebula.wasm`: the shim, minus every capability. */
function imports() {
  const granted = {
    'wasi:cli/environment': {
      getEnvironment: () => [],
      getArguments: () => [],
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': cli.exit,
    'wasi:cli/stderr': cli.stderr,
    'wasi:cli/stdin': cli.stdin,
    'wasi:cli/stdout': cli.stdout,
    'wasi:cli/terminal-input': cli.terminalInput,
    'wasi:cli/terminal-output': cli.terminalOutput,
    'wasi:cli/terminal-stderr': cli.terminalStderr,
    'wasi:cli/terminal-stdin': cli.terminalStdin,
    'wasi:cli/terminal-stdout': cli.terminalStdout,
    'wasi:clocks/monotonic-clock': clocks.monotonicClock,
    'wasi:clocks/wall-clock': clocks.wallClock,
    'wasi:filesystem/preopens': { getDirectories: () => [] },
    'wasi:filesystem/types': filesystem.types,
    'wasi:io/error': io.error,
    'wasi:io/poll': io.poll,
    'wasi:io/streams': io.streams,
    'wasi:random/insecure-seed': random.insecureSeed,
    'wasi:random/insecure': random.insecure,
    'wasi:random/random': random.random,
  };
  return granted;
}

/**
 * Loads and compiles `nebula.wasm` ahead of the first `instrument` call
 * (which does it otherwise). Resolves when ready.
 * @returns {Promise<void>}
 */
export async function load() {
  const { instantiate } = await loadTranspiled();
  await instantiate(coreModule, imports());
}

/** The WIT `options` record for `options` (see index.d.ts). */
function toWit(options = {}) {
  const list = (v, what) => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((p) => typeof p !== 'string')) {
      throw new TypeError(`options.${what} must be an array of strings`);
    }
    return v;
  };
  return {
    include: list(options.include, 'include'),
    exclude: list(options.exclude, 'exclude'),
    flavor: flavor(options.flavor),
    componentName: options.componentName ?? undefined,
    depth: options.depth ?? undefined,
    exportTo: exportTo(options.exportTo),
    serviceName: options.serviceName ?? undefined,
  };
}

/** `stderr`, `console`, `file:PATH` or `otlp:URL`, as the CLI's `--export-to`. */
function exportTo(to) {
  if (to === undefined) return undefined;
  if (to === 'stderr') return { tag: 'stderr' };
  if (to === 'console') return { tag: 'console' };
  if (typeof to === 'string' && to.startsWith('file:') && to.length > 'file:'.length) {
    return { tag: 'file', val: to.slice('file:'.length) };
  }
  if (typeof to === 'string' && /^otlp:https?:\/\/[^/]/.test(to)) {
    return { tag: 'otlp', val: to.slice('otlp:'.length) };
  }
  throw new TypeError(`options.exportTo: \`${to}\` is not \`stderr\`, \`console\`, \`file:PATH\` or \`otlp:URL\``);
}

/** `inner`, `outer`, `current` or `current=VERSION`, as the CLI's `--flavor`. */
function flavor(f = 'inner') {
  if (f === 'inner') return { tag: 'inner' };
  if (f === 'outer') return { tag: 'outer' };
  if (f === 'current') return { tag: 'current', val: DEFAULT_CURRENT_VERSION };
  if (typeof f === 'string' && f.startsWith('current=')) {
    return { tag: 'current', val: f.slice('current='.length) };
  }
  throw new TypeError(`options.flavor: \`${f}\` is not \`inner\`, \`outer\`, \`current\` or \`current=VERSION\``);
}

/** The bytes of `input` as a `Uint8Array`. */
function toBytes(input) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError('instrument: the component must be a Uint8Array, ArrayBuffer or typed array');
}

/**
 * Instruments one component: resolves to the instrumented bytes, the report
 * and a few figures; rejects with a {@link NebulaError}.
 * @param {Uint8Array | ArrayBuffer | ArrayBufferView} component
 * @param {import('./index.d.ts').Options} [options]
 * @returns {Promise<import('./index.d.ts').Instrumented>}
 */
export async function instrument(component, options = {}) {
  const bytes = toBytes(component);
  const wit = toWit(options);
  const { instantiate } = await loadTranspiled();
  const nebula = await instantiate(coreModule, imports());
  const start = performance.now();
  let out;
  try {
    out = nebula.instrumenter.instrument(bytes, wit);
  } catch (e) {
    const payload = e && Object.hasOwn(e, 'payload') ? e.payload : undefined;
    if (payload && typeof payload.kind === 'string') {
      throw new NebulaError(payload.kind, payload.message, payload.causes);
    }
    throw new NebulaError('internal', 'internal error (please report it): `nebula.wasm` failed', [
      String(e?.message ?? e),
    ]);
  }
  const millis = performance.now() - start;
  return {
    component: out.component,
    report: out.report,
    stats: { inputBytes: bytes.length, outputBytes: out.component.length, millis },
  };
}
