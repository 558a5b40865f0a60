/**
 * QMP's `query-migrate` for the source side (QEMU's `fill_source_migration_info` in
 * `migration/migration.c`): the `MigrationInfo` reply built from the counters.
 *
 * {@link queryMigrate} reads the counters and takes from a context what counters don't hold
 * (status, times, RAM size); `formatQmp` (qmp-json.ts) prints the result as QEMU's monitor does.
 * @packageDocumentation
 */
import { describe, entry, INT64_MAX, rangeFault, toU64, typeFault } from '../errors.js';
import { readOptions, type OptionSpec } from '../options.js';
import type { MigrationStats } from '../stats.js';
import { requireStats } from '../read/reader.js';
import { readPostcopyInfo, type PostcopyBlocktimeInfo } from './postcopy.js';

/** QAPI's `MigrationStatus`, in schema order (frozen). */
export const MIGRATION_STATUSES = Object.freeze([
  'none',
  'setup',
  'cancelling',
  'cancelled',
  'active',
  'postcopy-active',
  'postcopy-paused',
  'postcopy-recover-setup',
  'postcopy-recover',
  'completed',
  'failed',
  'colo',
  'pre-switchover',
  'device',
  'wait-unplug',
] as const);

/** A migration status as QMP names it. */
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

/** Statuses in which QEMU reports times and the `ram` object. */
const WITH_RAM: ReadonlySet<MigrationStatus> = new Set<MigrationStatus>([
  'active',
  'cancelling',
  'postcopy-active',
  'pre-switchover',
  'device',
  'postcopy-paused',
  'postcopy-recover-setup',
  'postcopy-recover',
  'completed',
]);

/** Statuses in which QEMU reports `downtime` rather than `expected-downtime`. */
const WITH_DOWNTIME: ReadonlySet<MigrationStatus> = new Set<MigrationStatus>([
  'completed',
  'postcopy-active',
  'postcopy-paused',
  'postcopy-recover-setup',
  'postcopy-recover',
]);

/**
 * QAPI's `MigrationStats` (the `ram` member of `query-migrate`): 17 members, integers as unsigned
 * `bigint`, `mbps` a number. Members typed `int` in QEMU's schema print as signed 64-bit in QMP.
 */
export interface MigrationRamStats {
  /** `migration_transferred_bytes()`. */
  transferred: bigint;
  /** Bytes still to send (dirty pages × page size); 0 once completed. */
  remaining: bigint;
  /** Guest RAM size in bytes. */
  total: bigint;
  /** `zero_pages`. */
  duplicate: bigint;
  /** `normal_pages`. */
  normal: bigint;
  /** `normal_pages × page-size`, mod 2^64. */
  'normal-bytes': bigint;
  /** `dirty_pages_rate`; 0 once completed. */
  'dirty-pages-rate': bigint;
  /** Megabits (10^6) per second: the last window's, or the whole migration's once completed. */
  mbps: number;
  /** `dirty_sync_count`. */
  'dirty-sync-count': bigint;
  /** `postcopy_requests`. */
  'postcopy-requests': bigint;
  /** Target page size in bytes. */
  'page-size': bigint;
  /** `multifd_bytes`. */
  'multifd-bytes': bigint;
  /** Pages sent per second in the last window, truncated. */
  'pages-per-second': bigint;
  /** `precopy_bytes`. */
  'precopy-bytes': bigint;
  /** `downtime_bytes`. */
  'downtime-bytes': bigint;
  /** `postcopy_bytes`. */
  'postcopy-bytes': bigint;
  /** `dirty_sync_missed_zero_copy`. */
  'dirty-sync-missed-zero-copy': bigint;
}

/**
 * QAPI's `MigrationInfo` as the source side fills it from the counters, with the destination's
 * postcopy members (QEMU 10.1's `fill_destination_postcopy_migration_info`) when given.
 */
