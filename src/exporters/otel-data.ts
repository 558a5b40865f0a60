/**
 * What the OpenTelemetry metric producer gives, written to the SDK's interfaces (`MetricData`,
 * `DataPoint`, `CollectionResult`, …) without importing the SDK: the numbers of its enums are
 * written as literals, with the SDK's names in the comments.
 * @packageDocumentation
 */
import type { Attributes, HrTime, ValueType } from '@opentelemetry/api';

/** What a producer's metric is described by, as the SDK's `MetricDescriptor`. */
export interface StatsMetricDescriptor {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  /**
   * `ValueType.DOUBLE`, as the observable instruments of {@link observeStats} have: the values are
   * whole numbers, but up to 2^64 − 1, more than an OTLP `int64` holds.
   */
  readonly valueType: ValueType.DOUBLE;
}

/** One data point, as the SDK's `DataPoint`. */
export interface StatsDataPoint<T> {
  /** When the producer was made: the values are cumulative since the stats were made or reset. */
  readonly startTime: HrTime;
  /** When it was collected. */
  readonly endTime: HrTime;
  readonly attributes: Attributes;
  readonly value: T;
}

/** A histogram data point's value, as the SDK's `Histogram`: explicit boundaries and each bucket's count. */
export interface StatsHistogramValue {
  buckets: {
    /** Each bucket's inclusive upper boundary, the highest value it counts (all but the last bucket, which has none). */
    boundaries: number[];
    /** Each bucket's count (not cumulative): one more than the boundaries. */
    counts: number[];
  };
  sum: number;
  count: number;
}

/**
 * An exponential histogram data point's value, as the SDK's `ExponentialHistogram`: bucket `i` of
 * `positive` (OpenTelemetry's index `offset + i`) counts the values in (base^(offset+i),
 * base^(offset+i+1)], base = 2^(2^−scale); `zeroCount` counts the zeros. The values are unsigned, so
 * `negative` is always empty. No `min` or `max`: the buckets do not keep them.
 */
export interface StatsExponentialHistogramValue {
  scale: number;
  zeroCount: number;
  /** From the first bucket that counts something to the last (offset 0 and no counts when none does). */
  positive: { offset: number; bucketCounts: number[] };
  /** Always `{ offset: 0, bucketCounts: [] }`. */
  negative: { offset: number; bucketCounts: number[] };
  sum: number;
  count: number;
}

/** The fields every produced metric has: cumulative temporality (the SDK's `AggregationTemporality.CUMULATIVE`, 1). */
interface StatsMetricBase {
  readonly descriptor: StatsMetricDescriptor;
  readonly aggregationTemporality: 1;
}

/** A counter: a monotonic sum (the SDK's `DataPointType.SUM`, 3). */
export interface StatsSumMetricData extends StatsMetricBase {
  readonly dataPointType: 3;
  readonly isMonotonic: true;
  readonly dataPoints: StatsDataPoint<number>[];
}

/** A gauge (the SDK's `DataPointType.GAUGE`, 2). */
export interface StatsGaugeMetricData extends StatsMetricBase {
  readonly dataPointType: 2;
  readonly dataPoints: StatsDataPoint<number>[];
}

/** A histogram with explicit bucket boundaries (the SDK's `DataPointType.HISTOGRAM`, 0). */
export interface StatsHistogramMetricData extends StatsMetricBase {
  readonly dataPointType: 0;
  readonly dataPoints: StatsDataPoint<StatsHistogramValue>[];
}

/** A histogram with exponential buckets (the SDK's `DataPointType.EXPONENTIAL_HISTOGRAM`, 1). */
export interface StatsExponentialHistogramMetricData extends StatsMetricBase {
  readonly dataPointType: 1;
  readonly dataPoints: StatsDataPoint<StatsExponentialHistogramValue>[];
}

/** Any metric a producer gives. */
export type StatsMetricData = StatsSumMetricData | StatsGaugeMetricData | StatsHistogramMetricData | StatsExponentialHistogramMetricData;

/** The resource of a producer's result: empty, as a `MetricReader` keeps its own `MeterProvider`'s resource. */
export interface StatsResource {
  readonly attributes: Attributes;
  merge(other: StatsResource | null): StatsResource;
  getRawAttributes(): [];
}

/** What {@link StatsMetricProducer.collect} resolves to, as the SDK's `CollectionResult`. */
export interface StatsCollectionResult {
  resourceMetrics: {
    resource: StatsResource;
    scopeMetrics: { scope: { readonly name: string }; metrics: StatsMetricData[] }[];
  };
  /** What failed to be read (the stats of another copy that stop answering); the other metrics are there. */
  errors: unknown[];
}

/** A metric producer for the OpenTelemetry SDK (its `MetricProducer` interface). */
export interface StatsMetricProducer {
  /** Reads the stats now: every metric of the kinds asked for, under the scope `migration-stats`. */
  collect(options?: { timeoutMillis?: number }): Promise<StatsCollectionResult>;
}

/** The empty resource. @internal */
export const EMPTY_RESOURCE: StatsResource = Object.freeze({
  attributes: Object.freeze({}),
  merge(other: StatsResource | null): StatsResource {
    return other ?? EMPTY_RESOURCE;
  },
  getRawAttributes: (): [] => [],
});

/** A time as OpenTelemetry writes it: seconds and nanoseconds since the epoch. @internal */
export function hrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}
