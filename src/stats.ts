/**
 * `MigrationStats`: QEMU's `MigrationAtomicStats` and the functions of `migration-stats.h`, on a
 * shared WebAssembly memory that every thread attaching to the same handle sees.
 *
 * It is the stats object of QEMU's definition (`QEMU_DEFINITION`, from the counter table), with
 * QEMU's own names on top: the 15 counters as properties in struct order, `migrationRateSet` …
 * for the rate limiter, `addMultifdPacket` for a channel's hot loop.
 * @packageDocumentation
 */
import { BUFFER_DELAY as CORE_BUFFER_DELAY, LAYOUT_VERSION, RATE_LIMIT_DISABLED as CORE_RATE_LIMIT_DISABLED, XFER_LIMIT_RATIO as CORE_XFER_LIMIT_RATIO } from './backend/abi.js';
import { COUNTER_NAMES, COUNTERS, QEMU_DEFINITION, type CounterFields, type CounterName } from './counters.js';
import { defaultLanes, firstDifference, type Definition, type MetricSpec } from './definition.js';
import { ATTACH_ANY, describe, errorReason, handleError, isU64 } from './errors.js';
import { checkMemory, type MigrationStatsHandle } from './handle.js';
import {
  attachParts,
  canShareMemory,
  checkStatsOptions,
  createParts,
  registerStatsClass,
  RateLimitedStats,
  SharedStats,
  STATS_TOKEN,
  type Metric,
  type StatsOptions,
  type StatsParts,
} from './define-stats.js';
import { Histogram } from './histogram.js';
import { Stat64, stat64Internals } from './stat64.js';
import { StatVector } from './vector.js';

/** QEMU's `BUFFER_DELAY`: length of one rate-limit window, in milliseconds. */
export const BUFFER_DELAY: number = CORE_BUFFER_DELAY;
/** QEMU's `RATE_LIMIT_DISABLED`: a per-window budget of 0 means no limit. */
export const RATE_LIMIT_DISABLED: number = CORE_RATE_LIMIT_DISABLED;
/** QEMU's `XFER_LIMIT_RATIO`: rate-limit windows per second (1000 / `BUFFER_DELAY`). */
export const XFER_LIMIT_RATIO: number = CORE_XFER_LIMIT_RATIO;

export type { MigrationStatsHandle } from './handle.js';

/** Options of {@link MigrationStats.create} and {@link MigrationStats.attach}. */
export type MigrationStatsOptions = StatsOptions;

/**
 * Marks instances of `MigrationStats`, across copies of this library: a browser bundle (such as
 * `migration-stats/browser/simulate`) carries its own copy of the class, so `instanceof` against
 * another copy's class fails although the object works the same.
 */
const BRAND = Symbol.for('migration-stats.MigrationStats');


/**
 * `isCount` of errors.ts, kept beside its hot caller {@link MigrationStats.addMultifdPacket}: through
 * the shared helper the packet measured 0.1 ns slower per counter update (2.57 instead of 2.47 ns,
 * bench/ --quick), the helper's type feedback being shared with every argument check of the library.
 */
function isSafeCount(n: unknown): n is number {
  return typeof n === 'number' && ((n >>> 0) === n || (n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n)));
}

/**
 * The error of {@link MigrationStats.addMultifdPacket} for its first bad argument. Kept out of the
 * method so that the method stays small enough for V8 to inline into the caller's loop.
 */
function packetArgumentError(normalPages: unknown, zeroPages: unknown, bytes: unknown): TypeError | RangeError {
  const args: [string, unknown][] = [['normalPages', normalPages], ['zeroPages', zeroPages], ['bytes', bytes]];
  const [name, value] = args.find(([, v]) => !isSafeCount(v))!;
  const message = `addMultifdPacket: ${name} must be a non-negative safe-integer number; received ${describe(value)}`;
  return typeof value === 'number' ? new RangeError(message) : new TypeError(message);
}

/** The lane count of every `MigrationStats` memory this thread creates. */
let qemuLanes: number | undefined;

