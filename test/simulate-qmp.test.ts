// The simulated machine's QMP monitor, called directly (no sockets): QEMU's replies, statuses,
// events and errors. No test depends on timing: each waits for the events it needs, and each
// setting decides its outcome whatever the machine's speed.
import { afterEach, describe, expect, it } from 'vitest';
import { formatQmp } from '../dist/index.js';
import { QmpError, type QmpEvent, type QmpObject } from '../dist/qemu/qmp-wire.js';
import { bootSimulatedVm, DestinationQmpBackend, MAIN_STREAM, SimulatorQmpBackend, type SimulatedVm } from '../dist/simulate/index.js';

const MiB = 1024 * 1024;
const machines: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(machines.splice(0).map((vm) => vm.shutDown()));
});

/** A booted machine, its monitor, and every event it sent. */
async function monitor(options: Parameters<typeof bootSimulatedVm>[0] = {}) {
  const vm = await bootSimulatedVm({ ramBytes: 4 * MiB, dirtyBytesPerSecond: 0, bandwidthBytesPerSecond: 0, ...options });
  machines.push(vm);
  const qmp = new SimulatorQmpBackend(vm);
  const events: QmpEvent[] = [];
  const waiters: (() => void)[] = [];
  qmp.onEvent((event) => {
    events.push(event);
    for (const wake of waiters.splice(0)) wake();
  });
  /** Resolves with the first event (seen so far or to come) that `match` accepts. */
  const waitFor = async (match: (event: QmpEvent) => boolean): Promise<QmpEvent> => {
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      await new Promise<void>((wake) => waiters.push(wake));
    }
  };
  const status = (name: string) => (event: QmpEvent) => event.event === 'MIGRATION' && event.data?.status === name;
  const run = (command: string, args: QmpObject = {}) => qmp.execute(command, args);
  const fails = (command: string, args: QmpObject, errorClass: string, desc: string) => {
    let error: unknown;
    try {
      run(command, args);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(QmpError);
    expect([(error as QmpError).errorClass, (error as QmpError).desc]).toEqual([errorClass, desc]);
  };
  const setCaps = (...names: string[]) =>
    run('migrate-set-capabilities', { capabilities: names.map((capability) => ({ capability, state: true })) });
  /** The migration events' statuses and the other events' names, in order. */
  const story = () => events.map((e) => (e.event === 'MIGRATION' ? String(e.data?.status) : e.event === 'MIGRATION_PASS' ? `pass ${e.data?.pass}` : e.event));
  return { vm, qmp, events, waitFor, status, run, fails, setCaps, story };
}

