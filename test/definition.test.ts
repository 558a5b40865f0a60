// Every check defineStats makes of a schema and its options: each refusal comes from defineStats
// itself (never later, at create() or at the first update), is a TypeError for a wrong type or name
// and a RangeError for a number out of range, and names the field. What it accepts is a canonical
// definition that the memory carries and every thread can read back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attachStats, defineStats, type DefineStatsOptions, type Histogram, type RateLimitedStats, type StatsSchema } from '../dist/index.js';
import { MAX_CELLS, MAX_LENGTH, MAX_METRICS } from '../dist/definition.js';
import { exportNames } from '../dist/exporters/names.js';

type ErrorClass = typeof TypeError | typeof RangeError;

/** defineStats with anything at all, as a JavaScript caller may pass it. */
function define(schema: unknown, options?: unknown) {
  return defineStats(schema as StatsSchema, options as DefineStatsOptions);
}

/** The error defineStats throws, which must be thrown synchronously, and be of exactly `type`. */
function refusal(schema: unknown, options: unknown, type: ErrorClass): Error {
  let thrown: unknown;
  try {
    define(schema, options);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'defineStats accepted it').toBeInstanceOf(Error);
  expect((thrown as Error).constructor).toBe(type);
  return thrown as Error;
}

const counter = (extra: object = {}) => ({ kind: 'counter', unit: 'bytes', help: 'Bytes written', ...extra });
const gauge = (extra: object = {}) => ({ kind: 'gauge', unit: 'files', help: 'Files waiting', ...extra });
const histogram = (extra: object = {}) => ({ kind: 'histogram', unit: 'files', help: 'Files per batch', buckets: 24, ...extra });

function revokedProxy(target: object = {}): object {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

/** An object whose property `key` throws `error` when read. */
function throwingGetter(key: string, error: unknown, rest: object = {}): object {
  return Object.defineProperty({ ...rest }, key, {
    enumerable: true,
    get() {
      throw error;
    },
  });
}

/** An array whose element 0 throws when read. */
function throwingArray(): string[] {
  return Object.defineProperty(['bytes'], 0, {
    get() {
      throw new RangeError('element getter');
    },
  });
}

/** `n` vectors of `length` values each, named g0, g1, …: gauges, or counters (whose cells are in every lane too). */
const gauges = (n: number, length: number, make: (extra: object) => object = gauge) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`g${i}`, make({ length })]));

type Case = [title: string, schema: unknown, options: unknown, type: ErrorClass, message: string];

describe('metric names', () => {
  const bad = ['1abc', '_bytes', 'bytes-copied', 'bytes copied', '', 'é', 'a'.repeat(65)];
  it.each(bad)('refuses the name %j', (name) => {
    const error = refusal({ [name]: counter() }, undefined, TypeError);
    expect(error.message).toBe(
      `defineStats: schema has the metric name ${JSON.stringify(name)}; names must be a letter, then letters, digits or _, at most 64 characters`,
    );
  });

  it('accepts a name of 64 characters, letters, digits and _', () => {
    const name = `a${'_9Z'.repeat(21)}`;
    expect(name).toHaveLength(64);
    expect(define({ [name]: counter({ names: { c: 'long_one' } }) }).definition.metrics[0]!.name).toBe(name);
  });

  // The stats object's own API, and what every object has: a metric of such a name would hide it.
  const reserved = [
    'handle', 'close', 'lane', 'backend', 'definition', 'metric', 'snapshot', 'reset',
    'rateSet', 'rateGet', 'rateReset', 'rateExceeded', 'transferredBytes', 'constructor', 'toString', 'valueOf', 'hasOwnProperty',
  ];
  it.each(reserved)('refuses %s, a name the stats object uses for its own API', (name) => {
    const error = refusal({ bytes: counter(), [name]: counter({ names: { c: 'other' } }) }, undefined, TypeError);
    expect(error.message).toBe(`defineStats: schema has the metric name "${name}", which the stats object uses for its own API`);
  });

  const clashes: [title: string, schema: object, message: string][] = [
    ['bytesCopied and bytes_copied', { bytesCopied: counter(), bytes_copied: counter() }, 'schema.bytes_copied and schema.bytesCopied both export as bytes_copied'],
    ['httpCount and HTTPCount', { httpCount: counter(), HTTPCount: gauge() }, 'schema.HTTPCount and schema.httpCount both export as http_count'],
    ['a derived and a given C name', { fooBar: counter(), baz: gauge({ names: { c: 'foo_bar' } }) }, 'schema.baz and schema.fooBar both export as foo_bar'],
    ['two given C names', { a: counter({ names: { c: 'same' } }), b: histogram({ names: { c: 'same' } }) }, 'schema.b and schema.a both export as same'],
  ];
  it.each(clashes)('refuses two metrics with one C name: %s', (_title, schema, message) => {
    expect(refusal(schema, undefined, TypeError).message).toBe(`defineStats: ${message}`);
  });
});

