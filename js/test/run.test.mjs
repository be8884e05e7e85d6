// A component instrumented by `instrument()` and transpiled by jco, run in
// Node with the JS `wasi:otel` host (`--map 'wasi:otel/*=src/otel.js#*'`):
// the three-component chain fixture (front → middle → back, composed by the
// native test) gives the same results as the plain transpiled chain, and
// the spans form the tree the native host records for it.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, test } from 'node:test';

import { JS_DIR, otelMap, transpile } from '../build.mjs';
import { instrument } from '../src/index.js';
import { defaultHost, formatTree, isInvalid, millis } from '../src/otel.js';
import { nativeFile } from './native.mjs';

const RUN_DIR = join(JS_DIR, 'dist', 'run');
let plain;
let traced;
let outer;

/** Transpiles `bytes` (wasi:otel mapped to the JS host) and imports it. */
async function load(name, bytes) {
  mkdirSync(RUN_DIR, { recursive: true });
  const wasm = join(RUN_DIR, `${name}.wasm`);
  writeFileSync(wasm, bytes);
  const outDir = join(RUN_DIR, name);
  const js = transpile(wasm, outDir, { name, map: otelMap(outDir) });
  return import(pathToFileURL(js).href);
}

before(async () => {
  const input = nativeFile('inputs/chain.wasm');
  const out = await instrument(input);
  assert.equal(out.report.components.length, 3);
  plain = await load('chain-plain', input);
  traced = await load('chain-traced', out.component);
  outer = await load('chain-outer', (await instrument(input, { flavor: 'outer' })).component);
  defaultHost.take();
});

/** Calls `fn` on both chains; returns both results and the traced spans. */
function both(fn) {
  const want = fn(plain.frontend);
  const plainSpans = defaultHost.take();
  const got = fn(traced.frontend);
  const spans = defaultHost.take();
  assert.deepEqual(got, want, 'the instrumented chain answers as the plain one');
  assert.equal(defaultHost.stack.length, 0, 'every span ended');
  return { got, plainSpans, spans };
}

/** Every span in one trace, each parent among them but the root's. */
function assertOneTrace(spans) {
  const traces = new Set(spans.map((s) => s.spanContext.traceId));
  assert.equal(traces.size, 1, `one trace id: ${[...traces]}`);
  assert.ok(!isInvalid(spans[0].spanContext));
  const ids = new Set(spans.map((s) => s.spanContext.spanId));
  assert.equal(ids.size, spans.length, 'distinct span ids');
  const roots = spans.filter((s) => !ids.has(s.parentSpanId));
  assert.equal(roots.length, 1, 'one root');
  assert.equal(roots[0].parentSpanId, '', 'the root has no parent');
  assert.ok(spans.every((s) => s.spanContext.traceFlags.sampled));
  assert.ok(spans.every((s) => millis(s.endTime) >= millis(s.startTime)));
  // The wall clock is mapped to src/clock.js: sub-millisecond times.
  assert.ok(spans.some((s) => s.startTime.nanoseconds % 1e6 !== 0), 'sub-millisecond span times');
}

const LOOKUP = 'nebula:fixtures/backend#lookup';
const hop = (name, depth = 1) =>
  [`${name} client`, `  ${name} server`, `    ${name} client`, `      ${name} server`].map((l) => '  '.repeat(depth) + l);

test('describe: same answer, a server span with client → server at each inner boundary', () => {
  const { got, plainSpans, spans } = both((f) => f.describe([1, 42]));
  assert.equal(got.length, 2);
  assert.equal(plainSpans.length, 0, 'the plain chain makes no span for describe');
  assert.equal(
    formatTree(spans, { durations: false }).replace(/ error\(.*\)/g, ''),
    ['nebula:fixtures/frontend#describe server', ...hop(LOOKUP), ...hop(LOOKUP)].join('\n'),
  );
  assertOneTrace(spans);
  // lookup(42) is an `err`: its spans have status error, lookup(1)'s do not.
  const errors = spans.filter((s) => s.status.tag === 'error');
  assert.equal(errors.length, 4, formatTree(spans, { durations: false }));
  const attrs = Object.fromEntries(spans.find((s) => s.parentSpanId === '').attributes.map((a) => [a.key, a.value]));
  assert.equal(attrs['wasm.direction'], '"export"');
  assert.equal(attrs['wasm.function'], '"describe"');
});

test('describe, instrumented `outer`: the same answer and the same tree as `inner`', () => {
  defaultHost.take();
  const want = plain.frontend.describe([1, 42]);
  defaultHost.take();
  const inner = traced.frontend.describe([1, 42]);
  const innerSpans = defaultHost.take();
  const got = outer.frontend.describe([1, 42]);
  const spans = defaultHost.take();
  assert.deepEqual(got, want);
  assert.deepEqual(inner, want);
  assert.equal(defaultHost.stack.length, 0, 'every span ended');
  assert.equal(formatTree(spans, { durations: false }), formatTree(innerSpans, { durations: false }));
  assertOneTrace(spans);
});

test("restock: the middle's hand-made span nests between its server and client spans", () => {
  const { got, plainSpans, spans } = both((f) => f.restock(['x', 'y']));
  assert.equal(typeof got, 'number');
  assert.deepEqual(plainSpans.map((s) => s.name), ['middle-store'], 'the plain chain has only the hand-made span');
  const store = 'nebula:fixtures/backend#store';
  assert.equal(
    formatTree(spans, { durations: false }),
    [
      'nebula:fixtures/frontend#restock server',
      `  ${store} client`,
      `    ${store} server`,
      '      middle-store internal',
      `        ${store} client`,
      `          ${store} server`,
    ].join('\n'),
  );
  assertOneTrace(spans);

  // Instrumented `outer`: the middle's own wasi:otel is served inside the
  // output (which imports only the tagged rc.2), the same tree.
  const outerGot = outer.frontend.restock(['x', 'y']);
  const outerSpans = defaultHost.take();
  assert.deepEqual(outerGot, got, 'the outer chain answers as the plain one');
  assert.equal(defaultHost.stack.length, 0, 'every span ended');
  assert.equal(formatTree(outerSpans, { durations: false }), formatTree(spans, { durations: false }));
  assertOneTrace(outerSpans);
});

test('list-from: a resource across both boundaries, spans for its constructor and methods', () => {
  const { got, spans } = both((f) => f.listFrom(2));
  assert.equal(got.length, 4, `bread, cheese, x, y: ${got}`);
  const cursor = (m) => hop(`nebula:fixtures/backend#cursor.${m}`);
  const next = cursor('next');
  assert.equal(
    formatTree(spans, { durations: false }),
    ['nebula:fixtures/frontend#list-from server', ...cursor('new'), ...Array(5).fill(next).flat()].join('\n'),
  );
  assertOneTrace(spans);
});