export interface MigrationInfo extends Partial<PostcopyBlocktimeInfo> {
  /** Absent only when no migration ever started. */
  status?: MigrationStatus;
  /** Present while a migration runs and once it completed. */
  ram?: MigrationRamStats;
  /** Milliseconds since the migration started, or its total once completed. */
  'total-time'?: bigint;
  /** Expected downtime (ms), while no downtime has happened yet. */
  'expected-downtime'?: bigint;
  /** Downtime (ms), once completed or in postcopy. */
  downtime?: bigint;
  /** Setup time (ms). */
  'setup-time'?: bigint;
  /** The error, when the migration has one. */
  'error-desc'?: string;
}

/** What {@link queryMigrate} needs besides the counters. */
export interface QueryMigrateContext {
  /** The migration's status. */
  status: MigrationStatus;
  /** Setup time (ms); needed when the status reports `ram`. */
  setupTimeMs?: number | bigint;
  /** Total time so far, or the total once completed (ms); needed when the status reports `ram`. */
  totalTimeMs?: number | bigint;
  /** Downtime (ms), reported once completed or in postcopy (QEMU's starts at 0). */
  downtimeMs?: number | bigint;
  /**
   * Expected downtime (ms), reported otherwise (QEMU's starts at 0). `window.expectedDowntimeMs`
   * fits as it is: any integral number is taken exactly, since the window computes it as a double.
   */
  expectedDowntimeMs?: number | bigint;
  /** Guest RAM size in bytes; needed when the status reports `ram`. */
  ramTotalBytes?: number | bigint;
  /** Bytes left to send; needed when the status reports `ram`, except once completed. */
  remainingBytes?: number | bigint;
  /** Target page size in bytes (default 4096, x86). */
  pageSize?: number | bigint;
  /** `mbps` to report: `window.mbps` while running, `completedMbps(…)` once completed. */
  mbps?: number;
  /** Pages per second: `window.pagesPerSecond` (QEMU truncates it when reporting). */
  pagesPerSecond?: number | bigint;
  /** The error description, reported whatever the status (QEMU's `error-desc`). */
  errorDesc?: string;
  /**
   * The destination's postcopy stats (`definePostcopyStats(vcpus)`): once the status is
   * `completed`, the reply gets their six members (`postcopy-blocktime` …), as QEMU's destination
   * fills them when its incoming migration has completed.
   */
  postcopyBlocktime?: unknown;
}

const WHERE = 'queryMigrate';

/** The members a {@link QueryMigrateContext} may have. */
const CONTEXT: OptionSpec<QueryMigrateContext> = {
  what: 'context',
  example: "{ status: 'active', … }",
  required: true,
  names: {
  status: true,
  setupTimeMs: true,
  totalTimeMs: true,
  downtimeMs: true,
  expectedDowntimeMs: true,
  ramTotalBytes: true,
  remainingBytes: true,
  pageSize: true,
  mbps: true,
  pagesPerSecond: true,
  errorDesc: true,
  postcopyBlocktime: true,
  },
};

function need<T>(name: keyof QueryMigrateContext, value: T | undefined, status: string): T {
  if (value === undefined) {
    throw typeFault(`context.${name} is required when the status is '${status}'; received undefined`);
  }
  return value;
}

function timeMs(name: keyof QueryMigrateContext, value: unknown): bigint {
  // MigrationWindow computes the expected downtime as a double and truncates it, as QEMU does:
  // an integral number above 2^53 is then that exact value, not a rounded input.
  const fromDouble = name === 'expectedDowntimeMs' && typeof value === 'number' && Number.isInteger(value) && value >= 0;
  const ms = fromDouble ? BigInt(value) : toU64(`context.${name}`, value);
  if (ms > INT64_MAX) {
    throw rangeFault(`context.${name} must fit QEMU's int64 milliseconds (at most 2^63 − 1); received ${describe(value)}`);
  }
  return ms;
}

