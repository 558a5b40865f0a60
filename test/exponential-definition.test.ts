// Exponential histograms in a definition: what defineStats refuses (naming the field), what the
// canonical definition and the layout hold (and that log-linear definitions keep the JSON and the
// layout they had), attach and attachStats of such a memory on both backends, the table written by
// create() alone and checked by attach, and the classic exposition (Prometheus text, OpenMetrics,
// promtool) that stays correct: one `le` per bucket that counts something, then `+Inf`.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { attachStats, defineStats, prometheusText, type BackendName, type DefineStatsOptions, type Histogram, type StatsSchema } from '../dist/index.js';
import { EXP_TABLE_BYTES } from '../dist/backend/abi.js';
import { MAX_CELLS } from '../dist/definition.js';
import { modelIndex } from './exp-model.js';
import { readExposition } from './exposition.js';
import { BACKENDS, layoutOf } from './helpers.js';
import { gate } from './requirements.js';
import { requireTool } from './tools.js';

const exp = (extra: object = {}) => ({ kind: 'histogram' as const, unit: 'microseconds', help: 'Task run time', scale: 3, ...extra });

/** The error defineStats throws for `h`, which must be of exactly `type`. */
function refusal(h: object, type: typeof TypeError | typeof RangeError, options?: object): string {
  let thrown: unknown;
  try {
    defineStats({ h } as unknown as StatsSchema, options as DefineStatsOptions);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'defineStats accepted it').toBeInstanceOf(Error);
  expect((thrown as Error).constructor).toBe(type);
  return (thrown as Error).message;
}

describe('defineStats with scale', () => {
  it.each([
    ['buckets beside scale', { buckets: 24 }, TypeError, 'schema.h.buckets and schema.h.scale cannot both be given: scale makes exponential buckets, buckets and subBuckets log-linear ones'],
    ['subBuckets beside scale', { subBuckets: 4 }, TypeError, 'schema.h.subBuckets and schema.h.scale cannot both be given: scale makes exponential buckets, buckets and subBuckets log-linear ones'],
    ['a scale of 9', { scale: 9 }, RangeError, 'schema.h.scale must be a whole number from 0 to 8; received 9'],
    ['a scale of -1', { scale: -1 }, RangeError, 'schema.h.scale must be a whole number from 0 to 8; received -1'],
    ['a scale of 1.5', { scale: 1.5 }, RangeError, 'schema.h.scale must be a whole number from 0 to 8; received 1.5'],
    ['a scale of "3"', { scale: '3' }, TypeError, 'schema.h.scale must be a whole number from 0 to 8; received "3"'],
    ['a scale of 3n', { scale: 3n }, TypeError, 'schema.h.scale must be a whole number from 0 to 8; received 3n'],
    ['a maxValue of 0', { maxValue: 0 }, RangeError, 'schema.h.maxValue must be an integer from 1 to 2^64 − 1 (a safe-integer number or a bigint); received 0'],
    ['a maxValue of 2^64', { maxValue: 2n ** 64n }, RangeError, 'schema.h.maxValue must be an integer from 1 to 2^64 − 1 (a safe-integer number or a bigint); received 18446744073709551616n'],
    ['a maxValue of 1.5', { maxValue: 1.5 }, RangeError, 'schema.h.maxValue must be an integer from 1 to 2^64 − 1 (a safe-integer number or a bigint); received 1.5'],
    ['a maxValue of 2^53', { maxValue: 2 ** 53 }, RangeError, 'schema.h.maxValue must be an integer from 1 to 2^64 − 1 (a safe-integer number or a bigint); received 9007199254740992'],
    ['a maxValue of "100"', { maxValue: '100' }, TypeError, 'schema.h.maxValue must be an integer from 1 to 2^64 − 1 (a safe-integer number or a bigint); received "100"'],
  ] as const)('refuses %s', (_title, extra, type, message) => {
    expect(refusal(exp(extra), type)).toBe(`defineStats: ${message}`);
  });

  it('refuses maxValue without scale, and a histogram with neither buckets nor scale', () => {
    const { scale: _, ...noScale } = exp({ maxValue: 1000 });
    expect(refusal(noScale, TypeError)).toBe('defineStats: schema.h.maxValue narrows an exponential histogram, which needs schema.h.scale (0 to 8)');
    const { scale: __, ...neither } = exp();
    expect(refusal(neither, TypeError)).toMatch(/^defineStats: schema\.h\.buckets must be a whole number of buckets/);
  });

  it('takes 64 · 2^s + 3 cells at scale s (16,387 at 8): seven of scale 8 fit in 64 lanes, eight are refused by a RangeError', () => {
    const seven = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`h${i}`, exp({ scale: 8 })]));
    const Seven = defineStats(seven as unknown as StatsSchema, { lanes: 64 });
    expect(Seven.definition.metrics.map((m) => m.buckets + 1)).toEqual(Array(7).fill(16387));
    const eight = { ...seven, h7: exp({ scale: 8 }) };
    expect(() => defineStats(eight as unknown as StatsSchema, { lanes: 64 })).toThrow(
      new RangeError(`defineStats: schema needs ${8 * 16387} cells (one per value, a histogram's buckets and sum); at most ${MAX_CELLS} fit in a memory`),
    );
  });

  it('keeps scale in the canonical definition, after the other fields, and nothing else new', () => {
    const { definition } = defineStats({ h: exp({ maxValue: 1000 }), l: { kind: 'histogram', unit: 'bytes', help: 'Sizes', buckets: 24 } });
    const [h, l] = JSON.parse(JSON.stringify(definition)).metrics;
    expect(Object.keys(h).at(-1)).toBe('scale');
    expect(h).toMatchObject({ scale: 3, buckets: modelIndex(1000n, 3) + 3, subBits: 0 });
    expect(Object.keys(l)).toEqual(['name', 'kind', 'unit', 'help', 'length', 'label', 'buckets', 'subBits', 'cName', 'names']);
  });

  it('makes maxValues in one bucket, and the default and 2^64 − 1, the same definition', () => {
    // 1000 and 1001 both lie in (2^(79/8), 2^(80/8)] = 946 … 1024 at scale 3.
    expect(defineStats({ h: exp({ maxValue: 1000 }) }).definition).toEqual(defineStats({ h: exp({ maxValue: 1001n }) }).definition);
    expect(defineStats({ h: exp({ maxValue: 2n ** 64n - 1n }) }).definition).toEqual(defineStats({ h: exp() }).definition);
    expect(defineStats({ h: exp({ maxValue: 1025 }) }).definition).not.toEqual(defineStats({ h: exp({ maxValue: 1000 }) }).definition);
  });
});

