/**
 * Readings: what `snapshot()` and an interval's `next()` give, and their check where one is given
 * back to a histogram (`Histogram.percentile(p, reading)`).
 * @packageDocumentation
 */
import type { StatsSchema } from './definition.js';
import { describe, errorReason, isU64 } from './errors.js';

/** A histogram in a reading: `count` is always the total of `buckets` (mod 2^64), taken from the same reads. */
export interface HistogramSnapshot {
  count: bigint;
  /** The sum of the values recorded, mod 2^64 (in an interval: its change). */
  sum: bigint;
  buckets: bigint[];
}

/** One metric in a reading: a value, a vector's values, or a histogram. */
export type MetricReading = bigint | bigint[] | HistogramSnapshot;

/** What `snapshot()` and an interval's `next()` give: each metric by name. */
export type StatsReading = Record<string, MetricReading>;

/** The reading of the stats of a schema: each metric's entry typed by its kind. */
export type ReadingOf<S extends StatsSchema> = {
  [K in keyof S]: S[K] extends { kind: 'histogram' } ? HistogramSnapshot : S[K] extends { length: number } ? bigint[] : bigint;
};

/** What a histogram's percentile reads of a reading: its bucket counts. */
export interface BucketsReading {
  readonly buckets: readonly bigint[];
}

/**
 * Checks a histogram reading and copies its bucket counts (each read once).
 * @param where - the call, e.g. `copyLatency.percentile`
 * @param buckets - how many buckets the histogram has
 * @param reading - what the caller passed
 * @returns the counts
 * @throws TypeError when `reading` has no array `buckets` of bigints; RangeError when it has another
 *   number of buckets than the histogram, or a count outside [0, 2^64 − 1]
 * @internal
 */
export function readingBuckets(where: string, buckets: number, reading: unknown): bigint[] {
  const allowed = `this histogram's entry of snapshot() or of an interval's next(): { buckets } with ${buckets} bigint counts`;
  let list: unknown;
  let counts: unknown[];
  try {
    list = reading !== null && typeof reading === 'object' ? (reading as { buckets?: unknown }).buckets : undefined;
    if (!Array.isArray(list)) throw new TypeError(`${where}: reading must be ${allowed}; received ${describe(reading)}`);
    counts = Array.from({ length: Math.min(list.length, buckets + 1) }, (_, i) => (list as unknown[])[i]);
  } catch (error) {
    if (error instanceof TypeError && error.message.startsWith(`${where}:`)) throw error;
    throw new TypeError(`${where}: reading could not be read (${errorReason(error)}); it must be ${allowed}`);
  }
  const length = (list as unknown[]).length;
  if (length !== buckets) throw new RangeError(`${where}: reading.buckets must have ${buckets} counts, one per bucket of this histogram; received ${length}`);
  for (let i = 0; i < buckets; i++) {
    const count = counts[i];
    if (!isU64(count)) {
      const message = `${where}: reading.buckets[${i}] must be a bigint from 0n to 18446744073709551615n (2^64 − 1); received ${describe(count)}`;
      throw typeof count === 'bigint' ? new RangeError(message) : new TypeError(message);
    }
  }
  return counts as bigint[];
}
