/**
 * The OpenTelemetry metric producer: every kind of metric of any stats, histograms included, read at
 * each collection, for the SDK's `MetricReader` (its `metricProducers` option).
 * @packageDocumentation
 */
import type { Attributes, HrTime, ValueType } from '@opentelemetry/api';
import type { MetricKind, MetricSpec } from '../definition.js';
import { atEntry, describe, entry, typeFault } from '../errors.js';
import type { ExponentialReading } from '../kinds.js';
import { readArray, readOptions, type OptionSpec } from '../options.js';
import { requireAnyStats, type AnyStatsReader, type MetricReader, type SharedStats } from '../read/reader.js';
import { EMPTY_RESOURCE, hrTime, type StatsCollectionResult, type StatsExponentialHistogramValue, type StatsHistogramValue, type StatsMetricData, type StatsMetricDescriptor, type StatsMetricProducer } from './otel-data.js';
import { checkOptions, pointAttributes, pointValues, type OtelOptions } from './otel-options.js';
import { bucketHighest } from './metrics.js';
import { namesOfMetric } from './names.js';

/** Options of {@link statsMetricProducer}. */
export interface StatsProducerOptions extends OtelOptions {
  /** The kinds of metric it produces (default all three); `['histogram']` beside {@link observeStats} on a meter. */
  kinds?: readonly MetricKind[];
}

const PRODUCER_OPTIONS: OptionSpec<StatsProducerOptions> = {
  names: { prefix: true, attributes: true, kinds: true },
  example: "{ kinds: ['histogram'] }",
};

const KINDS: readonly MetricKind[] = ['counter', 'gauge', 'histogram'];

/** Reads `options.kinds` once: an array of distinct kinds, at least one. */
function checkKinds(kinds: unknown): readonly MetricKind[] {
  if (kinds === undefined) return KINDS;
  const items = readArray('options.kinds', kinds, KINDS.length);
  const valid = items !== undefined && items.length > 0 && new Set(items).size === items.length && items.every((kind) => KINDS.includes(kind as MetricKind));
  if (!valid) throw typeFault(`options.kinds must be an array of distinct kinds among 'counter', 'gauge', 'histogram' (at least one); received ${describe(kinds)}`);
  return items as readonly MetricKind[];
}

/** The boundaries of a log-linear histogram's buckets: each one's highest value, for all but the last. */
function boundaries(spec: MetricSpec): readonly number[] {
  return bucketHighest(spec).slice(0, -1).map(Number);
}

/**
 * An exponential histogram's value from one read: its buckets from the first that counts something
 * to the last, as the SDK's own aggregation gives them (offset 0 and no counts when none does).
 */
function exponentialValue({ scale, zeroCount, offset, counts, sum, count }: ExponentialReading): StatsExponentialHistogramValue {
  const positive = { offset, bucketCounts: counts.map(Number) };
  return { scale, zeroCount: Number(zeroCount), positive, negative: { offset: 0, bucketCounts: [] }, sum: Number(sum), count: Number(count) };
}

/**
 * Makes the data of one metric now: each value or element, or the histogram's buckets read once.
 * @param points - the attributes of each data point (one, or one per element of a vector)
 */
function metricData(metric: MetricReader, descriptor: StatsMetricDescriptor, points: readonly Attributes[], times: [HrTime, HrTime]): StatsMetricData {
  const [startTime, endTime] = times;
  if (metric.shape === 'histogram') {
    const { buckets, sum, count, exponential } = metric.read();
    const attributes = points[0]!;
    if (exponential !== undefined) {
      return { descriptor, aggregationTemporality: 1, dataPointType: 1, dataPoints: [{ startTime, endTime, attributes, value: exponentialValue(exponential) }] };
    }
    const counts = buckets.map(Number);
    const value: StatsHistogramValue = { buckets: { boundaries: [...boundaries(metric.spec)], counts }, sum: Number(sum), count: Number(count) };
    return { descriptor, aggregationTemporality: 1, dataPointType: 0, dataPoints: [{ startTime, endTime, attributes, value }] };
  }
  const dataPoints = pointValues(metric).map((value, i) => ({ startTime, endTime, attributes: points[i]!, value }));
  return metric.spec.kind === 'counter'
    ? { descriptor, aggregationTemporality: 1, dataPointType: 3, isMonotonic: true, dataPoints }
    : { descriptor, aggregationTemporality: 1, dataPointType: 2, dataPoints };
}

