// `migration-stats simulate --qmp`: the simulated source on a real socket, driven by the project's
// QMP client as a tool would drive QEMU. No test depends on timing: each waits for what it needs.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectQmp } from '../dist/qemu/qmp-client.js';
import type { QmpEvent } from '../dist/qemu/qmp-wire.js';

const BIN = new URL('../bin/migration-stats.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'simulate-qmp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the command; resolves once it has printed a line matching `ready`. */
function start(args: string[], ready: RegExp) {
  const child = spawn(process.execPath, [BIN, 'simulate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const listening = new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const match = ready.exec(stdout);
      if (match) resolve(match);
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    void exited.then((code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
  });
  return { child, exited, listening, output: () => ({ stdout, stderr }) };
}

describe('migration-stats simulate --qmp', () => {
  it('serves every monitor given, waits for migrate, reports the migration and exits 0 on quit', async () => {
    const path = join(dir, 'a.qmp');
    const incoming = join(dir, 'dest.qmp');
    const run = start(
      ['--ram', '4MiB', '--dirty-rate', '0', '--qmp', `unix:${path}`, '--qmp', 'tcp:127.0.0.1:0', '--incoming-qmp', `unix:${incoming}`, '--incoming', 'tcp:127.0.0.1:4444'],
      /incoming tcp:127\.0\.0\.1:4444\n/,
    );
    try {
      await run.listening;
      const tcp = /QMP monitor on (tcp:127\.0\.0\.1:\d+);/.exec(run.output().stdout)?.[1];
      expect(run.output().stdout).toContain(`QMP monitor on unix:${path}; waiting for migrate\n`);
      const first = await connectQmp(`unix:${path}`);
      const second = await connectQmp(tcp!);
      // The destination's monitor: where it listens, before the source connects; then the status alone.
      const destination = await connectQmp(`unix:${incoming}`);
      expect(await destination.execute('query-migrate')).toEqual({ 'socket-address': [{ type: 'inet', host: '127.0.0.1', port: '4444', ipv4: true }] });
      expect(await second.execute('query-migrate')).toEqual({});
      const events: QmpEvent[] = [];
      const completed = new Promise<void>((resolve) =>
        second.onEvent((event: QmpEvent) => {
          events.push(event);
          if (event.event === 'MIGRATION' && event.data?.status === 'completed') resolve();
        }),
      );
      await first.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }, { capability: 'multifd', state: true }] });
      await first.execute('migrate', { uri: 'tcp:127.0.0.1:4444' });
      await completed;
      // Every monitor gets the events, with QEMU's timestamps.
      expect(events[0]).toMatchObject({ event: 'MIGRATION', data: { status: 'setup' } });
      expect(typeof events[0]!.timestamp.seconds).toBe('bigint');
      const info = (await first.execute('query-migrate')) as { status: string; ram: { 'dirty-sync-count': bigint } };
      expect(info.status).toBe('completed');
      expect(await destination.execute('query-migrate')).toEqual({ status: 'completed' });
      await destination.close();
      const hmp = (await second.execute('human-monitor-command', { 'command-line': 'info migrate' })) as string;
      expect(hmp).toContain('Status: \t\tcompleted\r\n');
      await first.execute('quit');
      expect(await run.exited).toBe(0);
      const { stdout } = run.output();
      expect(stdout).toContain('\nStatus: \t\tcompleted\n');
      expect(stdout).toMatch(new RegExp(`dirty_syncs=${info.ram['dirty-sync-count']}[,\n]`));
      expect(stdout).toContain('migration completed; destination equals source: 4194304 bytes (1024 pages) compared byte for byte\n');
      await Promise.all([first.close(), second.close()]);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('exits 1 after a migrate_cancel, and 130 on SIGINT while it waits', async () => {
    const path = join(dir, 'b.qmp');
    const run = start(['--ram', '4MiB', '--bandwidth', '1MiB/s', '--qmp', `unix:${path}`], /waiting for migrate\n/);
    try {
      await run.listening;
      const qmp = await connectQmp(`unix:${path}`);
      const status = (name: string) => new Promise<void>((resolve) => qmp.onEvent((e: QmpEvent) => e.event === 'MIGRATION' && e.data?.status === name && resolve()));
      const active = status('active');
      const cancelled = status('cancelled');
      await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
      await qmp.execute('migrate', { uri: 'unix:/nowhere' });
      await active;
      await qmp.execute('migrate_cancel');
      await cancelled;
      expect(await qmp.execute('query-migrate')).toEqual({ status: 'cancelled' });
      await qmp.execute('quit');
      expect(await run.exited).toBe(1);
      expect(run.output().stdout).toContain('\nStatus: \t\tcancelling\n');
      expect(run.output().stderr).toMatch(/\nmigration cancelled \(migrate_cancel\) during pass 1: /);
    } finally {
      run.child.kill('SIGKILL');
    }
    const idle = start(['--ram', '1MiB', '--qmp', `unix:${join(dir, 'c.qmp')}`], /waiting for migrate\n/);
    try {
      await idle.listening;
      idle.child.kill('SIGINT');
      expect(await idle.exited).toBe(130);
    } finally {
      idle.child.kill('SIGKILL');
    }
  });

  it.each([
    [['--qmp', 'udp:1'], '--qmp must be unix:PATH or tcp:HOST:PORT (port 0 to 65535); received "udp:1"'],
    [['--qmp', 'unix:/x', '--incoming', 'tcp:127.0.0.1:1'], "--incoming needs --incoming-qmp, the destination's monitor"],
    [['--incoming-qmp', 'unix:/y'], "--incoming-qmp needs --qmp, the source's monitor"],
    [['--qmp', 'unix:/x', '--max-passes', '3'], '--max-passes is not taken with --qmp: the QMP client decides (migrate_cancel, migrate-start-postcopy)'],
  ])('refuses %j with exit 2', async (args, message) => {
    const run = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [BIN, 'simulate', ...args], (error, _stdout, stderr) => resolve({ code: (error as { code?: number } | null)?.code ?? 0, stderr })),
    );
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(`migration-stats simulate: ${message}`);
  });
});

describe('simulate --help: the QMP flags', () => {
  it('lists --qmp, --incoming-qmp and --incoming, each on a line of its own', async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [BIN, 'simulate', '--help'], (error, out) => (error ? reject(error) : resolve(out))),
    );
    for (const flag of ['--qmp ADDRESS', '--incoming-qmp ADDRESS', '--incoming URI']) expect(stdout).toMatch(new RegExp(`^  ${flag} `, 'm'));
  });
});
