/**
 * One value: QEMU's `Stat64` (get/set/add/min/max) on a cell of the shared memory, and a batched
 * writer for hot loops.
 *
 * Where the cell is and which backend reaches it are private to each `Stat64` (`#` fields): no user
 * code can point an operation anywhere but its own cell. Stats objects make them through
 * {@link stat64Internals}, which this package does not export.
 * @packageDocumentation
 */
import { LANE_ALIGN, WRITE_MAX, WRITE_MIN, WRITE_SET } from './backend/abi.js';
import type { Core } from './backend/core.js';
import { compileByRefusal } from './compile-now.js';
import { checkBatchSize, describe, isCount, isU64, unsafeNumberError, u64ArgumentError } from './errors.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIGINT = BigInt(MAX_SAFE);
const TWO_52 = 2 ** 52;

/** How QEMU writes a value: `add` ones are laned counters, `set` ones (gauges) have one cell. */
export type CounterKind = 'add' | 'set';

/** Where a value lives, as the layout planned it. @internal */
export interface CellPlace {
  readonly core: Core;
  /** Byte offset of the base cell. */
  readonly base: number;
  /** Byte offset of the cell in lane 0, or −1 for a gauge (no lanes). */
  readonly first: number;
  /** The lane stride plus the lane count (see `Layout.geometry`). */
  readonly geometry: number;
}

/** What a `Stat64` says of itself. @internal */
export interface Stat64Info {
  readonly name: string;
  readonly cName: string;
  readonly unit: string;
  readonly kind: CounterKind;
  /** The call prefix of its error messages, e.g. `zeroPages` or `bytesPerWorker.at(3)`. */
  readonly where: string;
}

/** Made only here: `new Stat64()` from outside cannot get one. */
const TOKEN = Symbol('Stat64');

/**
 * What stats objects use to make and re-aim their `Stat64`s; not part of the package's API.
 * @internal
 */
export let stat64Internals: {
  make(info: Stat64Info, place: CellPlace, lane: number, holder: object): Stat64;
  useLane(stat: Stat64, lane: number): void;
  /** Where the stat's adds go now (its lane's cell, or its base cell). */
  addAddr(stat: Stat64): number;
  /** The value as a number when it is at most 2^53 − 1 (no BigInt made), else as a bigint. */
  exact(stat: Stat64): number | bigint;
};

/**
 * An unsigned 64-bit value in shared memory (QEMU's `Stat64`). Every operation is atomic; `add`
 * wraps modulo 2^64, never saturates. Values go in as `bigint` or safe-integer `number` and come out
 * as unsigned `bigint` ({@link Stat64.get}) or exact `number` ({@link Stat64.getNumber}).
 *
 * Counters are laned: this thread adds into its own cache lines and {@link Stat64.get} sums every
 * lane. Gauges (`set`-written: QEMU's `dirtyBytesLastSync`, `dirtyPagesRate`, `rateLimitStart`,
 * `rateLimitMax`) have one cell.
 */
export class Stat64 {
  /** TS name, e.g. `zeroPages`. */
  readonly name: string;
  /** The C name, e.g. QEMU's field `zero_pages`. */
  readonly cName: string;
  /** Unit of the value, e.g. `pages`. */
  readonly unit: string;
  /** `add`: a laned counter; `set`: a gauge with one cell. */
  readonly kind: CounterKind;
  readonly #core: Core;
  readonly #base: number;
  readonly #first: number;
  readonly #geometry: number;
  readonly #where: string;
  /** Keeps the instance's lane alive while this value can still add into it. */
  readonly #holder: object;
  /** Where this thread's adds go: its lane's cell, or the base cell. */
  #addAddr: number;

  static {
    stat64Internals = {
      // Parenthesized: compiled when the module loads, not at a new worker's first attach.
      make: (function (info, place, lane, holder) {
        return new Stat64(TOKEN, info, place, lane, holder);
      }),
      useLane: (stat, lane) => stat.#useLane(lane),
      addAddr: (function (stat) {
        return stat.#addAddr;
      }),
      exact: (stat) => {
        const n = stat.#first >= 0 ? stat.#core.sumNum(stat.#base, stat.#first, stat.#geometry) : stat.#core.loadNum(stat.#base);
        return n >= 0 ? n : stat.get();
      },
    };
  }

