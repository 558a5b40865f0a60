/**
 * QEMU's per-window throughput figures (`migration_update_counters`) and the completed
 * migration's average (`migration_calculate_complete`).
 *
 * Once a window of at least `BUFFER_DELAY` ms is over, QEMU measures what moved in it (bytes and
 * pages), derives the bandwidth, the `mbps` and `pages-per-second` it reports, the threshold below
 * which the rest can be sent within the downtime limit, and the expected downtime; then it resets
 * the rate limiter and starts the next window. The same double operations run here in the same
 * order, so the results are bit-identical to QEMU's on IEEE-754 hardware. The clock is a
 * parameter: callers pass whole milliseconds, tests pass made-up times.
 * @packageDocumentation
 */
import { atEntry, describe, entry, rangeFault, toU64, typeFault, U64_MAX } from '../errors.js';
import { readOptions, type OptionSpec } from '../options.js';
import { BUFFER_DELAY, type MigrationStats } from '../stats.js';
import { requireStats, type StatsReader } from '../read/reader.js';

/** QEMU's default `downtime-limit`, in milliseconds. */
export const DEFAULT_DOWNTIME_LIMIT_MS = 300;
/** QEMU's largest `downtime-limit` (`MAX_MIGRATE_DOWNTIME`: 2000 s), in milliseconds. */
export const MAX_DOWNTIME_LIMIT_MS = 2_000_000;
/** Bytes a window must move before QEMU re-estimates the expected downtime (strictly more). */
export const EXPECTED_DOWNTIME_MIN_BYTES = 10_000n;

/** 2^64, where a double stops fitting C's `uint64_t`. */
const TWO_POW_64 = 18446744073709551616;
/** 2^63, where a double stops fitting C's `int64_t`. */
const TWO_POW_63 = 9223372036854775808;
/** The largest double below 2^63: what an `int64_t` figure saturates to here. */
const INT64_SATURATED = 9223372036854774784;

/** Options of {@link MigrationWindow}. */
export interface MigrationWindowOptions {
  /** Start of the first window: the clock now, in whole milliseconds. */
  nowMs: number;
  /** QEMU's `downtime-limit` in ms, 0 to 2,000,000 (default 300). */
  downtimeLimitMs?: number;
  /**
   * QEMU's `avail-switchover-bandwidth` in bytes/s, 0 to 2^64 − 1: 0 (default) uses the measured
   * bandwidth. QEMU divides it by 1000 in integer arithmetic, so 1–999 mean 0 bytes/ms (see
   * {@link MigrationWindow} for what that gives).
   */
  availSwitchoverBandwidth?: bigint | number;
}

const OPTIONS: OptionSpec<MigrationWindowOptions> = {
  names: { nowMs: true, downtimeLimitMs: true, availSwitchoverBandwidth: true },
  example: '{ nowMs: Date.now() }',
  required: true,
};

/** What {@link MigrationWindow.update} measured over one finished window. */
export interface MigrationWindowResult {
  /** Bytes transferred in the window (`migrationTransferredBytes()` delta, mod 2^64). */
  readonly transferred: bigint;
  /** Length of the window in ms (at least `BUFFER_DELAY`). */
  readonly timeSpentMs: number;
  /** Measured bandwidth in bytes per ms: `transferred / timeSpentMs`. */
  readonly bandwidth: number;
  /**
   * Bytes that can be sent within the downtime limit: switch-over happens once what remains fits.
   * From the switch-over bandwidth when one is set, else from the measured bandwidth.
   */
  readonly thresholdSize: bigint;
  /** Megabits (10^6) per second over the window: QMP's `mbps` while a migration runs. */
  readonly mbps: number;
  /** Pages (normal + zero) sent per second over the window, as QEMU keeps it (a double). */
  readonly pagesPerSecond: number;
  /**
   * Expected downtime in ms: `dirtyBytesLastSync / bandwidth`, re-estimated only when
   * `dirtyPagesRate != 0` and the window moved more than 10000 bytes; otherwise the previous value.
   */
  readonly expectedDowntimeMs: number;
}

