// `instrument()` in Node against the native instrumenter: the same bytes
// as the native CLI, the same report as the native library, the same typed
// errors (variant, text and displayed message).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { instrument, NebulaError } from '../src/index.js';
import { manifest, nativeFile, plain, sameBytes } from './native.mjs';

const { instrument: cases, errors } = manifest();

test('the fixtures cover components, a composition and options', () => {
  const names = cases.map((c) => c.name);
  for (const n of ['sample', 'chain', 'imports', 'counters', 'errors']) assert.ok(names.includes(n), `${n} in ${names}`);
  assert.ok(cases.some((c) => Object.keys(c.options).length > 0));
  assert.ok(errors.length >= 5);
});

for (const c of cases) {
  test(`instrument(${c.name}) gives the native CLI's bytes and the native report`, async () => {
    const input = nativeFile(c.input);
    const out = await instrument(input, c.options);
    assert.equal(sameBytes(out.component, nativeFile(c.output)), true, `${c.name}: bytes differ from the native CLI's`);
    assert.deepEqual(plain(out.report), c.report);
    assert.equal(out.stats.inputBytes, input.length);
    assert.equal(out.stats.outputBytes, out.component.length);
    assert.ok(out.stats.millis > 0);
  });
}

for (const c of errors) {
  test(`instrument(${c.name}) fails with the native typed error`, async () => {
    await assert.rejects(instrument(nativeFile(c.input), c.options), (e) => {
      assert.ok(e instanceof NebulaError, `not a NebulaError: ${e}`);
      assert.equal(e.kind, c.error.kind);
      assert.equal(e.message, c.error.message);
      assert.deepEqual(e.causes, c.error.causes);
      // The whole chain, line for line as the native CLI prints it.
      if (c.cli) assert.deepEqual([e.message, ...e.causes], c.cli);
      return true;
    });
  });
}

test('bad arguments are refused before nebula.wasm runs', async () => {
  await assert.rejects(instrument('not bytes'), TypeError);
  await assert.rejects(instrument(new Uint8Array(), { flavor: 'sideways' }), TypeError);
  await assert.rejects(instrument(new Uint8Array(), { include: '*' }), TypeError);
});

test('an ArrayBuffer or a Node Buffer works as input', async () => {
  const c = cases.find((x) => x.name === 'sample');
  const bytes = nativeFile(c.input);
  const fromBuffer = await instrument(Buffer.from(bytes));
  const fromArrayBuffer = await instrument(bytes.slice().buffer);
  assert.equal(sameBytes(fromBuffer.component, nativeFile(c.output)), true);
  assert.equal(sameBytes(fromArrayBuffer.component, nativeFile(c.output)), true);
});