describe('Prometheus names', () => {
  const clashes: [title: string, schema: object, options: object | undefined, message: string][] = [
    ['histogram foo and counter fooSum', { foo: histogram(), fooSum: counter({ unit: 'files' }) }, undefined, 'schema.fooSum and schema.foo both export the Prometheus name foo_sum'],
    ['histogram foo and gauge fooCount', { foo: histogram(), fooCount: gauge() }, undefined, 'schema.fooCount and schema.foo both export the Prometheus name foo_count'],
    ['histogram foo and gauge fooBucket', { foo: histogram(), fooBucket: gauge() }, undefined, 'schema.fooBucket and schema.foo both export the Prometheus name foo_bucket'],
    ['counter foo and gauge fooTotal', { foo: counter({ unit: 'files' }), fooTotal: gauge() }, undefined, 'schema.fooTotal and schema.foo both export the Prometheus name foo_total'],
    // bytes get a _bytes suffix: counter sent is sent_bytes, which a gauge sentBytes is too.
    ['counter sent (bytes) and gauge sentBytes', { sent: counter(), sentBytes: gauge() }, undefined, 'schema.sentBytes and schema.sent both export the Prometheus name sent_bytes'],
    ['two given Prometheus names', { a: counter({ names: { prometheus: 'x' } }), b: gauge({ names: { prometheus: 'x' } }) }, undefined, 'schema.b and schema.a both export the Prometheus name x'],
    ['with a namespace', { foo: histogram(), fooSum: gauge() }, { namespace: 'copy' }, 'schema.fooSum and schema.foo both export the Prometheus name copy_foo_sum'],
  ];
  it.each(clashes)('refuses two metrics exporting one sample name: %s', (_title, schema, options, message) => {
    expect(refusal(schema, options, TypeError).message).toBe(`defineStats: ${message}`);
  });

  it('tells names apart by their unit suffix: histogram latency (seconds) and counter latencySum do not clash', () => {
    const names = exportNames(define({ latency: histogram({ unit: 'seconds' }), latencySum: counter({ unit: 'files' }) }).definition);
    expect([...names.values()].map((n) => n.prometheus)).toEqual(['latency_seconds', 'latency_sum']);
  });

  it('leaves units other than bytes and seconds out of Prometheus names (promtool refuses _microseconds)', () => {
    const names = exportNames(define({ latency: histogram({ unit: 'microseconds' }), pause: counter({ unit: 'milliseconds' }) }).definition);
    expect([...names.values()].map((n) => [n.prometheus, n.otelUnit])).toEqual([['latency', 'us'], ['pause', 'ms']]);
  });

  it("takes a unit named as an Object.prototype member as any other unit ('constructor' is {constructor})", () => {
    const names = exportNames(define({ made: counter({ unit: 'constructor' }), shown: gauge({ unit: 'toString' }) }).definition);
    expect([...names.values()].map((n) => n.otelUnit)).toEqual(['{constructor}', '{toString}']);
  });

  it.each(['1abc', 'a-b', '', 'a.b', 'a'.repeat(129)])('refuses the given Prometheus name %j', (name) => {
    const error = refusal({ bytes: counter({ names: { prometheus: name } }) }, undefined, TypeError);
    expect(error.message).toBe(
      `defineStats: schema.bytes.names.prometheus must be a Prometheus metric name (matching ^[a-zA-Z_:][a-zA-Z0-9_:]{0,127}$); received ${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)}`,
    );
  });
});

describe('OpenTelemetry names', () => {
  const clashes: [title: string, schema: object, options: object | undefined, message: string][] = [
    ['two given names', { a: counter({ names: { otel: 'same' } }), b: gauge({ names: { otel: 'same' } }) }, undefined, 'schema.b and schema.a both export the OpenTelemetry name same'],
    ['a given name and a derived one', { fooBar: counter(), other: histogram({ names: { otel: 'foo_bar' } }) }, undefined, 'schema.other and schema.fooBar both export the OpenTelemetry name foo_bar'],
    // OpenTelemetry instrument names are case-insensitive.
    ['two names differing in case only', { a: counter({ names: { otel: 'Bytes.Sent' } }), b: counter({ names: { otel: 'bytes.sent' } }) }, undefined, 'schema.b and schema.a both export the OpenTelemetry name bytes.sent'],
    ['with a namespace', { a: counter({ names: { otel: 'x.y' } }), b: counter({ names: { c: 'b', otel: 'x.y' } }) }, { namespace: 'copy' }, 'schema.b and schema.a both export the OpenTelemetry name copy.x.y'],
  ];
  it.each(clashes)('refuses two metrics with one instrument name: %s', (_title, schema, options, message) => {
    expect(refusal(schema, options, TypeError).message).toBe(`defineStats: ${message}`);
  });
});

