/**
 * HMP's `info migrate` text (QEMU 10.1 layout) and QEMU's `size_to_str()`.
 * @packageDocumentation
 */
import { describe, entry, INT64_MIN, rangeFault, toU64, typeFault, U64_MAX } from '../errors.js';
import { isPlainObject, memberPath, readArray, readMember, readOptions, type OptionSpec } from '../options.js';
import { formatTimeUs, type PostcopyBlocktimeInfo } from './postcopy.js';
import { printfF, printfG } from './printf.js';
import { MIGRATION_STATUSES, type MigrationInfo, type MigrationRamStats } from './query-migrate.js';

const SIZE_SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;

const frexpView = new DataView(new ArrayBuffer(8));

/** The exponent C's `frexp()` returns for a finite positive double (x = f·2^e with 0.5 ≤ f < 1). */
function frexpExponent(x: number): number {
  frexpView.setFloat64(0, x);
  const biased = (frexpView.getUint16(0) >>> 4) & 0x7ff;
  if (biased !== 0) return biased - 1022;
  // Subnormal: scale into the normal range first (never reached from a byte count, kept exact).
  return frexpExponent(x * 2 ** 64) - 64;
}

/**
 * QEMU's `size_to_str()`: a byte count with binary prefixes and 3 significant digits (`%0.3g`).
 * It switches to the next prefix once the number would reach 1000, so 1000–1023 bytes show as
 * `0.977 KiB`… and 1023999 as `1e+03 KiB` (QEMU's own rounding quirk, kept).
 * @param bytes - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
 * @returns e.g. `'4 KiB'`
 * @throws TypeError or RangeError for anything else
 * @example sizeToStr(1016) //=> '0.992 KiB'
 * @example sizeToStr(1024) //=> '1 KiB'
 * @example sizeToStr(1023999) //=> '1e+03 KiB'
 * @example sizeToStr(18446744073709551615n) //=> '16 EiB'
 */
export function sizeToStr(bytes: bigint | number): string {
  const value = entry('sizeToStr', () => toU64('bytes', bytes));
  // (double)val, as C converts the uint64_t (round to nearest).
  const asDouble = Number(value);
  const exponent = asDouble === 0 ? 0 : frexpExponent(asDouble / (1000.0 / 1024.0));
  // C's int division truncates toward zero: exponent 0 gives (0 - 1) / 10 = 0.
  const prefix = Math.trunc((exponent - 1) / 10);
  const divisor = 2 ** (prefix * 10);
  return `${printfG(asDouble / divisor, 3)} ${SIZE_SUFFIXES[prefix]}B`;
}


/** The integer members of `ram` that `info migrate` prints. */
const RAM_INTEGERS = [
  'transferred',
  'remaining',
  'total',
  'duplicate',
  'normal',
  'dirty-pages-rate',
  'dirty-sync-count',
  'postcopy-requests',
  'page-size',
  'multifd-bytes',
  'pages-per-second',
  'precopy-bytes',
  'downtime-bytes',
  'postcopy-bytes',
  'dirty-sync-missed-zero-copy',
] as const satisfies readonly (keyof MigrationRamStats)[];

const WHERE = 'infoMigrate';

/** Checks an integer member (an `int64_t` or `uint64_t` field in QEMU). */
function checkInteger(path: string, value: unknown): bigint {
  if (typeof value === 'bigint' && value >= INT64_MIN && value <= U64_MAX) return value;
  const head = `${path} must be a bigint from -2^63 to 2^64 − 1 (as queryMigrate returns it); received ${describe(value)}`;
  throw typeof value === 'bigint' ? rangeFault(head) : typeFault(head);
}

/** Reads the `ram` member once: each member printed, read once and checked. */
function readRam(value: unknown): MigrationRamStats {
  const path = 'info.ram';
  if (!isPlainObject(path, value)) {
    throw typeFault(`info.ram must be the ram object of queryMigrate(); received ${describe(value)}`);
  }
  const ram: Partial<Record<keyof MigrationRamStats, unknown>> = {};
  for (const key of RAM_INTEGERS) ram[key] = checkInteger(memberPath(path, key), readMember(memberPath(path, key), value, key));
  const mbps = readMember(`${path}.mbps`, value, 'mbps');
  if (typeof mbps !== 'number') throw typeFault(`info.ram.mbps must be a number; received ${describe(mbps)}`);
  ram.mbps = mbps;
  return Object.freeze(ram) as MigrationRamStats;
}

