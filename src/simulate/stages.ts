/**
 * The migration thread: a pre-copy live migration of a guest's RAM modelled on QEMU's, with a
 * guest worker dirtying pages and channel workers sending them under the bandwidth limit, every
 * figure counted in the shared {@link MigrationStats}.
 *
 * Stages, as in QEMU: set-up (counters zeroed, limit set, channels connected, the whole RAM marked
 * dirty, a first bitmap sync: `MIGRATION_PASS` 1); passes over the dirty pages, each ended by a
 * sync packet per channel and a bitmap sync (the next pass number); switch-over once what remains
 * fits the downtime limit: the guest stops (with `pause-before-switchover`, `pre-switchover` until
 * `migrate-continue`, then `device`); stop-and-copy, the rest unlimited, status still `active`;
 * completion. After `migrate-start-postcopy` (with `postcopy-ram`) the next iteration switches to
 * postcopy (postcopy-stage.ts). `cancel()` is QEMU's `migrate_cancel`: `cancelling`, then
 * `cancelled`. QEMU never gives up by itself, and neither does this thread.
 *
 * It runs on any thread, a page's main thread included: it never blocks, only awaits.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { queryMigrate, type MigrationInfo } from '../qemu/query-migrate.js';
import { completedMbps, MigrationWindow } from '../qemu/window.js';
import { BUFFER_DELAY } from '../stats.js';
import { MigrationCore } from './core.js';
import type { MigrationCapabilities, MigrationParameters } from './parameters.js';
import { runPostcopy, startPostcopy } from './postcopy-stage.js';
import type { SimulationStatus } from './types.js';
import { MAIN_STREAM, PAGE_BYTES } from './wire.js';

/** What a cancelled wait rejects with: the reason of the cancel, in words. */
export class Cancelled extends Error {}

/** Statuses in which `migrate_cancel` cancels (QEMU's `migration_is_running`, as the simulator has them). */
const CANCELLABLE: ReadonlySet<SimulationStatus> = new Set<SimulationStatus>(['setup', 'active', 'pre-switchover', 'device', 'postcopy-active']);

/** One migration of the booted machine, from `migrate` to its end. */
export class Migration extends MigrationCore {
  /** Set once the migration was cancelled (or the caller's signal stopped the verification). */
  cancellation: Cancelled | undefined;
  /** The status when the cancel came. */
  cancelledStatus: SimulationStatus | undefined;
  /** `query-migrate` at the moment of the cancel (status `cancelling`). */
  cancelledInfo: MigrationInfo | undefined;
  /** `migrate-start-postcopy` was asked: the next iteration switches. */
  postcopyRequested = false;
  /** Wakes the switch-over paused in `pre-switchover`. */
  #continue: (() => void) | undefined;
  /** When the downtime began (ms on the migration's clock). */
  downtimeStartMs = 0;
  completedInfo: MigrationInfo | undefined;
  totalTimeMs = 0;
  downtimeMs: number | undefined;

  setStatus(status: SimulationStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.hooks.status(status);
    this.progress();
  }

  /** Whether `migrate_cancel` would cancel now. */
  get cancellable(): boolean {
    return CANCELLABLE.has(this.status);
  }

  /**
   * QEMU's `migrate_cancel`: `cancelling` at once (the figures of that moment kept), then the
   * migration thread stops at its next wait and the status becomes `cancelled`. Once the
   * migration completed, it only stops the verification.
   * @param reason - the cause, for the result's message
   */
  cancel(reason: string): void {
    if (this.cancellation) return;
    this.cancellation = new Cancelled(reason);
    if (this.cancellable) {
      this.cancelledStatus = this.status;
      this.cancelledInfo = this.status === 'setup' ? undefined : this.infoNow(this.clock(), 'cancelling');
      this.setStatus('cancelling');
    }
    this.#continue?.();
    this.signals.fail(this.cancellation);
  }

  /** QEMU's `migrate-continue` in `pre-switchover`. */
  resume(): void {
    this.#continue?.();
  }