function mbpsValue(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  const head = `context.mbps must be a finite non-negative number (window.mbps or completedMbps(…)); received ${describe(value)}`;
  throw typeof value === 'number' ? rangeFault(head) : typeFault(head);
}

function pagesPerSecondValue(value: unknown): bigint {
  // QEMU keeps a double and converts it to uint64_t when it reports: truncation.
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < 18446744073709551616) {
    return BigInt(Math.trunc(value));
  }
  if (typeof value === 'bigint') return toU64('context.pagesPerSecond', value);
  const head = `context.pagesPerSecond must be a finite number from 0 to below 2^64 (QEMU truncates it), or a bigint; received ${describe(value)}`;
  throw typeof value === 'number' ? rangeFault(head) : typeFault(head);
}

function pageSizeValue(value: unknown): bigint {
  const pageSize = toU64('context.pageSize', value);
  if (pageSize === 0n) throw rangeFault(`context.pageSize must be at least 1 byte; received ${describe(value)}`);
  return pageSize;
}

/** Every member of a context, checked and converted; `undefined` where it was not given. */
interface CheckedContext {
  readonly status: MigrationStatus;
  readonly setupTime: bigint | undefined;
  readonly totalTime: bigint | undefined;
  readonly downtime: bigint | undefined;
  readonly expectedDowntime: bigint | undefined;
  readonly ramTotal: bigint | undefined;
  readonly remaining: bigint | undefined;
  readonly pageSize: bigint;
  readonly mbps: number | undefined;
  readonly pagesPerSecond: bigint | undefined;
  readonly errorDesc: string | undefined;
  readonly postcopy: PostcopyBlocktimeInfo | undefined;
}

/** Checks every member given, whether or not its status reports it, before anything is read. */
function checkContext(context: Readonly<Partial<QueryMigrateContext>>): CheckedContext {
  const { status, errorDesc } = context;
  if (!(MIGRATION_STATUSES as readonly unknown[]).includes(status)) {
    throw typeFault(`context.status must be one of ${MIGRATION_STATUSES.map((s) => `'${s}'`).join(', ')}; received ${describe(status)}`);
  }
  if (errorDesc !== undefined && typeof errorDesc !== 'string') {
    throw typeFault(`context.errorDesc must be a string or undefined; received ${describe(errorDesc)}`);
  }
  const given = <T>(value: unknown, check: (value: unknown) => T): T | undefined => (value === undefined ? undefined : check(value));
  const time = (name: 'setupTimeMs' | 'totalTimeMs' | 'downtimeMs' | 'expectedDowntimeMs') => given(context[name], (value) => timeMs(name, value));
  const bytes = (name: 'ramTotalBytes' | 'remainingBytes') => given(context[name], (value) => toU64(`context.${name}`, value));
  const checked: CheckedContext = {
    status: status as MigrationStatus,
    setupTime: time('setupTimeMs'),
    totalTime: time('totalTimeMs'),
    downtime: time('downtimeMs'),
    expectedDowntime: time('expectedDowntimeMs'),
    ramTotal: bytes('ramTotalBytes'),
    remaining: bytes('remainingBytes'),
    pageSize: given(context.pageSize, pageSizeValue) ?? 4096n,
    mbps: given(context.mbps, mbpsValue),
    pagesPerSecond: given(context.pagesPerSecond, pagesPerSecondValue),
    errorDesc,
    postcopy: given(context.postcopyBlocktime, (value) => readPostcopyInfo('context.postcopyBlocktime', value)),
  };
  if (checked.setupTime !== undefined && checked.totalTime !== undefined && checked.setupTime > checked.totalTime) {
    throw rangeFault(
      `context.setupTimeMs must not exceed context.totalTimeMs (set-up is part of the total); received ${describe(context.setupTimeMs)} and ${describe(context.totalTimeMs)}`,
    );
  }
  return checked;
}

