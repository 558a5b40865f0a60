/**
 * The migration thread's means, on top of the booted machine (machine.ts): the main stream under
 * the rate limiter, passes handed to the channels, dirty-bitmap syncs, the guest's stop, and the
 * ticker that closes rate-limit windows. The stages themselves are in stages.ts.
 * @packageDocumentation
 */
import type { MigrationWindow } from '../qemu/window.js';
import { BUFFER_DELAY } from '../stats.js';
import { bump, lockAsync, SLOT, unlock, waitAsyncWhile } from './control.js';
import { Machine } from './machine.js';
import type { SimulationSettings } from './settings.js';
import { defaultCapabilities, type MigrationCapabilities, type MigrationParameters } from './parameters.js';
import type { MigrationProgress, SimulationStatus, WindowRecord } from './types.js';
import { MAIN_STREAM, PAGE_BYTES, PAGES_PER_PACKET } from './wire.js';
import type { SimWorker } from './workers.js';

/** Requests each channel may have queued: one being sent, one waiting (keeps channels busy). */
const CHANNEL_QUEUE_DEPTH = 2;
/** Most packets in one request to a channel (4 MiB of pages): fewer messages per page sent. */
const PACKETS_PER_REQUEST = 8;

/** What the migration thread tells its owner (the virtual machine): QEMU's events, by cause. */
export interface MigrationHooks {
  /** The migration's status changed. */
  status(status: SimulationStatus): void;
  /** A dirty-bitmap sync: `pass` is the new `dirty-sync-count`. */
  pass(pass: number): void;
  /** The guest stopped (`STOP`) or runs again (`RESUME`). */
  runState(running: boolean): void;
  /** Pass `passes` (counted while the guest ran) ended without converging: a driver may ask for postcopy or cancel. */
  passEnded?(passes: number): void;
}

/** The migration thread's state and means; see stages.ts for what it does with them. */
export class MigrationCore extends Machine {
  /** Downtime of a postcopy switch: from the guest's stop until the destination's vCPUs ran. */
  postcopyDowntimeMs: number | undefined;
  window!: MigrationWindow;

  /** The parameters and capabilities of the migration, fixed at `migrate`. */
  params!: MigrationParameters;
  caps: MigrationCapabilities = defaultCapabilities();
  status: SimulationStatus = 'none';
  /** Whether stop-and-copy is under way (QEMU's status stays `active` meanwhile). */
  stopAndCopy = false;
  /** Passes started while the guest ran (the bulk pass is 1). */
  passes = 0;
  startMs = 0;
  setupTimeMs = 0;
  syncRequests = 0;
  dataPackets = 0;
  syncPackets = 0;
  readonly windows: WindowRecord[] = [];
  mbps = 0;
  pagesPerSecond = 0;
  thresholdBytes = 0n;
  switchoverThresholdBytes = 0n;
  expectedDowntimeMs = 0;
  rateStartMs = 0;
  ratePeriodPages = 0;
  ticker: ReturnType<typeof setInterval> | undefined;
  ticking = false;

  constructor(
    settings: SimulationSettings,
    workerUrl: URL,
    readonly hooks: MigrationHooks,
    readonly onProgress: ((progress: MigrationProgress) => void) | undefined,
  ) {
    super(settings, workerUrl);
  }

  /** Milliseconds since the migration started, whole (QEMU's clock is in whole ms). */
  clock(): number {
    return Math.floor(performance.now()) - this.startMs;
  }

  /**
   * Counts bytes of the main stream once the window allows it (under the send lock, like the
   * channels). `ram`: RAM-section bytes, which also go to `precopyBytes`, `postcopyBytes` or `downtimeBytes`.
   */
  async sendMain(bytes: number, ram: boolean): Promise<void> {
    const { control, stats } = this;
    for (;;) {
      await lockAsync(control);
      if (!stats.migrationRateExceeded()) {
        stats.qemuFileTransferred.add(bytes);
        if (ram) (this.guestRunning ? stats.precopyBytes : this.status === 'postcopy-active' ? stats.postcopyBytes : stats.downtimeBytes).add(bytes);
        unlock(control);
        return;
      }
      const epoch = Atomics.load(control, SLOT.windowEpoch);
      unlock(control);
      await waitAsyncWhile(control, SLOT.windowEpoch, epoch, BUFFER_DELAY);
      if (this.signals.failure) throw this.signals.failure;
    }
  }

  /**
   * One pass: every page of the migration bitmap, in packets, then (with multifd) a sync packet
   * per channel and the end-of-pass record. A request carries up to {@link PACKETS_PER_REQUEST}
   * packets, fewer when the pass has fewer left than that for each channel, so every channel gets
   * a share. `interrupt`, asked after each request (QEMU's iteration), ends the pass early.
   * @returns false when `interrupt` ended it
   */
  async sendPass(endOfPass: boolean, interrupt?: () => boolean): Promise<boolean> {
    for (;;) {
      if (interrupt?.()) {
        await this.signals.until(() => this.channels.every((c) => c.outstanding === 0));
        return false;
      }
      const packetsLeft = Math.ceil(this.bitmap.count / PAGES_PER_PACKET);
      const packets = Math.max(1, Math.min(PACKETS_PER_REQUEST, Math.floor(packetsLeft / this.channels.length)));
      const pages = this.bitmap.take(packets * PAGES_PER_PACKET);
      if (pages.length === 0) break;
      await this.dispatch(pages);
    }
    const multifd = endOfPass && this.caps.multifd;
    if (multifd) {
      for (const channel of this.channels) channel.request({ type: 'sync' });
      this.syncPackets += this.channels.length;
    }
    await this.signals.until(() => this.channels.every((c) => c.outstanding === 0));
    if (endOfPass) await this.sendMain(MAIN_STREAM.passEndBytes, true);
    return true;
  }

