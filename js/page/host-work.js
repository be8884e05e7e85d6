// The page fixture's import `nebula:guests/host-work`: `tick(x)`, a small
// computation that takes a visible moment (about 2 ms), so that each call's
// client span gets a bar of its own in the drawing.

/** Busy for about `ms` milliseconds. */
function spin(ms) {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n += 1;
  return n;
}

/** `tick(x) = x * x + 1` (wrapping to u32), after about 2 ms of work. */
export function tick(x) {
  spin(2);
  return (Math.imul(x, x) + 1) >>> 0;
}