describe('the layout', () => {
  it('puts the table after the cells, on a multiple of 8, when a histogram has a scale; else none, as before', async () => {
    const withTable = layoutOf(await defineStats({ h: exp(), c: { kind: 'counter', unit: 'files', help: 'Files' } }).create());
    expect(withTable.tableOffset).toBe(withTable.cellsEnd);
    expect(withTable.tableOffset % 8).toBe(0);
    expect(withTable.tableBytes).toBe(EXP_TABLE_BYTES);
    expect(withTable.definitionOffset).toBe(withTable.cellsEnd + EXP_TABLE_BYTES);
    const without = layoutOf(await defineStats({ h: { kind: 'histogram', unit: 'bytes', help: 'Sizes', buckets: 24 } }).create());
    expect([without.tableOffset, without.tableBytes, without.definitionOffset]).toEqual([0, 0, without.cellsEnd]);
  });
});

describe.each(BACKENDS)('a memory with exponential histograms, attached on the %s backend', (backend: BackendName) => {
  const Defined = defineStats({ runTime: exp(), narrow: exp({ scale: 0, maxValue: 1 << 20 }) });

  it('is rebuilt by attachStats from the memory alone, and both sides count into the same buckets', async () => {
    const stats = await Defined.create({ backend: backend === 'wasm' ? 'js' : 'wasm' });
    const seen = await attachStats(stats.handle, { backend });
    expect(seen.definition).toEqual(Defined.definition);
    const h = seen.metric('runTime') as Histogram;
    expect([h.scale, h.bucketCount]).toEqual([3, 64 * 8 + 2]);
    h.record(130);
    stats.runTime.record(130n);
    expect(stats.runTime.buckets()[stats.runTime.bucketOf(130)]).toBe(2n);
    expect((seen.metric('narrow') as Histogram).bucketCount).toBe(22);
    const again = await Defined.attach(stats.handle, { backend });
    expect(again.runTime.count()).toBe(2n);
  });

  it('is refused by a definition with a log-linear histogram of as many buckets, naming scale', async () => {
    const stats = await Defined.create({ backend });
    const Other = defineStats({ runTime: exp(), narrow: { kind: 'histogram', unit: 'microseconds', help: 'Task run time', buckets: 22 } });
    await expect(Other.attach(stats.handle, { backend })).rejects.toThrow(/^attach: handle\.memory holds another definition: schema\.narrow\.scale is undefined here and 0 in the memory/);
  });

  it('is refused when its table is not the one create() writes, and accepted as it was', async () => {
    const stats = await Defined.create({ backend });
    const { tableOffset } = layoutOf(stats);
    for (const at of [0, 2056, EXP_TABLE_BYTES - 1]) {
      const memory = new WebAssembly.Memory({ initial: stats.handle.memory.buffer.byteLength / 65536, maximum: stats.handle.memory.buffer.byteLength / 65536, shared: true });
      const bytes = new Uint8Array(memory.buffer);
      bytes.set(new Uint8Array(stats.handle.memory.buffer));
      bytes[tableOffset + at]! ^= 1;
      const handle = { ...stats.handle, memory };
      const message = `handle.memory has a damaged header: its exponential histograms' table (${EXP_TABLE_BYTES} bytes at ${tableOffset}) is not the one create() writes`;
      await expect(Defined.attach(handle, { backend })).rejects.toThrow(`attach: ${message}`);
      await expect(attachStats(handle, { backend })).rejects.toThrow(`attachStats: ${message}`);
      bytes[tableOffset + at]! ^= 1;
      expect((await Defined.attach(handle, { backend })).runTime.scale).toBe(3);
    }
  });

  it('is never written to by an attacher: the table and every cell stay as create() left them', async () => {
    const stats = await Defined.create({ backend });
    const before = new Uint8Array(stats.handle.memory.buffer).slice();
    for (const b of BACKENDS) {
      await Defined.attach(stats.handle, { backend: b, lane: false });
      await attachStats(stats.handle, { backend: b, lane: false });
    }
    expect(new Uint8Array(stats.handle.memory.buffer)).toEqual(before);
  });
});

