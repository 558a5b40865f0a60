/**
 * The simulator's public types: `simulateMigration`'s options, progress reports and result.
 *
 * Declarations only, kept apart from the migration thread that produces them: `migration.ts`
 * re-exports them next to `simulateMigration` (where the command line imports them from), and
 * `index.ts` exports them as part of `migration-stats/simulate`.
 * @packageDocumentation
 */
import type { PostcopyStatsDefinition } from '../qemu/postcopy.js';
import type { MigrationInfo, MigrationStatus as QmpStatus } from '../qemu/query-migrate.js';
import type { MigrationStats } from '../stats.js';
import type { SimulationSettings } from './settings.js';

/**
 * QEMU's migration states that the simulator passes through: `none` before `migrate`; `setup`;
 * `active` (stop-and-copy included); `pre-switchover` and `device` only with the
 * `pause-before-switchover` capability; `postcopy-active`; `completed`; `cancelling` then
 * `cancelled` after a cancel; `failed` when a worker failed.
 */
export type SimulationStatus = Extract<
  QmpStatus,
  'none' | 'setup' | 'active' | 'pre-switchover' | 'device' | 'postcopy-active' | 'completed' | 'cancelling' | 'cancelled' | 'failed'
>;

/** The destination's postcopy statistics (`definePostcopyStats(vcpus)`), as the simulator's result gives them. */
export type DestinationStats = Awaited<ReturnType<PostcopyStatsDefinition['create']>>;

/** What happened after a postcopy switch: the counts the tests check exactly. */
export interface PostcopyResult {
  /** The destination's vCPUs (one worker each). */
  readonly vcpus: number;
  /** Pre-copy passes before the switch. */
  readonly passesBeforeSwitch: number;
  /** Pages missing on the destination at the switch (dirty on the source when the guest stopped). */
  readonly missingPages: number;
  /** Page requests the vCPUs sent on the return path (at most one per page). */
  readonly requests: number;
  /** Requests the source took off the return path (`postcopyRequests`). */
  readonly requestsTaken: number;
  /** Pages the source sent because of a request (the others of those requests had been sent already). */
  readonly requestedPagesSent: number;
  /** Pages sent after the switch (background and requested), normal and zero. */
  readonly normalPagesAfterSwitch: number;
  readonly zeroPagesAfterSwitch: number;
  /** vCPU faults on pages that had not arrived (each counted in the latency distribution). */
  readonly remoteFaults: number;
  /** Requests sent for each page (0 or 1). */
  readonly pageRequests: Int32Array;
  /** vCPU faults on each page. */
  readonly pageFaults: Int32Array;
}

/** What the migration looks like right now; passed to `onProgress` at least every `BUFFER_DELAY`. */
export interface MigrationProgress {
  /** QEMU's status (never `none`: progress starts with the migration). */
  readonly status: SimulationStatus;
  /** Whether stop-and-copy is under way: the guest stopped, the last pass sent (QEMU's status stays `active`). */
  readonly stopAndCopy: boolean;
  /** The pass under way: QEMU's `dirty-sync-count` (1 = the bulk pass, after set-up's sync), 0 before the first sync. */
  readonly pass: number;
  /** Milliseconds since the migration started. */
  readonly elapsedMs: number;
  /** `migrationTransferredBytes()`. */
  readonly transferredBytes: bigint;
  /** Dirty bytes not yet sent (QEMU's `remaining`). */
  readonly remainingBytes: number;
  readonly ramBytes: number;
  /** Throughput of the last closed window, megabits/s. */
  readonly mbps: number;
  /** `dirtyPagesRate`: pages dirtied per second at the last rate update. */
  readonly dirtyPagesRate: bigint;
  /** Expected downtime, ms: the downtime limit until a window re-estimates it, as QEMU's. */
  readonly expectedDowntimeMs: number;
  /** The counters, readable live. */
  readonly stats: MigrationStats;
}

/** One closed rate-limit window. */
export interface WindowRecord {
  /** The limit in force: bytes per window, 0 = unlimited. */
  readonly budgetBytes: bigint;
  /** Bytes sent in the window. */
  readonly transferredBytes: bigint;
  readonly timeSpentMs: number;
}

