/**
 * QMP's `query-migrate` for the source side (`fill_source_migration_info`), and QMP's JSON text.
 *
 * {@link queryMigrate} reads the counters and takes from a context what counters don't hold
 * (status, times, RAM size); {@link formatQmp} prints the result byte for byte as QEMU's monitor
 * does: members in QEMU's hash-table order, `", "` and `": "` separators, integers exact to 64
 * bits, doubles as C's `%.17g`.
 * @packageDocumentation
 */
import { describe, toU64, U64_MAX } from './errors.js';
import { checkOptionNames } from './option-names.js';
import { printfG } from './printf.js';
import { qdictOrder } from './qdict.js';
import { MigrationStats, requireStats } from './stats.js';

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

/** QAPI's `MigrationInfo` as the source side fills it from the counters. */
export interface MigrationInfo {
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
}

const WHERE = 'queryMigrate';

/** The members a {@link QueryMigrateContext} may have. */
const CONTEXT_NAMES: readonly (keyof QueryMigrateContext)[] = [
  'status',
  'setupTimeMs',
  'totalTimeMs',
  'downtimeMs',
  'expectedDowntimeMs',
  'ramTotalBytes',
  'remainingBytes',
  'pageSize',
  'mbps',
  'pagesPerSecond',
  'errorDesc',
];

function need<T>(name: keyof QueryMigrateContext, value: T | undefined, status: string): T {
  if (value === undefined) {
    throw new TypeError(`${WHERE}: context.${name} is required when the status is '${status}'; received undefined`);
  }
  return value;
}

function timeMs(name: keyof QueryMigrateContext, value: unknown): bigint {
  // MigrationWindow computes the expected downtime as a double and truncates it, as QEMU does:
  // an integral number above 2^53 is then that exact value, not a rounded input.
  const fromDouble = name === 'expectedDowntimeMs' && typeof value === 'number' && Number.isInteger(value) && value >= 0;
  const ms = fromDouble ? BigInt(value) : toU64(WHERE, `context.${name}`, value);
  if (ms > 0x7fff_ffff_ffff_ffffn) {
    throw new RangeError(`${WHERE}: context.${name} must fit QEMU's int64 milliseconds (at most 2^63 − 1); received ${describe(value)}`);
  }
  return ms;
}

function mbpsValue(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  const head = `${WHERE}: context.mbps must be a finite non-negative number (window.mbps or completedMbps(…)); received ${describe(value)}`;
  throw typeof value === 'number' ? new RangeError(head) : new TypeError(head);
}

function pagesPerSecondValue(value: unknown): bigint {
  // QEMU keeps a double and converts it to uint64_t when it reports: truncation.
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < 18446744073709551616) {
    return BigInt(Math.trunc(value));
  }
  if (typeof value === 'bigint') return toU64(WHERE, 'context.pagesPerSecond', value);
  const head = `${WHERE}: context.pagesPerSecond must be a finite number from 0 to below 2^64 (QEMU truncates it), or a bigint; received ${describe(value)}`;
  throw typeof value === 'number' ? new RangeError(head) : new TypeError(head);
}

/**
 * QMP's `query-migrate` reply for the source side, from the counters and a context.
 *
 * As QEMU's `fill_source_migration_info`: `none` gives `{}`; `setup`, `failed`, `cancelled`,
 * `colo` and `wait-unplug` give the status alone; every other status adds `setup-time`,
 * `total-time`, `downtime` (completed and postcopy) or `expected-downtime` (otherwise), and the
 * `ram` object, whose `remaining` and `dirty-pages-rate` are 0 once completed. `error-desc` is added
 * whenever `context.errorDesc` is given (except for `none`).
 * @param stats - the migration's counters; each is read once (not one consistent snapshot, as in QEMU)
 * @param context - what the counters don't hold; see {@link QueryMigrateContext}
 * @returns a fresh `MigrationInfo` (integers as unsigned bigint); print it with {@link formatQmp}
 * @throws TypeError or RangeError naming the context member that is missing or not allowed
 * @example
 * formatQmp(queryMigrate(stats, { status: 'setup' })) //=> '{"status": "setup"}'
 */