describe('the fields of a metric', () => {
  const cases: Case[] = [
    ['a missing kind', { x: { unit: 'bytes', help: 'h' } }, undefined, TypeError, "schema.x.kind must be 'counter', 'gauge' or 'histogram'; received undefined"],
    ['an unknown kind', { x: counter({ kind: 'summary' }) }, undefined, TypeError, "schema.x.kind must be 'counter', 'gauge' or 'histogram'; received \"summary\""],
    ['a kind in capitals', { x: counter({ kind: 'Counter' }) }, undefined, TypeError, "schema.x.kind must be 'counter', 'gauge' or 'histogram'; received \"Counter\""],
    ['a missing unit', { x: { kind: 'counter', help: 'h' } }, undefined, TypeError, "schema.x.unit must be a unit such as 'bytes', 'files' or 'pages/s' (a letter or %, then letters, digits, / % _ .), at most 32 characters; received undefined"],
    ['a unit with a space', { x: counter({ unit: 'kilo bytes' }) }, undefined, TypeError, "schema.x.unit must be a unit such as 'bytes', 'files' or 'pages/s' (a letter or %, then letters, digits, / % _ .), at most 32 characters; received \"kilo bytes\""],
    ['a unit of 33 characters', { x: counter({ unit: 'u'.repeat(33) }) }, undefined, TypeError, `schema.x.unit must be a unit such as 'bytes', 'files' or 'pages/s' (a letter or %, then letters, digits, / % _ .), at most 32 characters; received "${'u'.repeat(33)}"`],
    ['a missing help', { x: { kind: 'gauge', unit: 'files' } }, undefined, TypeError, 'schema.x.help must be a line of text (1 to 1000 characters); received undefined'],
    ['a blank help', { x: counter({ help: '   ' }) }, undefined, TypeError, 'schema.x.help must be a line of text (1 to 1000 characters); received "   "'],
    ['a help of 1001 characters', { x: counter({ help: 'h'.repeat(1001) }) }, undefined, TypeError, `schema.x.help must be a line of text (1 to 1000 characters); received "${'h'.repeat(40)}…"`],
    ['a help that is not text', { x: counter({ help: 5 }) }, undefined, TypeError, 'schema.x.help must be a line of text (1 to 1000 characters); received 5'],
    // Unknown fields, per kind: what one kind takes, another does not.
    ['buckets on a counter', { x: counter({ buckets: 8 }) }, undefined, TypeError, 'schema.x.buckets is not a field of a counter; its fields are kind, unit, help, length, label, names'],
    ['subBuckets on a gauge', { x: gauge({ subBuckets: 2 }) }, undefined, TypeError, 'schema.x.subBuckets is not a field of a gauge; its fields are kind, unit, help, length, label, names'],
    ['length on a histogram', { x: histogram({ length: 4 }) }, undefined, TypeError, 'schema.x.length is not a field of a histogram; its fields are kind, unit, help, buckets, subBuckets, scale, maxValue, names'],
    ['label on a histogram', { x: histogram({ label: 'worker' }) }, undefined, TypeError, 'schema.x.label is not a field of a histogram; its fields are kind, unit, help, buckets, subBuckets, scale, maxValue, names'],
    ['a misspelt field', { x: counter({ lenght: 4 }) }, undefined, TypeError, 'schema.x.lenght is not a field of a counter; its fields are kind, unit, help, length, label, names'],
    ['names that are not an object', { x: counter({ names: 'x_total' }) }, undefined, TypeError, "schema.x.names must be an object such as { prometheus: 'bytes_copied' }; received \"x_total\""],
    ['an unknown name field', { x: counter({ names: { C: 'x' } }) }, undefined, TypeError, 'schema.x.names.C is not a name a metric takes; the names are c, prometheus, otel, otelUnit'],
    ['a C name with capitals', { x: counter({ names: { c: 'Bytes' } }) }, undefined, TypeError, 'schema.x.names.c must be a C identifier in snake_case (a lowercase letter or _, then lowercase letters, digits, _), at most 64 characters; received "Bytes"'],
    ['a C name of 65 characters', { x: counter({ names: { c: 'c'.repeat(65) } }) }, undefined, TypeError, `schema.x.names.c must be a C identifier in snake_case (a lowercase letter or _, then lowercase letters, digits, _), at most 64 characters; received "${'c'.repeat(40)}…"`],
    ['an OpenTelemetry name starting with a digit', { x: counter({ names: { otel: '1x' } }) }, undefined, TypeError, 'schema.x.names.otel must be an OpenTelemetry instrument name (a letter, then letters, digits, _ . - /), at most 128 characters; received "1x"'],
    ['an OpenTelemetry unit with a space', { x: counter({ names: { otelUnit: 'k B' } }) }, undefined, TypeError, 'schema.x.names.otelUnit must be printable ASCII without spaces, 1 to 63 characters; received "k B"'],
  ];
  it.each(cases)('refuses %s', (_title, schema, options, type, message) => {
    expect(refusal(schema, options, type).message).toBe(`defineStats: ${message}`);
  });
});

describe('help, one line of text', () => {
  it.each([
    ['a line feed', 'Bytes\nwritten', 5, 'U+000A (line feed)'],
    ['a carriage return', 'Bytes\r', 5, 'U+000D (carriage return)'],
    ['a NUL', '\0Bytes', 0, 'U+0000 (NUL)'],
    ['a tab', 'Bytes\twritten', 5, 'U+0009 (tab)'],
    ['an escape', 'Bytes \x1b[1mwritten', 6, 'U+001B (a control character)'],
    ['a DEL', 'Bytes\x7f', 5, 'U+007F (a control character)'],
    ['a next line (C1)', 'Bytes\u0085written', 5, 'U+0085 (next line)'],
    ['a line separator', 'Bytes\u2028written', 5, 'U+2028 (line separator)'],
    ['a paragraph separator', 'Bytes written\u2029', 13, 'U+2029 (paragraph separator)'],
    ['an unpaired surrogate', 'Bytes \ud800', 6, 'U+D800 (an unpaired surrogate, which UTF-8 cannot encode)'],
  ])('refuses %s, naming the field and the character', (_title, help, at, named) => {
    const error = refusal({ x: counter({ help }) }, undefined, TypeError);
    expect(error.message).toBe(`defineStats: schema.x.help must be one line of text, without control characters or line breaks; received ${JSON.stringify(help)}, which has ${named} at index ${at}`);
  });

  it('accepts any other text, other scripts and emoji (surrogate pairs) included', () => {
    const help = 'Octets écrits — 書き込み ✓ 😀 (100%) "quoted" \\ back';
    expect(define({ x: counter({ help }) }).definition.metrics[0]!.help).toBe(help);
  });
});

