/**
 * `watchQemu`'s options, progress, outcome and error, and the check of its options.
 * @packageDocumentation
 */
import { describe, entry } from '../errors.js';
import { readOptions, type OptionSpec } from '../options.js';
import { MigrationStats } from '../stats.js';
import type { MigrationStatus } from './query-migrate.js';
import type { QmpObject, QmpSession, QmpTimestamp } from './qmp-wire.js';
import type { QemuVersion } from './versions.js';
import type { WatchPass } from './watch-mirror.js';

/** Opens a QMP session (greeting read, capabilities negotiated), as `connectQmp` does. */
export type QmpConnect = (address: string, options: { signal?: AbortSignal }) => Promise<QmpSession>;

/** Options of `watchQemu`. */
export interface WatchQemuOptions {
  /** The monitor to connect to: `unix:PATH` or `tcp:HOST:PORT` (QEMU's `-qmp` forms). */
  qmp?: string;
  /** An open session to use instead (capabilities negotiated); it is left open at the end. */
  session?: QmpSession;
  /** Opens the session for `qmp` (default: the package's QMP client, `connectQmp`). */
  connect?: QmpConnect;
  /** Milliseconds between two `query-migrate` polls, 1 to 2^31 − 1 (default 100). */
  interval?: number;
  /** Where QEMU's figures are mirrored (default: a new `MigrationStats`); reset when the migration starts. */
  stats?: MigrationStats;
  /** Most passes kept in the history, 1 to 2^31 − 1 (default 10000): the oldest are dropped (and counted). */
  maxPasses?: number;
  /**
   * What to do when the first `query-migrate` shows a migration that has already ended: `'wait'`
   * (default) takes it for the previous one and waits for the next; `'report'` returns it.
   */
  ended?: 'wait' | 'report';
  /** Turn the `events` capability on when it is off (default true). Off: the watch polls only. */
  enableEvents?: boolean;
  /** Also ask `info migrate` (HMP, through `human-monitor-command`) at the end: the outcome's `infoMigrate`. */
  infoMigrate?: boolean;
  /** Stops the watch (also while connecting): it rejects with a `QemuWatchError` (`reason: 'aborted'`). */
  signal?: AbortSignal;
  /** Called once connected, with the events capability settled, before the first `query-migrate`. */
  onReady?: (ready: WatchReady) => void;
  /** Called with each `query-migrate` reply once the migration is followed. */
  onProgress?: (progress: WatchProgress) => void;
  /** Called with each pass as it enters the history. */
  onPass?: (pass: WatchPass) => void;
}

/** The watch, connected. */
export interface WatchReady {
  readonly version: QemuVersion;
  readonly events: WatchOutcome['events'];
  /** QEMU's answer when it refused to turn `events` on. */
  readonly eventsRefused?: string;
}

/** What the migration looks like at one reply. */
export interface WatchProgress {
  /** The reply's status (`'unknown'` for one this library does not know). */
  readonly status: MigrationStatus | 'unknown';
  /** The `query-migrate` return, as received. */
  readonly reply: QmpObject;
  /** Passes seen so far. */
  readonly passes: number;
  /** From the `STOP` and `RESUME` events: false after `STOP`; undefined before either. */
  readonly guestRunning: boolean | undefined;
  /** The mirror, already set from this reply. */
  readonly stats: MigrationStats;
  readonly version: QemuVersion;
}

/** How a watched migration ended. */
export interface WatchOutcome {
  readonly status: 'completed' | 'failed' | 'cancelled';
  /** 0 when it completed, 1 when it failed or was cancelled. */
  readonly exitCode: 0 | 1;
  /** QEMU's final `query-migrate` return, exactly as received (integers as bigint; print with `formatQmp(last, { type: null })`). */
  readonly last: QmpObject;
  /**
   * The last reply before the final status (a `cancelled` or `failed` reply holds the status only,
   * this one the figures reached); undefined when none came.
   */
  readonly lastRunning: QmpObject | undefined;
  /** The history, oldest first (at most `maxPasses`). */
  readonly passes: readonly WatchPass[];
  /** Passes dropped from the front of the history. */
  readonly passesDropped: number;
  /** From the greeting. */
  readonly version: QemuVersion;
  /** The `events` capability: `'on'` already, `'turned-on'` by the watch, or `'off'` (polls only). */
  readonly events: 'on' | 'turned-on' | 'off';
  /** QEMU's answer when it refused to turn `events` on (a migration was already running). */
  readonly eventsRefused?: string;
  /** The final reply's `error-desc`. */
  readonly errorDesc?: string;
  /** Timestamp of the `MIGRATION` event of `setup`, when seen. */
  readonly startedAt?: QmpTimestamp;
  /** Timestamp of the `MIGRATION` event of the final status, when seen. */
  readonly endedAt?: QmpTimestamp;
  /** Timestamps of the last `STOP` and `RESUME` events seen. */
  readonly stoppedAt?: QmpTimestamp;
  readonly resumedAt?: QmpTimestamp;
  /** `info migrate` as QEMU sent it (`\r\n` line ends), with `options.infoMigrate`. */
  readonly infoMigrate?: string;
  /** The mirror, holding the final figures. */
  readonly stats: MigrationStats;
}

