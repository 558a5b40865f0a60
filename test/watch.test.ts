// watchQemu against scripted sessions that replay real QEMU 7.2 transcripts (fixtures/qemu-7.2/):
// the outcome, `last` byte for byte, the passes, the mirror, on both backends. Nothing here waits
// on time: the script moves one step per query-migrate, or when the test says.
import { describe, expect, it } from 'vitest';
import { MigrationStats, formatQmp, prometheusText } from '../dist/index.js';
import {
  QemuWatchError,
  defineWatchStats,
  recordWatchOutcome,
  recordWatchProgress,
  watchQemu,
  qemuBehaviour,
  qemuVersion,
  type WatchOutcome,
} from '../dist/qemu/index.js';
import { parseQmp } from '../dist/qemu/qmp-wire.js';
import { FakeSession, readRecord, readTranscript, type Step } from './qmp-transcript.js';
import { BACKENDS } from './helpers.js';
import { spawnSync } from 'node:child_process';
import { gate } from './requirements.js';
import { requireTool } from './tools.js';

const FAST = 1; // ms between polls: the script does not depend on it

/** The recorded MIGRATION_PASS events: number and timestamp. */
function recordedPasses(name: string) {
  return readTranscript(name)
    .events.filter((e) => e.event === 'MIGRATION_PASS')
    .map((e) => ({ pass: Number((e.data as { pass: bigint }).pass), time: e.timestamp }));
}

/** The last recorded reply with `ram`, before the final status. */
function lastRunningText(steps: readonly Step[]): string {
  return steps.filter((s) => s.reply.ram !== undefined && !['completed', 'failed', 'cancelled'].includes(s.reply.status as string)).at(-1)!.text;
}

async function watch(name: string, backend: 'wasm' | 'js', options: ConstructorParameters<typeof FakeSession>[1] = {}) {
  const transcript = readTranscript(name);
  const session = new FakeSession(transcript, options);
  const stats = await MigrationStats.create({ backend });
  const outcome = await watchQemu({ session, stats, interval: FAST, infoMigrate: true });
  return { transcript, session, stats, outcome };
}

