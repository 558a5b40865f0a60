// migration-stats Wasm core: QEMU's Stat64 operations, histograms and the migration rate limiter over
// the cells of a shared memory.
//
// This module is the one source of the header's layout and of the core's ABI: every constant below
// is exported, and the build (scripts/gen-abi.mjs) writes them, with the signature of every exported
// function, into src/backend/abi.ts for the TypeScript side and into a C header for bench/native.c.
//
// Nothing here allocates; there is no start function, no data segment and no mutable global, so
// instantiating the module in another thread never writes a byte of the memory, and one instance
// serves every stats object of a thread on that memory. Where each cell is depends on the
// definition the memory was made for: the TypeScript side plans the layout, checks it against the
// header when it attaches, and passes the addresses in. Only the header is at fixed offsets:
//
//    0 ┌────────────────────────────────────────────────────────────────────┐
//      │ magic u32 @0 · layout version u32 @4 · lane count u32 @8 ·          │
//      │ lane stride u32 @12 · lanes ever claimed u32 @16 ·                  │  the header,
//      │ next shared lane u32 @20 · lane ownership bitmap u64 @24 ·          │  64 bytes
//      │ lanes offset u32 @32 · cells end u32 @36 · definition offset u32 @40│
//      │ · definition bytes u32 @44 · definition hash u32 @48                │
//   64 ├────────────────────────────────────────────────────────────────────┤
//      │ base cells: each metric from a 64-byte line of its own, its cells   │
//      │ (u64) side by side; the rate limiter's counters first, together     │
//      ├────────────────────────────────────────────────────────────────────┤
//      │ lane 0: every counter and histogram cell (u64), the limiter's first │  lane stride
//      │ lane 1 …                                     (lane count lanes)     │  bytes each
//      ├────────────────────────────────────────────────────────────────────┤
//      │ the definition, as UTF-8 JSON                                       │
//      └────────────────────────────────────────────────────────────────────┘
//
// Value of a gauge cell = its base cell. Value of a counter or histogram cell = its base cell plus
// the same cell in every lane ever claimed (mod 2^64). A thread adds into its lane, so adders in
// different lanes never write the same cache line; set/min/max move the base cell against the lanes.
// A `geometry` argument is the lane stride plus the lane count (strides are multiples of 128 and
// there are at most 64 lanes, so the two never overlap), as the caller validated them; the
// lanes-ever word is read from the memory and never trusted past that lane count.

/** Magic number in the first word of the header: "MIGS" read as little-endian bytes. */
export const MAGIC: u32 = 0x5347494d;
/** Version of this memory layout; attach refuses any other. */
export const LAYOUT_VERSION: u32 = 2;
/** Bytes of the header; the base cells start here. */
export const HEADER_BYTES: u32 = 64;
/** Most lanes a memory may have (one bit each in the 64-bit ownership bitmap). */
export const MAX_LANES: u32 = 64;
/** Bytes of a cache line: each metric's base cells start on one. */
export const LINE_BYTES: u32 = 64;
/** Lane strides are a multiple of this: two cache lines, the pair an x86 prefetcher fetches together. */
export const LANE_ALIGN: u32 = 128;
/** WebAssembly pages (64 KiB) a memory may have at most; the module declares this maximum. */
export const MAX_MEMORY_PAGES: u32 = 1024;

/** Byte offset of the header's magic number (u32). */
export const HDR_MAGIC: u32 = 0;
/** Byte offset of the header's layout version (u32). */
export const HDR_VERSION: u32 = 4;
/** Byte offset of the header's lane count (u32). */
export const HDR_LANE_COUNT: u32 = 8;
/** Byte offset of the header's lane stride in bytes (u32). */
export const HDR_LANE_STRIDE: u32 = 12;
/** Byte offset of the number of lanes ever claimed (u32): lanes at or above it are all zero. */
export const HDR_LANES_EVER: u32 = 16;
/** Byte offset of the count of lanes handed out shared (u32), which picks the next shared lane. */
export const HDR_NEXT_SHARED: u32 = 20;
/** Byte offset of the lane ownership bitmap (u64, bit k = lane k has an owner). */
export const HDR_LANE_BITMAP: u32 = 24;
/** Byte offset of the byte offset of lane 0 (u32). */
export const HDR_LANES_OFFSET: u32 = 32;
/** Byte offset of the end of the cells, lane count × lane stride past lane 0 (u32). */
export const HDR_CELLS_END: u32 = 36;
/** Byte offset of where the definition's JSON starts (u32). */
export const HDR_DEFINITION_OFFSET: u32 = 40;
/** Byte offset of the definition's length in bytes (u32). */
export const HDR_DEFINITION_BYTES: u32 = 44;
/** Byte offset of the definition's hash (u32, `definitionHash` in src/backend/definition-format.ts). */
export const HDR_DEFINITION_HASH: u32 = 48;