  /**
   * Runs the migration to its end: `completed`, or `cancelled` after {@link cancel}. A worker's
   * failure makes it `failed` and rejects.
   */
  async migrate(params: MigrationParameters, caps: MigrationCapabilities): Promise<void> {
    this.params = params;
    this.caps = { ...caps };
    this.expectedDowntimeMs = params.downtimeLimitMs;
    this.setStatus('setup');
    try {
      if (this.cancellation) throw this.cancellation;
      await this.setUp();
      if ((await this.iterate()) === 'postcopy') {
        await startPostcopy(this);
        await runPostcopy(this);
      } else {
        await this.switchOver();
        await this.sendPass(true);
        await this.sendMain(MAIN_STREAM.streamEndBytes, false);
      }
      this.complete();
    } catch (error) {
      this.stopTicker();
      if (this.cancellation && error === this.cancellation) {
        // QEMU's guest runs again after a cancel that found it stopped.
        if (!this.guestRunning && this.status !== 'completed' && this.startMs !== 0) this.hooks.runState(true);
        if (this.status === 'cancelling') this.setStatus('cancelled');
        return;
      }
      this.setStatus('failed');
      throw error;
    }
  }

  /**
   * Set-up: counters zeroed (QEMU's `migrate_init`), the limit set, the first window opened (the
   * expected downtime at the limit), the channels connected (their handshakes), every page marked
   * dirty and a first bitmap sync. Workers started at boot; more only when the parameters ask for them.
   */
  async setUp(): Promise<void> {
    const { stats, params, caps } = this;
    stats.reset();
    stats.migrationRateSet(params.maxBandwidth);
    this.startMs = Math.floor(performance.now());
    this.window = new MigrationWindow(stats, { nowMs: 0, downtimeLimitMs: params.downtimeLimitMs, availSwitchoverBandwidth: params.availSwitchoverBandwidth });
    stats.migrationRateReset();
    this.ticker = setInterval(() => void this.tick(), BUFFER_DELAY / 2);
    this.progress();
    await this.sendMain(MAIN_STREAM.streamHeaderBytes, false);
    const count = caps.multifd ? params.multifdChannels : 1;
    await this.moreChannels(count);
    if (caps.postcopyRam) await this.bootVcpus();
    this.channels = this.booted.slice(0, count);
    for (const channel of this.channels) channel.request({ type: 'connect', multifd: caps.multifd });
    await this.signals.until(() => this.channels.every((c) => c.outstanding === 0));
    // Every page is dirty at the start; the first sync clears what the guest logged so far.
    this.bitmap.markAll();
    this.rateStartMs = this.clock();
    await this.sync();
    await this.sendMain(MAIN_STREAM.ramSetupBytes, true);
    this.setupTimeMs = this.clock();
    this.setStatus('active');
  }

  /**
   * Passes over the dirty pages while the guest runs, until what remains fits the downtime limit,
   * decided at the end of each pass as QEMU's `migration_iteration_run` decides it there. The
   * estimate of what is pending is then 0 (the pass sent every page of the bitmap); only when that
   * is below the threshold does QEMU sync the dirty bitmap for the exact figure, and it completes
   * when what is pending is at most the threshold. So with a threshold of 0 (no window closed yet,
   * or one that moved nothing) it completes at once, without that sync: the pages dirtied during
   * the pass go out in stop-and-copy, after the switch-over's sync.
   *
   * After `migrate-start-postcopy`, the next iteration (a request handed to a channel) switches.
   * A pass that ends without converging calls `hooks.passEnded`, where a driver may ask for
   * postcopy or cancel.
   * @returns `converged`, or `postcopy`
   */
  async iterate(): Promise<'converged' | 'postcopy'> {
    for (;;) {
      this.passes++;
      this.progress();
      if (!(await this.sendPass(true, () => this.postcopyRequested))) return 'postcopy';
      this.switchoverThresholdBytes = this.thresholdBytes;
      if (this.switchoverThresholdBytes === 0n) return 'converged';
      await this.sync();
      if (BigInt(this.bitmap.count * PAGE_BYTES) <= this.switchoverThresholdBytes) return 'converged';
      this.hooks.passEnded?.(this.passes);
      if (this.cancellation) throw this.cancellation;
    }
  }

