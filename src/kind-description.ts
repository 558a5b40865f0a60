/**
 * What a kind of metric is described by (kinds.ts describes each): the types every reader and
 * every kind shares, apart from the descriptions themselves so that a kind described in a file of
 * its own (kinds-sparse.ts) and kinds.ts both stand on them.
 * @packageDocumentation
 */
import type { Core } from './backend/core.js';
import type { Layout, MetricLayout } from './backend/layout.js';
import type { MetricSpec } from './definition.js';
import type { Exact } from './exact.js';
import type { Histogram } from './histogram.js';
import type { ExponentialReading } from './kinds-exponential.js';
import type { MetricReading } from './reading.js';
import type { Stat64 } from './stat64.js';
import type { StatVector } from './vector.js';

/**
 * A histogram as the exporters read it, from one read of each cell: each bucket's count, the sum
 * and the count (the buckets' total, so always equal to it).
 * @internal
 */
export interface HistogramReading {
  /** Each bucket's count, not cumulative: an exponential histogram's zero bucket first (see `Histogram.bucketRange`). */
  readonly buckets: readonly bigint[];
  /** The sum of the values recorded, mod 2^64. */
  readonly sum: bigint;
  /** The values recorded: the buckets' total, mod 2^64. */
  readonly count: bigint;
  /** The same read in the exponential form, for a histogram with a `scale`; `undefined` for a log-linear one. */
  readonly exponential: ExponentialReading | undefined;
}


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
  /** Every read gives each of its {@link KindDescription.slots}, in order (a sparse kind's do not: kinds-sparse.ts). */
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
  /** What `snapshot()` gives of the metric: {@link KindDescription.fromCells} of {@link KindDescription.cells}. */
  snapshot(metric: M): MetricReading;
  /**
   * One read of every cell, as bigints, in the order of the layout (a histogram: its buckets, then
   * its sum). What intervals read: they take the difference of two such reads cell by cell.
   */
  cells(metric: M): bigint[];
  /** The shape `snapshot()` gives, from cells as {@link KindDescription.cells} reads them (or their differences). */
  fromCells(cells: readonly bigint[]): MetricReading;
  /**
   * Whether the metric's cells hold levels (a gauge: an interval gives them as they are now), not
   * amounts that add up (a counter, a histogram: an interval gives their change, mod 2^64).
   */
  level(spec: MetricSpec): boolean;
}
