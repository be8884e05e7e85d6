// The JS `wasi:otel` host on its own: the native host's stack semantics,
// the tree helpers and the forwarding to an `@opentelemetry/api`-shaped
// module.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  formatTree,
  invalidContext,
  isInvalid,
  openTelemetryHandler,
  OtelHost,
  spanTree,
  tryOpenTelemetryHandler,
} from '../src/otel.js';
import { wallClock } from '../src/clock.js';

const cx = (c) => ({
  traceId: '1'.repeat(32),
  spanId: c.repeat(16),
  traceFlags: { sampled: true },
  isRemote: false,
  traceState: [],
});

const data = (c, { parent = '', name = `s-${c}`, kind = 'internal', start = 0, end = 1, status = { tag: 'unset' } } = {}) => ({
  spanContext: cx(c),
  parentSpanId: parent,
  spanKind: kind,
  name,
  startTime: { seconds: BigInt(start), nanoseconds: 0 },
  endTime: { seconds: BigInt(end), nanoseconds: 0 },
  attributes: [{ key: 'wasm.function', value: '"f"' }],
  events: [],
  links: [],
  status,
  instrumentationScope: { name: 'nebula', version: '0.1.0', attributes: [] },
  droppedAttributes: 0,
  droppedEvents: 0,
  droppedLinks: 0,
});

test('an empty stack reports the invalid context, or the remote parent', () => {
  const host = new OtelHost();
  assert.deepEqual(host.tracing.innerSpanContext(), invalidContext());
  assert.deepEqual(host.tracing.outerSpanContext(), invalidContext());
  assert.deepEqual(host.tracing.currentSpanContext(), invalidContext());
  assert.ok(isInvalid(host.tracing.innerSpanContext()));
  assert.equal(invalidContext().traceId, '0'.repeat(32));
  assert.equal(invalidContext().spanId, '0'.repeat(16));

  const remote = new OtelHost({ remoteParent: cx('a') });
  assert.deepEqual(remote.tracing.innerSpanContext(), cx('a'));
  assert.deepEqual(remote.tracing.outerSpanContext(), cx('a'));
});

test('on-start pushes, on-end pops and records, mis-nested ends remove only their entry', () => {
  const host = new OtelHost();
  host.tracing.onStart(cx('a'));
  host.tracing.onStart(cx('b'));
  assert.deepEqual(host.tracing.innerSpanContext(), cx('b'));
  assert.deepEqual(host.tracing.outerSpanContext(), cx('a'));

  // Ending a span that is not on the stack leaves it untouched.
  host.tracing.onEnd(data('c'));
  assert.equal(host.stack.length, 2);

  // Ending a span below the top removes only that span.
  host.tracing.onEnd(data('a'));
  assert.deepEqual(host.stack, [cx('b')]);
  assert.equal(host.misnested, 1);
  host.tracing.onEnd(data('b'));
  assert.equal(host.stack.length, 0);
  assert.deepEqual(host.tracing.innerSpanContext(), invalidContext());

  const ended = host.take().map((s) => s.spanContext.spanId[0]);
  assert.deepEqual(ended, ['c', 'a', 'b']);
  assert.deepEqual(host.take(), []);
});

test('a handler receives the finished spans instead of the record', () => {
  const got = [];
  const host = new OtelHost({ onSpan: (s) => got.push(s.name) });
  host.tracing.onStart(cx('a'));
  host.tracing.onEnd(data('a'));
  assert.deepEqual(got, ['s-a']);
  assert.deepEqual(host.take(), []);
  host.setHandler(undefined);
  host.tracing.onEnd(data('b'));
  assert.equal(host.take().length, 1);
});

test('the tree nests children under parents, siblings by start time', () => {
  const spans = [
    data('c', { parent: 'a'.repeat(16), name: 'second', kind: 'client', start: 5, end: 6 }),
    data('b', { parent: 'a'.repeat(16), name: 'first', kind: 'client', start: 2, end: 3, status: { tag: 'error', val: 'boom' } }),
    data('a', { name: 'root', kind: 'server', start: 1, end: 7 }),
  ];
  const [root, ...rest] = spanTree(spans);
  assert.equal(rest.length, 0);
  assert.equal(root.span.name, 'root');
  assert.deepEqual(root.children.map((n) => n.span.name), ['first', 'second']);
  assert.equal(formatTree(spans, { durations: false }), 'root server\n  first client error(boom)\n  second client');
  assert.match(formatTree(spans), /^root server 6000\.000 ms\n/);
});

test('spans are forwarded through an @opentelemetry/api-shaped module', () => {
  const calls = [];
  const api = {
    context: { active: () => 'ROOT' },
    trace: {
      getTracer: (name, version) => ({
        startSpan: (spanName, options, parent) => {
          calls.push({ tracer: [name, version], spanName, options, parent });
          const rec = calls.at(-1);
          return { setStatus: (s) => (rec.status = s), end: (t) => (rec.end = t) };
        },
      }),
      setSpanContext: (ctx, sc) => ({ ctx, sc }),
    },
  };
  const forward = openTelemetryHandler(api);
  forward(data('a', { name: 'root', kind: 'server', start: 1, end: 2, status: { tag: 'ok' } }));
  forward(data('b', { parent: 'a'.repeat(16), kind: 'client', status: { tag: 'error', val: 'no' } }));
  forward({ ...data('d'), spanContext: { ...cx('d'), traceFlags: { sampled: false } } });

  assert.equal(calls.length, 2, 'unsampled spans are dropped');
  assert.deepEqual(calls[0].tracer, ['nebula', '0.1.0']);
  assert.equal(calls[0].spanName, 'root');
  assert.equal(calls[0].options.kind, 1);
  assert.deepEqual(calls[0].options.startTime, [1, 0]);
  assert.deepEqual(calls[0].options.attributes, { 'wasm.function': 'f' });
  assert.equal(calls[0].parent, 'ROOT');
  assert.deepEqual(calls[0].status, { code: 1 });
  assert.deepEqual(calls[0].end, [2, 0]);
  assert.equal(calls[1].options.kind, 2);
  assert.deepEqual(calls[1].parent.sc, { traceId: '1'.repeat(32), spanId: 'a'.repeat(16), traceFlags: 1, isRemote: true });
  assert.deepEqual(calls[1].status, { code: 2, message: 'no' });
});

test('tryOpenTelemetryHandler gives a handler exactly when @opentelemetry/api imports', async (t) => {
  let present = true;
  try {
    await import('@opentelemetry/api');
  } catch {
    present = false;
  }
  const handler = await tryOpenTelemetryHandler();
  assert.equal(typeof handler, present ? 'function' : 'undefined');
});

test('the mapped wall clock tracks Date.now() with sub-millisecond resolution', () => {
  const reads = Array.from({ length: 50 }, () => wallClock.now());
  const ms = reads.map((t) => Number(t.seconds) * 1e3 + t.nanoseconds / 1e6);
  assert.ok(Math.abs(ms.at(-1) - Date.now()) < 50, `${ms.at(-1)} vs ${Date.now()}`);
  assert.ok(ms.every((t, i) => i === 0 || t >= ms[i - 1]), 'monotonic over a short run');
  assert.ok(reads.every((t) => t.nanoseconds >= 0 && t.nanoseconds < 1e9));
  assert.ok(reads.some((t) => t.nanoseconds % 1e6 !== 0), 'finer than whole milliseconds');
  assert.deepEqual(wallClock.resolution(), { seconds: 0n, nanoseconds: 1000 });
});
