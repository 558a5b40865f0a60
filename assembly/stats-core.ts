// migration-stats Wasm core: QEMU's Stat64 operations and migration rate limiter over shared memory.
//
// This module is the one source of the memory layout and of the core's ABI: every constant below is
// exported, and the build (scripts/gen-abi.mjs) writes them, with the signature of every exported
// function, into src/backend/abi.ts for the TypeScript side and into a C header for bench/native.c.
//
// Every counter lives at a fixed byte offset of the imported shared memory; nothing here allocates,
// there is no start function, no data segment and no mutable global, so instantiating this module
// in another thread never touches the counters, and one instance can serve every `MigrationStats`
// of a thread on that memory. Which lane an instance of `MigrationStats` owns is kept on the JS
// side, which passes lane addresses in.
//
// Memory layout (byte offsets, little-endian, one 64 KiB page):
//
//    0 ┌──────────────────────────────────────────────────────────────┐
//      │ header: magic u32 @0, version u32 @4, lane count u32 @8,      │
//      │ lane stride u32 @12, lanes ever claimed u32 @16,              │
//      │ lane ownership bitmap u64 @24                                 │
//   64 ├──────────────────────────────────────────────────────────────┤
//      │ base slot of counter 0 (u64) │ 56 bytes padding               │  one 64-byte line
//  128 │ base slot of counter 1 ...                                   │  per counter,
//      │ ...                                                          │  15 counters
// 1024 ├──────────────────────────────────────────────────────────────┤
//      │ lane 0: 15 × u64 (counter i at +8·i), 8 bytes padding         │  128 bytes = two lines
// 1152 │ lane 1 ...                                                   │  per lane,
//      │ ...                                                          │  64 lanes
// 9216 └──────────────────────────────────────────────────────────────┘
//
// Value of a gauge (set-written counter) = its base slot.
// Value of an add-only counter = base slot + Σ lane slots (mod 2^64). A thread adds into its own
// lane, so concurrent adders never write the same cache line; set/min/max move the base slot.

/** Magic number in the first word of the header: "MIGS" read as little-endian bytes. */
export const MAGIC: u32 = 0x5347494d;
/** Version of this memory layout; attach refuses any other. */
export const LAYOUT_VERSION: u32 = 1;
/** WebAssembly pages (64 KiB) of the shared memory: one holds the whole layout. */
export const MEMORY_PAGES: u32 = 1;
/** Number of lanes for add-only counters (one bit each in the 64-bit ownership bitmap). */
export const LANE_COUNT: u32 = 64;
/** Bytes between two lanes: 15 counters × 8 bytes, padded to two cache lines. */
export const LANE_STRIDE: u32 = 128;
/** Number of counters (fields of QEMU's MigrationAtomicStats). */
export const COUNTER_COUNT: u32 = 15;
/** Byte offset of counter 0's base slot. */
export const BASE_OFFSET: u32 = 64;
/** Bytes between two base slots: one cache line each, so writers of different counters never share one. */
export const BASE_STRIDE: u32 = 64;
/** Byte offset of lane 0. */
export const LANES_OFFSET: u32 = 1024;
/** First byte past the layout. */
export const LAYOUT_BYTES: u32 = 9216;

/** Byte offset of the header's magic number (u32). */
export const HDR_MAGIC: u32 = 0;
/** Byte offset of the header's layout version (u32). */
export const HDR_VERSION: u32 = 4;
/** Byte offset of the header's lane count (u32). */
export const HDR_LANE_COUNT: u32 = 8;
/** Byte offset of the header's lane stride in bytes (u32). */
export const HDR_LANE_STRIDE: u32 = 12;
/** Byte offset of the number of lanes ever claimed (u32): lanes above it are all zero. */
export const HDR_LANES_EVER: u32 = 16;
/** Byte offset of the lane ownership bitmap (u64, bit k = lane k). */
export const HDR_LANE_BITMAP: u32 = 24;

// Counter indices, in the field order of QEMU's MigrationAtomicStats (migration/migration-stats.h):
// the slot of counter i is its base slot and +8·i in every lane.

