/**
 * `watchQemu`: follows one live migration of a real QEMU over its QMP monitor, mirrors QEMU's
 * figures into a `MigrationStats` and keeps a per-pass history.
 *
 * How it follows: the `events` capability on (so QEMU sends `MIGRATION` and `MIGRATION_PASS`), one
 * `query-migrate` at once, then one every `interval` ms, and one more at once after each
 * `MIGRATION_PASS` and `MIGRATION` event. A migration ends when a reply has a final status
 * (`completed`, `failed`, `cancelled`); the `MIGRATION` event of that status asks for that reply at
 * once, so a migration that completes between two polls is still followed to its final figures.
 * Only one query is in flight at a time. The watcher never changes the migration: the `events`
 * capability is the one setting it may turn on, and it leaves it on.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { MigrationStats } from '../stats.js';
import { connectQmp } from './qmp-client.js';
import { formatQmp, type QmpValue } from './qmp-json.js';
import { parseQmpAddress, QmpError, qmpTimestamp, type QmpEvent, type QmpObject, type QmpSession, type QmpTimestamp } from './qmp-wire.js';
import { qemuVersion, type QemuVersion } from './versions.js';
import { eventsCapability, mirrorRateLimit } from './watch-qmp.js';
import { bigintOf, mirrorReply, objectOf, passFigures, ramOf, statusOf, TERMINAL_STATUSES, type WatchPass } from './watch-mirror.js';
import { checkWatchOptions, QemuWatchError, type WatchOutcome, type WatchProgress, type WatchQemuOptions } from './watch-types.js';

/** A pass announced by an event whose figures wait for the next reply. */
interface PendingPass {
  readonly pass: number;
  readonly time: QmpTimestamp;
  /** Queries sent when the event arrived: the first reply to a later query fills it. */
  readonly after: number;
}

/** How many `completed` replies with `total-time` 0 are asked again (the first at once, the others an interval apart). */
const MAX_PREMATURE = 50;

/** One watch over one session. */
class Watch {
  readonly version: QemuVersion;
  phase: 'waiting' | 'following' = 'waiting';
  /** `query-migrate`s sent so far (the one in flight included). */
  sent = 0;
  /** Queries sent when the migration's start was seen: a final reply to one of them is the previous migration's. */
  startQuery = 0;
  events: WatchOutcome['events'] = 'off';
  eventsRefused: string | undefined;
  readonly pending: PendingPass[] = [];
  readonly passes: WatchPass[] = [];
  dropped = 0;
  lastSyncCount = 0n;
  lastRunning: QmpObject | undefined;
  /** A `MIGRATION` status newer than the last reply, and a `SHUTDOWN` event's reason: for messages. */
  eventStatus: string | undefined;
  shutdown: string | undefined;
  stale: string | undefined;
  needParameters = false;
  /** `completed` replies seen before QEMU filled the final times. */
  premature = 0;
  guestRunning: boolean | undefined;
  /** Timestamps of the last STOP and RESUME events, and of the migration's first and final MIGRATION events. */
  stoppedAt?: QmpTimestamp; resumedAt?: QmpTimestamp; startedAt?: QmpTimestamp; endedAt?: QmpTimestamp;
  /** Set by an event or the end of the connection: the next wait returns at once. */
  #nudged = false;
  #wake: (() => void) | undefined;
  #failure: Error | undefined;
  readonly #failed: Promise<never>;
  #fail!: (error: Error) => void;

