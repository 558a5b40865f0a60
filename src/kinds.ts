/**
 * The kinds of metric, each described once: how its instance is built on its cells, the labelled
 * samples it is read as, and how it is read. Stats objects build their metrics here, `snapshot()`
 * and the reading core (`read/`) read them here; every exporter writes the samples it is given
 * without knowing the kind's shape. How many cells a kind takes is the definition's
 * (`cellCount`), as the layout beneath this module plans the memory from it.
 *
 * Three shapes: a value (a counter or a gauge: one `Stat64`), a vector (one `Stat64` per element,
 * labelled with its index), a histogram (its buckets then its sum, read as Prometheus' cumulative
 * `_bucket`s, `_sum` and `_count`).
 * @packageDocumentation
 */
import type { Core } from './backend/core.js';
import type { Layout, MetricLayout } from './backend/layout.js';
import type { MetricSpec } from './definition.js';
import { Histogram, histogramInternals } from './histogram.js';
import { Stat64, stat64Internals } from './stat64.js';
import { StatVector, vectorInternals } from './vector.js';

/** A value read exactly: a number up to 2^53 − 1 (no BigInt made), a bigint above. @internal */
export type Exact = number | bigint;

/** A histogram as the exporters read it: each bucket's count (one read of each) and the sum. @internal */
export interface HistogramReading {
  readonly buckets: readonly bigint[];
  /** The sum of the values recorded, mod 2^64. */
  readonly sum: bigint;
}

/** What `snapshot()` gives of a histogram. @internal */
export type HistogramSnapshot = { count: bigint; sum: bigint; buckets: bigint[] };

/**
 * One sample of a metric, as every exporter writes it: a suffix of the family's sample name, and
 * the label the kind adds (a vector's element, a histogram bucket's `le`), if any.
 * @internal
 */
export interface SampleSlot {
  readonly suffix: '' | '_bucket' | '_sum' | '_count';
  readonly label: readonly [name: string, value: string] | undefined;
}

/** A metric built on its cells, and how to re-aim its adds at a lane. @internal */
export interface Built<M = Stat64 | StatVector | Histogram> {
  readonly metric: M;
  readonly useLane: (lane: number) => void;
}

/** Where a stats object's metrics are built: the memory's core and layout. @internal */
export interface BuildPlace {
  readonly core: Core;
  readonly layout: Layout;
}

/**
 * One kind of metric, described once.
 * @internal
 */
export interface KindDescription<M = unknown, R = unknown> {
  readonly shape: 'value' | 'vector' | 'histogram';
  /** Every read gives each of its {@link KindDescription.slots}, in order (see {@link SparseKindDescription}). */
  readonly sparse: false;
  /** Builds the metric object on its cells, for lane `lane` (−1: the base cells). */
  build(place: BuildPlace, entry: MetricLayout, lane: number, holder: object): Built<M>;
  /**
   * The labelled samples the kind is read as, in the order {@link KindDescription.samples} fills them.
   * @param le - each bucket's `le` as the format writes it (histograms only)
   */
  slots(spec: MetricSpec, le?: readonly string[]): readonly SampleSlot[];
  /** One read of every cell, as bigints (`snapshot()`, the reports). */
  read(metric: M): R;
  /** One read of every cell, written into `out` as the samples of {@link KindDescription.slots}, numbers where exact. */
  samples(metric: M, out: Exact[]): void;
  /** What `snapshot()` gives of the metric. */
  snapshot(metric: M): bigint | bigint[] | HistogramSnapshot;
}

/**
 * A kind whose reads give only some of its samples: the slots it may be read as are numbered, and
 * made one by one when a read first gives them (an exponential histogram's classic buckets: of
 * thousands of cells, only those that count something are written). Its readers keep what they
 * made of each slot; the fixed kinds' plans are untouched by it.
 * @internal
 */
export interface SparseKindDescription<M = unknown, R = unknown> extends Omit<KindDescription<M, R>, 'shape' | 'sparse' | 'slots' | 'samples'> {
  readonly shape: 'exponential';
  readonly sparse: true;
  /**
   * Slot `i` of the metric (0 ≤ i < {@link SparseKindDescription.slotCount}).
   * @param bound - writes a bucket's `le`: the highest value it counts, `null` for `+Inf`
   */
  slot(spec: MetricSpec, i: number, bound: (highest: bigint | null) => string): SampleSlot;
  /** How many slots the metric may be read as. */
  slotCount(spec: MetricSpec): number;
  /**
   * One read of every cell, as the samples it gives: their values in `out` (numbers where exact),
   * the slot of each in `which`, in the order they are written.
   * @returns how many samples the read gives
   */
  samples(metric: M, out: Exact[], which: number[]): number;
}

/** Any kind's description, fixed or sparse. @internal */
export type AnyKindDescription<M = unknown, R = unknown> = KindDescription<M, R> | SparseKindDescription<M, R>;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIGINT = BigInt(MAX_SAFE);

/** A bigint as a number where that is exact. @internal */
export function exact(value: bigint): Exact {
  return value <= MAX_SAFE_BIGINT ? Number(value) : value;
}

/** `a + b` where both are exact, as a number while the sum stays exact. */
function addExact(a: Exact, b: Exact): Exact {
  if (typeof a === 'number' && typeof b === 'number') {
    const n = a + b;
    if (n <= MAX_SAFE) return n;
  }
  return BigInt(a) + BigInt(b);
}

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/** Where cell `i` of a layout entry is, as `Stat64` and `Histogram` take it. */
const placeOf = (function ({ core, layout }: BuildPlace, entry: MetricLayout, i: number) {
  return { core, base: entry.base + 8 * i, first: entry.lane < 0 ? -1 : layout.lanesOffset + entry.lane + 8 * i, geometry: layout.geometry };
});

