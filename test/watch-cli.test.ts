// `migration-stats watch` as users run it: the real bin/ script in a child process, against a
// tiny QMP server written here (node:net) that replays a QEMU 7.2 transcript: one step per
// query-migrate, the events QEMU sent before each reply written before it. The outcomes do not
// depend on timing: the script moves only when the watcher asks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatQmp } from '../dist/index.js';
import { parseQmp, QmpError, QmpReader, type QmpObject } from '../dist/qemu/qmp-wire.js';
import { connectQmp } from '../dist/qemu/qmp-client.js';
import type { QmpEvent } from '../dist/qemu/qmp-wire.js';
import { FakeSession, readTranscript, type FakeOptions } from './qmp-transcript.js';
import { waitForEvent, waitForOutput } from './wait.js';

const BIN = new URL('../bin/migration-stats.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'watch-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let sockets = 0;

interface Program {
  child: ChildProcess;
  output: () => string;
  stdout: () => string;
  stderr: () => string;
  done: Promise<number | null>;
}

function start(...args: string[]): Program {
  return startCommand('watch', ...args);
}

function startCommand(...args: string[]): Program {
  const child = spawn(process.execPath, [BIN, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const done = waitForEvent<[number | null]>(child, 'close', 'the command ends', { failOn: ['error'] }).then(([code]) => code);
  return { child, output: () => stdout + stderr, stdout: () => stdout, stderr: () => stderr, done };
}

async function run(...args: string[]) {
  const program = start(...args);
  const code = await program.done;
  return { code, stdout: program.stdout(), stderr: program.stderr() };
}

/** A QMP server on a unix socket, answering from a FakeSession over a transcript. */
async function qmpServer(name: string, options: FakeOptions & { quitAt?: number } = {}): Promise<{ address: string; server: Server; session?: FakeSession }> {
  const transcript = readTranscript(name);
  const path = join(dir, `qmp-${sockets++}.sock`);
  const holder: { session?: FakeSession } = {};
  const server = createServer((socket: Socket) => {
    const session = new FakeSession(transcript, options);
    holder.session = session;
    const send = (value: unknown) => socket.write(`${formatQmp(value as QmpObject, { type: null })}\r\n`);
    send({ QMP: transcript.greeting });
    session.onEvent((event) => send(event));
    void session.closed.then(() => socket.destroy());
    const reader = new QmpReader();
    socket.on('data', async (chunk) => {
      for (const text of reader.push(chunk.toString())) {
        const request = parseQmp(text) as QmpObject;
        const command = request.execute as string;
        const id = request.id === undefined ? {} : { id: request.id };
        if (command === 'qmp_capabilities') {
          send({ return: {}, ...id });
          continue;
        }
        try {
          send({ return: await session.execute(command, request.arguments as QmpObject | undefined), ...id });
        } catch (error) {
          if (error instanceof QmpError) send({ error: { class: error.errorClass, desc: error.desc }, ...id });
        }
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { address: `unix:${path}`, server, ...holder };
}

describe('migration-stats watch: bad flags', () => {
  it.each([
    [[], "--qmp is required: unix:PATH or tcp:HOST:PORT, as given to QEMU's -qmp"],
    [['--qmp', 'vm1.qmp'], '--qmp must be unix:PATH or tcp:HOST:PORT (port 0 to 65535); received "vm1.qmp"'],
    [['--qmp'], '--qmp needs a value'],
    [['--qmp', 'unix:/x', '--metrics', 'host'], '--metrics must be [HOST:]PORT with PORT from 0 to 65535, such as 9464 or 0.0.0.0:9464; received "host"'],
    [['--qmp', 'unix:/x', '--interval', '0'], '--interval must be a whole number of milliseconds from 1 to 2147483647, such as 100; received "0"'],
    [['--qmp', 'unix:/x', '--timeout', 'soon'], '--timeout must be a number of seconds from 0.001 to 2147483.647, such as 30; received "soon"'],
    [['--qmp', 'unix:/x', '--json=yes'], '--json takes no value; received "--json=yes"'],
    [['--qmp', 'unix:/x', '--qmp', 'unix:/y'], '--qmp is given twice'],
    [['--qmp', 'unix:/x', '--follow'], 'unknown flag "--follow"'],
    [['now'], 'unexpected argument "now"; flags start with --'],
  ])('%j exits 2 with one line and the usage', async (args, message) => {
    const { code, stdout, stderr } = await run(...args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const [first, second, third] = stderr.split('\n');
    expect(first).toBe(`migration-stats watch: ${message}`);
    expect(second).toBe('');
    expect(third).toBe('Usage: migration-stats watch --qmp unix:PATH|tcp:HOST:PORT [options]');
  });

  it('prints the usage with --help and exits 0', async () => {
    const { code, stdout } = await run('--help');
    expect(code).toBe(0);
    for (const flag of ['--qmp', '--metrics', '--interval', '--timeout', '--json', '--last']) expect(stdout).toContain(`  ${flag} `);
  });
});

describe('migration-stats watch: no outcome (exit 3, one line)', () => {
  it('a missing socket', async () => {
    const { code, stdout, stderr } = await run('--qmp', `unix:${join(dir, 'none.sock')}`);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toBe(`migration-stats watch: no QMP socket at ${join(dir, 'none.sock')}\n`);
  });

  it('a refused connection', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const { code, stderr } = await run('--qmp', `tcp:127.0.0.1:${port}`);
    expect(code).toBe(3);
    expect(stderr).toBe(`migration-stats watch: QMP connection to tcp:127.0.0.1:${port} refused: nothing listens there\n`);
  });

  it('something that is not QMP', async () => {
    const path = join(dir, 'http.sock');
    const server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const { code, stderr } = await run('--qmp', `unix:${path}`);
    server.close();
    expect(code).toBe(3);
    expect(stderr.split('\n')).toHaveLength(2);
    expect(stderr).toMatch(/^migration-stats watch: .*not .*QMP/);
  });

  it('QEMU quitting mid-way', async () => {
    const { address, server } = await qmpServer('cancel', { closeAt: 5 });
    const { code, stderr } = await run('--qmp', address, '--interval', '1');
    server.close();
    expect(code).toBe(3);
    expect(stderr).toMatch(/^migration-stats watch: QEMU closed the QMP connection at unix:\S+ .*during the migration \(status active, pass 1\)\n$/);
  });

  it('SIGINT while it waits: exit 130, one line', async () => {
    const { address, server } = await qmpServer('precopy', { auto: false });
    const program = start('--qmp', address);
    await waitForOutput(program.child, program.output, 'the first line', (text) => (text.includes('events turned on\n') ? true : undefined));
    program.child.kill('SIGINT');
    expect(await program.done).toBe(130);
    server.close();
    expect(program.stderr()).toBe('migration-stats watch: stopped by SIGINT while waiting for a migration to start\n');
  });

  it('--timeout expiring on a monitor that never greets (another client holds it): the line says so', async () => {
    const path = join(dir, 'silent.sock');
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const { code, stdout, stderr } = await run('--qmp', `unix:${path}`, '--timeout', '0.2');
    server.close();
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `migration-stats watch: --timeout 0.2 s expired while connecting: no QMP greeting from unix:${path} (QEMU serves one client per monitor: is another one connected?)\n`,
    );
  });

  it.each([
    ['a regular file', () => writeFileSync(join(dir, 'plain.qmp'), ''), 'plain.qmp'],
    ['a directory', () => mkdirSync(join(dir, 'folder.qmp')), 'folder.qmp'],
  ])('a path that is %s: says what it is, not that nothing listens', async (kind, make, name) => {
    make();
    const { code, stdout, stderr } = await run('--qmp', `unix:${join(dir, name)}`);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toBe(`migration-stats watch: ${join(dir, name)} is ${kind}, not a QMP socket\n`);
  });

  it('--timeout expiring while no migration starts', async () => {
    const { address, server } = await qmpServer('precopy', { auto: false });
    const { code, stdout, stderr } = await run('--qmp', address, '--timeout', '0.2');
    server.close();
    expect(code).toBe(3);
    expect(stdout).toBe('Watching QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3) on ' + address + ': events turned on\n');
    expect(stderr).toBe('migration-stats watch: --timeout 0.2 s expired while waiting for a migration to start\n');
  });
});

describe('migration-stats watch: outcomes', () => {
  it('completed: the live lines, QEMU\'s info migrate as it sent it, the verdict, exit 0', async () => {
    const transcript = readTranscript('precopy');
    const { address, server } = await qmpServer('precopy');
    const { code, stdout, stderr } = await run('--qmp', address, '--interval', '1');
    server.close();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const info = transcript.replies.get('human-monitor-command') as string;
    expect(stdout).toContain(`\n\n${info}\nMigration completed in 118 ms, downtime 1 ms, 3 passes\n`);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe(`Watching QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3) on ${address}: events turned on`);
    expect(lines).toContain('pass 3 · completed · 0.1 s · transferred 16.7 MiB · remaining 0 B · 1196.8 Mbps · dirty 0 pages/s');
  });

  it('--json: one object on stdout, last exactly as QEMU sent it, one pass per MIGRATION_PASS', async () => {
    const transcript = readTranscript('postcopy');
    const { address, server } = await qmpServer('postcopy');
    const { code, stdout, stderr } = await run('--qmp', address, '--interval', '1', '--json');
    server.close();
    expect(code).toBe(0);
    expect(stdout.split('\n')).toHaveLength(2);
    expect(stdout).toContain(`"last": ${transcript.steps.at(-1)!.text}, `);
    const json = JSON.parse(stdout) as { status: string; qemu: string; passes: { pass: number; time: { seconds: number; microseconds: number }; event: boolean }[] };
    expect(json.status).toBe('completed');
    expect(json.qemu).toBe('7.2.22');
    const recorded = transcript.events.filter((e) => e.event === 'MIGRATION_PASS');
    expect(json.passes.map((p) => [p.pass, p.time.seconds, p.time.microseconds, p.event])).toEqual(
      recorded.map((e) => [Number((e.data as { pass: bigint }).pass), Number(e.timestamp.seconds), Number(e.timestamp.microseconds), true]),
    );
    expect(stderr).toMatch(/^Watching QEMU 7\.2\.22 .*\n(?:.*\n)*Migration completed in 382 ms, downtime 2 ms, 2 passes\n$/);
  });

  it.each([
    ['cancel', 'Migration cancelled, 1 pass'],
    ['failed', 'Migration failed: Unable to write to socket: Broken pipe, 1 pass'],
  ])('%s: exit 1, the verdict on stderr', async (name, line) => {
    const { address, server } = await qmpServer(name);
    const { code, stdout, stderr } = await run('--qmp', address, '--interval', '1');
    server.close();
    expect(code).toBe(1);
    // The verdict alone on stderr; the blank line before it stays with the report on stdout.
    expect(stderr).toBe(`${line}\n`);
    const info = readTranscript(name).replies.get('human-monitor-command') as string;
    expect(stdout.endsWith(`\n\n${info}\n`)).toBe(true);
    expect(stdout).toContain('Migration status: ');
  });

  it('--metrics: /metrics during and after the migration, until SIGINT; the exit code is the migration\'s', async () => {
    const { address, server } = await qmpServer('multifd');
    const program = start('--qmp', address, '--interval', '1', '--metrics', '0');
    const url = await waitForOutput(program.child, program.output, 'the metrics address', (text) => /Serving \/metrics on (http:\S+)\n/.exec(text)?.[1]);
    await waitForOutput(program.child, program.output, 'the end of the migration', (text) => (text.includes('Still serving /metrics') ? true : undefined));
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const body = await response.text();
    for (const sample of [
      'qemu_migration_completed_total 1',
      'qemu_migration_failed_total 0',
      'qemu_migration_cancelled_total 0',
      'qemu_migration_active 0',
      'qemu_migration_last_total_time 137',
      'qemu_migration_last_downtime 3',
      'qemu_migration_last_passes 3',
      'qemu_migration_last_transferred_bytes 17588838',
      'qemu_migration_last_normal_pages 4211',
      'qemu_migration_last_duplicate_pages 28691',
      'qemu_migration_multifd_bytes_total 17330560',
      'qemu_migration_normal_pages_total 4211',
    ]) {
      expect(body.split('\n')).toContain(sample);
    }
    expect((await fetch(new URL('/', url))).status).toBe(404);
    program.child.kill('SIGINT');
    expect(await program.done).toBe(0);
    server.close();
  });
});

describe('migration-stats watch against simulate --qmp', () => {
  it('follows the simulator\'s migration: last is its final query-migrate, passes its MIGRATION_PASS events', async () => {
    const control = join(dir, `sim-${sockets}.sock`);
    const watched = join(dir, `sim-${sockets++}-watch.sock`);
    const simulator = startCommand('simulate', '--qmp', `unix:${control}`, '--qmp', `unix:${watched}`, '--ram', '16MiB', '--dirty-rate', '0', '--backend', 'js');
    try {
      await waitForOutput(simulator.child, simulator.output, 'both monitors', (text) => (text.includes(`unix:${watched}; waiting for migrate`) ? true : undefined));
      const session = await connectQmp(`unix:${control}`);
      const passes: QmpEvent[] = [];
      session.onEvent((event) => {
        if (event.event === 'MIGRATION_PASS') passes.push(event);
      });
      const watch = start('--qmp', `unix:${watched}`, '--json', '--interval', '5');
      await waitForOutput(watch.child, watch.output, 'the watch ready', (text) => (text.includes('events turned on\n') ? true : undefined));
      await session.execute('migrate', { uri: 'tcp:127.0.0.1:4444' });
      expect(await watch.done).toBe(0);
      const final = await session.execute('query-migrate');
      await session.execute('quit').catch(() => undefined);
      await session.close();
      expect(await simulator.done).toBe(0);
      const json = JSON.parse(watch.stdout()) as { status: string; qemu: string; passes: { pass: number; time: { seconds: number; microseconds: number } }[] };
      expect(watch.stdout()).toContain(`"last": ${formatQmp(final, { type: null })}, `);
      expect(json.status).toBe('completed');
      expect(json.qemu).toBe('10.1.0');
      expect(passes.length).toBeGreaterThan(0);
      expect(json.passes.map((p) => [p.pass, p.time.seconds, p.time.microseconds])).toEqual(
        passes.map((e) => [Number((e.data as { pass: bigint }).pass), Number(e.timestamp.seconds), Number(e.timestamp.microseconds)]),
      );
    } finally {
      if (simulator.child.exitCode === null) simulator.child.kill('SIGTERM');
    }
  });
});
