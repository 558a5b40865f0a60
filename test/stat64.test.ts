import { describe, expect, it } from 'vitest';
import { COUNTER_NAMES, COUNTERS, type Stat64 } from '../dist/index.js';
import { BACKENDS, fresh, TWO_63, U64_MAX } from './helpers.js';

type Step = [op: 'add' | 'set' | 'min' | 'max', arg: bigint, expected: bigint];

// Worked examples of QEMU's Stat64 arithmetic (include/qemu/stats64.h), applied in order to one counter starting at 0.
const STAT64_EXAMPLES: Step[] = [
  ['add', 4294967295n, 4294967295n],
  ['add', 1n, 4294967296n],
  ['set', U64_MAX, U64_MAX],
  ['add', 1n, 0n],
  ['set', U64_MAX, U64_MAX],
  ['add', U64_MAX, 18446744073709551614n],
  ['set', 0n, 0n],
  ['add', 9223372036854775808n, 9223372036854775808n],
  ['add', 9223372036854775808n, 0n],
  ['set', 100n, 100n],
  ['min', 200n, 100n],
  ['min', 50n, 50n],
  ['max', 40n, 50n],
  ['max', 4294967296n, 4294967296n],
  ['set', 4294967296n, 4294967296n],
  ['min', 4294967297n, 4294967296n],
  ['min', 4294967295n, 4294967295n],
  ['set', 12345678901234567890n, 12345678901234567890n],
  ['add', 7000000000000000000n, 898934827525016274n],
];

describe.each(BACKENDS)('Stat64 on the %s backend', (backend) => {
  it.each(COUNTER_NAMES)('follows every Stat64 example on %s, with bigint arguments', async (name) => {
    const stats = await fresh(backend);
    const counter = stats[name];
    for (const [op, arg, expected] of STAT64_EXAMPLES) {
      counter[op](arg);
      expect(counter.get(), `${op} ${arg}`).toBe(expected);
    }
  });

  it.each(COUNTER_NAMES)('follows the examples with number arguments where they are safe integers (%s)', async (name) => {
    const stats = await fresh(backend);
    const counter = stats[name];
    for (const [op, arg, expected] of STAT64_EXAMPLES) {
      counter[op](arg <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(arg) : arg);
      expect(counter.get(), `${op} ${arg}`).toBe(expected);
    }
  });

  it('starts every counter at zero', async () => {
    const stats = await fresh(backend);
    for (const counter of stats.counters) expect(counter.get()).toBe(0n);
  });

  it('reads 2^64 − 1 as an unsigned bigint, never negative', async () => {
    const stats = await fresh(backend);
    stats.zeroPages.set(U64_MAX);
    stats.rateLimitMax.set(U64_MAX);
    expect(stats.zeroPages.get()).toBe(18446744073709551615n);
    expect(stats.rateLimitMax.get()).toBe(18446744073709551615n);
  });

  it('keeps values at and above 2^63 exact through add, min and max', async () => {
    const stats = await fresh(backend);
    for (const counter of [stats.precopyBytes, stats.dirtyBytesLastSync]) {
      counter.set(TWO_63);
      counter.add(TWO_63 - 1n);
      expect(counter.get()).toBe(U64_MAX);
      counter.min(TWO_63 + 5n);
      expect(counter.get()).toBe(TWO_63 + 5n);
      counter.max(TWO_63 + 4n);
      expect(counter.get()).toBe(TWO_63 + 5n);
      counter.max(U64_MAX - 1n);
      expect(counter.get()).toBe(U64_MAX - 1n);
      counter.add(3);
      expect(counter.get()).toBe(1n);
    }
  });

  it('wraps repeated adds modulo 2^64 on every counter', async () => {
    const stats = await fresh(backend);
    for (const counter of stats.counters) {
      counter.set(U64_MAX - 2n);
      counter.add(1);
      counter.add(1n);
      expect(counter.get()).toBe(U64_MAX);
      counter.add(Number.MAX_SAFE_INTEGER);
      expect(counter.get()).toBe(BigInt(Number.MAX_SAFE_INTEGER) - 1n);
    }
  });

  it('leaves the value unchanged when min or max is given an equal value', async () => {
    const stats = await fresh(backend);
    stats.normalPages.set(77n);
    stats.normalPages.min(77);
    stats.normalPages.max(77n);
    expect(stats.normalPages.get()).toBe(77n);
  });

  it('returns exact numbers from getNumber up to 2^53 − 1', async () => {
    const stats = await fresh(backend);
    for (const counter of [stats.zeroPages, stats.dirtyPagesRate]) {
      expect(counter.getNumber()).toBe(0);
      counter.set(Number.MAX_SAFE_INTEGER);
      expect(counter.getNumber()).toBe(Number.MAX_SAFE_INTEGER);
      counter.set(4294967296n);
      expect(counter.getNumber()).toBe(4294967296);
    }
  });

  it('throws RangeError from getNumber above 2^53 − 1 instead of rounding', async () => {
    const stats = await fresh(backend);
    for (const counter of [stats.zeroPages, stats.dirtyPagesRate]) {
      for (const big of [2n ** 53n, 2n ** 53n + 1n, TWO_63, U64_MAX]) {
        counter.set(big);
        expect(() => counter.getNumber()).toThrow(RangeError);
        expect(() => counter.getNumber()).toThrow(`the value ${big} is above Number.MAX_SAFE_INTEGER`);
      }
    }
  });

  it('names each counter after QEMU (C name, unit, kind)', async () => {
    const stats = await fresh(backend);
    expect(stats.zeroPages.cName).toBe('zero_pages');
    expect(stats.zeroPages.kind).toBe('add');
    expect(stats.rateLimitMax.cName).toBe('rate_limit_max');
    expect(stats.rateLimitMax.kind).toBe('set');
    expect(stats.counters.map((c) => c.name)).toEqual([...COUNTER_NAMES]);
  });

  it('zeroes all 15 counters on reset, as migrate_init does', async () => {
    const stats = await fresh(backend);
    stats.counters.forEach((c, i) => c.set(BigInt(i + 1) * 1000000000000n));
    stats.reset();
    for (const counter of stats.counters) expect(counter.get()).toBe(0n);
    stats.zeroPages.add(5);
    expect(stats.zeroPages.get()).toBe(5n);
  });

  it('reads every counter into one object with snapshot', async () => {
    const stats = await fresh(backend);
    stats.zeroPages.add(3);
    stats.dirtyPagesRate.set(U64_MAX);
    const snap = stats.snapshot();
    expect(Object.keys(snap)).toEqual([...COUNTER_NAMES]);
    expect(snap.zeroPages).toBe(3n);
    expect(snap.dirtyPagesRate).toBe(U64_MAX);
    expect(snap.normalPages).toBe(0n);
  });

  it('adds one multifd packet into normal pages, zero pages and multifd bytes', async () => {
    const stats = await fresh(backend);
    stats.addMultifdPacket(100, 28, 1344 + 100 * 4096);
    stats.addMultifdPacket(0, 128, 1344);
    expect(stats.normalPages.get()).toBe(100n);
    expect(stats.zeroPages.get()).toBe(156n);
    expect(stats.multifdBytes.get()).toBe(BigInt(2 * 1344 + 100 * 4096));
  });

  it('keeps counting exactly after close() gives the lane back', async () => {
    const stats = await fresh(backend);
    expect(stats.lane).toBeGreaterThanOrEqual(0);
    stats.zeroPages.add(10);
    stats.close();
    expect(stats.lane).toBe(-1);
    stats.zeroPages.add(5);
    stats.addMultifdPacket(1, 2, 3);
    expect(stats.zeroPages.get()).toBe(17n);
    expect(stats.normalPages.get()).toBe(1n);
    stats.close();
    expect(stats.zeroPages.get()).toBe(17n);
  });
});