describe('vectors', () => {
  it.each([0, -1, 1.5, MAX_LENGTH + 1, 2 ** 53, NaN, Infinity])('refuses the length %s with a RangeError', (length) => {
    const error = refusal({ perWorker: counter({ length }) }, undefined, RangeError);
    expect(error.message).toBe(`defineStats: schema.perWorker.length must be a whole number from 1 to 1024; received ${String(length)}`);
  });

  it.each([['8', '"8"'], [8n, '8n'], [null, 'null']] as const)('refuses the length %s with a TypeError', (length, shown) => {
    const error = refusal({ perWorker: gauge({ length }) }, undefined, TypeError);
    expect(error.message).toBe(`defineStats: schema.perWorker.length must be a whole number from 1 to 1024; received ${shown}`);
  });

  it('accepts lengths 1 and 1024, with the label "index" unless one is given', () => {
    const { metrics } = define({ one: counter({ length: 1 }), most: gauge({ length: MAX_LENGTH, label: 'worker' }), plain: counter({ unit: 'files' }) }).definition;
    expect(metrics.map((m) => [m.length, m.label])).toEqual([[1, 'index'], [MAX_LENGTH, 'worker'], [0, '']]);
  });

  it('refuses a label without a length', () => {
    const error = refusal({ perWorker: counter({ label: 'worker' }) }, undefined, TypeError);
    expect(error.message).toBe("defineStats: schema.perWorker.label names a vector's label, but schema.perWorker has no length");
  });

  it.each([['le'], ['quantile'], ['__x'], ['__'], [''], ['1worker'], ['wor-ker'], [5]] as const)('refuses the label %j', (label) => {
    const error = refusal({ perWorker: counter({ length: 4, label }) }, undefined, TypeError);
    expect(error.message).toBe(
      `defineStats: schema.perWorker.label must be a Prometheus label name (matching ^[a-zA-Z_][a-zA-Z0-9_]*$, not starting with __, not le or quantile); received ${typeof label === 'string' ? JSON.stringify(label) : String(label)}`,
    );
  });

  it('accepts labels with one leading _ and with capitals', () => {
    expect(define({ a: counter({ length: 2, label: '_shard' }), b: gauge({ length: 2, label: 'Worker' }) }).definition.metrics.map((m) => m.label)).toEqual(['_shard', 'Worker']);
  });
});

describe('histograms', () => {
  // The most buckets each sub-bucket count can tell apart: one per value class up to 2^64 − 1.
  const MOST: [sub: number, most: number][] = [[1, 64], [2, 128], [4, 252], [8, 496], [16, 976], [32, 1920], [64, 3776]];

  it.each(MOST)('accepts up to the %i sub-bucket(s) most, %i buckets, and refuses one more', (sub, most) => {
    const subBuckets = sub === 1 ? {} : { subBuckets: sub };
    expect(define({ h: histogram({ buckets: most, ...subBuckets }) }).definition.metrics[0]).toMatchObject({ buckets: most, subBits: Math.log2(sub) });
    const error = refusal({ h: histogram({ buckets: most + 1, ...subBuckets }) }, undefined, RangeError);
    expect(error.message).toBe(`defineStats: schema.h.buckets must be a whole number of buckets (with ${sub} sub-bucket${sub === 1 ? '' : 's'}) from 1 to ${most}; received ${most + 1}`);
  });

  it.each([0, -1, 2.5, NaN])('refuses %s buckets with a RangeError', (buckets) => {
    const error = refusal({ h: histogram({ buckets }) }, undefined, RangeError);
    expect(error.message).toBe(`defineStats: schema.h.buckets must be a whole number of buckets (with 1 sub-bucket) from 1 to 64; received ${String(buckets)}`);
  });

  it.each([['24', '"24"'], [undefined, 'undefined']] as const)('refuses buckets %s with a TypeError', (buckets, shown) => {
    const error = refusal({ h: { kind: 'histogram', unit: 'files', help: 'h', buckets } }, undefined, TypeError);
    expect(error.message).toBe(`defineStats: schema.h.buckets must be a whole number of buckets (with 1 sub-bucket) from 1 to 64; received ${shown}`);
  });

  it.each([3, 6, 0, -2, 128, 1.5, NaN])('refuses %s sub-buckets, which is not a power of two from 1 to 64, with a RangeError', (subBuckets) => {
    const error = refusal({ h: histogram({ subBuckets }) }, undefined, RangeError);
    expect(error.message).toBe(`defineStats: schema.h.subBuckets must be a power of two from 1 to 64; received ${String(subBuckets)}`);
  });

  it.each([['2', '"2"'], [null, 'null'], [2n, '2n']] as const)('refuses sub-buckets %s with a TypeError', (subBuckets, shown) => {
    const error = refusal({ h: histogram({ subBuckets }) }, undefined, TypeError);
    expect(error.message).toBe(`defineStats: schema.h.subBuckets must be a power of two from 1 to 64; received ${shown}`);
  });
});