  /**
   * Switch-over: the guest stops (`STOP`); with `pause-before-switchover`, `pre-switchover` until
   * `migrate-continue`, then `device`; the limit is lifted; a last bitmap sync.
   */
  async switchOver(): Promise<void> {
    await this.stopGuest();
    this.downtimeStartMs = this.clock();
    this.stopAndCopy = true;
    await this.maybePause('device');
    await this.setRateLimit(0n);
    await this.sync();
  }

  /**
   * QEMU's `migration_maybe_pause`: with `pause-before-switchover`, `pre-switchover` until
   * `migrate-continue`, then `next`; without it, nothing.
   */
  async maybePause(next: SimulationStatus): Promise<void> {
    if (!this.caps.pauseBeforeSwitchover) return;
    this.setStatus('pre-switchover');
    await new Promise<void>((wake) => (this.#continue = wake));
    this.#continue = undefined;
    if (this.cancellation) throw this.cancellation;
    this.setStatus(next);
  }

  /** Completion: the final figures (the verification comes after, vm.ts). */
  complete(): void {
    const { settings, stats } = this;
    const endMs = this.clock();
    this.downtimeMs = this.postcopyDowntimeMs ?? endMs - this.downtimeStartMs;
    this.totalTimeMs = endMs;
    this.stopTicker();
    // QEMU's migration_calculate_complete: the average over the whole transfer.
    this.mbps = completedMbps(stats.migrationTransferredBytes(), endMs, this.setupTimeMs) ?? this.mbps;
    this.completedInfo = queryMigrate(stats, {
      status: 'completed',
      setupTimeMs: this.setupTimeMs,
      totalTimeMs: endMs,
      downtimeMs: this.downtimeMs,
      ramTotalBytes: settings.ramBytes,
      remainingBytes: 0,
      pageSize: PAGE_BYTES,
      mbps: this.mbps,
      pagesPerSecond: this.pagesPerSecond,
      ...(this.destinationStats && this.postcopyCounts ? { postcopyBlocktime: this.destinationStats } : {}),
    });
    this.stopAndCopy = false;
    this.setStatus('completed');
  }

  /** The `query-migrate` of now: QEMU's reply for the status (only the status before `active` and once cancelled). */
  query(): MigrationInfo {
    switch (this.status) {
      case 'none':
        return {};
      case 'completed':
        return this.completedInfo!;
      case 'setup':
      case 'cancelled':
      case 'failed':
        return queryMigrate(this.stats, { status: this.status, ...(this.status === 'failed' ? { errorDesc: this.signals.failure?.message ?? 'failed' } : {}) });
      default:
        return this.infoNow(this.clock(), this.status);
    }
  }

  /** The `query-migrate` of a migration under way. */
  infoNow(totalTimeMs: number, status: SimulationStatus): MigrationInfo {
    return queryMigrate(this.stats, {
      status,
      setupTimeMs: Math.min(this.setupTimeMs, totalTimeMs),
      totalTimeMs,
      expectedDowntimeMs: this.expectedDowntimeMs,
      ...(this.postcopyDowntimeMs === undefined ? {} : { downtimeMs: this.postcopyDowntimeMs }),
      ramTotalBytes: this.settings.ramBytes,
      remainingBytes: this.bitmap.count * PAGE_BYTES,
      pageSize: PAGE_BYTES,
      mbps: this.mbps,
      pagesPerSecond: this.pagesPerSecond,
    });
  }
}

/** A cancel's reason in words: a string as it is, an Error's message, anything else described. */
export function reasonText(reason: unknown): string {
  return typeof reason === 'string' ? reason : reason instanceof Error ? reason.message : describe(reason);
}