function wholeMs(name: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  const head = `${name} must be a whole number of milliseconds (a safe-integer number, as QEMU's millisecond clock); received ${describe(value)}`;
  if (typeof value !== 'number') return fail(typeFault(head));
  return fail(rangeFault(Number.isInteger(value) || !Number.isFinite(value) ? head : `${head}: pass Math.floor(performance.now()) or Date.now()`));
}

function fail(error: Error): never {
  throw error;
}

/** C's conversion of a non-negative double to `uint64_t`; beyond the type (undefined in C) it saturates. */
function toUint64(x: number): bigint {
  return x >= TWO_POW_64 ? U64_MAX : BigInt(Math.trunc(x));
}

/**
 * C's conversion of a non-negative double (or NaN) to `int64_t`. Where C leaves it undefined, the
 * conversion saturates as AArch64's does: beyond the type (+∞ included) it gives the largest value
 * (here the largest double below 2^63), and NaN gives 0.
 */
function toInt64(x: number): number {
  if (Number.isNaN(x)) return 0;
  return x >= TWO_POW_63 ? INT64_SATURATED : Math.trunc(x);
}

/** Refuses a downtime limit outside QEMU's range. */
function checkLimit(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_DOWNTIME_LIMIT_MS) {
    const head = `${name} must be an integer number of milliseconds from 0 to ${MAX_DOWNTIME_LIMIT_MS} (QEMU's range); received ${describe(value)}`;
    throw typeof value === 'number' ? rangeFault(head) : typeFault(head);
  }
}

/**
 * One migration's rate-limit windows and the figures QEMU derives from them
 * (`migration_update_counters`). Call {@link MigrationWindow.update} as often as you like; each
 * time at least {@link BUFFER_DELAY} ms have passed since the window began, it computes the
 * figures, calls `stats.migrationRateReset()` and starts the next window.
 *
 * `availSwitchoverBandwidth` from 1 to 999 bytes/s is accepted, as QEMU accepts it: its integer
 * division by 1000 gives a switch-over bandwidth of 0 bytes/ms, so `thresholdSize` is 0 and the
 * expected downtime, when re-estimated, is `dirtyBytesLastSync / 0.0`: +∞, or NaN when nothing is
 * dirty. The other figures are QEMU's (they come from the measured bandwidth).
 *
 * Where QEMU's C is undefined, a double that does not fit the integer field it is stored in, this
 * class saturates, as AArch64's conversion does (x86-64's gives INT64_MIN, a negative downtime that
 * `queryMigrate` could not report):
 * - `expectedDowntimeMs`: 9223372036854774784 (the largest double below 2^63) for +∞ or anything
 *   from 2^63 up (a 0 B/ms switch-over bandwidth, or `dirtyBytesLastSync` near 2^64), and 0 for NaN
 *   (nothing dirty at 0 B/ms: nothing to send).
 * - `thresholdSize`: 2^64 − 1 from 2^64 up (only after counters wrap or are reset inside a window;
 *   call {@link MigrationWindow.restart} after `stats.reset()` to avoid it).
 *
 * @example
 * const window = new MigrationWindow(stats, { nowMs: 0 });
 * stats.qemuFileTransferred.add(12_500_000);
 * window.update(99);  //=> null (the window lasts at least 100 ms)
 * window.update(100); //=> { transferred: 12500000n, timeSpentMs: 100, bandwidth: 125000,
 *                     //     thresholdSize: 37500000n, mbps: 1000, pagesPerSecond: 0, expectedDowntimeMs: 300 }
 */
export class MigrationWindow {
  /** The stats whose counters are measured. */
  readonly stats: MigrationStats;
  /** How they are read, taken once when the window was made. */
  readonly #reader: StatsReader;
  #downtimeLimitMs: number;
  /** QEMU's `avail-switchover-bandwidth` (bytes/s); 0 = use the measured bandwidth. */
  readonly availSwitchoverBandwidth: bigint;

  private windowStartMs = 0;
  private windowStartBytes = 0n;
  private windowStartPages = 0n;
  private latest: MigrationWindowResult | null = null;
  private expectedDowntime: number;

