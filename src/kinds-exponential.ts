/**
 * What the readers of an exponential histogram (`scale`) get besides the buckets every histogram
 * has: its exponential form, as native exporters write it (OpenTelemetry's exponential histogram,
 * Prometheus' native histogram). The formats with classic buckets only get its sparse samples
 * (kinds-sparse.ts). Part of kinds.ts, which re-exports it.
 * @packageDocumentation
 */
import { EXP_LOW_INDEX, expTopIndex } from './exponential.js';

/**
 * An exponential histogram as OpenTelemetry's `EXPONENTIAL_HISTOGRAM` data point and Prometheus'
 * native histogram take it, from the same read as its `HistogramReading` (kinds.ts; so `count` is
 * `zeroCount` plus the `counts`' total, and the classic reading's figures agree with it).
 *
 * OpenTelemetry's bucket of index i holds (base^i, base^(i+1)], base = 2^(2^−scale); Prometheus'
 * bucket i is OpenTelemetry's i − 1 (its schema is the scale). Only 0 counts in the zero bucket
 * (threshold 0). Recorded values are integers, so the lowest index with a count is −1 (the value
 * 1); negative values do not exist (no negative buckets).
 * @example
 * // scale 0, values 0, 1, 3, 3, 130 recorded:
 * // { scale: 0, zeroCount: 1n, offset: -1, counts: [1n, 0n, 2n, 0n, 0n, 0n, 0n, 0n, 1n],
 * //   maxIndex: 63, sum: 137n, count: 5n }
 * @internal
 */
export interface ExponentialReading {
  /** OpenTelemetry's scale, Prometheus' schema: 0 to 8 (base = 2^(2^−scale)). */
  readonly scale: number;
  /** How many zeros were recorded. */
  readonly zeroCount: bigint;
  /**
   * The OpenTelemetry index of `counts[0]`: the first bucket with a count (Prometheus' index is
   * `offset + 1`). 0 when `counts` is empty.
   */
  readonly offset: number;
  /**
   * The counts of the buckets of index `offset`, `offset + 1`, … (not cumulative), from the first
   * bucket with a count to the last one; the empty ones between are `0n`. Empty when every value
   * recorded was 0 (or none was).
   */
  readonly counts: readonly bigint[];
  /**
   * The histogram's top index: 64 · 2^scale − 1 (every u64 value has its bucket), or the index of
   * the definition's `maxValue`, whose bucket then also counts every larger value (its count is a
   * floor for those: a native exporter cannot say where above they lie).
   */
  readonly maxIndex: number;
  /** The sum of the values recorded, mod 2^64. */
  readonly sum: bigint;
  /** The values recorded (`zeroCount` + Σ `counts`), mod 2^64. */
  readonly count: bigint;
}

/**
 * The exponential form of a histogram's buckets (see {@link ExponentialReading}): of one read, or
 * of the differences of two (an interval's), the zero bucket first.
 * @internal
 */
export function exponentialOf(scale: number, buckets: readonly bigint[], sum: bigint, count: bigint): ExponentialReading {
  let first = 1;
  let last = buckets.length - 1;
  while (first <= last && buckets[first] === 0n) first++;
  while (last >= first && buckets[last] === 0n) last--;
  const counts = first <= last ? buckets.slice(first, last + 1) : [];
  const offset = counts.length > 0 ? first - 1 + EXP_LOW_INDEX : 0;
  return { scale, zeroCount: buckets[0] ?? 0n, offset, counts, maxIndex: expTopIndex(buckets.length), sum, count };
}