describe('the number of metrics and cells', () => {
  it('refuses an empty schema and one of more than 256 metrics', () => {
    expect(refusal({}, undefined, RangeError).message).toBe('defineStats: schema must have from 1 to 256 metrics; received 0');
    const many = Object.fromEntries(Array.from({ length: MAX_METRICS + 1 }, (_, i) => [`m${i}`, counter()]));
    expect(refusal(many, undefined, RangeError).message).toBe('defineStats: schema must have from 1 to 256 metrics; received 257');
  });

  it('accepts exactly MAX_CELLS cells and refuses one more', () => {
    expect(MAX_CELLS % MAX_LENGTH).toBe(0);
    expect(define(gauges(MAX_CELLS / MAX_LENGTH, MAX_LENGTH)).definition.metrics).toHaveLength(MAX_CELLS / MAX_LENGTH);
    const error = refusal({ ...gauges(MAX_CELLS / MAX_LENGTH, MAX_LENGTH), one: counter() }, undefined, RangeError);
    expect(error.message).toBe(`defineStats: schema needs ${MAX_CELLS + 1} cells (one per value, a histogram's buckets and sum); at most ${MAX_CELLS} fit in a memory`);
  });

  it("counts a histogram's buckets and its sum", () => {
    // All full vectors but one leave 1024 cells: a histogram of 976 buckets takes 977 of them, so a
    // vector of 47 fits beside it and one of 48 does not.
    const rest = gauges(MAX_CELLS / MAX_LENGTH - 1, MAX_LENGTH);
    const fits = { ...rest, h: histogram({ subBuckets: 16, buckets: 976 }), v: gauge({ length: 47 }) };
    expect(define(fits).definition.metrics).toHaveLength(MAX_CELLS / MAX_LENGTH + 1);
    const error = refusal({ ...rest, h: histogram({ subBuckets: 16, buckets: 976 }), v: gauge({ length: 48 }) }, undefined, RangeError);
    expect(error.message).toContain(`schema needs ${MAX_CELLS + 1} cells`);
  });

  // The limiter keeps the window's start and budget in cells of its own unless gauges are named.
  it.each([
    ['neither start nor max', {}, 2],
    ['max only', { max: 'max' }, 1],
    ['start only', { start: 'start' }, 1],
    ['both start and max', { start: 'start', max: 'max' }, 0],
  ] as const)("counts the limiter's own cells when it names %s", (_title, named, own) => {
    // MAX_CELLS − 3 cells of metrics (the limited counter, two gauges and the vectors), plus `own`.
    const schema = (extra: number) => ({
      bytes: counter(),
      start: gauge(),
      max: gauge(),
      ...gauges(MAX_CELLS / MAX_LENGTH - 1, MAX_LENGTH),
      last: gauge({ length: MAX_LENGTH - 3 - own + extra }),
    });
    const options = { rateLimit: { counters: ['bytes'], ...named } };
    expect(define(schema(0), options).definition.rateLimit).toEqual({ counters: ['bytes'], start: '', max: '', ...named });
    expect(refusal(schema(1), options, RangeError).message).toContain(`schema needs ${MAX_CELLS + 1} cells`);
  });
});

describe('options', () => {
  const cases: Case[] = [
    ['an unknown option', { bytes: counter() }, { rateLimits: ['bytes'] }, TypeError, 'options.rateLimits is not an option; the options are rateLimit, namespace, lanes'],
    ['options that are null', { bytes: counter() }, null, TypeError, "options must be an object such as { rateLimit: ['bytesCopied'] }; received null"],
    ['options that are an array', { bytes: counter() }, ['bytes'], TypeError, "options must be an object such as { rateLimit: ['bytesCopied'] }; received an object (Array)"],
    ['a namespace in capitals', { bytes: counter() }, { namespace: 'Copy' }, TypeError, "options.namespace must be '' or lowercase words of letters, digits and _, separated by dots ('copy', 'qemu.migration'); received \"Copy\""],
    ['a namespace with a dash', { bytes: counter() }, { namespace: 'my-copy' }, TypeError, "options.namespace must be '' or lowercase words of letters, digits and _, separated by dots ('copy', 'qemu.migration'); received \"my-copy\""],
    ['a namespace ending in a dot', { bytes: counter() }, { namespace: 'copy.' }, TypeError, "options.namespace must be '' or lowercase words of letters, digits and _, separated by dots ('copy', 'qemu.migration'); received \"copy.\""],
    ['a namespace that is not text', { bytes: counter() }, { namespace: 5 }, TypeError, "options.namespace must be '' or lowercase words of letters, digits and _, separated by dots ('copy', 'qemu.migration'); received 5"],
    ['0 lanes', { bytes: counter() }, { lanes: 0 }, RangeError, 'options.lanes must be a whole number of lanes from 1 to 64; received 0'],
    ['65 lanes', { bytes: counter() }, { lanes: 65 }, RangeError, 'options.lanes must be a whole number of lanes from 1 to 64; received 65'],
    ['2.5 lanes', { bytes: counter() }, { lanes: 2.5 }, RangeError, 'options.lanes must be a whole number of lanes from 1 to 64; received 2.5'],
    ['lanes as text', { bytes: counter() }, { lanes: '4' }, TypeError, 'options.lanes must be a whole number of lanes from 1 to 64; received "4"'],
  ];
  it.each(cases)('refuses %s', (_title, schema, options, type, message) => {
    expect(refusal(schema, options, type).message).toBe(`defineStats: ${message}`);
  });

  it("accepts the namespace '' as no namespace, as the message says", () => {
    const { definition } = define({ bytes: counter() }, { namespace: '' });
    expect(definition.namespace).toBe('');
    expect(definition).toEqual(define({ bytes: counter() }).definition);
  });

  it('accepts dotted namespaces and 1 to 64 lanes', async () => {
    expect(define({ bytes: counter() }, { namespace: 'copy.v2_x' }).definition.namespace).toBe('copy.v2_x');
    for (const lanes of [1, 64]) {
      const stats = await define({ bytes: counter() }, { lanes }).create();
      expect(stats.lane).toBe(0);
    }
  });
});