/** `dirty_bytes_last_sync`: bytes dirty at the last bitmap sync (set). */
export const DIRTY_BYTES_LAST_SYNC: u32 = 0;
/** `dirty_pages_rate`: pages dirtied per second (set). */
export const DIRTY_PAGES_RATE: u32 = 1;
/** `dirty_sync_count`: bitmap syncs (add). */
export const DIRTY_SYNC_COUNT: u32 = 2;
/** `dirty_sync_missed_zero_copy`: syncs whose zero-copy flush fell back to copying (add). */
export const DIRTY_SYNC_MISSED_ZERO_COPY: u32 = 3;
/** `downtime_bytes`: RAM bytes sent while the guest was stopped (add). */
export const DOWNTIME_BYTES: u32 = 4;
/** `multifd_bytes`: bytes sent on multifd channels (add). */
export const MULTIFD_BYTES: u32 = 5;
/** `normal_pages`: pages sent that were not all zeros (add). */
export const NORMAL_PAGES: u32 = 6;
/** `postcopy_bytes`: RAM bytes sent during postcopy (add). */
export const POSTCOPY_BYTES: u32 = 7;
/** `postcopy_requests`: page requests from the destination (add). */
export const POSTCOPY_REQUESTS: u32 = 8;
/** `precopy_bytes`: RAM bytes sent while the guest ran (add). */
export const PRECOPY_BYTES: u32 = 9;
/** `qemu_file_transferred`: bytes flushed on the main migration stream (add). */
export const QEMU_FILE_TRANSFERRED: u32 = 10;
/** `rate_limit_start`: transferred bytes when the current rate-limit window began (set). */
export const RATE_LIMIT_START: u32 = 11;
/** `rate_limit_max`: byte budget of one rate-limit window, 0 = unlimited (set). */
export const RATE_LIMIT_MAX: u32 = 12;
/** `rdma_bytes`: bytes written over RDMA (add). */
export const RDMA_BYTES: u32 = 13;
/** `zero_pages`: all-zero pages, reported as "duplicate" (add). */
export const ZERO_PAGES: u32 = 14;

/** BUFFER_DELAY: length of one rate-limit window, in milliseconds. */
export const BUFFER_DELAY: u32 = 100;
/** XFER_LIMIT_RATIO: rate-limit windows per second (1000 ms / BUFFER_DELAY). */
export const XFER_LIMIT_RATIO: u32 = 1000 / BUFFER_DELAY;
/** RATE_LIMIT_DISABLED: a per-window budget of 0 means no limit. */
export const RATE_LIMIT_DISABLED: u32 = 0;

/** Largest integer a JS number holds exactly (2^53 − 1). */
const MAX_SAFE: u64 = 9007199254740991;

// ─── header ───────────────────────────────────────────────────────────────────────────────────

/**
 * Writes the header into a blank memory. Returns 1 if it wrote it, 0 if the same header was
 * already there, −1 if the memory holds something else (the counters are then left alone).
 */
export function initHeader(): i32 {
  const seen = atomic.cmpxchg<u32>(HDR_MAGIC, 0, MAGIC);
  if (seen == 0) {
    atomic.store<u32>(HDR_LANE_COUNT, LANE_COUNT);
    atomic.store<u32>(HDR_LANE_STRIDE, LANE_STRIDE);
    atomic.store<u32>(HDR_VERSION, LAYOUT_VERSION);
    return 1;
  }
  return seen == MAGIC && atomic.load<u32>(HDR_VERSION) == LAYOUT_VERSION ? 0 : -1;
}

// ─── lanes ────────────────────────────────────────────────────────────────────────────────────