/** The postcopy members, with their QAPI item type: `uint32` blocktimes, `uint64` the rest. */
const POSTCOPY_MEMBERS = [
  ['postcopy-blocktime', 32, false],
  ['postcopy-vcpu-blocktime', 32, true],
  ['postcopy-latency', 64, false],
  ['postcopy-latency-dist', 64, true],
  ['postcopy-vcpu-latency', 64, true],
  ['postcopy-non-vcpu-latency', 64, false],
] as const satisfies readonly (readonly [keyof PostcopyBlocktimeInfo, 32 | 64, boolean])[];

/** Most items of a list member: the distribution's bucket k prints 2^(k+1) µs, which C's `1UL << (count + 1)` keeps below 2^64. */
const MAX_LIST_ITEMS = 63;

/** Checks an unsigned member of `bits` bits (a QAPI `uint32` or `uint64`). */
function checkUnsigned(path: string, value: unknown, bits: 32 | 64): bigint {
  if (typeof value === 'bigint' && value >= 0n && value < 1n << BigInt(bits)) return value;
  const head = `${path} must be a bigint from 0 to 2^${bits} − 1 (as queryMigrate returns it); received ${describe(value)}`;
  throw typeof value === 'bigint' ? rangeFault(head) : typeFault(head);
}

/** Reads a postcopy member: a scalar, or a list (an array of at most {@link MAX_LIST_ITEMS}). */
function readPostcopyMember(path: string, value: unknown, bits: 32 | 64, list: boolean): bigint | bigint[] {
  if (!list) return checkUnsigned(path, value, bits);
  const items = readArray(path, value, MAX_LIST_ITEMS);
  if (items === undefined) {
    throw typeFault(`${path} must be an array of at most ${MAX_LIST_ITEMS} bigints (as queryMigrate returns it); received ${describe(value)}`);
  }
  return items.map((item, i) => checkUnsigned(`${path}[${i}]`, item, bits));
}

/** Reads every member that {@link infoMigrate} prints once and checks it, before anything is printed. */
function readInfo(value: unknown): Readonly<MigrationInfo> {
  if (!isPlainObject('info', value)) {
    throw typeFault(`info must be the object from queryMigrate(); received ${describe(value)}`);
  }
  const member = (key: keyof MigrationInfo): unknown => readMember(memberPath('info', key), value, key);
  const info: MigrationInfo = {};
  const status = member('status');
  if (status !== undefined && !(MIGRATION_STATUSES as readonly unknown[]).includes(status)) {
    throw typeFault(`info.status must be a migration status such as 'active'; received ${describe(status)}`);
  }
  if (status !== undefined) info.status = status as MigrationInfo['status'];
  const errorDesc = member('error-desc');
  if (errorDesc !== undefined && typeof errorDesc !== 'string') {
    throw typeFault(`info['error-desc'] must be a string; received ${describe(errorDesc)}`);
  }
  if (errorDesc !== undefined) info['error-desc'] = errorDesc;
  for (const key of ['total-time', 'setup-time', 'expected-downtime', 'downtime'] as const) {
    const time = member(key);
    if (time !== undefined) info[key] = checkInteger(memberPath('info', key), time);
  }
  const ram = member('ram');
  if (ram !== undefined) info.ram = readRam(ram);
  for (const [key, bits, list] of POSTCOPY_MEMBERS) {
    const value = member(key);
    if (value !== undefined) (info as Record<string, unknown>)[key] = readPostcopyMember(memberPath('info', key), value, bits, list);
  }
  return Object.freeze(info);
}

/** C's `%PRIu64` of a value stored in an `int64_t` or `uint64_t` field. */
function u64(value: bigint): string {
  return BigInt.asUintN(64, value).toString();
}

/** Options of {@link infoMigrate}. */
export interface InfoMigrateOptions {
  /**
   * `info migrate -a`: after the RAM section, QEMU's globals (the defaults of a current machine
   * type) and the postcopy blocktime members that `info` has.
   */
  all?: boolean;
  /**
   * What ends each line: `'\n'` (the default, as HMP prints on a terminal) or `'\r\n'`, as QEMU's
   * `monitor_puts` gives the text over QMP (`human-monitor-command`).
   */
  lineEnd?: '\n' | '\r\n';
}

