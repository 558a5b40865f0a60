/**
 * The batched writer of a histogram (`Histogram.batch`): records count in plain JS arrays of
 * one thread and reach the shared cells in one add per bucket that changed.
 * @packageDocumentation
 */
import { u64ArgumentError } from './errors.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * A batched writer of one `Histogram` (from `Histogram.batch`): records count in this
 * thread's own arrays and reach the shared histogram every `every` records, on
 * {@link HistogramBatch.flush} and on {@link HistogramBatch.close}. The pending sum never passes
 * 2^53 − 1: a record that would take it there flushes first.
 */
export class HistogramBatch {
  readonly #where: string;
  readonly #cellOf: (value: number) => number;
  readonly #every: number;
  readonly #counts: Float64Array;
  readonly #write: (counts: Float64Array, total: number) => void;
  #sum = 0;
  #pending = 0;

  /** @internal */
  constructor(name: string, buckets: number, cellOf: (value: number) => number, every: number, write: (counts: Float64Array, total: number) => void) {
    this.#where = `${name}.batch().record`;
    this.#cellOf = cellOf;
    this.#every = every;
    this.#counts = new Float64Array(buckets);
    this.#write = write;
  }

  /** Records waiting for a flush. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Counts `value` in this thread's arrays; flushes when `every` records are pending.
   * @param value - a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; nothing is recorded then
   */
  record(value: number): void {
    if (typeof value === 'number' && ((value >>> 0) === value || (value >= 0 && value <= MAX_SAFE && Number.isInteger(value)))) {
      if (this.#sum + value > MAX_SAFE) this.flush();
      this.#counts[this.#cellOf(value)]!++;
      this.#sum += value;
      if (++this.#pending >= this.#every) this.flush();
      return;
    }
    throw u64ArgumentError(this.#where, 'value', value);
  }

  /** Adds what is pending to the shared histogram: exact for every reader from here on. */
  flush(): void {
    if (this.#pending === 0) return;
    this.#write(this.#counts, this.#sum);
    this.#counts.fill(0);
    this.#sum = 0;
    this.#pending = 0;
  }

  /** Flushes; the writer stays usable. */
  close(): void {
    this.flush();
  }
}