/** Whether `value` is an instance of this copy of the class; set by the class itself (it reads a private field). */
let isOwnInstance: (value: object) => value is MigrationStats;

/** `MigrationStats` has the 15 counters as properties, from the counter table. */
export interface MigrationStats extends CounterFields<Stat64> {}

/**
 * QEMU's migration statistics: the 15 counters of `MigrationAtomicStats` and the rate limiter of
 * `migration-stats.h`, in shared memory. Make one with {@link MigrationStats.create}, pass
 * {@link MigrationStats.handle} to other threads, and {@link MigrationStats.attach} there.
 *
 * @example
 * const stats = await MigrationStats.create();
 * stats.zeroPages.add(1);
 * stats.zeroPages.get(); //=> 1n
 * worker.postMessage(stats.handle);
 */
export class MigrationStats extends RateLimitedStats {
  /** The 15 counters in QEMU's struct order. */
  readonly counters: readonly Stat64[];
  readonly #packetCore: { add3(a: number, va: number, b: number, vb: number, c: number, vc: number): void };
  /** Where this instance's packets go: its lane's cells of normal pages, zero pages, multifd bytes. */
  #packetNormal = 0;
  #packetZero = 0;
  #packetBytes = 0;

  private constructor(parts: StatsParts, claimLane: boolean) {
    super(STATS_TOKEN, parts, claimLane);
    const fields = this as unknown as Record<CounterName, Stat64>;
    this.counters = Object.freeze(COUNTER_NAMES.map((name) => fields[name]));
    this.#packetCore = parts.core;
    this.#aimPackets();
    Object.defineProperty(this, BRAND, { value: LAYOUT_VERSION });
    Object.freeze(this);
  }