/** How a simulated migration ended. */
export interface MigrationResult {
  /** `completed`; or `cancelled` when pass `maxPasses` ended without converging, or `signal` aborted it. */
  readonly status: 'completed' | 'cancelled';
  /**
   * When cancelled while migrating: the `query-migrate` of the moment of the cancel (status
   * `cancelling`, the figures then), since QEMU's final reply has the status alone. Otherwise `undefined`.
   */
  readonly cancelledInfo: MigrationInfo | undefined;
  /** One line saying what happened. */
  readonly message: string;
  readonly settings: SimulationSettings;
  /**
   * The last `query-migrate`: of the completed migration; when cancelled, QEMU's
   * `{ status: 'cancelled' }` (the figures are in `cancelledInfo`), or the completed reply when
   * `signal` stopped the verification.
   */
  readonly info: MigrationInfo;
  /** The counters; their final values stay readable. */
  readonly stats: MigrationStats;
  /**
   * How many passes over dirty memory were made while the guest ran (the stop-and-copy pass not
   * included); progress's pass numbers are QEMU's `dirty-sync-count` instead.
   */
  readonly passes: number;
  /** Multifd packets that carried pages. */
  readonly dataPackets: number;
  /** Multifd sync packets (one per channel per pass, the stop-and-copy pass included). */
  readonly syncPackets: number;
  /** Pages the channels sent (each one counted as normal or zero). */
  readonly pagesSent: number;
  /** Every closed rate-limit window, in order. */
  readonly windows: readonly WindowRecord[];
  /**
   * The switch-over threshold (QEMU's `threshold_size`) at the last convergence check: bytes that
   * fit the downtime limit at the last closed window's bandwidth, 0 before any window closed. At 0
   * the migration switches over at the end of the pass without syncing the dirty bitmap, as QEMU does.
   */
  readonly thresholdBytes: bigint;
  /** Whether the destination equals the source byte for byte; `undefined` when cancelled. */
  readonly verified: boolean | undefined;
  /** First page that differs, or −1. */
  readonly firstMismatchPage: number;
  /** The zero-page scan the channels used. */
  readonly scan: string;
  readonly setupTimeMs: number;
  readonly totalTimeMs: number;
  /** Time the guest was stopped, ms (completed migrations): with postcopy, until the destination's vCPUs ran. */
  readonly downtimeMs: number | undefined;
  /** With `postcopy`, once switched: the counts of the postcopy stage; otherwise `undefined`. */
  readonly postcopy: PostcopyResult | undefined;
  /** With `postcopy`: the destination's blocktime statistics, which every exporter takes; otherwise `undefined`. */
  readonly destinationStats: DestinationStats | undefined;
}

/** The settings as a caller gives them: each may be left out, and a bigint one may be a safe-integer number. */
type SettingsInput = { [K in keyof SimulationSettings]?: SimulationSettings[K] extends bigint ? bigint | number : SimulationSettings[K] };

/** Settings plus what only a library caller can pass. */
export interface SimulationOptions extends SettingsInput {
  /** Called with the live figures at least every `BUFFER_DELAY` ms, and at every stage change. */
  onProgress?: (progress: MigrationProgress) => void;
  /**
   * URL of the simulator's worker module (`dist/simulate/worker.js`, or a bundled copy of it); a
   * relative one is resolved against the default. Default: `simulate-worker.js` next to the
   * package's Node build (`dist/node/`) and next to the browser build's `simulate.js`, the one next
   * to this module for the unbundled ES modules of `dist/`.
   */
  workerUrl?: URL | string;
  /**
   * Cancels the migration when aborted: the workers stop within about `BUFFER_DELAY` ms and the
   * promise resolves with status `cancelled` (QEMU's `migrate_cancel`), the figures of that moment
   * in `cancelledInfo` and a message naming the signal's reason (a string reason, such as `'SIGINT'`, is quoted as is).
   */
  signal?: AbortSignal;
}
