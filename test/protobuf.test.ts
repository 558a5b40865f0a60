// Prometheus' protobuf exposition format: the encoder's output read back by a decoder written in
// the tests from the protobuf rules (test/protobuf-decode.ts), on both backends; the wire format's
// edges (varints to 2^64 − 1, zigzag to ±2^63); the native-histogram mapping against an exact
// model of it. A real Prometheus reads it in test/prometheus-native.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMetricsHandler, defineStats, PROTOBUF_CONTENT_TYPE, type BackendName } from '../dist/index.js';
import { nativeHistogram, type ExponentialReading } from '../dist/exporters/native.js';
import { familyHead, labelPairs, protobufPlan, writeNativeFamily } from '../dist/exporters/protobuf.js';
import { encode, ProtoWriter } from '../dist/exporters/proto-wire.js';
import { NATIVE_VALUES, otelIndex, readingOf } from './fixtures/native-values.mjs';
import { BACKENDS, callHandler } from './helpers.js';
import { decodeFamilies, nativeCounts, readFields, readVarint, unzigzag, type DecodedFamily, type DecodedHistogram } from './protobuf-decode.js';

const ACCEPT = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const Kinds = defineStats(
  {
    requests: { kind: 'counter', unit: 'requests', help: 'Requests, "quoted", with a \\ and é.' },
    temperature: { kind: 'gauge', unit: 'celsius', help: 'A gauge.' },
    perWorker: { kind: 'counter', unit: 'bytes', help: 'Bytes per worker.', length: 3, label: 'worker' },
    latency: { kind: 'histogram', unit: 'microseconds', help: 'Latency.', buckets: 8 },
  },
  { namespace: 'app' },
);

/** The handler's protobuf answer, decoded. */
function scrape(handler: ReturnType<typeof createMetricsHandler>, method = 'GET'): { families: DecodedFamily[]; headers: Record<string, string>; body: unknown } {
  const answer = callHandler(handler, { method, headers: { accept: ACCEPT } });
  expect(answer.status).toBe(200);
  expect(answer.headers['content-type']).toBe(PROTOBUF_CONTENT_TYPE);
  expect(answer.headers.vary).toBe('Accept');
  const body = answer.body as unknown;
  return { families: body instanceof Uint8Array ? decodeFamilies(body) : [], headers: answer.headers, body };
}

describe.each(BACKENDS)('the protobuf format (%s backend)', (backend: BackendName) => {
  it('carries every kind: names, help, types, labels and exact values', async () => {
    const stats = await Kinds.create({ backend });
    stats.requests.add(12345);
    stats.temperature.set(77);
    stats.perWorker.at(2).add(4096);
    for (const value of [0, 1, 3, 100, 100, 5000, 2 ** 40]) stats.latency.record(value);
    const { families, headers, body } = scrape(createMetricsHandler(stats, { labels: { vm: 'g1' } }));
    expect(Number(headers['content-length'])).toBe((body as Uint8Array).length);
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ['app_requests_total', 0n],
      ['app_temperature', 1n],
      ['app_per_worker_bytes_total', 0n],
      ['app_latency', 4n],
    ]);
    const [requests, temperature, perWorker, latency] = families as [DecodedFamily, DecodedFamily, DecodedFamily, DecodedFamily];
    // Help as it is: the text formats' escapes are theirs.
    expect(requests.help).toBe('Requests, "quoted", with a \\ and é.');
    expect(requests.metrics).toEqual([{ labels: { vm: 'g1' }, counter: 12345 }]);
    expect(temperature.metrics).toEqual([{ labels: { vm: 'g1' }, gauge: 77 }]);
    expect(perWorker.metrics).toEqual([0, 0, 4096].map((value, i) => ({ labels: { vm: 'g1', worker: String(i) }, counter: value })));
    const [metric] = latency.metrics;
    expect(metric?.labels).toEqual({ vm: 'g1' });
    const h = metric!.histogram!;
    expect(h.sampleCount).toBe(7n);
    expect(h.sampleSum).toBe(5204 + 2 ** 40);
    // Classic buckets: the highest integer each counts, cumulative; the last is the scraper's +Inf.
    expect(h.buckets).toEqual([
      { upperBound: 1, cumulativeCount: 2n },
      { upperBound: 3, cumulativeCount: 3n },
      { upperBound: 7, cumulativeCount: 3n },
      { upperBound: 15, cumulativeCount: 3n },
      { upperBound: 31, cumulativeCount: 3n },
      { upperBound: 63, cumulativeCount: 3n },
      { upperBound: 127, cumulativeCount: 5n },
    ]);
    expect(h.schema).toBeUndefined();
    expect(h.positiveSpans).toEqual([]);
  });

  it('sends values above 2^53 as the nearest double, ties to even, as Prometheus stores them from the text', async () => {
    const stats = await Kinds.create({ backend });
    const gauge = (value: bigint): number | undefined => {
      stats.temperature.set(value);
      return scrape(createMetricsHandler(stats)).families[1]!.metrics[0]!.gauge;
    };
    expect(gauge(2n ** 53n - 1n)).toBe(2 ** 53 - 1);
    expect(gauge(2n ** 53n + 1n)).toBe(2 ** 53); // a tie: to the even mantissa
    expect(gauge(2n ** 53n + 3n)).toBe(2 ** 53 + 4);
    expect(gauge(2n ** 64n - 1n)).toBe(2 ** 64);
    expect(parseFloat('9007199254740993')).toBe(2 ** 53); // what a text scrape of 2^53 + 1 becomes
  });

  it('answers HEAD with the length and no body, and lays a definition out once', async () => {
    const stats = await Kinds.create({ backend });
    const head = callHandler(createMetricsHandler(stats), { method: 'HEAD', headers: { accept: ACCEPT } });
    const get = scrape(createMetricsHandler(stats));
    expect(head.body).toBeUndefined();
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(protobufPlan(Kinds.definition, 'app_', {})).toBe(protobufPlan(Kinds.definition, 'app_', {}));
    expect(protobufPlan(Kinds.definition, 'app_', {})).not.toBe(protobufPlan(Kinds.definition, 'app_', { vm: 'x' }));
  });
});

