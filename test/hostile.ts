/**
 * Values that attack a function through its argument: a revoked Proxy, Proxies whose traps throw,
 * getters that throw or answer differently on each read, and forged stats objects. Used by the
 * argument tests and by the fuzzer of the stress suite.
 */
import { MigrationStats } from '../dist/index.js';

/** A Proxy that was revoked: every operation on it throws the engine's TypeError. */
export function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** A Proxy of `target` whose every trap throws an Error of its own. */
export function throwingProxy(target: object = {}): object {
  const fail = (trap: string) => () => {
    throw new Error(`trap ${trap}`);
  };
  return new Proxy(target, {
    get: fail('get'),
    has: fail('has'),
    ownKeys: fail('ownKeys'),
    getOwnPropertyDescriptor: fail('getOwnPropertyDescriptor'),
    getPrototypeOf: fail('getPrototypeOf'),
  });
}

/** An object whose property `key` is a getter that throws an Error of its own. */
export function throwingGetter(key: string, base: Record<string, unknown> = {}): object {
  return Object.defineProperty({ ...base }, key, {
    enumerable: true,
    get() {
      throw new Error(`getter ${key}`);
    },
  });
}

/**
 * An object whose property `key` answers `first` on its first read and `later` on every read after
 * it: a check that reads once and a use that reads again see different values.
 * @returns the object and how many times the property was read
 */
export function flippingGetter(key: string, first: unknown, later: unknown, base: Record<string, unknown> = {}): { object: object; reads: () => number } {
  let reads = 0;
  const object = Object.defineProperty({ ...base }, key, {
    enumerable: true,
    get() {
      reads++;
      return reads === 1 ? first : later;
    },
  });
  return { object, reads: () => reads };
}

/** The brand symbol that `MigrationStats` instances carry across copies of the library. */
export const BRAND = Symbol.for('migration-stats.MigrationStats');

/**
 * Objects that claim to be a `MigrationStats` but are not one: the brand alone, the brand on a copy
 * of a real instance's properties, a Proxy of a real instance, an object inheriting from one, and
 * the brand with counters whose `get` does not answer a counter value.
 */
export function forgedStats(real: MigrationStats): [label: string, forgery: object][] {
  const brand = (real as unknown as Record<symbol, unknown>)[BRAND];
  const counters = Object.fromEntries(real.counters.map((c) => [c.name, { name: c.name, get: () => 'x', add() {}, set() {}, min() {}, max() {}, getNumber: () => 0 }]));
  return [
    ['the brand alone', { [BRAND]: brand }],
    ['the brand with a made-up layout version', { ...real, [BRAND]: 999, handle: real.handle }],
    ['the brand on a copy of a real instance, without its handle', { ...real, [BRAND]: brand }],
    ['a Proxy of a real instance', new Proxy(real, {})],
    ['an object inheriting from a real instance', Object.create(real) as object],
    ['the brand with counters whose get answers a string', { [BRAND]: brand, ...counters, handle: real.handle, counters: Object.values(counters) }],
    ['a revoked Proxy', revokedProxy()],
    ['a Proxy whose traps throw', throwingProxy()],
  ];
}

/** The brand that stats objects of any definition carry across copies of the library. */
export const STATS_BRAND = Symbol.for('migration-stats.SharedStats');

/**
 * Objects that claim to be stats of any definition but are not: the brand alone or with a made-up
 * layout version, a copy of a real instance's properties, a Proxy of one, an object inheriting from
 * one, the brand with a handle that is not a live one (a memory that is not shared, a shared memory
 * without stats in it, a handle whose getter throws), and Proxies that are revoked or throw.
 */
export function forgedSharedStats(real: { handle: { memory: WebAssembly.Memory; module: WebAssembly.Module } }): [label: string, forgery: object][] {
  const brand = (real as unknown as Record<symbol, unknown>)[STATS_BRAND];
  const { module } = real.handle;
  const blank = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  return [
    ['the brand alone', { [STATS_BRAND]: brand }],
    ['the brand with a made-up layout version and a real handle', { [STATS_BRAND]: 999, handle: real.handle }],
    ['a copy of a real instance’s properties', { ...real }],
    ['a copy of a real instance’s properties with the brand', { ...real, [STATS_BRAND]: brand }],
    ['a Proxy of a real instance', new Proxy(real, {})],
    ['an object inheriting from a real instance', Object.create(real) as object],
    ['the brand with a memory that is not shared', { [STATS_BRAND]: brand, handle: { ...real.handle, memory: new WebAssembly.Memory({ initial: 1 }) } }],
    ['the brand with a shared memory that holds no stats', { [STATS_BRAND]: brand, handle: { ...real.handle, memory: blank, module } }],
    ['the brand with a handle getter that throws', Object.defineProperty({ [STATS_BRAND]: brand }, 'handle', { get: () => { throw new Error('getter handle'); } })],
    ['a revoked Proxy', revokedProxy()],
    ['a Proxy whose traps throw', throwingProxy()],
  ];
}