  /** Hands pages, as packets, to the least busy channel, waiting while every queue is full. */
  async dispatch(pages: Uint32Array): Promise<void> {
    let target: SimWorker | undefined;
    await this.signals.until(() => {
      target = this.channels.reduce((a, b) => (b.outstanding < a.outstanding ? b : a));
      return target.outstanding < CHANNEL_QUEUE_DEPTH;
    });
    // Counted first: the request transfers the pages' buffer away.
    if (this.caps.multifd && this.status !== 'postcopy-active') this.dataPackets += Math.ceil(pages.length / PAGES_PER_PACKET);
    target!.request({ type: 'packets', pages });
  }

  /**
   * A dirty-bitmap sync: the guest catches up on its writes, the log is moved into the migration
   * bitmap, and `dirtySyncCount`, `dirtyBytesLastSync` and (at most once a second)
   * `dirtyPagesRate` are updated as in QEMU's `migration_bitmap_sync`, which then sends
   * `MIGRATION_PASS` with the new count.
   */
  async sync(): Promise<void> {
    const { control, dirtyLog, bitmap, stats } = this;
    if (this.guestRunning) {
      const request = ++this.syncRequests;
      Atomics.store(control, SLOT.guestSyncRequest, request);
      bump(control, SLOT.guestBell);
      while (Atomics.load(control, SLOT.guestSyncAck) !== request) {
        await waitAsyncWhile(control, SLOT.guestSyncAck, request - 1, BUFFER_DELAY);
        if (this.signals.failure) throw this.signals.failure;
      }
    }
    const newlyDirty = bitmap.mergeLog(dirtyLog);
    stats.dirtySyncCount.add(1);
    stats.dirtyBytesLastSync.set(bitmap.count * PAGE_BYTES);
    this.ratePeriodPages += newlyDirty;
    const now = this.clock();
    if (now > this.rateStartMs + 1000) {
      stats.dirtyPagesRate.set(Math.floor((this.ratePeriodPages * 1000) / (now - this.rateStartMs)));
      this.rateStartMs = now;
      this.ratePeriodPages = 0;
    }
    this.hooks.pass(Number(stats.dirtySyncCount.get()));
    this.progress();
  }

  /** Stops the guest and waits until its last write is logged (`STOP`). */
  async stopGuest(): Promise<void> {
    const { control } = this;
    Atomics.store(control, SLOT.guestStop, 1);
    bump(control, SLOT.guestBell);
    while (Atomics.load(control, SLOT.guestStopped) !== 1) {
      await waitAsyncWhile(control, SLOT.guestStopped, 0, BUFFER_DELAY);
      if (this.signals.failure) throw this.signals.failure;
    }
    this.guestRunning = false;
    this.hooks.runState(false);
  }

  /** Sets the rate limit (0 = none) and wakes senders waiting on the old one. */
  async setRateLimit(bytesPerSecond: bigint): Promise<void> {
    await lockAsync(this.control);
    this.stats.migrationRateSet(bytesPerSecond);
    bump(this.control, SLOT.windowEpoch);
    unlock(this.control);
  }

  /**
   * Closes the rate-limit window when `BUFFER_DELAY` has passed, and reports progress. Not during
   * stop-and-copy: QEMU's migration thread is then in `migration_completion` and updates no
   * window figures (the limit is off), so `query-migrate` keeps the last pre-copy window's.
   */
  async tick(): Promise<void> {
    if (this.stopAndCopy) return this.progress();
    if (this.ticking) return;
    this.ticking = true;
    try {
      await lockAsync(this.control);
      const budgetBytes = this.stats.migrationRateGet();
      const figures = this.window.update(this.clock());
      if (figures) bump(this.control, SLOT.windowEpoch);
      unlock(this.control);
      if (figures) {
        this.windows.push({ budgetBytes, transferredBytes: figures.transferred, timeSpentMs: figures.timeSpentMs });
        this.mbps = figures.mbps;
        this.pagesPerSecond = figures.pagesPerSecond;
        this.thresholdBytes = figures.thresholdSize;
        this.expectedDowntimeMs = figures.expectedDowntimeMs;
      }
      this.progress();
    } catch (error) {
      this.signals.fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.ticking = false;
    }
  }

  stopTicker(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** The pass under way: QEMU's `dirty-sync-count` (0 before the first sync). */
  get pass(): number {
    return this.stats ? Number(this.stats.dirtySyncCount.get()) : 0;
  }

  progress(): void {
    if (!this.onProgress || !this.stats || this.status === 'none') return;
    this.onProgress({
      status: this.status,
      stopAndCopy: this.stopAndCopy,
      pass: this.pass,
      elapsedMs: this.startMs === 0 ? 0 : this.clock(),
      transferredBytes: this.stats.migrationTransferredBytes(),
      remainingBytes: this.bitmap.count * PAGE_BYTES,
      ramBytes: this.settings.ramBytes,
      mbps: this.mbps,
      dirtyPagesRate: this.stats.dirtyPagesRate.get(),
      expectedDowntimeMs: this.expectedDowntimeMs,
      stats: this.stats,
    });
  }

  /** Stops the ticker and every worker; the counters stay readable. */
  override async shutDown(): Promise<void> {
    this.stopTicker();
    await super.shutDown();
  }
}
