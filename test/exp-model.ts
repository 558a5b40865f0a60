/**
 * An independent model of the exponential buckets, for tests, straight from the definition: the
 * OpenTelemetry bucket of index i holds the values v with base^i < v ≤ base^(i+1), base = 2^(2^−s),
 * that is 2^i < v^(2^s) ≤ 2^(i+1). Decided by comparing the BigInt v^(2^s) with powers of two; a
 * bucket's lowest integer found by bisection on that comparison. No table, no root, no bit length:
 * it shares no method with the library's rule.
 */
export const TOP = 1n << 64n;
export const U64_MAX = TOP - 1n;

/** The highest index of a u64 value at scale `s`. */
export const maxIndex = (s: number): number => 64 * 2 ** s - 1;

/** Whether v^(2^s) > 2^i: v lies above base^i. */
function above(v: bigint, s: number, i: number): boolean {
  return v ** (1n << BigInt(s)) > 1n << BigInt(i);
}

/** The OpenTelemetry index of v ≥ 1: the one i with 2^i < v^(2^s) ≤ 2^(i+1), found by bisection. */
export function modelIndex(v: bigint, s: number): number {
  // above(v, s, -1) holds for every v ≥ 1 (v^(2^s) ≥ 1 > 1/2); above(v, s, 64·2^s) for none below 2^64.
  let lo = -1;
  let hi = maxIndex(s) + 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (above(v, s, mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

const lowestCache = new Map<string, bigint>();

/** The smallest integer v ≥ 1 whose index is ≥ i (2^64 when there is none below it). */
export function modelLowest(i: number, s: number): bigint {
  if (i <= -1) return 1n;
  const key = `${s}:${i}`;
  const cached = lowestCache.get(key);
  if (cached !== undefined) return cached;
  // The least v with v^(2^s) > 2^i, in [1, 2^64].
  let lo = 1n;
  let hi = TOP;
  while (lo < hi) {
    const mid = (lo + hi) >> 1n;
    if (above(mid, s, i)) hi = mid;
    else lo = mid + 1n;
  }
  lowestCache.set(key, lo);
  return lo;
}

/** The cell a histogram of `cells` bucket cells records v in: 0 for 0, else 1 + (index + 1), the top one past it. */
export function modelCell(v: bigint, s: number, cells: number): number {
  if (v === 0n) return 0;
  return Math.min(modelIndex(v, s) + 2, cells - 1);
}

/** The range of cell `cell` (≥ 1) as the library gives it: [lowest(index), lowest(index + 1)), the top one open. */
export function modelCellRange(cell: number, s: number, cells: number): { lower: bigint; upper: bigint | null } {
  if (cell === 0) return { lower: 0n, upper: 1n };
  const index = cell - 2;
  const upper = modelLowest(index + 1, s);
  return { lower: modelLowest(index, s), upper: cell === cells - 1 || upper > U64_MAX ? null : upper };
}

/** Each cell's count after recording `values` once each. */
export function modelCounts(values: readonly bigint[], s: number, cells: number): bigint[] {
  const counts = Array.from({ length: cells }, () => 0n);
  for (const v of values) counts[modelCell(v, s, cells)]!++;
  return counts;
}
