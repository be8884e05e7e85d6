// The page: instrument a dropped component in the browser, and run the
// pre-transpiled instrumented fixture with the JavaScript `wasi:otel` host,
// drawing its spans as nested bars by time.

import { instrument, load, NebulaError } from '../src/index.js';
import { defaultHost, millis, printTree, spanTree } from '../src/otel.js';

const $ = (id) => document.getElementById(id);
const FIXTURE = '../dist/page/imports';

/** `n` bytes as KiB with one decimal. */
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

/** An element with text and attributes. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'style') e.style.cssText = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

/** Fetches a file of the page as bytes. */
async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText} (did \`node js/build.mjs\` run?)`);
  return new Uint8Array(await res.arrayBuffer());
}

let downloadUrl;

/** Shows the report of one `instrument` call. */
function showReport(name, out) {
  const { report, stats } = out;
  $('error').hidden = true;
  $('summary').textContent =
    `${name}: ${report.wrapped.length} functions wrapped, ` +
    `${kib(stats.inputBytes)} → ${kib(stats.outputBytes)}, ${stats.millis.toFixed(1)} ms`;
  $('summary').dataset.wrapped = report.wrapped.length;
  $('summary').dataset.inputBytes = stats.inputBytes;
  $('summary').dataset.outputBytes = stats.outputBytes;
  const body = $('wrapped').tBodies[0];
  body.replaceChildren(
    ...report.wrapped.map((f) =>
      el('tr', {}, el('td', {}, f.spanName), el('td', {}, f.direction), el('td', {}, f.interface ?? ''), el('td', {}, f.function)),
    ),
  );
  $('skipped').replaceChildren(...report.skipped.map((s) => el('li', {}, s)));
  if (report.skipped.length === 0) $('skipped').append(el('li', {}, '(nothing)'));
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([out.component], { type: 'application/wasm' }));
  const a = $('download');
  a.href = downloadUrl;
  a.download = `${name.replace(/\.wasm$/, '')}.instrumented.wasm`;
  $('result').hidden = false;
}

/** Shows why instrumenting failed. */
function showError(name, e) {
  $('result').hidden = true;
  const box = $('error');
  box.hidden = false;
  box.dataset.kind = e instanceof NebulaError ? e.kind : 'exception';
  const causes = e instanceof NebulaError ? e.causes.map((c, i) => `\n    ${i}: ${c}`).join('') : '';
  box.textContent = `${name}: ${e instanceof NebulaError ? `[${e.kind}] ` : ''}${e.message}${causes}`;
}

/** Instruments a file the person gave. */
async function onFile(file) {
  $('summary').textContent = `Instrumenting ${file.name}…`;
  try {
    const out = await instrument(new Uint8Array(await file.arrayBuffer()));
    showReport(file.name, out);
  } catch (e) {
    showError(file.name, e);
  }
}

/** Draws spans as a trace viewer does: a row per span, bars by time. */
function drawTrace(spans) {
  const trace = $('trace');
  trace.replaceChildren();
  if (spans.length === 0) {
    trace.append(el('p', {}, 'No spans.'));
    return;
  }
  const t0 = Math.min(...spans.map((s) => millis(s.startTime)));
  const t1 = Math.max(...spans.map((s) => millis(s.endTime)));
  const total = Math.max(t1 - t0, 1e-3);
  const traces = new Set(spans.map((s) => s.spanContext.traceId));
  trace.append(el('p', { class: 'trace-id' }, `trace ${[...traces].join(', ')} — ${total.toFixed(1)} ms`));
  const walk = (node, depth) => {
    const s = node.span;
    const start = millis(s.startTime) - t0;
    const dur = millis(s.endTime) - millis(s.startTime);
    const error = s.status?.tag === 'error';
    trace.append(
      el(
        'div',
        {
          class: 'row',
          'data-name': s.name,
          'data-kind': s.spanKind,
          'data-depth': depth,
          'data-span-id': s.spanContext.spanId,
          'data-parent-span-id': s.parentSpanId,
          'data-trace-id': s.spanContext.traceId,
        },
        el('span', { class: 'label', style: `padding-left:${depth * 1.2}em`, title: s.name }, s.name, el('span', { class: 'kind' }, s.spanKind)),
        el(
          'div',
          { class: 'lane' },
          el('div', {
            class: `bar ${s.spanKind}${error ? ' error' : ''}`,
            style: `left:${((start / total) * 100).toFixed(3)}%;width:${((dur / total) * 100).toFixed(3)}%`,
          }),
        ),
        el('span', { class: 'dur' }, `${dur.toFixed(1)} ms`),
      ),
    );
    for (const child of node.children) walk(child, depth + 1);
  };
  for (const root of spanTree(spans)) walk(root, 0);
}

/** Instruments the fixture here, checks the bytes, runs the transpiled copy. */
async function run() {
  const status = $('run-status');
  $('run').disabled = true;
  try {
    status.textContent = 'Instrumenting imports.wasm…';
    const [plain, transpiled] = await Promise.all([fetchBytes(`${FIXTURE}.wasm`), fetchBytes(`${FIXTURE}.instrumented.wasm`)]);
    const out = await instrument(plain);
    const same = out.component.length === transpiled.length && out.component.every((b, i) => b === transpiled[i]);
    if (!same) throw new Error('the bytes instrumented here differ from the transpiled ones: rebuild with `node js/build.mjs`');
    const { imports } = await import(`${FIXTURE}/imports.js`);
    const n = Number($('n').value);
    const spans = [];
    defaultHost.setHandler((span) => spans.push(span));
    let result;
    try {
      result = imports.workImports(n);
    } finally {
      defaultHost.setHandler(undefined);
    }
    drawTrace(spans);
    printTree(spans);
    status.dataset.result = result;
    status.dataset.spans = spans.length;
    status.textContent =
      `work-imports(${n}) = ${result}; ${out.report.wrapped.length} functions wrapped here in ` +
      `${out.stats.millis.toFixed(1)} ms, ` +
      `same bytes as the transpiled copy; ${spans.length} spans:`;
  } catch (e) {
    status.textContent = `Run failed: ${e.message}`;
    status.dataset.failed = 'true';
  } finally {
    $('run').disabled = false;
  }
}

function wire() {
  const zone = $('dropzone');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const file = e.dataTransfer?.files?.[0];
    if (file) onFile(file);
  });
  $('file').addEventListener('change', (e) => {
    const file = e.target.files?.[0];
    if (file) onFile(file);
  });
  $('run').addEventListener('click', run);
}

wire();
const status = $('status');
try {
  const t = performance.now();
  await load();
  status.textContent = `nebula.wasm ready (loaded and compiled in ${(performance.now() - t).toFixed(0)} ms).`;
  status.dataset.state = 'ready';
  $('run').disabled = false;
} catch (e) {
  status.textContent = `Could not load nebula.wasm: ${e.message}`;
  status.dataset.state = 'failed';
}
