/**
 * The migration thread: a pre-copy live migration of a guest's RAM modelled on QEMU's, with a
 * guest worker dirtying pages and multifd channel workers sending them under a bandwidth limit,
 * every figure counted in the shared {@link MigrationStats}.
 *
 * Stages (methods of {@link Migration}, in order): boot, before the migration (every worker
 * starts and helps fill the guest's RAM, then the guest runs); then as in QEMU: set-up (counters
 * zeroed, limit set, channels connected, the whole RAM marked dirty, a first bitmap sync); passes
 * over the dirty pages, each ended by a sync packet per channel and a bitmap sync; switch-over
 * once what remains fits the downtime limit (or give up after `maxPasses`): the guest stops;
 * stop-and-copy, the rest unlimited; completion. With `postcopy`, a pass that does not converge
 * after `postcopyAfter` passes (or the last allowed one) switches to postcopy instead: the guest
 * stops, the destination's vCPUs start on worker threads, and the postcopy stage sends the rest
 * unlimited, pages the vCPUs fault on first (postcopy.ts). The destination is then compared with
 * the source byte for byte, by the channels and the stopped guest's worker together.
 *
 * It runs on any thread, a page's main thread included: it never blocks, only awaits.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { sizeToStr } from '../qemu/hmp.js';
import { definePostcopyStats } from '../qemu/postcopy.js';
import { queryMigrate, type MigrationInfo } from '../qemu/query-migrate.js';
import { completedMbps, MigrationWindow } from '../qemu/window.js';
import { BUFFER_DELAY, MigrationStats } from '../stats.js';
import { bump, createControl, createCounter, lockAsync, SLOT, unlock, waitAsyncWhile } from './control.js';
import { DirtyBitmap } from './dirty-bitmap.js';
import { checkSettings, type SimulationSettings } from './options.js';
import { LAST_WRITES } from './guest.js';
import { createPostcopyShared, PAGE, STOPPED_SLOT, stopVcpus, takeRequest, type PostcopyShared } from './postcopy.js';
import type { WorkerReply } from './protocol.js';
import type {
  DestinationStats,
  MigrationProgress,
  MigrationResult,
  PostcopyResult,
  SimulationOptions,
  SimulationStatus,
  WindowRecord,
} from './types.js';
import { defaultWorkerUrl } from './worker-url.js';
import { Signals, SimWorker } from './workers.js';
import { MAIN_STREAM, PAGE_BYTES, PAGES_PER_PACKET } from './wire.js';

export type * from './types.js';

/** Bytes of a WebAssembly memory page: the guest RAM's memory is a whole number of them. */
const WASM_PAGE_BYTES = 65536;

/** Requests each channel may have queued: one being sent, one waiting (keeps channels busy). */
const CHANNEL_QUEUE_DEPTH = 2;
/** Most packets in one request to a channel (4 MiB of pages): fewer messages per page sent. */
const PACKETS_PER_REQUEST = 8;

/**
 * Runs one simulated live migration to its end.
 * @param options - settings (see {@link SimulationSettings}; each has a default) and callbacks
 * @returns the outcome, with the final counters and the `query-migrate` info
 * @throws TypeError or RangeError for a bad setting, `onProgress` or `workerUrl` (nothing is started); Error when shared
 *   memory is not available or a worker fails
 * @example
 * const result = await simulateMigration({ ramBytes: 16 * 1024 * 1024 });
 * result.status; //=> 'completed'
 * result.verified; //=> true
 */
export async function simulateMigration(options?: SimulationOptions): Promise<MigrationResult> {
  const { settings, onProgress, workerUrl: url, signal } = checkSettings('simulateMigration', options);
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new TypeError(`simulateMigration: options.onProgress must be a function or undefined; received ${describe(onProgress)}`);
  }
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new TypeError(`simulateMigration: options.signal must be an AbortSignal or undefined; received ${describe(signal)}`);
  }
  const workerUrl = url === undefined ? defaultWorkerUrl() : resolveWorkerUrl(url);
  if (typeof SharedArrayBuffer !== 'function') {
    throw new Error(
      'simulateMigration: SharedArrayBuffer is not available; in a browser the page must be cross-origin isolated ' +
        '(Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)',
    );
  }
  const run = new Migration(settings, workerUrl, onProgress as ((progress: MigrationProgress) => void) | undefined, signal);
  try {
    return await run.run();
  } finally {
    await run.shutDown();
  }
}

