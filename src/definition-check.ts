/**
 * The checks `defineStats` makes: a schema and its options in, the canonical definition out, or the
 * error naming the first field that is not allowed.
 * @packageDocumentation
 */
import { MAX_LANES, MAX_SUB_BITS } from './backend/abi.js';
import { cellCount, encodeDefinition, rememberHash, type Definition, type MetricKind, type MetricSpec, type RateLimitSpec } from './backend/definition-format.js';
import { arrayHead, checkLine, entries, fail, text, wholeIn } from './definition-fields.js';
import { checkNames, overridesOf, resolveCName } from './definition-names.js';
import { rangeFault, reservedNameFault, typeFault } from './errors.js';
import { checkExponential } from './exponential.js';

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
const UNIT = /^[A-Za-z%][A-Za-z0-9/%_.]{0,31}$/;
const NAMESPACE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

const METRIC_FIELDS: Readonly<Record<MetricKind, readonly string[]>> = {
  counter: ['kind', 'unit', 'help', 'length', 'label', 'names'],
  gauge: ['kind', 'unit', 'help', 'length', 'label', 'names'],
  histogram: ['kind', 'unit', 'help', 'buckets', 'subBuckets', 'scale', 'maxValue', 'names'],
};

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
  return Object.freeze({
    name,
    kind,
    unit,
    help,
    length,
    label,
    buckets,
    subBits,
    cName: resolveCName(path, name, names),
    names: overridesOf(names),
    ...(scale === undefined ? {} : { scale }),
  });
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
      throw reservedNameFault(name);
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

  // The limiter keeps the window's start and budget in cells of its own where it names no gauge.
  const own = rateLimit ? (rateLimit.start === '' ? 1 : 0) + (rateLimit.max === '' ? 1 : 0) : 0;
  const cells = metrics.reduce((n, m) => n + cellCount(m), 0) + own;
  if (cells > MAX_CELLS) {
    throw rangeFault(`schema needs ${cells} cells (one per value, a histogram's buckets and sum); at most ${MAX_CELLS} fit in a memory`);
  }
  return { definition: remember(Object.freeze({ format: 2, namespace, metrics: Object.freeze(metrics), rateLimit })), lanes };
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
  // Its hash too, for the header check of an attach (definition-format.ts).
  rememberHash(json);
  return definition;
}

// Parenthesized: compiled when the module loads, not at a new worker's first attach (design.md).
/** The definition this thread checked whose JSON is `json`, if any. */
export const knownDefinition = (function (json: string): Definition | undefined {
  return known.get(json);
});
