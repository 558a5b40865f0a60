/**
 * A histogram in shared memory: each `record` is one call into the core, which computes the bucket
 * (`clz`) and adds to it and to the sum, in this thread's lane; the count is the buckets' total.
 * Readers sum the lanes; percentiles are computed by readers, from the buckets, never by writers.
 *
 * Buckets, as QEMU's `postcopy-latency-dist` (one sub-bucket): bucket k counts values in
 * [2^k, 2^(k+1)), and 0 counts in bucket 0. With 2^s sub-buckets (log-linear, as HdrHistogram):
 * values below 2^s have a bucket each, and every power of two from 2^s up is split into 2^s
 * buckets of equal width. Values past the last bucket count in the last.
 *
 * Exponential (`scale: s`, see exponential.ts): the zero bucket, then OpenTelemetry's buckets of
 * index −1 (the value 1) up; the core computes the index (`expIndex`) from a table in the memory.
 * @packageDocumentation
 */
import { LANE_ALIGN } from './backend/abi.js';
import { bucketOfNumber } from './backend/buckets.js';
import type { Core } from './backend/core.js';
import { expCellOfIndex } from './backend/exp-index.js';
import { checkBatchSize, describe, u64ArgumentError } from './errors.js';
import { expCellRange } from './exponential.js';
import { HistogramBatch } from './histogram-batch.js';
import { readingBuckets, type BucketsReading } from './reading.js';
import type { CellPlace } from './stat64.js';
import { startTimer } from './timer.js';

export { HistogramBatch } from './histogram-batch.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Where a histogram lives: bucket 0's cell (the others follow), and its sum's. @internal */
export interface HistogramPlace extends CellPlace {
  readonly buckets: number;
  readonly subBits: number;
  /** The scale of an exponential histogram, −1 for a log-linear one. */
  readonly scale: number;
  /** Where the exponential table is (exponential histograms only). */
  readonly table: number;
}

/** One bucket's range of values: from `lower` up to, and not including, `upper`. */
export interface BucketRange {
  readonly lower: bigint;
  /**
   * `null` for the last bucket, which also counts every larger value. An exponential bucket that
   * holds no integer (many between 1 and 2 at the finest scales) has `upper === lower`.
   */
  readonly upper: bigint | null;
}

/**
 * The range of bucket `index` of a histogram with `subBits` sub-bits (the last one open above), for
 * the exporters; readers use `Histogram.bucketRange`, which checks its index.
 */
export function bucketRange(index: number, buckets: number, subBits: number): BucketRange {
  let lower: bigint;
  let width: bigint;
  if (subBits === 0) {
    lower = index === 0 ? 0n : 1n << BigInt(index);
    width = index === 0 ? 2n : lower;
  } else if (index < 1 << subBits) {
    lower = BigInt(index);
    width = 1n;
  } else {
    const shift = (index >> subBits) - 1;
    lower = BigInt((1 << subBits) + (index & ((1 << subBits) - 1))) << BigInt(shift);
    width = 1n << BigInt(shift);
  }
  const upper = lower + width;
  return Object.freeze({ lower, upper: index === buckets - 1 || upper > 0xffff_ffff_ffff_ffffn ? null : upper });
}


/** Made only here: `new Histogram()` from outside cannot get one. */
const TOKEN = Symbol('Histogram');

/** What stats objects use to make and re-aim their histograms; not part of the package's API. @internal */
export let histogramInternals: {
  make(name: string, unit: string, place: HistogramPlace, lane: number, holder: object): Histogram;
  useLane(histogram: Histogram, lane: number): void;
  /** Each bucket's count then the sum, one read each (the sum read first), into `out`: numbers up to 2^53 − 1, bigints above. */
  exactCells(histogram: Histogram, out: (number | bigint)[]): void;
};

/**
 * Values counted in buckets, in shared memory that every thread records into. `count()` and
 * `sum()` are exact (u64, mod 2^64); `buckets()` and `percentile()` read the buckets.
 */
export class Histogram {
  /** TS name, e.g. `copyLatency`. */
  readonly name: string;
  /** Unit of the recorded values, e.g. `microseconds`. */
  readonly unit: string;
  /** Number of buckets. */
  readonly bucketCount: number;
  /** Sub-buckets per power of two (1: plain powers of two; 1 for an exponential histogram). */
  readonly subBuckets: number;
  /**
   * The scale of an exponential histogram (0 to 8: 2^scale buckets per power of two), `undefined`
   * for a log-linear one. Its bucket 0 counts the zeros, bucket k ≥ 1 the values of OpenTelemetry's
   * index k − 2 (Prometheus' index k − 1).
   */
  readonly scale: number | undefined;
  readonly #core: Core;
  readonly #base: number;
  readonly #first: number;
  readonly #geometry: number;
  readonly #subBits: number;
  /** The scale, −1 for a log-linear histogram (one comparison on the recording path). */
  readonly #scale: number;
  readonly #table: number;
  readonly #holder: object;
  /** Where this thread records: bucket 0 and the sum in its lane, or in the base cells. */
  #recordAt: number;
  #sumAt: number;