  #aimPackets(): void {
    this.#packetNormal = stat64Internals.addAddr(this.normalPages);
    this.#packetZero = stat64Internals.addAddr(this.zeroPages);
    this.#packetBytes = stat64Internals.addAddr(this.multifdBytes);
  }

  /**
   * Whether `value` is a `MigrationStats`, from this copy of the library or from another copy of the
   * same layout version (a bundle), where `instanceof` would say no. An object of another copy must
   * behave as one: its 15 counters are objects with their methods whose `get()` answers an unsigned
   * 64-bit bigint, and its handle's memory is a shared `WebAssembly.Memory` holding this layout
   * (where this thread can share memory at all). The brand alone, a copy of an instance's
   * properties or a Proxy of an instance is not one. Never throws.
   * @param value - anything
   * @returns `true` for a `MigrationStats` of this or another copy of the library
   * @example MigrationStats.isMigrationStats(await MigrationStats.create()) //=> true
   */
  static isMigrationStats(value: unknown): value is MigrationStats {
    const found = statsReader(value);
    return typeof found === 'object' && found.qemu !== undefined;
  }

  static {
    isOwnInstance = (value: object): value is MigrationStats => #packetCore in value;
  }

  /**
   * Whether this thread can send shared memory to another one, i.e. whether {@link MigrationStats.handle}
   * is available. Always `true` in Node; in a browser, `true` only on a cross-origin isolated page
   * (served with `Cross-Origin-Opener-Policy: same-origin` and
   * `Cross-Origin-Embedder-Policy: require-corp`) and in its workers. Single-thread use works either way.
   * @returns `false` where `self.crossOriginIsolated` is `false` and no `SharedArrayBuffer` global
   *   is exposed (a browser refuses `postMessage` of shared memory there), else `true`
   * @example
   * if (!MigrationStats.canShareMemory()) showWarning('counting on the page only');
   */
  static canShareMemory(): boolean {
    return canShareMemory();
  }

  /**
   * Makes a new set of counters, all zero, in a new shared memory.
   * @param options - `backend`: `'wasm'` (default) or `'js'`; `lane`: claim a lane (default true)
   * @returns the stats of this thread; share them with `stats.handle`
   * @throws TypeError for unknown options
   * @throws Error saying to allow `'wasm-unsafe-eval'` when the page's Content-Security-Policy
   *   forbids compiling WebAssembly
   */
  static async create(options?: MigrationStatsOptions): Promise<MigrationStats> {
    const { backend, lane } = checkStatsOptions('MigrationStats.create', options);
    qemuLanes ??= defaultLanes();
    return new MigrationStats(await createParts('MigrationStats.create', QEMU_DEFINITION, qemuLanes, backend), lane);
  }

  /**
   * Sees the counters of a handle made by {@link MigrationStats.create}, in this or another
   * thread. Changes nothing in the memory except claiming a lane.
   * @param handle - `stats.handle`, as received from `postMessage` or `structuredClone`
   * @param options - `backend`: `'wasm'` (default) or `'js'`; `lane`: claim a lane (default true)
   * @throws TypeError saying what is wrong when `handle` is not a live handle of this library
   */
  static async attach(handle: MigrationStatsHandle, options?: MigrationStatsOptions): Promise<MigrationStats> {
    const where = 'MigrationStats.attach';
    const { backend, lane } = checkStatsOptions(where, options);
    const parts = attachParts(where, 'MigrationStats.create()', handle, backend);
    const difference = firstDifference(QEMU_DEFINITION, parts.definition);
    if (difference !== undefined) throw handleError(where, `.memory holds other stats than QEMU's migration counters: ${difference}; ${ATTACH_ANY}`);
    return new MigrationStats(parts, lane);
  }

  /**
   * `migration_rate_set()`: sets the bandwidth limit. Stores `floor(bytesPerSecond / 10)` as the
   * budget of one {@link BUFFER_DELAY} window; 0 to 9 store 0, which means unlimited. It does not
   * start a new window.
   * @param bytesPerSecond - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the limit is then unchanged
   */
  migrationRateSet(bytesPerSecond: bigint | number): void {
    this.limitSet('migrationRateSet', bytesPerSecond);
  }

  /**
   * `migration_rate_get()`: the budget of one window in bytes (not the per-second figure).
   * @example stats.migrationRateSet(1073741824); stats.migrationRateGet() //=> 107374182n
   */
  migrationRateGet(): bigint {
    return this.limitGet();
  }

  /** `migration_rate_reset()`: starts a new window at the current {@link migrationTransferredBytes}. */
  migrationRateReset(): void {
    this.limitReset();
  }

  /** `migration_transferred_bytes()`: `qemuFileTransferred + multifdBytes + rdmaBytes`, mod 2^64. */
  migrationTransferredBytes(): bigint {
    return this.limitTransferred();
  }

  /**
   * `migration_rate_exceeded()`: whether the current window's budget is spent.
   * @param fileError - the stream's error, as QEMU passes it: `undefined`, `0`, `0n`, `null` or
   *   `false` mean none; anything else (QEMU passes a negative errno) means the stream failed, and the
   *   answer is then `true` even with no limit set
   * @returns `true` when the stream failed, else `false` when the limit is disabled, else whether
   *   the bytes transferred since the window began are strictly more than its budget
   */
  migrationRateExceeded(fileError?: unknown): boolean {
    return this.limitExceeded(fileError);
  }

  /**
   * Adds one multifd packet's figures in a single call: `normalPages`, `zeroPages` and
   * `multifdBytes`, into this thread's lane. Each add is atomic; the three are not one snapshot.
   * @param normalPages - pages of the packet that were not all zeros
   * @param zeroPages - all-zero pages of the packet
   * @param bytes - bytes the packet took on the wire
   * @throws TypeError or RangeError unless each is a non-negative safe-integer number; then nothing
   *   is added
   */
  addMultifdPacket(normalPages: number, zeroPages: number, bytes: number): void {
    if (isSafeCount(normalPages) && isSafeCount(zeroPages) && isSafeCount(bytes)) {
      this.#packetCore.add3(this.#packetNormal, normalPages, this.#packetZero, zeroPages, this.#packetBytes, bytes);
      return;
    }
    throw packetArgumentError(normalPages, zeroPages, bytes);
  }

  /** Reads every counter (one atomic read each; not one consistent snapshot, as in QEMU). */
  override snapshot(): Record<CounterName, bigint> {
    return super.snapshot() as Record<CounterName, bigint>;
  }

  /**
   * Gives this instance's lane back for another thread to claim. Its counts stay (they are part
   * of every counter's sum); later adds through this instance go to the shared base slots.
   */
  override close(): void {
    super.close();
    this.#aimPackets();
  }
}

