// Watching a promise settle from a test without leaving an unhandled rejection behind.

/** Tracks a promise's settlement without an unhandled rejection. */
export function track<T>(p: Promise<T>): { p: Promise<T>; settled: () => boolean } {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return { p, settled: () => done };
}