describe('the rate limiter', () => {
  const schema = { bytes: counter(), files: counter({ unit: 'files' }), depth: gauge(), start: gauge(), budget: gauge(), perWorker: gauge({ length: 2 }), latency: histogram() };
  const cases: [title: string, rateLimit: unknown, message: string][] = [
    ['a gauge', ['depth'], 'options.rateLimit[0] must be the name of a counter of the schema; received "depth"'],
    ['a histogram', ['bytes', 'latency'], 'options.rateLimit[1] must be the name of a counter of the schema; received "latency"'],
    ['an unknown name', ['byte'], 'options.rateLimit[0] must be the name of a counter of the schema; received "byte"'],
    ['something that is not a name', [5], 'options.rateLimit[0] must be the name of a counter of the schema; received 5'],
    ['a name twice', ['bytes', 'files', 'bytes'], 'options.rateLimit names a counter twice'],
    ['no counter', [], 'options.rateLimit must be an array of 1 to 16 counter names; received an object (Array)'],
    ['a name as text', 'bytes', "options.rateLimit must be an object such as ['bytesCopied'] or { counters, start, max }; received \"bytes\""],
    ['null', null, "options.rateLimit must be an object such as ['bytesCopied'] or { counters, start, max }; received null"],
    ['an unknown field of the object form', { counters: ['bytes'], window: 'start' }, 'options.rateLimit.window is not a field; the fields are counters, start, max'],
    ['the object form without counters', { start: 'start' }, 'options.rateLimit.counters must be an array of 1 to 16 counter names; received undefined'],
    ['the object form naming a gauge as a counter', { counters: ['start'] }, 'options.rateLimit.counters[0] must be the name of a counter of the schema; received "start"'],
    ['the object form naming a counter twice', { counters: ['files', 'files'] }, 'options.rateLimit.counters names a counter twice'],
    ['a start that is a counter', { counters: ['bytes'], start: 'files' }, 'options.rateLimit.start must be the name of a gauge of the schema with one value; received "files"'],
    ['a start that is a vector gauge', { counters: ['bytes'], start: 'perWorker' }, 'options.rateLimit.start must be the name of a gauge of the schema with one value; received "perWorker"'],
    ['a max that is a histogram', { counters: ['bytes'], max: 'latency' }, 'options.rateLimit.max must be the name of a gauge of the schema with one value; received "latency"'],
    ['a max that is unknown', { counters: ['bytes'], max: 'limit' }, 'options.rateLimit.max must be the name of a gauge of the schema with one value; received "limit"'],
    ['start and max naming one gauge', { counters: ['bytes'], start: 'start', max: 'start' }, 'options.rateLimit.start and options.rateLimit.max name the same gauge'],
  ];
  it.each(cases)('refuses a rateLimit naming %s', (_title, rateLimit, message) => {
    expect(refusal(schema, { rateLimit }, TypeError).message).toBe(`defineStats: ${message}`);
  });

  it('refuses more than 16 counters', () => {
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, counter()]));
    const error = refusal(many, { rateLimit: Object.keys(many) }, TypeError);
    expect(error.message).toBe('defineStats: options.rateLimit must be an array of 1 to 16 counter names; received an object (Array)');
  });

  it('accepts scalar and vector counters, and the object form with start and max gauges', () => {
    const withVector = { ...schema, perWorkerBytes: counter({ length: 3, names: { c: 'per_worker_bytes' } }) };
    expect(define(withVector, { rateLimit: ['perWorkerBytes', 'bytes'] }).definition.rateLimit).toEqual({ counters: ['perWorkerBytes', 'bytes'], start: '', max: '' });
    const full = define(schema, { rateLimit: { counters: ['files', 'bytes'], start: 'start', max: 'budget' } }).definition.rateLimit;
    expect(full).toEqual({ counters: ['files', 'bytes'], start: 'start', max: 'budget' });
    expect(Object.isFrozen(full)).toBe(true);
  });

  it.each([
    ['a revoked Proxy', () => revokedProxy([])],
    ['an array whose element getter throws', throwingArray],
    ['counters that are a revoked Proxy', () => ({ counters: revokedProxy([]) })],
    ['counters whose element getter throws', () => ({ counters: throwingArray() })],
  ])('answers %s with its own TypeError', (_title, make) => {
    const error = refusal(schema, { rateLimit: make() }, TypeError);
    expect(error.message).toMatch(/^defineStats: options\.rateLimit(\.counters)? could not be read \(/);
  });
});

