/**
 * HMP's `info migrate` text (QEMU 10.1 layout) and QEMU's `size_to_str()`.
 * @packageDocumentation
 */
import { describe, INT64_MIN, toU64, U64_MAX } from '../errors.js';
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
  const value = toU64('sizeToStr', 'bytes', bytes);
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

/** How a member is named in messages: `info.ram.normal`, `info['total-time']`. */
function memberPath(parent: string, key: string): string {
  return /^[a-z]+$/.test(key) ? `${parent}.${key}` : `${parent}['${key}']`;
}

/** Checks an integer member (an `int64_t` or `uint64_t` field in QEMU) when it must be there or is. */
function checkInteger(path: string, value: unknown): void {
  if (typeof value === 'bigint' && value >= INT64_MIN && value <= U64_MAX) return;
  const head = `infoMigrate: ${path} must be a bigint from -2^63 to 2^64 − 1 (as queryMigrate returns it); received ${describe(value)}`;
  throw typeof value === 'bigint' ? new RangeError(head) : new TypeError(head);
}

/** Checks every member that {@link infoMigrate} prints, before it prints anything. */
function checkInfo(info: MigrationInfo): void {
  const { status, ram } = info;
  if (status !== undefined && !(MIGRATION_STATUSES as readonly unknown[]).includes(status)) {
    throw new TypeError(`infoMigrate: info.status must be a migration status such as 'active'; received ${describe(status)}`);
  }
  if (info['error-desc'] !== undefined && typeof info['error-desc'] !== 'string') {
    throw new TypeError(`infoMigrate: info['error-desc'] must be a string; received ${describe(info['error-desc'])}`);
  }
  for (const key of ['total-time', 'setup-time', 'expected-downtime', 'downtime'] as const) {
    if (info[key] !== undefined) checkInteger(memberPath('info', key), info[key]);
  }
  if (ram === undefined) return;
  if (ram === null || typeof ram !== 'object' || Array.isArray(ram)) {
    throw new TypeError(`infoMigrate: info.ram must be the ram object of queryMigrate(); received ${describe(ram)}`);
  }
  for (const key of RAM_INTEGERS) checkInteger(memberPath('info.ram', key), ram[key]);
  if (typeof ram.mbps !== 'number') throw new TypeError(`infoMigrate: info.ram.mbps must be a number; received ${describe(ram.mbps)}`);
}

/** C's `%PRIu64` of a value stored in an `int64_t` or `uint64_t` field. */
function u64(value: bigint): string {
  return BigInt.asUintN(64, value).toString();
}

/**
 * HMP's `info migrate` as QEMU 10.1 prints it (without `-a`): the status (with the error for
 * `failed` and `postcopy-paused`), the times when the total is non-zero, and the RAM section with
 * sizes from {@link sizeToStr}. Optional parts (`exp_down`/`down`, `dirty=`, `postcopy_req=`,
 * `downtime_bytes=`, `zerocopy_fallbacks=`) appear only when QEMU prints them.
 * @param info - what {@link queryMigrate} returns
 * @returns the lines, each ending in `\n` (empty for `{}`, as QEMU prints nothing)
 * @throws TypeError when `info` is not an object, or a member it prints is missing or of another type
 *   than {@link queryMigrate} gives it (RangeError for an integer outside 64 bits); nothing is printed
 * @example
 * infoMigrate(queryMigrate(stats, { status: 'completed', … }))
 * //=> 'Status: \t\tcompleted\nTime (ms): \t\ttotal=67, setup=3, down=5\nRAM info:\n  Throughput (Mbps): \t58.15\n…'
 */
export function infoMigrate(info: MigrationInfo): string {
  if (info === null || typeof info !== 'object') {
    throw new TypeError(`infoMigrate: info must be the object from queryMigrate(); received ${describe(info)}`);
  }
  checkInfo(info);
  let out = '';
  if (info.status !== undefined) {
    out += `Status: \t\t${info.status}`;
    const showError = (info.status === 'failed' || info.status === 'postcopy-paused') && info['error-desc'] !== undefined;
    out += showError ? ` (${info['error-desc']})\n` : '\n';
    const total = info['total-time'];
    if (total !== undefined && total !== 0n) {
      out += `Time (ms): \t\ttotal=${u64(total)}`;
      if (info['setup-time'] !== undefined) out += `, setup=${u64(info['setup-time'])}`;
      if (info['expected-downtime'] !== undefined) out += `, exp_down=${u64(info['expected-downtime'])}`;
      if (info.downtime !== undefined) out += `, down=${u64(info.downtime)}`;
      out += '\n';
    }
  }
  const { ram } = info;
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
  return out;
}
