// Real worker threads on one memory of a user definition: five writers mixing backends, lanes and
// the way they join (three with the definition, two with attachStats and the handle alone), and a
// reader that checks, while they write, that no read goes the wrong way. What each writer does is
// fixed by the definition (test/fixtures/schema-workload.mjs), so every total is known exactly.
import { beforeAll, describe, expect, it } from 'vitest';
import { defineStats, type BackendName } from '../dist/index.js';
import { edgeValues, modelCounts } from './bucket-model.js';
import { BACKENDS, U64_MAX } from './helpers.js';
import { startFixture, untilShared } from './workers.js';

const SCHEMA = {
  bytesCopied: { kind: 'counter', unit: 'bytes', help: 'Bytes written, by plain adds' },
  filesCopied: { kind: 'counter', unit: 'files', help: 'Files finished, through batch writers' },
  queuePeak: { kind: 'gauge', unit: 'files', help: 'Deepest queue seen (max)' },
  queueLow: { kind: 'gauge', unit: 'files', help: 'Shallowest queue seen (min)' },
  bytesPerWorker: { kind: 'counter', unit: 'bytes', help: 'Bytes by worker', length: 8, label: 'worker' },
  copyLatency: { kind: 'histogram', unit: 'microseconds', help: 'Time to copy one file', buckets: 24 },
  copySize: { kind: 'histogram', unit: 'bytes', help: 'Size of one file', buckets: 40, subBuckets: 4 },
} as const;
const OPTIONS = { rateLimit: ['bytesCopied', 'bytesPerWorker'] } as const;
const Workload = defineStats(SCHEMA, OPTIONS);

const WRITERS: { fixture: 'defined-writer.mjs' | 'attached-writer.mjs'; backend: BackendName; lane: boolean }[] = [
  { fixture: 'defined-writer.mjs', backend: 'wasm', lane: true },
  { fixture: 'defined-writer.mjs', backend: 'js', lane: true },
  { fixture: 'defined-writer.mjs', backend: 'wasm', lane: false },
  { fixture: 'attached-writer.mjs', backend: 'js', lane: false },
  { fixture: 'attached-writer.mjs', backend: 'wasm', lane: true },
];
const W = BigInt(WRITERS.length);
const ITERATIONS = 250_000;
const N = BigInt(ITERATIONS);
const ROUNDS = 300;
const TOP = 1n << 60n;
/** Every bucket's lowest and highest value of both histograms, and 2^64 − 1: every bucket gets some. */
const VALUES = edgeValues();

interface WriterReport {
  lane: number;
  given?: string[];
  names?: string[];
  kind?: string;
}
interface ReaderReport {
  reads: number;
  wrongWay: string | null;
  last: [string, string][];
}

async function runWorkload(creator: BackendName) {
  const stats = await Workload.create({ backend: creator, lane: false });
  stats.queueLow.set(U64_MAX);
  const control = new SharedArrayBuffer(8);
  const flags = new Int32Array(control);
  const reader = startFixture<ReaderReport>('schema-reader.mjs', { handle: stats.handle, backend: creator === 'wasm' ? 'js' : 'wasm', control });
  await untilShared(() => Atomics.load(flags, 0) === 1, [reader.result]);
  const startLine = new SharedArrayBuffer(8);
  const gate = new Int32Array(startLine);
  const figures = { iterations: ITERATIONS, rounds: ROUNDS, values: VALUES.map(String), top: String(TOP), startLine };
  const writers = WRITERS.map(({ fixture, backend, lane }, id) =>
    startFixture<WriterReport>(
      fixture,
      fixture === 'defined-writer.mjs'
        ? { handle: stats.handle, schema: SCHEMA, options: OPTIONS, backend, lane, id, ...figures }
        : { handle: stats.handle, backend, lane, id, ...figures },
    ),
  );
  await untilShared(() => Atomics.load(gate, 0) === WRITERS.length, [reader.result, ...writers.map((w) => w.result)]);
  Atomics.store(gate, 1, 1);
  Atomics.notify(gate, 1);
  try {
    const reports = await Promise.all(writers.map((w) => w.result));
    Atomics.store(flags, 1, 1);
    return { stats, reports, read: await reader.result };
  } finally {
    await Promise.all([reader, ...writers].map((w) => w.worker.terminate()));
  }
}

