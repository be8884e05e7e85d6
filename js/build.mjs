#!/usr/bin/env node
// Builds what the JS package and the page need, into `dist/` (generated,
// not committed):
//
// - `dist/nebula/`: `target/nebula/nebula.wasm` transpiled by jco
//   (`--instantiation async`: `src/index.js` chooses its imports);
// - `dist/page/`: the page's fixture, `target/nebula/guests/imports.wasm`
//   (its `work-imports(n)` calls the host's `host-work.tick` n times), the
//   same instrumented by `src/index.js` (in Node), and that instrumented
//   component transpiled with its `wasi:otel` imports mapped to
//   `src/otel.js`, its wall clock to `src/clock.js` and `host-work` to
//   `page/host-work.js`.
//
// `target/nebula/` is where `cargo build -p nebula-native` puts
// `nebula.wasm` and the guests; `NEBULA_ARTIFACTS` names another one.
//
//   node build.mjs

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** This package's directory (`js/`). */
export const JS_DIR = dirname(fileURLToPath(import.meta.url));
/** Where the cargo build puts `nebula.wasm`, the sample and the guests. */
export const ARTIFACTS = process.env.NEBULA_ARTIFACTS ?? join(JS_DIR, '..', 'target', 'nebula');
/** jco's command-line entry point. */
const JCO = join(JS_DIR, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js');

/** The page fixture's name (a guest of `nebula-native/guests`). */
export const PAGE_FIXTURE = 'imports';

/**
 * Transpiles the component at `input` with jco into `outDir` (emptied
 * first), as `<name>.js`. `map` maps import names to module specifiers
 * (written relative to `outDir`, `#*` for one export per interface);
 * `instantiation` makes an `instantiate(...)` module instead.
 */
export function transpile(input, outDir, { name, map = {}, instantiation = false } = {}) {
  if (!existsSync(JCO)) {
    throw new Error(`jco is missing: run \`npm ci\` in ${JS_DIR}`);
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const args = [JCO, 'transpile', input, '-o', outDir, '--name', name, '-q'];
  for (const [from, to] of Object.entries(map)) args.push('--map', `${from}=${to}`);
  if (instantiation) args.push('--instantiation', 'async');
  execFileSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  return join(outDir, `${name}.js`);
}

/** A path from `fromDir` to `file`, as a relative module specifier. */
export function specifier(fromDir, file) {
  const rel = relative(fromDir, file).split('\\').join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/**
 * The `--map` entries wiring every `wasi:otel` import to `src/otel.js`, and
 * the wall clock (the spans' times) to `src/clock.js`'s sub-millisecond one.
 */
export function otelMap(outDir) {
  return {
    'wasi:otel/*': `${specifier(outDir, join(JS_DIR, 'src', 'otel.js'))}#*`,
    'wasi:clocks/wall-clock': `${specifier(outDir, join(JS_DIR, 'src', 'clock.js'))}#wallClock`,
  };
}

function need(path, what) {
  if (!existsSync(path)) {
    throw new Error(`${what} is missing at ${path}: build it with \`cargo build -p nebula-native\``);
  }
  return path;
}

/** Builds `dist/`. */
export async function build() {
  const nebulaWasm = need(join(ARTIFACTS, 'nebula.wasm'), 'nebula.wasm');
  const dist = join(JS_DIR, 'dist');
  transpile(nebulaWasm, join(dist, 'nebula'), { name: 'nebula', instantiation: true });

  const page = join(dist, 'page');
  mkdirSync(page, { recursive: true });
  const fixture = need(join(ARTIFACTS, 'guests', `${PAGE_FIXTURE}.wasm`), `the ${PAGE_FIXTURE} guest`);
  copyFileSync(fixture, join(page, `${PAGE_FIXTURE}.wasm`));
  const { instrument } = await import('./src/index.js');
  const out = await instrument(readFileSync(fixture));
  const instrumented = join(page, `${PAGE_FIXTURE}.instrumented.wasm`);
  writeFileSync(instrumented, out.component);
  const outDir = join(page, PAGE_FIXTURE);
  transpile(instrumented, outDir, {
    name: PAGE_FIXTURE,
    map: {
      ...otelMap(outDir),
      'nebula:guests/host-work': specifier(outDir, join(JS_DIR, 'page', 'host-work.js')),
    },
  });
  return { nebulaWasm, fixture, wrapped: out.report.wrapped.length };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t = performance.now();
  const done = await build();
  console.log(
    `built js/dist from ${done.nebulaWasm} (page fixture: ${done.fixture}, ${done.wrapped} functions wrapped) ` +
      `in ${((performance.now() - t) / 1e3).toFixed(1)} s`,
  );
}
