/**
 * Adapter for OpenTelemetry (`@opentelemetry/api`, an optional peer dependency), for stats of any
 * definition. Import it from `migration-stats/otel`; it only uses the API's types, so it loads
 * nothing at run time.
 *
 * - {@link observeStats} (also exported as `observeMigrationStats`): observable counters and gauges
 *   on a `Meter`, read together from the shared memory at each collection; a vector's elements are
 *   one data point each, its label an attribute. The API has no asynchronous histogram, so
 *   histograms are not observed there.
 * - {@link statsMetricProducer}: every kind, histograms included (explicit bucket boundaries), as a
 *   metric producer that the SDK's `MetricReader` takes in its `metricProducers` option. It is
 *   written to the SDK's interfaces, without importing the SDK.
 *
 * OpenTelemetry takes numbers: values above 2^53 are rounded to the nearest double.
 * @packageDocumentation
 */
import type { Attributes, BatchObservableCallback, HrTime, Meter, Observable, ValueType } from '@opentelemetry/api';
import type { Definition, MetricKind, MetricSpec } from '../definition.js';
import { atEntry, describe, entry, typeFault } from '../errors.js';
import { specBucketRange } from '../histogram.js';
import { checkLabelClashes } from './metrics.js';
import { namesOfMetric, otelPrefix } from './names.js';
import { readArray, readMember, readOptions, readRecord, type OptionSpec } from '../options.js';
import { classicCells, classicCounts, kindOf, type Exact } from '../kinds.js';
import { requireAnyStats, type AnyStatsReader, type MetricReader, type SharedStats } from '../read/reader.js';

/** Options of {@link observeStats} and {@link observeMigrationStats}. */
export interface OtelOptions {
  /** Start of every instrument name (default: the definition's namespace and a dot, `qemu.migration.` for `MigrationStats`). */
  prefix?: string;
  /** Attributes on every observation, e.g. `{ vm: 'guest1' }`. */
  attributes?: Attributes;
}

const OPTIONS: OptionSpec<OtelOptions> = { names: { prefix: true, attributes: true }, example: "{ attributes: { vm: 'guest1' } }" };

/** What {@link observeStats} created. */
export interface OtelRegistration {
  /** The instrument names, in the definition's order (QEMU's struct order for `MigrationStats`); histograms have none. */
  readonly names: readonly string[];
  /** Stops observing (removes the batch callback; the instruments stay on the meter). */
  remove(): void;
}

/** What an OpenTelemetry instrument name may be: a letter, then letters, digits, `_ . - /`. */
const INSTRUMENT_NAME_START = /^[A-Za-z][A-Za-z0-9_.\-/]*$/;
/** OpenTelemetry's longest instrument name. */
const MAX_INSTRUMENT_NAME = 255;

/**
 * Checks a name prefix: the SDK would otherwise only log a warning for an invalid instrument name,
 * and exporters would receive it anyway.
 * @param names - the instrument names to be prefixed
 */
function checkPrefix(prefix: unknown, names: readonly string[]): asserts prefix is string {
  if (typeof prefix !== 'string' || (prefix !== '' && !INSTRUMENT_NAME_START.test(prefix))) {
    throw typeFault(`options.prefix must be '' or match ${INSTRUMENT_NAME_START} (an OpenTelemetry instrument name start); received ${describe(prefix)}`);
  }
  const longest = Math.max(...names.map((name) => name.length));
  if (prefix.length + longest > MAX_INSTRUMENT_NAME) {
    throw typeFault(
      `options.prefix must leave every instrument name at most ${MAX_INSTRUMENT_NAME} characters (OpenTelemetry's limit), so at most ${MAX_INSTRUMENT_NAME - longest} characters; received one of ${prefix.length}`,
    );
  }
}

const isPrimitiveAttribute = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** The most items an attribute array may have here (a sparse array may claim 2^32 − 1). */
const MAX_ATTRIBUTE_ITEMS = 65_536;

/**
 * Reads the attributes once into a frozen copy (arrays copied too) and checks them: each value a
 * string, number or boolean, or an array of one of those types (`null` and `undefined` items allowed).
 */
function readAttributes(attributes: unknown): Attributes {
  const copy: Record<string, unknown> = { ...readRecord('options.attributes', attributes, 'an object of attribute name → value') };
  for (const [name, value] of Object.entries(copy)) {
    if (isPrimitiveAttribute(value)) continue;
    const path = `options.attributes.${name}`;
    const items = readArray(path, value, MAX_ATTRIBUTE_ITEMS);
    if (items !== undefined) {
      const types = new Set(items.filter((item) => item !== null && item !== undefined).map((item) => typeof item));
      if (types.size <= 1 && items.every((item) => item === null || item === undefined || isPrimitiveAttribute(item))) {
        Object.defineProperty(copy, name, { value: items, enumerable: true });
        continue;
      }
    }
    throw typeFault(`${path} must be a string, number, boolean or an array of one of them; received ${describe(value)}`);
  }
  return Object.freeze(copy) as Attributes;
}

