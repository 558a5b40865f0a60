/**
 * Sparse kinds: kinds whose reads give only some of their samples. An exponential histogram has up
 * to 16,386 bucket cells; the formats that have nothing but classic buckets (Prometheus text,
 * OpenMetrics, prom-client) get only those that count something (where the cumulative count
 * changes), then `+Inf`, `_sum` and `_count`. Its slots are numbered (bucket cell `c` is slot `c`;
 * `+Inf`, `_sum`, `_count` the three after the buckets), and an exporter makes a slot's sample when
 * a read first gives it and keeps it; the fixed kinds' plans (kinds.ts) are untouched by this.
 * @packageDocumentation
 */
import { expCellRange } from './exponential.js';
import { histogramInternals, type Histogram } from './histogram.js';
import { addExact, type Exact } from './exact.js';
import type { HistogramReading, KindDescription, SampleSlot } from './kind-description.js';

/**
 * A kind whose reads give only some of the samples it may be read as.
 * @internal
 */
export interface SparseKindDescription<M = unknown, R = unknown> extends Omit<KindDescription<M, R>, 'sparse' | 'slots' | 'samples'> {
  readonly sparse: true;
  /**
   * Slot `i` of the metric: its suffix and label.
   * @param bound - writes a bucket's `le` from the highest value it counts (`null`: `+Inf`)
   */
  slot(spec: KindSpec, i: number, bound: (highest: bigint | null) => string): SampleSlot;
  /**
   * One read of every cell, as the samples it gives: their values in `out` (numbers where exact),
   * the slot of each in `which`, in the order they are written.
   * @returns how many samples the read gives
   */
  samples(metric: M, out: Exact[], which: number[]): number;
}

/** What a sparse kind's slots are made from: the definition's fields of the metric. */
type KindSpec = Parameters<KindDescription['slots']>[0];

/** Any kind's description, fixed or sparse. @internal */
export type AnyKindDescription<M = unknown, R = unknown> = KindDescription<M, R> | SparseKindDescription<M, R>;

/**
 * The classic samples of bucket cells read once (each bucket's count, then the sum; exact), in
 * place: each bucket that counts something, cumulative, then `+Inf`, `_sum`, `_count`, their slots
 * in `which`. The top bucket, which also counts the values above its range, is written as `+Inf` only.
 * @returns how many samples
 * @internal
 */
export function sparseBuckets(cells: Exact[], buckets: number, which: number[]): number {
  const sum = cells[buckets]!;
  let count: Exact = 0;
  let k = 0;
  // k ≤ c: each sample is written where a cell already read was.
  for (let c = 0; c < buckets; c++) {
    const n = cells[c]!;
    if (n === 0) continue;
    count = addExact(count, n);
    if (c < buckets - 1) {
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

const SUM: SampleSlot = Object.freeze({ suffix: '_sum', label: undefined });
const COUNT: SampleSlot = Object.freeze({ suffix: '_count', label: undefined });

/**
 * The exponential histogram's kind: built, read and snapshotted as the histogram (`histogram`), its
 * classic samples sparse. A bucket's `le` is the highest integer it holds: 0 for the zero bucket;
 * for OpenTelemetry's bucket i, (base^i, base^(i+1)], ⌊base^(i+1)⌋; the top bucket (up to 2^64 − 1,
 * or every value above a `maxValue`'s bucket) is `+Inf`. A bucket that holds no integer never counts.
 * @internal
 */
export function exponentialKind(histogram: KindDescription<Histogram, HistogramReading>): SparseKindDescription<Histogram, HistogramReading> {
  const { slots: _slots, samples: _samples, sparse: _sparse, ...common } = histogram;
  return {
    ...common,
    sparse: true,
    slot(spec, i, bound) {
      if (i > spec.buckets) return i === spec.buckets + 1 ? SUM : COUNT;
      const upper = i === spec.buckets ? null : expCellRange(i, spec.buckets, spec.scale!).upper;
      return { suffix: '_bucket', label: ['le', bound(upper === null ? null : upper - 1n)] };
    },
    samples(metric, out, which) {
      histogramInternals.exactCells(metric, out);
      return sparseBuckets(out, metric.bucketCount, which);
    },
  };
}
