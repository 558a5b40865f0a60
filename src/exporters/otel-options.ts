/**
 * The options of the OpenTelemetry adapter, read and checked once (the instrument name prefix, the
 * constant attributes), and what every data point of a metric carries: its attributes and its value.
 * @packageDocumentation
 */
import type { Attributes } from '@opentelemetry/api';
import type { Definition, MetricSpec } from '../definition.js';
import { describe, typeFault } from '../errors.js';
import { checkLabelClashes } from './metrics.js';
import { readArray, readRecord } from '../options.js';
import { kindOf, type Exact, type KindDescription } from '../kinds.js';
import type { MetricReader } from '../read/reader.js';
import { namesOfMetric, otelPrefix } from './names.js';

/** Options of {@link observeStats} and {@link observeMigrationStats}. */
export interface OtelOptions {
  /** Start of every instrument name (default: the definition's namespace and a dot, `qemu.migration.` for `MigrationStats`). */
  prefix?: string;
  /** Attributes on every observation, e.g. `{ vm: 'guest1' }`. */
  attributes?: Attributes;
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

/** The options both take, read once and checked against the stats' definition. @internal */
export interface CheckedOptions {
  readonly prefix: string;
  readonly attributes: Attributes;
}

/**
 * Checks the prefix and the attributes: the default prefix is the definition's namespace, and no
 * attribute may be named as the label of a vector exported.
 * @param metrics - the metrics exported
 * @internal
 */
export function checkOptions(given: Readonly<OtelOptions>, definition: Definition, metrics: readonly MetricSpec[]): CheckedOptions {
  const { prefix = otelPrefix(definition.namespace), attributes } = given;
  checkPrefix(prefix, metrics.map((spec) => namesOfMetric(definition, spec).otel));
  const checked = attributes === undefined ? (Object.freeze({}) as Attributes) : readAttributes(attributes);
  checkLabelClashes('options.attributes', Object.keys(checked), metrics, false);
  return { prefix, attributes: checked };
}

/**
 * The attributes of each data point of a metric: the constant ones, and a vector's label with the
 * element's index (as a string, as Prometheus labels are) on each element.
 * @internal
 */
export function pointAttributes(spec: MetricSpec, attributes: Attributes): readonly Attributes[] {
  const slots = spec.kind === 'histogram' ? [{ label: undefined }] : (kindOf(spec) as KindDescription).slots(spec);
  return slots.map(({ label }) => (label === undefined ? attributes : Object.freeze({ ...attributes, [label[0]]: label[1] })));
}

/** The value of each data point of a counter or a gauge now, as numbers (rounded above 2^53). @internal */
export function pointValues(metric: MetricReader): number[] {
  const read: Exact[] = [];
  metric.samples(read, []);
  return read.map(Number);
}