  static {
    histogramInternals = {
      make: (name, unit, place, lane, holder) => new Histogram(TOKEN, name, unit, place, lane, holder),
      useLane: (histogram, lane) => histogram.#useLane(lane),
      exactCells: (histogram, out) => {
        // The sum first: `record` adds to the bucket before the sum, so every value the sum holds
        // is in a bucket read after it (docs/stats.md, "Consistent reads").
        const buckets = histogram.bucketCount;
        out[buckets] = histogram.#cell(buckets);
        for (let i = 0; i < buckets; i++) out[i] = histogram.#cell(i);
      },
    };
  }

  private constructor(token: typeof TOKEN, name: string, unit: string, place: HistogramPlace, lane: number, holder: object) {
    if (token !== TOKEN) throw new TypeError('Histogram: histograms are made by the stats objects (defineStats(…).create); there is no constructor');
    this.name = name;
    this.unit = unit;
    this.bucketCount = place.buckets;
    this.subBuckets = 2 ** place.subBits;
    this.scale = place.scale < 0 ? undefined : place.scale;
    this.#core = place.core;
    this.#base = place.base;
    this.#first = place.first;
    this.#geometry = place.geometry;
    this.#subBits = place.subBits;
    this.#scale = place.scale;
    this.#table = place.table;
    this.#holder = holder;
    this.#recordAt = place.base;
    this.#sumAt = place.base + 8 * place.buckets;
    this.#useLane(lane);
    Object.freeze(this);
  }