  /**
   * Starts the first window at `options.nowMs` with the counters as they are now.
   * @param stats - the migration's counters
   * @param options - `nowMs` (required), `downtimeLimitMs` (default 300),
   *   `availSwitchoverBandwidth` (default 0)
   * @throws TypeError or RangeError naming the option, when one is not allowed or cannot be read;
   *   TypeError for a bad stats
   */
  constructor(stats: MigrationStats, options: MigrationWindowOptions) {
    const where = 'new MigrationWindow';
    try {
      const reader = requireStats(stats);
      const { nowMs, downtimeLimitMs = DEFAULT_DOWNTIME_LIMIT_MS, availSwitchoverBandwidth = 0 } = readOptions(options, OPTIONS);
      const start = wholeMs('options.nowMs', nowMs);
      checkLimit('options.downtimeLimitMs', downtimeLimitMs);
      const switchover = toU64('options.availSwitchoverBandwidth', availSwitchoverBandwidth);
      this.stats = stats;
      this.#reader = reader;
      this.#downtimeLimitMs = downtimeLimitMs as number;
      this.availSwitchoverBandwidth = switchover;
      // QEMU's migrate_fd_connect() (migration_connect() since 9.2): expected_downtime starts at the limit.
      this.expectedDowntime = downtimeLimitMs;
      this.begin(start);
    } catch (error) {
      throw atEntry(where, error);
    }
  }

  /** QEMU's `downtime-limit` (ms). */
  get downtimeLimitMs(): number {
    return this.#downtimeLimitMs;
  }

  /**
   * Changes the downtime limit, as `migrate-set-parameters` does during a migration: QEMU reads it
   * at each window, so the thresholds of the windows that close from now on use it.
   * @param downtimeLimitMs - whole milliseconds from 0 to 2000000
   * @throws TypeError or RangeError naming the argument; nothing changes
   */
  setDowntimeLimit(downtimeLimitMs: number): void {
    entry('MigrationWindow.setDowntimeLimit', () => checkLimit('downtimeLimitMs', downtimeLimitMs));
    this.#downtimeLimitMs = downtimeLimitMs;
  }

  /** Start of the current window (ms). */
  get startMs(): number {
    return this.windowStartMs;
  }

  /** `migrationTransferredBytes()` when the current window began. */
  get startBytes(): bigint {
    return this.windowStartBytes;
  }

  /** Pages sent (normal + zero) when the current window began. */
  get startPages(): bigint {
    return this.windowStartPages;
  }

  /** The last finished window's figures, or `null` before the first one ends. */
  get last(): MigrationWindowResult | null {
    return this.latest;
  }

  /** QEMU's current `expected_downtime` (ms): the downtime limit until a window re-estimates it. */
  get expectedDowntimeMs(): number {
    return this.expectedDowntime;
  }

  /** QEMU's current `mbps`: the last window's, or 0. */
  get mbps(): number {
    return this.latest?.mbps ?? 0;
  }

  /** QEMU's current `pages_per_second`: the last window's, or 0. */
  get pagesPerSecond(): number {
    return this.latest?.pagesPerSecond ?? 0;
  }

  /** QEMU's current `threshold_size` (bytes): the last window's, or 0. */
  get thresholdSize(): bigint {
    return this.latest?.thresholdSize ?? 0n;
  }

  /**
   * Closes the current window if at least {@link BUFFER_DELAY} ms have passed since it began:
   * computes the figures, calls `stats.migrationRateReset()` and starts the next window at `nowMs`.
   * @param nowMs - the clock now, in whole milliseconds
   * @returns the window's figures, or `null` (and nothing changed) while the window is not over
   * @throws TypeError or RangeError when `nowMs` is not a safe-integer number; nothing changes.
   *   TypeError naming the counter when the counters of another copy of the library fail to answer
   */
  update(nowMs: number): MigrationWindowResult | null {
    try {
      return this.#update(nowMs);
    } catch (error) {
      throw atEntry('MigrationWindow.update', error);
    }
  }

  #update(nowMs: number): MigrationWindowResult | null {
    const now = wholeMs('nowMs', nowMs);
    if (now < this.windowStartMs + BUFFER_DELAY) return null;