describe.each(BACKENDS)('watchQemu on QEMU 7.2 transcripts (%s backend)', (backend) => {
  it('pre-copy: completed, last exactly as QEMU sent it, one pass per MIGRATION_PASS with its timestamp', async () => {
    const { transcript, session, stats, outcome } = await watch('precopy', backend);
    expect(outcome.status).toBe('completed');
    expect(outcome.exitCode).toBe(0);
    expect(formatQmp(outcome.last, { type: null })).toBe(transcript.steps.at(-1)!.text);
    expect(outcome.passes.map(({ pass, time }) => ({ pass, time }))).toEqual(recordedPasses('precopy'));
    expect(outcome.passes.every((p) => p.event)).toBe(true);
    expect(outcome.events).toBe('turned-on');
    expect(session.events).toBe(true);
    expect(outcome.version).toEqual({ major: 7, minor: 2, micro: 22, package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' });
    expect(outcome.infoMigrate).toBe(transcript.replies.get('human-monitor-command'));
    expect(outcome.infoMigrate).toMatch(/^globals:\r\n.*Migration status: completed\r\n/s);
    expect(outcome.stoppedAt).toEqual(transcript.events.find((e) => e.event === 'STOP')!.timestamp);
    expect(outcome.startedAt).toEqual(transcript.events[0]!.timestamp);
    expect(outcome.endedAt).toEqual(transcript.events.filter((e) => e.event === 'MIGRATION').at(-1)!.timestamp);
    // The mirror holds QEMU's final figures, set (not added).
    const ram = outcome.last.ram as Record<string, bigint>;
    expect(stats.normalPages.get()).toBe(ram.normal);
    expect(stats.zeroPages.get()).toBe(ram.duplicate);
    expect(stats.precopyBytes.get()).toBe(ram['precopy-bytes']);
    expect(stats.dirtySyncCount.get()).toBe(ram['dirty-sync-count']);
    expect(stats.qemuFileTransferred.get()).toBe(ram.transferred);
    expect(stats.migrationTransferredBytes()).toBe(ram.transferred);
    expect(stats.migrationRateGet()).toBe(134217728n / 10n); // max-bandwidth, as QEMU's migration_rate_set
    // Each pass has the figures of the reply after its event.
    for (const pass of outcome.passes) expect(pass.figures).toBeDefined();
  });

  it('multifd: multifd-bytes and the main stream apart', async () => {
    const { transcript, stats, outcome } = await watch('multifd', backend);
    expect(outcome.status).toBe('completed');
    expect(formatQmp(outcome.last, { type: null })).toBe(transcript.steps.at(-1)!.text);
    expect(stats.multifdBytes.get()).toBe(17330560n);
    expect(stats.qemuFileTransferred.get()).toBe(17588838n - 17330560n);
    expect(stats.migrationTransferredBytes()).toBe(17588838n);
    expect(outcome.passes.map((p) => p.pass)).toEqual([1, 2, 3]);
  });

  it('postcopy: followed through postcopy-active to completed', async () => {
    const seen: string[] = [];
    const transcript = readTranscript('postcopy');
    const session = new FakeSession(transcript);
    const stats = await MigrationStats.create({ backend });
    const outcome = await watchQemu({ session, stats, interval: FAST, onProgress: (p) => seen.push(p.status) });
    expect(outcome.status).toBe('completed');
    expect(formatQmp(outcome.last, { type: null })).toBe(transcript.steps.at(-1)!.text);
    expect(seen).toContain('postcopy-active');
    expect(stats.postcopyBytes.get()).toBe(15016655n);
    expect(stats.precopyBytes.get()).toBe(2523631n);
    expect(outcome.passes.map(({ pass, time }) => ({ pass, time }))).toEqual(recordedPasses('postcopy'));
    expect(qemuBehaviour(outcome.version).postcopyDowntimeMember).toBe('expected-downtime');
  });

  it('cancel: exit code 1, last is the status alone, lastRunning keeps the figures', async () => {
    const { transcript, outcome, stats } = await watch('cancel', backend);
    expect(outcome.status).toBe('cancelled');
    expect(outcome.exitCode).toBe(1);
    expect(formatQmp(outcome.last, { type: null })).toBe('{"status": "cancelled"}');
    expect(formatQmp(outcome.lastRunning!, { type: null })).toBe(lastRunningText(transcript.steps));
    expect(stats.precopyBytes.get()).toBe((outcome.lastRunning!.ram as Record<string, bigint>)['precopy-bytes']);
    expect(outcome.infoMigrate).toContain('Migration status: cancelled\r\n');
  });

  it('failed: exit code 1 and QEMU\'s error-desc', async () => {
    const { transcript, outcome } = await watch('failed', backend);
    expect(outcome.status).toBe('failed');
    expect(outcome.exitCode).toBe(1);
    expect(outcome.errorDesc).toBe('Unable to write to socket: Broken pipe');
    expect(formatQmp(outcome.last, { type: null })).toBe(transcript.steps.at(-1)!.text);
  });
});

describe.each(['precopy', 'bandwidth', 'multifd', 'postcopy', 'pause-before-switchover', 'cancel', 'destination-killed'])(
  'watchQemu on the real-QEMU harness record %s (QEMU 7.2, a guest dirtying 16 MiB)',
  (scenario) => {
    it('ends with QEMU\'s final reply byte for byte and one pass per MIGRATION_PASS', async () => {
      const transcript = readRecord('7.2', scenario);
      const session = new FakeSession(transcript);
      const seen: string[] = [];
      const outcome = await watchQemu({ session, interval: FAST, onProgress: (p) => seen.push(p.status) });
      const final = transcript.steps.at(-1)!;
      expect(outcome.status).toBe(final.reply.status);
      expect(outcome.exitCode).toBe(final.reply.status === 'completed' ? 0 : 1);
      expect(formatQmp(outcome.last, { type: null })).toBe(final.text);
      const recorded = transcript.events.filter((e) => e.event === 'MIGRATION_PASS');
      expect(outcome.passes.map(({ pass, time }) => ({ pass, time }))).toEqual(
        recorded.map((e) => ({ pass: Number((e.data as { pass: bigint }).pass), time: e.timestamp })),
      );
      if (scenario === 'pause-before-switchover') expect(seen).toContain('device'); // pre-switchover lasted no poll here
      if (final.reply.status === 'completed') expect(outcome.stats.dirtySyncCount.get()).toBe((final.reply.ram as { 'dirty-sync-count': bigint })['dirty-sync-count']);
    });
  },
);

describe('watchQemu: how it follows', () => {
  it('on the destination: the incoming migration\'s statuses, no figures (QEMU reports none there)', async () => {
    const transcript = readRecord('7.2', 'precopy', 'destination');
    const outcome = await watchQemu({ session: new FakeSession(transcript), interval: FAST });
    expect(outcome.status).toBe('completed');
    expect(formatQmp(outcome.last, { type: null })).toBe('{"status": "completed"}');
    expect(outcome.passes).toEqual([]);
    expect(outcome.resumedAt).toEqual(transcript.events.find((e) => e.event === 'RESUME')!.timestamp);
  });

  it('asks again when QEMU says completed before it filled the final times (total-time 0)', async () => {
    const transcript = readRecord('7.2', 'precopy');
    const premature = transcript.steps.findIndex((s) => s.reply.status === 'completed' && s.reply['total-time'] === 0n);
    expect(premature).toBeGreaterThan(0);
    const outcome = await watchQemu({ session: new FakeSession(transcript), interval: FAST });
    expect(outcome.last['total-time']).not.toBe(0n);
    expect(formatQmp(outcome.last, { type: null })).toBe(transcript.steps.at(-1)!.text);
  });

  it('a migration that completes between two polls is followed to its final figures by the MIGRATION event', async () => {
    const transcript = readTranscript('multifd');
    const session = new FakeSession(transcript, { auto: false });
    const run = watchQemu({ session, interval: 2 ** 31 - 1 });
    await session.waitFor('query-migrate', 1);
    // Everything from `migrate` to `completed` happens before the next poll would be due.
    while (session.at < transcript.steps.length - 1) session.advance();
    const outcome = await run;
    expect(outcome.status).toBe('completed');
    expect(formatQmp(outcome.last, { type: null })).toBe(transcript.steps.at(-1)!.text);
    expect(outcome.passes.map(({ pass, time }) => ({ pass, time }))).toEqual(recordedPasses('multifd'));
    // One query at the start, one after the events: no poll was needed.
    expect(session.commands.filter((c) => c === 'query-migrate')).toHaveLength(2);
  });

  it('waits while no migration runs, and for the next one when the first reply is a previous migration\'s end', async () => {
    const transcript = readTranscript('precopy');
    const previous = transcript.steps.at(-1)!;
    const none = transcript.steps[0]!;
    const steps = [previous, ...Array(3).fill({ ...none, events: [], reply: previous.reply, text: previous.text }), ...transcript.steps.slice(1)];
    const session = new FakeSession(transcript, { steps });
    const outcome = await watchQemu({ session, interval: FAST });
    expect(outcome.status).toBe('completed');
    expect(outcome.passes.map((p) => p.pass)).toEqual([1, 2, 3]);
    expect(outcome.startedAt).toEqual(transcript.events[0]!.timestamp);
  });

  it("ended: 'report' returns a migration that had already ended", async () => {
    const transcript = readTranscript('failed');
    const session = new FakeSession(transcript, { start: transcript.steps.length - 1 });
    const outcome = await watchQemu({ session, interval: FAST, ended: 'report' });
    expect(outcome.status).toBe('failed');
    expect(outcome.passes).toEqual([]);
    expect(session.commands.filter((c) => c === 'query-migrate')).toHaveLength(1);
  });

  it('events off while a migration runs: QEMU refuses the capability, the watch polls and counts passes from dirty-sync-count', async () => {
    const transcript = readTranscript('precopy');
    const start = transcript.steps.findIndex((s) => s.reply.status === 'active');
    const session = new FakeSession(transcript, { start, events: false });
    const outcome = await watchQemu({ session, interval: FAST });
    expect(outcome.status).toBe('completed');
    expect(outcome.events).toBe('off');
    expect(outcome.eventsRefused).toBe("GenericError: There's a migration process in progress");
    expect(outcome.passes.length).toBeGreaterThan(0);
    expect(outcome.passes.every((p) => !p.event)).toBe(true);
    expect(outcome.passes.at(-1)!.pass).toBe(3);
    expect(formatQmp(outcome.last, { type: null })).toBe(transcript.steps.at(-1)!.text);
  });

  it('enableEvents: false leaves the capability alone and polls', async () => {
    const transcript = readTranscript('multifd');
    const session = new FakeSession(transcript);
    const outcome = await watchQemu({ session, interval: FAST, enableEvents: false });
    expect(outcome.status).toBe('completed');
    expect(outcome.events).toBe('off');
    expect(session.events).toBe(false);
    expect(session.commands).not.toContain('migrate-set-capabilities');
  });

  it('QEMU quitting mid-way rejects with a QemuWatchError that says where', async () => {
    const transcript = readTranscript('cancel');
    const session = new FakeSession(transcript, { closeAt: 5 });
    const error = await watchQemu({ session, interval: FAST }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QemuWatchError);
    expect((error as QemuWatchError).reason).toBe('closed');
    expect((error as Error).message).toBe('QEMU closed the monitor connection (the connection was reset) during the migration (status active, pass 1)');
  });

  it('QEMU shutting down mid-way (SIGINT to QEMU): the message names its SHUTDOWN event and the MIGRATION status after it', async () => {
    // QEMU 7.2 on SIGINT during a migration: SHUTDOWN (host-signal), MIGRATION cancelling, then the monitor closes.
    const transcript = readTranscript('cancel');
    const running = transcript.steps.find((step) => step.reply.status === 'active' && (step.reply.ram as { 'dirty-sync-count'?: bigint } | undefined)?.['dirty-sync-count'] !== undefined)!;
    const pass = (running.reply.ram as { 'dirty-sync-count': bigint })['dirty-sync-count'];
    const event = (text: string) => parseQmp(text) as unknown as Step['events'][number];
    const steps: Step[] = [
      { ...running, events: [] },
      {
        ...running,
        events: [
          event('{"timestamp": {"seconds": 1796651000, "microseconds": 1}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-signal"}}'),
          event('{"timestamp": {"seconds": 1796651000, "microseconds": 2}, "event": "MIGRATION", "data": {"status": "cancelling"}}'),
        ],
      },
    ];
    const session = new FakeSession(transcript, { auto: false, steps, events: true });
    const run = watchQemu({ session, interval: 2 ** 31 - 1 }).catch((e: unknown) => e);
    await session.waitFor('query-migrate', 1);
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    session.advance();
    session.quit();
    const error = (await run) as QemuWatchError;
    expect(error).toBeInstanceOf(QemuWatchError);
    expect(error.reason).toBe('closed');
    expect(error.message).toBe(
      `QEMU closed the monitor connection (the connection was reset) during the migration (status cancelling, pass ${pass}), after QEMU's SHUTDOWN event (host-signal)`,
    );
  });

  it('an abort while waiting rejects with reason aborted and the signal\'s reason as cause', async () => {
    const transcript = readTranscript('precopy');
    const session = new FakeSession(transcript, { auto: false });
    const controller = new AbortController();
    const run = watchQemu({ session, interval: 2 ** 31 - 1, signal: controller.signal });
    await session.waitFor('query-migrate', 1);
    controller.abort('SIGINT');
    const error = (await run.catch((e: unknown) => e)) as QemuWatchError;
    expect(error.reason).toBe('aborted');
    expect(error.message).toBe('stopped while waiting for a migration to start');
    expect(error.cause).toBe('SIGINT');
  });

  it('keeps at most maxPasses passes and counts the dropped ones', async () => {
    const { outcome } = await (async () => {
      const transcript = readTranscript('precopy');
      const session = new FakeSession(transcript);
      return { outcome: (await watchQemu({ session, interval: FAST, maxPasses: 2 })) as WatchOutcome };
    })();
    expect(outcome.passes.map((p) => p.pass)).toEqual([2, 3]);
    expect(outcome.passesDropped).toBe(1);
  });

  it.each([
    [{}, 'watchQemu: options.qmp must be given, or options.session, but not both'],
    [{ qmp: 'vm1.qmp' }, 'watchQemu: options.qmp must be unix:PATH or tcp:HOST:PORT'],
    [{ qmp: 'unix:/x', interval: 0 }, 'watchQemu: options.interval must be a whole number from 1 to 2^31 − 1; received 0'],
    [{ qmp: 'unix:/x', ended: 'skip' }, `watchQemu: options.ended must be 'wait' or 'report'; received "skip"`],
    [{ qmp: 'unix:/x', stats: {} }, 'watchQemu: options.stats must be a MigrationStats'],
    [{ qmp: 'unix:/x', color: true }, 'watchQemu: options.color is not an option'],
  ])('refuses %j', async (options, message) => {
    await expect(watchQemu(options as never)).rejects.toThrow(message);
  });

  it('reads the version from the greeting', () => {
    expect(qemuVersion({ version: { qemu: { major: 10n, minor: 1n, micro: 0n }, package: '' } })).toEqual({ major: 10, minor: 1, micro: 0, package: '' });
    expect(qemuBehaviour(qemuVersion({ version: { qemu: { major: 9n, minor: 1n, micro: 0n } } }))).toMatchObject({
      reportsSkipped: false,
      transferredIsRamOnly: false,
      postcopyDowntimeMember: 'downtime',
      hmpLayout: 'globals',
    });
    expect(() => qemuVersion({ capabilities: [] })).toThrow(TypeError);
  });
});

describe.each(BACKENDS)('the watch metrics (%s backend)', (backend) => {
  const samples = (text: string) => new Map(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ') as [string, string]));

  it('a running migration, then a cancelled one: counters outlive it, the last gauges come from its last figures', async () => {
    const metrics = await defineWatchStats().create({ backend });
    const transcript = readTranscript('cancel');
    let during: Map<string, string> | undefined;
    const outcome = await watchQemu({
      session: new FakeSession(transcript),
      interval: FAST,
      onProgress: (p) => {
        recordWatchProgress(metrics, p);
        if (p.status === 'active') during ??= samples(prometheusText(metrics));
      },
    });
    expect(during!.get('qemu_migration_active')).toBe('1');
    expect(during!.get('qemu_migration_status')).toBe('4');
    expect(during!.get('qemu_migration_ram_bytes')).toBe('134750208');
    recordWatchOutcome(metrics, outcome);
    const after = samples(prometheusText(metrics));
    const running = outcome.lastRunning!;
    const ram = running.ram as Record<string, bigint>;
    expect(after.get('qemu_migration_cancelled_total')).toBe('1');
    expect(after.get('qemu_migration_completed_total')).toBe('0');
    expect(after.get('qemu_migration_active')).toBe('0');
    expect(after.get('qemu_migration_last_status')).toBe('3');
    expect(after.get('qemu_migration_last_total_time')).toBe(String(running['total-time']));
    expect(after.get('qemu_migration_last_transferred_bytes')).toBe(String(ram.transferred));
    expect(after.get('qemu_migration_last_downtime')).toBe('0');
    expect(after.get('qemu_migration_last_end_timestamp_seconds')).toBe(String(outcome.endedAt!.seconds));
    expect(after.get('qemu_migration_precopy_bytes_total')).toBe(String(ram['precopy-bytes']));
    expect(after.get('qemu_migration_transfer_rate')).toBe('0');
  });

  it('passes promtool check metrics after a migration', async (ctx) => {
    gate('prometheus').check(ctx);
    const metrics = await defineWatchStats().create({ backend });
    const outcome = await watchQemu({ session: new FakeSession(readTranscript('multifd')), interval: FAST, onProgress: (p) => recordWatchProgress(metrics, p) });
    recordWatchOutcome(metrics, outcome);
    const result = spawnSync(requireTool('promtool'), ['check', 'metrics'], { input: prometheusText(metrics), encoding: 'utf8' });
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: '' });
  });

  it('refuses other stats', async () => {
    const stats = await MigrationStats.create({ backend });
    expect(() => recordWatchOutcome(stats as never, {} as never)).toThrow('recordWatchOutcome: stats must be made by defineWatchStats().create(); received');
  });
});
