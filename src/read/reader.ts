/**
 * The reading core: the one check of a stats argument and how every reader (the exporters,
 * `isMigrationStats`, the QEMU reports) reads it. An instance of this copy of the library is read
 * through its own metrics; a `MigrationStats` of another copy (a bundle) through its counters'
 * methods, taken once; another copy's stats of any other definition through their shared memory.
 * Each metric is read as its kind says ({@link kindOf}).
 * @packageDocumentation
 */
import { LAYOUT_VERSION } from '../backend/abi.js';
import { COUNTERS, QEMU_DEFINITION, type CounterName } from '../counters.js';
import { canShareMemory, SharedStats, STATS_TOKEN, type Metric } from '../defined-stats.js';
import { attachParts, type StatsParts } from '../stats-parts.js';
import type { Definition, MetricSpec } from '../definition.js';
import { describe, errorReason, isU64, typeFault } from '../errors.js';
import { checkMemory } from '../handle.js';
import { exact, kindOf, KINDS, type Exact } from '../kinds.js';
import type { AnyKindDescription } from '../kinds-sparse.js';

export type { SharedStats } from '../defined-stats.js';

/** Marks instances of `MigrationStats` across copies of this library (a bundle carries its own class). @internal */
export const QEMU_BRAND = Symbol.for('migration-stats.MigrationStats');

/** The parts of a `MigrationStats` of this copy that the reports use. @internal */
export interface OwnQemuStats {
  readonly [name: string]: unknown;
  migrationTransferredBytes(): bigint;
  migrationRateReset(): void;
}

/** Whether `value` is a `MigrationStats` of this copy: told by the class itself (it reads a private field). */
let isOwnQemu: (value: object) => boolean = () => false;

/** Called once by `MigrationStats` with its check of its own instances. @internal */
export function registerQemuInstances(check: (value: object) => boolean): void {
  isOwnQemu = check;
}

/**
 * What the QEMU reports read of a stats argument (a `MigrationStats`). It is taken once, when the
 * argument is accepted ({@link requireStats}), so nothing the caller changes later reaches the reports.
 * @internal
 */
export interface StatsReader {
  /**
   * Counter `name` now (one atomic read).
   * @throws TypeError naming the counter when the counters of another copy fail to answer (named
   *   by the public call, see `fault`)
   */
  get(name: CounterName): bigint;
  /** `migration_transferred_bytes()` now: `qemuFileTransferred + multifdBytes + rdmaBytes`, mod 2^64. */
  transferredBytes(): bigint;
  /** `migration_rate_reset()`: the rate-limit window starts at the bytes transferred now. */
  rateReset(): void;
}

/**
 * How one metric is read, as its kind says.
 * @internal
 */
export type MetricReader = {
  [S in keyof typeof KINDS]: {
    readonly spec: MetricSpec;
    readonly shape: S;
    readonly kind: (typeof KINDS)[S];
    /** One read of every cell, as bigints. */
    read(): ReturnType<(typeof KINDS)[S]['read']>;
    /**
     * One read of every cell, as the kind's labelled samples, into `out`: numbers where exact. A
     * sparse kind also writes the slot of each into `which` and returns how many it gives.
     */
    samples(out: Exact[], which: number[]): number | void;
  };
}[keyof typeof KINDS];

/** What the exporters read of any stats argument, taken once when it is accepted ({@link requireAnyStats}). @internal */
export interface AnyStatsReader {
  /** The definition the stats were made from (QEMU's for a `MigrationStats`). */
  readonly definition: Definition;
  /** A reader for each metric, in the definition's order. */
  readonly metrics: readonly MetricReader[];
}

/** What the one check of a stats argument finds: how to read it, and QEMU's reader for a `MigrationStats`. */
interface Found extends AnyStatsReader {
  readonly qemu: StatsReader | undefined;
}

/** The methods a counter of another copy of the library must have. */
const COUNTER_METHODS = ['get', 'set', 'add', 'min', 'max', 'getNumber'] as const;

/** One counter of another copy: the object and the two methods the reports call, read once. */
interface ForeignCounter {
  readonly counter: object;
  readonly get: (...args: unknown[]) => unknown;
  readonly set: (...args: unknown[]) => unknown;
}

/** A metric's reader: its kind, and its read as bigints and as samples. */
function readerOf(spec: MetricSpec, read: () => unknown, samples: (out: Exact[], which: number[]) => number | void): MetricReader {
  const kind = kindOf(spec);
  return { spec, shape: kind.shape, kind, read, samples } as MetricReader;
}

/** The reader of each metric of a stats object of this copy: its own metric objects, taken once. */
function metricReaders(stats: SharedStats): MetricReader[] {
  return stats.definition.metrics.map((spec) => {
    const metric = stats.metric(spec.name);
    const kind = kindOf(spec) as AnyKindDescription<Metric, unknown>;
    return readerOf(spec, () => kind.read(metric), (out, which) => kind.samples(metric, out, which));
  });
}

/** The readers of this copy's instances, made once per instance (its metrics are frozen properties). */
const ownReaders = new WeakMap<SharedStats, Found>();

/** An instance of this copy: its own methods, which read the shared memory and cannot fail. */
function ownReader(stats: SharedStats): Found {
  let found = ownReaders.get(stats);
  if (found !== undefined) return found;
  const qemu = stats as unknown as OwnQemuStats;
  const reports: StatsReader | undefined = isOwnQemu(stats)
    ? {
        get: (name) => (qemu[name] as { get(): bigint }).get(),
        transferredBytes: () => qemu.migrationTransferredBytes(),
        rateReset: () => qemu.migrationRateReset(),
      }
    : undefined;
  found = { definition: stats.definition, metrics: metricReaders(stats), qemu: reports };
  ownReaders.set(stats, found);
  return found;
}

