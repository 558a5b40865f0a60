/**
 * Definitions of shared statistics: what `defineStats` takes, the checks it makes, and the canonical
 * form that is written into the memory so that any thread can rebuild the stats from the memory alone.
 *
 * A definition is checked once, where it is made, and every message names the field; everything
 * else (the memory layout, the exporters' names, the vectors' labels) derives from the canonical
 * form, which is plain JSON. Two definitions are the same stats exactly when their canonical forms
 * are equal; {@link firstDifference} says where two differ.
 * @packageDocumentation
 */
import { MAX_LANES, MAX_SUB_BITS } from './backend/abi.js';
import {
  cellCount,
  encodeDefinition,
  type Definition,
  type MetricKind,
  type MetricSpec,
  type RateLimitSpec,
} from './backend/definition-format.js';
import { describe, rangeFault, typeFault } from './errors.js';
import { checkExponential, expMaxValueOf, type ExponentialHistogramDefinition } from './exponential.js';

// The definition as the memory stores it is the backend's (backend/definition-format.ts); named here too.
export { cellCount, definitionHash, encodeDefinition, type Definition, type MetricKind, type MetricSpec, type RateLimitSpec } from './backend/definition-format.js';

/** Names a metric takes elsewhere, when the derived ones do not fit. */
export interface MetricNames {
  /** The C name it mirrors (`Stat64.cName`); default: the name in snake_case. */
  readonly c?: string;
  /** Prometheus family name after the prefix, without `_total`; default: snake_case, plus the unit (bytes, seconds, …) when the name does not have it. */
  readonly prometheus?: string;
  /** OpenTelemetry instrument name after the prefix; default: the C name. */
  readonly otel?: string;
  /** OpenTelemetry unit (UCUM); default: derived from `unit` (`bytes` → `By`, `pages` → `{pages}`). */
  readonly otelUnit?: string;
}

/** A counter or a gauge: one value, or a fixed-length vector of them. */
export interface CounterDefinition {
  readonly kind: 'counter' | 'gauge';
  /** Unit of the value, e.g. `bytes`, `files`, `pages/s`. */
  readonly unit: string;
  /** One line saying what it counts. */
  readonly help: string;
  /** A vector of this many values (1 to 1024), each a `Stat64`; absent: one value. */
  readonly length?: number;
  /** The vector's label when exported, e.g. `worker` (default `index`). */
  readonly label?: string;
  readonly names?: MetricNames;
}

/** A histogram: values counted in buckets, with an exact count and sum; log-linear or exponential. */
export type HistogramDefinition = LogLinearHistogramDefinition | ExponentialHistogramDefinition;

export type { ExponentialHistogramDefinition } from './exponential.js';

/** A histogram with QEMU's log2 buckets, or log-linear ones (`subBuckets`). */
export interface LogLinearHistogramDefinition {
  readonly kind: 'histogram';
  readonly unit: string;
  readonly help: string;
  /**
   * Number of buckets. With `subBuckets` 1 (the default), bucket k counts values in [2^k, 2^(k+1))
   * and 0 goes to bucket 0, as QEMU's `postcopy-latency-dist`; anything past the last bucket counts
   * in the last.
   */
  readonly buckets: number;
  /**
   * Finer buckets: each power of two split into this many (a power of two from 1 to 64); values
   * below it get a bucket each. Relative error of a bucket ≤ 1 / subBuckets.
   */
  readonly subBuckets?: number;
  readonly names?: MetricNames;
  readonly scale?: undefined;
}

/** One metric of a schema. */
export type MetricDefinition = CounterDefinition | HistogramDefinition;

/** What `defineStats` takes: metric name → metric. */
export type StatsSchema = { readonly [name: string]: MetricDefinition };

/** QEMU's rate limiter over the sum of some counters, with its window start and budget in named gauges. */
export interface RateLimitDefinition {
  /** Counters whose sum is the transferred total the limit applies to. */
  readonly counters: readonly string[];
  /** A gauge that holds the total when the current window began (default: a cell of its own). */
  readonly start?: string;
  /** A gauge that holds the budget of one window (default: a cell of its own). */
  readonly max?: string;
}