registerStatsClass({
  matches: (definition) => firstDifference(QEMU_DEFINITION, definition) === undefined,
  make: (parts, lane) => new (MigrationStats as unknown as new (parts: StatsParts, lane: boolean) => MigrationStats)(parts, lane),
});

/**
 * What the QEMU reports read of a stats argument (a `MigrationStats`). It is taken once, when the
 * argument is accepted ({@link requireStats}), so nothing the caller changes later reaches the reports.
 * @internal
 */
export interface StatsReader {
  /**
   * Counter `name` now (one atomic read).
   * @param where - the call, for messages
   * @param name - the counter
   * @throws TypeError naming `where` and the counter when the counters of another copy fail to answer
   */
  get(where: string, name: CounterName): bigint;
  /**
   * `migration_transferred_bytes()` now: `qemuFileTransferred + multifdBytes + rdmaBytes`, mod 2^64.
   * @param where - the call, for messages
   */
  transferredBytes(where: string): bigint;
  /**
   * `migration_rate_reset()`: the rate-limit window starts at the bytes transferred now.
   * @param where - the call, for messages
   */
  rateReset(where: string): void;
}

/** A histogram as the exporters read it: each bucket's count (one read of each) and the sum. @internal */
export interface HistogramReading {
  readonly buckets: readonly bigint[];
  /** The sum of the values recorded, mod 2^64. */
  readonly sum: bigint;
}

/**
 * How the exporters read one metric, by its shape: one value, a vector, or a histogram.
 * @internal
 */
export type MetricReader =
  | { readonly spec: MetricSpec; readonly shape: 'value'; read(where: string): bigint }
  | { readonly spec: MetricSpec; readonly shape: 'vector'; read(where: string): readonly bigint[] }
  | { readonly spec: MetricSpec; readonly shape: 'histogram'; read(where: string): HistogramReading };

/**
 * What the exporters read of any stats argument, taken once when it is accepted
 * ({@link requireAnyStats}).
 * @internal
 */
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

/** The reader of each metric of a stats object of this copy: its own metric objects, taken once. */
function metricReaders(stats: SharedStats): MetricReader[] {
  const fields = stats as unknown as Record<string, Metric>;
  return stats.definition.metrics.map((spec): MetricReader => {
    const metric = fields[spec.name];
    if (metric instanceof Histogram) return { spec, shape: 'histogram', read: () => ({ buckets: metric.buckets(), sum: metric.sum() }) };
    if (metric instanceof StatVector) return { spec, shape: 'vector', read: () => metric.values() };
    return { spec, shape: 'value', read: () => (metric as Stat64).get() };
  });
}

