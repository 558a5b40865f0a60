/**
 * QEMU's 15 migration counters (`MigrationAtomicStats` in `migration/migration-stats.h`): what each
 * one is called in TS and in C, its unit, how QEMU writes it and what it counts, and the definition
 * `MigrationStats` is made from.
 *
 * This table is the one place a counter is described: `MigrationStats`' 15 properties, the
 * definition (and so the memory layout), the exporters' metric names and the reports derive from
 * it. The order is the C struct's.
 * @packageDocumentation
 */
import { checkDefinition, type Definition, type MetricDefinition } from './definition.js';

export type { CounterKind } from './stat64.js';
import type { CounterKind } from './stat64.js';

interface CounterRow {
  readonly cName: string;
  readonly unit: string;
  readonly kind: CounterKind;
  readonly help: string;
  /** Prometheus family name, where it is not the C name (plus `_bytes` for bytes). */
  readonly prometheus?: string;
  /** OpenTelemetry unit, where it is not derived from the unit. */
  readonly otelUnit?: string;
}

const TABLE = {
  /** `dirty_bytes_last_sync`: dirty bytes found by the last bitmap sync (gauge, bytes). */
  dirtyBytesLastSync: {
    cName: 'dirty_bytes_last_sync',
    unit: 'bytes',
    kind: 'set',
    help: 'Dirty bytes found by the last dirty-bitmap sync.',
    prometheus: 'last_sync_dirty_bytes',
  },
  /** `dirty_pages_rate`: pages dirtied per second (gauge, pages/s). */
  dirtyPagesRate: {
    cName: 'dirty_pages_rate',
    unit: 'pages/s',
    kind: 'set',
    help: 'Pages dirtied per second, measured at bitmap sync.',
    prometheus: 'dirty_pages_per_second',
    otelUnit: '{page}/s',
  },
  /** `dirty_sync_count`: dirty-bitmap syncs done (syncs). */
  dirtySyncCount: { cName: 'dirty_sync_count', unit: 'syncs', kind: 'add', help: 'Dirty-bitmap syncs done.', prometheus: 'dirty_syncs', otelUnit: '{sync}' },
  /** `dirty_sync_missed_zero_copy`: syncs whose zero-copy flush fell back to copying (syncs). */
  dirtySyncMissedZeroCopy: {
    cName: 'dirty_sync_missed_zero_copy',
    unit: 'syncs',
    kind: 'add',
    help: 'Syncs where a zero-copy flush fell back to copying.',
    otelUnit: '{sync}',
  },
  /** `downtime_bytes`: RAM bytes sent while the guest was stopped (bytes). */
  downtimeBytes: { cName: 'downtime_bytes', unit: 'bytes', kind: 'add', help: 'RAM bytes sent while the guest was stopped.' },
  /** `multifd_bytes`: bytes sent on multifd channels (bytes). */
  multifdBytes: { cName: 'multifd_bytes', unit: 'bytes', kind: 'add', help: 'Bytes sent on multifd channels.' },
  /** `normal_pages`: pages sent that were not all zeros (pages). */
  normalPages: { cName: 'normal_pages', unit: 'pages', kind: 'add', help: 'Pages sent that were not all zeros.', otelUnit: '{page}' },
  /** `postcopy_bytes`: RAM bytes sent during postcopy (bytes). */
  postcopyBytes: { cName: 'postcopy_bytes', unit: 'bytes', kind: 'add', help: 'RAM bytes sent during postcopy.' },
  /** `postcopy_requests`: page requests from the destination (requests). */
  postcopyRequests: {
    cName: 'postcopy_requests',
    unit: 'requests',
    kind: 'add',
    help: 'Page requests received from the destination.',
    otelUnit: '{request}',
  },
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
  zeroPages: { cName: 'zero_pages', unit: 'pages', kind: 'add', help: 'All-zero pages (reported as "duplicate").', otelUnit: '{page}' },
} as const satisfies Record<string, CounterRow>;

/** Name of one of the 15 counters. */
export type CounterName = keyof typeof TABLE;

/** The 15 counters as properties, each documented as in the table above. */
export type CounterFields<T> = { readonly [K in keyof typeof TABLE]: T };

/** One field of QEMU's `MigrationAtomicStats`. */
export interface CounterInfo {
  /** Index in the C struct (0 to 14). */
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

/** The 15 counters of QEMU's `MigrationAtomicStats`, in struct order (frozen). */
export const COUNTERS: readonly CounterInfo[] = Object.freeze(
  (Object.entries(TABLE) as [CounterName, CounterRow][]).map(([name, { cName, unit, kind, help }], index): CounterInfo =>
    Object.freeze({ index, name, cName, unit, kind, help }),
  ),
);

/** The TS names of the 15 counters, in QEMU's struct order (frozen). */
export const COUNTER_NAMES: readonly CounterName[] = Object.freeze(COUNTERS.map((info) => info.name));

/**
 * The definition `MigrationStats` is made from: the 15 counters (gauges for the `set` ones) with
 * their C names and export names, under the namespace `qemu.migration`, and QEMU's rate limiter
 * over `qemu_file_transferred + multifd_bytes + rdma_bytes`, its window in the `rate_limit_start`
 * and `rate_limit_max` gauges (`migration/migration-stats.c`).
 * @internal
 */
export const QEMU_DEFINITION: Definition = checkDefinition(
  Object.fromEntries(
    (Object.entries(TABLE) as [CounterName, CounterRow][]).map(([name, row]): [string, MetricDefinition] => [
      name,
      {
        kind: row.kind === 'add' ? 'counter' : 'gauge',
        unit: row.unit,
        help: `${row.help.replace(/\.$/, '')}; QEMU ${row.cName}.`,
        names: { c: row.cName, ...(row.prometheus ? { prometheus: row.prometheus } : {}), ...(row.otelUnit ? { otelUnit: row.otelUnit } : {}) },
      },
    ]),
  ),
  {
    namespace: 'qemu.migration',
    rateLimit: { counters: ['qemuFileTransferred', 'multifdBytes', 'rdmaBytes'], start: 'rateLimitStart', max: 'rateLimitMax' },
  },
).definition;
