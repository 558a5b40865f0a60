// stats.interval(): readers of their own, each giving what changed since its previous next(), in
// the shape of snapshot(); the consistency of a histogram's count with its buckets; percentiles
// over a reading. Workers writing while readers read: test/interval-workers.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attachStats, defineStats, MigrationStats, StatsInterval, type BackendName, type Histogram } from '../dist/index.js';
import { maxBuckets } from '../dist/definition.js';
import { modelBucket, modelRange } from './bucket-model.js';
import { BACKENDS, U64_MAX } from './helpers.js';

const SCHEMA = {
  bytes: { kind: 'counter', unit: 'bytes', help: 'Bytes copied' },
  depth: { kind: 'gauge', unit: 'files', help: 'Files queued' },
  perWorker: { kind: 'counter', unit: 'bytes', help: 'Bytes by worker', length: 3, label: 'worker' },
  levels: { kind: 'gauge', unit: 'files', help: 'Queue by worker', length: 2, label: 'worker' },
  latency: { kind: 'histogram', unit: 'microseconds', help: 'Copy time', buckets: 24 },
  size: { kind: 'histogram', unit: 'bytes', help: 'File size', buckets: 30, subBuckets: 4 },
} as const;
const Copy = defineStats(SCHEMA);
type CopyStats = Awaited<ReturnType<typeof Copy.create>>;
type Reading = ReturnType<CopyStats['snapshot']>;
type HistogramReading = { count: bigint; sum: bigint; buckets: bigint[] };

const zeros = (n: number): bigint[] => new Array<bigint>(n).fill(0n);
const total = (buckets: readonly bigint[]): bigint => BigInt.asUintN(64, buckets.reduce((a, b) => a + b, 0n));

/** Every byte of a stats object's memory, for "nothing was written" checks (compared with {@link same}). */
const bytesOf = (stats: { handle: { memory: WebAssembly.Memory } }): Buffer => Buffer.from(new Uint8Array(stats.handle.memory.buffer));
/** Whether two copies of a memory are byte for byte the same. */
const same = (a: Buffer, b: Buffer): boolean => a.equals(b);

