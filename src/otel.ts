/**
 * Adapter for OpenTelemetry (`@opentelemetry/api`, an optional peer dependency): observable
 * instruments on a `Meter`, read together from the shared memory at each collection. Import it
 * from `migration-stats/otel`; it only uses the API's types, so it loads nothing at run time.
 *
 * OpenTelemetry takes numbers: values above 2^53 are rounded to the nearest double.
 * @packageDocumentation
 */
import type { Attributes, BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import { describe } from './errors.js';
import { DEFAULT_OTEL_PREFIX, METRICS } from './metrics.js';
import { MigrationStats } from './stats.js';

/** Options of {@link observeMigrationStats}. */
export interface OtelOptions {
  /** Start of every instrument name (default `qemu.migration.`). */
  prefix?: string;
  /** Attributes on every observation, e.g. `{ vm: 'guest1' }`. */
  attributes?: Attributes;
}

/** What {@link observeMigrationStats} created. */
export interface OtelRegistration {
  /** The instrument names, in QEMU's struct order. */
  readonly names: readonly string[];
  /** Stops observing (removes the batch callback; the instruments stay on the meter). */
  remove(): void;
}

/**
 * Creates an observable counter for each add-only counter and an observable gauge for each gauge,
 * named after QEMU's C fields (`qemu.migration.zero_pages`, unit `{page}`; bytes in `By`), and one
 * batch callback that reads all 15 at each collection.
 * @param stats - the counters (any thread's updates are included)
 * @param meter - an OpenTelemetry `Meter`
 * @param options - `prefix`, `attributes`
 * @returns the instrument names and a way to stop observing
 * @throws TypeError for a bad stats, meter or option
 * @example
 * import { metrics } from '@opentelemetry/api';
 * import { observeMigrationStats } from 'migration-stats/otel';
 * observeMigrationStats(stats, metrics.getMeter('migration'), { attributes: { vm: 'guest1' } });
 */
export function observeMigrationStats(stats: MigrationStats, meter: Meter, options: OtelOptions = {}): OtelRegistration {
  const where = 'observeMigrationStats';
  if (!(stats instanceof MigrationStats)) {
    throw new TypeError(`${where}: stats must be a MigrationStats (from MigrationStats.create or attach); received ${describe(stats)}`);
  }
  if (meter === null || typeof meter !== 'object' || typeof meter.addBatchObservableCallback !== 'function') {
    throw new TypeError(`${where}: meter must be an OpenTelemetry Meter (metrics.getMeter(…)); received ${describe(meter)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${where}: options must be an object such as { attributes: { vm: 'guest1' } }; received ${describe(options)}`);
  }
  const { prefix = DEFAULT_OTEL_PREFIX, attributes = {} } = options;
  if (typeof prefix !== 'string') throw new TypeError(`${where}: options.prefix must be a string; received ${describe(prefix)}`);
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) {
    throw new TypeError(`${where}: options.attributes must be an object of attribute name → value; received ${describe(attributes)}`);
  }

  const observed = METRICS.map((metric) => {
    const name = prefix + metric.otelName;
    const config = { description: metric.help, unit: metric.otelUnit };
    const instrument: Observable =
      metric.type === 'counter' ? meter.createObservableCounter(name, config) : meter.createObservableGauge(name, config);
    return { name, instrument, counter: stats[metric.counter] };
  });
  const instruments = observed.map((entry) => entry.instrument);
  const callback: BatchObservableCallback = (result) => {
    for (const { instrument, counter } of observed) result.observe(instrument, Number(counter.get()), attributes);
  };
  meter.addBatchObservableCallback(callback, instruments);
  return Object.freeze({
    names: Object.freeze(observed.map((entry) => entry.name)),
    remove(): void {
      meter.removeBatchObservableCallback(callback, instruments);
    },
  });
}