/**
 * Checks that an object of another copy of the library behaves as a `MigrationStats`, every access
 * guarded, and reads its counters' methods once.
 * @returns a reader that calls those methods and checks what they answer, or `undefined`
 */
function foreignReader(value: object): Found | undefined {
  const counters = new Map<CounterName, ForeignCounter>();
  try {
    const object = value as Record<string | symbol, unknown>;
    if (object[QEMU_BRAND] !== LAYOUT_VERSION) return undefined;
    // `handle` throws by design where this thread cannot share memory (a page not cross-origin isolated).
    if (canShareMemory()) {
      const handle = object.handle;
      if (handle === null || typeof handle !== 'object') return undefined;
      checkMemory((handle as { memory?: unknown }).memory);
    }
    for (const { name } of COUNTERS) {
      const counter = object[name];
      if (counter === null || typeof counter !== 'object') return undefined;
      const members = counter as Record<string, unknown>;
      const methods: Record<string, unknown> = {};
      for (const method of COUNTER_METHODS) methods[method] = members[method];
      if (members.name !== name || COUNTER_METHODS.some((method) => typeof methods[method] !== 'function')) return undefined;
      const found: ForeignCounter = { counter, get: methods.get as ForeignCounter['get'], set: methods.set as ForeignCounter['set'] };
      if (!isU64(Reflect.apply(found.get, counter, []))) return undefined;
      counters.set(name, found);
    }
  } catch {
    return undefined;
  }
  const call = (name: CounterName, method: 'get' | 'set', args: unknown[]): unknown => {
    const found = counters.get(name)!;
    try {
      return Reflect.apply(found[method], found.counter, args);
    } catch (error) {
      throw typeFault(`stats.${name}.${method}() failed (${errorReason(error)}); stats must be a MigrationStats (from MigrationStats.create or attach)`);
    }
  };
  const get = (name: CounterName): bigint => {
    const answer = call(name, 'get', []);
    if (isU64(answer)) return answer;
    throw typeFault(`stats.${name}.get() must answer a bigint from 0n to 18446744073709551615n (2^64 − 1); it answered ${describe(answer)}`);
  };
  const transferredBytes = (): bigint => BigInt.asUintN(64, get('qemuFileTransferred') + get('multifdBytes') + get('rdmaBytes'));
  const qemu: StatsReader = { get, transferredBytes, rateReset: () => void call('rateLimitStart', 'set', [transferredBytes()]) };
  // QEMU's definition has one value per metric: each is read through its counter's get().
  const metrics = QEMU_DEFINITION.metrics.map((spec) => {
    const read = (): bigint => get(spec.name as CounterName);
    return readerOf(spec, read, (out) => void (out[0] = exact(read())));
  });
  return { definition: QEMU_DEFINITION, metrics, qemu };
}

/**
 * Reads a stats object of another copy of the library, of any definition, through the memory its
 * handle points at, as `attachStats` would (the memory carries the definition); the object's own
 * methods are not called.
 * @returns the reader, `undefined` when `value` is not such an object, or why it cannot be read here
 */
function memoryReader(value: object): Found | string | undefined {
  if (!SharedStats.isStats(value)) return undefined;
  if (!canShareMemory()) {
    return 'it is a stats object of another copy of migration-stats, which this copy reads through its shared memory, and this thread cannot share memory (the page is not cross-origin isolated); pass stats made by this copy';
  }
  try {
    const handle = (value as { handle?: unknown }).handle;
    const parts = attachParts('create()', handle, 'js');
    return ownReader(new (SharedStats as unknown as new (token: symbol, parts: StatsParts, claim: boolean) => SharedStats)(STATS_TOKEN, parts, false));
  } catch {
    return undefined;
  }
}

/**
 * The one check of a stats argument, and how it is read (see the module's description).
 * @returns the reader, `undefined` when `value` is not a stats object, or why it cannot be read here
 * @internal
 */
export function statsReader(value: unknown): Found | string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  // Known by its private field, as a Proxy or a copy is not.
  if (SharedStats.isInstance(value)) return ownReader(value);
  let branded: boolean;
  try {
    branded = (value as Record<symbol, unknown>)[QEMU_BRAND] !== undefined;
  } catch {
    return undefined;
  }
  return branded ? foreignReader(value) : memoryReader(value);
}

/**
 * Checks the `stats` argument of the QEMU reports and reads it once.
 * @param stats - what the caller passed
 * @returns how the call reads the counters
 * @throws TypeError naming the call and the value when `stats` is not a `MigrationStats`
 * @internal
 */
export function requireStats(stats: unknown): StatsReader {
  const found = statsReader(stats);
  if (typeof found === 'object' && found.qemu !== undefined) return found.qemu;
  throw typeFault(`stats must be a MigrationStats (from MigrationStats.create or attach); received ${describe(stats)}`);
}

/**
 * Checks the `stats` argument of the exporters and reads it once: any stats object of this library.
 * @param stats - what the caller passed
 * @returns how the call reads each metric
 * @throws TypeError naming the call and the value when `stats` is not a stats object
 * @internal
 */
export function requireAnyStats(stats: unknown): AnyStatsReader {
  const found = statsReader(stats);
  if (typeof found === 'object') return found;
  const reason = found === undefined ? '' : `: ${found}`;
  throw typeFault(`stats must be a stats object (from defineStats(…).create or attach, attachStats, or MigrationStats.create or attach); received ${describe(stats)}${reason}`);
}