describe('schemas and metrics that are not plain objects', () => {
  const notObjects: [title: string, value: unknown, shown: string][] = [
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a number', 5, '5'],
    ['a string', 'bytes', '"bytes"'],
    ['an array', [counter()], 'an object (Array)'],
    ['a function', function bytes() {}, 'a function (bytes)'],
    ['a Date', new Date(0), 'an object (Date)'],
    ['a Map', new Map([['bytes', counter()]]), 'an object (Map)'],
  ];
  it.each(notObjects)('refuses a schema that is %s', (_title, value, shown) => {
    const error = refusal(value, undefined, TypeError);
    expect(error.message).toBe(`defineStats: schema must be an object such as { bytesCopied: { kind: 'counter', unit: 'bytes', help: '…' } }; received ${shown}`);
  });

  it.each(notObjects)('refuses a metric that is %s', (_title, value, shown) => {
    const error = refusal({ bytes: value }, undefined, TypeError);
    expect(error.message).toBe(`defineStats: schema.bytes must be an object such as { kind: 'counter', unit: 'bytes', help: '…' }; received ${shown}`);
  });

  // Code that runs while the schema is read (a Proxy, a getter) may throw anything: what leaves
  // defineStats is its TypeError naming the field, never the thrown value.
  const getterError = new RangeError('getter says no');
  const unreadable: [title: string, schema: () => unknown, path: string][] = [
    ['a revoked Proxy as the schema', () => revokedProxy(), 'schema'],
    ['a revoked Proxy as a metric', () => ({ bytes: revokedProxy() }), 'schema.bytes'],
    ['a revoked Proxy as names', () => ({ bytes: counter({ names: revokedProxy() }) }), 'schema.bytes.names'],
    ['a schema whose getter throws', () => throwingGetter('bytes', getterError), 'schema'],
    ['a metric whose getter throws', () => ({ bytes: throwingGetter('kind', getterError, { unit: 'bytes', help: 'h' }) }), 'schema.bytes'],
    ['a Proxy whose ownKeys trap throws', () => new Proxy({}, { ownKeys: () => { throw getterError; } }), 'schema'],
    ['a getter that throws a string', () => throwingGetter('bytes', 'plain string'), 'schema'],
  ];
  it.each(unreadable)('refuses %s with its own TypeError', (_title, make, path) => {
    const error = refusal(make(), undefined, TypeError);
    expect(error).not.toBe(getterError);
    expect(error.message.startsWith(`defineStats: ${path} could not be read (`)).toBe(true);
  });

  it('refuses options that are a revoked Proxy or whose getter throws', () => {
    for (const options of [revokedProxy(), throwingGetter('lanes', getterError)]) {
      expect(refusal({ bytes: counter() }, options, TypeError).message.startsWith('defineStats: options could not be read (')).toBe(true);
    }
  });

  it('accepts a schema without a prototype', () => {
    const schema = Object.assign(Object.create(null) as object, { bytes: counter() });
    expect(define(schema).definition.metrics.map((m) => m.name)).toEqual(['bytes']);
  });

  it('reads each field once, and changes to the schema afterwards change nothing', async () => {
    let reads = 0;
    const metric = { kind: 'counter', help: 'Bytes', get unit() { reads++; return 'bytes'; } };
    const schema: Record<string, unknown> = { bytes: metric };
    const definition = define(schema);
    expect(reads).toBe(1);
    schema.other = counter();
    (metric as { kind: string }).kind = 'histogram';
    const stats = await definition.create();
    expect(stats.definition.metrics.map((m) => [m.name, m.kind])).toEqual([['bytes', 'counter']]);
    expect(Object.isFrozen(definition.definition.metrics[0])).toBe(true);
  });
});

describe('the canonical definition', () => {
  it('resolves every field and the C name, keeps the export names given, in schema order', () => {
    const { definition } = define(
      {
        bytesCopied: counter(),
        copyLatency: histogram({ unit: 'microseconds', subBuckets: 4, buckets: 40 }),
        queueDepth: gauge({ names: { prometheus: 'queue', otel: 'queue.depth', otelUnit: '{file}' } }),
        HTTPRequests: counter({ unit: 'requests', length: 2, label: 'worker' }),
      },
      { namespace: 'copy', rateLimit: ['bytesCopied'] },
    );
    expect(definition).toEqual({
      format: 2,
      namespace: 'copy',
      metrics: [
        { name: 'bytesCopied', kind: 'counter', unit: 'bytes', help: 'Bytes written', length: 0, label: '', buckets: 0, subBits: 0, cName: 'bytes_copied', names: {} },
        { name: 'copyLatency', kind: 'histogram', unit: 'microseconds', help: 'Files per batch', length: 0, label: '', buckets: 40, subBits: 2, cName: 'copy_latency', names: {} },
        { name: 'queueDepth', kind: 'gauge', unit: 'files', help: 'Files waiting', length: 0, label: '', buckets: 0, subBits: 0, cName: 'queue_depth', names: { prometheus: 'queue', otel: 'queue.depth', otelUnit: '{file}' } },
        { name: 'HTTPRequests', kind: 'counter', unit: 'requests', help: 'Bytes written', length: 2, label: 'worker', buckets: 0, subBits: 0, cName: 'http_requests', names: {} },
      ],
      rateLimit: { counters: ['bytesCopied'], start: '', max: '' },
    });
    expect(Object.isFrozen(definition)).toBe(true);
    expect(Object.isFrozen(definition.metrics)).toBe(true);
    expect(Object.isFrozen(definition.metrics[2]!.names)).toBe(true);
    // The exporters derive the names not given.
    expect(Object.fromEntries(exportNames(definition))).toEqual({
      bytesCopied: { prometheus: 'bytes_copied', otel: 'bytes_copied', otelUnit: 'By' },
      copyLatency: { prometheus: 'copy_latency', otel: 'copy_latency', otelUnit: 'us' },
      queueDepth: { prometheus: 'queue', otel: 'queue.depth', otelUnit: '{file}' },
      HTTPRequests: { prometheus: 'http_requests', otel: 'http_requests', otelUnit: '{requests}' },
    });
  });

  it('keeps the names given in one order, whatever order the schema gave them in', () => {
    const { definition } = define({ queueDepth: gauge({ names: { otelUnit: '{file}', c: 'depth', prometheus: 'queue' } }) });
    expect(JSON.stringify(definition.metrics[0]!.names)).toBe('{"prometheus":"queue","otelUnit":"{file}"}');
  });

  it('adds no unit suffix to a name that already ends in it', () => {
    const names = exportNames(define({ sentBytes: counter(), waitSeconds: gauge({ unit: 'seconds' }) }).definition);
    expect([...names.values()].map((n) => n.prometheus)).toEqual(['sent_bytes', 'wait_seconds']);
  });
});

