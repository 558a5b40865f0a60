/**
 * QEMU's 15 migration counters (`MigrationAtomicStats` in `migration/migration-stats.h`): what each
 * one is called in TS and in C, its unit, how QEMU writes it and what it counts.
 *
 * This table is the one place a counter is described; its slot index comes from the Wasm core's ABI
 * (`CORE_INDEX` below: the constant named after the C field), so the order is the core's, and
 * `MigrationStats`' 15 properties, the exporters' metrics and the reports all derive from it.
 * @packageDocumentation
 */
import * as abi from './backend/abi.js';

/** How QEMU writes a counter: `add` ones are laned, `set` ones (gauges) have one slot. */
export type CounterKind = 'add' | 'set';

interface CounterRow {
  readonly cName: string;
  readonly unit: string;
  readonly kind: CounterKind;
  readonly help: string;
}

const TABLE = {
  /** `dirty_bytes_last_sync`: dirty bytes found by the last bitmap sync (gauge, bytes). */
  dirtyBytesLastSync: { cName: 'dirty_bytes_last_sync', unit: 'bytes', kind: 'set', help: 'Dirty bytes found by the last dirty-bitmap sync.' },
  /** `dirty_pages_rate`: pages dirtied per second (gauge, pages/s). */
  dirtyPagesRate: { cName: 'dirty_pages_rate', unit: 'pages/s', kind: 'set', help: 'Pages dirtied per second, measured at bitmap sync.' },
  /** `dirty_sync_count`: dirty-bitmap syncs done (syncs). */
  dirtySyncCount: { cName: 'dirty_sync_count', unit: 'syncs', kind: 'add', help: 'Dirty-bitmap syncs done.' },
  /** `dirty_sync_missed_zero_copy`: syncs whose zero-copy flush fell back to copying (syncs). */
  dirtySyncMissedZeroCopy: {
    cName: 'dirty_sync_missed_zero_copy',
    unit: 'syncs',
    kind: 'add',
    help: 'Syncs where a zero-copy flush fell back to copying.',
  },
  /** `downtime_bytes`: RAM bytes sent while the guest was stopped (bytes). */
  downtimeBytes: { cName: 'downtime_bytes', unit: 'bytes', kind: 'add', help: 'RAM bytes sent while the guest was stopped.' },
  /** `multifd_bytes`: bytes sent on multifd channels (bytes). */
  multifdBytes: { cName: 'multifd_bytes', unit: 'bytes', kind: 'add', help: 'Bytes sent on multifd channels.' },
  /** `normal_pages`: pages sent that were not all zeros (pages). */
  normalPages: { cName: 'normal_pages', unit: 'pages', kind: 'add', help: 'Pages sent that were not all zeros.' },
  /** `postcopy_bytes`: RAM bytes sent during postcopy (bytes). */
  postcopyBytes: { cName: 'postcopy_bytes', unit: 'bytes', kind: 'add', help: 'RAM bytes sent during postcopy.' },
  /** `postcopy_requests`: page requests from the destination (requests). */
  postcopyRequests: { cName: 'postcopy_requests', unit: 'requests', kind: 'add', help: 'Page requests received from the destination.' },
  /** `precopy_bytes`: RAM bytes sent while the guest ran (bytes). */
  precopyBytes: { cName: 'precopy_bytes', unit: 'bytes', kind: 'add', help: 'RAM bytes sent while the guest ran.' },
  /** `qemu_file_transferred`: bytes flushed on the main migration stream (bytes). */
  qemuFileTransferred: { cName: 'qemu_file_transferred', unit: 'bytes', kind: 'add', help: 'Bytes flushed on the main migration stream.' },
  /** `rate_limit_start`: transferred bytes when the current window began (gauge, bytes). */
  rateLimitStart: {
    cName: 'rate_limit_start',
    unit: 'bytes',
    kind: 'set',
    help: 'Transferred bytes when the current rate-limit window began.',
  },
  /** `rate_limit_max`: byte budget of one window, 0 = unlimited (gauge, bytes). */
  rateLimitMax: { cName: 'rate_limit_max', unit: 'bytes', kind: 'set', help: 'Byte budget of one rate-limit window (0 = unlimited).' },
  /** `rdma_bytes`: bytes written over RDMA (bytes). */
  rdmaBytes: { cName: 'rdma_bytes', unit: 'bytes', kind: 'add', help: 'Bytes written over RDMA.' },
  /** `zero_pages`: all-zero pages, reported as `duplicate` (pages). */
  zeroPages: { cName: 'zero_pages', unit: 'pages', kind: 'add', help: 'All-zero pages (reported as "duplicate").' },
} as const satisfies Record<string, CounterRow>;

/** Name of one of the 15 counters. */
export type CounterName = keyof typeof TABLE;

/** The 15 counters as properties, each documented as in the table above. */
export type CounterFields<T> = { readonly [K in keyof typeof TABLE]: T };

/** One field of QEMU's `MigrationAtomicStats`. */
export interface CounterInfo {
  /** Index in the C struct, which is also the slot index in the layout. */
  readonly index: number;
  /** Property name on `MigrationStats`. */
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

/** The slot index the Wasm core gives a C field: its constant of the same name in upper case. */
function coreIndex(cName: string): number {
  const index = (abi as Record<string, unknown>)[cName.toUpperCase()];
  if (typeof index !== 'number') throw new Error(`migration-stats: the Wasm core has no slot for ${cName}`);
  return index;
}

/** The 15 counters of QEMU's `MigrationAtomicStats`, in struct order (frozen). */
export const COUNTERS: readonly CounterInfo[] = Object.freeze(
  (Object.entries(TABLE) as [CounterName, CounterRow][])
    .map(([name, row]): CounterInfo => Object.freeze({ index: coreIndex(row.cName), name, ...row }))
    .sort((a, b) => a.index - b.index),
);

if (COUNTERS.length !== abi.COUNTER_COUNT || COUNTERS.some((info, i) => info.index !== i)) {
  throw new Error('migration-stats: the counter table and the Wasm core disagree on the slots');
}

/** The TS names of the 15 counters, in QEMU's struct order (frozen). */
export const COUNTER_NAMES: readonly CounterName[] = Object.freeze(COUNTERS.map((info) => info.name));