const OPTIONS: OptionSpec<InfoMigrateOptions> = { names: { all: true, lineEnd: true }, example: '{ all: true }' };

/**
 * QEMU 10.1's `migration_global_dump()`: the migration object's properties, at the defaults QEMU
 * gives a current machine type (`migration/options.c`), `-only-migratable` not given.
 */
const GLOBALS =
  'Globals:\n' +
  '  store-global-state: on\n' +
  '  only-migratable: off\n' +
  '  send-configuration: on\n' +
  '  send-section-footer: on\n' +
  '  send-switchover-start: on\n' +
  '  clear-bitmap-shift: 18\n';

/** A list as QEMU 10.1 prints the per-vCPU ones: ` [a, b, …]`, ten to a line. */
function vcpuList(items: readonly bigint[]): string {
  let out = ' [';
  items.forEach((item, i) => {
    out += `${item}`;
    if (i + 1 < items.length) out += (i + 1) % 10 === 0 ? ',\n  ' : ', ';
  });
  return `${out}]\n`;
}

/**
 * QEMU 10.1's `migration_dump_blocktime()` (`migration/migration-hmp-cmds.c`): each postcopy
 * member present, in this order; the distribution one line per bucket, every bucket, its bounds
 * from `format_time_str()`.
 */
function blocktimeText(info: Readonly<MigrationInfo>): string {
  let out = '';
  if (info['postcopy-blocktime'] !== undefined) out += `Postcopy Blocktime (ms): ${info['postcopy-blocktime']}\n`;
  if (info['postcopy-vcpu-blocktime'] !== undefined) out += `Postcopy vCPU Blocktime (ms):\n${vcpuList(info['postcopy-vcpu-blocktime'])}`;
  if (info['postcopy-latency'] !== undefined) out += `Postcopy Latency (ns): ${info['postcopy-latency']}\n`;
  if (info['postcopy-non-vcpu-latency'] !== undefined) out += `Postcopy non-vCPU Latencies (ns): ${info['postcopy-non-vcpu-latency']}\n`;
  if (info['postcopy-vcpu-latency'] !== undefined) out += `Postcopy vCPU Latencies (ns):\n${vcpuList(info['postcopy-vcpu-latency'])}`;
  const dist = info['postcopy-latency-dist'];
  if (dist !== undefined) {
    out += 'Postcopy Latency Distribution:\n';
    dist.forEach((count, k) => {
      const from = formatTimeUs(1n << BigInt(k)).padStart(8);
      const to = formatTimeUs(1n << BigInt(k + 1)).padStart(8);
      out += `  [ ${from} - ${to} ]: ${count.toString().padStart(10)}\n`;
    });
  }
  return out;
}

/** Checks and reads `infoMigrate`'s arguments (its errors are named by `infoMigrate`). */
function readArguments(info: unknown, options: unknown): { all: boolean; lineEnd: '\n' | '\r\n'; read: Readonly<MigrationInfo> } {
  const { all = false, lineEnd = '\n' } = readOptions(options, OPTIONS);
  if (typeof all !== 'boolean') throw typeFault(`options.all must be true or false; received ${describe(all)}`);
  if (lineEnd !== '\n' && lineEnd !== '\r\n') {
    throw typeFault(`options.lineEnd must be '\\n' or '\\r\\n'; received ${describe(lineEnd)}`);
  }
  return { all, lineEnd, read: readInfo(info) };
}

