// Exponential histograms (`scale`) through the public API, on both backends: at every scale from 0
// to 8, values at and around thousands of bucket boundaries are recorded, and record, buckets,
// bucketOf and bucketRange must agree with an exact model (test/exp-model.ts: v^(2^s) compared
// with 2^i as BigInts). Then maxValue, percentiles, batch writers, bad input, and the reading the
// exporters take (kinds.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { defineStats, type BackendName, type Histogram } from '../dist/index.js';
import { maxIndex, modelCell, modelCellRange, modelCounts, modelIndex, modelLowest, U64_MAX } from './exp-model.js';
import { BACKENDS } from './helpers.js';

/** The reading exporters take of a histogram (kinds.ts; internal, so typed here). */
interface Reading {
  buckets: bigint[];
  sum: bigint;
  count: bigint;
  exponential: { scale: number; zeroCount: bigint; offset: number; counts: bigint[]; maxIndex: number; sum: bigint; count: bigint } | undefined;
}
const { KINDS } = (await import('../dist/kinds.js')) as unknown as { KINDS: { histogram: { read(histogram: Histogram): Reading } } };

const SCALES = [0, 1, 2, 3, 4, 5, 6, 7, 8];

/** Indexes whose boundaries are tried at scale s: all of them up to 2^s · 12, then about 600 spread over the rest, and the last. */
function indexesOf(s: number): number[] {
  const top = maxIndex(s);
  const dense = Math.min(top, 12 * 2 ** s);
  const out = Array.from({ length: dense + 2 }, (_, i) => i - 1);
  const step = Math.max(1, Math.floor((top - dense) / 600));
  // An odd step, so that the spread indexes fall on every residue modulo 2^s.
  for (let i = dense + 1; i <= top; i += step | 1) out.push(i);
  out.push(top);
  return [...new Set(out)];
}