  private constructor(token: typeof TOKEN, info: Stat64Info, place: CellPlace, lane: number, holder: object) {
    if (token !== TOKEN) throw new TypeError('Stat64: values are made by the stats objects (MigrationStats.create, defineStats(…).create); there is no constructor');
    this.name = info.name;
    this.cName = info.cName;
    this.unit = info.unit;
    this.kind = info.kind;
    this.#where = info.where;
    this.#core = place.core;
    this.#base = place.base;
    this.#first = place.first;
    this.#geometry = place.geometry;
    this.#holder = holder;
    this.#addAddr = place.base;
    this.#useLane(lane);
    Object.freeze(this);
  }

  /** Points this thread's adds at lane `lane` (−1: the base cell). */
  #useLane(lane: number): void {
    const lanes = this.#geometry & (LANE_ALIGN - 1);
    this.#addAddr = this.#first >= 0 && lane >= 0 && lane < lanes ? this.#first + (this.#geometry - lanes) * lane : this.#base;
  }

  /**
   * Reads the value (`stat64_get`): one atomic load per cell, never torn, always unsigned.
   * @returns the value, from 0n to 2^64 − 1
   * @example stats.zeroPages.get() //=> 1n
   */
  get(): bigint {
    return this.#first >= 0 ? this.#core.sum(this.#base, this.#first, this.#geometry) : this.#core.load(this.#base);
  }

  /**
   * Reads the value as a number, with no BigInt allocated.
   * @returns the value, exact
   * @throws RangeError when the value is above `Number.MAX_SAFE_INTEGER`: it is never rounded
   */
  getNumber(): number {
    const n = this.#first >= 0 ? this.#core.sumNum(this.#base, this.#first, this.#geometry) : this.#core.loadNum(this.#base);
    if (n >= 0) return n;
    // Read again as a bigint for the message. Another thread may have lowered the value in between
    // (a set, a min, an add that wrapped): then that value is the answer, not an error about it.
    const value = this.get();
    if (value <= MAX_SAFE_BIGINT) return Number(value);
    throw unsafeNumberError(`${this.#where}.getNumber`, value);
  }

  /**
   * Adds to the value (`stat64_add`), modulo 2^64, in one atomic read-modify-write.
   * @param value - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the value is then unchanged
   */
  add(value: bigint | number): void {
    // The hot path: the same tests as `isCount` and `isU64`, written out here on purpose. Through the
    // shared helpers, which every argument check of the library calls, add(1) measured 0.9 ns
    // slower (5.3 instead of 4.4 ns, bench/ --quick): their shared type feedback costs V8 the
    // inlining it gets here.
    if (typeof value === 'number') {
      if ((value >>> 0) === value || (value >= 0 && value <= MAX_SAFE && Number.isInteger(value))) {
        this.#core.addNum(this.#addAddr, value);
        return;
      }
    } else if (typeof value === 'bigint' && BigInt.asUintN(64, value) === value) {
      this.#core.add(this.#addAddr, value);
      return;
    }
    throw u64ArgumentError(`${this.#where}.add`, 'value', value);
  }

  /**
   * Replaces the value (`stat64_set`). On a laned counter, adds that race with it count either
   * before it (and are overwritten) or after it (and are kept), never half.
   * @param value - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the value is then unchanged
   */
  set(value: bigint | number): void {
    this.#write(WRITE_SET, 'set', value);
  }

  /**
   * Lowers the value to `value` if it is above it (`stat64_min`); equal leaves it unchanged.
   * A compare-and-swap loop: concurrent `min`/`max`/`set` calls never lose each other.
   * @param value - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the value is then unchanged
   */
  min(value: bigint | number): void {
    this.#write(WRITE_MIN, 'min', value);
  }

  /**
   * Raises the value to `value` if it is below it (`stat64_max`).
   * A compare-and-swap loop: concurrent `min`/`max`/`set` calls never lose each other.
   * @param value - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the value is then unchanged
   */
  max(value: bigint | number): void {
    this.#write(WRITE_MAX, 'max', value);
  }

  /** `set`, `min` or `max`: on the cell of a gauge, against the lanes' sum on a laned counter. */
  #write(op: number, name: string, value: bigint | number): void {
    const core = this.#core;
    if (isCount(value)) {
      if (this.#first >= 0) core.lanedWriteNum(this.#base, this.#first, this.#geometry, value, op);
      else if (op === WRITE_SET) core.storeNum(this.#base, value);
      else if (op === WRITE_MIN) core.minNum(this.#base, value);
      else core.maxNum(this.#base, value);
    } else if (isU64(value)) {
      if (this.#first >= 0) core.lanedWrite(this.#base, this.#first, this.#geometry, value, op);
      else if (op === WRITE_SET) core.store(this.#base, value);
      else if (op === WRITE_MIN) core.min(this.#base, value);
      else core.max(this.#base, value);
    } else throw u64ArgumentError(`${this.#where}.${name}`, 'value', value);
  }

  /**
   * A writer for a hot loop in this thread: {@link Stat64Batch.add} is plain JS arithmetic, and
   * reaches the shared value with one atomic add every `every` adds, on `flush()` and on `close()`
   * (the way Linux's `percpu_counter_add_batch` works). Until then other threads do not see them:
   * a reader is behind by at most `every − 1` adds of this writer.
   * @param every - adds between two flushes, from 1 to 2^20 (default 1024)
   * @throws RangeError for another `every`
   * @example
   * const bytes = stats.bytesCopied.batch();
   * for (const chunk of chunks) bytes.add(chunk.length);
   * bytes.flush(); // exact from here on
   */
  batch(every = 1024): Stat64Batch {
    return new Stat64Batch(this, every, `${this.#where}.batch`);
  }
}

// Compiled now, not at a new worker's first attach (compile-now.ts): without the token it throws.
compileByRefusal(() => new (Stat64 as unknown as new () => Stat64)());

/**
 * A batched writer of one {@link Stat64} (from {@link Stat64.batch}): adds accumulate in a plain JS
 * number of this thread and go to the shared value in one atomic add, every `every` adds, on
 * {@link Stat64Batch.flush} and on {@link Stat64Batch.close}. The pending sum never passes 2^53 − 1,
 * so no add is ever rounded: an add of 2^32 or more that would take it there flushes first, and a
 * pending sum above 2^52 is flushed at once.
 */
export class Stat64Batch {
  readonly #stat: Stat64;
  readonly #every: number;
  readonly #where: string;
  #pending = 0;
  /** Adds left before the next flush. */
  #left: number;

  /** @internal */
  constructor(stat: Stat64, every: unknown, where: string) {
    checkBatchSize(where, every);
    this.#stat = stat;
    this.#every = every;
    this.#left = every;
    this.#where = where;
  }

  /** The sum of the adds still waiting for a flush (not yet in the shared value). */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Adds `value` to this thread's pending sum; flushes when `every` adds are pending.
   * @param value - a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; nothing is added then
   */
  add(value: number): void {
    // The hot path: a value below 2^32 needs no overflow check, since at most 2^20 of them are
    // pending (2^52 < 2^53).
    if (typeof value === 'number' && (value >>> 0) === value) {
      this.#pending += value;
      if (--this.#left === 0) this.flush();
      return;
    }
    this.#addLarge(value);
  }

  #addLarge(value: unknown): void {
    if (typeof value !== 'number' || !(value >= 0 && value <= MAX_SAFE && Number.isInteger(value))) {
      // Not the Stat64's message: that one offers bigints, which a batch does not take.
      const message = `${this.#where}.add: value must be a non-negative safe-integer number; received ${describe(value)}`;
      throw typeof value === 'number' ? new RangeError(message) : new TypeError(message);
    }
    if (this.#pending + value > MAX_SAFE) this.flush();
    this.#pending += value;
    // Keep what the hot path relies on: a pending sum of at most 2^52, to which fewer than 2^20 adds
    // below 2^32 each cannot bring 2^53.
    if (--this.#left === 0 || this.#pending > TWO_52) this.flush();
  }

  /** Adds the pending sum to the shared value (one atomic add): exact for every reader from here on. */
  flush(): void {
    const pending = this.#pending;
    this.#pending = 0;
    this.#left = this.#every;
    if (pending !== 0) this.#stat.add(pending);
  }

  /** Flushes; the writer stays usable. */
  close(): void {
    this.flush();
  }
}
