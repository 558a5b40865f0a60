// Histogram buckets at every power of two, and percentiles over random data. At 2^k − 1, 2^k and
// 2^k + 1 for k = 0 … 63 and for 1, 2, 4, 8 and 64 sub-buckets with 1, 24 and the most buckets,
// five answers must agree with an independent model (test/bucket-model.ts): the bucket the Wasm
// core records a value in, the one the JS backend records it in, bucketOf on each backend, and
// bucketRange of that bucket, which must hold the value.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineStats, type BackendName, type Histogram, type HistogramDefinition } from '../dist/index.js';
import { bucketRange } from '../dist/histogram.js';
import { maxBuckets } from '../dist/definition.js';
import { modelBucket, modelCounts, modelRange, modelRanges } from './bucket-model.js';
import { BACKENDS, U64_MAX } from './helpers.js';

const SUB_BUCKETS = [1, 2, 4, 8, 64];
const CONFIGS = SUB_BUCKETS.flatMap((sub) => [1, 24, maxBuckets(Math.log2(sub))].map((buckets) => ({ sub, subBits: Math.log2(sub), buckets })));
const nameOf = ({ sub, buckets }: { sub: number; buckets: number }) => `s${sub}b${buckets}`;

/** 2^k − 1, 2^k and 2^k + 1 for every k from 0 to 63, and 2^64 − 1: each once, in order. */
const EDGES: bigint[] = [...new Set(Array.from({ length: 64 }, (_, k) => [(1n << BigInt(k)) - 1n, 1n << BigInt(k), (1n << BigInt(k)) + 1n]).flat().concat(U64_MAX))];

/** A value as record() takes it: a number where it is a safe integer and `asNumber`, else a bigint. */
const arg = (value: bigint, asNumber: boolean): number | bigint => (asNumber && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);

const schema: Record<string, HistogramDefinition> = Object.fromEntries(
  CONFIGS.map((c) => [nameOf(c), { kind: 'histogram', unit: 'nanoseconds', help: `Buckets of ${c.sub} sub-buckets`, buckets: c.buckets, subBuckets: c.sub }]),
);
const Edges = defineStats(schema);

describe('the model', () => {
  it('has as many buckets as defineStats allows, each range starting where the one before ends', () => {
    for (const sub of SUB_BUCKETS) {
      const ranges = modelRanges(Math.log2(sub));
      expect(ranges).toHaveLength(maxBuckets(Math.log2(sub)));
      expect(ranges[0]![0]).toBe(0n);
      expect(ranges.at(-1)![1]).toBe(1n << 64n);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBe(ranges[i - 1]![1]);
    }
  });
});

describe.each(CONFIGS)('a histogram of $sub sub-bucket(s) and $buckets bucket(s)', (config) => {
  const { subBits, buckets } = config;
  const name = nameOf(config);
  const histograms = {} as Record<BackendName, Histogram>;
  beforeAll(async () => {
    for (const backend of BACKENDS) histograms[backend] = (await Edges.create({ backend })).metric(name) as Histogram;
  });

  it('records each edge value in the bucket the model says, on both backends, and bucketOf agrees', () => {
    for (const backend of BACKENDS) {
      const h = histograms[backend];
      let before = h.buckets();
      EDGES.forEach((value, i) => {
        const expected = modelBucket(value, buckets, subBits);
        expect(h.bucketOf(value), `${backend} bucketOf(${value})`).toBe(expected);
        expect(h.bucketOf(arg(value, true)), `${backend} bucketOf(${value}) as a number`).toBe(expected);
        h.record(arg(value, i % 2 === 0));
        const after = h.buckets();
        const changed = after.flatMap((count, b) => (count === before[b] ? [] : [[b, count - before[b]!]]));
        expect(changed, `${backend} record(${value})`).toEqual([[expected, 1n]]);
        before = after;
      });
      expect(h.count()).toBe(BigInt(EDGES.length));
      expect(h.sum()).toBe(BigInt.asUintN(64, EDGES.reduce((a, b) => a + b, 0n)));
      expect(h.buckets()).toEqual(modelCounts(EDGES, buckets, subBits));
    }
  });

  it('gives each edge value a bucket whose range holds it', () => {
    for (const backend of BACKENDS) {
      const h = histograms[backend];
      for (const value of EDGES) {
        const { lower, upper } = h.bucketRange(h.bucketOf(value));
        expect(lower <= value && (upper === null || value < upper), `${value} in [${lower}, ${upper})`).toBe(true);
      }
    }
  });

  it('gives every bucket the range of the model, whose ends bucketOf puts back in it', () => {
    for (const backend of BACKENDS) {
      const h = histograms[backend];
      for (let index = 0; index < buckets; index++) {
        const range = modelRange(index, buckets, subBits);
        expect(h.bucketRange(index)).toEqual(range);
        expect(bucketRange(index, buckets, subBits)).toEqual(range);
        expect(h.bucketOf(range.lower)).toBe(index);
        if (range.upper !== null) expect(h.bucketOf(range.upper - 1n)).toBe(index);
        else expect(h.bucketOf(U64_MAX)).toBe(index);
      }
    }
  });
});