/** Claims the lowest free lane and returns it, or −1 when all are taken. */
export function claimLane(): i32 {
  let bits = atomic.load<u64>(HDR_LANE_BITMAP);
  while (bits != 0xffffffffffffffff) {
    const free = <i32>ctz<u64>(~bits);
    const seen = atomic.cmpxchg<u64>(HDR_LANE_BITMAP, bits, bits | (<u64>1 << free));
    // A lane was claimed or released in between: look again at what that left.
    if (seen != bits) { bits = seen; continue; }
    let ever = atomic.load<u32>(HDR_LANES_EVER);
    while (ever < <u32>free + 1) {
      const prev = atomic.cmpxchg<u32>(HDR_LANES_EVER, ever, <u32>free + 1);
      // Someone raised the high-water mark first: keep it if it is already high enough.
      if (prev == ever) break;
      ever = prev;
    }
    return free;
  }
  return -1;
}

/** Gives lane `lane` back (its counts stay in it, still summed). The caller owns that lane. */
export function releaseLane(lane: i32): void {
  atomic.and<u64>(HDR_LANE_BITMAP, ~(<u64>1 << <u64>lane));
}

/** Number of lanes that were ever claimed in this memory (lanes above it are all zero). */
export function lanesEverClaimed(): u32 {
  return atomic.load<u32>(HDR_LANES_EVER);
}

/** Bitmap of lanes owned right now (bit k = lane k). */
export function laneBitmap(): u64 {
  return atomic.load<u64>(HDR_LANE_BITMAP);
}

// ─── single slots (gauges, and any one u64 slot) ──────────────────────────────────────────────

/** Atomically reads the u64 slot at `addr`. */
export function load(addr: usize): u64 {
  return atomic.load<u64>(addr);
}

/** Atomically reads the u64 slot at `addr` as a number, or −1 when it is above 2^53 − 1. */
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

/** Atomically adds `value` to the slot at `addr`, wrapping modulo 2^64. */
export function add(addr: usize, value: u64): void {
  atomic.add<u64>(addr, value);
}

/** Atomically adds `value` (a validated safe integer) to the slot at `addr`, wrapping modulo 2^64. */
export function addNum(addr: usize, value: f64): void {
  atomic.add<u64>(addr, <u64>value);
}

/** Lowers the slot at `addr` to `value` if it is above it. */
export function min(addr: usize, value: u64): void {
  let cur = atomic.load<u64>(addr);
  while (cur > value) {
    const seen = atomic.cmpxchg<u64>(addr, cur, value);
    // Another thread changed the slot after we read it: compare again with what it wrote.
    if (seen == cur) break;
    cur = seen;
  }
}

/** `min` with a number argument. */
export function minNum(addr: usize, value: f64): void {
  min(addr, <u64>value);
}

/** Raises the slot at `addr` to `value` if it is below it. */
export function max(addr: usize, value: u64): void {
  let cur = atomic.load<u64>(addr);
  while (cur < value) {
    const seen = atomic.cmpxchg<u64>(addr, cur, value);
    // Another thread changed the slot after we read it: compare again with what it wrote.
    if (seen == cur) break;
    cur = seen;
  }
}

/** `max` with a number argument. */
export function maxNum(addr: usize, value: f64): void {
  max(addr, <u64>value);
}

// ─── laned (add-only) counters, by counter index ──────────────────────────────────────────────

@inline function baseAddr(counter: u32): usize {
  return BASE_OFFSET + counter * BASE_STRIDE;
}

@inline function lanesSum(counter: u32): u64 {
  const ever = atomic.load<u32>(HDR_LANES_EVER);
  let sum: u64 = 0;
  let addr: usize = LANES_OFFSET + counter * 8;
  for (let k: u32 = 0; k < ever; k++) {
    sum += atomic.load<u64>(addr);
    addr += LANE_STRIDE;
  }
  return sum;
}

/** Value of add-only counter `counter`: base slot plus every lane, modulo 2^64. */
export function lanedGet(counter: u32): u64 {
  return atomic.load<u64>(baseAddr(counter)) + lanesSum(counter);
}

/** `lanedGet` as a number, or −1 when the value is above 2^53 − 1. */
export function lanedGetNum(counter: u32): f64 {
  const v = lanedGet(counter);
  return v > MAX_SAFE ? -1 : <f64>v;
}