describe.each(BACKENDS)('stats.interval() on the %s backend', (backend: BackendName) => {
  it('gives each change since the reader was made, then since its previous next(); gauges as they are now', async () => {
    const stats = await Copy.create({ backend });
    stats.bytes.add(100);
    stats.depth.set(9);
    stats.latency.record(5);
    const iv = stats.interval();
    expect(iv).toBeInstanceOf(StatsInterval);
    stats.bytes.add(7);
    stats.depth.set(4);
    stats.perWorker.at(1).add(30);
    stats.levels.at(0).set(2);
    stats.latency.record(130);
    stats.latency.record(131n);
    stats.size.record(0);
    const first = iv.next();
    expect(Object.keys(first)).toEqual(Object.keys(SCHEMA));
    expect(first.bytes).toBe(7n);
    expect(first.depth).toBe(4n);
    expect(first.perWorker).toEqual([0n, 30n, 0n]);
    expect(first.levels).toEqual([2n, 0n]);
    const latency = zeros(24);
    latency[7] = 2n;
    expect(first.latency).toEqual({ count: 2n, sum: 261n, buckets: latency });
    expect(first.size).toEqual({ count: 1n, sum: 0n, buckets: [1n, ...zeros(29)] });
    stats.bytes.add(1n);
    stats.latency.record(1);
    const second = iv.next();
    expect(second.bytes).toBe(1n);
    expect(second.depth).toBe(4n);
    expect(second.perWorker).toEqual([0n, 0n, 0n]);
    expect(second.latency).toEqual({ count: 1n, sum: 1n, buckets: [1n, ...zeros(23)] });
    expect(second.size).toEqual({ count: 0n, sum: 0n, buckets: zeros(30) });
    // Nothing since: every change is 0, the gauges are still what they are.
    const third = iv.next();
    expect([third.bytes, third.depth, third.levels]).toEqual([0n, 4n, [2n, 0n]]);
  });

  it('keeps each reader to its own interval', async () => {
    const stats = await Copy.create({ backend });
    const dashboard = stats.interval();
    const scraper = stats.interval();
    stats.bytes.add(10);
    expect(dashboard.next().bytes).toBe(10n);
    stats.bytes.add(5);
    expect(dashboard.next().bytes).toBe(5n);
    const late = stats.interval();
    stats.bytes.add(1);
    expect(scraper.next().bytes).toBe(16n);
    expect(late.next().bytes).toBe(1n);
    expect(dashboard.next().bytes).toBe(1n);
    expect(stats.bytes.get()).toBe(16n);
  });

  it('never writes the shared memory', async () => {
    const stats = await Copy.create({ backend });
    stats.bytes.add(3);
    stats.latency.record(7);
    const before = bytesOf(stats);
    const readers = [stats.interval(), stats.interval()];
    for (let i = 0; i < 3; i++) for (const reader of readers) reader.next();
    stats.latency.percentile(99, readers[0]!.next().latency);
    expect(same(bytesOf(stats), before)).toBe(true);
  });

  it('takes changes mod 2^64, as the cells wrap: a counter past 2^64 − 1, a lowered counter, a reset', async () => {
    const stats = await Copy.create({ backend });
    stats.bytes.set(U64_MAX - 1n);
    stats.latency.record(U64_MAX);
    const iv = stats.interval();
    stats.bytes.add(5);
    stats.latency.record(U64_MAX);
    stats.latency.record(2);
    const wrapped = iv.next();
    expect(stats.bytes.get()).toBe(3n);
    expect(wrapped.bytes).toBe(5n);
    // Typed by the schema: a histogram's entry is { count, sum, buckets }, a vector's an array.
    expect(wrapped.latency.sum).toBe(1n);
    expect(wrapped.perWorker.length).toBe(3);
    stats.bytes.set(1);
    expect(iv.next().bytes).toBe(U64_MAX - 1n);
    stats.bytes.add(2);
    stats.reset();
    const afterReset = iv.next();
    expect(afterReset.bytes).toBe(U64_MAX);
    expect(afterReset.latency).toMatchObject({ count: BigInt.asUintN(64, -3n), sum: BigInt.asUintN(64, -(U64_MAX + U64_MAX + 2n)) });
  });

  it('adds up, over any operations, exactly to the change of every value; each count is its buckets’ total', async () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('add' as const), value: fc.bigInt({ min: 0n, max: U64_MAX }) }),
      fc.record({ op: fc.constant('set' as const), value: fc.bigInt({ min: 0n, max: U64_MAX }) }),
      fc.record({ op: fc.constant('record' as const), value: fc.oneof(fc.nat(5000).map(BigInt), fc.bigInt({ min: 0n, max: U64_MAX })) }),
      fc.record({ op: fc.constant('element' as const), value: fc.bigInt({ min: 0n, max: U64_MAX }), index: fc.nat(2) }),
      fc.record({ op: fc.constant('next' as const) }),
    );
    const stats = await Copy.create({ backend });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const start = stats.snapshot();
        const iv = stats.interval();
        const readings: Reading[] = [];
        for (const step of ops) {
          if (step.op === 'add') stats.bytes.add(step.value);
          else if (step.op === 'set') (stats.bytes.set(step.value), stats.depth.set(step.value));
          else if (step.op === 'record') (stats.latency.record(step.value), stats.size.record(step.value));
          else if (step.op === 'element') (stats.perWorker.at(step.index).add(step.value), stats.levels.at(step.index % 2).set(step.value));
          else readings.push(iv.next());
        }
        readings.push(iv.next());
        const end = stats.snapshot();
        const add = (a: bigint, b: bigint): bigint => BigInt.asUintN(64, a + b);
        let bytes = start.bytes as bigint;
        let perWorker = [...(start.perWorker as bigint[])];
        const histograms = (['latency', 'size'] as const).map((name) => ({ name, ...(start[name] as HistogramReading) }));
        for (const reading of readings) {
          bytes = add(bytes, reading.bytes as bigint);
          perWorker = perWorker.map((v, i) => add(v, (reading.perWorker as bigint[])[i]!));
          for (const h of histograms) {
            const r = reading[h.name] as HistogramReading;
            expect(r.count).toBe(total(r.buckets));
            h.buckets = h.buckets.map((v, i) => add(v, r.buckets[i]!));
            h.sum = add(h.sum, r.sum);
          }
        }
        expect(bytes).toBe(end.bytes);
        expect(perWorker).toEqual(end.perWorker);
        for (const h of histograms) {
          expect(h.buckets).toEqual((end[h.name] as HistogramReading).buckets);
          expect(h.sum).toBe((end[h.name] as HistogramReading).sum);
          expect((end[h.name] as HistogramReading).count).toBe(total(h.buckets));
        }
        // Gauges: the last reading is what they are.
        expect(readings.at(-1)!.depth).toBe(end.depth);
        expect(readings.at(-1)!.levels).toEqual(end.levels);
      }),
      { seed: 20261207, numRuns: 80 },
    );
  });

  it('reads stats joined with attachStats, and a MigrationStats (counters as changes, its gauges as they are)', async () => {
    const stats = await Copy.create({ backend });
    const joined = await attachStats(stats.handle, { backend, lane: false });
    const iv = joined.interval();
    stats.bytes.add(4);
    stats.size.record(3);
    expect(iv.next()).toMatchObject({ bytes: 4n, size: { count: 1n, sum: 3n } });

    const qemu = await MigrationStats.create({ backend });
    qemu.normalPages.add(10);
    qemu.rateLimitMax.set(500);
    const q = qemu.interval();
    qemu.normalPages.add(3);
    qemu.dirtyBytesLastSync.set(4096);
    const reading: Record<string, bigint> = q.next();
    expect(reading.normalPages).toBe(3n);
    expect(reading.rateLimitMax).toBe(500n);
    expect(reading.dirtyBytesLastSync).toBe(4096n);
    expect(Object.keys(reading)).toEqual(Object.keys(qemu.snapshot()));
  });

  it('gives snapshot() histograms whose count is the total of their buckets', async () => {
    const stats = await Copy.create({ backend });
    for (const v of [0, 1, 2, 1000, 2n ** 40n, U64_MAX]) stats.size.record(v);
    const { size } = stats.snapshot() as { size: HistogramReading };
    expect(size.count).toBe(6n);
    expect(size.count).toBe(total(size.buckets));
    expect(size.buckets).toEqual(stats.size.buckets());
  });
});

