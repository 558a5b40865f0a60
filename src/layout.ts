/**
 * The shared-memory layout, mirrored from `assembly/index.ts` (a test checks that the two agree).
 *
 * ```
 *    0  header (magic, layout version, lane count, lane stride, lanes ever claimed, lane bitmap)
 *   64  base slot of counter i at 64 + 64·i (one cache line each, 15 counters)
 * 1024  lane k at 1024 + 128·k, counter i at +8·i (two cache lines per lane, 64 lanes)
 * 9216  end
 * ```
 * @packageDocumentation
 */

/** "MIGS" as a little-endian u32: the first word of every memory this library initialised. */
export const MAGIC = 0x5347494d;
/** Layout version written in the header; attach refuses memories of any other version. */
export const LAYOUT_VERSION = 1;
/** Bytes of the header and everything after it that this library owns. */
export const LAYOUT_BYTES = 9216;
/** Byte offset of counter 0's base slot. */
export const BASE_OFFSET = 64;
/** One cache line between base slots, so that writers of different counters never share one. */
export const BASE_STRIDE = 64;
/** Byte offset of lane 0. */
export const LANES_OFFSET = 1024;
/** 15 × 8 bytes of counters, padded to two cache lines (the pair a prefetcher fetches together). */
export const LANE_STRIDE = 128;
/** Lanes available for add-only counters (one bit each in the 64-bit ownership bitmap). */
export const LANE_COUNT = 64;
/** Header word offsets (bytes). */
export const HDR_MAGIC = 0;
export const HDR_VERSION = 4;
export const HDR_LANE_COUNT = 8;
export const HDR_LANE_STRIDE = 12;
export const HDR_LANES_EVER = 16;
export const HDR_LANE_BITMAP = 24;
/** Pages of the shared memory: one 64 KiB page holds the whole layout. */
export const MEMORY_PAGES = 1;

/** How QEMU writes a counter: `add` ones are laned, `set` ones (gauges) have one slot. */
export type CounterKind = 'add' | 'set';

/** One field of QEMU's `MigrationAtomicStats`. */
export interface CounterInfo {
  /** Index in the C struct, which is also the slot index in the layout. */
  readonly index: number;
  /** Property name on {@link MigrationStats}. */
  readonly name: CounterName;
  /** Field name in QEMU's C struct. */
  readonly cName: string;
  /** Unit of the value. */
  readonly unit: string;
  /** `add`: monotonic, laned; `set`: a gauge with one slot. */
  readonly kind: CounterKind;
  /** What the counter counts. */
  readonly help: string;
}

/** The TS names of the 15 counters, in QEMU's struct order. */
export const COUNTER_NAMES = Object.freeze([
  'dirtyBytesLastSync',
  'dirtyPagesRate',
  'dirtySyncCount',
  'dirtySyncMissedZeroCopy',
  'downtimeBytes',
  'multifdBytes',
  'normalPages',
  'postcopyBytes',
  'postcopyRequests',
  'precopyBytes',
  'qemuFileTransferred',
  'rateLimitStart',
  'rateLimitMax',
  'rdmaBytes',
  'zeroPages',
] as const);

/** Name of one of the 15 counters. */
export type CounterName = (typeof COUNTER_NAMES)[number];

const row = (
  index: number,
  cName: string,
  unit: string,
  kind: CounterKind,
  help: string,
): CounterInfo => Object.freeze({ index, name: COUNTER_NAMES[index]!, cName, unit, kind, help });

/** The 15 counters of QEMU's `MigrationAtomicStats`, in struct order. */
export const COUNTERS: readonly CounterInfo[] = Object.freeze([
  row(0, 'dirty_bytes_last_sync', 'bytes', 'set', 'Dirty bytes found by the last dirty-bitmap sync.'),
  row(1, 'dirty_pages_rate', 'pages/s', 'set', 'Pages dirtied per second, measured at bitmap sync.'),
  row(2, 'dirty_sync_count', 'syncs', 'add', 'Dirty-bitmap syncs done.'),
  row(3, 'dirty_sync_missed_zero_copy', 'syncs', 'add', 'Syncs where a zero-copy flush fell back to copying.'),
  row(4, 'downtime_bytes', 'bytes', 'add', 'RAM bytes sent while the guest was stopped.'),
  row(5, 'multifd_bytes', 'bytes', 'add', 'Bytes sent on multifd channels.'),
  row(6, 'normal_pages', 'pages', 'add', 'Pages sent that were not all zeros.'),
  row(7, 'postcopy_bytes', 'bytes', 'add', 'RAM bytes sent during postcopy.'),
  row(8, 'postcopy_requests', 'requests', 'add', 'Page requests received from the destination.'),
  row(9, 'precopy_bytes', 'bytes', 'add', 'RAM bytes sent while the guest ran.'),
  row(10, 'qemu_file_transferred', 'bytes', 'add', 'Bytes flushed on the main migration stream.'),
  row(11, 'rate_limit_start', 'bytes', 'set', 'Transferred bytes when the current rate-limit window began.'),
  row(12, 'rate_limit_max', 'bytes', 'set', 'Byte budget of one rate-limit window (0 = unlimited).'),
  row(13, 'rdma_bytes', 'bytes', 'add', 'Bytes written over RDMA.'),
  row(14, 'zero_pages', 'pages', 'add', 'All-zero pages (reported as "duplicate").'),
]);

/** Byte offset of counter `index`'s base slot. */
export const baseAddr = (index: number): number => BASE_OFFSET + BASE_STRIDE * index;

/** Byte offset of counter `index` in lane `lane`. */
export const laneAddr = (lane: number, index: number): number => LANES_OFFSET + LANE_STRIDE * lane + 8 * index;