/** Options of `defineStats`. */
export interface DefineStatsOptions {
  /** QEMU's rate limiter over the sum of these counters (scalar or vector counters). */
  readonly rateLimit?: readonly string[] | RateLimitDefinition;
  /**
   * Where exported names start: `copy` gives Prometheus `copy_…` and OpenTelemetry `copy.…`;
   * dots separate words (`qemu.migration`). Default: none.
   */
  readonly namespace?: string;
  /**
   * Lanes for the adds of different threads (1 to 64). Default: twice the engine's
   * `hardwareConcurrency` rounded up to a power of two, from 4 to 64. More lanes than threads that
   * add at once cost reads and memory, and win nothing.
   */
  readonly lanes?: number;
}

/** Most metrics in one definition. */
export const MAX_METRICS = 256;
/** Longest vector. */
export const MAX_LENGTH = 1024;
/**
 * Most cells (u64 values) of one definition, over all its metrics: 124 · 1024, as many as fit in
 * the largest memory (64 MiB) when every cell is laned and there are 64 lanes. Seven exponential
 * histograms of scale 8 (16,387 cells each) fit; eight do not.
 */
export const MAX_CELLS = 126976;

const NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const C_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
const PROM_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]{0,127}$/;
const OTEL_NAME = /^[A-Za-z][A-Za-z0-9_.\-/]{0,127}$/;
const UNIT = /^[A-Za-z%][A-Za-z0-9/%_.]{0,31}$/;
const OTEL_UNIT = /^[\x21-\x7e]{1,63}$/;
const NAMESPACE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

/** Units Prometheus names carry as a suffix: its base units. */
const BASE_UNITS: ReadonlySet<string> = new Set(['bytes', 'seconds']);

/** Units with a UCUM symbol (the exporters write OpenMetrics `# UNIT` lines where a name ends with one). */
export const KNOWN_UNITS: Readonly<Record<string, string>> = {
  bytes: 'By',
  seconds: 's',
  milliseconds: 'ms',
  microseconds: 'us',
  nanoseconds: 'ns',
};

/** `bytesCopied` → `bytes_copied`. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

/** The Prometheus prefix of a namespace: `qemu.migration` → `qemu_migration_`. */
export function promPrefix(namespace: string): string {
  return namespace === '' ? '' : `${namespace.replace(/\./g, '_')}_`;
}

/** The OpenTelemetry prefix of a namespace: `qemu.migration` → `qemu.migration.`. */
export function otelPrefix(namespace: string): string {
  return namespace === '' ? '' : `${namespace}.`;
}

/** The default lane count: twice the cores, rounded up to a power of two, from 4 to 64. */
export function defaultLanes(): number {
  const g = globalThis as { navigator?: { hardwareConcurrency?: unknown }; process?: { getBuiltinModule?: (id: string) => unknown } };
  let cores = g.navigator?.hardwareConcurrency;
  if (typeof cores !== 'number') {
    // Node before 21 has no navigator; its os module says the same.
    const os = g.process?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
    cores = os?.availableParallelism?.();
  }
  const n = typeof cores === 'number' && Number.isInteger(cores) && cores > 0 ? cores : 8;
  let lanes = 4;
  while (lanes < 2 * n && lanes < MAX_LANES) lanes *= 2;
  return lanes;
}

/** Throws the definition error for `path`. */
function fail(path: string, value: unknown, allowed: string, range = false): never {
  const message = `${path} must be ${allowed}; received ${describe(value)}`;
  throw range ? rangeFault(message) : typeFault(message);
}

/** The error for a value whose reading threw (a getter, a Proxy): ours, naming the field. */
function unreadable(path: string, error: unknown): TypeError {
  return typeFault(`${path} could not be read (${error instanceof Error ? error.message : describe(error)})`);
}

