// The page in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): load it from `serve.mjs`, give it a text file (the
// typed error shows), give it a fixture file and check the report and the
// downloaded bytes against the native CLI's, run the shipped fixture and
// check the drawn span tree; the screenshot goes to NEBULA_JS_ARTIFACTS.
//
// Without Chromium this fails, saying how to install it, unless
// NEBULA_SKIP_BROWSER=1.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { serve } from '../serve.mjs';
import { ARTIFACTS, manifest, NATIVE_DIR, nativeFile, sameBytes } from './native.mjs';

const CHROMIUM = process.env.NEBULA_CHROMIUM ?? '/usr/bin/chromium';
const skip = process.env.NEBULA_SKIP_BROWSER === '1';

/** The flags this machine's closed network needs (see the README). */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let server;
let url;
let browser;
let page;
const problems = [];

before(async () => {
  if (skip) return;
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: the page test needs Debian's package, ` +
        'install it with `apt-get install -y chromium` (as root; `.ci/run` does), ' +
        'or set NEBULA_SKIP_BROWSER=1 to skip this test',
    );
  }
  ({ server, url } = await serve());
  // playwright gives the browser a fresh, empty profile (it refuses
  // `--user-data-dir`).
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
  // Offline: everything the page loads comes from the local server.
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(url) && !u.startsWith('blob:') && !u.startsWith('data:')) problems.push(`request outside: ${u}`);
  });
  await page.goto(`${url}page/`);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 120_000 });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('the page shows the typed error for a file that is not a component', { skip }, async () => {
  const text = manifest().errors.find((c) => c.name === 'text');
  await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(nativeFile(text.input)) });
  await page.waitForSelector('#error:not([hidden])');
  assert.equal(await page.locator('#error').getAttribute('data-kind'), text.error.kind);
  assert.equal(await page.locator('#error').textContent(), `notes.txt: [${text.error.kind}] ${text.error.message}`);
  assert.ok(await page.locator('#result').isHidden());
});

test('the page instruments a given file: report and download match the native CLI', { skip }, async () => {
  const sample = manifest().instrument.find((c) => c.name === 'sample');
  await page.setInputFiles('#file', join(NATIVE_DIR, sample.input));
  await page.waitForSelector('#result:not([hidden])');
  assert.ok(await page.locator('#error').isHidden(), 'the earlier error is gone');
  const summary = page.locator('#summary');
  assert.equal(Number(await summary.getAttribute('data-wrapped')), sample.report.wrapped.length);
  assert.equal(Number(await summary.getAttribute('data-output-bytes')), nativeFile(sample.output).length);
  assert.match(await summary.textContent(), /^sample\.wasm: 6 functions wrapped, 111\.\d KiB → \d+\.\d KiB, [\d.]+ ms$/);
  const rows = await page.locator('#wrapped tbody tr td:first-child').allTextContents();
  assert.deepEqual(rows, sample.report.wrapped.map((f) => f.spanName));

  const download = page.waitForEvent('download');
  await page.click('#download');
  const file = await download;
  assert.equal(file.suggestedFilename(), 'sample.instrumented.wasm');
  const bytes = new Uint8Array(readFileSync(await file.path()));
  assert.equal(sameBytes(bytes, nativeFile(sample.output)), true, 'downloaded bytes differ from the native CLI output');
});

test('run draws the span tree of the instrumented fixture', { skip }, async () => {
  await page.fill('#n', '4');
  await page.click('#run');
  await page.waitForSelector('#trace .row');
  const status = page.locator('#run-status');
  // tick(x) = x * x + 1, for x = 0..3.
  assert.equal(await status.getAttribute('data-result'), '18', await status.textContent());
  const rows = await page.locator('#trace .row').evaluateAll((els) =>
    els.map((e) => {
      const bar = e.querySelector('.bar');
      return {
        ...e.dataset,
        left: parseFloat(bar.style.left),
        width: parseFloat(bar.style.width),
        label: e.querySelector('.label').textContent,
      };
    }),
  );
  assert.deepEqual(
    rows.map((r) => `${r.depth} ${r.name} ${r.kind}`),
    ['0 nebula:guests/imports#work-imports server', ...Array(4).fill('1 nebula:guests/host-work#tick client')],
  );
  const [root, ...ticks] = rows;
  assert.equal(root.parentSpanId, '');
  assert.equal(new Set(rows.map((r) => r.traceId)).size, 1, 'one trace');
  assert.equal(new Set(rows.map((r) => r.spanId)).size, 5);
  for (const t of ticks) {
    assert.equal(t.parentSpanId, root.spanId);
    assert.ok(t.width > 0, 'a visible bar');
    assert.ok(t.left >= root.left && t.left + t.width <= root.left + root.width + 0.01, 'inside the parent bar');
  }
  assert.ok(ticks.every((t, i) => i === 0 || t.left >= ticks[i - 1].left), 'ticks in call order');
  assert.equal(await status.getAttribute('data-spans'), '5');

  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'page.png');
  writeFileSync(shot, await page.screenshot({ fullPage: true }));
  assert.ok(readFileSync(shot).length > 10_000);
  assert.deepEqual(problems, []);
});