describe('the counter table', () => {
  it('cannot be changed by a user', () => {
    expect(Object.isFrozen(COUNTER_NAMES)).toBe(true);
    expect(Object.isFrozen(COUNTERS)).toBe(true);
    for (const info of COUNTERS) expect(Object.isFrozen(info)).toBe(true);
    expect(COUNTERS.map((c) => c.name)).toEqual([...COUNTER_NAMES]);
  });
});

describe('getNumber when another thread changes the value between its two reads', () => {
  // getNumber reads once as a number (−1 above 2^53 − 1) and, only when that does not fit, once
  // more as a bigint for the error. A core that answers as if a set(5) from another thread came
  // in between makes that interleaving certain instead of a matter of timing. The Stat64 is made
  // the way stats objects make theirs (the package does not export this).
  const core = (second: bigint) => ({ sumNum: () => -1, loadNum: () => -1, sum: () => second, load: () => second });
  const make = async (second: bigint, name: string, laned: boolean): Promise<Stat64> => {
    const { stat64Internals } = (await import('../dist/stat64.js')) as unknown as {
      stat64Internals: { make(info: object, place: object, lane: number, holder: object): Stat64 };
    };
    const info = { name, cName: name, unit: 'pages', kind: laned ? 'add' : 'set', where: name };
    return stat64Internals.make(info, { core: core(second), base: 64, first: laned ? 1024 : -1, geometry: 128 + 4 }, -1, {});
  };

  it.each([['zeroPages', true], ['dirtyPagesRate', false]] as const)('returns the value read again when it fits in a number by then (%s)', async (name, laned) => {
    const counter = await make(5n, name, laned);
    expect(counter.getNumber()).toBe(5);
  });

  it('throws with the value it read again, which is above 2^53 − 1', async () => {
    const counter = await make(TWO_63, 'zeroPages', true);
    expect(() => counter.getNumber()).toThrow(`zeroPages.getNumber: the value ${TWO_63} is above Number.MAX_SAFE_INTEGER`);
  });
});
