import { describe, expect, it } from 'vitest';
import { MigrationStats } from '../dist/index.js';
import { BACKENDS, fresh, values } from './helpers.js';
import { revokedProxy } from './hostile.js';

// Each class of bad input, with the error it must raise and how its value is shown.
const BAD: [label: string, value: unknown, error: typeof TypeError | typeof RangeError, shown: string][] = [
  ['negative number', -1, RangeError, 'received -1, which is negative'],
  ['negative bigint', -1n, RangeError, 'received -1n, which is negative'],
  ['fraction', 1.5, RangeError, 'received 1.5, which is not an integer'],
  ['NaN', NaN, RangeError, 'received NaN, which is not a number'],
  ['+Infinity', Infinity, RangeError, 'received Infinity, which is not finite'],
  ['-Infinity', -Infinity, RangeError, 'received -Infinity, which is negative'],
  ['2^53 as a number', 2 ** 53, RangeError, 'received 9007199254740992, which is 2^53 or more'],
  ['2^64 as a number', 2 ** 64, RangeError, 'received 18446744073709552000, which is 2^53 or more'],
  ['2^64 as a bigint', 2n ** 64n, RangeError, 'received 18446744073709551616n, which is above 2^64 − 1'],
  ['a string', '5', TypeError, 'received "5"'],
  ['null', null, TypeError, 'received null'],
  ['undefined', undefined, TypeError, 'received undefined'],
  ['an object', { valueOf: () => 5 }, TypeError, 'received an object (Object)'],
  ['an array', [5], TypeError, 'received an object (Array)'],
  ['a boolean', true, TypeError, 'received true'],
  ['a symbol', Symbol('x'), TypeError, 'received Symbol(x)'],
  // Objects whose description runs code that throws: the error must still be the library's own.
  ['a revoked Proxy', revokedProxy(), TypeError, 'received an object'],
  ['an object whose Symbol.toStringTag getter throws', { get [Symbol.toStringTag]() { throw new Error('tag'); } }, TypeError, 'received an object'],
  ['a Proxy whose traps throw', new Proxy({}, { get() { throw new Error('trap'); } }), TypeError, 'received an object'],
];


const ALLOWED = 'must be a bigint from 0n to 18446744073709551615n (2^64 − 1) or a non-negative safe-integer number';

describe.each(BACKENDS)('bad input on the %s backend', (backend) => {
  describe.each(['add', 'set', 'min', 'max'] as const)('Stat64.%s', (op) => {
    it.each(BAD)('rejects %s, naming argument, value and what is allowed, and changes nothing', async (_label, value, error, shown) => {
      const stats = await fresh(backend);
      stats.counters.forEach((c, i) => c.set(BigInt(i) * 7n + 3n));
      const before = values(stats);
      for (const counter of stats.counters) {
        const call = () => (counter[op] as (v: unknown) => void)(value);
        expect(call).toThrow(error);
        expect(call).toThrow(`${counter.name}.${op}: value ${ALLOWED}; ${shown}`);
      }
      expect(values(stats)).toEqual(before);
    });
  });

  it.each(BAD)('migrationRateSet rejects %s and keeps the old budget', async (_label, value, error, shown) => {
    const stats = await fresh(backend);
    stats.migrationRateSet(1000);
    const before = values(stats);
    const call = () => stats.migrationRateSet(value as number);
    expect(call).toThrow(error);
    expect(call).toThrow(`migrationRateSet: bytesPerSecond ${ALLOWED}; ${shown}`);
    expect(values(stats)).toEqual(before);
  });

  it('addMultifdPacket rejects a bad argument by name and adds nothing', async () => {
    const stats = await fresh(backend);
    const before = values(stats);
    expect(() => stats.addMultifdPacket(1, -1, 3)).toThrow(RangeError);
    expect(() => stats.addMultifdPacket(1, -1, 3)).toThrow('addMultifdPacket: zeroPages must be a non-negative safe-integer number; received -1');
    expect(() => stats.addMultifdPacket(1, 2, 2 ** 53)).toThrow('addMultifdPacket: bytes must be');
    expect(() => stats.addMultifdPacket('1' as unknown as number, 2, 3)).toThrow(TypeError);
    expect(() => stats.addMultifdPacket(1n as unknown as number, 2, 3)).toThrow('normalPages must be a non-negative safe-integer number; received 1n');
    expect(values(stats)).toEqual(before);
  });

  it.each(['normalPages', 'zeroPages', 'bytes'] as const)('addMultifdPacket rejects every bad-input class as %s, by name, and adds nothing', async (name) => {
    const stats = await fresh(backend);
    stats.addMultifdPacket(1, 2, 3);
    const before = values(stats);
    // A bigint is refused too, as a TypeError: addMultifdPacket takes numbers only.
    for (const [label, value, error, shown] of BAD) {
      const args: unknown[] = [5, 6, 7];
      args[['normalPages', 'zeroPages', 'bytes'].indexOf(name)] = value;
      const call = () => (stats.addMultifdPacket as (...a: unknown[]) => void)(...args);
      expect(call, label).toThrow(typeof value === 'bigint' ? TypeError : error);
      expect(call, label).toThrow(`addMultifdPacket: ${name} must be a non-negative safe-integer number; ${shown.replace(/, which .*/, '')}`);
    }
    expect(values(stats)).toEqual(before);
  });

  it('accepts -0 as zero', async () => {
    const stats = await fresh(backend);
    stats.zeroPages.add(-0);
    stats.zeroPages.set(-0);
    expect(stats.zeroPages.get()).toBe(0n);
  });
});

describe('options', () => {
  it.each([
    [{ backend: 'wasm32' }, "MigrationStats.create: options.backend must be 'wasm' or 'js'; received \"wasm32\""],
    [{ lane: 'yes' }, 'MigrationStats.create: options.lane must be true or false; received "yes"'],
    ['js', "MigrationStats.create: options must be an object such as { backend: 'wasm' | 'js' }; received \"js\""],
    [{ lanes: true }, 'MigrationStats.create: options.lanes is not an option; the options are backend, lane'],
  ])('create rejects %j with a TypeError saying what is allowed', async (options, message) => {
    await expect(MigrationStats.create(options as never)).rejects.toThrow(TypeError);
    await expect(MigrationStats.create(options as never)).rejects.toThrow(message);
  });
});
