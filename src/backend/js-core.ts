/**
 * The pure-JS backend: `Atomics` on a `BigUint64Array` over the same shared memory and layout as
 * the Wasm core, so threads can mix backends on one memory. Each operation is the Wasm core's, in
 * the same order of atomic steps (see `assembly/stats-core.ts`).
 * @packageDocumentation
 */
import { HDR_LANES_EVER, LANE_ALIGN, RATE_LIMIT_DISABLED, WRITE_MAX, WRITE_MIN, XFER_LIMIT_RATIO } from './abi.js';
import { bucketOfNumber } from './buckets.js';
import type { Core } from './core.js';
import { expCellOfIndex, expIndexOfBigint, expIndexOfNumber } from './exp-index.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const WINDOWS_PER_SECOND = BigInt(XFER_LIMIT_RATIO);
const DISABLED = BigInt(RATE_LIMIT_DISABLED);

/** Operations on the cells in plain JS (see {@link Core}). @internal */
export class JsCore implements Core {
  readonly backend = 'js' as const;
  private readonly u64: BigUint64Array;
  private readonly u32: Uint32Array;
  /** This thread's own 8 bytes, seen as a u64 and as two u32: a number made a BigInt by a load. */
  private readonly scratch64 = new BigUint64Array(1);
  private readonly scratch32 = new Uint32Array(this.scratch64.buffer);

  /**
   * A safe integer as a BigInt, made by writing its two 32-bit halves and loading them as a u64: in
   * optimized code a few instructions, where `BigInt(value)` is a call that costs about as much as
   * an add (the records' one BigInt, the sum's).
   */
  private bigOf(value: number): bigint {
    const scratch32 = this.scratch32;
    scratch32[0] = value >>> 0;
    // value ÷ 2^32 is exact (a power of two), and >>> 0 takes its whole part: the high half.
    scratch32[1] = (value / 4294967296) >>> 0;
    return this.scratch64[0]!;
  }

  constructor(buffer: ArrayBufferLike) {
    this.u64 = new BigUint64Array(buffer);
    this.u32 = new Uint32Array(buffer);
  }

  add(addr: number, value: bigint): void {
    Atomics.add(this.u64, addr >> 3, value);
  }
  addNum(addr: number, value: number): void {
    Atomics.add(this.u64, addr >> 3, BigInt(value));
  }
  add3(a: number, va: number, b: number, vb: number, c: number, vc: number): void {
    const u64 = this.u64;
    Atomics.add(u64, a >> 3, BigInt(va));
    Atomics.add(u64, b >> 3, BigInt(vb));
    Atomics.add(u64, c >> 3, BigInt(vc));
  }
  load(addr: number): bigint {
    return Atomics.load(this.u64, addr >> 3);
  }
  loadNum(addr: number): number {
    const v = Atomics.load(this.u64, addr >> 3);
    return v > MAX_SAFE ? -1 : Number(v);
  }
  store(addr: number, value: bigint): void {
    Atomics.store(this.u64, addr >> 3, value);
  }
  storeNum(addr: number, value: number): void {
    Atomics.store(this.u64, addr >> 3, BigInt(value));
  }
  min(addr: number, value: bigint): void {
    const w = addr >> 3;
    let cur = Atomics.load(this.u64, w);
    while (cur > value) {
      const seen = Atomics.compareExchange(this.u64, w, cur, value);
      // Another thread changed the cell after we read it: compare again with what it wrote.
      if (seen === cur) break;
      cur = seen;
    }
  }
  minNum(addr: number, value: number): void {
    this.min(addr, BigInt(value));
  }
  max(addr: number, value: bigint): void {
    const w = addr >> 3;
    let cur = Atomics.load(this.u64, w);
    while (cur < value) {
      const seen = Atomics.compareExchange(this.u64, w, cur, value);
      // Another thread changed the cell after we read it: compare again with what it wrote.
      if (seen === cur) break;
      cur = seen;
    }
  }
  maxNum(addr: number, value: number): void {
    this.max(addr, BigInt(value));
  }

