/**
 * What real QEMU does in each scenario (harness.ts), checked on a record: a fresh run against the
 * QEMU on this machine (qemu-real.test.ts) or a captured one (qemu-vectors.test.ts). These are the
 * QEMU-side facts that `watch` and the simulator's QMP mode follow.
 */
import { expect } from 'vitest';
import { SCENARIOS, type ScenarioRecord } from './harness.js';
import { isObject, parseJson, type JsonObject } from './json.js';
import { eventsOf, queryMigrateReturns, statusesOf, type SideRecord } from './record.js';

/** The `return` of a reply text. */
export function returnOf(text: string | null): JsonObject {
  const value = parseJson(text ?? 'null');
  if (!isObject(value) || !isObject(value.return)) throw new Error(`not a reply with an object: ${text}`);
  return value.return;
}

/** QEMU's version as [major, minor]. */
function versionOf(record: ScenarioRecord): [number, number] {
  const [major, minor] = record.qemu.split('.').map(Number);
  return [major!, minor!];
}

/** The names of a side's events, with MIGRATION events as `MIGRATION <status>` and passes as `MIGRATION_PASS <n>`. */
export function eventNames(side: SideRecord): string[] {
  return eventsOf(side).map((event) =>
    event.name === 'MIGRATION' ? `MIGRATION ${String(event.data.status)}` : event.name === 'MIGRATION_PASS' ? `MIGRATION_PASS ${event.data.pass}` : event.name,
  );
}

/** The `pass` numbers of the source's MIGRATION_PASS events, checked to be 1, 2, … N. */
export function passNumbers(side: SideRecord): bigint[] {
  const passes = eventsOf(side).flatMap((event) => (event.name === 'MIGRATION_PASS' ? [event.data.pass as bigint] : []));
  expect(passes).toEqual(passes.map((_, i) => BigInt(i + 1)));
  return passes;
}

/** Checks what holds for every scenario, on the source and on the destination. */
export function checkCommon(record: ScenarioRecord): void {
  const { source, destination } = record;
  expect(record.qemu).toMatch(/^\d+\.\d+\.\d+/);
  expect(returnOf(record.queryVersion).qemu).toEqual(expect.objectContaining({ major: expect.any(BigInt) }));
  // Both sides start a migration at setup, then active.
  expect(statusesOf(source).slice(0, 2)).toEqual(['setup', 'active']);
  expect(statusesOf(destination).slice(0, 2)).toEqual(['setup', 'active']);
  expect(statusesOf(source).at(-1)).toBe(SCENARIOS[record.scenario].ends);
  // The first sync happens in setup: its MIGRATION_PASS comes before the status turns active.
  const names = eventNames(source);
  expect(names.indexOf('MIGRATION_PASS 1')).toBeGreaterThan(names.indexOf('MIGRATION setup'));
  expect(names.indexOf('MIGRATION_PASS 1')).toBeLessThan(names.indexOf('MIGRATION active'));

  const sourceReplies = queryMigrateReturns(source);
  // Before `migrate` the source has nothing to say; every reply of a running migration carries ram.
  expect(sourceReplies[0]).toEqual({});
  const passes = passNumbers(source);
  expect(passes.length).toBeGreaterThanOrEqual(1);
  for (const reply of sourceReplies.slice(1)) {
    if (reply.status === 'active') {
      expect(reply.ram).toBeDefined();
      expect(reply['setup-time']).toEqual(expect.any(BigInt));
      expect(reply['downtime']).toBeUndefined();
      // No reply shows more syncs than there were MIGRATION_PASS events by the end.
      expect((reply.ram as JsonObject)['dirty-sync-count']).toBeLessThanOrEqual(BigInt(passes.length));
    }
    // The first pass runs on QEMU's initial estimate: the downtime limit, 300 ms by default.
    if (reply.status === 'active' && (reply.ram as JsonObject)['dirty-sync-count'] === 1n) expect(reply['expected-downtime']).toBe(300n);
  }
  // The destination: before the source connects, only where it listens (no status at all); then the status alone.
  const destinationReplies = queryMigrateReturns(destination);
  expect(Object.keys(destinationReplies[0]!)).toEqual(['socket-address']);
  expect(destinationReplies[0]!['socket-address']).toEqual([expect.objectContaining({ type: 'inet', host: '127.0.0.1', port: expect.any(String) })]);
  for (const reply of destinationReplies) {
    if (reply.status !== undefined) expect(Object.keys(reply).filter((key) => key !== 'socket-address')).toEqual(['status']);
  }
  // HMP over QMP: one string whose lines end in \r\n, the status line among them.
  if (source.infoMigrate !== null) {
    const text = (parseJson(source.infoMigrate) as JsonObject).return as string;
    expect(text.endsWith('\r\n')).toBe(true);
    const final = returnOf(source.final);
    const error = final['error-desc'] === undefined ? '' : ` (${String(final['error-desc'])})`;
    // The layout changed in 10.1: `Migration status: …` before, `Status: \t\t…` since.
    const [major, minor] = versionOf(record);
    const label = major > 10 || (major === 10 && minor >= 1) ? 'Status: \t\t' : 'Migration status: ';
    expect(text.split('\r\n')).toContain(`${label}${String(final.status)}${error}`);
  }
}