/** Sets add-only counter `counter` to `value` by moving its base slot against the lanes' sum. */
export function lanedSet(counter: u32, value: u64): void {
  atomic.store<u64>(baseAddr(counter), value - lanesSum(counter));
}

/** `lanedSet` with a number argument. */
export function lanedSetNum(counter: u32, value: f64): void {
  lanedSet(counter, <u64>value);
}

/**
 * Moves add-only counter `counter` to `value` if `value` is beyond it: above it when `raise`, below it
 * otherwise. The base slot absorbs the difference, so lanes keep one writer each.
 */
@inline function lanedBound(counter: u32, value: u64, raise: bool): void {
  const addr = baseAddr(counter);
  while (true) {
    const base = atomic.load<u64>(addr);
    const lanes = lanesSum(counter);
    const current = base + lanes;
    if (raise ? current >= value : current <= value) return;
    // The base slot moved (a set, min, max or unlaned add) since we read it: start over.
    if (atomic.cmpxchg<u64>(addr, base, value - lanes) == base) return;
  }
}

/** Lowers add-only counter `counter` to `value` if it is above it. */
export function lanedMin(counter: u32, value: u64): void {
  lanedBound(counter, value, false);
}

/** `lanedMin` with a number argument. */
export function lanedMinNum(counter: u32, value: f64): void {
  lanedMin(counter, <u64>value);
}

/** Raises add-only counter `counter` to `value` if it is below it. */
export function lanedMax(counter: u32, value: u64): void {
  lanedBound(counter, value, true);
}

/** `lanedMax` with a number argument. */
export function lanedMaxNum(counter: u32, value: f64): void {
  lanedMax(counter, <u64>value);
}

/**
 * Adds the three per-packet figures of a multifd channel in one call: normal pages, zero pages
 * and bytes on the wire. `at` and `stride` say where counter i is (`at + stride · i`): the
 * caller's lane (`LANES_OFFSET + lane · LANE_STRIDE`, 8) or the base slots (`BASE_OFFSET`,
 * `BASE_STRIDE`).
 */
export function addPacket(at: usize, stride: usize, normalPages: f64, zeroPages: f64, multifdBytes: f64): void {
  atomic.add<u64>(at + stride * NORMAL_PAGES, <u64>normalPages);
  atomic.add<u64>(at + stride * ZERO_PAGES, <u64>zeroPages);
  atomic.add<u64>(at + stride * MULTIFD_BYTES, <u64>multifdBytes);
}

// ─── rate limiter (migration-stats.c) ─────────────────────────────────────────────────────────

/** migration_transferred_bytes(): qemu_file_transferred + multifd_bytes + rdma_bytes, mod 2^64. */
export function transferredBytes(): u64 {
  return lanedGet(QEMU_FILE_TRANSFERRED) + lanedGet(MULTIFD_BYTES) + lanedGet(RDMA_BYTES);
}

/** migration_rate_set(): stores the per-window budget limit / XFER_LIMIT_RATIO. */
export function rateSet(bytesPerSecond: u64): void {
  atomic.store<u64>(baseAddr(RATE_LIMIT_MAX), bytesPerSecond / <u64>XFER_LIMIT_RATIO);
}

/** migration_rate_get(): the budget per window, in bytes. */
export function rateGet(): u64 {
  return atomic.load<u64>(baseAddr(RATE_LIMIT_MAX));
}

/** migration_rate_reset(): starts a new window at the current transferred total. */
export function rateReset(): void {
  atomic.store<u64>(baseAddr(RATE_LIMIT_START), transferredBytes());
}

/** migration_rate_exceeded() without the stream-error check: 1 when the window's budget is spent. */
export function rateExceeded(): i32 {
  const budget = atomic.load<u64>(baseAddr(RATE_LIMIT_MAX));
  if (budget == <u64>RATE_LIMIT_DISABLED) return 0;
  const used = transferredBytes() - atomic.load<u64>(baseAddr(RATE_LIMIT_START));
  return used > budget ? 1 : 0;
}