describe.each(BACKENDS)('5 workers on a memory made by the %s backend', (creator) => {
  let run: Awaited<ReturnType<typeof runWorkload>>;
  beforeAll(async () => {
    run = await runWorkload(creator);
  });

  it('adds scalar counters across workers mixing backends and lanes without losing an update', () => {
    // 1 and 2n in turn: 3 per two iterations.
    expect(run.stats.bytesCopied.get()).toBe((W * N * 3n) / 2n);
  });

  it('flushes every batch writer by its close, so its counter is exact', () => {
    let perWorker = 0n;
    for (let i = 0; i < ITERATIONS; i++) perWorker += BigInt((i % 7) + 1);
    expect(run.stats.filesCopied.get()).toBe(W * perWorker);
  });

  it("adds each worker's own vector element and the shared one exactly", () => {
    const expected = Array.from({ length: 8 }, (_, k) => (k < WRITERS.length ? N : 0n) + (k === 7 ? W * N : 0n));
    expect(run.stats.bytesPerWorker.values()).toEqual(expected);
  });

  it('counts every bucket, the count and the sum of histograms exactly', () => {
    const times = W * BigInt(ROUNDS);
    const sum = BigInt.asUintN(64, times * VALUES.reduce((a, b) => a + b, 0n));
    for (const [h, subBits] of [[run.stats.copyLatency, 0], [run.stats.copySize, 2]] as const) {
      const counts = modelCounts(VALUES, h.bucketCount, subBits);
      expect(counts.every((c) => c > 0n), `${h.name}: the values reach every bucket`).toBe(true);
      expect(h.buckets()).toEqual(counts.map((c) => c * times));
      expect(h.count()).toBe(times * BigInt(VALUES.length));
      expect(h.sum()).toBe(sum);
    }
  });

  it('keeps the highest max and the lowest min of concurrent gauge writes', () => {
    const top = BigInt((WRITERS.length - 1) * 1_000_000 + ITERATIONS - 1);
    expect(run.stats.queuePeak.get()).toBe(top);
    expect(run.stats.queueLow.get()).toBe(TOP - top);
  });

  it("sums the limited counters exactly in the limiter's transferred bytes", () => {
    const { stats } = run;
    const transferred = (W * N * 3n) / 2n + 2n * W * N;
    expect(stats.transferredBytes()).toBe(transferred);
    // The window began at 0: a budget of exactly that much is not exceeded, one byte more is.
    stats.rateSet(transferred * 10n);
    expect(stats.rateExceeded()).toBe(false);
    stats.bytesPerWorker.at(0).add(1);
    expect(stats.rateExceeded()).toBe(true);
  });

  it('never reads a value going the wrong way while the writers run', () => {
    expect(run.read.wrongWay).toBeNull();
    expect(run.read.reads).toBeGreaterThan(0);
    // Its last read, after every writer was done, saw the totals.
    const last = new Map(run.read.last);
    expect(last.get('bytesCopied')).toBe(String((W * N * 3n) / 2n));
    expect(last.get('bytesPerWorker.at(7)')).toBe(String(W * N));
  });

  it('lets workers that have only the handle find the metrics in the memory', () => {
    const attached = run.reports.filter((_, id) => WRITERS[id]!.fixture === 'attached-writer.mjs');
    expect(attached).toHaveLength(2);
    for (const report of attached) {
      expect(report.given).toEqual(['handle', 'backend', 'lane', 'id', 'iterations', 'rounds', 'values', 'top', 'startLine']);
      expect(report.names).toEqual(Object.keys(SCHEMA));
      expect(report.kind).toBe('RateLimitedStats');
    }
  });

  it('gives each writer that asked for a lane one of its own, and the others none', () => {
    const lanes = run.reports.map((r) => r.lane);
    const laned = lanes.filter((_, id) => WRITERS[id]!.lane);
    expect(laned.every((lane) => lane >= 0)).toBe(true);
    expect(new Set(laned).size).toBe(laned.length);
    expect(lanes.filter((_, id) => !WRITERS[id]!.lane)).toEqual([-1, -1]);
  });
});