/** The four methods of a `Meter` that are used, read once. */
const METER_METHODS = ['createObservableCounter', 'createObservableGauge', 'addBatchObservableCallback', 'removeBatchObservableCallback'] as const;

/**
 * Reads the meter's methods once.
 * @throws TypeError naming `meter` when it is not a meter or cannot be read
 */
function readMeter(meter: unknown): Record<(typeof METER_METHODS)[number], (...args: unknown[]) => unknown> {
  const methods: Partial<Record<(typeof METER_METHODS)[number], unknown>> = {};
  if (meter !== null && typeof meter === 'object') {
    for (const name of METER_METHODS) methods[name] = readMember(`meter.${name}`, meter, name);
  }
  if (!METER_METHODS.every((name) => typeof methods[name] === 'function')) {
    throw typeFault(`meter must be an OpenTelemetry Meter (metrics.getMeter(…)); received ${describe(meter)}`);
  }
  return methods as Record<(typeof METER_METHODS)[number], (...args: unknown[]) => unknown>;
}

/** The options both take, read once and checked against the stats' definition. */
interface CheckedOptions {
  readonly prefix: string;
  readonly attributes: Attributes;
}

/**
 * Checks the prefix and the attributes: the default prefix is the definition's namespace, and no
 * attribute may be named as the label of a vector exported.
 * @param metrics - the metrics exported
 */
function checkOptions(given: Readonly<OtelOptions>, definition: Definition, metrics: readonly MetricSpec[]): CheckedOptions {
  const { prefix = otelPrefix(definition.namespace), attributes } = given;
  checkPrefix(prefix, metrics.map((spec) => namesOfMetric(definition, spec).otel));
  const checked = attributes === undefined ? (Object.freeze({}) as Attributes) : readAttributes(attributes);
  checkLabelClashes('options.attributes', Object.keys(checked), metrics, false);
  return { prefix, attributes: checked };
}

/**
 * The attributes of each data point of a metric: the constant ones, and a vector's label with the
 * element's index (as a string, as Prometheus labels are) on each element.
 */
function pointAttributes(spec: MetricSpec, attributes: Attributes): readonly Attributes[] {
  const slots = spec.kind === 'histogram' ? [{ label: undefined }] : kindOf(spec).slots(spec);
  return slots.map(({ label }) => (label === undefined ? attributes : Object.freeze({ ...attributes, [label[0]]: label[1] })));
}

/** The value of each data point of a counter or a gauge now, as numbers (rounded above 2^53). */
function pointValues(metric: MetricReader): number[] {
  const read: Exact[] = [];
  metric.samples(read);
  return read.map(Number);
}

/**
 * Observes the counters and gauges of any stats on an OpenTelemetry `Meter`: an observable counter
 * for each counter and an observable gauge for each gauge, named after the definition (for
 * `MigrationStats`, QEMU's C fields: `qemu.migration.zero_pages`, unit `{page}`; bytes in `By`),
 * and one batch callback that reads them all at each collection. A vector's elements are one data
 * point each, with its label as an attribute (`worker: '3'`). Histograms are not observed: the API
 * has no asynchronous histogram; export them with {@link statsMetricProducer}.
 * @param stats - a stats object of any definition (a `MigrationStats` included; any thread's
 *   updates are included)
 * @param meter - an OpenTelemetry `Meter`
 * @param options - `prefix` (default: the definition's namespace), `attributes`
 * @returns the instrument names and a way to stop observing
 * @throws TypeError for a bad stats or meter, a prefix that makes names OpenTelemetry does not allow,
 *   an attribute value that is not a string, number, boolean or array of one of them, an attribute
 *   named as a vector's label, or an argument whose reading throws (a getter, a Proxy); RangeError
 *   for an attribute array of more than 65536 items
 * @example
 * import { metrics } from '@opentelemetry/api';
 * import { observeStats } from 'migration-stats/otel';
 * observeStats(stats, metrics.getMeter('migration'), { attributes: { vm: 'guest1' } });
 */
export function observeStats(stats: SharedStats, meter: Meter, options?: OtelOptions): OtelRegistration {
  return observe('observeStats', stats, meter, options);
}

/**
 * {@link observeStats} under its first name: the same for any stats, `MigrationStats` included.
 * @param stats - a stats object of any definition
 * @param meter - an OpenTelemetry `Meter`
 * @param options - `prefix`, `attributes`
 * @returns the instrument names and a way to stop observing
 * @throws TypeError as {@link observeStats} does, naming `observeMigrationStats`
 * @example
 * import { metrics } from '@opentelemetry/api';
 * import { observeMigrationStats } from 'migration-stats/otel';
 * observeMigrationStats(stats, metrics.getMeter('migration'), { attributes: { vm: 'guest1' } });
 */