/**
 * A metric producer for the OpenTelemetry SDK: every metric of any stats, histograms included,
 * read at each collection. Give it to a reader: `new PeriodicExportingMetricReader({ exporter,
 * metricProducers: [statsMetricProducer(stats)] })` (SDK 2.x). Counters are monotonic cumulative
 * sums, gauges gauges, histograms explicit-bucket histograms whose boundaries are each bucket's
 * highest value (the Prometheus `le`) and whose counts, sum and count are the shared ones (no min
 * or max: the buckets do not keep them); a vector's elements are one data point each, with its
 * label as an attribute. Names, units and descriptions are those of {@link observeStats}, under
 * the instrumentation scope `migration-stats`. A metric that fails to be read (stats of another
 * copy that stop answering) is left out and its error given in `errors`.
 * @param stats - a stats object of any definition (a `MigrationStats` included)
 * @param options - `prefix` (default: the definition's namespace), `attributes`, `kinds` (default
 *   all: `['histogram']` to use beside {@link observeStats})
 * @returns the producer: `collect()` resolves to what the SDK's `MetricReader` merges with its own
 * @throws TypeError for a bad stats, prefix, attribute or kinds, an attribute named as a vector's
 *   label, or an argument whose reading throws (a getter, a Proxy)
 * @example
 * import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
 * import { statsMetricProducer } from 'migration-stats/otel';
 * const exporter = new ConsoleMetricExporter();
 * const reader = new PeriodicExportingMetricReader({ exporter, metricProducers: [statsMetricProducer(stats)] });
 * new MeterProvider({ readers: [reader] });
 */
export function statsMetricProducer(stats: SharedStats, options?: StatsProducerOptions): StatsMetricProducer {
  const where = 'statsMetricProducer';
  const { metrics, definition, prefix, attributes } = entry(where, () => {
    const reader: AnyStatsReader = requireAnyStats(stats);
    const given = readOptions(options, PRODUCER_OPTIONS);
    const kinds = checkKinds(given.kinds);
    const metrics = reader.metrics.filter((metric) => kinds.includes(metric.spec.kind));
    return { metrics, definition: reader.definition, ...checkOptions(given, reader.definition, metrics.map((metric) => metric.spec)) };
  });
  const produced = metrics.map((metric) => {
    const { spec } = metric;
    const { otel, otelUnit } = namesOfMetric(definition, spec);
    const descriptor: StatsMetricDescriptor = Object.freeze({ name: prefix + otel, description: spec.help, unit: otelUnit, valueType: 1 as ValueType.DOUBLE });
    return { metric, descriptor, points: pointAttributes(spec, attributes) };
  });
  const startTime = hrTime(Date.now());
  return Object.freeze({
    async collect(): Promise<StatsCollectionResult> {
      const times: [HrTime, HrTime] = [startTime, hrTime(Date.now())];
      const data: StatsMetricData[] = [];
      const errors: unknown[] = [];
      for (const { metric, descriptor, points } of produced) {
        try {
          data.push(metricData(metric, descriptor, points, times));
        } catch (error) {
          errors.push(atEntry(where, error));
        }
      }
      return { resourceMetrics: { resource: EMPTY_RESOURCE, scopeMetrics: [{ scope: { name: 'migration-stats' }, metrics: data }] }, errors };
    },
  });
}
