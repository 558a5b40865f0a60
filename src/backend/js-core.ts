/**
 * The pure-JS backend: `Atomics` on a `BigUint64Array` over the same shared memory and layout as
 * the Wasm core, so threads can mix backends on one memory.
 * @packageDocumentation
 */
import {
  BASE_OFFSET,
  BASE_STRIDE,
  HDR_LANE_BITMAP,
  HDR_LANE_COUNT,
  HDR_LANE_STRIDE,
  HDR_LANES_EVER,
  HDR_MAGIC,
  HDR_VERSION,
  LANE_COUNT,
  LANE_STRIDE,
  LANES_OFFSET,
  LAYOUT_VERSION,
  MAGIC,
  MULTIFD_BYTES,
  NORMAL_PAGES,
  QEMU_FILE_TRANSFERRED,
  RATE_LIMIT_MAX,
  RATE_LIMIT_START,
  RDMA_BYTES,
  XFER_LIMIT_RATIO,
  ZERO_PAGES,
} from './abi.js';
import type { Core } from './core.js';
import { ALL_LANES, clearLaneBit, forgetLane, releaseWhenCollected } from './lanes.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const WINDOWS_PER_SECOND = BigInt(XFER_LIMIT_RATIO);
/** 64-bit word index of counter `i`'s base slot. */
const baseWord = (i: number): number => (BASE_OFFSET + BASE_STRIDE * i) >> 3;
const WORDS_PER_LANE = LANE_STRIDE >> 3;
const LANES_WORD = LANES_OFFSET >> 3;

