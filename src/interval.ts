/**
 * Interval readers (`stats.interval()`): each keeps, in its own thread's memory, the cells it read
 * last, and `next()` gives what changed since then, in the shape of `snapshot()`. Nothing is
 * written to the shared memory, so any number of readers, in any threads, each keep their own
 * interval.
 *
 * Built on the kinds (`kinds.ts`): each kind reads its cells (`cells`) and makes its snapshot shape
 * from cells (`fromCells`); the difference of two reads, cell by cell and mod 2^64, is the same for
 * every kind. A kind whose cells hold levels (a gauge) is given as it is now.
 * @packageDocumentation
 */
import { describe } from './errors.js';
import type { Histogram } from './histogram.js';
import type { Stat64 } from './stat64.js';
import type { StatVector } from './vector.js';
import type { MetricSpec, StatsSchema } from './definition.js';
import type { KindDescription } from './kinds.js';
import type { ReadingOf, StatsReading } from './reading.js';

/** Any metric of a stats object. */
type Metric = Stat64 | StatVector | Histogram;

/** One metric an interval reads: its definition, its kind, and its metric object. @internal */
export interface IntervalSource {
  readonly spec: MetricSpec;
  readonly kind: KindDescription<Metric>;
  readonly metric: Metric;
}

/** `snapshot()` and `interval()` of the stats of a schema, typed by the schema (see `StatsOf`). */
export interface TypedReadings<S extends StatsSchema> {
  snapshot(): ReadingOf<S>;
  interval(): StatsInterval<ReadingOf<S>>;
}

/** Made only here. */
const TOKEN = Symbol('StatsInterval');

/** What stats objects use to open intervals; not part of the package's API. @internal */
export let intervalInternals: { open<T extends StatsReading>(sources: readonly IntervalSource[]): StatsInterval<T> };

/**
 * A reader of its own over a stats object (from `stats.interval()`): each {@link StatsInterval.next}
 * gives what changed since this reader's previous `next()` (the first: since the reader was made),
 * in the shape of `snapshot()`:
 *
 * - counters and vector elements of counters: their change, mod 2^64 (as the cells wrap);
 * - gauges and vector elements of gauges: their value now;
 * - histograms: the change of each bucket and of the sum, mod 2^64, and `count` the total of those
 *   bucket changes (so `count` always equals the sum of `buckets`).
 *
 * The changes of successive `next()` calls add up, mod 2^64, exactly to the change of each cell
 * since the reader was made: nothing is counted twice or lost between two intervals, whatever the
 * writers do meanwhile. A reader never writes the shared memory: readers in any number of threads
 * are independent of each other and of `snapshot()` and the exporters.
 *
 * @example
 * const iv = stats.interval();
 * setInterval(() => {
 *   const last = iv.next();                               // the last second
 *   console.log(last.bytesCopied, stats.copyLatency.percentile(99, last.copyLatency));
 * }, 1000);
 */
export class StatsInterval<T extends StatsReading = StatsReading> {
  readonly #sources: readonly IntervalSource[];
  /** Per metric: whether it is given as it is now (a gauge), not as a change. */
  readonly #levels: readonly boolean[];
  /** Per metric: its cells as the previous read saw them. */
  readonly #last: bigint[][];

  static {
    intervalInternals = { open: <R extends StatsReading>(sources: readonly IntervalSource[]) => new StatsInterval<R>(TOKEN, sources) };
  }

  private constructor(token: typeof TOKEN, sources: readonly IntervalSource[]) {
    if (token !== TOKEN) throw new TypeError('StatsInterval: intervals are made by stats.interval(); there is no constructor');
    this.#sources = sources;
    this.#levels = sources.map(({ spec, kind }) => kind.level(spec));
    this.#last = sources.map(({ kind, metric }) => kind.cells(metric));
    Object.freeze(this);
  }

  /**
   * What changed since this reader's previous `next()`, or since it was made (see {@link StatsInterval}).
   * Each cell is read once (a histogram's sum before its buckets); a histogram's `count` is the
   * total of its bucket changes.
   * @returns each metric by name, as `snapshot()` gives them
   * @throws TypeError when given an argument: it takes none
   */
  next(): T {
    // eslint-disable-next-line prefer-rest-params
    if (arguments.length > 0) throw new TypeError(`interval's next() takes no arguments; received ${describe(arguments[0])}`);
    const out: StatsReading = {};
    const sources = this.#sources;
    for (let m = 0; m < sources.length; m++) {
      const { spec, kind, metric } = sources[m]!;
      const now = kind.cells(metric);
      let cells = now;
      if (!this.#levels[m]) {
        const before = this.#last[m]!;
        cells = now.map((value, i) => BigInt.asUintN(64, value - before[i]!));
      }
      this.#last[m] = now;
      out[spec.name] = kind.fromCells(cells);
    }
    return out as T;
  }
}
