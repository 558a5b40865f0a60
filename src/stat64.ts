/**
 * One counter: QEMU's `Stat64` (get/set/add/min/max) on a slot of the shared memory.
 * @packageDocumentation
 */
import type { Core } from './backend/core.js';
import { isCount, isU64, u64ArgumentError, unsafeNumberError } from './errors.js';
import { baseAddr, laneAddr } from './backend/layout.js';
import type { CounterInfo, CounterKind, CounterName } from './counters.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The backend operations of `set`, `min` and `max`, with a bigint or a number, laned or on one slot. */
const WRITES = {
  set: { laned: 'lanedSet', lanedNum: 'lanedSetNum', slot: 'store', slotNum: 'storeNum' },
  min: { laned: 'lanedMin', lanedNum: 'lanedMinNum', slot: 'min', slotNum: 'minNum' },
  max: { laned: 'lanedMax', lanedNum: 'lanedMaxNum', slot: 'max', slotNum: 'maxNum' },
} as const;
const MAX_SAFE_BIGINT = BigInt(MAX_SAFE);

/**
 * An unsigned 64-bit counter in shared memory (QEMU's `Stat64`). Every operation is atomic;
 * `add` wraps modulo 2^64, never saturates. Values go in as `bigint` or safe-integer `number` and
 * come out as unsigned `bigint` ({@link Stat64.get}) or exact `number` ({@link Stat64.getNumber}).
 *
 * Add-only counters are laned: this thread adds into its own cache lines and {@link Stat64.get}
 * sums every lane. Gauges (`set`-written: `dirtyBytesLastSync`, `dirtyPagesRate`,
 * `rateLimitStart`, `rateLimitMax`) have one slot.
 */
export class Stat64 {
  /** TS name, e.g. `zeroPages`. */
  readonly name: CounterName;
  /** QEMU's C field name, e.g. `zero_pages`. */
  readonly cName: string;
  /** Unit of the value, e.g. `pages`. */
  readonly unit: string;
  /** `add`: monotonic and laned; `set`: a gauge with one slot. */
  readonly kind: CounterKind;
  /** @internal */
  readonly core: Core;
  /** @internal counter index (0–14, QEMU's struct order) */
  readonly index: number;
  /** @internal byte offset of the base slot */
  readonly baseAddr: number;
  /** @internal byte offset where this thread's adds go: its lane's slot, or the base slot */
  addAddr: number;
  private readonly laned: boolean;
  private readonly where: string;

  /** @internal Counters are made by {@link MigrationStats}; user code never constructs one. */
  constructor(core: Core, info: CounterInfo, lane: number) {
    this.core = core;
    this.name = info.name;
    this.cName = info.cName;
    this.unit = info.unit;
    this.kind = info.kind;
    this.index = info.index;
    this.laned = info.kind === 'add';
    this.baseAddr = baseAddr(info.index);
    this.addAddr = this.baseAddr;
    this.where = info.name;
    this.useLane(lane);
  }

  /** @internal Points this thread's adds at lane `lane` (−1: the base slot). */
  useLane(lane: number): void {
    this.addAddr = this.laned && lane >= 0 ? laneAddr(lane, this.index) : this.baseAddr;
  }

  /**
   * Reads the value (`stat64_get`): one atomic load per slot, never torn, always unsigned.
   * @returns the value, from 0n to 2^64 − 1
   * @example stats.zeroPages.get() //=> 1n
   */
  get(): bigint {
    return this.laned ? this.core.lanedGet(this.index) : this.core.load(this.baseAddr);
  }

  /**
   * Reads the value as a number, with no BigInt allocated.
   * @returns the value, exact
   * @throws RangeError when the value is above `Number.MAX_SAFE_INTEGER`: it is never rounded
   */
  getNumber(): number {
    const n = this.laned ? this.core.lanedGetNum(this.index) : this.core.loadNum(this.baseAddr);
    if (n >= 0) return n;
    // Read again as a bigint for the message. Another thread may have lowered the value in between
    // (a set, a min, an add that wrapped): then that value is the answer, not an error about it.
    const value = this.get();
    if (value <= MAX_SAFE_BIGINT) return Number(value);
    throw unsafeNumberError(`${this.where}.getNumber`, value);
  }

  /**
   * Adds to the value (`stat64_add`), modulo 2^64, in one atomic read-modify-write.
   * @param value - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the counter is then unchanged
   */
  add(value: bigint | number): void {
    // The hot path: the same tests as `isCount` and `isU64`, written out here on purpose. Through the
    // shared helpers, which every argument check of the library calls, add(1) measured 0.9 ns
    // slower (5.3 instead of 4.4 ns, bench/ --quick): their shared type feedback costs V8 the
    // inlining it gets here.
    if (typeof value === 'number') {
      if ((value >>> 0) === value || (value >= 0 && value <= MAX_SAFE && Number.isInteger(value))) {
        this.core.addNum(this.addAddr, value);
        return;
      }
    } else if (typeof value === 'bigint' && BigInt.asUintN(64, value) === value) {
      this.core.add(this.addAddr, value);
      return;
    }
    throw u64ArgumentError(`${this.where}.add`, 'value', value);
  }

  /**
   * Replaces the value (`stat64_set`). On a laned counter, adds that race with it count either
   * before it (and are overwritten) or after it (and are kept), never half.
   * @param value - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the counter is then unchanged
   */
  set(value: bigint | number): void {
    this.write('set', value);
  }

  /**
   * Lowers the value to `value` if it is above it (`stat64_min`); equal leaves it unchanged.
   * A compare-and-swap loop: concurrent `min`/`max`/`set` calls never lose each other.
   * @param value - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the counter is then unchanged
   */
  min(value: bigint | number): void {
    this.write('min', value);
  }

  /**
   * Raises the value to `value` if it is below it (`stat64_max`).
   * A compare-and-swap loop: concurrent `min`/`max`/`set` calls never lose each other.
   * @param value - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the counter is then unchanged
   */
  max(value: bigint | number): void {
    this.write('max', value);
  }

  /** `set`, `min` or `max`: on the base slot of a gauge, against the lanes' sum on a laned counter. */
  private write(op: keyof typeof WRITES, value: bigint | number): void {
    const ops = WRITES[op];
    if (isCount(value)) {
      if (this.laned) this.core[ops.lanedNum](this.index, value);
      else this.core[ops.slotNum](this.baseAddr, value);
    } else if (isU64(value)) {
      if (this.laned) this.core[ops.laned](this.index, value);
      else this.core[ops.slot](this.baseAddr, value);
    } else throw u64ArgumentError(`${this.where}.${op}`, 'value', value);
  }
}
