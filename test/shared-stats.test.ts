// The metrics of a user definition on both backends: counters, gauges, vectors and histograms as
// properties, snapshot, reset, close, metric(name), QEMU's rate limiter over user counters, the
// batched writer, and joining a memory with attach (same definition only) and attachStats (any).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attachStats, defineStats, Histogram, MigrationStats, RateLimitedStats, SharedStats, Stat64, StatVector, type BackendName } from '../dist/index.js';
import { changedOffsets, COPY_NAMES, COPY_SCHEMA, CopyStats, memoryWords } from './copy-stats.js';
import { BACKENDS, cellOf, layoutOf, U64_MAX, word } from './helpers.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Values no u64 argument takes, each with the class of its error. */
const BAD_VALUES: [value: unknown, type: typeof TypeError | typeof RangeError][] = [
  [-1, RangeError],
  [1.5, RangeError],
  [NaN, RangeError],
  [Infinity, RangeError],
  [2 ** 53, RangeError],
  [-1n, RangeError],
  [2n ** 64n, RangeError],
  ['5', TypeError],
  [null, TypeError],
  [undefined, TypeError],
  [true, TypeError],
  [{ valueOf: () => 5 }, TypeError],
];

/** What `f` throws (undefined when it returns). */
function errorOf(f: () => unknown): Error | undefined {
  try {
    f();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

/** Calls `f` with a value it must refuse, and checks that the memory did not change by a byte. */
function refusesWithoutChange(stats: { handle: { memory: WebAssembly.Memory } }, f: (value: never) => void): void {
  for (const [value, type] of BAD_VALUES) {
    const before = memoryWords(stats);
    expect(errorOf(() => f(value as never))?.constructor, `for ${String(value)}`).toBe(type);
    expect(changedOffsets(before, memoryWords(stats)), `memory changed for ${String(value)}`).toEqual([]);
  }
}

describe.each(BACKENDS)('a user definition on the %s backend', (backend) => {
  const create = () => CopyStats.create({ backend });

  describe('counters and gauges', () => {
    it('starts every metric at zero', async () => {
      const stats = await create();
      expect(stats.snapshot()).toEqual({
        bytesCopied: 0n,
        filesCopied: 0n,
        queueDepth: 0n,
        bytesPerWorker: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
        copyLatency: { count: 0n, sum: 0n, buckets: new Array(24).fill(0n) },
      });
      expect(stats.backend).toBe(backend);
    });

    it('makes each scalar metric a Stat64 named after the schema', async () => {
      const stats = await create();
      expect(stats.bytesCopied).toBeInstanceOf(Stat64);
      expect([stats.bytesCopied.name, stats.bytesCopied.cName, stats.bytesCopied.unit, stats.bytesCopied.kind]).toEqual(['bytesCopied', 'bytes_copied', 'bytes', 'add']);
      expect([stats.queueDepth.name, stats.queueDepth.cName, stats.queueDepth.unit, stats.queueDepth.kind]).toEqual(['queueDepth', 'queue_depth', 'files', 'set']);
    });

    it('adds numbers and bigints, wrapping modulo 2^64, and sets, lowers and raises a counter', async () => {
      const stats = await create();
      const c = stats.filesCopied;
      c.add(1);
      c.add(2n);
      c.add(MAX_SAFE);
      expect(c.get()).toBe(BigInt(MAX_SAFE) + 3n);
      expect(() => c.getNumber()).toThrow(RangeError);
      c.add(U64_MAX);
      expect(c.get()).toBe(BigInt(MAX_SAFE) + 2n);
      c.set(100);
      c.min(200n);
      expect(c.getNumber()).toBe(100);
      c.min(40);
      c.max(39n);
      expect(c.get()).toBe(40n);
      c.max(U64_MAX);
      expect(c.get()).toBe(U64_MAX);
      c.add(1);
      expect(c.get()).toBe(0n);
    });

    it('adds a counter into its lane and keeps a gauge in its one cell', async () => {
      const stats = await create();
      stats.bytesCopied.add(7);
      stats.queueDepth.add(5);
      stats.queueDepth.max(9n);
      const counter = cellOf(stats, 'bytesCopied', stats.lane);
      expect(word(stats, counter.lane)).toBe(7n);
      expect(word(stats, counter.base)).toBe(0n);
      const gauge = cellOf(stats, 'queueDepth');
      expect(gauge.lane).toBe(-1);
      expect(word(stats, gauge.base)).toBe(9n);
      expect(stats.queueDepth.get()).toBe(9n);
    });

    it('refuses bad values on add, set, min and max, changing no byte of the memory', async () => {
      const stats = await create();
      stats.bytesCopied.add(3);
      stats.queueDepth.set(3);
      for (const metric of [stats.bytesCopied, stats.queueDepth]) {
        for (const op of ['add', 'set', 'min', 'max'] as const) refusesWithoutChange(stats, (v) => metric[op](v));
      }
      expect(() => stats.bytesCopied.add(-1)).toThrow('bytesCopied.add: value must be a bigint from 0n');
    });
  });

  describe('vectors', () => {
    it('makes a vector of Stat64 elements with its name, label and length', async () => {
      const stats = await create();
      const v = stats.bytesPerWorker;
      expect(v).toBeInstanceOf(StatVector);
      expect([v.name, v.label, v.length]).toEqual(['bytesPerWorker', 'worker', 8]);
      const elements = [...v];
      expect(elements).toHaveLength(8);
      elements.forEach((element, i) => {
        expect(element).toBeInstanceOf(Stat64);
        expect(element).toBe(v.at(i));
      });
    });

    it('keeps every element apart: each one counts only its own adds', async () => {
      const stats = await create();
      const v = stats.bytesPerWorker;
      for (let i = 0; i < v.length; i++) {
        for (let k = 0; k <= i; k++) v.at(i).add(BigInt(1000 * (i + 1)));
      }
      const expected = Array.from({ length: 8 }, (_, i) => BigInt(1000 * (i + 1) * (i + 1)));
      expect(v.values()).toEqual(expected);
      expect(v.total()).toBe(expected.reduce((a, b) => a + b, 0n));
      v.at(7).set(U64_MAX);
      v.at(6).min(1);
      v.at(0).max(5000n);
      expect(v.values()).toEqual([5000n, ...expected.slice(1, 6), 1n, U64_MAX]);
      // total() wraps modulo 2^64, as every sum does.
      expect(v.total()).toBe(BigInt.asUintN(64, 5000n + expected.slice(1, 6).reduce((a, b) => a + b, 0n) + 1n + U64_MAX));
    });

    it.each([
      [-1, RangeError, '-1'],
      [8, RangeError, '8'],
      [1.5, RangeError, '1.5'],
      [NaN, RangeError, 'NaN'],
      [Infinity, RangeError, 'Infinity'],
      ['3', TypeError, '"3"'],
      [3n, TypeError, '3n'],
      [undefined, TypeError, 'undefined'],
    ] as const)('refuses at(%s)', async (index, type, shown) => {
      const stats = await create();
      const thrown = errorOf(() => stats.bytesPerWorker.at(index as number));
      expect(thrown?.constructor).toBe(type);
      expect(thrown?.message).toBe(`bytesPerWorker.at: index must be a whole number from 0 to 7; received ${shown}`);
    });

    it("names the element in an element's errors, and refuses bad values without a change", async () => {
      const stats = await create();
      expect(() => stats.bytesPerWorker.at(3).add(-1)).toThrow(/^bytesPerWorker\.at\(3\)\.add: value must be/);
      refusesWithoutChange(stats, (v) => stats.bytesPerWorker.at(3).add(v));
    });

    it('adds through an element in the lane of the instance when it is first used, and in the base cells after close()', async () => {
      const stats = await create();
      const lane = stats.lane;
      expect(lane).toBeGreaterThanOrEqual(0);
      const entry = layoutOf(stats).metrics.find((m) => m.spec.name === 'bytesPerWorker')!;
      const { lanesOffset, laneStride } = layoutOf(stats);
      const cells = (i: number): bigint[] => [word(stats, entry.base + 8 * i), word(stats, lanesOffset + laneStride * lane + entry.lane + 8 * i)];
      const v = stats.bytesPerWorker;
      v.at(1).add(5);
      expect(cells(1)).toEqual([0n, 5n]);
      stats.close();
      // Element 1 was made before close() and element 4 after it: both add to the base cells now.
      v.at(1).add(6);
      v.at(4).add(7);
      expect(cells(1)).toEqual([6n, 5n]);
      expect(cells(4)).toEqual([7n, 0n]);
      expect(v.at(4)).toBe(v.at(4));
      expect(v.values()).toEqual([0n, 11n, 0n, 0n, 7n, 0n, 0n, 0n]);
    });

    it('keeps a vector of gauges in one cell per element', async () => {
      const Gauges = defineStats({ depth: { kind: 'gauge', unit: 'files', help: 'Depth by queue', length: 3 } });
      const stats = await Gauges.create({ backend });
      stats.depth.at(1).set(11);
      stats.depth.at(2).max(22n);
      stats.depth.at(0).add(5);
      expect(stats.depth.values()).toEqual([5n, 11n, 22n]);
      const entry = layoutOf(stats).metrics[0]!;
      expect(entry.lane).toBe(-1);
      expect([0, 1, 2].map((i) => word(stats, entry.base + 8 * i))).toEqual([5n, 11n, 22n]);
    });
  });

  describe('histograms', () => {
    it('makes a Histogram with its name, unit and buckets', async () => {
      const stats = await create();
      const h = stats.copyLatency;
      expect(h).toBeInstanceOf(Histogram);
      expect([h.name, h.unit, h.bucketCount, h.subBuckets]).toEqual(['copyLatency', 'microseconds', 24, 1]);
    });

    it('records numbers and bigints from 0 to 2^64 − 1, with an exact count and a sum modulo 2^64', async () => {
      const stats = await create();
      const h = stats.copyLatency;
      const values: (number | bigint)[] = [0, 1, 1n, 2, 3n, 130, MAX_SAFE, 2n ** 53n, U64_MAX];
      for (const value of values) h.record(value);
      expect(h.count()).toBe(9n);
      expect(h.sum()).toBe(BigInt.asUintN(64, values.reduce<bigint>((a, b) => a + BigInt(b), 0n)));
      const buckets = new Array<bigint>(24).fill(0n);
      buckets[0] = 3n; // 0, 1, 1n
      buckets[1] = 2n; // 2 and 3 in [2, 4)
      buckets[7] = 1n; // 130 in [128, 256)
      buckets[23] = 3n; // 2^53 − 1, 2^53 and 2^64 − 1 are past the last bucket's lower bound
      expect(h.buckets()).toEqual(buckets);
      expect(stats.snapshot().copyLatency).toEqual({ count: 9n, sum: h.sum(), buckets });
    });

    it('records into its lane', async () => {
      const stats = await create();
      stats.copyLatency.record(130);
      const entry = layoutOf(stats).metrics.find((m) => m.spec.name === 'copyLatency')!;
      const lane = layoutOf(stats).lanesOffset + layoutOf(stats).laneStride * stats.lane + entry.lane;
      expect(word(stats, lane + 8 * 7)).toBe(1n);
      expect(word(stats, lane + 8 * 24)).toBe(130n);
      expect(word(stats, entry.base + 8 * 7)).toBe(0n);
    });

    it('refuses bad values, changing no byte of the memory', async () => {
      const stats = await create();
      stats.copyLatency.record(5);
      refusesWithoutChange(stats, (v) => stats.copyLatency.record(v));
      expect(() => stats.copyLatency.record(-1)).toThrow(/^copyLatency\.record: value must be/);
      expect(stats.copyLatency.count()).toBe(1n);
    });

    it('refuses bad indices of bucketRange and bad values of bucketOf and percentile', async () => {
      const h = (await create()).copyLatency;
      for (const index of [-1, 24, 1.5, NaN]) expect(() => h.bucketRange(index)).toThrow(`copyLatency.bucketRange: index must be a whole number from 0 to 23; received ${String(index)}`);
      expect(() => h.bucketRange('1' as unknown as number)).toThrow(new TypeError('copyLatency.bucketRange: index must be a whole number from 0 to 23; received "1"'));
      for (const [value, type] of BAD_VALUES) expect(() => h.bucketOf(value as number)).toThrow(type);
      for (const p of [-1, 100.5, NaN, Infinity]) expect(() => h.percentile(p)).toThrow(RangeError);
      expect(() => h.percentile('50' as unknown as number)).toThrow('copyLatency.percentile: p must be a number from 0 to 100; received "50"');
    });

    it('answers 0n for any percentile of an empty histogram, and reads its buckets for others', async () => {
      const h = (await create()).copyLatency;
      expect([h.percentile(0), h.percentile(50), h.percentile(100)]).toEqual([0n, 0n, 0n]);
      for (let i = 0; i < 90; i++) h.record(100); // bucket 6: [64, 128)
      for (let i = 0; i < 10; i++) h.record(5000); // bucket 12: [4096, 8192)
      h.record(2n ** 40n); // past the last bucket: a floor of 2^23
      expect(h.percentile(0)).toBe(127n);
      expect(h.percentile(89)).toBe(127n);
      expect(h.percentile(90)).toBe(8191n);
      expect(h.percentile(99)).toBe(8191n);
      expect(h.percentile(100)).toBe(2n ** 23n);
    });
  });

  describe('snapshot, reset and close', () => {
    it('reads every metric by name into one object, in schema order', async () => {
      const stats = await create();
      stats.bytesCopied.add(4096);
      stats.queueDepth.set(3n);
      stats.bytesPerWorker.at(3).add(4096);
      stats.copyLatency.record(130);
      const snap = stats.snapshot();
      expect(Object.keys(snap)).toEqual(COPY_NAMES);
      expect(snap.bytesCopied).toBe(4096n);
      expect(snap.queueDepth).toBe(3n);
      expect(snap.bytesPerWorker).toEqual([0n, 0n, 0n, 4096n, 0n, 0n, 0n, 0n]);
      expect(snap.copyLatency).toMatchObject({ count: 1n, sum: 130n });
    });

    it("zeroes every metric, every lane's share and the limiter's window, then counts again", async () => {
      const stats = await create();
      const other = await CopyStats.attach(stats.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
      expect(other.lane).not.toBe(stats.lane);
      for (const s of [stats, other]) {
        s.bytesCopied.add(1000);
        s.filesCopied.add(U64_MAX);
        s.bytesPerWorker.at(5).add(77);
        s.copyLatency.record(U64_MAX);
      }
      stats.queueDepth.set(12);
      stats.rateSet(100_000);
      stats.rateReset();
      stats.reset();
      const zero = await CopyStats.create({ backend });
      expect(other.snapshot()).toEqual(zero.snapshot());
      expect(stats.rateGet()).toBe(0n);
      expect(stats.transferredBytes()).toBe(0n);
      // The window's start is zero too: with a budget of 10, 11 bytes exceed it.
      stats.rateSet(100);
      other.bytesCopied.add(10);
      expect(stats.rateExceeded()).toBe(false);
      other.bytesCopied.add(1);
      expect(stats.rateExceeded()).toBe(true);
      other.copyLatency.record(3);
      expect(stats.copyLatency.buckets()[1]).toBe(1n);
      expect(stats.copyLatency.count()).toBe(1n);
    });

    it('keeps adds counting exactly after close() gives the lane back', async () => {
      const stats = await create();
      const lane = stats.lane;
      expect(lane).toBeGreaterThanOrEqual(0);
      stats.bytesCopied.add(10);
      stats.bytesPerWorker.at(2).add(20);
      stats.copyLatency.record(30);
      stats.close();
      expect(stats.lane).toBe(-1);
      stats.bytesCopied.add(1);
      stats.bytesPerWorker.at(2).add(2n);
      stats.copyLatency.record(3);
      stats.close();
      expect(stats.bytesCopied.get()).toBe(11n);
      expect(stats.bytesPerWorker.at(2).get()).toBe(22n);
      expect([stats.copyLatency.count(), stats.copyLatency.sum()]).toEqual([2n, 33n]);
      // The adds after close went to the base cells; those before stay in the lane.
      const { base, lane: inLane } = cellOf(stats, 'bytesCopied', lane);
      expect([word(stats, base), word(stats, inLane)]).toEqual([1n, 10n]);
      // The lane is free again: the next instance takes it, and its adds count too.
      const next = await CopyStats.attach(stats.handle, { backend });
      expect(next.lane).toBe(lane);
      next.bytesCopied.add(100);
      expect(stats.bytesCopied.get()).toBe(111n);
    });

    it('looks metrics up by name with metric(name)', async () => {
      const stats = await create();
      for (const name of COPY_NAMES) expect(stats.metric(name)).toBe(stats[name as keyof typeof COPY_SCHEMA]);
      expect(() => stats.metric('bytes')).toThrow(new TypeError('metric: name must be one of bytesCopied, filesCopied, queueDepth, bytesPerWorker, copyLatency; received "bytes"'));
      for (const name of ['toString', 'constructor', 'handle', 5, undefined]) expect(() => stats.metric(name as string)).toThrow(TypeError);
    });
  });

  describe('the rate limiter', () => {
    it("follows QEMU's worked example at 1 GiB/s", async () => {
      const stats = await create();
      stats.rateSet(1073741824);
      expect(stats.rateGet()).toBe(107374182n);
      stats.rateReset();
      stats.bytesCopied.add(107374182);
      expect(stats.transferredBytes()).toBe(107374182n);
      expect(stats.rateExceeded()).toBe(false);
      stats.bytesCopied.add(1);
      expect(stats.rateExceeded()).toBe(true);
      stats.rateReset();
      expect(stats.rateExceeded()).toBe(false);
      // Only the limited counters count.
      stats.filesCopied.add(10n ** 12n);
      stats.bytesPerWorker.at(0).add(10n ** 12n);
      expect(stats.rateExceeded()).toBe(false);
      expect(stats.transferredBytes()).toBe(107374183n);
      stats.rateSet(9);
      expect(stats.rateGet()).toBe(0n);
      stats.bytesCopied.add(10n ** 12n);
      expect(stats.rateExceeded()).toBe(false);
    });

    it('answers true on a stream error, and false for the values that mean none', async () => {
      const stats = await create();
      expect(stats.rateExceeded(-5)).toBe(true);
      expect(stats.rateExceeded(-5n)).toBe(true);
      for (const none of [undefined, 0, 0n, null, false]) expect(stats.rateExceeded(none)).toBe(false);
    });

    it('refuses bad limits and leaves the limit unchanged', async () => {
      const stats = await create();
      stats.rateSet(1000);
      for (const [value, type] of BAD_VALUES) expect(() => stats.rateSet(value as number)).toThrow(type);
      expect(stats.rateGet()).toBe(100n);
      stats.rateSet(U64_MAX);
      expect(stats.rateGet()).toBe(U64_MAX / 10n);
    });

    it('counts every element of a vector counter it limits, beside a scalar one', async () => {
      const Sent = defineStats(
        {
          perChannel: { kind: 'counter', unit: 'bytes', help: 'Bytes by channel', length: 4 },
          control: { kind: 'counter', unit: 'bytes', help: 'Control bytes' },
          other: { kind: 'counter', unit: 'bytes', help: 'Not limited', length: 2 },
        },
        { rateLimit: ['perChannel', 'control'] },
      );
      const stats = await Sent.create({ backend });
      stats.rateSet(9990);
      stats.rateReset();
      for (let i = 0; i < 4; i++) stats.perChannel.at(i).add(20 * (i + 1));
      stats.control.add(799);
      stats.other.at(1).add(10_000);
      expect(stats.transferredBytes()).toBe(999n);
      expect(stats.rateExceeded()).toBe(false);
      stats.perChannel.at(3).add(2);
      expect(stats.rateExceeded()).toBe(true);
      stats.control.add(U64_MAX);
      expect(stats.transferredBytes()).toBe(1000n);
    });

    it('keeps its window in the gauges it names', async () => {
      const Named = defineStats(
        {
          sent: { kind: 'counter', unit: 'bytes', help: 'Bytes sent' },
          windowStart: { kind: 'gauge', unit: 'bytes', help: 'Where the window began' },
          windowBudget: { kind: 'gauge', unit: 'bytes', help: 'Budget of a window' },
        },
        { rateLimit: { counters: ['sent'], start: 'windowStart', max: 'windowBudget' } },
      );
      const stats = await Named.create({ backend });
      stats.rateSet(1000);
      expect(stats.windowBudget.get()).toBe(100n);
      stats.sent.add(500);
      stats.rateReset();
      expect(stats.windowStart.get()).toBe(500n);
      stats.sent.add(101);
      expect(stats.rateExceeded()).toBe(true);
      stats.windowBudget.set(101);
      expect(stats.rateGet()).toBe(101n);
      expect(stats.rateExceeded()).toBe(false);
      stats.windowStart.set(0);
      expect(stats.rateExceeded()).toBe(true);
    });

    it('has the rate methods exactly when the definition declares a limiter', async () => {
      const without = await defineStats({ files: COPY_SCHEMA.filesCopied }).create({ backend });
      const withLimit = await defineStats({ files: COPY_SCHEMA.filesCopied }, { rateLimit: ['files'] }).create({ backend });
      for (const name of ['rateSet', 'rateGet', 'rateReset', 'rateExceeded', 'transferredBytes']) {
        expect(name in without, name).toBe(false);
        expect(typeof (withLimit as unknown as Record<string, unknown>)[name], name).toBe('function');
      }
      expect(without).not.toBeInstanceOf(RateLimitedStats);
      expect(withLimit).toBeInstanceOf(RateLimitedStats);
      // A thread that never saw the definitions gets the same classes from the memories.
      expect(await attachStats(without.handle)).not.toBeInstanceOf(RateLimitedStats);
      expect(await attachStats(withLimit.handle)).toBeInstanceOf(RateLimitedStats);
    });

    it('has no rate methods without rateLimit, for the compiler too, as docs/stats.md says', async () => {
      const without = await defineStats({ files: COPY_SCHEMA.filesCopied }).create({ backend });
      // @ts-expect-error: a definition without rateLimit has no rateSet
      expect(() => without.rateSet(1)).toThrow(TypeError);
      // @ts-expect-error: nor rateExceeded
      expect(without.rateExceeded).toBeUndefined();
      const docs = readFileSync(new URL('../docs/stats.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
      expect(docs).toContain(
        'A definition without `rateLimit` has none of these methods: TypeScript refuses `stats.rateSet(…)`, and in JavaScript `stats.rateSet` is `undefined`.',
      );
    });
  });

  describe('the batched writer', () => {
    it('is behind by at most every − 1 adds, and flushes on every every-th add', async () => {
      const stats = await create();
      const writer = stats.bytesCopied.batch(5);
      let added = 0n;
      let flushed = 0n;
      for (let i = 1; i <= 23; i++) {
        writer.add(i);
        added += BigInt(i);
        if (i % 5 === 0) flushed = added;
        expect(stats.bytesCopied.get(), `after add ${i}`).toBe(flushed);
        expect(writer.pending).toBe(Number(added - flushed));
      }
      writer.flush();
      expect(stats.bytesCopied.get()).toBe(added);
      expect(writer.pending).toBe(0);
      // The count of adds starts again at the flush: 4 more stay pending.
      for (let i = 0; i < 4; i++) writer.add(1);
      expect(stats.bytesCopied.get()).toBe(added);
      writer.close();
      expect(stats.bytesCopied.get()).toBe(added + 4n);
      // close() leaves it usable.
      writer.add(2);
      writer.close();
      expect(stats.bytesCopied.get()).toBe(added + 6n);
    });

    it('flushes after 1024 adds by default, and after each add with every = 1', async () => {
      const stats = await create();
      const writer = stats.filesCopied.batch();
      for (let i = 0; i < 1023; i++) writer.add(1);
      expect(stats.filesCopied.get()).toBe(0n);
      writer.add(1);
      expect(stats.filesCopied.get()).toBe(1024n);
      const each = stats.filesCopied.batch(1);
      each.add(7);
      expect(stats.filesCopied.get()).toBe(1031n);
    });

    it('never lets the pending sum pass 2^53 − 1, so nothing is rounded', async () => {
      const stats = await create();
      const writer = stats.bytesCopied.batch(1000);
      // Below 2^52: kept pending.
      writer.add(2 ** 52 - 2);
      writer.add(1);
      expect(writer.pending).toBe(2 ** 52 - 1);
      expect(stats.bytesCopied.get()).toBe(0n);
      // An add that would pass 2^53 − 1 flushes what is pending first; and a pending sum above 2^52
      // is flushed at once, so that small adds after it can never reach 2^53.
      writer.add(MAX_SAFE - 2 ** 51);
      expect(writer.pending).toBe(0);
      expect(stats.bytesCopied.get()).toBe(BigInt(2 ** 52 - 1) + BigInt(MAX_SAFE - 2 ** 51));
      writer.add(3);
      writer.flush();
      expect(stats.bytesCopied.get()).toBe(BigInt(2 ** 52 - 1) + BigInt(MAX_SAFE - 2 ** 51) + 3n);
    });

    it('writes a vector element and a gauge, and keeps counting after the instance closes', async () => {
      const stats = await create();
      const element = stats.bytesPerWorker.at(4).batch(3);
      const gauge = stats.queueDepth.batch(2);
      element.add(10);
      stats.close();
      element.add(20);
      gauge.add(1);
      gauge.add(2);
      expect(stats.queueDepth.get()).toBe(3n);
      element.close();
      expect(stats.bytesPerWorker.values()).toEqual([0n, 0n, 0n, 0n, 30n, 0n, 0n, 0n]);
    });

    it.each([0, -1, 1.5, 2 ** 20 + 1, NaN, Infinity])('refuses every = %s with a RangeError', async (every) => {
      const stats = await create();
      expect(() => stats.bytesCopied.batch(every)).toThrow(new RangeError(`bytesCopied.batch: every must be a whole number from 1 to 1048576; received ${String(every)}`));
    });

    it.each([
      ['a string', '8', '"8"'],
      ['a bigint', 8n, '8n'],
      ['null', null, 'null'],
      ['an object without a prototype', Object.create(null), 'an object (Object)'],
      ['an object whose toString throws', { toString: () => { throw new Error('toString'); } }, 'an object (Object)'],
    ] as const)('refuses every as %s with a TypeError naming it as received', async (_title, every, shown) => {
      const stats = await create();
      const thrown = errorOf(() => stats.bytesCopied.batch(every as unknown as number));
      expect(thrown?.constructor).toBe(TypeError);
      expect(thrown?.message).toBe(`bytesCopied.batch: every must be a whole number from 1 to 1048576; received ${shown}`);
    });

    it.each([
      [-1, RangeError, '-1'],
      [1.5, RangeError, '1.5'],
      [2 ** 53, RangeError, '9007199254740992'],
      [NaN, RangeError, 'NaN'],
      [5n, TypeError, '5n'],
      ['5', TypeError, '"5"'],
      [null, TypeError, 'null'],
    ] as const)('refuses to add %s, adding nothing', async (value, type, shown) => {
      const stats = await create();
      const writer = stats.bytesCopied.batch(2);
      writer.add(4);
      const thrown = errorOf(() => writer.add(value as number));
      expect(thrown?.constructor).toBe(type);
      expect(thrown?.message).toBe(`bytesCopied.batch.add: value must be a non-negative safe-integer number; received ${shown}`);
      // Nothing pending changed and no flush happened: the next add is the second.
      expect(writer.pending).toBe(4);
      expect(stats.bytesCopied.get()).toBe(0n);
      writer.add(1);
      expect(stats.bytesCopied.get()).toBe(5n);
    });
  });
});

describe.each(BACKENDS)('joining a memory on the %s backend', (backend) => {
  /** The attach error for a memory made by `other`. */
  async function attachError(here: ReturnType<typeof defineStats>, other: ReturnType<typeof defineStats>): Promise<TypeError> {
    const made = await other.create();
    const error = await here.attach(made.handle, { backend }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    return error as TypeError;
  }
  const { bytesCopied, filesCopied, bytesPerWorker } = COPY_SCHEMA;

  it('attaches a handle of an equal definition, made by another defineStats call', async () => {
    const stats = await CopyStats.create();
    stats.bytesPerWorker.at(1).add(5);
    const again = defineStats({ ...COPY_SCHEMA }, { rateLimit: ['bytesCopied'] });
    const same = await again.attach(stats.handle, { backend });
    expect(same.bytesPerWorker.at(1).get()).toBe(5n);
    same.copyLatency.record(1);
    expect(stats.copyLatency.count()).toBe(1n);
  });

  it.each([
    ['a length', { v: { ...bytesPerWorker, length: 8 } }, { v: { ...bytesPerWorker, length: 4 } }, undefined, undefined, 'schema.v.length is 8 here and 4 in the memory'],
    ['a kind', { v: bytesCopied }, { v: { ...bytesCopied, kind: 'gauge' } }, undefined, undefined, 'schema.v.kind is "counter" here and "gauge" in the memory'],
    ['a unit', { v: bytesCopied }, { v: { ...bytesCopied, unit: 'files' } }, undefined, undefined, 'schema.v.unit is "bytes" here and "files" in the memory'],
    ['a help', { v: bytesCopied }, { v: { ...bytesCopied, help: 'Other' } }, undefined, undefined, 'schema.v.help is "Bytes written to the destination" here and "Other" in the memory'],
    ['a metric the memory lacks', { a: bytesCopied, b: filesCopied }, { a: bytesCopied }, undefined, undefined, "schema.b is not in the memory's definition"],
    ['a metric the memory has more', { a: bytesCopied }, { a: bytesCopied, b: filesCopied }, undefined, undefined, "the memory's definition has schema.b, which this one has not"],
    ['the order of metrics', { a: bytesCopied, b: filesCopied }, { b: filesCopied, a: bytesCopied }, undefined, undefined, 'metric 1 is schema.a here and schema.b in the memory'],
    ['the namespace', { a: bytesCopied }, { a: bytesCopied }, { namespace: 'copy' }, { namespace: 'copy.v2' }, 'the namespace is "copy" here and "copy.v2" in the memory'],
    ['the rate limiter', { a: bytesCopied }, { a: bytesCopied }, { rateLimit: ['a'] }, undefined, 'options.rateLimit is {"counters":["a"],"start":"","max":""} here and null in the memory'],
  ] as const)('refuses a handle whose definition differs in %s, naming the first difference', async (_title, here, there, hereOptions, thereOptions, difference) => {
    const error = await attachError(defineStats(here, hereOptions), defineStats(there, thereOptions));
    expect(error.message).toBe(`attach: handle.memory holds another definition: ${difference}; attachStats(handle) joins the stats of whatever definition a memory holds`);
  });

  it("refuses a MigrationStats handle, and MigrationStats.attach refuses a user definition's", async () => {
    const qemu = await MigrationStats.create();
    const error = await CopyStats.attach(qemu.handle, { backend }).catch((e: unknown) => e);
    expect(error).toEqual(
      new TypeError(
        'attach: handle.memory holds another definition: the namespace is "" here and "qemu.migration" in the memory; attachStats(handle) joins the stats of whatever definition a memory holds',
      ),
    );
    const user = await CopyStats.create();
    await expect(MigrationStats.attach(user.handle, { backend })).rejects.toThrow(
      new TypeError(
        `MigrationStats.attach: handle.memory holds other stats than QEMU's migration counters: the namespace is "qemu.migration" here and "" in the memory; attachStats(handle) joins the stats of whatever definition a memory holds`,
      ),
    );
  });

  it('joins with attachStats: the same values and property names, and shared updates', async () => {
    const stats = await CopyStats.create();
    stats.bytesCopied.add(4096);
    stats.queueDepth.set(2);
    stats.bytesPerWorker.at(7).add(3);
    stats.copyLatency.record(U64_MAX);
    stats.rateSet(5000);
    const seen = (await attachStats(stats.handle, { backend })) as RateLimitedStats;
    expect(seen).toBeInstanceOf(RateLimitedStats);
    expect(seen).toBeInstanceOf(SharedStats);
    expect(MigrationStats.isMigrationStats(seen)).toBe(false);
    expect(Object.keys(seen)).toEqual(Object.keys(stats));
    expect(seen.definition).toEqual(CopyStats.definition);
    expect(seen.snapshot()).toEqual(stats.snapshot());
    for (const name of COPY_NAMES) {
      const metric = (seen as unknown as Record<string, unknown>)[name];
      expect(metric).toBe(seen.metric(name));
      expect(Object.getPrototypeOf(metric)).toBe(Object.getPrototypeOf(stats.metric(name)));
    }
    expect(seen.rateGet()).toBe(500n);
    (seen.metric('bytesPerWorker') as StatVector).at(7).add(4);
    (seen.metric('copyLatency') as Histogram).record(1);
    expect(stats.bytesPerWorker.at(7).get()).toBe(7n);
    expect(stats.copyLatency.count()).toBe(2n);
    expect(seen.transferredBytes()).toBe(4096n);
  });

  it('joins a MigrationStats handle with attachStats as a MigrationStats', async () => {
    const qemu = await MigrationStats.create();
    qemu.zeroPages.add(3);
    const seen = await attachStats(qemu.handle, { backend });
    expect(seen).toBeInstanceOf(MigrationStats);
    expect(MigrationStats.isMigrationStats(seen)).toBe(true);
    const same = seen as MigrationStats;
    expect(same.zeroPages.get()).toBe(3n);
    same.addMultifdPacket(1, 2, 3);
    expect(qemu.zeroPages.get()).toBe(5n);
    expect(same.counters).toHaveLength(15);
  });

  it('refuses what is not a handle', async () => {
    for (const handle of [null, {}, { memory: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }) }]) {
      await expect(attachStats(handle as never, { backend })).rejects.toThrow(TypeError);
    }
    await expect(attachStats((await CopyStats.create()).handle, { backend: 'asm' as BackendName })).rejects.toThrow(TypeError);
  });
});
