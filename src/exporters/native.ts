/**
 * An exponential histogram as one of Prometheus' native histograms.
 *
 * Both formats split every power of two into 2^scale buckets with boundaries at powers of
 * base = 2^(2^-scale). OpenTelemetry's bucket i holds (base^i, base^(i+1)]; Prometheus' bucket i
 * holds (base^(i−1), base^i], so an OpenTelemetry index is one less than Prometheus' for the same
 * bucket. Prometheus' schema is the scale, from −4 to 8: a finer scale is lowered by merging
 * buckets pairwise (OpenTelemetry index i becomes ⌊i / 2⌋ at each step), which moves no boundary
 * that is kept. The zero bucket holds the value 0 and nothing else (zero threshold 0).
 *
 * The buckets are sent as spans of consecutive bucket indices and, for each bucket in a span, the
 * difference between its count and the previous bucket's (the first against 0). Runs of up to two
 * empty buckets stay inside a span (two zero deltas cost less than a new span); a longer run starts
 * a new span, whose offset is the number of buckets skipped. A histogram with no bucket counted
 * gets one empty span at offset 0, which tells a scraper that it is a native histogram.
 * @packageDocumentation
 */
import { rangeFault } from '../errors.js';

/**
 * What the mapping reads of an exponential histogram: the parts of the reading core's
 * `ExponentialReading` (kinds.ts) it uses.
 */
export interface ExponentialReading {
  /** The scale: 2^scale buckets per power of two. */
  readonly scale: number;
  /** How many values 0 were recorded. */
  readonly zeroCount: bigint;
  /** The OpenTelemetry index of `counts[0]`. */
  readonly offset: number;
  /** Each bucket's count (not cumulative), from OpenTelemetry index `offset` on. */
  readonly counts: readonly bigint[];
  /** The sum of the values recorded, mod 2^64. */
  readonly sum: bigint;
  /** How many values were recorded: `zeroCount` plus every bucket's count, mod 2^64. */
  readonly count: bigint;
}

/** A run of consecutive buckets: `offset` from the end of the previous span (the first: the index of its first bucket). */
export interface BucketSpan {
  readonly offset: number;
  readonly length: number;
}

/** A native histogram as Prometheus' protobuf format carries it. */
export interface NativeHistogram {
  readonly schema: number;
  readonly zeroCount: bigint;
  readonly spans: readonly BucketSpan[];
  /** Each bucket's count less the previous one's, as a signed 64-bit value. */
  readonly deltas: readonly bigint[];
  readonly count: bigint;
  readonly sum: bigint;
}

/** The coarsest schema Prometheus knows. */
export const MIN_SCHEMA = -4;
/** The finest schema Prometheus knows. */
export const MAX_SCHEMA = 8;
/** Empty buckets a span may hold between two counted ones. */
const MAX_GAP = 2;

/**
 * The native histogram of an exponential one (see the module's description).
 * @param reading - the histogram as read
 * @returns its schema, zero count, spans and deltas, count and sum
 * @throws RangeError when its scale is below −4 (it cannot be raised) or not an integer
 */
export function nativeHistogram(reading: ExponentialReading): NativeHistogram {
  const { scale, offset, counts: buckets } = reading;
  if (!Number.isInteger(scale) || scale < MIN_SCHEMA) {
    throw rangeFault(`the scale of an exponential histogram must be an integer from ${MIN_SCHEMA} up for a native histogram; it is ${String(scale)}`);
  }
  const merge = 2 ** Math.max(0, scale - MAX_SCHEMA);
  // Counted buckets by Prometheus index, merged where the schema is lowered.
  const indices: number[] = [];
  const counts: bigint[] = [];
  // Bucket i of the reading is OpenTelemetry's offset + i.
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i]!;
    if (count === 0n) continue;
    const index = Math.floor((offset + i) / merge) + 1;
    if (indices.length > 0 && indices[indices.length - 1] === index) counts[counts.length - 1]! += count;
    else indices.push(index), counts.push(count);
  }
  const spans: { offset: number; length: number }[] = [];
  const deltas: bigint[] = [];
  let previous = 0n;
  for (let k = 0; k < indices.length; k++) {
    const gap = k === 0 ? Infinity : indices[k]! - indices[k - 1]! - 1;
    if (gap > MAX_GAP) {
      spans.push({ offset: k === 0 ? indices[0]! : gap, length: 1 });
    } else {
      // Empty buckets kept in the span: the first goes down to 0, the next stay there.
      for (let e = 0; e < gap; e++) deltas.push(BigInt.asIntN(64, -previous)), (previous = 0n);
      spans[spans.length - 1]!.length += gap + 1;
    }
    deltas.push(BigInt.asIntN(64, counts[k]! - previous));
    previous = counts[k]!;
  }
  if (spans.length === 0) spans.push({ offset: 0, length: 0 });
  return { schema: scale - Math.log2(merge), zeroCount: reading.zeroCount, spans, deltas, count: reading.count, sum: reading.sum };
}
