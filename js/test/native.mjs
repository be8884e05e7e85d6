// What the native side wrote for these tests (`nebula-native/tests/js.rs`,
// run by `cargo test`): `NEBULA_JS_NATIVE/manifest.json` names the inputs,
// the native CLI's outputs, the native reports and typed errors.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The directory of the native outputs. */
export const NATIVE_DIR = process.env.NEBULA_JS_NATIVE;

/** Where tests put artifacts (the page screenshot). */
export const ARTIFACTS = process.env.NEBULA_JS_ARTIFACTS ?? join(import.meta.dirname ?? '.', '..', 'dist', 'artifacts');

/** The manifest; throws a clear error when the tests run on their own. */
export function manifest() {
  if (!NATIVE_DIR) {
    throw new Error(
      'NEBULA_JS_NATIVE is not set: these tests compare with native outputs that ' +
        '`cargo test -p nebula-native --test js` writes (run that, or set it to its target/tmp/js-native)',
    );
  }
  return JSON.parse(readFileSync(join(NATIVE_DIR, 'manifest.json'), 'utf8'));
}

/** A file of the native directory. */
export function nativeFile(rel) {
  return new Uint8Array(readFileSync(join(NATIVE_DIR, rel)));
}

/** A value with `undefined` fields dropped (jco lifts `none` as `undefined`). */
export function plain(value) {
  return JSON.parse(JSON.stringify(value));
}

/** Whether two byte arrays are equal (with a short diagnosis otherwise). */
export function sameBytes(a, b) {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`;
  const at = a.findIndex((x, i) => x !== b[i]);
  return at < 0 ? true : `first difference at byte ${at}`;
}
