/**
 * The kinds of metric, each described once: how its instance is built on its cells, the labelled
 * samples it is read as, and how it is read. Stats objects build their metrics here, `snapshot()`
 * and the reading core (`read/`) read them here; every exporter writes the samples it is given
 * without knowing the kind's shape. How many cells a kind takes is the definition's
 * (`cellCount`), as the layout beneath this module plans the memory from it.
 *
 * Three shapes: a value (a counter or a gauge: one `Stat64`), a vector (one `Stat64` per element,
 * labelled with its index), a histogram (its buckets then its sum, read as Prometheus' cumulative
 * `_bucket`s, `_sum` and `_count`). A histogram is log-linear or exponential (`spec.scale`): both
 * read the same way, and an exponential one's {@link HistogramReading} also carries the
 * {@link ExponentialReading} that native exporters write (OpenTelemetry's exponential histogram,
 * Prometheus' native histogram).
 * @packageDocumentation
 */
import type { MetricLayout } from './backend/layout.js';
import type { MetricSpec } from './definition.js';
import { addExact, type Exact } from './exact.js';
import { Histogram, histogramInternals } from './histogram.js';
import { exponentialOf } from './kinds-exponential.js';
import type { BuildPlace, HistogramReading, KindDescription, SampleSlot } from './kind-description.js';
import { exponentialKind } from './kinds-sparse.js';
import type { HistogramSnapshot } from './reading.js';
import { Stat64, stat64Internals } from './stat64.js';
import { StatVector, vectorInternals } from './vector.js';

export { exponentialOf, type ExponentialReading } from './kinds-exponential.js';
export { exact, type Exact } from './exact.js';
export type { Built, BuildPlace, HistogramReading, KindDescription, SampleSlot } from './kind-description.js';



// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/** Where cell `i` of a layout entry is, as `Stat64` and `Histogram` take it. */
const placeOf = (function ({ core, layout }: BuildPlace, entry: MetricLayout, i: number) {
  return { core, base: entry.base + 8 * i, first: entry.lane < 0 ? -1 : layout.lanesOffset + entry.lane + 8 * i, geometry: layout.geometry };
});

const statInfo = (function (spec: MetricSpec, where: string) {
  return { name: spec.name, cName: spec.cName, unit: spec.unit, kind: spec.kind === 'counter' ? 'add' : 'set', where } as const;
});

/** A counter's cells add up; a gauge's hold a level. */
const gaugeLevel = (spec: MetricSpec): boolean => spec.kind === 'gauge';

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
  cells: (stat) => [stat.get()],
  fromCells: (cells) => cells[0]!,
  level: gaugeLevel,
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
  cells: (vector) => vector.values(),
  fromCells: (cells) => [...cells],
  level: gaugeLevel,
};

/**
 * Cumulative bucket counts, the sum and the count, from the cells (each bucket's count, then the
 * sum) in `out`: one `_bucket` per cell of `kept` (each the count up to and including that cell),
 * or per cell when `kept` is undefined.
 */
function cumulate(out: Exact[], buckets: number): void {
  let count: Exact = 0;
  for (let i = 0; i < buckets; i++) out[i] = count = addExact(count, out[i]!);
  out[buckets + 1] = count;
}

/**
 * A histogram's cells, one read of each (its sum first, then its buckets: see
 * `histogramInternals.exactCells`), as bigints: its buckets, then its sum.
 */
const histogramCells = (function (histogram: Histogram): bigint[] {
  const out: Exact[] = [];
  histogramInternals.exactCells(histogram, out);
  return out.map(BigInt);
});

/** A histogram's snapshot from its cells: the count is the buckets' total, mod 2^64, so it always matches them. */
const histogramOf = (function (cells: readonly bigint[]): HistogramSnapshot {
  const buckets = cells.slice(0, -1);
  let count = 0n;
  for (const n of buckets) count += n;
  return { count: BigInt.asUintN(64, count), sum: cells[cells.length - 1]!, buckets };
});

/** One read of every cell of a histogram: its buckets, sum and count, and its exponential form. */
const readHistogram = (function (histogram: Histogram): HistogramReading {
  const { count, sum, buckets } = histogramOf(histogramCells(histogram));
  const scale = histogram.scale;
  return { buckets, sum, count, exponential: scale === undefined ? undefined : exponentialOf(scale, buckets, sum, count) };
});

/** A histogram: its buckets then its sum; read as cumulative `_bucket`s, `_sum`, `_count`. */
const HISTOGRAM: KindDescription<Histogram, HistogramReading> = {
  shape: 'histogram',
  sparse: false,
  build: (function (place, entry, lane, holder) {
    const { spec } = entry;
    const at = { ...placeOf(place, entry, 0), buckets: spec.buckets, subBits: spec.subBits, scale: spec.scale ?? -1, table: place.layout.tableOffset };
    const histogram = histogramInternals.make(spec.name, spec.unit, at, lane, holder);
    return { metric: histogram, useLane: (l) => histogramInternals.useLane(histogram, l) };
  }),
  slots(spec, le = []) {
    const slots: SampleSlot[] = Array.from({ length: spec.buckets }, (_, i) => ({ suffix: '_bucket', label: ['le', le[i] ?? ''] as const }));
    slots.push({ suffix: '_sum', label: undefined }, { suffix: '_count', label: undefined });
    return slots;
  },
  read: readHistogram,
  samples(histogram, out) {
    histogramInternals.exactCells(histogram, out);
    cumulate(out, histogram.bucketCount);
  },
  snapshot: (histogram) => histogramOf(histogramCells(histogram)),
  cells: histogramCells,
  fromCells: histogramOf,
  level: () => false,
};

/** An exponential histogram: the histogram, its classic samples sparse (kinds-sparse.ts). */
const EXPONENTIAL = exponentialKind(HISTOGRAM);

/** The description of each shape. @internal */
export const KINDS = { value: VALUE, vector: VECTOR, histogram: HISTOGRAM } as const;

/** Any kind's description. @internal */
export type AnyKind = (typeof KINDS)[keyof typeof KINDS];

/**
 * The kind a metric of the definition is: the one place that tells them apart.
 * @internal
 */
export const kindOf = (function (spec: MetricSpec): AnyKind | typeof EXPONENTIAL {
  if (spec.kind === 'histogram') return spec.scale === undefined ? HISTOGRAM : EXPONENTIAL;
  return spec.length > 0 ? VECTOR : VALUE;
});