export function queryMigrate(stats: MigrationStats, context: QueryMigrateContext): MigrationInfo {
  requireStats(WHERE, stats);
  if (context === null || typeof context !== 'object') {
    throw new TypeError(`${WHERE}: context must be an object such as { status: 'active', … }; received ${describe(context)}`);
  }
  checkOptionNames(WHERE, 'context', context, CONTEXT_NAMES);
  const { status, errorDesc } = context;
  if (!(MIGRATION_STATUSES as readonly unknown[]).includes(status)) {
    throw new TypeError(`${WHERE}: context.status must be one of ${MIGRATION_STATUSES.map((s) => `'${s}'`).join(', ')}; received ${describe(status)}`);
  }
  if (errorDesc !== undefined && typeof errorDesc !== 'string') {
    throw new TypeError(`${WHERE}: context.errorDesc must be a string or undefined; received ${describe(errorDesc)}`);
  }
  if (status === 'none') return {};
  const info: MigrationInfo = { status };
  if (WITH_RAM.has(status)) {
    const completed = status === 'completed';
    // Validate everything before reading a counter.
    const setupTime = timeMs('setupTimeMs', need('setupTimeMs', context.setupTimeMs, status));
    const totalTime = timeMs('totalTimeMs', need('totalTimeMs', context.totalTimeMs, status));
    if (setupTime > totalTime) {
      throw new RangeError(
        `${WHERE}: context.setupTimeMs must not exceed context.totalTimeMs (set-up is part of the total); received ${describe(context.setupTimeMs)} and ${describe(context.totalTimeMs)}`,
      );
    }
    const showDowntime = WITH_DOWNTIME.has(status);
    const downtime = showDowntime ? timeMs('downtimeMs', context.downtimeMs ?? 0) : 0n;
    const expectedDowntime = showDowntime ? 0n : timeMs('expectedDowntimeMs', context.expectedDowntimeMs ?? 0);
    const total = toU64(WHERE, 'context.ramTotalBytes', need('ramTotalBytes', context.ramTotalBytes, status));
    const remaining = completed ? 0n : toU64(WHERE, 'context.remainingBytes', need('remainingBytes', context.remainingBytes, status));
    const pageSize = toU64(WHERE, 'context.pageSize', context.pageSize ?? 4096);
    if (pageSize === 0n) throw new RangeError(`${WHERE}: context.pageSize must be at least 1 byte; received ${describe(context.pageSize)}`);
    const mbps = mbpsValue(need('mbps', context.mbps, status));
    const pagesPerSecond = pagesPerSecondValue(need('pagesPerSecond', context.pagesPerSecond, status));

    const normal = stats.normalPages.get();
    info.ram = {
      transferred: stats.migrationTransferredBytes(),
      remaining,
      total,
      duplicate: stats.zeroPages.get(),
      normal,
      'normal-bytes': BigInt.asUintN(64, normal * pageSize),
      'dirty-pages-rate': completed ? 0n : stats.dirtyPagesRate.get(),
      mbps,
      'dirty-sync-count': stats.dirtySyncCount.get(),
      'postcopy-requests': stats.postcopyRequests.get(),
      'page-size': pageSize,
      'multifd-bytes': stats.multifdBytes.get(),
      'pages-per-second': pagesPerSecond,
      'precopy-bytes': stats.precopyBytes.get(),
      'downtime-bytes': stats.downtimeBytes.get(),
      'postcopy-bytes': stats.postcopyBytes.get(),
      'dirty-sync-missed-zero-copy': stats.dirtySyncMissedZeroCopy.get(),
    };
    info['total-time'] = totalTime;
    if (showDowntime) info.downtime = downtime;
    else info['expected-downtime'] = expectedDowntime;
    info['setup-time'] = setupTime;
  }
  if (errorDesc !== undefined) info['error-desc'] = errorDesc;
  return info;
}

/* ------------------------------------------------------------------------------------------ */
/* QMP text                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/** A value QMP can carry: integers as bigint, doubles as number. */
export type QmpValue = bigint | number | string | boolean | null | readonly QmpValue[] | { readonly [key: string]: QmpValue | undefined };

/** QAPI member types that matter for printing. */
type MemberType = 'int' | 'uint64' | 'number' | 'str' | { readonly struct: StructSchema };
/** A QAPI struct: its members in schema (= insertion) order. */
type StructSchema = ReadonlyArray<readonly [name: string, type: MemberType]>;