/** Reads a plain object's own entries once, refusing anything else. */
function entries(path: string, value: unknown, example: string): [string, unknown][] {
  let tag: string;
  try {
    tag = Object.prototype.toString.call(value);
  } catch (error) {
    throw unreadable(path, error);
  }
  if (value === null || typeof value !== 'object' || tag !== '[object Object]') fail(path, value, `an object such as ${example}`);
  try {
    return Object.keys(value).map((key) => [key, (value as Record<string, unknown>)[key]]);
  } catch (error) {
    throw unreadable(path, error);
  }
}

/** A copy of an array's first `most + 1` elements, read once, or `undefined` for anything but an array. */
function arrayHead(path: string, value: unknown, most: number): unknown[] | undefined {
  try {
    if (!Array.isArray(value)) return undefined;
    const array = value as unknown[];
    return Array.from({ length: Math.min(array.length, most + 1) }, (_, i) => array[i]);
  } catch (error) {
    throw unreadable(path, error);
  }
}

function wholeIn(path: string, value: unknown, lo: number, hi: number, what: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi) return value;
  return fail(path, value, `${what} from ${lo} to ${hi}`, typeof value === 'number');
}

/** What breaks a line of help text: control characters (C0, DEL, C1), U+2028, U+2029, unpaired surrogates. */
const NOT_IN_A_LINE = /[\0-\x1f\x7f-\x9f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const CHARACTER_NAMES: Readonly<Record<number, string>> = {
  0: 'NUL', 9: 'tab', 10: 'line feed', 13: 'carriage return', 0x85: 'next line', 0x2028: 'line separator', 0x2029: 'paragraph separator',
};

/** Refuses a help text that is not one line, naming the first character that breaks it and where. */
function checkLine(path: string, help: string): void {
  const found = NOT_IN_A_LINE.exec(help);
  if (!found) return;
  const code = found[0].charCodeAt(0);
  const name = CHARACTER_NAMES[code] ?? (code >= 0xd800 ? 'an unpaired surrogate, which UTF-8 cannot encode' : 'a control character');
  const at = `U+${code.toString(16).toUpperCase().padStart(4, '0')} (${name}) at index ${found.index}`;
  throw typeFault(`${path} must be one line of text, without control characters or line breaks; received ${describe(help)}, which has ${at}`);
}

function text(path: string, value: unknown, pattern: RegExp, allowed: string): string {
  if (typeof value === 'string' && pattern.test(value)) return value;
  return fail(path, value, allowed);
}

const METRIC_FIELDS: Readonly<Record<MetricKind, readonly string[]>> = {
  counter: ['kind', 'unit', 'help', 'length', 'label', 'names'],
  gauge: ['kind', 'unit', 'help', 'length', 'label', 'names'],
  histogram: ['kind', 'unit', 'help', 'buckets', 'subBuckets', 'scale', 'maxValue', 'names'],
};

/** What each name of a metric must be: given or derived, the memory's definition is read back with these. */
const NAME_RULES: Readonly<Record<keyof MetricNames, readonly [pattern: RegExp, what: string, allowed: string]>> = {
  c: [C_NAME, 'C name', 'a C identifier in snake_case (a lowercase letter or _, then lowercase letters, digits, _), at most 64 characters'],
  prometheus: [PROM_NAME, 'Prometheus name', `a Prometheus metric name (matching ${PROM_NAME.source})`],
  otel: [OTEL_NAME, 'OpenTelemetry name', 'an OpenTelemetry instrument name (a letter, then letters, digits, _ . - /), at most 128 characters'],
  otelUnit: [OTEL_UNIT, 'OpenTelemetry unit', 'printable ASCII without spaces, 1 to 63 characters'],
};

function checkNames(path: string, value: unknown): MetricNames {
  if (value === undefined) return {};
  const out: Record<string, string> = {};
  const rules: Record<string, readonly [RegExp, string, string]> = NAME_RULES;
  for (const [key, v] of entries(path, value, "{ prometheus: 'bytes_copied' }")) {
    const rule = rules[key];
    if (!rule) throw typeFault(`${path}.${key} is not a name a metric takes; the names are ${Object.keys(rules).join(', ')}`);
    out[key] = text(`${path}.${key}`, v, rule[0], rule[2]);
  }
  return out;
}

/** Subsets of a metric's fields, read once. */
interface RawMetric {
  kind?: unknown;
  unit?: unknown;
  help?: unknown;
  length?: unknown;
  label?: unknown;
  buckets?: unknown;
  subBuckets?: unknown;
  scale?: unknown;
  maxValue?: unknown;
  names?: unknown;
}

/** The most buckets `subBits` sub-bits can tell apart: every value up to 2^64 − 1 has its own. */
export function maxBuckets(subBits: number): number {
  return subBits === 0 ? 64 : (65 - subBits) << subBits;
}

function checkMetric(name: string, value: unknown): MetricSpec {
  const path = `schema.${name}`;
  const raw: RawMetric = {};
  const fields = entries(path, value, "{ kind: 'counter', unit: 'bytes', help: '…' }");
  for (const [key, v] of fields) (raw as Record<string, unknown>)[key] = v;
  const kind = raw.kind;
  if (kind !== 'counter' && kind !== 'gauge' && kind !== 'histogram') fail(`${path}.kind`, kind, "'counter', 'gauge' or 'histogram'");
  for (const [key] of fields) {
    if (!METRIC_FIELDS[kind].includes(key)) {
      throw typeFault(`${path}.${key} is not a field of a ${kind}; its fields are ${METRIC_FIELDS[kind].join(', ')}`);
    }
  }
  const unit = text(`${path}.unit`, raw.unit, UNIT, "a unit such as 'bytes', 'files' or 'pages/s' (a letter or %, then letters, digits, / % _ .), at most 32 characters");
  if (typeof raw.help !== 'string' || raw.help.trim() === '' || raw.help.length > 1000) fail(`${path}.help`, raw.help, 'a line of text (1 to 1000 characters)');
  const help = raw.help;
  checkLine(`${path}.help`, help);
  let length = 0;
  let label = '';
  let buckets = 0;
  let subBits = 0;
  let scale: number | undefined;
  if (kind === 'histogram' && (raw.scale !== undefined || raw.maxValue !== undefined)) {
    for (const other of ['buckets', 'subBuckets'] as const) {
      if (raw[other] !== undefined) {
        throw typeFault(`${path}.${other} and ${path}.scale cannot both be given: scale makes exponential buckets, buckets and subBuckets log-linear ones`);
      }
    }
    if (raw.scale === undefined) throw typeFault(`${path}.maxValue narrows an exponential histogram, which needs ${path}.scale (0 to 8)`);
    ({ scale, buckets } = checkExponential(path, raw.scale, raw.maxValue));
  } else if (kind === 'histogram') {
    const sub = raw.subBuckets === undefined ? 1 : raw.subBuckets;
    if (typeof sub !== 'number' || !Number.isInteger(sub) || sub < 1 || sub > 1 << MAX_SUB_BITS || (sub & (sub - 1)) !== 0) {
      fail(`${path}.subBuckets`, sub, `a power of two from 1 to ${1 << MAX_SUB_BITS}`, typeof sub === 'number');
    }
    subBits = Math.log2(sub);
    buckets = wholeIn(`${path}.buckets`, raw.buckets, 1, maxBuckets(subBits), `a whole number of buckets (with ${sub} sub-bucket${sub === 1 ? '' : 's'})`);
  } else {
    if (raw.length !== undefined) length = wholeIn(`${path}.length`, raw.length, 1, MAX_LENGTH, 'a whole number');
    if (raw.label !== undefined) {
      if (raw.length === undefined) throw typeFault(`${path}.label names a vector's label, but ${path} has no length`);
      if (typeof raw.label !== 'string' || !LABEL_NAME.test(raw.label) || raw.label.startsWith('__') || raw.label === 'le' || raw.label === 'quantile') {
        fail(`${path}.label`, raw.label, `a Prometheus label name (matching ${LABEL_NAME.source}, not starting with __, not le or quantile)`);
      }
    }
    if (length > 0) label = (raw.label as string | undefined) ?? 'index';
  }
  const names = checkNames(`${path}.names`, raw.names);
  const cName = names.c ?? snakeCase(name);
  const known = KNOWN_UNITS[unit];
  // Prometheus wants a base unit in the name (bytes, seconds): added at the end unless the name has it
  // as a word already. Other time units are left out of the name, where promtool would refuse them.
  const suffix = BASE_UNITS.has(unit) && !cName.split('_').includes(unit) ? `_${unit}` : '';
  const resolved: Required<MetricNames> = {
    c: cName,
    prometheus: names.prometheus ?? cName + suffix,
    otel: names.otel ?? cName,
    otelUnit: names.otelUnit ?? known ?? `{${unit}}`,
  };
  // A derived name must pass the rules a given one does, or no thread could read the definition back.
  for (const key of Object.keys(NAME_RULES) as (keyof MetricNames)[]) {
    const [pattern, what, allowed] = NAME_RULES[key];
    if (names[key] === undefined && !pattern.test(resolved[key])) {
      throw typeFault(`${path} derives the ${what} ${describe(resolved[key])}, which is not ${allowed}; give one in ${path}.names.${key}`);
    }
  }
  return Object.freeze({
    name,
    kind,
    unit,
    help,
    length,
    label,
    buckets,
    subBits,
    cName,
    promName: resolved.prometheus,
    otelName: resolved.otel,
    otelUnit: resolved.otelUnit,
    ...(scale === undefined ? {} : { scale }),
  });
}

/** Every sample name a metric makes in Prometheus' text format, for clashes between metrics. */
function sampleNames(prefix: string, metric: MetricSpec): string[] {
  const family = prefix + metric.promName;
  if (metric.kind === 'histogram') return [`${family}_bucket`, `${family}_sum`, `${family}_count`, family];
  return metric.kind === 'counter' ? [`${family}_total`, family] : [family];
}

/** Names no metric may have: the stats object's own API. */
const reservedNames = new Set<string>();

/** Adds the names of a stats class's API to those no metric may take (called once per class). */
export function reserveNames(names: Iterable<string>): void {
  for (const name of names) reservedNames.add(name);
}

/**
 * Checks a schema and its options and returns the canonical definition.
 * @throws TypeError or RangeError naming the first field that is not allowed
 */
export function checkDefinition(schema: unknown, options: unknown): { definition: Definition; lanes: number | undefined } {
  const metricEntries = entries('schema', schema, "{ bytesCopied: { kind: 'counter', unit: 'bytes', help: '…' } }");
  if (metricEntries.length === 0 || metricEntries.length > MAX_METRICS) {
    throw rangeFault(`schema must have from 1 to ${MAX_METRICS} metrics; received ${metricEntries.length}`);
  }
  const metrics: MetricSpec[] = [];
  const snake = new Map<string, string>();
  for (const [name, value] of metricEntries) {
    if (!NAME.test(name)) {
      throw typeFault(`schema has the metric name ${JSON.stringify(name)}; names must be a letter, then letters, digits or _, at most 64 characters`);
    }
    if (reservedNames.has(name) || name in Object.prototype) {
      throw typeFault(`schema has the metric name ${JSON.stringify(name)}, which the stats object uses for its own API`);
    }
    const metric = checkMetric(name, value);
    const clash = snake.get(metric.cName);
    if (clash !== undefined) throw typeFault(`schema.${name} and schema.${clash} both export as ${metric.cName}`);
    snake.set(metric.cName, name);
    metrics.push(metric);
  }
  const opts = options === undefined ? [] : entries('options', options, "{ rateLimit: ['bytesCopied'] }");
  const given: Record<string, unknown> = {};
  for (const [key, v] of opts) {
    if (key !== 'rateLimit' && key !== 'namespace' && key !== 'lanes') {
      throw typeFault(`options.${key} is not an option; the options are rateLimit, namespace, lanes`);
    }
    given[key] = v;
  }
  const namespace = given.namespace === undefined || given.namespace === '' ? '' : text('options.namespace', given.namespace, NAMESPACE, "'' or lowercase words of letters, digits and _, separated by dots ('copy', 'qemu.migration')");
  const lanes = given.lanes === undefined ? undefined : wholeIn('options.lanes', given.lanes, 1, MAX_LANES, 'a whole number of lanes');
  const rateLimit = given.rateLimit === undefined ? null : checkRateLimit(given.rateLimit, metrics);

  const prefix = promPrefix(namespace);
  const samples = new Map<string, string>();
  for (const metric of metrics) {
    for (const sample of sampleNames(prefix, metric)) {
      const other = samples.get(sample);
      if (other !== undefined && other !== metric.name) {
        throw typeFault(`schema.${metric.name} and schema.${other} both export the Prometheus name ${sample}`);
      }
      samples.set(sample, metric.name);
    }
  }
  // OpenTelemetry instrument names are case-insensitive: two that differ only in case are one.
  const instruments = new Map<string, string>();
  for (const metric of metrics) {
    const instrument = otelPrefix(namespace) + metric.otelName;
    const other = instruments.get(instrument.toLowerCase());
    if (other !== undefined) throw typeFault(`schema.${metric.name} and schema.${other} both export the OpenTelemetry name ${instrument}`);
    instruments.set(instrument.toLowerCase(), metric.name);
  }
  // The limiter keeps the window's start and budget in cells of its own where it names no gauge.
  const own = rateLimit ? (rateLimit.start === '' ? 1 : 0) + (rateLimit.max === '' ? 1 : 0) : 0;
  const cells = metrics.reduce((n, m) => n + cellCount(m), 0) + own;
  if (cells > MAX_CELLS) {
    throw rangeFault(`schema needs ${cells} cells (one per value, a histogram's buckets and sum); at most ${MAX_CELLS} fit in a memory`);
  }
  return { definition: remember(Object.freeze({ format: 1, namespace, metrics: Object.freeze(metrics), rateLimit })), lanes };
}

function checkRateLimit(value: unknown, metrics: readonly MetricSpec[]): RateLimitSpec {
  let counters: unknown = value;
  let start: unknown;
  let max: unknown;
  let path = 'options.rateLimit';
  let list = arrayHead(path, value, 16);
  if (!list) {
    counters = undefined;
    for (const [key, v] of entries('options.rateLimit', value, "['bytesCopied'] or { counters, start, max }")) {
      if (key === 'counters') counters = v;
      else if (key === 'start') start = v;
      else if (key === 'max') max = v;
      else throw typeFault(`options.rateLimit.${key} is not a field; the fields are counters, start, max`);
    }
    path = 'options.rateLimit.counters';
    list = arrayHead(path, counters, 16);
  }
  if (!list || list.length === 0 || list.length > 16) fail(path, counters, 'an array of 1 to 16 counter names');
  const byName = new Map(metrics.map((m) => [m.name, m]));
  const names = list.map((name, i) => {
    const metric = typeof name === 'string' ? byName.get(name) : undefined;
    if (metric?.kind !== 'counter') fail(`${path}[${i}]`, name, 'the name of a counter of the schema');
    return name as string;
  });
  if (new Set(names).size !== names.length) throw typeFault(`${path} names a counter twice`);
  const gauge = (field: string, v: unknown): string => {
    if (v === undefined) return '';
    const metric = typeof v === 'string' ? byName.get(v) : undefined;
    if (metric?.kind !== 'gauge' || metric.length !== 0) fail(`options.rateLimit.${field}`, v, 'the name of a gauge of the schema with one value');
    return v as string;
  };
  const startName = gauge('start', start);
  const maxName = gauge('max', max);
  if (startName !== '' && startName === maxName) throw typeFault(`options.rateLimit.start and options.rateLimit.max name the same gauge`);
  return Object.freeze({ counters: Object.freeze(names), start: startName, max: maxName });
}

/**
 * The checked definitions this thread has made, by their JSON: an `attach` of a memory that holds
 * one of them (the usual case: the worker imported the same `defineStats`) takes it from here
 * instead of decoding and checking the JSON again, which is most of a first attach in a new worker.
 * The text is the whole key, so a hit is the definition the JSON decodes to. At most
 * `KNOWN_MAX`, the oldest dropped first.
 */
const known = new Map<string, Definition>();
const KNOWN_MAX = 64;

function remember(definition: Definition): Definition {
  const json = encodeDefinition(definition);
  if (!known.has(json)) {
    if (known.size >= KNOWN_MAX) known.delete(known.keys().next().value!);
    known.set(json, definition);
  }
  return definition;
}

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/**
 * Rebuilds a definition from the JSON a memory holds, with the same checks as `defineStats`.
 * @throws TypeError saying what is wrong with it
 */
export const decodeDefinition = (function (json: string): Definition {
  const seen = known.get(json);
  if (seen !== undefined) return seen;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw typeFault(`the memory's definition is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const stored = parsed as Partial<Definition> | null;
  if (stored === null || typeof stored !== 'object' || stored.format !== 1 || !Array.isArray(stored.metrics)) {
    throw typeFault(`the memory's definition is not one this version of migration-stats reads`);
  }
  const schema: Record<string, MetricDefinition> = {};
  for (const m of stored.metrics as MetricSpec[]) {
    if (m === null || typeof m !== 'object' || typeof m.name !== 'string') throw typeFault(`the memory's definition has a metric without a name`);
    const names = { c: m.cName, prometheus: m.promName, otel: m.otelName, otelUnit: m.otelUnit };
    const maxValue = m.kind === 'histogram' && m.scale !== undefined ? expMaxValueOf(m.buckets, m.scale) : undefined;
    schema[m.name] =
      m.kind === 'histogram' && m.scale !== undefined
        ? { kind: m.kind, unit: m.unit, help: m.help, scale: m.scale, ...(maxValue === undefined ? {} : { maxValue }), names }
        : m.kind === 'histogram'
        ? { kind: m.kind, unit: m.unit, help: m.help, buckets: m.buckets, subBuckets: 2 ** m.subBits, names }
        : { kind: m.kind, unit: m.unit, help: m.help, ...(m.length > 0 ? { length: m.length, label: m.label } : {}), names };
  }
  const options: Record<string, unknown> = {};
  if (stored.namespace) options.namespace = stored.namespace;
  if (stored.rateLimit) {
    const { counters, start, max } = stored.rateLimit;
    options.rateLimit = { counters, ...(start ? { start } : {}), ...(max ? { max } : {}) };
  }
  const { definition } = checkDefinition(schema, options);
  if (encodeDefinition(definition) !== json) throw typeFault(`the memory's definition is not in canonical form`);
  return definition;
});

/**
 * Where two definitions first differ, in words ("schema.bytesPerWorker.length is 8 here and 4 in
 * the memory"), or `undefined` when they are the same.
 */
export const firstDifference = (function (here: Definition, there: Definition): string | undefined {
  if (here === there) return undefined;
  if (here.namespace !== there.namespace) return `the namespace is ${JSON.stringify(here.namespace)} here and ${JSON.stringify(there.namespace)} in the memory`;
  const n = Math.max(here.metrics.length, there.metrics.length);
  for (let i = 0; i < n; i++) {
    const a = here.metrics[i];
    const b = there.metrics[i];
    if (!a || !b) {
      return a ? `schema.${a.name} is not in the memory's definition` : `the memory's definition has schema.${b!.name}, which this one has not`;
    }
    if (a.name !== b.name) return `metric ${i + 1} is schema.${a.name} here and schema.${b.name} in the memory`;
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof MetricSpec>) {
      if (a[key] !== b[key]) return `schema.${a.name}.${key} is ${JSON.stringify(a[key])} here and ${JSON.stringify(b[key])} in the memory`;
    }
  }
  const ra = JSON.stringify(here.rateLimit);
  const rb = JSON.stringify(there.rateLimit);
  if (ra !== rb) return `options.rateLimit is ${ra} here and ${rb} in the memory`;
  return undefined;
});