/**
 * HMP's `info migrate` as QEMU 10.1 prints it (without `-a`, or with it: `{ all: true }`): the status (with the error for
 * `failed` and `postcopy-paused`), the times when the total is non-zero, and the RAM section with
 * sizes from {@link sizeToStr}. Optional parts (`exp_down`/`down`, `dirty=`, `postcopy_req=`,
 * `downtime_bytes=`, `zerocopy_fallbacks=`) appear only when QEMU prints them.
 *
 * With `{ all: true }` it is `info migrate -a`: then QEMU's globals (`migration_global_dump()`, at
 * their defaults) and the postcopy members that `info` has (`migration_dump_blocktime()`): the
 * blocktimes in ms, the latencies in ns, the per-vCPU lists ten to a line, and the distribution as
 * one `  [ %8s - %8s ]: %10u` line per bucket, its bounds 2^k and 2^(k+1) µs in `us`, `ms` or `sec`
 * (divided by 1000 with truncation: `1 ms` for 1024 µs).
 * @param info - what {@link queryMigrate} returns; each member printed is read once
 * @param options - `all` (default false): QEMU's `-a`; `lineEnd` (default `'\n'`): `'\r\n'` for the
 *   text as `human-monitor-command` returns it over QMP (QEMU's `monitor_puts`)
 * @returns the lines, each ending in `lineEnd` (empty for `{}`, as QEMU prints nothing)
 * @throws TypeError when `info` is not a plain object, or a member it prints is missing, of another
 *   type than {@link queryMigrate} gives it (RangeError for an integer outside 64 bits) or cannot be
 *   read (a getter or a Proxy that throws); nothing is printed
 * @example
 * infoMigrate(queryMigrate(stats, { status: 'completed', … }))
 * //=> 'Status: \t\tcompleted\nTime (ms): \t\ttotal=67, setup=3, down=5\nRAM info:\n  Throughput (Mbps): \t58.15\n…'
 */
export function infoMigrate(info: MigrationInfo, options?: InfoMigrateOptions): string {
  const { all, lineEnd, read } = entry(WHERE, () => readArguments(info, options));
  let out = '';
  if (read.status !== undefined) {
    out += `Status: \t\t${read.status}`;
    const showError = (read.status === 'failed' || read.status === 'postcopy-paused') && read['error-desc'] !== undefined;
    out += showError ? ` (${read['error-desc']})\n` : '\n';
    const total = read['total-time'];
    if (total !== undefined && total !== 0n) {
      out += `Time (ms): \t\ttotal=${u64(total)}`;
      if (read['setup-time'] !== undefined) out += `, setup=${u64(read['setup-time'])}`;
      if (read['expected-downtime'] !== undefined) out += `, exp_down=${u64(read['expected-downtime'])}`;
      if (read.downtime !== undefined) out += `, down=${u64(read.downtime)}`;
      out += '\n';
    }
  }
  const { ram } = read;
  if (ram !== undefined) {
    // size_to_str() takes a uint64_t: an int64_t field converts as C converts it.
    const size = (value: bigint): string => sizeToStr(BigInt.asUintN(64, value));
    out += 'RAM info:\n';
    out += `  Throughput (Mbps): \t${printfF(ram.mbps, 2)}\n`;
    out += `  Sizes: \t\tpagesize=${size(ram['page-size'])}, total=${size(ram.total)}\n`;
    out += `  Transfers: \t\ttransferred=${size(ram.transferred)}, remain=${size(ram.remaining)}\n`;
    out += `    Channels: \t\tprecopy=${size(ram['precopy-bytes'])}, multifd=${size(ram['multifd-bytes'])}, postcopy=${size(ram['postcopy-bytes'])}\n`;
    out += `    Page Types: \tnormal=${u64(ram.normal)}, zero=${u64(ram.duplicate)}\n`;
    out += `  Page Rates (pps): \ttransfer=${u64(ram['pages-per-second'])}`;
    if (ram['dirty-pages-rate'] !== 0n) out += `, dirty=${u64(ram['dirty-pages-rate'])}`;
    out += '\n';
    out += `  Others: \t\tdirty_syncs=${u64(ram['dirty-sync-count'])}`;
    if (ram['postcopy-requests'] !== 0n) out += `, postcopy_req=${u64(ram['postcopy-requests'])}`;
    if (ram['downtime-bytes'] !== 0n) out += `, downtime_bytes=${u64(ram['downtime-bytes'])}`;
    if (ram['dirty-sync-missed-zero-copy'] !== 0n) out += `, zerocopy_fallbacks=${u64(ram['dirty-sync-missed-zero-copy'])}`;
    out += '\n';
  }
  if (all) out += GLOBALS + blocktimeText(read);
  return lineEnd === '\n' ? out : out.replaceAll('\n', lineEnd);
}