    const stats = this.#reader;
    const transferred = BigInt.asUintN(64, stats.transferredBytes() - this.windowStartBytes);
    const timeSpentMs = now - this.windowStartMs;
    // (double)transferred / time_spent
    const bandwidth = Number(transferred) / timeSpentMs;
    // switchover_bw / 1000 is unsigned integer division, converted to double afterwards.
    const expectedBwPerMs = this.availSwitchoverBandwidth !== 0n ? Number(this.availSwitchoverBandwidth / 1000n) : bandwidth;
    const thresholdSize = toUint64(expectedBwPerMs * this.downtimeLimitMs);
    const mbps = ((Number(transferred) * 8.0) / (timeSpentMs / 1000.0)) / 1000.0 / 1000.0;
    const transferredPages = BigInt.asUintN(64, pagesSent(stats) - this.windowStartPages);
    const pagesPerSecond = Number(transferredPages) / (timeSpentMs / 1000.0);
    const expectedDowntime =
      stats.get('dirtyPagesRate') !== 0n && transferred > EXPECTED_DOWNTIME_MIN_BYTES
        ? toInt64(Number(stats.get('dirtyBytesLastSync')) / expectedBwPerMs)
        : this.expectedDowntime;
    stats.rateReset();
    this.expectedDowntime = expectedDowntime;
    this.begin(now);
    const result: MigrationWindowResult = Object.freeze({
      transferred,
      timeSpentMs,
      bandwidth,
      thresholdSize,
      mbps,
      pagesPerSecond,
      expectedDowntimeMs: this.expectedDowntime,
    });
    this.latest = result;
    return result;
  }

  /**
   * Starts a new window at `nowMs` from the counters as they are now, without computing anything
   * (QEMU does this when a migration starts); the expected downtime goes back to the downtime
   * limit. Use it after `stats.reset()`.
   * @param nowMs - the clock now, in whole milliseconds
   * @throws TypeError or RangeError when `nowMs` is not a safe-integer number
   */
  restart(nowMs: number): void {
    entry('MigrationWindow.restart', () => this.begin(wholeMs('nowMs', nowMs)));
    this.expectedDowntime = this.downtimeLimitMs;
  }

  private begin(nowMs: number): void {
    // QEMU's update_iteration_initial_status(): it reads the counters again after the reset.
    const bytes = this.#reader.transferredBytes();
    const pages = pagesSent(this.#reader);
    this.windowStartMs = nowMs;
    this.windowStartBytes = bytes;
    this.windowStartPages = pages;
  }
}

/** QEMU's `ram_get_total_transferred_pages()` without XBZRLE: normal + zero pages, mod 2^64. */
function pagesSent(stats: StatsReader): bigint {
  return BigInt.asUintN(64, stats.get('normalPages') + stats.get('zeroPages'));
}

/**
 * QMP's `mbps` once a migration has completed (`migration_calculate_complete`): the average over
 * the whole transfer, `bytes × 8 / (totalTimeMs − setupTimeMs) / 1000`.
 * @param transferredBytes - `migrationTransferredBytes()` at completion
 * @param totalTimeMs - the migration's total time (ms)
 * @param setupTimeMs - its setup time (ms), at most `totalTimeMs`
 * @returns the megabits per second, or `null` when the transfer took 0 ms (QEMU then keeps the
 *   last window's `mbps`)
 * @throws TypeError or RangeError for arguments that are not unsigned integers, or a setup time
 *   longer than the total
 * @example completedMbps(465224n, 67, 3) //=> 58.153 (QMP prints 58.152999999999999)
 */
export function completedMbps(transferredBytes: bigint | number, totalTimeMs: number, setupTimeMs: number): number | null {
  const where = 'completedMbps';
  const [bytes, total, setup] = entry(where, () => [toU64('transferredBytes', transferredBytes), wholeMs('totalTimeMs', totalTimeMs), wholeMs('setupTimeMs', setupTimeMs)] as const);
  if (setup < 0 || total < setup) {
    throw new RangeError(`${where}: need 0 <= setupTimeMs <= totalTimeMs; received setupTimeMs ${describe(setupTimeMs)} and totalTimeMs ${describe(totalTimeMs)}`);
  }
  const transferTime = total - setup;
  if (transferTime === 0) return null;
  return (Number(bytes) * 8.0) / transferTime / 1000;
}
