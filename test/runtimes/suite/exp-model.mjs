// A model of the exponential buckets for the runtime suite, from their definition alone: the
// OpenTelemetry bucket of index i at scale s holds the values v with 2^(i/2^s) < v ≤ 2^((i+1)/2^s),
// that is 2^i < v^(2^s) ≤ 2^(i+1), decided here by comparing the BigInt v^(2^s) with powers of two
// (no table, no logarithm, nothing the library computes with).

export const U64_MAX = 2n ** 64n - 1n;

/** Whether v^(2^s) > 2^i. */
const above = (v, s, i) => v ** (1n << BigInt(s)) > 1n << BigInt(i);

/** The index of v ≥ 1 at scale s: the i with 2^i < v^(2^s) ≤ 2^(i+1), by bisection over −1 … 64·2^s − 1. */
export function modelIndex(v, s) {
  let lo = -1; // above(v, s, -1) holds for every v ≥ 1
  let hi = 64 * 2 ** s; // above(v, s, 64·2^s) holds for no v < 2^64
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (above(v, s, mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The least integer v ≥ 1 with v^(2^s) > 2^i (the lowest integer of bucket i or above). */
export function modelLowest(i, s) {
  let lo = 1n;
  let hi = 2n ** 64n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1n;
    if (above(mid, s, i)) hi = mid;
    else lo = mid + 1n;
  }
  return lo;
}

/**
 * The counts of a histogram's `buckets()` after recording each of `values` once: cell 0 is the zero
 * bucket, cell k ≥ 1 index k − 2, and a histogram without maxValue has 64·2^s + 2 cells.
 */
export function modelCounts(values, s) {
  const counts = Array.from({ length: 64 * 2 ** s + 2 }, () => 0n);
  for (const v of values) counts[v === 0n ? 0 : modelIndex(v, s) + 2]++;
  return counts;
}

/** Each count times `k`, cell by cell. */
export const times = (counts, k) => counts.map((c) => c * BigInt(k));
/** Two count arrays added cell by cell. */
export const plus = (a, b) => a.map((c, i) => c + b[i]);

/**
 * A Prometheus native histogram's positive spans and deltas for `values` (nonzero ones) at scale s:
 * Prometheus' index is OpenTelemetry's + 1; runs of up to two empty buckets stay inside a span.
 */
export function modelNative(values, s) {
  const byIndex = new Map();
  for (const v of values) if (v !== 0n) byIndex.set(modelIndex(v, s) + 1, (byIndex.get(modelIndex(v, s) + 1) ?? 0n) + 1n);
  const indexes = [...byIndex.keys()].sort((a, b) => a - b);
  const spans = [];
  const deltas = [];
  let previousIndex;
  let previousCount = 0n;
  for (const index of indexes) {
    const gap = previousIndex === undefined ? undefined : index - previousIndex - 1;
    if (gap === undefined || gap > 2) {
      spans.push({ offset: gap === undefined ? index : gap, length: 1 });
    } else {
      for (let k = 0; k < gap; k++) {
        deltas.push(-previousCount);
        previousCount = 0n;
      }
      spans.at(-1).length += gap + 1;
    }
    deltas.push(byIndex.get(index) - previousCount);
    previousCount = byIndex.get(index);
    previousIndex = index;
  }
  return { spans, deltas };
}