/** BUFFER_DELAY: length of one rate-limit window, in milliseconds. */
export const BUFFER_DELAY: u32 = 100;
/** XFER_LIMIT_RATIO: rate-limit windows per second (1000 ms / BUFFER_DELAY). */
export const XFER_LIMIT_RATIO: u32 = 1000 / BUFFER_DELAY;
/** RATE_LIMIT_DISABLED: a per-window budget of 0 means no limit. */
export const RATE_LIMIT_DISABLED: u32 = 0;

/** `lanedWrite` operation: replace the value. */
export const WRITE_SET: u32 = 0;
/** `lanedWrite` operation: lower the value to the argument if it is above it. */
export const WRITE_MIN: u32 = 1;
/** `lanedWrite` operation: raise the value to the argument if it is below it. */
export const WRITE_MAX: u32 = 2;

/** Most sub-bucket bits of a histogram: 2^6 = 64 sub-buckets per power of two. */
export const MAX_SUB_BITS: u32 = 6;

/** Largest integer a JS number holds exactly (2^53 − 1). */
const MAX_SAFE: u64 = 9007199254740991;

// ─── one cell ─────────────────────────────────────────────────────────────────────────────────

/** Atomically reads the u64 cell at `addr`. */
export function load(addr: usize): u64 {
  return atomic.load<u64>(addr);
}

/** Atomically reads the u64 cell at `addr` as a number, or −1 when it is above 2^53 − 1. */
export function loadNum(addr: usize): f64 {
  const v = atomic.load<u64>(addr);
  return v > MAX_SAFE ? -1 : <f64>v;
}

/** Atomically stores `value` at `addr`. */
export function store(addr: usize, value: u64): void {
  atomic.store<u64>(addr, value);
}

/** Atomically stores `value` (a validated safe integer) at `addr`. */
export function storeNum(addr: usize, value: f64): void {
  atomic.store<u64>(addr, <u64>value);
}

/** Atomically adds `value` to the cell at `addr`, wrapping modulo 2^64. */
export function add(addr: usize, value: u64): void {
  atomic.add<u64>(addr, value);
}

/** Atomically adds `value` (a validated safe integer) to the cell at `addr`, wrapping modulo 2^64. */
export function addNum(addr: usize, value: f64): void {
  atomic.add<u64>(addr, <u64>value);
}

/** Adds three validated safe integers to three cells (a multifd packet's pages, zero pages and bytes). */
export function add3(a: usize, va: f64, b: usize, vb: f64, c: usize, vc: f64): void {
  atomic.add<u64>(a, <u64>va);
  atomic.add<u64>(b, <u64>vb);
  atomic.add<u64>(c, <u64>vc);
}

/** Lowers the cell at `addr` to `value` if it is above it. */
export function min(addr: usize, value: u64): void {
  let cur = atomic.load<u64>(addr);
  while (cur > value) {
    const seen = atomic.cmpxchg<u64>(addr, cur, value);
    // Another thread changed the cell after we read it: compare again with what it wrote.
    if (seen == cur) break;
    cur = seen;
  }
}

/** `min` with a number argument. */
export function minNum(addr: usize, value: f64): void {
  min(addr, <u64>value);
}

/** Raises the cell at `addr` to `value` if it is below it. */
export function max(addr: usize, value: u64): void {
  let cur = atomic.load<u64>(addr);
  while (cur < value) {
    const seen = atomic.cmpxchg<u64>(addr, cur, value);
    // Another thread changed the cell after we read it: compare again with what it wrote.
    if (seen == cur) break;
    cur = seen;
  }
}