  /** Σ of the cell at `first` in each lane in use (the lanes-ever word, never past the geometry's lanes). */
  private laneSum(first: number, geometry: number): bigint {
    const ever = Atomics.load(this.u32, HDR_LANES_EVER >> 2);
    const lanes = geometry & (LANE_ALIGN - 1);
    const n = ever < lanes ? ever : lanes;
    const step = (geometry - lanes) >> 3;
    let sum = 0n;
    for (let k = 0, w = first >> 3; k < n; k++, w += step) sum += Atomics.load(this.u64, w);
    return sum;
  }
  sum(base: number, first: number, geometry: number): bigint {
    return BigInt.asUintN(64, Atomics.load(this.u64, base >> 3) + this.laneSum(first, geometry));
  }
  sumNum(base: number, first: number, geometry: number): number {
    const v = this.sum(base, first, geometry);
    return v > MAX_SAFE ? -1 : Number(v);
  }
  lanedWrite(base: number, first: number, geometry: number, value: bigint, op: number): void {
    const w = base >> 3;
    for (;;) {
      const seen = Atomics.load(this.u64, w);
      const inLanes = this.laneSum(first, geometry);
      const current = BigInt.asUintN(64, seen + inLanes);
      if (op === WRITE_MIN ? current <= value : op === WRITE_MAX ? current >= value : false) return;
      // The base cell moved (a set, min, max or an add without a lane) since we read it: start over.
      if (Atomics.compareExchange(this.u64, w, seen, BigInt.asUintN(64, value - inLanes)) === seen) return;
    }
  }
  lanedWriteNum(base: number, first: number, geometry: number, value: number, op: number): void {
    this.lanedWrite(base, first, geometry, BigInt(value), op);
  }
  groupSum(base: number, first: number, count: number, geometry: number): bigint {
    let total = 0n;
    for (let i = 0; i < count; i++) total += this.sum(base + 8 * i, first + 8 * i, geometry);
    return BigInt.asUintN(64, total);
  }
  // A record is two atomic adds, the bucket's and then the sum's, computed first and made back to
  // back. A terminated worker can still stop between them: V8 also stops it at a call into a
  // builtin such as Atomics.add (two adjacent Atomics.add in a loop with no call between them are
  // left torn by about a third of terminations), and JS has no way to add to two cells at once. So
  // on this backend a worker terminated mid-record may leave that one record's bucket counted and
  // its value not summed: at most one record per terminated worker (the Wasm core's record is one
  // call, which a termination does not split).
  record(bucket0: number, sumAddr: number, buckets: number, subBits: number, value: bigint): void {
    const u64 = this.u64;
    const at = (bucket0 >> 3) + bucketOf(value, buckets, subBits);
    const sumAt = sumAddr >> 3;
    Atomics.add(u64, at, 1n);
    Atomics.add(u64, sumAt, value);
  }
  recordNum(bucket0: number, sumAddr: number, buckets: number, subBits: number, value: number): void {
    const u64 = this.u64;
    // The bucket in numbers (exact for the safe integers the API lets through); one BigInt, the sum's.
    const at = (bucket0 >> 3) + bucketOfNumber(value, buckets, subBits);
    const sumAt = sumAddr >> 3;
    const add = this.bigOf(value);
    Atomics.add(u64, at, 1n);
    Atomics.add(u64, sumAt, add);
  }
  bucketIndex(value: bigint, buckets: number, subBits: number): number {
    return bucketOf(value, buckets, subBits);
  }
  // Exponential histograms: the index from this module's copy of the tables (`table` unused), with
  // numbers up to 2^53 − 1. Everything is computed before the first add, and the two adds follow
  // each other with no call of ours between them; as with `record`, a worker terminated between
  // them (at the call into the builtin) leaves at most that one record's bucket without its value.
  expIndex(_table: number, scale: number, value: bigint): number {
    return expIndexOfBigint(scale, value);
  }
  expIndexNum(_table: number, scale: number, value: number): number {
    return expIndexOfNumber(scale, value);
  }
  recordExp(bucket0: number, sumAddr: number, cells: number, _table: number, scale: number, value: bigint): void {
    const u64 = this.u64;
    if (value === 0n) {
      Atomics.add(u64, bucket0 >> 3, 1n);
      return;
    }
    const cell = (bucket0 >> 3) + expCellOfIndex(expIndexOfBigint(scale, value), cells);
    const sum = sumAddr >> 3;
    Atomics.add(u64, cell, 1n);
    Atomics.add(u64, sum, value);
  }
  recordExpNum(bucket0: number, sumAddr: number, cells: number, _table: number, scale: number, value: number): void {
    const u64 = this.u64;
    if (value === 0) {
      Atomics.add(u64, bucket0 >> 3, 1n);
      return;
    }
    const cell = (bucket0 >> 3) + expCellOfIndex(expIndexOfNumber(scale, value), cells);
    const sum = sumAddr >> 3;
    const big = this.bigOf(value);
    Atomics.add(u64, cell, 1n);
    Atomics.add(u64, sum, big);
  }
  rateSet(maxAddr: number, bytesPerSecond: bigint): void {
    // migration_rate_set(): XFER_LIMIT_RATIO windows per second, unsigned integer division.
    Atomics.store(this.u64, maxAddr >> 3, bytesPerSecond / WINDOWS_PER_SECOND);
  }
  rateReset(base: number, first: number, count: number, geometry: number): void {
    Atomics.store(this.u64, (base >> 3) + count, this.groupSum(base, first, count, geometry));
  }
  rateExceeded(base: number, first: number, count: number, geometry: number): number {
    const start = (base >> 3) + count;
    const budget = Atomics.load(this.u64, start + 1);
    if (budget === DISABLED) return 0;
    const used = BigInt.asUintN(64, this.groupSum(base, first, count, geometry) - Atomics.load(this.u64, start));
    return used > budget ? 1 : 0;
  }
}


/** Position of the highest set bit of a non-zero u64. */
function topBit(value: bigint): number {
  const high = Number(value >> 32n);
  return high !== 0 ? 63 - Math.clz32(high) : 31 - Math.clz32(Number(value & 0xffff_ffffn));
}

/** The Wasm core's `bucketIndex`, in JS: see `assembly/stats-core.ts`. @internal */
export function bucketOf(value: bigint, buckets: number, subBits: number): number {
  let index: number;
  if (subBits === 0) index = value === 0n ? 0 : topBit(value);
  else if (value < 1n << BigInt(subBits)) index = Number(value);
  else {
    const shift = topBit(value) - subBits;
    index = ((shift + 1) << subBits) + (Number((value >> BigInt(shift)) & BigInt((1 << subBits) - 1)));
  }
  return index < buckets ? index : buckets - 1;
}
