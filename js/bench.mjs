#!/usr/bin/env node
// Instrument time of the same inputs: the native CLI, `instrument()` in
// Node, and `instrument()` in headless Chromium (the page's module). Not a
// test: it prints a table.
//
//   node bench.mjs [runs] [input.wasm ...]
//
// Defaults: 7 runs; target/nebula/sample.wasm (small) and
// target/nebula/nebula.wasm (6.4 MiB). The CLI is target/debug/nebula
// (`cargo build -p nebula-native`; NEBULA_CLI names another).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';

import { chromium } from 'playwright-core';

import { ARTIFACTS, JS_DIR } from './build.mjs';
import { instrument, load } from './src/index.js';
import { serve } from './serve.mjs';

const REPO = join(JS_DIR, '..');
const runs = Number(process.argv[2] ?? 7);
const inputs = process.argv.length > 3 ? process.argv.slice(3) : [join(ARTIFACTS, 'sample.wasm'), join(ARTIFACTS, 'nebula.wasm')];
const CLI = process.env.NEBULA_CLI ?? join(process.env.CARGO_TARGET_DIR ?? join(REPO, 'target'), 'debug', 'nebula');
const CHROMIUM = process.env.NEBULA_CHROMIUM ?? '/usr/bin/chromium';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => (x === undefined ? '-' : x < 10 ? x.toFixed(1) : x.toFixed(0));

/** The native CLI: whole-process time, and the time it reports itself. */
function native(input) {
  if (!existsSync(CLI)) return {};
  const out = mkdtempSync(join(tmpdir(), 'nebula-bench-'));
  const proc = [];
  const own = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const text = execFileSync(CLI, ['instrument', input, '-o', out, '--force'], { encoding: 'utf8' });
    proc.push(performance.now() - t);
    const m = text.match(/ in ([\d.]+) (ms|s) → /);
    if (m) own.push(Number(m[1]) * (m[2] === 's' ? 1e3 : 1));
  }
  rmSync(out, { recursive: true, force: true });
  return { process: median(proc), own: own.length ? median(own) : undefined };
}

/** `instrument()` in this Node process: first call and warm median. */
async function inNode(bytes) {
  const first = await instrument(bytes);
  const inside = [];
  const total = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const out = await instrument(bytes);
    total.push(performance.now() - t);
    inside.push(out.stats.millis);
  }
  return { first: first.stats.millis, inside: median(inside), total: median(total) };
}

/** `instrument()` in headless Chromium, on the page's module. */
async function inChromium(files) {
  if (!existsSync(CHROMIUM)) return {};
  const { server, url } = await serve({ root: REPO });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    // playwright gives the browser a fresh, empty profile of its own.
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${url}js/page/`);
    await page.waitForSelector('#status[data-state="ready"]', { timeout: 120_000 });
    const results = {};
    for (const file of files) {
      const path = `/${relative(REPO, file).split('\\').join('/')}`;
      results[file] = await page.evaluate(
        async ({ path, runs }) => {
          const { instrument } = await import('/js/src/index.js');
          const bytes = new Uint8Array(await (await fetch(path)).arrayBuffer());
          const first = await instrument(bytes);
          const inside = [];
          const total = [];
          for (let i = 0; i < runs; i++) {
            const t = performance.now();
            const out = await instrument(bytes);
            total.push(performance.now() - t);
            inside.push(out.stats.millis);
          }
          const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
          return { first: first.stats.millis, inside: median(inside), total: median(total) };
        },
        { path, runs },
      );
    }
    return results;
  } finally {
    await browser.close();
    server.close();
  }
}

const t = performance.now();
await load();
const loadMs = performance.now() - t;
const rows = [];
for (const input of inputs) {
  const bytes = new Uint8Array(readFileSync(input));
  rows.push({ input, size: bytes.length, native: native(input), node: await inNode(bytes) });
}
const browser = await inChromium(inputs.filter((f) => f.startsWith(REPO)));
for (const row of rows) row.chromium = browser[row.input] ?? {};

console.log(`node ${process.version}; ${runs} runs, medians in ms; Node load+compile of nebula.wasm: ${ms(loadMs)} ms`);
console.log(
  `first call of a fresh process / page (${basename(rows[0].input)}, wasm code not warmed up yet): ` +
    `Node ${ms(rows[0].node.first)} ms, Chromium ${ms(rows[0].chromium.first)} ms`,
);
console.log('CLI process: the whole `nebula instrument` run; CLI own: the time it prints; ' +
  'inside: the `instrument` call alone; total: with a fresh instance (what `instrument()` does)');
console.log('| input | size | CLI process | CLI own | Node inside | Node total | Chromium inside | Chromium total |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const kib = r.size > 1 << 20 ? `${(r.size / (1 << 20)).toFixed(1)} MiB` : `${(r.size / 1024).toFixed(1)} KiB`;
  console.log(
    `| ${basename(r.input)} | ${kib} | ${ms(r.native.process)} | ${ms(r.native.own)} | ${ms(r.node.inside)} | ` +
      `${ms(r.node.total)} | ${ms(r.chromium.inside)} | ${ms(r.chromium.total)} |`,
  );
}