/** `max` with a number argument. */
export function maxNum(addr: usize, value: f64): void {
  max(addr, <u64>value);
}

// ─── laned cells: a base cell plus the same cell in every lane ────────────────────────────────

/** The lane stride of a geometry. */
@inline function strideOf(geometry: u32): usize {
  return <usize>(geometry & ~(LANE_ALIGN - 1));
}

/** Lanes to sum: the lanes-ever word, never more than the geometry's lane count. */
@inline function lanesInUse(geometry: u32): u32 {
  const ever = atomic.load<u32>(HDR_LANES_EVER);
  const lanes = geometry & (LANE_ALIGN - 1);
  return ever < lanes ? ever : lanes;
}

/** Σ of the cell at `first` in each lane in use. */
@inline function laneSum(first: usize, geometry: u32): u64 {
  return sumLanes(first, strideOf(geometry), lanesInUse(geometry));
}

/** Σ of the cell at `first` in the first `n` lanes, `stride` bytes apart. */
@inline function sumLanes(first: usize, stride: usize, n: u32): u64 {
  let sum: u64 = 0;
  let addr = first;
  for (let k: u32 = 0; k < n; k++) {
    sum += atomic.load<u64>(addr);
    addr += stride;
  }
  return sum;
}

/** Value of a laned cell: its base cell at `base` plus its cell at `first` in every lane, mod 2^64. */
export function sum(base: usize, first: usize, geometry: u32): u64 {
  return atomic.load<u64>(base) + laneSum(first, geometry);
}

/** `sum` as a number, or −1 when the value is above 2^53 − 1. */
export function sumNum(base: usize, first: usize, geometry: u32): f64 {
  const v = sum(base, first, geometry);
  return v > MAX_SAFE ? -1 : <f64>v;
}

/**
 * Sets, lowers or raises a laned cell (`op`: WRITE_SET, WRITE_MIN, WRITE_MAX) by moving its base
 * cell against the lanes' sum, so that every lane keeps its writers.
 */
export function lanedWrite(base: usize, first: usize, geometry: u32, value: u64, op: u32): void {
  while (true) {
    const seen = atomic.load<u64>(base);
    const inLanes = laneSum(first, geometry);
    const current = seen + inLanes;
    if (op == WRITE_MIN ? current <= value : op == WRITE_MAX ? current >= value : false) return;
    // The base cell moved (a set, min, max or an add without a lane) since we read it: start over.
    if (atomic.cmpxchg<u64>(base, seen, value - inLanes) == seen) return;
  }
}

/** `lanedWrite` with a number argument. */
export function lanedWriteNum(base: usize, first: usize, geometry: u32, value: f64, op: u32): void {
  lanedWrite(base, first, geometry, <u64>value, op);
}

/** Σ of `count` cells side by side from `at`, by a loop. */
@inline function rowLoop(at: usize, count: u32): u64 {
  let total: u64 = 0;
  const end = at + (<usize>count << 3);
  for (let a = at; a < end; a += 8) total += atomic.load<u64>(a);
  return total;
}

/**
 * Σ of `count` laned cells side by side (8 bytes apart in the base cells from `base` and in each
 * lane from `first`), mod 2^64: the rate limiter's transferred bytes, a histogram's count.
 */
export function groupSum(base: usize, first: usize, count: u32, geometry: u32): u64 {
  return groupSumOf(base, first, count, geometry);
}

/**
 * `groupSum`, inlined into `rateExceeded`, whose call it is most of. The cells of a row are
 * loaded straight for the usual limiter of three (QEMU's) and by a loop otherwise, chosen once
 * outside the lanes' loop: `migrationRateExceeded()` measured 6.7 ns so against 9.1 ns as a call
 * that chose an unrolled row in every lane (v0.1.0's fixed-address check: 5.8 ns).
 */