/** 0, and the lowest integer of each tried bucket, with the integers either side of it (1 … 2^64 − 1). */
function valuesOf(s: number): bigint[] {
  const values = new Set<bigint>([0n, 1n, 2n, 3n, U64_MAX, U64_MAX - 1n]);
  for (const i of indexesOf(s)) {
    const low = modelLowest(i, s);
    for (const v of [low - 1n, low, low + 1n]) if (v >= 1n && v <= U64_MAX) values.add(v);
  }
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

const schema = Object.fromEntries(SCALES.map((s) => [`s${s}`, { kind: 'histogram', unit: 'nanoseconds', help: `Scale ${s}`, scale: s } as const]));
const Scales = defineStats(schema, { lanes: 4 });

describe.each(SCALES)('an exponential histogram of scale %i', (s) => {
  const values = valuesOf(s);
  const cells = maxIndex(s) + 3;
  const histograms = {} as Record<BackendName, Histogram>;
  beforeAll(async () => {
    for (const backend of BACKENDS) histograms[backend] = (await Scales.create({ backend })).metric(`s${s}`) as Histogram;
  });

  it('has the zero bucket and one per index from -1 to 64 · 2^s − 1', () => {
    for (const backend of BACKENDS) {
      expect(histograms[backend].scale).toBe(s);
      expect(histograms[backend].bucketCount).toBe(cells);
    }
  });

  it('puts every value in the bucket of its exact index (bucketOf), for numbers and bigints, on both backends', () => {
    // Every boundary at scales 0 to 2 (three values each), over a thousand at the finer ones.
    expect(values.length).toBeGreaterThan(Math.min(1000, 2 * maxIndex(s)));
    for (const backend of BACKENDS) {
      const h = histograms[backend];
      for (const v of values) {
        const expected = modelCell(v, s, cells);
        expect(h.bucketOf(v), `${backend} bucketOf(${v}n)`).toBe(expected);
        if (v <= BigInt(Number.MAX_SAFE_INTEGER)) expect(h.bucketOf(Number(v)), `${backend} bucketOf(${v})`).toBe(expected);
      }
    }
  });

  it('records every value in that bucket: exact counts per bucket, count and sum, on both backends', () => {
    const expected = modelCounts(values, s, cells);
    const sum = BigInt.asUintN(64, values.reduce((a, b) => a + b, 0n));
    for (const backend of BACKENDS) {
      const h = histograms[backend];
      values.forEach((v, i) => h.record(i % 2 === 0 && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v));
      expect(h.buckets(), backend).toEqual(expected);
      expect(h.count()).toBe(BigInt(values.length));
      expect(h.sum()).toBe(sum);
    }
  });

  it('puts 400 pseudo-random values of every magnitude in the bucket of their exact index', () => {
    // A fixed xorshift sequence, each value shifted right by a varying amount: 1 to 2^64 − 1.
    let x = 0x9e3779b97f4a7c15n;
    const random = Array.from({ length: 400 }, (_, i) => {
      x ^= (x << 13n) & U64_MAX;
      x ^= x >> 7n;
      x ^= (x << 17n) & U64_MAX;
      return (x >> BigInt(i % 64)) || 1n;
    });
    for (const backend of BACKENDS) {
      for (const v of random) expect(histograms[backend].bucketOf(v), `${backend} bucketOf(${v}n)`).toBe(modelCell(v, s, cells));
    }
  });

  it("gives each tried bucket the model's range, whose ends bucketOf puts back in it", () => {
    const tried = [0, ...new Set(indexesOf(s).map((i) => i + 2))];
    for (const backend of BACKENDS) {
      const h = histograms[backend];
      for (const cell of tried) {
        const range = h.bucketRange(cell);
        expect(range, `${backend} bucketRange(${cell})`).toEqual(modelCellRange(cell, s, cells));
        if (range.upper === null || range.lower < range.upper) {
          expect(h.bucketOf(range.lower)).toBe(cell);
          expect(h.bucketOf(range.upper === null ? U64_MAX : range.upper - 1n)).toBe(cell);
        }
      }
    }
  });

  it('reads the same histogram as the exponential form the exporters take', () => {
    for (const backend of BACKENDS) {
      const h = histograms[backend];
      const reading = KINDS.histogram.read(h);
      const buckets = h.buckets();
      expect(reading.buckets).toEqual(buckets);
      const exp = reading.exponential!;
      expect(exp.scale).toBe(s);
      expect(exp.maxIndex).toBe(maxIndex(s));
      expect(exp.zeroCount).toBe(buckets[0]);
      // Values from 1 up were recorded, and 2^64 − 1: the counts run from index −1 to the last.
      expect(exp.offset).toBe(-1);
      expect(exp.counts).toEqual(buckets.slice(1));
      expect(exp.count).toBe(exp.zeroCount + exp.counts.reduce((a, b) => a + b, 0n));
      expect(exp.count).toBe(reading.count);
      expect(exp.sum).toBe(h.sum());
    }
  });
});

describe('the model', () => {
  it('puts 2^k at index k · 2^s − 1 and 2^k + 1 at k · 2^s at every scale (for 2^k past the narrowest buckets)', () => {
    for (const s of SCALES) {
      for (const k of [10, 40, 63]) {
        expect(modelIndex(1n << BigInt(k), s)).toBe(k * 2 ** s - 1);
        expect(modelIndex((1n << BigInt(k)) + 1n, s)).toBe(k * 2 ** s);
      }
    }
  });
});

describe.each(BACKENDS)('exponential histograms on the %s backend', (backend) => {
  const Defined = defineStats({
    runTime: { kind: 'histogram', unit: 'microseconds', help: 'Task run time', scale: 3 },
    narrow: { kind: 'histogram', unit: 'microseconds', help: 'Up to one second', scale: 2, maxValue: 1_000_000 },
    waitTime: { kind: 'histogram', unit: 'microseconds', help: 'Queue wait', buckets: 24 },
  });

  it('records 130 at scale 3 in the bucket (2^(56/8), 2^(57/8)], that is 129 … 139', async () => {
    const stats = await Defined.create({ backend });
    stats.runTime.record(130);
    const cell = stats.runTime.bucketOf(130);
    expect(cell).toBe(56 + 2);
    expect(stats.runTime.bucketRange(cell)).toEqual({ lower: 129n, upper: 140n });
    expect(stats.runTime.buckets()[cell]).toBe(1n);
    expect(stats.runTime.percentile(99)).toBe(139n);
    expect(stats.runTime.count()).toBe(1n);
    expect(stats.runTime.sum()).toBe(130n);
    expect(stats.waitTime.scale).toBeUndefined();
  });

  it('narrows the buckets to the one holding maxValue; larger values count in it', async () => {
    const stats = await Defined.create({ backend });
    const top = modelIndex(1_000_000n, 2);
    const h = stats.narrow;
    expect(h.bucketCount).toBe(top + 3);
    expect(h.bucketOf(1_000_000)).toBe(top + 2);
    expect(h.bucketOf(U64_MAX)).toBe(top + 2);
    expect(h.bucketRange(top + 2)).toEqual({ lower: modelLowest(top, 2), upper: null });
    h.record(U64_MAX);
    h.record(1_000_000);
    h.record(0);
    expect(h.buckets().at(-1)).toBe(2n);
    expect(h.buckets()[0]).toBe(1n);
    // The top bucket's answer is its lower bound: a floor.
    expect(h.percentile(100)).toBe(modelLowest(top, 2));
    const exp = KINDS.histogram.read(h).exponential!;
    expect(exp).toMatchObject({ scale: 2, zeroCount: 1n, offset: top, counts: [2n], maxIndex: top, count: 3n });
  });

  it('answers percentiles with the highest value of the bucket where the rank is reached', async () => {
    const stats = await Defined.create({ backend });
    const h = stats.runTime;
    for (let v = 0; v < 100; v++) h.record(v);
    // Rank 50 is the value 49, in (2^(44/8), 2^(45/8)] = 46 … 49; rank 100 is 99, in 99 … 107.
    expect(h.percentile(50)).toBe(49n);
    expect(h.percentile(100)).toBe(107n);
    expect(h.percentile(0)).toBe(0n);
    expect(h.percentile(1)).toBe(0n);
    expect(h.percentile(2)).toBe(1n);
  });

  it('gives intervals of its buckets, count and sum, and percentiles over them', async () => {
    const stats = await Defined.create({ backend });
    const iv = stats.interval();
    for (const v of [0, 130, 130, 5000]) stats.runTime.record(v);
    const first = iv.next().runTime;
    stats.runTime.record(1000);
    const second = iv.next().runTime;
    const cells = stats.runTime.bucketCount;
    expect(first).toEqual({ count: 4n, sum: 5260n, buckets: modelCounts([0n, 130n, 130n, 5000n], 3, cells) });
    expect(second).toEqual({ count: 1n, sum: 1000n, buckets: modelCounts([1000n], 3, cells) });
    expect(stats.runTime.percentile(50, first)).toBe(139n);
    expect(stats.runTime.percentile(50, second)).toBe(stats.runTime.bucketRange(stats.runTime.bucketOf(1000)).upper! - 1n);
    expect(stats.snapshot().runTime).toEqual({ count: 5n, sum: 6260n, buckets: modelCounts([0n, 130n, 130n, 5000n, 1000n], 3, cells) });
  });

  it('batches records: the same buckets and sum as record', async () => {
    const stats = await Defined.create({ backend });
    const batch = stats.runTime.batch(7);
    const values = [0, 1, 2, 3, 130, 2 ** 40, Number.MAX_SAFE_INTEGER, 99, 100, 101];
    for (let round = 0; round < 5; round++) for (const v of values) batch.record(v);
    batch.close();
    const expected = modelCounts(values.map(BigInt), 3, stats.runTime.bucketCount).map((c) => c * 5n);
    expect(stats.runTime.buckets()).toEqual(expected);
    expect(stats.runTime.sum()).toBe(BigInt.asUintN(64, 5n * values.map(BigInt).reduce((a, b) => a + b, 0n)));
  });

  it('refuses bad values, naming the call and the value, and records nothing', async () => {
    const stats = await Defined.create({ backend });
    const h = stats.runTime;
    for (const [value, type] of [[-1, RangeError], [1.5, RangeError], [2n ** 64n, RangeError], [-1n, RangeError], [NaN, RangeError], ['3', TypeError], [2 ** 53, RangeError]] as const) {
      expect(() => h.record(value as never), String(value)).toThrow(type);
      expect(() => h.record(value as never)).toThrow(/^runTime\.record: value must be/);
      expect(() => h.bucketOf(value as never)).toThrow(type);
      expect(() => h.batch().record(value as never)).toThrow(/^runTime\.batch\(\)\.record: value must be/);
    }
    expect(h.count()).toBe(0n);
    expect(h.sum()).toBe(0n);
    expect(() => h.bucketRange(h.bucketCount)).toThrow(new RangeError(`runTime.bucketRange: index must be a whole number from 0 to ${h.bucketCount - 1}; received ${h.bucketCount}`));
    expect(() => h.bucketRange('1' as never)).toThrow(TypeError);
  });
});
