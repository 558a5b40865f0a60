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
import type { BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import { atEntry, describe, entry, typeFault } from '../errors.js';
import { readMember, readOptions, type OptionSpec } from '../options.js';
import { requireAnyStats, type SharedStats } from '../read/reader.js';
import { namesOfMetric } from './names.js';
import { checkOptions, pointAttributes, pointValues, type OtelOptions } from './otel-options.js';

export type { OtelOptions } from './otel-options.js';
export type {
  StatsCollectionResult,
  StatsDataPoint,
  StatsExponentialHistogramMetricData,
  StatsExponentialHistogramValue,
  StatsGaugeMetricData,
  StatsHistogramMetricData,
  StatsHistogramValue,
  StatsMetricData,
  StatsMetricDescriptor,
  StatsMetricProducer,
  StatsResource,
  StatsSumMetricData,
} from './otel-data.js';
export { statsMetricProducer, type StatsProducerOptions } from './otel-producer.js';

const OPTIONS: OptionSpec<OtelOptions> = { names: { prefix: true, attributes: true }, example: "{ attributes: { vm: 'guest1' } }" };

/** What {@link observeStats} created. */
export interface OtelRegistration {
  /** The instrument names, in the definition's order (QEMU's struct order for `MigrationStats`); histograms have none. */
  readonly names: readonly string[];
  /** Stops observing (removes the batch callback; the instruments stay on the meter). */
  remove(): void;
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