@inline function groupSumOf(base: usize, first: usize, count: u32, geometry: u32): u64 {
  const n = lanesInUse(geometry);
  const stride = strideOf(geometry);
  let row = first;
  if (count == 3) {
    let total = atomic.load<u64>(base) + atomic.load<u64>(base, 8) + atomic.load<u64>(base, 16);
    for (let k: u32 = 0; k < n; k++) {
      total += atomic.load<u64>(row) + atomic.load<u64>(row, 8) + atomic.load<u64>(row, 16);
      row += stride;
    }
    return total;
  }
  let total = rowLoop(base, count);
  for (let k: u32 = 0; k < n; k++) {
    total += rowLoop(row, count);
    row += stride;
  }
  return total;
}

// ─── histograms ───────────────────────────────────────────────────────────────────────────────

/**
 * The bucket of `value` among `buckets`. With `subBits` 0, bucket k holds [2^k, 2^(k+1)) and 0
 * goes to bucket 0, as QEMU's `postcopy-latency-dist`; with s > 0 sub-bits, values below 2^s have
 * a bucket each, and every power of two above is split into 2^s equal buckets (log-linear, as
 * HdrHistogram). Anything past the last bucket goes to the last.
 */
@inline function bucketOf(value: u64, buckets: u32, subBits: u32): u32 {
  let index: u32;
  if (subBits == 0) {
    index = value == 0 ? 0 : 63 - <u32>clz<u64>(value);
  } else if (value < (<u64>1 << <u64>subBits)) {
    index = <u32>value;
  } else {
    const top = 63 - <u32>clz<u64>(value);
    const shift = top - subBits;
    index = ((shift + 1) << subBits) + (<u32>(value >> <u64>shift) & ((<u32>1 << subBits) - 1));
  }
  return index < buckets ? index : buckets - 1;
}

/**
 * Records `value` in a histogram: one atomic add to its bucket (bucket 0 at `bucket0`, 8 bytes
 * apart) and one to the sum at `sumAddr`. The count is the buckets' total.
 */
export function record(bucket0: usize, sumAddr: usize, buckets: u32, subBits: u32, value: u64): void {
  atomic.add<u64>(bucket0 + (<usize>bucketOf(value, buckets, subBits) << 3), 1);
  atomic.add<u64>(sumAddr, value);
}

/** `record` with a number argument (a validated safe integer). */
export function recordNum(bucket0: usize, sumAddr: usize, buckets: u32, subBits: u32, value: f64): void {
  record(bucket0, sumAddr, buckets, subBits, <u64>value);
}

/** The bucket `record` would add `value` to (for readers and tests: one rule, in one place). */
export function bucketIndex(value: u64, buckets: u32, subBits: u32): u32 {
  return bucketOf(value, buckets, subBits);
}

// ─── rate limiter (QEMU's migration/migration-stats.c) ────────────────────────────────────────
//
// The limiter's cells are one block: its `count` counters side by side from `base` (and from
// `first` in each lane), then the window's start, then its budget.

/** migration_rate_set(): stores the per-window budget, limit / XFER_LIMIT_RATIO, at `maxAddr`. */
export function rateSet(maxAddr: usize, bytesPerSecond: u64): void {
  atomic.store<u64>(maxAddr, bytesPerSecond / <u64>XFER_LIMIT_RATIO);
}

/** migration_rate_reset(): starts a new window at the current transferred total (see `groupSum`). */
export function rateReset(base: usize, first: usize, count: u32, geometry: u32): void {
  atomic.store<u64>(base + (<usize>count << 3), groupSum(base, first, count, geometry));
}

/** migration_rate_exceeded() without the stream-error check: 1 when the window's budget is spent. */
export function rateExceeded(base: usize, first: usize, count: u32, geometry: u32): i32 {
  const start = base + (<usize>count << 3);
  const budget = atomic.load<u64>(start + 8);
  if (budget == <u64>RATE_LIMIT_DISABLED) return 0;
  const used = groupSumOf(base, first, count, geometry) - atomic.load<u64>(start);
  return used > budget ? 1 : 0;
}

// ─── exponential histograms (assembly/exp-index.ts) ───────────────────────────────────────────

export { EXP_MAX_SCALE, EXP_TABLE_T, EXP_TABLE_L, EXP_TABLE_BYTES, expIndex, expIndexNum, recordExp, recordExpNum } from './exp-index';