describe('the name interval', () => {
  it('is the stats object’s own: a definition with a metric of that name is refused', () => {
    expect(() => defineStats({ interval: { kind: 'counter', unit: 'ms', help: 'Poll interval' } })).toThrow(
      new TypeError('defineStats: schema has the metric name "interval", which the stats object uses for its own API'),
    );
  });

  it('refuses arguments to interval() and next(), which take none (room for options later), and reads nothing then', async () => {
    const stats = await defineStats({ n: { kind: 'counter', unit: 'tasks', help: 'Tasks' } }).create();
    const qemu = await MigrationStats.create();
    const call = (f: (...args: unknown[]) => unknown, ...args: unknown[]) => () => f(...args);
    expect(call(stats.interval.bind(stats), { every: 1000 })).toThrow(new TypeError('interval() takes no arguments; received an object (Object)'));
    expect(call(qemu.interval.bind(qemu), 5)).toThrow(new TypeError('interval() takes no arguments; received 5'));
    const iv = stats.interval();
    stats.n.add(3);
    expect(call(iv.next.bind(iv), 'reset')).toThrow(new TypeError(`interval's next() takes no arguments; received "reset"`));
    // The refused call read nothing: the next one still gives the change since the reader was made.
    expect(iv.next()).toEqual({ n: 3n });
  });

  it('refuses a constructor call: readers are made by stats.interval()', () => {
    const Ctor = StatsInterval as unknown as new (...args: unknown[]) => unknown;
    expect(() => new Ctor(Symbol('StatsInterval'), [])).toThrow(new TypeError('StatsInterval: intervals are made by stats.interval(); there is no constructor'));
  });
});

/** The model's percentile: the bucket of the value at rank ⌈n·p/100⌉ (at least 1), by its largest value, or the last's lower bound. */
function modelPercentile(values: readonly bigint[], p: number, buckets: number, subBits: number): bigint {
  if (values.length === 0) return 0n;
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let rank = (BigInt(sorted.length) * BigInt(Math.round(p * 1000)) + 99_999n) / 100_000n;
  if (rank < 1n) rank = 1n;
  const { lower, upper } = modelRange(modelBucket(sorted[Number(rank) - 1]!, buckets, subBits), buckets, subBits);
  return upper === null ? lower : upper - 1n;
}

