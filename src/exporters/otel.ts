/**
 * Adapter for OpenTelemetry (`@opentelemetry/api`, an optional peer dependency): observable
 * instruments on a `Meter`, read together from the shared memory at each collection. Import it
 * from `migration-stats/otel`; it only uses the API's types, so it loads nothing at run time.
 *
 * OpenTelemetry takes numbers: values above 2^53 are rounded to the nearest double.
 * @packageDocumentation
 */
import type { Attributes, BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import { describe } from '../errors.js';
import { DEFAULT_OTEL_PREFIX, METRICS } from './metrics.js';
import { readArray, readMember, readOptions, readRecord, type OptionSpec } from '../options.js';
import { requireStats, type MigrationStats } from '../stats.js';

/** Options of {@link observeMigrationStats}. */
export interface OtelOptions {
  /** Start of every instrument name (default `qemu.migration.`). */
  prefix?: string;
  /** Attributes on every observation, e.g. `{ vm: 'guest1' }`. */
  attributes?: Attributes;
}

const OPTIONS: OptionSpec<OtelOptions> = { names: { prefix: true, attributes: true }, example: "{ attributes: { vm: 'guest1' } }" };

/** What {@link observeMigrationStats} created. */
export interface OtelRegistration {
  /** The instrument names, in QEMU's struct order. */
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
 */
function checkPrefix(where: string, prefix: unknown): void {
  if (typeof prefix !== 'string' || (prefix !== '' && !INSTRUMENT_NAME_START.test(prefix))) {
    throw new TypeError(`${where}: options.prefix must be '' or match ${INSTRUMENT_NAME_START} (an OpenTelemetry instrument name start); received ${describe(prefix)}`);
  }
  const longest = Math.max(...METRICS.map((metric) => metric.otelName.length));
  if (prefix.length + longest > MAX_INSTRUMENT_NAME) {
    throw new TypeError(
      `${where}: options.prefix must leave every instrument name at most ${MAX_INSTRUMENT_NAME} characters (OpenTelemetry's limit), so at most ${MAX_INSTRUMENT_NAME - longest} characters; received one of ${prefix.length}`,
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
function readAttributes(where: string, attributes: unknown): Attributes {
  const copy: Record<string, unknown> = { ...readRecord(where, 'options.attributes', attributes, 'an object of attribute name → value') };
  for (const [name, value] of Object.entries(copy)) {
    if (isPrimitiveAttribute(value)) continue;
    const path = `options.attributes.${name}`;
    const items = readArray(where, path, value, MAX_ATTRIBUTE_ITEMS);
    if (items !== undefined) {
      const types = new Set(items.filter((item) => item !== null && item !== undefined).map((item) => typeof item));
      if (types.size <= 1 && items.every((item) => item === null || item === undefined || isPrimitiveAttribute(item))) {
        Object.defineProperty(copy, name, { value: items, enumerable: true });
        continue;
      }
    }
    throw new TypeError(`${where}: ${path} must be a string, number, boolean or an array of one of them; received ${describe(value)}`);
  }
  return Object.freeze(copy) as Attributes;
}

/** The four methods of a `Meter` that are used, read once. */
const METER_METHODS = ['createObservableCounter', 'createObservableGauge', 'addBatchObservableCallback', 'removeBatchObservableCallback'] as const;

/**
 * Reads the meter's methods once.
 * @throws TypeError naming `meter` when it is not a meter or cannot be read
 */
function readMeter(where: string, meter: unknown): Record<(typeof METER_METHODS)[number], (...args: unknown[]) => unknown> {
  const methods: Partial<Record<(typeof METER_METHODS)[number], unknown>> = {};
  if (meter !== null && typeof meter === 'object') {
    for (const name of METER_METHODS) methods[name] = readMember(where, `meter.${name}`, meter, name);
  }
  if (!METER_METHODS.every((name) => typeof methods[name] === 'function')) {
    throw new TypeError(`${where}: meter must be an OpenTelemetry Meter (metrics.getMeter(…)); received ${describe(meter)}`);
  }
  return methods as Record<(typeof METER_METHODS)[number], (...args: unknown[]) => unknown>;
}

/**
 * Creates an observable counter for each add-only counter and an observable gauge for each gauge,
 * named after QEMU's C fields (`qemu.migration.zero_pages`, unit `{page}`; bytes in `By`), and one
 * batch callback that reads all 15 at each collection.
 * @param stats - the counters (any thread's updates are included)
 * @param meter - an OpenTelemetry `Meter`
 * @param options - `prefix`, `attributes`
 * @returns the instrument names and a way to stop observing
 * @throws TypeError for a bad stats or meter, a prefix that makes names OpenTelemetry does not allow,
 *   an attribute value that is not a string, number, boolean or array of one of them, or an argument
 *   whose reading throws (a getter, a Proxy); RangeError for an attribute array of more than 65536 items
 * @example
 * import { metrics } from '@opentelemetry/api';
 * import { observeMigrationStats } from 'migration-stats/otel';
 * observeMigrationStats(stats, metrics.getMeter('migration'), { attributes: { vm: 'guest1' } });
 */
export function observeMigrationStats(stats: MigrationStats, meter: Meter, options?: OtelOptions): OtelRegistration {
  const where = 'observeMigrationStats';
  const reader = requireStats(where, stats);
  const methods = readMeter(where, meter);
  const { prefix = DEFAULT_OTEL_PREFIX, attributes } = readOptions(where, options, OPTIONS);
  checkPrefix(where, prefix);
  const observedAttributes = attributes === undefined ? Object.freeze({}) : readAttributes(where, attributes);

  const observed = METRICS.map((metric) => {
    const name = prefix + metric.otelName;
    const config = { description: metric.help, unit: metric.otelUnit };
    const create = metric.type === 'counter' ? methods.createObservableCounter : methods.createObservableGauge;
    const instrument = Reflect.apply(create, meter, [name, config]) as Observable;
    return { name, instrument, counter: metric.counter };
  });
  const instruments = observed.map((entry) => entry.instrument);
  const callback: BatchObservableCallback = (result) => {
    for (const { instrument, counter } of observed) result.observe(instrument, Number(reader.get(where, counter)), observedAttributes);
  };
  Reflect.apply(methods.addBatchObservableCallback, meter, [callback, instruments]);
  return Object.freeze({
    names: Object.freeze(observed.map((entry) => entry.name)),
    remove(): void {
      Reflect.apply(methods.removeBatchObservableCallback, meter, [callback, instruments]);
    },
  });
}
