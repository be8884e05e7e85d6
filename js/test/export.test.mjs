// An output instrumented with `exportTo: 'console'` and transpiled by jco
// with no JS `wasi:otel` host at all (no `--map`): it runs in Node, gives
// the plain chain's answer, and the in-guest exporter writes its span tree
// on stderr through jco's own `wasi:cli/stderr`. The chain runs in a child
// Node process, whose stderr the test reads.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';

import { JS_DIR, otelMap, transpile } from '../build.mjs';
import { instrument } from '../src/index.js';
import { nativeFile } from './native.mjs';

const RUN_DIR = join(JS_DIR, 'dist', 'export');

/** Transpiles `bytes` (with jco's defaults only, unless `map` is given)
 * and runs `restock` in a child Node process; returns the child's result. */
function restockInChild(name, bytes, map = undefined) {
  mkdirSync(RUN_DIR, { recursive: true });
  const wasm = join(RUN_DIR, `${name}.wasm`);
  writeFileSync(wasm, bytes);
  const outDir = join(RUN_DIR, name);
  const js = transpile(wasm, outDir, { name, map: map?.(outDir) });
  const script = `const m = await import(${JSON.stringify(pathToFileURL(js).href)});
process.stdout.write(JSON.stringify(m.frontend.restock(['x', 'y'])));`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
}

test("exportTo: 'console' runs under jco with no wasi:otel host and prints the tree", async () => {
  const input = nativeFile('inputs/chain.wasm');
  await assert.rejects(instrument(input, { exportTo: 'jaeger' }), TypeError);
  const out = await instrument(input, { exportTo: 'console', serviceName: 'shop' });
  assert.ok(
    out.report.skipped.some((s) => s.includes('in-guest exporter')),
    out.report.skipped.join('\n'),
  );
  // The plain chain's middle makes a span by hand: it needs the JS host.
  const plain = restockInChild('chain-plain', input, otelMap);
  assert.equal(plain.status, 0, plain.stderr);
  const child = restockInChild('chain-console', out.component);
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout, plain.stdout, 'the instrumented chain answers as the plain one');

  const lines = child.stderr.split('\n').filter((l) => l.length > 0);
  assert.match(lines[0], /^trace [0-9a-f]{32}$/);
  const names = lines.slice(1).map((l) => l.replace(/^[│├└─ ]+/u, '').split(' (')[0]);
  const store = 'nebula:fixtures/backend#store';
  assert.deepEqual(names, [
    'nebula:fixtures/frontend#restock server',
    `${store} client`,
    `${store} server`,
    'middle-store',
    `${store} client`,
    `${store} server`,
  ]);
});
