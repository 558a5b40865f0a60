/**
 * Exponential histograms (`scale: s`): their buckets, as OpenTelemetry's exponential histogram and
 * Prometheus' native histograms define them, and what a definition says of them.
 *
 * With base = 2^(2^−s), OpenTelemetry's bucket of index i holds the values in (base^i, base^(i+1)];
 * for an integer v ≥ 1 that is 2^i < v^(2^s) ≤ 2^(i+1), decided with integers (exact tables of
 * 2^(m/256)), exact at every boundary. 0 has a bucket of its own
 * (the zero bucket). Every u64 value from 1 up has an index from −1 (the value 1) to 64 · 2^s − 1
 * (up to 2^64 − 1).
 *
 * A histogram's cells: the zero bucket, then one cell per index from −1 up to the top index (by
 * default 64 · 2^s − 1; a definition's `maxValue` lowers it to the index of that value, and larger
 * values count in the top bucket), then the sum. The core computes indexes (`expIndex`, from a table
 * that `create()` writes into the shared memory: backend/exp-index.ts).
 * @packageDocumentation
 */
import { EXP_MAX_SCALE } from './backend/abi.js';
import { expBucketRange, expIndexOfBigint } from './backend/exp-index.js';
import type { MetricNames } from './definition-names.js';
import { describe, rangeFault, typeFault } from './errors.js';

/** The finest scale: 2^8 = 256 buckets per power of two (relative width of a bucket ≈ 0.27 %). */
export const MAX_SCALE = EXP_MAX_SCALE;
/** The OpenTelemetry index of the first bucket cell after the zero bucket: −1 holds the value 1. */
export const EXP_LOW_INDEX = -1;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** The highest index a u64 value can have at `scale`: 64 · 2^scale − 1 (the value 2^64 − 1). */
export function expMaxIndex(scale: number): number {
  return 64 * 2 ** scale - 1;
}

const ZERO_RANGE = Object.freeze({ lower: 0n, upper: 1n });

/** The bucket cells (the zero bucket and one per index from −1 to `maxIndex`) of an exponential histogram. */
export function expBucketCells(maxIndex: number): number {
  return maxIndex - EXP_LOW_INDEX + 2;
}

/** The top index of a histogram with `buckets` bucket cells (the inverse of {@link expBucketCells}). */
export function expTopIndex(buckets: number): number {
  return buckets - 2 + EXP_LOW_INDEX;
}

/** The OpenTelemetry index of bucket cell `cell` (≥ 1; cell 0 is the zero bucket). */
export function expIndexOfCell(cell: number): number {
  return cell - 1 + EXP_LOW_INDEX;
}

/** The definition's fields of an exponential histogram, checked. */
export interface ExponentialFields {
  readonly scale: number;
  /** Bucket cells: the zero bucket, then indexes −1 up to the top one. */
  readonly buckets: number;
}

/**
 * Checks `scale` and `maxValue` of a histogram definition at `path` (the other histogram fields are
 * refused beside them by the caller).
 * @throws TypeError or RangeError naming the field, the value and what is allowed
 */
export function checkExponential(path: string, scale: unknown, maxValue: unknown): ExponentialFields {
  if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > MAX_SCALE) {
    const message = `${path}.scale must be a whole number from 0 to ${MAX_SCALE}; received ${describe(scale)}`;
    throw typeof scale === 'number' ? rangeFault(message) : typeFault(message);
  }
  let top = expMaxIndex(scale);
  if (maxValue !== undefined) {
    const v = typeof maxValue === 'number' && Number.isSafeInteger(maxValue) ? BigInt(maxValue) : maxValue;
    if (typeof v !== 'bigint' || v < 1n || v > U64_MAX) {
      const message = `${path}.maxValue must be an integer from 1 to 2^64 − 1 (a safe-integer number or a bigint); received ${describe(maxValue)}`;
      throw typeof maxValue === 'number' || typeof maxValue === 'bigint' ? rangeFault(message) : typeFault(message);
    }
    top = expIndexOfBigint(scale, v);
  }
  return { scale, buckets: expBucketCells(top) };
}

/**
 * The `maxValue` that gives a histogram `buckets` bucket cells at `scale` (for the definition read
 * back from a memory), or `undefined` when it covers every u64 value (no `maxValue`).
 */
export function expMaxValueOf(buckets: unknown, scale: unknown): bigint | undefined {
  // What a memory holds is checked after this, by the definition's own checks: here only nothing costly.
  if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > MAX_SCALE || !Number.isInteger(buckets)) return undefined;
  const top = expTopIndex(buckets as number);
  return top >= expMaxIndex(scale) || top < EXP_LOW_INDEX ? undefined : expBucketRange(scale, top).lower;
}

/** A histogram with exponential buckets (OpenTelemetry's exponential histogram, Prometheus' native histogram). */
export interface ExponentialHistogramDefinition {
  readonly kind: 'histogram';
  readonly unit: string;
  readonly help: string;
  /**
   * Buckets per power of two: 2^scale, from 0 (1 per power of two) to 8 (256; each bucket about
   * 0.27 % wide). Bucket i counts the values in (base^i, base^(i+1)], base = 2^(2^−scale); 0 has a
   * bucket of its own. Without `maxValue` every u64 value has its bucket: 64 · 2^scale + 1 of them.
   */
  readonly scale: number;
  /**
   * The largest value that gets a bucket of its own (an integer from 1 to 2^64 − 1): the buckets end
   * with the one holding it, and larger values count in that top bucket. Default: 2^64 − 1.
   */
  readonly maxValue?: number | bigint;
  readonly names?: MetricNames;
  readonly buckets?: undefined;
  readonly subBuckets?: undefined;
}

/**
 * The range of bucket cell `cell` of an exponential histogram with `buckets` bucket cells: [0, 1)
 * for the zero bucket; the top one open above (`upper` null).
 */
export function expCellRange(cell: number, buckets: number, scale: number): { readonly lower: bigint; readonly upper: bigint | null } {
  if (cell === 0) return ZERO_RANGE;
  const range = expBucketRange(scale, expIndexOfCell(cell));
  return cell === buckets - 1 && range.upper !== null ? Object.freeze({ lower: range.lower, upper: null }) : range;
}
