/** `wasi:clocks/wall-clock` with sub-millisecond resolution (for span times). */
export const wallClock: {
  now(): { seconds: bigint; nanoseconds: number };
  resolution(): { seconds: bigint; nanoseconds: number };
};
