/**
 * How a `query-migrate` reply from a live QEMU is read: its figures, the counters of a
 * `MigrationStats` it sets, and one entry of the per-pass history.
 *
 * QEMU's counters are its own: the mirror **sets** each counter to the value QEMU reports (it
 * never adds), so a reader of the shared memory (a worker, an exporter, a page fed by a relay)
 * sees QEMU's figures as of the last reply. Which counter comes from which member:
 *
 * | counter | from |
 * |---|---|
 * | `normalPages` | `ram.normal` |
 * | `zeroPages` | `ram.duplicate` |
 * | `multifdBytes` | `ram.multifd-bytes` |
 * | `qemuFileTransferred` | `ram.transferred` − `ram.multifd-bytes` (RDMA is not reported apart, so it counts here) |
 * | `precopyBytes`, `downtimeBytes`, `postcopyBytes` | `ram.precopy-bytes`, `ram.downtime-bytes`, `ram.postcopy-bytes` |
 * | `dirtySyncCount` | `ram.dirty-sync-count` |
 * | `dirtyPagesRate` | `ram.dirty-pages-rate` while running (a completed reply prints 0; the counter keeps its last value, as QEMU's does) |
 * | `postcopyRequests` | `ram.postcopy-requests` |
 * | `dirtySyncMissedZeroCopy` | `ram.dirty-sync-missed-zero-copy` |
 * | `rateLimitMax` | `max-bandwidth` of `query-migrate-parameters` at the start, through `migrationRateSet` |
 * | `dirtyBytesLastSync`, `rateLimitStart`, `rdmaBytes` | not reported by QMP: left at 0 |
 * @packageDocumentation
 */
import type { MigrationStats } from '../stats.js';
import type { CounterName } from '../counters.js';
import { MIGRATION_STATUSES, type MigrationStatus } from './query-migrate.js';
import type { QmpValue } from './qmp-json.js';
import type { QmpObject, QmpTimestamp } from './qmp-wire.js';

/** One pass over dirty memory, as the watcher saw it. */
export interface WatchPass {
  /** QEMU's pass number (`MIGRATION_PASS`'s `pass`, which equals `dirty-sync-count`). */
  readonly pass: number;
  /** QEMU's timestamp of the `MIGRATION_PASS` event (wall clock); the reply's local time without events. */
  readonly time: QmpTimestamp;
  /** Whether a `MIGRATION_PASS` event announced it (false: a poll saw `dirty-sync-count` grow). */
  readonly event: boolean;
  /**
   * The figures of the first `query-migrate` reply to a query sent after the event (the pass's
   * start), or of the final reply when the migration ended first; absent when no reply with `ram`
   * followed (a `cancelled` or `failed` reply has the status alone).
   */
  readonly figures?: PassFigures;
}

/** A pass's figures, from one `query-migrate` reply. */
export interface PassFigures {
  /** `ram.transferred`, bytes. */
  readonly transferred: bigint;
  /** `ram.remaining`: dirty bytes left to send, bytes. */
  readonly remaining: bigint;
  /** `ram.dirty-pages-rate`, pages/s. */
  readonly dirtyPagesRate: bigint;
  /** `ram.mbps`: megabits (10^6) per second over QEMU's last window. */
  readonly mbps: number;
  /**
   * Dirty rate ÷ transfer rate: `dirty-pages-rate × page-size` bytes/s over `mbps × 10^6 / 8`
   * bytes/s. At 1 or more the guest dirties memory as fast as it is sent: pre-copy will not
   * converge. `null` while `mbps` is 0 (no window closed yet).
   */
  readonly dirtyToTransferRatio: number | null;
}

/** A plain object member of a QMP value, or undefined. */
export function objectOf(value: QmpValue | undefined): QmpObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as QmpObject) : undefined;
}

/** An integer member as a bigint (QMP's integers are bigints; a whole double is taken too). */
export function bigintOf(value: QmpValue | undefined): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  return undefined;
}

/** A number member as a double (`mbps` arrives as a bigint when QEMU prints `0`). */
export function numberOf(value: QmpValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

/** The reply's status, or `'none'` for `{}` (no migration since QEMU started). */
export function statusOf(reply: QmpObject): MigrationStatus | 'unknown' {
  const status = reply.status;
  if (status === undefined) return 'none';
  return typeof status === 'string' && (MIGRATION_STATUSES as readonly string[]).includes(status) ? (status as MigrationStatus) : 'unknown';
}

/** The statuses a migration ends in. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set<MigrationStatus>(['completed', 'failed', 'cancelled']);

/** The `ram` object of a reply, when it has one. */
export function ramOf(reply: QmpObject): QmpObject | undefined {
  return objectOf(reply.ram);
}

/** A pass's figures from a reply's `ram`. */
export function passFigures(ram: QmpObject): PassFigures {
  const dirtyPagesRate = bigintOf(ram['dirty-pages-rate']) ?? 0n;
  const mbps = numberOf(ram.mbps) ?? 0;
  const pageSize = bigintOf(ram['page-size']) ?? 4096n;
  const transferRate = (mbps * 1e6) / 8;
  return Object.freeze({
    transferred: bigintOf(ram.transferred) ?? 0n,
    remaining: bigintOf(ram.remaining) ?? 0n,
    dirtyPagesRate,
    mbps,
    dirtyToTransferRatio: transferRate > 0 ? Number(dirtyPagesRate * pageSize) / transferRate : null,
  });
}

/** Counters set from a `ram` member of the same meaning. */
const DIRECT: ReadonlyArray<readonly [CounterName, string]> = [
  ['normalPages', 'normal'],
  ['zeroPages', 'duplicate'],
  ['multifdBytes', 'multifd-bytes'],
  ['precopyBytes', 'precopy-bytes'],
  ['downtimeBytes', 'downtime-bytes'],
  ['postcopyBytes', 'postcopy-bytes'],
  ['dirtySyncCount', 'dirty-sync-count'],
  ['postcopyRequests', 'postcopy-requests'],
  ['dirtySyncMissedZeroCopy', 'dirty-sync-missed-zero-copy'],
];

/** A value QEMU printed as a signed `int` member, as the u64 QEMU's counter holds. */
function u64(value: bigint): bigint {
  return BigInt.asUintN(64, value);
}

/**
 * Sets the counters from one reply's `ram` object (see the table above); members the reply lacks
 * leave their counters as they are.
 * @param stats - the mirror
 * @param reply - a `query-migrate` return with `ram`
 */
export function mirrorReply(stats: MigrationStats, reply: QmpObject): void {
  const ram = ramOf(reply);
  if (!ram) return;
  for (const [counter, member] of DIRECT) {
    const value = bigintOf(ram[member]);
    if (value !== undefined) stats[counter].set(u64(value));
  }
  const transferred = bigintOf(ram.transferred);
  if (transferred !== undefined) {
    const multifd = bigintOf(ram['multifd-bytes']) ?? 0n;
    stats.qemuFileTransferred.set(u64(transferred) >= u64(multifd) ? u64(transferred) - u64(multifd) : 0n);
  }
  const rate = bigintOf(ram['dirty-pages-rate']);
  if (rate !== undefined && reply.status !== 'completed') stats.dirtyPagesRate.set(u64(rate));
}
