// `wasi:clocks/wall-clock` with sub-millisecond resolution, for span times.
//
// The preview2-shim's wall clock reads `Date.now()` (whole milliseconds), so
// spans shorter than a millisecond would last 0 ms. Map an instrumented
// component's wall clock here with jco's
// `--map 'wasi:clocks/wall-clock=<path to this file>#wallClock'`:
// the epoch time from `performance.timeOrigin + performance.now()`.

/** `wasi:clocks/wall-clock`. */
export const wallClock = {
  /** The time now, as seconds and nanoseconds since the Unix epoch. */
  now() {
    const ms = performance.timeOrigin + performance.now();
    const seconds = Math.floor(ms / 1e3);
    const nanoseconds = Math.min(999_999_999, Math.round((ms - seconds * 1e3) * 1e6));
    return { seconds: BigInt(seconds), nanoseconds };
  },
  /** The resolution: a microsecond (browsers may coarsen `performance.now`). */
  resolution() {
    return { seconds: 0n, nanoseconds: 1000 };
  },
};