  /** Cell `i` (a bucket, or the sum at `bucketCount`), every lane summed: a number up to 2^53 − 1, a bigint above. */
  #cell(i: number): number | bigint {
    const base = this.#base + 8 * i;
    const first = this.#first + 8 * i;
    const n = this.#core.sumNum(base, first, this.#geometry);
    return n >= 0 ? n : this.#core.sum(base, first, this.#geometry);
  }

  #useLane(lane: number): void {
    const lanes = this.#geometry & (LANE_ALIGN - 1);
    const at = lane >= 0 && lane < lanes ? this.#first + (this.#geometry - lanes) * lane : this.#base;
    this.#recordAt = at;
    this.#sumAt = at + 8 * this.bucketCount;
  }

  /**
   * Records one value: its bucket and the sum, in one call (two atomic adds).
   * @param value - a non-negative safe-integer number or a bigint in [0, 2^64 − 1]
   * @throws TypeError or RangeError for anything else; nothing is recorded then
   */
  record(value: number | bigint): void {
    if (typeof value === 'number') {
      if ((value >>> 0) === value || (value >= 0 && value <= MAX_SAFE && Number.isInteger(value))) {
        if (this.#scale < 0) this.#core.recordNum(this.#recordAt, this.#sumAt, this.bucketCount, this.#subBits, value);
        else this.#core.recordExpNum(this.#recordAt, this.#sumAt, this.bucketCount, this.#table, this.#scale, value);
        return;
      }
    } else if (typeof value === 'bigint' && BigInt.asUintN(64, value) === value) {
      if (this.#scale < 0) this.#core.record(this.#recordAt, this.#sumAt, this.bucketCount, this.#subBits, value);
      else this.#core.recordExp(this.#recordAt, this.#sumAt, this.bucketCount, this.#table, this.#scale, value);
      return;
    }
    throw u64ArgumentError(`${this.name}.record`, 'value', value);
  }

  /** Values recorded, every thread's (the buckets' total). */
  count(): bigint {
    return this.#core.groupSum(this.#base, this.#first, this.bucketCount, this.#geometry);
  }

  /** Sum of the values recorded, mod 2^64. */
  sum(): bigint {
    return this.#core.sum(this.#base + 8 * this.bucketCount, this.#first + 8 * this.bucketCount, this.#geometry);
  }

  /** Each bucket's count (one read of each; not one snapshot of all, as with any two values). */
  buckets(): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < this.bucketCount; i++) out.push(this.#core.sum(this.#base + 8 * i, this.#first + 8 * i, this.#geometry));
    return out;
  }

  /** Bucket `index`'s range of values. @throws RangeError for an index out of range, TypeError for one that is not a number */
  bucketRange(index: number): BucketRange {
    if (!Number.isInteger(index) || index < 0 || index >= this.bucketCount) {
      const message = `${this.name}.bucketRange: index must be a whole number from 0 to ${this.bucketCount - 1}; received ${describe(index)}`;
      throw typeof index === 'number' ? new RangeError(message) : new TypeError(message);
    }
    return this.#range(index);
  }

  /** Bucket `index`'s range, unchecked. */
  #range(index: number): BucketRange {
    return this.#scale < 0 ? bucketRange(index, this.bucketCount, this.#subBits) : expCellRange(index, this.bucketCount, this.#scale);
  }

  /** The bucket of a checked value, as the core records it. */
  #cellOf(value: bigint): number {
    if (this.#scale < 0) return this.#core.bucketIndex(value, this.bucketCount, this.#subBits);
    if (value === 0n) return 0;
    return expCellOfIndex(this.#core.expIndex(this.#table, this.#scale, value), this.bucketCount);
  }

  /**
   * The bucket a value counts in (the rule `record` follows).
   * @throws TypeError or RangeError for a value that is not an unsigned 64-bit integer
   */
  bucketOf(value: number | bigint): number {
    const v = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : value;
    if (typeof v !== 'bigint' || BigInt.asUintN(64, v) !== v) throw u64ArgumentError(`${this.name}.bucketOf`, 'value', value);
    return this.#cellOf(v);
  }

  /**
   * A writer for a hot loop in this thread: {@link HistogramBatch.record} counts in plain JS arrays
   * of this thread, and reaches the shared buckets and sum every `every` records, on `flush()` and
   * on `close()`, with one atomic add per bucket that changed. Until then other threads do not see
   * them: a reader is behind by at most `every − 1` records of this writer.
   * @param every - records between two flushes, from 1 to 2^20 (default 1024)
   * @throws RangeError for another `every`
   */
  batch(every = 1024): HistogramBatch {
    checkBatchSize(`${this.name}.batch`, every);
    const core = this.#core;
    const buckets = this.bucketCount;
    const subBits = this.#subBits;
    const table = this.#table;
    const scale = this.#scale;
    // The exponential index comes from the core (no atomic step): the rule `record` follows.
    const cellOf =
      scale < 0
        ? (value: number) => bucketOfNumber(value, buckets, subBits)
        : (value: number) => (value === 0 ? 0 : expCellOfIndex(core.expIndexNum(table, scale, value), buckets));
    return new HistogramBatch(this.name, buckets, cellOf, every, (counts, total) => {
      // Read where this thread records now: close() may have moved it to the base cells.
      const at = this.#recordAt;
      for (let i = 0; i < buckets; i++) if (counts[i] !== 0) core.addNum(at + 8 * i, counts[i]!);
      core.addNum(this.#sumAt, total);
    });
  }

  /**
   * As prom-client's: `const end = h.startTimer(); …; end()` records the time since `startTimer()`
   * in the histogram's unit, rounded down, from a monotonic clock, and returns it; later calls of
   * that `end()` record nothing and return the same value (see `timer.ts`).
   * @returns `end`
   * @throws TypeError naming the unit when it is not nanoseconds, microseconds, milliseconds or
   *   seconds, or naming the argument when given one (prom-client's labels: there are none here)
   */
  startTimer(): () => bigint {
    // `arguments`: the type takes none, and JS callers may pass prom-client's labels.
    return startTimer(this.name, this.unit, (value) => this.record(value), arguments);
  }

  /**
   * The value at or below which `p` percent of the recorded values lie, read from the buckets: the
   * largest value of the bucket where that count is reached (HdrHistogram's "highest equivalent
   * value"). For the last bucket, which also counts every larger value, its lower bound: the answer
   * is then a floor. 0n when nothing was recorded.
   * @param p - a percentage from 0 to 100
   * @param reading - the buckets to read instead of the shared ones: this histogram's entry of
   *   `snapshot()` or of an interval's `next()` (`percentile(99, iv.next().runTime)`: the p99 of that
   *   interval)
   * @returns the value, by this histogram's {@link Histogram.bucketRange}
   * @throws RangeError for another `p`; TypeError or RangeError for a reading that is not one of this
   *   histogram's
   */
  percentile(p: number, reading?: BucketsReading): bigint {
    if (typeof p !== 'number' || !(p >= 0 && p <= 100)) {
      const message = `${this.name}.percentile: p must be a number from 0 to 100; received ${describe(p)}`;
      throw typeof p === 'number' ? new RangeError(message) : new TypeError(message);
    }
    const counts = reading === undefined ? this.buckets() : readingBuckets(`${this.name}.percentile`, this.bucketCount, reading);
    const total = counts.reduce((a, b) => a + b, 0n);
    if (total === 0n) return 0n;
    // The rank of the value asked for: at least the first value, at most the last.
    const scaled = BigInt(Math.round(p * 1e6));
    let rank = (total * scaled + 100_000_000n - 1n) / 100_000_000n;
    if (rank < 1n) rank = 1n;
    let seen = 0n;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]!;
      if (seen >= rank) {
        const { lower, upper } = this.#range(i);
        return upper === null ? lower : upper - 1n;
      }
    }
    return this.#range(counts.length - 1).lower;
  }
}