/** Checks a migration that completed on both sides, with `expected` as the source's statuses. */
function checkCompleted(record: ScenarioRecord, expected: string[]): JsonObject {
  const { source, destination } = record;
  expect(statusesOf(source)).toEqual(expected);
  const final = returnOf(source.final);
  const ram = final.ram as JsonObject;
  // Every MIGRATION_PASS event, the last sync in the stop-and-copy stage included: dirty-sync-count.
  expect(ram['dirty-sync-count']).toBe(BigInt(passNumbers(source).length));
  expect(final['expected-downtime']).toBeUndefined();
  expect(final.downtime).toEqual(expect.any(BigInt));
  expect(final['total-time']).toBeGreaterThanOrEqual(final['setup-time'] as bigint);
  expect(final['total-time']).toBeGreaterThan(0n);
  expect(ram.remaining).toBe(0n);
  expect(ram['dirty-pages-rate']).toBe(0n);
  // Every RAM block counts: the guest's 128 MiB and the firmware's (pc.bios, pc.rom, option ROMs).
  expect(ram.total).toBeGreaterThan(128n << 20n);
  expect(ram.total).toBeLessThan(129n << 20n);
  expect(ram['page-size']).toBe(4096n);
  expect(ram['normal-bytes']).toBe((ram.normal as bigint) * 4096n);
  // The guest dirtied 16 MiB: at least that went twice (a first copy and once more at switch-over).
  expect(ram.normal).toBeGreaterThanOrEqual(2n * 4096n);
  // The source stops the guest once, before its last sync; the destination resumes it, then completes.
  const sourceEvents = eventNames(source);
  expect(sourceEvents.filter((name) => name === 'STOP')).toHaveLength(1);
  expect(sourceEvents.indexOf('STOP')).toBeLessThan(sourceEvents.lastIndexOf(`MIGRATION_PASS ${ram['dirty-sync-count']}`));
  expect(sourceEvents).not.toContain('RESUME');
  expect(statusesOf(destination).at(-1)).toBe('completed');
  const destinationEvents = eventNames(destination);
  expect(destinationEvents.indexOf('RESUME')).toBeGreaterThan(-1);
  expect(destinationEvents.indexOf('RESUME')).toBeLessThan(destinationEvents.indexOf('MIGRATION completed'));
  expect(returnOf(destination.final)).toEqual({ status: 'completed' });
  expect(destination.exitedEarly).toBeNull();
  return final;
}

/** A window lasts 100 ms or more; its mbps cannot exceed its budget plus one write's overrun over 100 ms. */
function checkWindowsUnderLimit(record: ScenarioRecord): void {
  // A tenth of 32 MiB per window, plus what the last write overran it by (a page and its header).
  const ceiling = ((Math.floor((32 * 2 ** 20) / 10) + 4 * 4096) * 8) / 0.1 / 1e6;
  const windows = queryMigrateReturns(record.source).filter((reply) => reply.status === 'active');
  expect(windows.length).toBeGreaterThan(0);
  for (const reply of windows) expect(Number((reply.ram as JsonObject).mbps)).toBeLessThanOrEqual(ceiling);
}