describe.each(BACKENDS)('percentile over a reading, on the %s backend', (backend: BackendName) => {
  it('gives the percentile of one interval (the p99 of the last 10 s), by the histogram’s own buckets', async () => {
    const stats = await Copy.create({ backend });
    const iv = stats.interval();
    for (let i = 0; i < 1000; i++) stats.latency.record(10);
    const quiet = iv.next().latency;
    for (let i = 0; i < 100; i++) stats.latency.record(5000);
    const busy = iv.next().latency;
    expect(stats.latency.percentile(99, quiet)).toBe(15n); // bucket [8, 16)
    expect(stats.latency.percentile(99, busy)).toBe(8191n); // bucket [4096, 8192)
    expect(stats.latency.percentile(99)).toBe(8191n);
    expect(stats.latency.percentile(50)).toBe(15n);
    expect(stats.latency.percentile(50, busy)).toBe(8191n);
    expect(stats.latency.percentile(50, iv.next().latency)).toBe(0n); // nothing recorded since
  });

  it('answers as the model for the values of an interval, for any bucket layout', async () => {
    const config = fc.constantFrom(1, 2, 4, 8, 64).chain((sub) => fc.record({ sub: fc.constant(sub), buckets: fc.integer({ min: 1, max: maxBuckets(Math.log2(sub)) }) }));
    const value = fc.oneof(fc.nat(300).map(BigInt), fc.bigInt({ min: 0n, max: U64_MAX }));
    const percent = fc.oneof(fc.constantFrom(0, 50, 99, 99.9, 100), fc.integer({ min: 0, max: 100_000 }).map((k) => k / 1000));
    await fc.assert(
      fc.asyncProperty(config, fc.array(value, { maxLength: 40 }), fc.array(value, { maxLength: 80 }), percent, async ({ sub, buckets }, before, during, p) => {
        const stats = await defineStats({ h: { kind: 'histogram', unit: 'bytes', help: 'Sizes', buckets, subBuckets: sub } }).create({ backend });
        for (const v of before) stats.h.record(v);
        const iv = stats.interval();
        for (const v of during) stats.h.record(v);
        const reading = iv.next().h as HistogramReading;
        const subBits = Math.log2(sub);
        expect(stats.h.percentile(p, reading)).toBe(modelPercentile(during, p, buckets, subBits));
        expect(stats.h.percentile(p, stats.snapshot().h as HistogramReading)).toBe(stats.h.percentile(p));
      }),
      { seed: 20261208, numRuns: 100 },
    );
  });

  it('refuses a reading that is not one of this histogram’s, naming it, and records nothing', async () => {
    const stats = await Copy.create({ backend });
    stats.latency.record(3);
    const h: Histogram = stats.latency;
    const where = 'latency.percentile';
    const allowed = "this histogram's entry of snapshot() or of an interval's next(): { buckets } with 24 bigint counts";
    const throwing = new Proxy({}, { get: () => { throw new Error('no access'); } });
    const cases: [unknown, Error][] = [
      [null, new TypeError(`${where}: reading must be ${allowed}; received null`)],
      [{}, new TypeError(`${where}: reading must be ${allowed}; received an object (Object)`)],
      [{ buckets: 'no' }, new TypeError(`${where}: reading must be ${allowed}; received an object (Object)`)],
      [throwing, new TypeError(`${where}: reading could not be read (no access); it must be ${allowed}`)],
      [stats.snapshot().size, new RangeError(`${where}: reading.buckets must have 24 counts, one per bucket of this histogram; received 30`)],
      [{ buckets: [...zeros(23), 1] }, new TypeError(`${where}: reading.buckets[23] must be a bigint from 0n to 18446744073709551615n (2^64 − 1); received 1`)],
      [{ buckets: [-1n, ...zeros(23)] }, new RangeError(`${where}: reading.buckets[0] must be a bigint from 0n to 18446744073709551615n (2^64 − 1); received -1n`)],
    ];
    const before = bytesOf(stats);
    for (const [reading, error] of cases) {
      let thrown: unknown;
      try {
        h.percentile(50, reading as HistogramReading);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, String(error.message)).toBeInstanceOf(error.constructor);
      expect((thrown as Error).message).toBe(error.message);
    }
    expect(same(bytesOf(stats), before)).toBe(true);
  });
});