describe('percentile', () => {
  const value = fc.oneof(
    fc.nat(300).map(BigInt),
    fc.integer({ min: 0, max: 63 }).chain((k) => fc.constantFrom((1n << BigInt(k)) - 1n, 1n << BigInt(k), (1n << BigInt(k)) + 1n)),
    fc.bigInt({ min: 0n, max: U64_MAX }),
  );
  const config = fc.constantFrom(...SUB_BUCKETS).chain((sub) => fc.record({ sub: fc.constant(sub), buckets: fc.integer({ min: 1, max: maxBuckets(Math.log2(sub)) }) }));
  // p in thousandths of a percent, and the ends.
  const percent = fc.oneof(fc.constantFrom(0, 100, 50, 99, 99.9), fc.integer({ min: 0, max: 100_000 }).map((k) => k / 1000));

  /** The model's answer: the bucket of the value at rank ⌈n·p/100⌉ (at least 1), by its largest value, or its lower bound for the last. */
  function modelPercentile(values: readonly bigint[], p: number, buckets: number, subBits: number): bigint {
    if (values.length === 0) return 0n;
    const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const thousandths = BigInt(Math.round(p * 1000));
    const n = BigInt(sorted.length);
    let rank = (n * thousandths + 99_999n) / 100_000n;
    if (rank < 1n) rank = 1n;
    const bucket = modelBucket(sorted[Number(rank) - 1]!, buckets, subBits);
    const { lower, upper } = modelRange(bucket, buckets, subBits);
    return upper === null ? lower : upper - 1n;
  }

  it.each(BACKENDS)('answers as the model over random values on the %s backend', async (backend) => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(value, { maxLength: 120 }), fc.array(percent, { minLength: 1, maxLength: 8 }), async ({ sub, buckets }, values, ps) => {
        const stats = await defineStats({ h: { kind: 'histogram', unit: 'bytes', help: 'Sizes', buckets, subBuckets: sub } }).create({ backend });
        values.forEach((v, i) => stats.h.record(arg(v, i % 3 === 0)));
        const subBits = Math.log2(sub);
        expect(stats.h.buckets()).toEqual(modelCounts(values, buckets, subBits));
        expect(stats.h.count()).toBe(BigInt(values.length));
        expect(stats.h.sum()).toBe(BigInt.asUintN(64, values.reduce((a, b) => a + b, 0n)));
        for (const p of ps) expect(stats.h.percentile(p), `p = ${p}`).toBe(modelPercentile(values, p, buckets, subBits));
      }),
      { seed: 20260101, numRuns: 120 },
    );
  });

  it('reads a percentile from every lane', async () => {
    const Sizes = defineStats({ h: { kind: 'histogram', unit: 'bytes', help: 'Sizes', buckets: 14, subBuckets: 2 } });
    const a = await Sizes.create();
    const b = await Sizes.attach(a.handle, { backend: 'js' });
    const c = await Sizes.attach(a.handle, { lane: false });
    expect(new Set([a.lane, b.lane, c.lane]).size).toBe(3);
    for (let i = 0; i < 10; i++) a.h.record(1);
    for (let i = 0; i < 10; i++) b.h.record(10);
    for (let i = 0; i < 10; i++) c.h.record(100);
    // Buckets of 2 sub-buckets: 1 alone; 10 in [8, 12); 100 in the last one, [96, …): its lower bound.
    expect([a.h.percentile(33), b.h.percentile(34), c.h.percentile(66), a.h.percentile(67)]).toEqual([1n, 11n, 11n, 96n]);
  });
});