const MIGRATION_STATS_SCHEMA: StructSchema = [
  ['transferred', 'int'],
  ['remaining', 'int'],
  ['total', 'int'],
  ['duplicate', 'int'],
  ['normal', 'int'],
  ['normal-bytes', 'int'],
  ['dirty-pages-rate', 'int'],
  ['mbps', 'number'],
  ['dirty-sync-count', 'int'],
  ['postcopy-requests', 'int'],
  ['page-size', 'int'],
  ['multifd-bytes', 'uint64'],
  ['pages-per-second', 'uint64'],
  ['precopy-bytes', 'uint64'],
  ['downtime-bytes', 'uint64'],
  ['postcopy-bytes', 'uint64'],
  ['dirty-sync-missed-zero-copy', 'uint64'],
];

const MIGRATION_INFO_SCHEMA: StructSchema = [
  ['status', 'str'],
  ['ram', { struct: MIGRATION_STATS_SCHEMA }],
  ['vfio', { struct: [['transferred', 'int']] }],
  [
    'xbzrle-cache',
    {
      struct: [
        ['cache-size', 'uint64'],
        ['bytes', 'int'],
        ['pages', 'int'],
        ['cache-miss', 'int'],
        ['cache-miss-rate', 'number'],
        ['encoding-rate', 'number'],
        ['overflow', 'int'],
      ],
    },
  ],
  ['total-time', 'int'],
  ['expected-downtime', 'int'],
  ['downtime', 'int'],
  ['setup-time', 'int'],
  ['cpu-throttle-percentage', 'int'],
  ['error-desc', 'str'],
  ['blocked-reasons', 'str'],
  ['postcopy-blocktime', 'uint64'],
  ['postcopy-vcpu-blocktime', 'uint64'],
  ['socket-address', 'str'],
  ['dirty-limit-throttle-time-per-round', 'uint64'],
  ['dirty-limit-ring-full-time', 'uint64'],
];

const SCHEMAS = {
  MigrationInfo: MIGRATION_INFO_SCHEMA,
  MigrationStats: MIGRATION_STATS_SCHEMA,
} as const;

/** Options of {@link formatQmp}. */
export interface FormatQmpOptions {
  /**
   * The QAPI type of `value`, which fixes how its integers print: `'MigrationInfo'` (default: what
   * {@link queryMigrate} returns), `'MigrationStats'` (its `ram` member alone), or `null` for any
   * other value (each bigint prints as it is).
   */
  type?: keyof typeof SCHEMAS | null;
  /** Wrap the value in QMP's success reply, `{"return": …}`, as the monitor sends it. */
  response?: boolean;
}

const INT64_MIN = -0x8000_0000_0000_0000n;

/** QEMU's `quoted_str`: ASCII printable as is, the usual escapes, everything else as `\uXXXX`. */
function quote(text: string): string {
  let out = '"';
  for (const char of text) {
    let cp = char.codePointAt(0)!;
    switch (cp) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
    }
    // A lone surrogate cannot come from valid UTF-8: QEMU prints the replacement character.
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
    if (cp > 0xffff) out += `\\u${hex(0xd800 + ((cp - 0x10000) >> 10))}\\u${hex(0xdc00 + ((cp - 0x10000) & 0x3ff))}`;
    else if (cp < 0x20 || cp >= 0x7f) out += `\\u${hex(cp)}`;
    else out += char;
  }
  return out + '"';
}