const statInfo = (function (spec: MetricSpec, where: string) {
  return { name: spec.name, cName: spec.cName, unit: spec.unit, kind: spec.kind === 'counter' ? 'add' : 'set', where } as const;
});

const NO_LABEL: readonly SampleSlot[] = Object.freeze([Object.freeze({ suffix: '', label: undefined })]);

/** A counter or a gauge: one `Stat64` on one cell. */
const VALUE: KindDescription<Stat64, bigint> = {
  shape: 'value',
  sparse: false,
  build: (function (place, entry, lane, holder) {
    const stat = stat64Internals.make(statInfo(entry.spec, entry.spec.name), placeOf(place, entry, 0), lane, holder);
    return { metric: stat, useLane: (l) => stat64Internals.useLane(stat, l) };
  }),
  slots: () => NO_LABEL,
  read: (stat) => stat.get(),
  samples(stat, out) {
    out[0] = stat64Internals.exact(stat);
  },
  snapshot: (stat) => stat.get(),
};

/** A vector: one `Stat64` per element, each labelled with its index. */
const VECTOR: KindDescription<StatVector, readonly bigint[]> = {
  shape: 'vector',
  sparse: false,
  build: (function (place, entry, lane, holder) {
    const { spec } = entry;
    // Elements are made when first used: attach makes none. `lane` is where new ones add.
    const made: Stat64[] = [];
    const element = (i: number): Stat64 => {
      const stat = stat64Internals.make(statInfo(spec, `${spec.name}.at(${i})`), placeOf(place, entry, i), lane, holder);
      made.push(stat);
      return stat;
    };
    return {
      metric: vectorInternals.make(spec.name, spec.label, spec.length, element),
      useLane: (l) => {
        lane = l;
        for (const stat of made) stat64Internals.useLane(stat, l);
      },
    };
  }),
  slots: (spec) => Array.from({ length: spec.length }, (_, i) => ({ suffix: '', label: [spec.label, String(i)] as const })),
  read: (vector) => vector.values(),
  samples(vector, out) {
    let i = 0;
    for (const element of vector) out[i++] = stat64Internals.exact(element);
  },
  snapshot: (vector) => vector.values(),
};

/** Cumulative bucket counts, the sum and the count, from the cells (each bucket's count, then the sum) in `out`. */
function cumulate(out: Exact[], buckets: number): void {
  let count: Exact = 0;
  for (let i = 0; i < buckets; i++) out[i] = count = addExact(count, out[i]!);
  out[buckets + 1] = count;
}

/**
 * The classic samples of buckets read as cells (each bucket's count, then the sum; exact), in
 * place: only the buckets that count something (where the cumulative count changes), then `+Inf`,
 * `_sum` and `_count`, their slots in `which` (bucket `c` is slot `c`; `+Inf`, `_sum`, `_count` the
 * three after the buckets). `openTop`: the last bucket also counts the values above its range, so
 * it is written as `+Inf` only.
 * @returns how many samples
 * @internal
 */
export function sparseBuckets(cells: Exact[], buckets: number, openTop: boolean, which: number[]): number {
  const sum = cells[buckets]!;
  const last = openTop ? buckets - 1 : buckets;
  let count: Exact = 0;
  let k = 0;
  // k ≤ c: each sample is written where a cell already read was.
  for (let c = 0; c < buckets; c++) {
    const n = cells[c]!;
    if (n === 0) continue;
    count = addExact(count, n);
    if (c < last) {
      cells[k] = count;
      which[k++] = c;
    }
  }
  cells[k] = count;
  which[k++] = buckets;
  cells[k] = sum;
  which[k++] = buckets + 1;
  cells[k] = count;
  which[k++] = buckets + 2;
  return k;
}

/** A histogram: its buckets then its sum; read as cumulative `_bucket`s, `_sum`, `_count`. */
const HISTOGRAM: KindDescription<Histogram, HistogramReading> = {
  shape: 'histogram',
  sparse: false,
  build: (function (place, entry, lane, holder) {
    const { spec } = entry;
    const histogram = histogramInternals.make(spec.name, spec.unit, { ...placeOf(place, entry, 0), buckets: spec.buckets, subBits: spec.subBits }, lane, holder);
    return { metric: histogram, useLane: (l) => histogramInternals.useLane(histogram, l) };
  }),
  slots(spec, le = []) {
    const slots: SampleSlot[] = Array.from({ length: spec.buckets }, (_, i) => ({ suffix: '_bucket', label: ['le', le[i] ?? ''] as const }));
    slots.push({ suffix: '_sum', label: undefined }, { suffix: '_count', label: undefined });
    return slots;
  },
  read: (histogram) => ({ buckets: histogram.buckets(), sum: histogram.sum() }),
  samples(histogram, out) {
    histogramInternals.exactCells(histogram, out);
    cumulate(out, histogram.bucketCount);
  },
  snapshot: (histogram) => ({ count: histogram.count(), sum: histogram.sum(), buckets: histogram.buckets() }),
};

/** The description of each shape. @internal */
export const KINDS = { value: VALUE, vector: VECTOR, histogram: HISTOGRAM } as const;

/** Any kind's description. @internal */
export type AnyKind = (typeof KINDS)[keyof typeof KINDS];

/**
 * The kind a metric of the definition is: the one place that tells them apart.
 * @internal
 */
export const kindOf = (function (spec: MetricSpec): AnyKind {
  if (spec.kind === 'histogram') return HISTOGRAM;
  return spec.length > 0 ? VECTOR : VALUE;
});