const Exponential = defineStats(
  {
    fine: { kind: 'histogram', unit: 'microseconds', help: 'Scale 8.', scale: 8 },
    coarse: { kind: 'histogram', unit: 'bytes', help: 'Scale 0.', scale: 0 },
    idle: { kind: 'histogram', unit: 'seconds', help: 'Nothing recorded.', scale: 4 },
  },
  { namespace: 'exp' },
);

/** Each counted bucket's Prometheus index at `schema`, worked out exactly from the values. */
function exactBuckets(values: readonly number[], schema: number): Map<number, bigint> {
  const counts = new Map<number, bigint>();
  for (const v of values) if (v > 0) counts.set(otelIndex(v, schema) + 1, (counts.get(otelIndex(v, schema) + 1) ?? 0n) + 1n);
  return counts;
}

describe.each(BACKENDS)('exponential histograms in the protobuf format (%s backend)', (backend: BackendName) => {
  it('are native histograms: schema = scale, zero bucket for 0, Prometheus index = OpenTelemetry index + 1', async () => {
    const stats = await Exponential.create({ backend });
    for (const v of NATIVE_VALUES) stats.fine.record(v);
    const coarseValues = [0, 1, 2, 3, 4, 5, 1000, 2 ** 40, 2 ** 53 - 1];
    for (const v of coarseValues) stats.coarse.record(v);
    const families = scrape(createMetricsHandler(stats)).families;
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ['exp_fine', 4n],
      ['exp_coarse_bytes', 4n],
      ['exp_idle_seconds', 4n],
    ]);
    const [fine, coarse, idle] = families.map((f) => f.metrics[0]!.histogram!) as [DecodedHistogram, DecodedHistogram, DecodedHistogram];
    expect(fine).toMatchObject({ sampleCount: 263n, sampleSum: 1304660, schema: 8n, zeroThreshold: 0, zeroCount: 3n, buckets: [], negativeSpans: 0 });
    expect(nativeCounts(fine)).toEqual(exactBuckets(NATIVE_VALUES, 8));
    expect(coarse).toMatchObject({ sampleCount: 9n, schema: 0n, zeroCount: 1n });
    expect(nativeCounts(coarse)).toEqual(exactBuckets(coarseValues, 0));
    expect(nativeCounts(coarse).get(53)).toBe(1n); // 2^53 − 1 in (2^52, 2^53]
    // Nothing recorded: one empty span says "native" to a scraper that would read it as classic.
    expect(idle).toMatchObject({ sampleCount: 0n, sampleSum: 0, schema: 4n, zeroCount: 0n, positiveSpans: [{ offset: 0n, length: 0n }], positiveDeltas: [] });
  });
});