/** Operations of the layout in plain JS (see {@link Core}). @internal */
export class JsCore implements Core {
  readonly backend = 'js' as const;
  private readonly u64: BigUint64Array;
  private readonly u32: Uint32Array;
  private lane = -1;

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
      // Another thread changed the slot after we read it: compare again with what it wrote.
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
      // Another thread changed the slot after we read it: compare again with what it wrote.
      if (seen === cur) break;
      cur = seen;
    }
  }
  maxNum(addr: number, value: number): void {
    this.max(addr, BigInt(value));
  }

  private lanesSum(counter: number): bigint {
    const ever = Atomics.load(this.u32, HDR_LANES_EVER >> 2);
    let sum = 0n;
    for (let k = 0, w = LANES_WORD + counter; k < ever; k++, w += WORDS_PER_LANE) {
      sum += Atomics.load(this.u64, w);
    }
    return sum;
  }
  lanedGet(counter: number): bigint {
    return BigInt.asUintN(64, Atomics.load(this.u64, baseWord(counter)) + this.lanesSum(counter));
  }
  lanedGetNum(counter: number): number {
    const v = this.lanedGet(counter);
    return v > MAX_SAFE ? -1 : Number(v);
  }
  lanedSet(counter: number, value: bigint): void {
    Atomics.store(this.u64, baseWord(counter), BigInt.asUintN(64, value - this.lanesSum(counter)));
  }
  lanedSetNum(counter: number, value: number): void {
    this.lanedSet(counter, BigInt(value));
  }
  private lanedBound(counter: number, value: bigint, raise: boolean): void {
    const w = baseWord(counter);
    for (;;) {
      const base = Atomics.load(this.u64, w);
      const lanes = this.lanesSum(counter);
      const cur = BigInt.asUintN(64, base + lanes);
      if (raise ? cur >= value : cur <= value) return;
      // The base slot moved (a set, min, max or unlaned add) since we read it: start over.
      if (Atomics.compareExchange(this.u64, w, base, BigInt.asUintN(64, value - lanes)) === base) return;
    }
  }
  lanedMin(counter: number, value: bigint): void {
    this.lanedBound(counter, value, false);
  }
  lanedMinNum(counter: number, value: number): void {
    this.lanedBound(counter, BigInt(value), false);
  }
  lanedMax(counter: number, value: bigint): void {
    this.lanedBound(counter, value, true);
  }
  lanedMaxNum(counter: number, value: number): void {
    this.lanedBound(counter, BigInt(value), true);
  }
  addPacket(normalPages: number, zeroPages: number, multifdBytes: number): void {
    const u64 = this.u64;
    if (this.lane >= 0) {
      const w = LANES_WORD + this.lane * WORDS_PER_LANE;
      Atomics.add(u64, w + NORMAL_PAGES, BigInt(normalPages));
      Atomics.add(u64, w + ZERO_PAGES, BigInt(zeroPages));
      Atomics.add(u64, w + MULTIFD_BYTES, BigInt(multifdBytes));
    } else {
      Atomics.add(u64, baseWord(NORMAL_PAGES), BigInt(normalPages));
      Atomics.add(u64, baseWord(ZERO_PAGES), BigInt(zeroPages));
      Atomics.add(u64, baseWord(MULTIFD_BYTES), BigInt(multifdBytes));
    }
  }
  transferredBytes(): bigint {
    return BigInt.asUintN(
      64,
      this.lanedGet(QEMU_FILE_TRANSFERRED) + this.lanedGet(MULTIFD_BYTES) + this.lanedGet(RDMA_BYTES),
    );
  }
  rateSet(bytesPerSecond: bigint): void {
    // migration_rate_set(): XFER_LIMIT_RATIO windows per second, unsigned integer division.
    Atomics.store(this.u64, baseWord(RATE_LIMIT_MAX), bytesPerSecond / WINDOWS_PER_SECOND);
  }
  rateGet(): bigint {
    return Atomics.load(this.u64, baseWord(RATE_LIMIT_MAX));
  }
  rateReset(): void {
    Atomics.store(this.u64, baseWord(RATE_LIMIT_START), this.transferredBytes());
  }
  rateExceeded(): boolean {
    const budget = Atomics.load(this.u64, baseWord(RATE_LIMIT_MAX));
    if (budget === 0n) return false;
    const used = BigInt.asUintN(64, this.transferredBytes() - Atomics.load(this.u64, baseWord(RATE_LIMIT_START)));
    return used > budget;
  }

  claimLane(): number {
    if (this.lane >= 0) return this.lane;
    const wBits = HDR_LANE_BITMAP >> 3;
    let bits = Atomics.load(this.u64, wBits);
    while (bits !== ALL_LANES) {
      let free = 0;
      while ((bits >> BigInt(free)) & 1n) free++;
      const seen = Atomics.compareExchange(this.u64, wBits, bits, bits | (1n << BigInt(free)));
      // Another instance claimed or released a lane in between: look again at what it left.
      if (seen !== bits) {
        bits = seen;
        continue;
      }
      this.lane = free;
      releaseWhenCollected(this, this.u64.buffer, free);
      let ever = Atomics.load(this.u32, HDR_LANES_EVER >> 2);
      while (ever < free + 1) {
        const prev = Atomics.compareExchange(this.u32, HDR_LANES_EVER >> 2, ever, free + 1);
        // Someone raised the high-water mark first: keep it if it is already high enough.
        if (prev === ever) break;
        ever = prev;
      }
      return free;
    }
    return -1;
  }
  releaseLane(): number {
    const had = this.lane;
    if (had < 0) return -1;
    this.lane = -1;
    forgetLane(this);
    clearLaneBit(this.u64.buffer, had);
    return had;
  }
  currentLane(): number {
    return this.lane;
  }
  lanesEverClaimed(): number {
    return Atomics.load(this.u32, HDR_LANES_EVER >> 2);
  }
  laneBitmap(): bigint {
    return Atomics.load(this.u64, HDR_LANE_BITMAP >> 3);
  }
  initHeader(): number {
    const seen = Atomics.compareExchange(this.u32, HDR_MAGIC >> 2, 0, MAGIC);
    if (seen === 0) {
      Atomics.store(this.u32, HDR_LANE_COUNT >> 2, LANE_COUNT);
      Atomics.store(this.u32, HDR_LANE_STRIDE >> 2, LANE_STRIDE);
      Atomics.store(this.u32, HDR_VERSION >> 2, LAYOUT_VERSION);
      return 1;
    }
    return seen === MAGIC && Atomics.load(this.u32, HDR_VERSION >> 2) === LAYOUT_VERSION ? 0 : -1;
  }
}