/** An instance of this copy: its own methods, which read the shared memory and cannot fail. */
function ownReader(stats: SharedStats): Found {
  const qemu: StatsReader | undefined = isOwnInstance(stats)
    ? {
        get: (_where, name) => stats[name].get(),
        transferredBytes: () => stats.migrationTransferredBytes(),
        rateReset: () => stats.migrationRateReset(),
      }
    : undefined;
  return { definition: stats.definition, metrics: metricReaders(stats), qemu };
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
    if (object[BRAND] !== LAYOUT_VERSION) return undefined;
    // `handle` throws by design where this thread cannot share memory (a page not cross-origin isolated).
    if (MigrationStats.canShareMemory()) {
      const handle = object.handle;
      if (handle === null || typeof handle !== 'object') return undefined;
      checkMemory('isMigrationStats', (handle as { memory?: unknown }).memory);
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
  const call = (where: string, name: CounterName, method: 'get' | 'set', args: unknown[]): unknown => {
    const found = counters.get(name)!;
    try {
      return Reflect.apply(found[method], found.counter, args);
    } catch (error) {
      throw new TypeError(`${where}: stats.${name}.${method}() failed (${errorReason(error)}); stats must be a MigrationStats (from MigrationStats.create or attach)`);
    }
  };
  const get = (where: string, name: CounterName): bigint => {
    const answer = call(where, name, 'get', []);
    if (isU64(answer)) return answer;
    throw new TypeError(`${where}: stats.${name}.get() must answer a bigint from 0n to 18446744073709551615n (2^64 − 1); it answered ${describe(answer)}`);
  };
  const transferredBytes = (where: string): bigint =>
    BigInt.asUintN(64, get(where, 'qemuFileTransferred') + get(where, 'multifdBytes') + get(where, 'rdmaBytes'));
  const qemu: StatsReader = { get, transferredBytes, rateReset: (where) => void call(where, 'rateLimitStart', 'set', [transferredBytes(where)]) };
  // QEMU's definition has one value per metric: each is read through its counter's get().
  const metrics = QEMU_DEFINITION.metrics.map((spec): MetricReader => ({ spec, shape: 'value', read: (where) => get(where, spec.name as CounterName) }));
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
    const parts = attachParts('attachStats', 'create()', handle, 'js');
    return ownReader(new (SharedStats as unknown as new (token: symbol, parts: StatsParts, claim: boolean) => SharedStats)(STATS_TOKEN, parts, false));
  } catch {
    return undefined;
  }
}

/** Whether `value` is a stats object of this copy (of any definition): known by its private field, as a Proxy or a copy is not. */
function isOwnStats(value: object): value is SharedStats {
  return SharedStats.isInstance(value);
}

/**
 * The one check of a stats argument, and how it is read: an instance of this copy of the library
 * (any definition, a `MigrationStats` included) is read through its own metrics; a `MigrationStats`
 * of another copy (a bundle) is checked to behave as one and read through its counters' methods,
 * taken once; another copy's stats of any other definition are read through their shared memory.
 * @returns the reader, `undefined` when `value` is not a stats object, or why it cannot be read here
 */
function statsReader(value: unknown): Found | string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (isOwnStats(value)) return ownReader(value);
  let branded: boolean;
  try {
    branded = (value as Record<symbol, unknown>)[BRAND] !== undefined;
  } catch {
    return undefined;
  }
  return branded ? foreignReader(value) : memoryReader(value);
}

/**
 * Checks the `stats` argument of the QEMU reports and reads it once.
 * @param where - the call, for the message
 * @param stats - what the caller passed
 * @returns how the call reads the counters
 * @throws TypeError naming the call and the value when `stats` is not a {@link MigrationStats}
 * @internal
 */
export function requireStats(where: string, stats: unknown): StatsReader {
  const found = statsReader(stats);
  if (typeof found === 'object' && found.qemu !== undefined) return found.qemu;
  throw new TypeError(`${where}: stats must be a MigrationStats (from MigrationStats.create or attach); received ${describe(stats)}`);
}

/**
 * Checks the `stats` argument of the exporters and reads it once: any stats object of this library.
 * @param where - the call, for the message
 * @param stats - what the caller passed
 * @returns how the call reads each metric
 * @throws TypeError naming the call and the value when `stats` is not a stats object
 * @internal
 */
export function requireAnyStats(where: string, stats: unknown): AnyStatsReader {
  const found = statsReader(stats);
  if (typeof found === 'object') return found;
  const reason = found === undefined ? '' : `: ${found}`;
  throw new TypeError(`${where}: stats must be a stats object (from defineStats(…).create or attach, attachStats, or MigrationStats.create or attach); received ${describe(stats)}${reason}`);
}