describe('the simulator over QMP, before a migration', () => {
  it("answers as an idle QEMU: no migration, QEMU's defaults, every capability off", async () => {
    const { qmp, run } = await monitor({ channels: 3 });
    expect(run('query-migrate')).toEqual({});
    expect(run('query-status')).toEqual({ running: true, status: 'running' });
    expect(run('query-version')).toEqual(qmp.version);
    const params = run('query-migrate-parameters') as Record<string, unknown>;
    expect(params).toMatchObject({ 'max-bandwidth': 0n, 'downtime-limit': 300n, 'multifd-channels': 3n, 'max-postcopy-bandwidth': 0n });
    const caps = run('query-migrate-capabilities') as { capability: string; state: boolean }[];
    expect(caps.every((c) => c.state === false)).toBe(true);
    expect(caps.map((c) => c.capability)).toEqual(expect.arrayContaining(['events', 'multifd', 'postcopy-ram', 'pause-before-switchover']));
    expect(run('human-monitor-command', { 'command-line': 'info status' })).toBe('VM status: running\r\n');
    expect(run('human-monitor-command', { 'command-line': 'info nosuch' })).toBe("unknown command: 'info nosuch'\r\n");
  });

  it("refuses what QEMU refuses, with QEMU's error classes and texts", async () => {
    const { fails, run } = await monitor();
    fails('nosuch', {}, 'CommandNotFound', 'The command nosuch has not been found');
    fails('query-migrate', { x: 1n }, 'GenericError', "Parameter 'x' is unexpected");
    fails('migrate-set-parameters', { 'max-bandwidth': 'x' }, 'GenericError', "Parameter 'max-bandwidth' expects uint64");
    fails('migrate-set-parameters', { 'downtime-limit': 2_000_001n }, 'GenericError', "Parameter 'downtime_limit' expects an integer in the range of 0 to (2000 * 1000) ms");
    fails('migrate-set-parameters', { 'multifd-channels': 0n }, 'GenericError', "Parameter 'multifd_channels' expects a value between 1 and 255");
    fails('migrate-set-parameters', { 'multifd-channels': 256n }, 'GenericError', "Parameter 'multifd-channels' expects uint8_t");
    fails('migrate-set-parameters', { foo: 1n }, 'GenericError', "Parameter 'foo' is unexpected");
    fails('migrate-set-capabilities', { capabilities: [{ capability: 'nosuch', state: true }] }, 'GenericError', "Parameter 'capability' does not accept value 'nosuch'");
    fails('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: 1n }] }, 'GenericError', "Invalid parameter type for 'capabilities[0].state', expected: boolean");
    fails('migrate-set-capabilities', { capabilities: 'x' }, 'GenericError', "Invalid parameter type for 'capabilities', expected: array");
    fails('migrate-set-capabilities', {}, 'GenericError', "Parameter 'capabilities' is missing");
    fails('migrate-start-postcopy', {}, 'GenericError', 'Enable postcopy with migrate_set_capability before the start of migration');
    fails('migrate-continue', { state: 'pre-switchover' }, 'GenericError', 'Migration not in expected state: none');
    fails('migrate-continue', {}, 'GenericError', "Parameter 'state' is missing");
    fails('migrate', {}, 'GenericError', "Parameter 'uri' is missing");
    fails('migrate', { uri: 'bogus:1' }, 'GenericError', "Parameter 'uri' expects a valid migration protocol");
    // A negative uint64 is taken as QEMU takes it, mod 2^64; nothing was changed by the refusals above.
    expect(run('migrate-set-parameters', { 'max-postcopy-bandwidth': -1n })).toEqual({});
    expect(run('query-migrate-parameters')).toMatchObject({ 'max-postcopy-bandwidth': 2n ** 64n - 1n, 'downtime-limit': 300n });
    expect(run('migrate_cancel')).toEqual({});
    expect(run('query-migrate')).toEqual({});
  });
});

describe('a migration driven over QMP', () => {
  it("runs setup → active → completed with QEMU's events: MIGRATION_PASS n at the n-th sync, STOP at the switch-over", async () => {
    const { run, setCaps, waitFor, status, story, vm } = await monitor();
    setCaps('events', 'multifd');
    expect(run('migrate', { uri: 'tcp:127.0.0.1:4444' })).toEqual({});
    expect(vm.uri).toBe('tcp:127.0.0.1:4444');
    await waitFor(status('completed'));
    const info = run('query-migrate') as { status: string; ram: Record<string, bigint> };
    expect(info.status).toBe('completed');
    const syncs = Number(info.ram['dirty-sync-count']);
    const passes = Array.from({ length: syncs }, (_, i) => `pass ${i + 1}`);
    // Set-up's sync is pass 1, sent before `active`; stop-and-copy stays `active`.
    expect(story()).toEqual(['setup', 'pass 1', 'active', ...passes.slice(1, -1), 'STOP', passes.at(-1), 'completed']);
    expect(info.ram['multifd-bytes']).toBeGreaterThan(0n);
    expect(run('query-status')).toEqual({ running: false, status: 'postmigrate' });
    const hmp = run('human-monitor-command', { 'command-line': 'info migrate' }) as string;
    expect(hmp).toMatch(/^Status: \t\tcompleted\r\n/);
    expect(hmp).not.toMatch(/[^\r]\n/);
    expect(formatQmp(run('query-migrate') as never)).toBe(formatQmp(info as never));
  });

  it('sends pages on the main stream without the multifd capability, and no migration events without events', async () => {
    const { run, events, vm } = await monitor({ zeroShare: 0.5 });
    run('migrate', { uri: 'unix:/nowhere' });
    const result = await vm.finished!;
    expect(result.verified).toBe(true);
    const ram = (run('query-migrate') as { ram: Record<string, bigint> }).ram;
    const get = (key: string): bigint => ram[key]!;
    expect(get('multifd-bytes')).toBe(0n);
    // Each page a record: 8 B of header and the page, or 9 B for a zero page; plus the RAM section's own records.
    const pages = get('normal') * (8n + 4096n) + get('duplicate') * 9n;
    const records = MAIN_STREAM.ramSetupBytes + MAIN_STREAM.passEndBytes * (result.passes + 1);
    expect(get('precopy-bytes') + get('downtime-bytes')).toBe(pages + BigInt(records));
    expect(get('transferred')).toBe(pages + BigInt(records + MAIN_STREAM.streamHeaderBytes + MAIN_STREAM.streamEndBytes));
    expect(get('normal') + get('duplicate')).toBe(1024n);
    expect(events.map((e) => e.event)).toEqual(['STOP']);
  });

  it('starts the channels multifd-channels asks for beyond those booted, and counts each handshake', async () => {
    const { run, setCaps, vm } = await monitor({ channels: 1 });
    setCaps('multifd');
    run('migrate-set-parameters', { 'multifd-channels': 3n, 'max-bandwidth': 0n });
    run('migrate', { uri: 'fd:migrate' });
    const result = await vm.finished!;
    expect(result.verified).toBe(true);
    const s = result.stats.snapshot();
    // Three handshakes, a header per packet (data and sync: one sync per channel per pass), 4 KiB per normal page.
    expect(result.syncPackets).toBe(3 * (result.passes + 1));
    expect(s.multifdBytes).toBe(3n * 64n + 1344n * BigInt(result.dataPackets + result.syncPackets) + 4096n * s.normalPages);
    expect(run('query-migrate-parameters')).toMatchObject({ 'multifd-channels': 3n });
  });

  it('applies a downtime-limit raised during the migration to the next windows, as QEMU does', async () => {
    // 4 MiB dirtied at 512 MiB/s against 8 MiB/s: it cannot converge within 300 ms, but within
    // 2000 s it does at any bandwidth above 2 KiB/s.
    const { run, setCaps, waitFor, status } = await monitor({ bandwidthBytesPerSecond: 8 * MiB, dirtyBytesPerSecond: 512 * MiB });
    setCaps('events');
    run('migrate', { uri: 'tcp:127.0.0.1:4444' });
    await waitFor((e) => e.event === 'MIGRATION_PASS' && e.data?.pass === 3n);
    expect((run('query-migrate') as { status: string }).status).toBe('active');
    run('migrate-set-parameters', { 'downtime-limit': 2_000_000n });
    await waitFor(status('completed'));
    expect(run('query-migrate-parameters')).toMatchObject({ 'downtime-limit': 2_000_000n });
  });

  it('sends the main stream page by page under the limit: no window goes over its budget by more than a page record', async () => {
    const { run, vm } = await monitor({ bandwidthBytesPerSecond: 8 * MiB });
    run('migrate', { uri: 'tcp:127.0.0.1:4444' });
    const result = await vm.finished!;
    const limited = result.windows.filter((w) => w.budgetBytes > 0n);
    // 3 MiB of page data against 0.8 MiB per window: at least three windows closed.
    expect(limited.length).toBeGreaterThanOrEqual(3);
    for (const w of limited) expect(w.transferredBytes).toBeLessThanOrEqual(w.budgetBytes + 8n + 4096n);
  });

  it('pauses in pre-switchover with pause-before-switchover until migrate-continue, then device', async () => {
    const { run, setCaps, waitFor, status, story, fails } = await monitor();
    setCaps('events', 'pause-before-switchover');
    run('migrate', { uri: 'exec:cat' });
    await waitFor(status('pre-switchover'));
    expect((run('query-migrate') as { status: string }).status).toBe('pre-switchover');
    expect(run('query-status')).toEqual({ running: false, status: 'finish-migrate' });
    fails('migrate-continue', { state: 'device' }, 'GenericError', 'Migration not in expected state: pre-switchover');
    fails('migrate-set-capabilities', { capabilities: [] }, 'GenericError', "There's a migration process in progress");
    run('migrate-continue', { state: 'pre-switchover' });
    await waitFor(status('completed'));
    const order = story().filter((s) => !s.startsWith('pass '));
    expect(order).toEqual(['setup', 'active', 'STOP', 'pre-switchover', 'device', 'completed']);
  });

  it('cancels on migrate_cancel: cancelling, then cancelled, whose reply carries only the status', async () => {
    const { run, setCaps, waitFor, status, story, fails } = await monitor({ bandwidthBytesPerSecond: 1 * MiB });
    setCaps('events');
    run('migrate', { uri: 'tcp:localhost:1' });
    await waitFor(status('active'));
    run('migrate_cancel');
    expect((run('query-migrate') as { status: string }).status).toBe('cancelling');
    await waitFor(status('cancelled'));
    expect(run('query-migrate')).toEqual({ status: 'cancelled' });
    expect(story().filter((s) => !s.startsWith('pass '))).toEqual(['setup', 'active', 'cancelling', 'cancelled']);
    expect(run('query-status')).toEqual({ running: true, status: 'running' });
    fails('migrate', { uri: 'tcp:localhost:1' }, 'GenericError', 'the simulator migrates its guest once; start it again for another migration');
  });

  it('pauses a postcopy switch too with pause-before-switchover: the guest stops, pre-switchover, then postcopy-active', async () => {
    const { run, setCaps, waitFor, status, story } = await monitor({ bandwidthBytesPerSecond: 8 * MiB, dirtyBytesPerSecond: 512 * MiB, vcpus: 1 });
    setCaps('events', 'postcopy-ram', 'pause-before-switchover');
    run('migrate', { uri: 'tcp:127.0.0.1:4444' });
    await waitFor((e) => e.event === 'MIGRATION_PASS' && e.data?.pass === 2n);
    run('migrate-start-postcopy');
    await waitFor(status('pre-switchover'));
    run('migrate-continue', { state: 'pre-switchover' });
    await waitFor(status('completed'));
    expect(story().filter((s) => !s.startsWith('pass '))).toEqual(['setup', 'active', 'STOP', 'pre-switchover', 'postcopy-active', 'completed']);
  });

  it('switches to postcopy at the iteration after migrate-start-postcopy, and completes', async () => {
    // The guest dirties 64 times faster than the link: pre-copy cannot converge.
    const { run, setCaps, waitFor, status, story } = await monitor({ bandwidthBytesPerSecond: 8 * MiB, dirtyBytesPerSecond: 512 * MiB, vcpus: 1 });
    setCaps('events', 'multifd', 'postcopy-ram');
    run('migrate', { uri: 'tcp:127.0.0.1:4444' });
    await waitFor((e) => e.event === 'MIGRATION_PASS' && e.data?.pass === 2n);
    run('migrate-start-postcopy');
    await waitFor(status('completed'));
    // QEMU's postcopy_start: postcopy-active, then the guest stops.
    expect(story().filter((s) => !s.startsWith('pass '))).toEqual(['setup', 'active', 'postcopy-active', 'STOP', 'completed']);
    const info = run('query-migrate') as { ram: Record<string, bigint> };
    expect(info.ram['postcopy-bytes']).toBeGreaterThan(0n);
  });
});

describe("the destination's monitor", () => {
  it('gives the socket address before the source connects, then the status alone, and RESUME when the guest runs there', async () => {
    const { vm, run, setCaps, waitFor, status } = await monitor();
    const destination = new DestinationQmpBackend(vm, 'tcp:127.0.0.1:4444');
    const events: string[] = [];
    destination.onEvent((event) => events.push(event.event === 'MIGRATION' ? String(event.data?.status) : event.event));
    destination.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    expect(destination.execute('query-migrate', {})).toEqual({ 'socket-address': [{ type: 'inet', host: '127.0.0.1', port: '4444', ipv4: true }] });
    expect(destination.execute('query-status', {})).toEqual({ running: false, status: 'inmigrate' });
    setCaps('events');
    run('migrate', { uri: 'tcp:127.0.0.1:4444' });
    await waitFor(status('active'));
    expect(destination.execute('query-migrate', {})).toEqual({ status: 'active' });
    await waitFor(status('completed'));
    expect(destination.execute('query-migrate', {})).toEqual({ status: 'completed' });
    expect(destination.execute('query-status', {})).toEqual({ running: true, status: 'running' });
    // As QEMU's destination: setup, active; the guest runs (RESUME), then completed.
    expect(events).toEqual(['setup', 'active', 'RESUME', 'completed']);
    expect(new DestinationQmpBackend(vm, 'unix:/tmp/in.sock').execute('query-migrate', {})).toEqual({ status: 'completed' });
    expect(() => destination.execute('migrate', { uri: 'tcp:x:1' })).toThrow('The command migrate has not been found');
  });
});

describe("the destination's monitor with -incoming defer", () => {
  it('listens where migrate-incoming says, once, and checks what it is given', async () => {
    const { vm } = await monitor();
    const destination = new DestinationQmpBackend(vm);
    const run = (command: string, args: QmpObject = {}) => destination.execute(command, args);
    expect(run('query-migrate')).toEqual({});
    expect(run('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }, { capability: 'multifd', state: true }] })).toEqual({});
    expect(run('migrate-set-parameters', { 'multifd-channels': 2n })).toEqual({});
    expect(() => run('migrate-set-parameters', { foo: 1n })).toThrow("Parameter 'foo' is unexpected");
    expect(() => run('migrate-incoming', { uri: 'bogus' })).toThrow("Parameter 'uri' expects a valid migration protocol");
    expect(run('migrate-incoming', { uri: 'tcp:127.0.0.1:0' })).toEqual({});
    expect(run('query-migrate')).toEqual({ 'socket-address': [{ type: 'inet', host: '127.0.0.1', port: '49152', ipv4: true }] });
    expect(() => run('migrate-incoming', { uri: 'tcp:127.0.0.1:0' })).toThrow('The incoming migration has already been started');
  });
});