/**
 * QMP's `query-migrate` reply for the source side, from the counters and a context.
 *
 * As QEMU's `fill_source_migration_info`: `none` gives `{}`; `setup`, `failed`, `cancelled`,
 * `colo` and `wait-unplug` give the status alone; every other status adds `setup-time`,
 * `total-time`, `downtime` (completed and postcopy) or `expected-downtime` (otherwise), and the
 * `ram` object, whose `remaining` and `dirty-pages-rate` are 0 once completed. `error-desc` is added
 * whenever `context.errorDesc` is given (except for `none`). With `context.postcopyBlocktime`, a
 * completed migration's reply also has the destination's six postcopy members (QEMU's destination
 * reports them beside its status once its side completed; here both ends are in one reply).
 * @param stats - the migration's counters; each is read once (not one consistent snapshot, as in QEMU)
 * @param context - what the counters don't hold; see {@link QueryMigrateContext}. Every member given
 *   is checked, also those the status does not report; each is read once
 * @returns a fresh `MigrationInfo` (integers as unsigned bigint); print it with {@link formatQmp}
 * @throws TypeError or RangeError naming the context member that is missing or not allowed, or
 *   that cannot be read (a getter or a Proxy that throws); TypeError for a bad stats
 * @example
 * formatQmp(queryMigrate(stats, { status: 'setup' })) //=> '{"status": "setup"}'
 */
export function queryMigrate(stats: MigrationStats, context: QueryMigrateContext): MigrationInfo {
  return entry(WHERE, () => query(stats, context));
}

/** `queryMigrate`, its errors not yet named. */
function query(stats: unknown, context: unknown): MigrationInfo {
  const reader = requireStats(stats);
  const checked = checkContext(readOptions(context, CONTEXT));
  const { status, errorDesc } = checked;
  if (status === 'none') return {};
  const info: MigrationInfo = { status };
  if (WITH_RAM.has(status)) {
    const completed = status === 'completed';
    // Everything the status needs is there before a counter is read.
    const setupTime = need('setupTimeMs', checked.setupTime, status);
    const totalTime = need('totalTimeMs', checked.totalTime, status);
    const showDowntime = WITH_DOWNTIME.has(status);
    const total = need('ramTotalBytes', checked.ramTotal, status);
    const remaining = completed ? 0n : need('remainingBytes', checked.remaining, status);
    const { pageSize } = checked;
    const mbps = need('mbps', checked.mbps, status);
    const pagesPerSecond = need('pagesPerSecond', checked.pagesPerSecond, status);

    const get = (name: Parameters<typeof reader.get>[0]): bigint => reader.get(name);
    const normal = get('normalPages');
    info.ram = {
      transferred: reader.transferredBytes(),
      remaining,
      total,
      duplicate: get('zeroPages'),
      normal,
      'normal-bytes': BigInt.asUintN(64, normal * pageSize),
      'dirty-pages-rate': completed ? 0n : get('dirtyPagesRate'),
      mbps,
      'dirty-sync-count': get('dirtySyncCount'),
      'postcopy-requests': get('postcopyRequests'),
      'page-size': pageSize,
      'multifd-bytes': get('multifdBytes'),
      'pages-per-second': pagesPerSecond,
      'precopy-bytes': get('precopyBytes'),
      'downtime-bytes': get('downtimeBytes'),
      'postcopy-bytes': get('postcopyBytes'),
      'dirty-sync-missed-zero-copy': get('dirtySyncMissedZeroCopy'),
    };
    info['total-time'] = totalTime;
    if (showDowntime) info.downtime = checked.downtime ?? 0n;
    else info['expected-downtime'] = checked.expectedDowntime ?? 0n;
    info['setup-time'] = setupTime;
  }
  if (errorDesc !== undefined) info['error-desc'] = errorDesc;
  if (status === 'completed' && checked.postcopy !== undefined) Object.assign(info, checked.postcopy);
  return info;
}
