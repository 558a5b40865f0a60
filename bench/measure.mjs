// Timing helpers shared by the bench scripts: fixed-time runs and medians.

/** Operations per timed batch: large enough that reading the clock costs nothing measurable. */
export const BATCH = 10_000;

/**
 * Calls `batch(BATCH)` until `ms` milliseconds have passed.
 * @param batch - runs BATCH operations and returns a number that depends on their results
 * @param ms - how long to run
 * @param opsPerCall - counter updates per operation (3 for a multifd packet)
 * @returns nanoseconds per update, the operations done, and the sum of what `batch` returned
 */
export function fixedTime(batch, ms, opsPerCall = 1) {
  let calls = 0;
  let sink = 0;
  const t0 = performance.now();
  let t;
  do {
    sink += batch(BATCH);
    calls += BATCH;
    t = performance.now();
  } while (t - t0 < ms);
  return { nsPerOp: ((t - t0) * 1e6) / (calls * opsPerCall), calls, sink };
}

/** The median of a list of numbers (the mean of the two middle ones for an even count). */
export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length & 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The median over rounds of one figure of each round.
 * @param rounds - the rounds of a suite
 * @param f - the figure of one round; rounds where it is not a finite number are skipped
 * @returns the median, or NaN when no round has the figure
 */
export const medianOver = (rounds, f) => median(rounds.map((round) => f(round)));

/** Wall-clock milliseconds comparable between threads (performance.now() starts per thread). */
export const wallMs = () => performance.timeOrigin + performance.now();
