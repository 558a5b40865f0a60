// Consistent reads under real writers: four writer threads (both backends, with and without lanes)
// record into histograms and add to counters while two reader threads (one per backend) read
// snapshot() and their own interval's next() in turn. The writers go on until every reader has
// read TARGET times (the readers' counts end it, not a duration), so those reads all happen while
// the writers write. In every reading a histogram's count is the total of its buckets; the sum of
// a histogram of ones is never above its count; and each reader's interval changes add up exactly
// to the totals once the writers are done, which are the totals of the rounds the writers report.
import { beforeAll, describe, expect, it } from 'vitest';
import { defineStats, type BackendName } from '../dist/index.js';
import { edgeValues, modelCounts } from './bucket-model.js';
import { BACKENDS } from './helpers.js';
import { startFixture, untilShared } from './workers.js';

const Load = defineStats({
  bytes: { kind: 'counter', unit: 'bytes', help: 'Bytes written' },
  peak: { kind: 'gauge', unit: 'files', help: 'Deepest queue seen' },
  perWorker: { kind: 'counter', unit: 'bytes', help: 'Bytes by worker', length: 5, label: 'worker' },
  latency: { kind: 'histogram', unit: 'microseconds', help: 'Copy time', buckets: 24 },
  size: { kind: 'histogram', unit: 'bytes', help: 'File size', buckets: 40, subBuckets: 4 },
  ones: { kind: 'histogram', unit: 'files', help: 'Only ever 1', buckets: 4 },
});

const WRITERS: { backend: BackendName; lane: boolean }[] = [
  { backend: 'wasm', lane: true },
  { backend: 'js', lane: true },
  { backend: 'wasm', lane: false },
  { backend: 'js', lane: false },
];
const READERS: BackendName[] = ['wasm', 'js'];
/** Reads (a snapshot and an interval each) every reader makes while the writers write. */
const TARGET = 4000;
/** Every bucket's lowest and highest value of both histograms, and 2^64 − 1 (so the sums wrap). */
const VALUES = edgeValues();

interface ReaderReport {
  reads: number;
  mismatches: number;
  firstMismatch: string | null;
  sumAhead: number;
  changed: number;
  totals: Record<string, unknown>;
}

async function run(creator: BackendName) {
  const stats = await Load.create({ backend: creator, lane: false });
  const control = new SharedArrayBuffer(4 * (2 + READERS.length));
  const flags = new Int32Array(control);
  const startLine = new SharedArrayBuffer(8);
  const gate = new Int32Array(startLine);
  const readers = READERS.map((backend, index) => startFixture<ReaderReport>('interval-reader.mjs', { handle: stats.handle, backend, control, index, startLine }));
  const writers: ReturnType<typeof startFixture<{ rounds: number }>>[] = [];
  try {
    await untilShared(() => Atomics.load(flags, 0) === READERS.length, readers.map((r) => r.result));
    const figures = { control, readers: READERS.length, target: TARGET, values: VALUES.map(String), startLine };
    for (const [id, { backend, lane }] of WRITERS.entries()) writers.push(startFixture('interval-writer.mjs', { handle: stats.handle, backend, lane, id, ...figures }));
    const all = [...readers, ...writers].map((w) => w.result);
    await untilShared(() => Atomics.load(gate, 0) === WRITERS.length, all);
    Atomics.store(gate, 1, 1);
    Atomics.notify(gate, 1);
    const rounds = (await Promise.all(writers.map((w) => w.result))).map((r) => BigInt(r.rounds));
    Atomics.store(flags, 1, 1);
    return { stats, rounds, reads: await Promise.all(readers.map((r) => r.result)) };
  } finally {
    await Promise.all([...readers, ...writers].map((w) => w.worker.terminate()));
  }
}

/** A reading as the reader fixture sends it: decimal strings. */
const strings = (value: unknown): unknown =>
  typeof value === 'bigint' ? String(value) : Array.isArray(value) ? value.map(String) : Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, strings(v)]));

describe.each(BACKENDS)('readers under 4 writers, on a memory made by the %s backend', (creator) => {
  let result: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    result = await run(creator);
  });

  it('makes every reader read TARGET times or more while the writers write', () => {
    for (const report of result.reads) expect(report.reads).toBeGreaterThanOrEqual(TARGET);
    expect(result.rounds.every((r) => r >= 1n)).toBe(true);
  });

  it("never reads a histogram whose count is not its buckets' total, in a snapshot or an interval", () => {
    for (const report of result.reads) {
      expect(report.firstMismatch).toBeNull();
      expect(report.mismatches).toBe(0);
    }
  });

  it('never reads a sum ahead of the count: the sum is read before the buckets', () => {
    for (const report of result.reads) expect(report.sumAhead).toBe(0);
  });

  it('ends with the exact totals of the rounds the writers wrote', () => {
    const { stats, rounds } = result;
    const all = rounds.reduce((a, b) => a + b, 0n);
    const snapshot = stats.snapshot();
    expect(snapshot.bytes).toBe(3n * all);
    expect(snapshot.peak).toBe(BigInt(Math.max(...rounds.map((r, id) => id * 1_000_000 + Number(r) - 1))));
    expect(snapshot.perWorker).toEqual([...rounds, 2n * all]);
    const sum = BigInt.asUintN(64, all * VALUES.reduce((a, b) => a + b, 0n));
    expect(snapshot.latency).toEqual({ count: all * BigInt(VALUES.length), sum, buckets: modelCounts(VALUES, 24, 0).map((c) => c * all) });
    expect(snapshot.size).toEqual({ count: all * BigInt(VALUES.length), sum, buckets: modelCounts(VALUES, 40, 2).map((c) => c * all) });
    expect(snapshot.ones).toEqual({ count: 2n * all, sum: 2n * all, buckets: [2n * all, 0n, 0n, 0n] });
  });

  it("adds up each reader's interval changes exactly to those totals", () => {
    const expected = strings(result.stats.snapshot());
    for (const report of result.reads) {
      expect(report.totals).toEqual(expected);
      expect(report.changed).toBeGreaterThan(0);
    }
  });
});