function isPlainObject(value: object): value is { readonly [key: string]: QmpValue | undefined } {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function formatInteger(value: bigint, type: MemberType | undefined, path: string): string {
  if (type === 'int') {
    // An int64_t member: C converts a value of 2^63 or more to negative (gcc wraps).
    if (value < INT64_MIN || value > U64_MAX) throw integerRange(path, value, 'from -2^63 to 2^64 − 1 (a schema int)');
    return BigInt.asIntN(64, value).toString();
  }
  if (type === 'uint64') {
    if (value < 0n || value > U64_MAX) throw integerRange(path, value, 'from 0 to 2^64 − 1 (a schema uint64)');
    return value.toString();
  }
  if (value < INT64_MIN || value > U64_MAX) throw integerRange(path, value, 'from -2^63 to 2^64 − 1');
  return value.toString();
}

function integerRange(path: string, value: bigint, allowed: string): RangeError {
  return new RangeError(`formatQmp: ${path} must be an integer ${allowed}; received ${value}n`);
}

function write(value: unknown, type: MemberType | undefined, path: string, seen: Set<object>): string {
  switch (typeof value) {
    case 'bigint':
      if (type === 'number') throw new TypeError(`formatQmp: ${path} is a schema number and must be a JS number; received ${describe(value)}`);
      return formatInteger(value, type, path);
    case 'number':
      if (type === 'int' || type === 'uint64') {
        if (!Number.isSafeInteger(value)) {
          throw new TypeError(`formatQmp: ${path} is a schema integer and must be a bigint or a safe-integer number; received ${describe(value)}`);
        }
        return formatInteger(BigInt(value), type, path);
      }
      return printfG(value, 17);
    case 'string':
      return quote(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (seen.has(value)) throw new TypeError(`formatQmp: ${path} refers back to itself; QMP values are trees`);
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          return `[${value.map((item: unknown, i) => write(item, type, `${path}[${i}]`, seen)).join(', ')}]`;
        }
        if (!isPlainObject(value)) {
          throw new TypeError(`formatQmp: ${path} must be a plain object, array, string, bigint, number, boolean or null; received ${describe(value)}`);
        }
        const schema = type !== undefined && typeof type === 'object' ? type.struct : undefined;
        const present = Object.keys(value).filter((key) => value[key] !== undefined);
        // QEMU inserts members in schema order; anything the schema lacks comes after, as given.
        const inserted = schema
          ? [...schema.map(([name]) => name).filter((name) => present.includes(name)), ...present.filter((key) => !schema.some(([name]) => name === key))]
          : present;
        const members = qdictOrder(inserted).map((key) => {
          const memberType = schema?.find(([name]) => name === key)?.[1];
          return `${quote(key)}: ${write(value[key], memberType, `${path}.${key}`, seen)}`;
        });
        return `{${members.join(', ')}}`;
      } finally {
        seen.delete(value);
      }
    }
    default:
      throw new TypeError(`formatQmp: ${path} cannot be printed in QMP; received ${describe(value)}`);
  }
}

/**
 * Prints a value as QEMU's QMP monitor does (compact mode): members in QEMU's hash-table order,
 * `", "` and `": "` separators, bigints as exact 64-bit integers, numbers as C's `%.17g`, strings
 * escaped as QEMU escapes them (non-ASCII as `\uXXXX`). Members whose value is `undefined` are
 * absent. No trailing newline.
 *
 * With the default `type: 'MigrationInfo'`, members that QEMU's schema types as `int` print as
 * signed 64-bit integers, so an unsigned value of 2^63 or more prints negative, as QEMU's does;
 * `uint64` members print unsigned.
 * @param value - what {@link queryMigrate} returns, or any QMP value with `type: null`
 * @param options - `type` (default `'MigrationInfo'`), `response` (wrap in `{"return": …}`)
 * @returns the JSON text
 * @throws TypeError for values QMP cannot carry (functions, class instances, cycles, a bigint where
 *   the schema has a double); RangeError for integers outside 64 bits
 * @example formatQmp({ status: 'completed', 'total-time': 67n, 'setup-time': 3n }) //=> '{"status": "completed", "setup-time": 3, "total-time": 67}'
 * @example formatQmp({ mbps: 58.153 }, { type: null }) //=> '{"mbps": 58.152999999999999}'
 */
export function formatQmp(value: MigrationInfo | QmpValue, options: FormatQmpOptions = {}): string {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`formatQmp: options must be an object such as { type: 'MigrationInfo' }; received ${describe(options)}`);
  }
  checkOptionNames('formatQmp', 'options', options, ['type', 'response']);
  const { type = 'MigrationInfo', response = false } = options;
  if (type !== null && !Object.prototype.hasOwnProperty.call(SCHEMAS, type)) {
    throw new TypeError(`formatQmp: options.type must be 'MigrationInfo', 'MigrationStats' or null; received ${describe(type)}`);
  }
  if (typeof response !== 'boolean') throw new TypeError(`formatQmp: options.response must be true or false; received ${describe(response)}`);
  const memberType: MemberType | undefined = type === null ? undefined : { struct: SCHEMAS[type] };
  const text = write(value, memberType, 'value', new Set());
  return response ? `{"return": ${text}}` : text;
}