/** Runs `promtool check metrics` on a text. */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync(requireTool('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe.each(BACKENDS)('the classic exposition of exponential histograms (%s backend)', (backend: BackendName) => {
  const S = defineStats({ fine: exp({ scale: 8 }), coarse: exp({ scale: 1, maxValue: 100 }) }, { namespace: 'pool' });
  const VALUES = [0n, 1n, 2n, 3n, 130n, 131n, 1000n, 65536n, 2n ** 40n, 2n ** 64n - 1n];

  async function recorded() {
    const stats = await S.create({ backend });
    for (const v of VALUES) {
      stats.fine.record(v);
      stats.coarse.record(v);
    }
    return stats;
  }

  it("writes one le per bucket that counts something, in increasing order, each counting the values up to it, then +Inf", async () => {
    const stats = await recorded();
    for (const format of ['prometheus', 'openmetrics'] as const) {
      // The strict reader checks the order of the le, the cumulative counts and _count against +Inf.
      const families = readExposition(prometheusText(stats, { format }), format);
      for (const [family, s, top] of [['pool_fine', 8, 64 * 256 - 1], ['pool_coarse', 1, modelIndex(100n, 1)]] as const) {
        const buckets = families.find((f) => f.name === family)!.samples.filter((sample) => sample.name === `${family}_bucket`);
        // The buckets the values fall in, the top one (written as +Inf only) aside.
        const counting = new Set(VALUES.map((v) => (v === 0n ? 'zero' : Math.min(modelIndex(v, s), top))).filter((b) => b !== top));
        expect(buckets, `${family} ${format}`).toHaveLength(counting.size + 1);
        expect(buckets.at(-1)!.labels.le).toBe('+Inf');
        if (format === 'openmetrics') continue;
        for (const { labels, value } of buckets) {
          const le = labels.le === '+Inf' ? null : BigInt(labels.le!);
          expect(value, `${family} le=${labels.le}`).toBe(String(VALUES.filter((v) => le === null || v <= le).length));
          // Each le is the highest integer of its bucket.
          if (le !== null && le > 0n) expect(modelIndex(le + 1n, s)).toBeGreaterThan(modelIndex(le, s));
        }
      }
    }
  });

  it('passes promtool check metrics', async (ctx) => {
    gate('prometheus').check(ctx);
    expect(promtoolCheck(prometheusText(await recorded()))).toEqual({ status: 0, output: '' });
  });
});