  constructor(readonly session: QmpSession, readonly options: ReturnType<typeof checkWatchOptions>, readonly stats: MigrationStats) {
    this.version = qemuVersion(session.greeting);
    this.#failed = new Promise<never>((_, reject) => {
      this.#fail = (error) => {
        if (this.#failure) return;
        this.#failure = error;
        reject(error);
        this.nudge();
      };
    });
    this.#failed.catch(() => {});
  }

  /** Where the watch is, for messages. */
  where(): string {
    if (this.phase === 'waiting') return 'while waiting for a migration to start';
    const reply = this.lastRunning;
    const pass = reply ? bigintOf(ramOf(reply)?.['dirty-sync-count']) : undefined;
    const status = this.eventStatus ?? (reply ? statusOf(reply) : 'setup');
    const shutdown = this.shutdown === undefined ? '' : `, after QEMU's SHUTDOWN event (${this.shutdown})`;
    return `during the migration (status ${status}${pass !== undefined ? `, pass ${pass}` : ''})${shutdown}`;
  }

  nudge(): void {
    this.#nudged = true;
    this.#wake?.();
  }

  /** Runs a command, giving up when the watch has failed; a command lost with the connection is the connection's end. */
  async exec(command: string, args?: QmpObject): Promise<QmpValue> {
    if (this.#failure) throw this.#failure;
    try {
      return await Promise.race([this.session.execute(command, args), this.#failed]);
    } catch (error) {
      if (error instanceof QmpError || this.#failure) throw this.#failure ?? error;
      // The connection's end may be reported after the commands it lost: give it one turn.
      await Promise.race([this.session.closed, new Promise((resolve) => setTimeout(resolve, 0))]);
      await Promise.resolve();
      throw this.#failure ?? error;
    }
  }

  /** Waits for the interval or a nudge. */
  async pause(): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#nudged) {
      this.#nudged = false;
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, this.options.interval);
      }),
      this.#failed,
    ]).finally(() => {
      clearTimeout(timer);
      this.#wake = undefined;
    });
    this.#nudged = false;
  }

  /** A migration has started (or was found running): the mirror starts from zero, as QEMU's counters do. */
  begin(time?: QmpTimestamp): void {
    if (this.phase === 'following') return;
    this.phase = 'following';
    this.startQuery = this.sent;
    this.startedAt = time;
    this.needParameters = true;
    this.stats.reset();
  }

  onEvent(event: QmpEvent): void {
    const data = objectOf(event.data);
    switch (event.event) {
      case 'MIGRATION': {
        const status = data?.status;
        if (typeof status !== 'string') return;
        this.eventStatus = status;
        if (this.phase === 'waiting' && !TERMINAL_STATUSES.has(status)) this.begin(event.timestamp);
        else if (this.phase === 'following' && TERMINAL_STATUSES.has(status)) this.endedAt = event.timestamp;
        this.nudge();
        return;
      }
      case 'MIGRATION_PASS': {
        const pass = bigintOf(data?.pass);
        if (pass === undefined) return;
        if (this.phase === 'waiting') this.begin();
        this.pending.push({ pass: Number(pass), time: event.timestamp, after: this.sent });
        this.nudge();
        return;
      }
      case 'STOP':
        this.guestRunning = false;
        this.stoppedAt = event.timestamp;
        return;
      case 'SHUTDOWN':
        // QEMU quitting (SIGINT, quit, a guest power-off) cancels the migration and closes the monitor.
        this.shutdown = typeof data?.reason === 'string' ? data.reason : 'no reason given';
        return;
      case 'RESUME':
        this.guestRunning = true;
        this.resumedAt = event.timestamp;
        return;
    }
  }

  record(pass: WatchPass): void {
    this.passes.push(pass);
    if (this.passes.length > this.options.maxPasses) this.dropped += this.passes.splice(0, 1).length;
    this.options.onPass?.(pass);
  }

  /** Takes the reply to query number `k`; returns true when it is the final one. */
  take(reply: QmpObject, k: number): boolean {
    const status = statusOf(reply);
    this.eventStatus = undefined;
    if (this.phase === 'waiting') {
      if (status === 'none') return false;
      if (TERMINAL_STATUSES.has(status)) {
        const text = formatQmp(reply, { type: null });
        if (k === 1 && this.options.ended === 'report') this.begin();
        else if (this.stale === undefined) this.stale = text;
        else if (text !== this.stale) this.begin(); // a whole migration ran between two polls
        if (this.phase === 'waiting') return false;
        this.startQuery = 0;
      } else {
        this.begin();
      }
    }
    if (TERMINAL_STATUSES.has(status) && k <= this.startQuery) return false;
    // QEMU sends MIGRATION completed before it fills the final times: ask again (a few times) until total-time is set.
    if (status === 'completed' && bigintOf(reply['total-time']) === 0n && this.premature++ < MAX_PREMATURE) {
      if (this.premature === 1) this.nudge();
      return false;
    }
    const ram = ramOf(reply);
    if (ram) {
      mirrorReply(this.stats, reply);
      if (!TERMINAL_STATUSES.has(status)) this.lastRunning = reply;
      while (this.pending.length > 0 && this.pending[0]!.after < k) {
        const { pass, time } = this.pending.shift()!;
        this.record(Object.freeze({ pass, time, event: true, figures: passFigures(ram) }));
      }
      const count = bigintOf(ram['dirty-sync-count']) ?? 0n;
      if (this.events === 'off' && count > this.lastSyncCount) {
        this.record(Object.freeze({ pass: Number(count), time: qmpTimestamp(), event: false, figures: passFigures(ram) }));
      }
      if (count > this.lastSyncCount) this.lastSyncCount = count;
    } else if (!TERMINAL_STATUSES.has(status)) {
      this.lastRunning = reply;
    }
    const { guestRunning, stats, version } = this;
    this.options.onProgress?.(Object.freeze({ status, reply, passes: this.passes.length + this.dropped, guestRunning, stats, version }));
    return TERMINAL_STATUSES.has(status);
  }


  async run(): Promise<WatchOutcome> {
    const unsubscribe = this.session.onEvent((event) => this.onEvent(event));
    const onAbort = () => this.#fail(new QemuWatchError('aborted', `stopped ${this.where()}`, this.options.signal?.reason));
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    void this.session.closed.then(
      (error) => {
        // The client's own message names the address and the cause ("QEMU closed the QMP connection at …").
        const base = error?.message.startsWith('QEMU ') ? error.message : `QEMU closed the monitor connection${error ? ` (${error.message})` : ''}`;
        this.#fail(new QemuWatchError('closed', `${base} ${this.where()}`, error));
      },
      () => {},
    );
    try {
      if (this.options.signal?.aborted) onAbort();
      ({ events: this.events, refused: this.eventsRefused } = await eventsCapability((c, a) => this.exec(c, a), this.options.enableEvents));
      this.options.onReady?.(Object.freeze({ version: this.version, events: this.events, ...(this.eventsRefused !== undefined ? { eventsRefused: this.eventsRefused } : {}) }));
      for (;;) {
        const k = ++this.sent;
        const reply = objectOf(await this.exec('query-migrate'));
        if (!reply) throw new QemuWatchError('protocol', `query-migrate returned something other than an object`);
        if (this.take(reply, k)) return await this.finish(reply);
        if (this.needParameters) {
          this.needParameters = false;
          await mirrorRateLimit((c) => this.exec(c), this.stats);
        }
        await this.pause();
      }
    } finally {
      unsubscribe();
      this.options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async finish(last: QmpObject): Promise<WatchOutcome> {
    // The final reply came after these events, and its state is later than theirs.
    const ram = ramOf(last);
    for (const { pass, time } of this.pending.splice(0)) this.record(Object.freeze({ pass, time, event: true, ...(ram ? { figures: passFigures(ram) } : {}) }));
    const status = statusOf(last) as 'completed' | 'failed' | 'cancelled';
    let infoMigrate: string | undefined;
    if (this.options.infoMigrate) {
      try {
        const text = await this.exec('human-monitor-command', { 'command-line': 'info migrate' });
        infoMigrate = typeof text === 'string' ? text : undefined;
      } catch (error) {
        if (!(error instanceof QmpError)) throw error;
      }
    }
    const errorDesc = typeof last['error-desc'] === 'string' ? last['error-desc'] : undefined;
    return Object.freeze({
      status,
      exitCode: status === 'completed' ? 0 : 1,
      last,
      lastRunning: this.lastRunning,
      passes: Object.freeze(this.passes.slice()),
      passesDropped: this.dropped,
      version: this.version,
      events: this.events,
      ...(this.eventsRefused !== undefined ? { eventsRefused: this.eventsRefused } : {}),
      ...(errorDesc !== undefined ? { errorDesc } : {}),
      ...(this.startedAt ? { startedAt: this.startedAt } : {}),
      ...(this.endedAt ? { endedAt: this.endedAt } : {}),
      ...(this.stoppedAt ? { stoppedAt: this.stoppedAt } : {}),
      ...(this.resumedAt ? { resumedAt: this.resumedAt } : {}),
      ...(infoMigrate !== undefined ? { infoMigrate } : {}),
      stats: this.stats,
    });
  }
}


/**
 * Follows one live migration of a QEMU to its end over QMP.
 *
 * It connects (or takes `options.session`), turns the `events` capability on when it is off and no
 * migration runs, and asks `query-migrate`. With no migration (`{}`), or one that ended before the
 * watch began (`completed`, `failed`, `cancelled`: the previous migration's reply), it waits for the
 * next one (`ended: 'report'` reports an ended one at once instead). It then follows the migration
 * to its final status: a `query-migrate` every `interval` ms and at once after each `MIGRATION` or
 * `MIGRATION_PASS` event, QEMU's figures set into `stats` at each reply, one history entry per pass.
 * @param options - see {@link WatchQemuOptions}: `qmp` or `session` is required
 * @returns the outcome: the final status, `last` (QEMU's final `query-migrate` return exactly as
 *   received, integers as bigint), the passes, an exit code (0 completed, 1 failed or cancelled)
 * @throws TypeError or RangeError for bad options (before connecting)
 * @throws QemuWatchError when QEMU closes the connection before the end (`reason: 'closed'`), when
 *   `options.signal` aborts (`'aborted'`, the signal's reason as `cause`), or for a reply that is
 *   not QMP's (`'protocol'`); the connection's own error when it cannot be opened
 * @example
 * const outcome = await watchQemu({ qmp: 'unix:/run/vm1.qmp' });
 * outcome.status; //=> 'completed'
 * outcome.passes.map((p) => p.pass); //=> [1, 2, 3]
 */
export async function watchQemu(options: WatchQemuOptions): Promise<WatchOutcome> {
  const checked = checkWatchOptions(options);
  if (checked.qmp !== undefined) parseQmpAddress(checked.qmp, 'watchQemu: options.qmp');
  const stats = checked.stats ?? (await MigrationStats.create());
  let session = checked.session;
  if (!session) {
    const connect = checked.connect ?? connectQmp;
    try {
      session = await connect(checked.qmp!, checked.signal ? { signal: checked.signal } : {});
    } catch (error) {
      if (checked.signal?.aborted) throw new QemuWatchError('aborted', 'stopped while connecting', checked.signal.reason);
      throw error;
    }
    if (session === null || typeof session !== 'object' || typeof session.execute !== 'function') {
      throw new TypeError(`watchQemu: options.connect must resolve with a QmpSession; received ${describe(session)}`);
    }
  }
  try {
    return await new Watch(session, checked, stats).run();
  } finally {
    if (!checked.session) await session.close().catch(() => {});
  }
}
