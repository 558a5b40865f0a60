/**
 * An independent model of the histogram buckets, for tests: every bucket's range found by walking
 * the values up from 0 (as the rule is stated: below 2^s one bucket per value, then each power of
 * two from 2^s split into 2^s equal parts; with one sub-bucket, 0 and 1 share bucket 0), and the
 * bucket of a value found by searching those ranges. No bit tricks, so it shares no code or method
 * with the library's rule.
 */
const TOP = 1n << 64n;
const cache = new Map<number, readonly (readonly [lower: bigint, upper: bigint])[]>();

/** Every bucket the rule has for `subBits` sub-bits, in order, up to 2^64 (the most there can be). */
export function modelRanges(subBits: number): readonly (readonly [lower: bigint, upper: bigint])[] {
  let ranges = cache.get(subBits);
  if (ranges) return ranges;
  const out: [bigint, bigint][] = [];
  if (subBits === 0) {
    out.push([0n, 2n]);
    for (let lower = 2n; lower < TOP; lower *= 2n) out.push([lower, lower * 2n]);
  } else {
    const sub = 1n << BigInt(subBits);
    for (let value = 0n; value < sub; value++) out.push([value, value + 1n]);
    for (let power = sub; power < TOP; power *= 2n) {
      const width = power / sub;
      for (let lower = power; lower < power * 2n; lower += width) out.push([lower, lower + width]);
    }
  }
  ranges = Object.freeze(out);
  cache.set(subBits, ranges);
  return ranges;
}

/** The bucket `value` counts in, among `buckets` (anything past the last counts in the last). */
export function modelBucket(value: bigint, buckets: number, subBits: number): number {
  const ranges = modelRanges(subBits);
  let lo = 0;
  let hi = ranges.length - 1;
  // The last range whose lower bound is at most the value.
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ranges[mid]![0] <= value) lo = mid;
    else hi = mid - 1;
  }
  return Math.min(lo, buckets - 1);
}

/** Bucket `index`'s range among `buckets`: the last one is open above (`upper` null). */
export function modelRange(index: number, buckets: number, subBits: number): { lower: bigint; upper: bigint | null } {
  const [lower, upper] = modelRanges(subBits)[index]!;
  return { lower, upper: index === buckets - 1 ? null : upper };
}

/** The count in each bucket after recording `values`. */
export function modelCounts(values: readonly bigint[], buckets: number, subBits: number): bigint[] {
  const counts = new Array<bigint>(buckets).fill(0n);
  for (const value of values) counts[modelBucket(value, buckets, subBits)]! += 1n;
  return counts;
}

/**
 * Every bucket's lowest and highest value of a histogram of 24 buckets and one of 40 buckets with
 * 4 sub-buckets, and 2^64 − 1 (so that sums wrap): values that give every bucket of both some.
 */
export function edgeValues(): bigint[] {
  return [
    ...new Set(
      [modelRanges(0).slice(0, 24), modelRanges(2).slice(0, 40)]
        .flat()
        .flatMap(([lower, upper]) => [lower, upper - 1n])
        .concat(2n ** 64n - 1n),
    ),
  ];
}