/** Whether a value is an `AbortSignal` (false for anything that cannot even be asked). */
function isAbortSignal(value: unknown): value is AbortSignal {
  try {
    return typeof AbortSignal === 'function' && value instanceof AbortSignal;
  } catch {
    return false;
  }
}

/** What a cancelled wait rejects with: the reason of the caller's signal, in words. */
class Cancelled extends Error {}

/** `options.workerUrl` as a URL, relative ones against the default. */
function resolveWorkerUrl(value: unknown): URL {
  if (value instanceof URL || typeof value === 'string') {
    try {
      return new URL(value, defaultWorkerUrl());
    } catch {
      // not a URL: the message below
    }
  }
  throw new TypeError(`simulateMigration: options.workerUrl must be a URL or a string naming the worker module; received ${describe(value)}`);
}

/** One migration's state; {@link simulateMigration} makes one and runs it. */
class Migration {
  readonly settings: SimulationSettings;
  readonly pages: number;
  readonly ram: WebAssembly.Memory;
  readonly destination: SharedArrayBuffer;
  /** The destination's received-pages bitmap (QEMU's `receivedmap`), set by the channels. */
  readonly received: Int32Array<SharedArrayBuffer>;
  readonly dirtyLog: Int32Array<SharedArrayBuffer>;
  /** Pages to send in the current pass: the migration bitmap, which counts the dirty pages. */
  readonly bitmap: DirtyBitmap;
  readonly control = createControl();
  readonly signals = new Signals();
  /** Every started worker, to stop them all. */
  readonly workers: SimWorker[] = [];
  guest!: SimWorker;
  channels: SimWorker[] = [];
  /** The destination's vCPUs (workers started at boot with `postcopy`, given their role at the switch). */
  vcpuWorkers: SimWorker[] = [];
  /** The guest's last writes: `[count, 64 pages]`. */
  readonly lastWrites = new Int32Array(new SharedArrayBuffer((1 + LAST_WRITES) * 4));
  /** With `postcopy`: the shared state of the postcopy stage, and the destination's stats. */
  postcopyShared: PostcopyShared | undefined;
  destinationStats: DestinationStats | undefined;
  /** Counts of the postcopy stage, once switched. */
  postcopyCounts: { passesBeforeSwitch: number; missingPages: number; requestsTaken: number; requestedPagesSent: number; normal: number; zero: number } | undefined;
  /** Downtime of a postcopy switch: from the guest's stop until the destination's vCPUs ran. */
  postcopyDowntimeMs: number | undefined;
  stats!: MigrationStats;
  window!: MigrationWindow;

  status: SimulationStatus = 'setup';
  pass = 0;
  startMs = 0;
  setupTimeMs = 0;
  syncRequests = 0;
  guestRunning = false;
  dataPackets = 0;
  syncPackets = 0;
  pagesSent = 0;
  readonly windows: WindowRecord[] = [];
  /** Figures of the last closed window. */
  mbps = 0;
  pagesPerSecond = 0;
  thresholdBytes = 0n;
  /** The threshold the last convergence check used (what the result reports). */
  switchoverThresholdBytes = 0n;
  expectedDowntimeMs = 0;
  /** Dirty-rate period, as QEMU's `migration_bitmap_sync` keeps it. */
  rateStartMs = 0;
  ratePeriodPages = 0;
  ticker: ReturnType<typeof setInterval> | undefined;
  ticking = false;

  /** Set once the caller's signal aborted the migration. */
  cancellation: Cancelled | undefined;
  /** The completed migration's `query-migrate`, once there is one. */
  completedInfo: MigrationInfo | undefined;

  constructor(
    settings: SimulationSettings,
    readonly workerUrl: URL,
    readonly onProgress: ((progress: MigrationProgress) => void) | undefined,
    readonly signal: AbortSignal | undefined,
  ) {
    this.settings = settings;
    this.pages = settings.ramBytes / PAGE_BYTES;
    const wasmPages = Math.ceil(settings.ramBytes / WASM_PAGE_BYTES);
    this.ram = new WebAssembly.Memory({ initial: wasmPages, maximum: wasmPages, shared: true });
    this.destination = new SharedArrayBuffer(settings.ramBytes);
    this.bitmap = new DirtyBitmap(this.pages);
    this.dirtyLog = new Int32Array(new SharedArrayBuffer(this.bitmap.words * 4));
    this.received = new Int32Array(new SharedArrayBuffer(this.bitmap.words * 4));
  }