describe('names the memory carries', () => {
  // The memory holds the canonical form as JSON, and attach reads it back with the same checks:
  // whatever defineStats accepts must come back, or no thread could ever attach.
  it("refuses a name whose C name would pass 64 characters, unless names.c is given", () => {
    const name = 'aB'.repeat(32);
    const error = refusal({ [name]: counter() }, undefined, TypeError);
    expect(error.message).toBe(
      `defineStats: schema.${name} derives the C name "${'a_b'.repeat(13)}a…", which is not a C identifier in snake_case (a lowercase letter or _, then lowercase letters, digits, _), at most 64 characters; give one in schema.${name}.names.c`,
    );
    expect(define({ [name]: counter({ names: { c: 'short' } }) }).definition.metrics[0]!.cName).toBe('short');
  });

  it('refuses a C name that would make an invalid OpenTelemetry name, unless names.otel is given', () => {
    const error = refusal({ bytes: counter({ names: { c: '_bytes' } }) }, undefined, TypeError);
    expect(error.message).toBe(
      'defineStats: schema.bytes derives the OpenTelemetry name "_bytes", which is not an OpenTelemetry instrument name (a letter, then letters, digits, _ . - /), at most 128 characters; give one in schema.bytes.names.otel',
    );
    expect(exportNames(define({ bytes: counter({ names: { c: '_bytes', otel: 'bytes' } }) }).definition).get('bytes')!.otel).toBe('bytes');
  });

  const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_'.split('');
  const generatedName = fc.tuple(fc.constantFrom(...'aAzZbQ'.split('')), fc.array(fc.constantFrom(...NAME_CHARS), { maxLength: 63 })).map(([first, rest]) => first + rest.join(''));
  // Long names whose snake_case is longer than they are, beside the generated ones.
  const metricName = fc.oneof(generatedName, fc.constantFrom('aB'.repeat(32), 'A'.repeat(64), 'x1Y'.repeat(21)));
  const cName = fc.tuple(fc.constantFrom('_', 'a', 'z'), fc.array(fc.constantFrom(...'abz09_'.split('')), { maxLength: 63 })).map(([first, rest]) => first + rest.join(''));
  const metric = fc.oneof(
    fc.record({ kind: fc.constantFrom('counter', 'gauge'), unit: fc.constantFrom('bytes', 'seconds', 'files', '%', 'pages/s'), help: fc.constant('Some help'), length: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }) }, { requiredKeys: ['kind', 'unit', 'help'] }),
    fc.record({ kind: fc.constant('histogram'), unit: fc.constantFrom('microseconds', 'files'), help: fc.constant('Some help'), buckets: fc.integer({ min: 1, max: 20 }) }),
  );
  const withNames = fc.tuple(metric, fc.option(fc.record({ c: cName }), { nil: undefined })).map(([m, names]) => (names ? { ...m, names } : m));

  it('reads back every definition it accepts, through attach and attachStats', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(metricName, withNames, { minKeys: 1, maxKeys: 4 }), fc.constantFrom('', 'copy', 'a.b_c'), async (schema, namespace) => {
        let made;
        try {
          made = define(schema, namespace === '' ? undefined : { namespace });
        } catch (error) {
          // A refusal is fine (clashing names, reserved names…): it is one at defineStats.
          expect(error).toBeInstanceOf(TypeError);
          return;
        }
        const stats = await made.create({ backend: 'js' });
        expect((await made.attach(stats.handle, { lane: false })).definition).toEqual(made.definition);
        expect((await attachStats(stats.handle, { lane: false })).definition).toEqual(made.definition);
      }),
      { seed: 0x5eed, numRuns: 150 },
    );
  });
});

describe('definitions at every limit', () => {
  it('create() and a first update of every metric succeed for what defineStats accepts', async () => {
    // MAX_CELLS cells, all laned, in 64 lanes: the largest memory a definition can ask for.
    const big = define(
      {
        ...gauges(MAX_CELLS / MAX_LENGTH - 4, MAX_LENGTH, (extra) => counter({ unit: 'files', ...extra })),
        h: histogram({ subBuckets: 64, buckets: 3776 }),
        // What is left of MAX_CELLS after the histogram (buckets and sum), c and the limiter's two cells.
        v: counter({ length: MAX_CELLS - (MAX_CELLS / MAX_LENGTH - 4) * MAX_LENGTH - 3777 - 1 - 2 }),
        c: counter(),
      },
      { lanes: 64, namespace: 'limits', rateLimit: ['v', 'c'] },
    );
    for (const backend of ['wasm', 'js'] as const) {
      const stats = await big.create({ backend });
      for (const spec of stats.definition.metrics) {
        const m = stats.metric(spec.name);
        if ('record' in m) m.record(2n ** 64n - 1n);
        else if ('at' in m) m.at(m.length - 1).add(1);
        else m.add(1);
      }
      expect((stats as unknown as RateLimitedStats).transferredBytes()).toBe(2n);
      expect((stats.metric('h') as Histogram).buckets()[3775]).toBe(1n);
    }
  });
});