export function observeMigrationStats(stats: SharedStats, meter: Meter, options?: OtelOptions): OtelRegistration {
  return observe('observeMigrationStats', stats, meter, options);
}

function observe(where: string, stats: unknown, meter: unknown, options: unknown): OtelRegistration {
  const { reader, methods, metrics, prefix, attributes } = entry(where, () => {
    const reader = requireAnyStats(stats);
    const methods = readMeter(meter);
    const metrics = reader.metrics.filter((metric) => metric.spec.kind !== 'histogram');
    return { reader, methods, metrics, ...checkOptions(readOptions(options, OPTIONS), reader.definition, metrics.map((metric) => metric.spec)) };
  });

  const observed = metrics.map((metric) => {
    const { spec } = metric;
    const names = namesOfMetric(reader.definition, spec);
    const name = prefix + names.otel;
    const config = { description: spec.help, unit: names.otelUnit };
    const create = spec.kind === 'counter' ? methods.createObservableCounter : methods.createObservableGauge;
    const instrument = Reflect.apply(create, meter, [name, config]) as Observable;
    return { name, instrument, metric, points: pointAttributes(spec, attributes) };
  });
  const instruments = observed.map((entry) => entry.instrument);
  const callback: BatchObservableCallback = (result) => {
    try {
      for (const { instrument, metric, points } of observed) {
        pointValues(metric).forEach((value, i) => result.observe(instrument, value, points[i]));
      }
    } catch (error) {
      throw atEntry(where, error);
    }
  };
  if (observed.length > 0) Reflect.apply(methods.addBatchObservableCallback, meter, [callback, instruments]);
  return Object.freeze({
    names: Object.freeze(observed.map((entry) => entry.name)),
    remove(): void {
      if (observed.length > 0) Reflect.apply(methods.removeBatchObservableCallback, meter, [callback, instruments]);
    },
  });
}

/** Options of {@link statsMetricProducer}. */
export interface StatsProducerOptions extends OtelOptions {
  /** The kinds of metric it produces (default all three); `['histogram']` beside {@link observeStats} on a meter. */
  kinds?: readonly MetricKind[];
}

const PRODUCER_OPTIONS: OptionSpec<StatsProducerOptions> = {
  names: { prefix: true, attributes: true, kinds: true },
  example: "{ kinds: ['histogram'] }",
};

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

/** Any metric a producer gives. */
export type StatsMetricData = StatsSumMetricData | StatsGaugeMetricData | StatsHistogramMetricData;

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

/** The empty resource. */
const EMPTY_RESOURCE: StatsResource = Object.freeze({
  attributes: Object.freeze({}),
  merge(other: StatsResource | null): StatsResource {
    return other ?? EMPTY_RESOURCE;
  },
  getRawAttributes: (): [] => [],
});

/** A time as OpenTelemetry writes it: seconds and nanoseconds since the epoch. */
function hrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

const KINDS: readonly MetricKind[] = ['counter', 'gauge', 'histogram'];

/** Reads `options.kinds` once: an array of distinct kinds, at least one. */
function checkKinds(kinds: unknown): readonly MetricKind[] {
  if (kinds === undefined) return KINDS;
  const items = readArray('options.kinds', kinds, KINDS.length);
  const valid = items !== undefined && items.length > 0 && new Set(items).size === items.length && items.every((kind) => KINDS.includes(kind as MetricKind));
  if (!valid) throw typeFault(`options.kinds must be an array of distinct kinds among 'counter', 'gauge', 'histogram' (at least one); received ${describe(kinds)}`);
  return items as readonly MetricKind[];
}

/**
 * The boundaries of a histogram's buckets: each one's highest value, for all but the last (an
 * exponential histogram's buckets that hold no integer are merged into the one above: `classicCells`).
 */
function boundaries(spec: MetricSpec): readonly number[] {
  const cells = classicCells(spec) ?? Array.from({ length: spec.buckets }, (_, i) => i);
  return cells.slice(0, -1).map((i) => Number(specBucketRange(spec, i).upper! - 1n));
}

/**
 * Makes the data of one metric now: each value or element, or the histogram's buckets read once.
 * @param points - the attributes of each data point (one, or one per element of a vector)
 */
function metricData(metric: MetricReader, descriptor: StatsMetricDescriptor, points: readonly Attributes[], times: [HrTime, HrTime]): StatsMetricData {
  const [startTime, endTime] = times;
  if (metric.shape === 'histogram') {
    const { buckets, sum, count } = metric.read();
    const counts = classicCounts(metric.spec, buckets).map(Number);
    const value: StatsHistogramValue = { buckets: { boundaries: [...boundaries(metric.spec)], counts }, sum: Number(sum), count: Number(count) };
    return { descriptor, aggregationTemporality: 1, dataPointType: 0, dataPoints: [{ startTime, endTime, attributes: points[0]!, value }] };
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