describe('the wire format', () => {
  it('writes varints from 0 to 2^64 − 1 and zigzag values from −2^63 to 2^63 − 1', () => {
    const unsigned = [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 35 + 5, Number.MAX_SAFE_INTEGER];
    const big = [0n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
    const signed = [0, -1, 1, -64, 64, -(2 ** 31), 2 ** 31 - 1, -(2 ** 40)];
    const bigSigned = [-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n];
    const bytes = encode((w) => {
      for (const v of unsigned) w.uint(1, v);
      for (const v of big) w.uint(2, v);
      for (const v of signed) w.sint(3, v);
      for (const v of bigSigned) w.sint(4, v);
      w.double(5, -0.5);
      w.string(6, 'é€😀');
    });
    const fields = readFields(bytes);
    expect(fields.get(1)).toEqual(unsigned.map(BigInt));
    expect(fields.get(2)).toEqual(big);
    expect((fields.get(3) as bigint[]).map(unzigzag)).toEqual(signed.map(BigInt));
    expect((fields.get(4) as bigint[]).map(unzigzag)).toEqual(bigSigned);
    expect(fields.get(5)).toEqual([-0.5]);
    expect(new TextDecoder().decode(fields.get(6)![0] as Uint8Array)).toBe('é€😀');
    // 2^64 − 1 takes the ten bytes of the longest varint.
    expect([...encode((w) => w.varint(2n ** 64n - 1n))]).toEqual([...Array(9).fill(0xff), 0x01]);
    expect(readVarint(encode((w) => w.varint(2 ** 53 - 1)), 0)).toEqual([2n ** 53n - 1n, 8]);
  });

  it('nests messages of any size, moving each up by the length of its prefix', () => {
    const w = new ProtoWriter();
    const outer = w.open();
    const inner = w.open();
    w.string(1, 'x'.repeat(20_000)); // a two-byte length inside a three-byte one, over the first 4 KiB
    w.close(inner, 2);
    w.uint(3, 7);
    w.close(outer, -1);
    const bytes = w.bytes();
    const [size, at] = readVarint(bytes, 0);
    expect(Number(size)).toBe(bytes.length - at);
    const message = readFields(bytes.subarray(at));
    expect(message.get(3)).toEqual([7n]);
    const nested = readFields(message.get(2)![0] as Uint8Array);
    expect((nested.get(1)![0] as Uint8Array).length).toBe(20_000);
  });
});

/** The exact model: each counted bucket's Prometheus index, merged to schema 8 at most. */
function model(reading: ExponentialReading): Map<number, bigint> {
  const shift = Math.max(0, reading.scale - 8);
  const counts = new Map<number, bigint>();
  reading.counts.forEach((count, i) => {
    if (count === 0n) return;
    const index = Math.floor((reading.offset + i) / 2 ** shift) + 1;
    counts.set(index, (counts.get(index) ?? 0n) + count);
  });
  return counts;
}

describe('exponential histograms as native histograms', () => {
  it('puts OpenTelemetry bucket i at Prometheus index i + 1, the zero count apart, threshold 0', () => {
    const reading = readingOf([0, 0, 1, 2, 3, 4, 1000], 0);
    expect(reading).toMatchObject({ offset: -1, zeroCount: 2n });
    const native = nativeHistogram(reading);
    expect(native).toMatchObject({ schema: 0, zeroCount: 2n, count: 7n, sum: 1010n });
    // 1 in (1/2, 1] = index 0, 2 in (1, 2] = 1, 3 and 4 in (2, 4] = 2, 1000 in (512, 1024] = 10.
    expect(native.spans).toEqual([
      { offset: 0, length: 3 },
      { offset: 7, length: 1 },
    ]);
    expect(native.deltas).toEqual([1n, 0n, 1n, -1n]);
  });

  it('keeps runs of up to two empty buckets in a span and starts a new one after three', () => {
    const reading = { scale: 2, zeroCount: 0n, offset: 4, counts: [5n, 0n, 7n, 0n, 0n, 1n, 0n, 0n, 0n, 2n], sum: 0n, count: 15n };
    const native = nativeHistogram(reading);
    expect(native.spans).toEqual([
      { offset: 5, length: 6 },
      { offset: 3, length: 1 },
    ]);
    expect(native.deltas).toEqual([5n, -5n, 7n, -7n, 0n, 1n, 1n]);
  });

  it('lowers a scale above 8 by merging buckets pairwise, and refuses one below −4', () => {
    const reading = readingOf(NATIVE_VALUES, 10);
    const native = nativeHistogram(reading);
    expect(native.schema).toBe(8);
    // The same values bucketed exactly at scale 8: what merging the scale-10 buckets must give.
    const coarse = readingOf(NATIVE_VALUES, 8);
    const expected = new Map(coarse.counts.flatMap((count, i) => (count > 0n ? [[coarse.offset + i + 1, count] as const] : [])));
    const spans = native.spans.map((s) => ({ offset: BigInt(s.offset), length: BigInt(s.length) }));
    expect(nativeCounts({ positiveSpans: spans, positiveDeltas: [...native.deltas] } as never)).toEqual(expected);
    expect(nativeHistogram({ ...reading, scale: -4 }).schema).toBe(-4);
    expect(() => nativeHistogram({ ...reading, scale: -5 })).toThrow(RangeError);
    expect(() => nativeHistogram({ ...reading, scale: -5 })).toThrow(/scale .* from -4 up .* it is -5/);
  });

  it('gives an empty histogram one empty span, which marks it as native', () => {
    expect(nativeHistogram({ scale: 3, zeroCount: 0n, offset: 0, counts: [0n, 0n], sum: 0n, count: 0n })).toMatchObject({ spans: [{ offset: 0, length: 0 }], deltas: [] });
  });

  it('matches the exact model for any reading (spans, deltas mod 2^64, schema)', () => {
    const counts = fc.array(fc.oneof(fc.constant(0n), fc.constant(0n), fc.bigInt({ min: 1n, max: 1000n }), fc.bigInt({ min: 1n, max: 2n ** 64n - 1n })), { maxLength: 60 });
    fc.assert(
      fc.property(fc.integer({ min: -4, max: 12 }), fc.integer({ min: -3000, max: 3000 }), counts, (scale, offset, buckets) => {
        const reading = { scale, zeroCount: 0n, offset, counts: buckets, sum: 0n, count: 0n };
        const native = nativeHistogram(reading);
        expect(native.schema).toBe(Math.min(scale, 8));
        const spans = native.spans.map((s) => ({ offset: BigInt(s.offset), length: BigInt(s.length) }));
        const decoded = nativeCounts({ positiveSpans: spans, positiveDeltas: [...native.deltas] } as never);
        const expected = new Map([...model(reading)].map(([i, c]) => [i, BigInt.asUintN(64, c)]).filter(([, c]) => c !== 0n) as [number, bigint][]);
        expect(decoded).toEqual(expected);
        for (const delta of native.deltas) expect(delta >= -(2n ** 63n) && delta < 2n ** 63n).toBe(true);
        for (const span of native.spans.slice(1)) expect(span.offset).toBeGreaterThan(2);
      }),
      { numRuns: 400 },
    );
  });

  it('is encoded as Histogram fields 5 to 13 (schema, threshold, zero count, spans, packed deltas)', () => {
    const w = new ProtoWriter();
    const reading = readingOf(NATIVE_VALUES, 3);
    writeNativeFamily(w, familyHead('n_seconds', 'help', 'histogram'), labelPairs([['a', 'b']]), reading);
    const [family] = decodeFamilies(w.bytes());
    expect(family).toMatchObject({ name: 'n_seconds', help: 'help', type: 4n });
    const h = family!.metrics[0]!.histogram!;
    expect(family!.metrics[0]!.labels).toEqual({ a: 'b' });
    expect(h).toMatchObject({ sampleCount: 263n, sampleSum: 1304660, schema: 3n, zeroThreshold: 0, zeroCount: 3n, buckets: [], negativeSpans: 0 });
    const expected = new Map<number, bigint>();
    for (const v of NATIVE_VALUES) if (v > 0) expected.set(otelIndex(v, 3) + 1, (expected.get(otelIndex(v, 3) + 1) ?? 0n) + 1n);
    expect(nativeCounts(h)).toEqual(expected);
  });
});