/** Why a watch ended without an outcome. */
export class QemuWatchError extends Error {
  /** `'closed'`: QEMU went away; `'aborted'`: the signal; `'protocol'`: a reply QMP does not send. */
  readonly reason: 'closed' | 'aborted' | 'protocol';
  /**
   * @param reason - what ended it
   * @param message - one line
   * @param cause - the signal's reason or the connection's error
   */
  constructor(reason: QemuWatchError['reason'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'QemuWatchError';
    this.reason = reason;
  }
}

const SPEC: OptionSpec<WatchQemuOptions> = {
  names: {
    qmp: true,
    session: true,
    connect: true,
    interval: true,
    stats: true,
    maxPasses: true,
    ended: true,
    enableEvents: true,
    infoMigrate: true,
    signal: true,
    onReady: true,
    onProgress: true,
    onPass: true,
  },
  example: "{ qmp: 'unix:/run/vm1.qmp' }",
  required: true,
};

const MAX_TIMER = 2 ** 31 - 1;

function whole(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_TIMER) return value;
  const message = `watchQemu: options.${name} must be a whole number from 1 to 2^31 − 1; received ${describe(value)}`;
  throw typeof value === 'number' ? new RangeError(message) : new TypeError(message);
}

/**
 * Reads and checks `watchQemu`'s options once.
 * @throws TypeError or RangeError naming the option, the value and what is allowed
 */
export function checkWatchOptions(options: WatchQemuOptions) {
  const given = entry('watchQemu', () => readOptions(options, SPEC));
  const { qmp, session, connect, stats, ended = 'wait', enableEvents = true, infoMigrate = false, signal, onReady, onProgress, onPass } = given;
  const fail = (name: string, value: unknown, allowed: string): never => {
    throw new TypeError(`watchQemu: options.${name} must be ${allowed}; received ${describe(value)}`);
  };
  if ((qmp === undefined) === (session === undefined)) fail('qmp', qmp, "given, or options.session, but not both (such as 'unix:/run/vm1.qmp')");
  if (qmp !== undefined && typeof qmp !== 'string') fail('qmp', qmp, 'a string unix:PATH or tcp:HOST:PORT');
  if (session !== undefined && (session === null || typeof session !== 'object' || typeof session.execute !== 'function' || typeof session.onEvent !== 'function')) {
    fail('session', session, 'an open QmpSession');
  }
  if (connect !== undefined && typeof connect !== 'function') fail('connect', connect, 'a function (address, { signal }) => Promise<QmpSession>');
  if (stats !== undefined && !MigrationStats.isMigrationStats(stats)) fail('stats', stats, 'a MigrationStats');
  if (ended !== 'wait' && ended !== 'report') fail('ended', ended, "'wait' or 'report'");
  if (typeof enableEvents !== 'boolean') fail('enableEvents', enableEvents, 'true or false');
  if (typeof infoMigrate !== 'boolean') fail('infoMigrate', infoMigrate, 'true or false');
  if (signal !== undefined && !(signal instanceof AbortSignal)) fail('signal', signal, 'an AbortSignal');
  if (onReady !== undefined && typeof onReady !== 'function') fail('onReady', onReady, 'a function');
  if (onProgress !== undefined && typeof onProgress !== 'function') fail('onProgress', onProgress, 'a function');
  if (onPass !== undefined && typeof onPass !== 'function') fail('onPass', onPass, 'a function');
  return Object.freeze({
    qmp,
    session,
    connect,
    stats,
    ended,
    enableEvents,
    infoMigrate,
    signal,
    onReady,
    onProgress,
    onPass,
    interval: whole('interval', given.interval, 100),
    maxPasses: whole('maxPasses', given.maxPasses, 10_000),
  });
}