  /** Milliseconds since the migration started, whole (QEMU's clock is in whole ms). */
  clock(): number {
    return Math.floor(performance.now()) - this.startMs;
  }

  /**
   * Runs the stages in order; each one below is QEMU's, but boot (the guest before the migration).
   * The caller's signal, once aborted, makes every wait reject: the run then ends as cancelled.
   */
  async run(): Promise<MigrationResult> {
    this.stats = await MigrationStats.create({ backend: this.settings.backend });
    if (this.settings.postcopy) {
      this.destinationStats = await definePostcopyStats(this.settings.vcpus).create({ backend: this.settings.backend });
      this.postcopyShared = createPostcopyShared(this.pages, this.settings.vcpus);
    }
    const onAbort = (): void => this.cancel();
    this.signal?.addEventListener('abort', onAbort);
    if (this.signal?.aborted) onAbort();
    try {
      await this.boot();
      await this.setUp();
      const outcome = await this.iterate();
      if (outcome === 'failed') return this.giveUp();
      if (outcome === 'postcopy') {
        const downtimeStartMs = await this.startPostcopy();
        await this.postcopy();
        return await this.complete(downtimeStartMs);
      }
      const downtimeStartMs = await this.switchOver();
      await this.stopAndCopy();
      return await this.complete(downtimeStartMs);
    } catch (error) {
      if (this.cancellation && error === this.cancellation) return this.cancelled();
      throw error;
    } finally {
      this.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The caller's signal aborted: every wait of the migration thread fails with the same error. */
  cancel(): void {
    const reason: unknown = this.signal?.reason;
    this.cancellation ??= new Cancelled(typeof reason === 'string' ? reason : reason instanceof Error ? reason.message : describe(reason));
    this.signals.fail(this.cancellation);
  }

  /** Counts the pages of the packets a channel reports sent. */
  readonly onReply = (_: SimWorker, reply: WorkerReply): void => {
    if (reply.type !== 'packets') return;
    this.pagesSent += reply.normalPages + reply.zeroPages;
    const counts = this.postcopyCounts;
    if (counts) {
      counts.normal += reply.normalPages;
      counts.zero += reply.zeroPages;
      counts.requestsTaken += reply.requestsTaken ?? 0;
      counts.requestedPagesSent += reply.requestedPagesSent ?? 0;
    }
  };

  /**
   * Boot, before the migration: every worker starts (the guest and the channels' threads) and
   * helps fill the guest's RAM (boot.ts decides every page from the seed, whoever fills it), then
   * the guest runs. Channels only connect in set-up.
   */
  async boot(): Promise<void> {
    const { settings } = this;
    const fill = { type: 'fill', ram: this.ram, ramBytes: settings.ramBytes, zeroShare: settings.zeroShare, seed: settings.seed, next: createCounter() } as const;
    // Each worker joins the fill as soon as it listens, while the others are still starting.
    const start = async (name: string): Promise<SimWorker> => {
      const worker = await SimWorker.spawn(this.workerUrl, name, this.signals, this.onReply, this.workers);
      await worker.fill(fill);
      return worker;
    };
    const vcpus = settings.postcopy ? settings.vcpus : 0;
    const [guest, ...others] = await Promise.all([
      start('guest'),
      ...Array.from({ length: settings.channels }, (_, i) => start(`channel ${i}`)),
      ...Array.from({ length: vcpus }, (_, i) => start(`vcpu ${i}`)),
    ]);
    this.guest = guest!;
    this.channels = others.slice(0, settings.channels);
    this.vcpuWorkers = others.slice(settings.channels);
    await this.guest.init({
      role: 'guest',
      ram: this.ram,
      ramBytes: settings.ramBytes,
      destination: this.destination,
      dirtyLog: this.dirtyLog,
      control: this.control,
      zeroShare: settings.zeroShare,
      dirtyPagesPerSecond: settings.dirtyBytesPerSecond / PAGE_BYTES,
      seed: settings.seed,
      lastWrites: this.lastWrites,
    });
    this.guestRunning = true;
  }

  /**
   * Set-up: counters zeroed (QEMU's `migrate_init`), the limit set, the first window opened, the
   * channels connected (their handshakes), every page marked dirty and a first bitmap sync.
   */
  async setUp(): Promise<void> {
    const { settings, stats } = this;
    stats.reset();
    stats.migrationRateSet(settings.bandwidthBytesPerSecond);
    this.startMs = Math.floor(performance.now());
    await lockAsync(this.control);
    stats.migrationRateReset();
    this.window = new MigrationWindow(stats, { nowMs: 0, downtimeLimitMs: settings.downtimeLimitMs });
    unlock(this.control);
    this.ticker = setInterval(() => void this.tick(), BUFFER_DELAY / 2);
    this.progress();

    await this.sendMain(MAIN_STREAM.streamHeaderBytes, false);
    const channelInit = {
      role: 'channel',
      stats: stats.handle,
      backend: settings.backend,
      ram: this.ram,
      ramBytes: settings.ramBytes,
      destination: this.destination,
      received: this.received,
      control: this.control,
    } as const;
    await Promise.all(this.channels.map((channel) => channel.init(channelInit)));
    // Every page is dirty at the start; the first sync clears what the guest logged so far.
    this.bitmap.markAll();
    this.rateStartMs = this.clock();
    await this.sync();
    await this.sendMain(MAIN_STREAM.ramSetupBytes, true);
    this.setupTimeMs = this.clock();
    this.status = 'active';
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
   * With `postcopy`, a pass that did not converge switches to postcopy once `postcopyAfter`
   * passes are done, or when it is the last of `maxPasses` (pre-copy cannot converge): as QEMU
   * does after `migrate-start-postcopy`, a migration that converges first completes in pre-copy.
   * @returns `converged`, `postcopy`, or `failed` when `maxPasses` passes did not converge
   */
  async iterate(): Promise<'converged' | 'postcopy' | 'failed'> {
    const { maxPasses, postcopy, postcopyAfter } = this.settings;
    for (;;) {
      this.pass++;
      this.progress();
      await this.sendPass();
      this.switchoverThresholdBytes = this.thresholdBytes;
      if (this.switchoverThresholdBytes === 0n) return 'converged';
      await this.sync();
      if (BigInt(this.bitmap.count * PAGE_BYTES) <= this.switchoverThresholdBytes) return 'converged';
      if (postcopy && (this.pass >= postcopyAfter || this.pass >= maxPasses)) return 'postcopy';
      if (this.pass >= maxPasses) return 'failed';
    }
  }

  /**
   * The postcopy switch (QEMU's `postcopy_start`): the guest stops, the limit is lifted (QEMU's
   * `max-postcopy-bandwidth`, unlimited by default), a last bitmap sync; every page still dirty is
   * discarded on the destination (missing) and left to send; the channels switch to the postcopy
   * stream; the destination's vCPUs start, each first touching a page the guest wrote last (a
   * fault, whose request is on the return path before the vCPU is ready). The downtime ends when
   * every vCPU runs.
   * @returns when the downtime started (ms on the migration's clock)
   */
  async startPostcopy(): Promise<number> {
    const shared = this.postcopyShared!;
    const { settings } = this;
    await this.stopGuest();
    const downtimeStartMs = this.clock();
    await lockAsync(this.control);
    this.stats.migrationRateSet(0);
    bump(this.control, SLOT.windowEpoch);
    unlock(this.control);
    await this.sync();
    this.postcopyCounts = { passesBeforeSwitch: this.pass, missingPages: this.bitmap.count, requestsTaken: 0, requestedPagesSent: 0, normal: 0, zero: 0 };
    this.bitmap.copyTo(shared.toSend, (page) => Atomics.store(shared.state, page, PAGE.MISSING));
    this.status = 'postcopy-active';
    const postcopyStats = this.destinationStats!.handle;
    await Promise.all(this.channels.map((channel) => channel.switchToPostcopy({ type: 'postcopy', shared, postcopyStats })));
    const written = Atomics.load(this.lastWrites, 0);
    const recorded = Math.min(written, LAST_WRITES);
    await Promise.all(
      this.vcpuWorkers.map((worker, vcpu) =>
        worker.init({
          role: 'vcpu',
          vcpu,
          postcopyStats,
          backend: settings.backend,
          shared,
          destination: this.destination,
          control: this.control,
          // vCPU i goes on at the i-th most recent write (the most recent ones again when fewer were made).
          firstPage: recorded === 0 ? -1 : Atomics.load(this.lastWrites, 1 + ((((written - 1 - (vcpu % recorded)) % LAST_WRITES) + LAST_WRITES) % LAST_WRITES)),
          accessesPerSecond: settings.dirtyBytesPerSecond / PAGE_BYTES / settings.vcpus,
          seed: settings.seed,
        }),
      ),
    );
    this.postcopyDowntimeMs = this.clock() - downtimeStartMs;
    this.progress();
    return downtimeStartMs;
  }

  /**
   * The postcopy stage: the background stream, every page left, unlimited, with requested pages
   * first (the channels take requests before each page); then the vCPUs stop, the requests still
   * on the return path reach the source (their pages were sent already), and the stream ends.
   */
  async postcopy(): Promise<void> {
    const shared = this.postcopyShared!;
    this.pass++;
    this.progress();
    await this.sendPass(false);
    stopVcpus(shared);
    for (;;) {
      const stopped = Atomics.load(shared.words, STOPPED_SLOT);
      if (stopped === this.vcpuWorkers.length) break;
      await waitAsyncWhile(shared.words, STOPPED_SLOT, stopped, BUFFER_DELAY);
      if (this.signals.failure) throw this.signals.failure;
    }
    for (let page = takeRequest(shared); page >= 0; page = takeRequest(shared)) {
      this.stats.postcopyRequests.add(1);
      this.postcopyCounts!.requestsTaken++;
    }
    await this.sendMain(MAIN_STREAM.postcopyEndBytes, true);
    await this.sendMain(MAIN_STREAM.streamEndBytes, false);
  }

  /**
   * Switch-over: the guest stops, the limit is lifted, a last bitmap sync.
   * @returns when the downtime started (ms on the migration's clock)
   */
  async switchOver(): Promise<number> {
    await this.stopGuest();
    const downtimeStartMs = this.clock();
    this.status = 'device';
    await lockAsync(this.control);
    this.stats.migrationRateSet(0);
    bump(this.control, SLOT.windowEpoch);
    unlock(this.control);
    await this.sync();
    return downtimeStartMs;
  }

  /** Stop-and-copy: the last pass, unlimited, and the end of the stream. */
  async stopAndCopy(): Promise<void> {
    this.pass++;
    this.progress();
    await this.sendPass();
    await this.sendMain(MAIN_STREAM.streamEndBytes, false);
  }

  /** Completion: the final figures, then the destination compared with the source. */
  async complete(downtimeStartMs: number): Promise<MigrationResult> {
    const { settings, stats } = this;
    const endMs = this.clock();
    const downtimeMs = this.postcopyDowntimeMs ?? endMs - downtimeStartMs;
    const totalTimeMs = endMs;
    this.status = 'completed';
    this.stopTicker();
    // QEMU's migration_calculate_complete: the average over the whole transfer.
    this.mbps = completedMbps(stats.migrationTransferredBytes(), totalTimeMs, this.setupTimeMs) ?? this.mbps;
    const info = queryMigrate(stats, {
      status: 'completed',
      setupTimeMs: this.setupTimeMs,
      totalTimeMs,
      downtimeMs,
      ramTotalBytes: settings.ramBytes,
      remainingBytes: 0,
      pageSize: PAGE_BYTES,
      mbps: this.mbps,
      pagesPerSecond: this.pagesPerSecond,
      ...(this.destinationStats && this.postcopyCounts ? { postcopyBlocktime: this.destinationStats } : {}),
    });
    this.completedInfo = info;
    this.progress();

    const firstMismatchPage = await this.verify();
    const verified = firstMismatchPage < 0;
    const message = verified
      ? `migration completed; destination equals source: ${settings.ramBytes} bytes (${this.pages} page${this.pages === 1 ? '' : 's'}) compared byte for byte`
      : `migration completed, but the destination differs from the source at page ${firstMismatchPage}`;
    return this.result('completed', message, info, verified, firstMismatchPage, totalTimeMs, downtimeMs);
  }

  /** The `query-migrate` of a migration that is still under way (set-up, a pass, stop-and-copy). */
  infoNow(totalTimeMs: number): MigrationInfo {
    return queryMigrate(this.stats, {
      status: this.status === 'cancelled' || this.status === 'completed' ? 'active' : this.status,
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

  /** Ends a migration that did not converge: its figures as of the last sync, status active. */
  giveUp(): MigrationResult {
    const totalTimeMs = this.clock();
    const info = this.infoNow(totalTimeMs);
    this.status = 'cancelled';
    this.stopTicker();
    this.progress();
    const s = this.settings;
    const limit = s.bandwidthBytesPerSecond === 0n ? 'unlimited bandwidth' : `a bandwidth of ${sizeToStr(s.bandwidthBytesPerSecond)}/s`;
    const message =
      `migration did not converge in ${this.pass} passes (the most allowed): ${sizeToStr(this.bitmap.count * PAGE_BYTES)} ` +
      `was dirty after the last one, more than the ${sizeToStr(this.switchoverThresholdBytes)} that can be sent within the ` +
      `${s.downtimeLimitMs} ms downtime limit; the guest dirties ${sizeToStr(s.dirtyBytesPerSecond)}/s against ${limit}. ` +
      'Migration cancelled';
    return this.result('cancelled', message, info, undefined, -1, totalTimeMs, undefined);
  }

  /**
   * Ends a migration that the caller's signal cancelled: the figures of the stage it was in (the
   * completed migration's, when it stopped the verification).
   */
  cancelled(): MigrationResult {
    const stage = this.status;
    const started = this.startMs !== 0;
    const totalTimeMs = started ? this.clock() : 0;
    const info = this.completedInfo ?? (started ? this.infoNow(totalTimeMs) : queryMigrate(this.stats, { status: 'setup' }));
    const passes = stage === 'device' || stage === 'postcopy-active' || stage === 'completed' ? this.pass - 1 : this.pass;
    this.status = 'cancelled';
    this.stopTicker();
    this.progress();
    const left = `${sizeToStr(this.bitmap.count * PAGE_BYTES)} of ${sizeToStr(this.settings.ramBytes)} still to send`;
    const where =
      stage === 'completed'
        ? 'during the verification, after the migration completed'
        : stage === 'device'
          ? `during stop-and-copy: ${left}`
          : stage === 'postcopy-active'
            ? `during postcopy: ${left}`
          : stage === 'active'
            ? `during pass ${this.pass}: ${left}`
            : 'during set-up, before any page was sent';
    const message = `migration cancelled (${this.cancellation!.message}) ${where}; the figures are those of that moment`;
    const result = this.result('cancelled', message, info, undefined, -1, totalTimeMs, undefined);
    return { ...result, passes };
  }

  result(
    status: 'completed' | 'cancelled',
    message: string,
    info: MigrationInfo,
    verified: boolean | undefined,
    firstMismatchPage: number,
    totalTimeMs: number,
    downtimeMs: number | undefined,
  ): MigrationResult {
    const ready = this.channels[0]?.ready;
    return {
      status,
      message,
      settings: this.settings,
      info,
      stats: this.stats,
      passes: status === 'completed' ? this.pass - 1 : this.pass,
      dataPackets: this.dataPackets,
      syncPackets: this.syncPackets,
      pagesSent: this.pagesSent,
      windows: this.windows,
      thresholdBytes: this.switchoverThresholdBytes,
      verified,
      firstMismatchPage,
      scan: ready?.type === 'ready' ? (ready.scan ?? '') : '',
      setupTimeMs: this.setupTimeMs,
      totalTimeMs,
      downtimeMs,
      postcopy: this.postcopyResult(),
      destinationStats: this.destinationStats,
    };
  }

  /** The counts of the postcopy stage, once switched. */
  postcopyResult(): PostcopyResult | undefined {
    const counts = this.postcopyCounts;
    const shared = this.postcopyShared;
    if (!counts || !shared) return undefined;
    const sum = (array: Int32Array): number => array.reduce((a, b) => a + b, 0);
    return {
      vcpus: shared.vcpus,
      passesBeforeSwitch: counts.passesBeforeSwitch,
      missingPages: counts.missingPages,
      requests: sum(shared.requests),
      requestsTaken: counts.requestsTaken,
      requestedPagesSent: counts.requestedPagesSent,
      normalPagesAfterSwitch: counts.normal,
      zeroPagesAfterSwitch: counts.zero,
      remoteFaults: sum(shared.faults),
      pageRequests: shared.requests.slice(),
      pageFaults: shared.faults.slice(),
    };
  }

  /**
   * Counts bytes of the main stream once the window allows it (under the send lock, like the
   * channels). `ram`: RAM-section bytes, which also go to `precopyBytes` or `downtimeBytes`.
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
   * One pass: every page of the migration bitmap, in packets, then a sync packet per channel. A
   * request carries up to {@link PACKETS_PER_REQUEST} packets, fewer when the pass has fewer left
   * than that for each channel, so every channel gets a share.
   */
  async sendPass(multifd = true): Promise<void> {
    for (;;) {
      const packetsLeft = Math.ceil(this.bitmap.count / PAGES_PER_PACKET);
      const packets = Math.max(1, Math.min(PACKETS_PER_REQUEST, Math.floor(packetsLeft / this.channels.length)));
      const pages = this.bitmap.take(packets * PAGES_PER_PACKET);
      if (pages.length === 0) break;
      await this.dispatch(pages, multifd);
    }
    // After the postcopy switch pages travel on the main stream: no multifd sync, no pass end.
    if (multifd) {
      for (const channel of this.channels) channel.request({ type: 'sync' });
      this.syncPackets += this.channels.length;
    }
    await this.signals.until(() => this.channels.every((c) => c.outstanding === 0));
    if (multifd) await this.sendMain(MAIN_STREAM.passEndBytes, true);
  }

  /** Hands pages, as packets, to the least busy channel, waiting while every queue is full. */
  async dispatch(pages: Uint32Array, multifd: boolean): Promise<void> {
    let target: SimWorker | undefined;
    await this.signals.until(() => {
      target = this.channels.reduce((a, b) => (b.outstanding < a.outstanding ? b : a));
      return target.outstanding < CHANNEL_QUEUE_DEPTH;
    });
    // Counted first: the request transfers the pages' buffer away.
    if (multifd) this.dataPackets += Math.ceil(pages.length / PAGES_PER_PACKET);
    target!.request({ type: 'packets', pages });
  }

  /**
   * A dirty-bitmap sync: the guest catches up on its writes, the log is moved into the migration
   * bitmap, and `dirtySyncCount`, `dirtyBytesLastSync` and (at most once a second)
   * `dirtyPagesRate` are updated as in QEMU's `migration_bitmap_sync`.
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
  }

  /** Stops the guest and waits until its last write is logged. */
  async stopGuest(): Promise<void> {
    const { control } = this;
    Atomics.store(control, SLOT.guestStop, 1);
    bump(control, SLOT.guestBell);
    while (Atomics.load(control, SLOT.guestStopped) !== 1) {
      await waitAsyncWhile(control, SLOT.guestStopped, 0, BUFFER_DELAY);
      if (this.signals.failure) throw this.signals.failure;
    }
    this.guestRunning = false;
  }

  /** Closes the rate-limit window when `BUFFER_DELAY` has passed, and reports progress. */
  async tick(): Promise<void> {
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

  progress(): void {
    if (!this.onProgress || !this.stats) return;
    this.onProgress({
      status: this.status,
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

  /** Compares destination and source, split across the stopped guest's worker and the channels. */
  async verify(): Promise<number> {
    const answers = await Promise.all(
      shares(this.pages, [this.guest, ...this.channels]).map(({ worker, firstPage, pageCount }) => worker.verify(firstPage, pageCount)),
    );
    return answers.find((page) => page >= 0) ?? -1;
  }

  /** Stops every worker and the ticker; the counters stay readable. */
  async shutDown(): Promise<void> {
    this.stopTicker();
    Atomics.store(this.control, SLOT.abort, 1);
    if (this.postcopyShared) stopVcpus(this.postcopyShared);
    bump(this.control, SLOT.windowEpoch);
    bump(this.control, SLOT.guestBell);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Splits pages `[0, pages)` into one contiguous share per worker, in order (the last ones may be empty). */
function shares(pages: number, workers: readonly SimWorker[]): { worker: SimWorker; firstPage: number; pageCount: number }[] {
  const share = Math.ceil(pages / workers.length);
  return workers.map((worker, i) => {
    const firstPage = Math.min(i * share, pages);
    return { worker, firstPage, pageCount: Math.min(share, pages - firstPage) };
  });
}
