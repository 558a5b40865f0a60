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
import { COUNTER_NAMES, QEMU_DEFINITION, type CounterFields, type CounterName } from './counters.js';
import { defaultLanes, firstDifference } from './definition.js';
import { compileByRefusal } from './compile-now.js';
import { ATTACH_ANY, atEntry, describe, entry, handleError, toU64 } from './errors.js';
import type { MigrationStatsHandle } from './handle.js';
import { registerStatsClass } from './define-stats.js';
import { canShareMemory, RateLimitedStats, STATS_TOKEN } from './defined-stats.js';
import { attachParts, checkStatsOptions, createParts, type StatsOptions, type StatsParts } from './stats-parts.js';
import type { Limiter } from './limiter.js';
import type { StatsInterval } from './interval.js';
import { QEMU_BRAND, registerQemuInstances, statsReader } from './read/reader.js';
import { Stat64, stat64Internals } from './stat64.js';

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
const BRAND = QEMU_BRAND;

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
  /** QEMU's rate limiter over `qemuFileTransferred + multifdBytes + rdmaBytes`. */
  readonly #limiter: Limiter;
  /** Its `exceeded`, kept for the hot `migrationRateExceeded()`. */
  readonly #exceeded: Limiter['exceeded'];

  private constructor(parts: StatsParts, claimLane: boolean) {
    super(STATS_TOKEN, parts, claimLane);
    const fields = this as unknown as Record<CounterName, Stat64>;
    const counters: Stat64[] = [];
    for (const name of COUNTER_NAMES) counters.push(fields[name]);
    this.counters = Object.freeze(counters);
    this.#packetCore = parts.core;
    this.#limiter = this.limiter('MigrationStats');
    this.#exceeded = this.#limiter.exceeded;
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
    registerQemuInstances((value: object): boolean => #packetCore in value);
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
    try {
      const { backend, lane } = checkStatsOptions(options);
      qemuLanes ??= defaultLanes();
      return new MigrationStats(await createParts(QEMU_DEFINITION, qemuLanes, backend), lane);
    } catch (error) {
      throw atEntry('MigrationStats.create', error);
    }
  }

  /**
   * Sees the counters of a handle made by {@link MigrationStats.create}, in this or another
   * thread. Changes nothing in the memory except claiming a lane.
   * @param handle - `stats.handle`, as received from `postMessage` or `structuredClone`
   * @param options - `backend`: `'wasm'` (default) or `'js'`; `lane`: claim a lane (default true)
   * @throws TypeError saying what is wrong when `handle` is not a live handle of this library
   */
  static async attach(handle: MigrationStatsHandle, options?: MigrationStatsOptions): Promise<MigrationStats> {
    return entry('MigrationStats.attach', () => {
      const { backend, lane } = checkStatsOptions(options);
      const parts = attachParts('MigrationStats.create()', handle, backend);
      const difference = firstDifference(QEMU_DEFINITION, parts.definition);
      if (difference !== undefined) throw handleError(`.memory holds other stats than QEMU's migration counters: ${difference}; ${ATTACH_ANY}`);
      return new MigrationStats(parts, lane);
    });
  }

  /**
   * `migration_rate_set()`: sets the bandwidth limit. Stores `floor(bytesPerSecond / 10)` as the
   * budget of one {@link BUFFER_DELAY} window; 0 to 9 store 0, which means unlimited. It does not
   * start a new window.
   * @param bytesPerSecond - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the limit is then unchanged
   */
  migrationRateSet(bytesPerSecond: bigint | number): void {
    this.#limiter.set(entry('migrationRateSet', () => toU64('bytesPerSecond', bytesPerSecond)));
  }

  /**
   * `migration_rate_get()`: the budget of one window in bytes (not the per-second figure).
   * @example stats.migrationRateSet(1073741824); stats.migrationRateGet() //=> 107374182n
   */
  migrationRateGet(): bigint {
    return this.#limiter.get();
  }

  /** `migration_rate_reset()`: starts a new window at the current {@link migrationTransferredBytes}. */
  migrationRateReset(): void {
    this.#limiter.reset();
  }

  /** `migration_transferred_bytes()`: `qemuFileTransferred + multifdBytes + rdmaBytes`, mod 2^64. */
  migrationTransferredBytes(): bigint {
    return this.#limiter.transferred();
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
    return this.#exceeded(fileError);
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

  /** A reader of its own (see {@link SharedStats.interval}): counters' changes since its previous `next()`, gauges as they are now. */
  override interval(): StatsInterval<Record<CounterName, bigint>> {
    // eslint-disable-next-line prefer-rest-params
    if (arguments.length > 0) throw new TypeError(`interval() takes no arguments; received ${describe(arguments[0])}`);
    return super.interval() as StatsInterval<Record<CounterName, bigint>>;
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

// Compiled now with the constructors beneath it, not at a new worker's first attach
// (compile-now.ts): without parts, SharedStats' constructor throws at its first read of them.
compileByRefusal(() => new (MigrationStats as unknown as new () => MigrationStats)());

registerStatsClass({
  matches: (function (definition) {
    return firstDifference(QEMU_DEFINITION, definition) === undefined;
  }),
  make: (parts, lane) => new (MigrationStats as unknown as new (parts: StatsParts, lane: boolean) => MigrationStats)(parts, lane),
});
