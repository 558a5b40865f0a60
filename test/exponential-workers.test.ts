// Four real worker threads, two on the Wasm backend and two on the JS one, record into the
// exponential histograms of one memory (joined by attachStats: the memory carries the definition),
// each in a lane of its own, while nothing else writes. Every bucket's total, the count and the sum
// must then be exactly the model's (test/exp-model.ts) times the writers and the rounds, read on
// either backend.
import { beforeAll, describe, expect, it } from 'vitest';
import { attachStats, defineStats, type BackendName, type Histogram } from '../dist/index.js';
import { maxIndex, modelCounts, modelIndex, modelLowest, U64_MAX } from './exp-model.js';
import { BACKENDS } from './helpers.js';
import { startAtLine } from './workers.js';

const Pool = defineStats(
  {
    runTime: { kind: 'histogram', unit: 'microseconds', help: 'Task run time', scale: 3 },
    fine: { kind: 'histogram', unit: 'nanoseconds', help: 'Finest buckets, up to a minute', scale: 8, maxValue: 60_000_000_000 },
  },
  { lanes: 8 },
);
const WRITERS: BackendName[] = ['wasm', 'js', 'wasm', 'js'];
const ROUNDS = 30;

/** 0, 2^64 − 1, and each bucket's lowest integer with the one below it, for every index at scale 3 and every 7th at scale 8 below 2^40. */
const VALUES = [
  ...new Set([
    0n,
    U64_MAX,
    ...Array.from({ length: maxIndex(3) + 1 }, (_, i) => modelLowest(i, 3)),
    ...Array.from({ length: 40 * 256 }, (_, i) => i * 7).filter((i) => i < 40 * 256).map((i) => modelLowest(i, 8)),
  ]),
].flatMap((v) => (v > 1n ? [v - 1n, v] : [v]));

describe.each(BACKENDS)('4 workers mixing backends on a memory made by the %s backend', (creator) => {
  let stats: Awaited<ReturnType<typeof Pool.create>>;
  let lanes: number[];
  beforeAll(async () => {
    stats = await Pool.create({ backend: creator, lane: false });
    const reports = await startAtLine<{ lane: number }>(
      'exp-writer.mjs',
      WRITERS.map((backend) => ({ handle: stats.handle, backend, values: VALUES.map(String), rounds: ROUNDS, names: ['runTime', 'fine'] })),
    );
    lanes = reports.map((r) => r.lane);
  });

  it('gave each writer a lane of its own', () => {
    expect(new Set(lanes).size).toBe(WRITERS.length);
    expect(lanes.every((lane) => lane >= 0)).toBe(true);
  });

  it('counts every bucket, the count and the sum exactly, read on both backends', async () => {
    const times = BigInt(WRITERS.length * ROUNDS);
    const sum = BigInt.asUintN(64, times * VALUES.reduce((a, b) => a + b, 0n));
    for (const reader of BACKENDS) {
      const seen = await attachStats(stats.handle, { backend: reader, lane: false });
      for (const [name, s] of [['runTime', 3], ['fine', 8]] as const) {
        const h = seen.metric(name) as Histogram;
        const counts = modelCounts(VALUES, s, h.bucketCount).map((c) => c * times);
        expect(h.buckets(), `${name} read by ${reader}`).toEqual(counts);
        expect(h.count()).toBe(times * BigInt(VALUES.length));
        expect(h.sum()).toBe(sum);
      }
    }
    // The narrowed histogram's top bucket holds 60 s and everything above it.
    expect(stats.fine.bucketCount).toBe(modelIndex(60_000_000_000n, 8) + 3);
    expect(stats.fine.buckets().at(-1)).toBe(times * BigInt(VALUES.filter((v) => modelIndex(v || 1n, 8) >= modelIndex(60_000_000_000n, 8)).length));
  });
});