/** The checks of each scenario, after {@link checkCommon}. */
const SCENARIO_CHECKS: Record<ScenarioRecord['scenario'], (record: ScenarioRecord) => void> = {
  precopy(record) {
    const ram = checkCompleted(record, ['setup', 'active', 'completed']).ram as JsonObject;
    expect(ram['downtime-bytes']).toBeGreaterThan(0n);
    expect(ram['precopy-bytes']).toBeGreaterThan(0n);
    expect(ram['multifd-bytes']).toBe(0n);
    expect(ram['postcopy-bytes']).toBe(0n);
  },
  bandwidth(record) {
    const final = checkCompleted(record, ['setup', 'active', 'completed']);
    expect(record.actions).toEqual([expect.objectContaining({ on: 'MIGRATION_PASS 4', side: 'source' })]);
    expect((final.ram as JsonObject)['dirty-sync-count']).toBeGreaterThanOrEqual(5n);
    checkWindowsUnderLimit(record);
  },
  multifd(record) {
    const ram = checkCompleted(record, ['setup', 'active', 'completed']).ram as JsonObject;
    expect(ram['multifd-bytes']).toBeGreaterThan(16n << 20n);
  },
  postcopy(record) {
    const final = checkCompleted(record, ['setup', 'active', 'postcopy-active', 'completed']);
    expect((final.ram as JsonObject)['postcopy-bytes']).toBeGreaterThan(0n);
    expect(record.actions).toEqual([expect.objectContaining({ on: 'MIGRATION_PASS 2', sent: '{"execute":"migrate-start-postcopy"}' })]);
    // The switch: postcopy-active, then the guest stops, then the last sync.
    const events = eventNames(record.source);
    expect(events.indexOf('MIGRATION postcopy-active')).toBeLessThan(events.indexOf('STOP'));
    // While in postcopy, QEMU before 8.0 prints expected-downtime, 8.0 and later downtime.
    const [major] = versionOf(record);
    for (const reply of queryMigrateReturns(record.source).filter((r) => r.status === 'postcopy-active')) {
      expect(reply[major < 8 ? 'expected-downtime' : 'downtime']).toEqual(expect.any(BigInt));
      expect(reply[major < 8 ? 'downtime' : 'expected-downtime']).toBeUndefined();
    }
    expect(statusesOf(record.destination)).toEqual(['setup', 'active', 'postcopy-active', 'completed']);
    const destination = eventNames(record.destination);
    expect(destination.indexOf('MIGRATION postcopy-active')).toBeLessThan(destination.indexOf('RESUME'));
    checkWindowsUnderLimit(record);
  },
  'pause-before-switchover'(record) {
    checkCompleted(record, ['setup', 'active', 'pre-switchover', 'device', 'completed']);
    const events = eventNames(record.source);
    // The guest is stopped before the pause; the last sync comes in device.
    expect(events.indexOf('STOP')).toBeLessThan(events.indexOf('MIGRATION pre-switchover'));
    const lastPass = events.length - 1 - [...events].reverse().findIndex((name) => name.startsWith('MIGRATION_PASS '));
    expect(lastPass).toBeGreaterThan(events.indexOf('MIGRATION device'));
    expect(record.actions).toEqual([expect.objectContaining({ on: 'MIGRATION pre-switchover', sent: '{"execute":"migrate-continue","arguments":{"state":"pre-switchover"}}' })]);
  },
  cancel(record) {
    const statuses = statusesOf(record.source);
    expect(statuses.slice(-2)).toEqual(['cancelling', 'cancelled']);
    expect(statuses.slice(0, -2).every((status) => status === 'setup' || status === 'active')).toBe(true);
    expect(record.source.final).toBe('{"return": {"status": "cancelled"}}');
    // migrate_cancel turns the status to cancelling before it replies.
    const log = record.source.log;
    const cancelling = log.findIndex((entry) => 'event' in entry && entry.event.includes('"status": "cancelling"'));
    const reply = log.findIndex((entry) => 'command' in entry && entry.command === 'migrate_cancel');
    expect(cancelling).toBeGreaterThan(-1);
    expect(cancelling).toBeLessThan(reply);
    expect(passNumbers(record.source).length).toBeGreaterThanOrEqual(2);
    expect(eventNames(record.source)).not.toContain('STOP');
    // The destination's stream breaks: it fails (and QEMU 7.2 quits with status 1).
    expect(statusesOf(record.destination).at(-1)).toBe('failed');
    checkWindowsUnderLimit(record);
  },
  'destination-killed'(record) {
    expect(statusesOf(record.source)).toEqual(['setup', 'active', 'failed']);
    const final = returnOf(record.source.final);
    expect(Object.keys(final)).toEqual(['status', 'error-desc']);
    expect(final['error-desc']).toEqual(expect.stringMatching(/\S/));
    expect(record.actions).toEqual([{ on: 'MIGRATION_PASS 2', side: 'destination', sent: 'SIGKILL', reply: null }]);
    expect(record.destination.exitedEarly).toEqual({ code: null, signal: 'SIGKILL' });
    expect(record.destination.final).toBeNull();
    checkWindowsUnderLimit(record);
  },
};

/**
 * Checks a whole record: what every scenario shares, then what its own scenario shows.
 * @param record - a run of harness.ts
 */
export function checkScenario(record: ScenarioRecord): void {
  checkCommon(record);
  SCENARIO_CHECKS[record.scenario](record);
}
