// `migration-stats simulate` as users run it: the real bin/ script in a child process.
import { execFile, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../bin/migration-stats.mjs', import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('migration-stats simulate: bad flags', () => {
  it.each([
    [['--ram', '12x'], '--ram must be a whole number of 4 KiB pages from 4 KiB to 4 GiB, such as 256MiB; received "12x" (unknown unit "x"; the units are B, KiB, MiB, GiB, TiB (or K, M, G, T) and kB, MB, GB, TB, spelled exactly so)'],
    // Spellings the usage does not list are refused, not guessed.
    ...['16m', '681k', '1mB', '1miB', '4Ki', '4KB'].map((ram) => [
      ['--ram', ram],
      `--ram must be a whole number of 4 KiB pages from 4 KiB to 4 GiB, such as 256MiB; received "${ram}" (unknown unit "${ram.replace(/^\d+/, '')}"; the units are B, KiB, MiB, GiB, TiB (or K, M, G, T) and kB, MB, GB, TB, spelled exactly so)`,
    ]),
    [['--bandwidth', '1gB/s'], '--bandwidth must be a whole number of bytes per second: 0 for unlimited, or from 10 to 2^64 − 1, such as 1GiB/s; received "1gB/s" (unknown unit "gB"; the units are B, KiB, MiB, GiB, TiB (or K, M, G, T) and kB, MB, GB, TB, spelled exactly so)'],
    [['--ram', '6000'], '--ram must be a whole number of 4 KiB pages from 4 KiB to 4 GiB, such as 256MiB; received "6000"'],
    [['--ram=8GiB'], '--ram must be a whole number of 4 KiB pages from 4 KiB to 4 GiB, such as 256MiB; received "8GiB"'],
    [['--bandwidth', '100Mb/s'], '--bandwidth must be a whole number of bytes per second: 0 for unlimited, or from 10 to 2^64 − 1, such as 1GiB/s; received "100Mb/s" ("Mb" would be bits; this takes bytes (B), such as MiB or MB)'],
    [['--dirty-rate', '0.5B/s'], '--dirty-rate must be a whole number of bytes per second from 0 to 2^53 − 1, such as 96MiB/s; received "0.5B/s" (not a whole number of bytes)'],
    [['--zero-share', '120%'], '--zero-share must be a share from 0 to 1, such as 25%; received "120%"'],
    [['--channels', '0'], '--channels must be a whole number from 1 to 64, such as 2; received "0"'],
    [['--downtime-limit', '0.5ms'], '--downtime-limit must be a whole number of milliseconds from 0 to 2000000, such as 300ms; received "0.5ms" (not a whole number of milliseconds)'],
    [['--backend', 'c'], "--backend must be 'wasm' or 'js', such as wasm; received \"c\""],
    [['--max-passes', '0'], '--max-passes must be a whole number from 1 to 1000000, such as 20; received "0"'],
    [['--max-passes'], '--max-passes needs a value: a whole number from 1 to 1000000 (such as 20)'],
    [['--channels', '2', '--channels', '3'], '--channels is given twice'],
    [['--speed', '3'], 'unknown flag "--speed"'],
    [['--json=yes'], '--json takes no value; received "--json=yes"'],
    [['--help=me'], '--help takes no value; received "--help=me"'],
    [['fast'], 'unexpected argument "fast"; flags start with --'],
    // They change only what happens after the postcopy switch: without --postcopy they would be ignored.
    [['--vcpus', '4'], "--vcpus takes effect only with --postcopy (the destination's vCPUs after the postcopy switch); add --postcopy or leave --vcpus out"],
    [['--postcopy-after=3', '--ram', '4MiB'], '--postcopy-after takes effect only with --postcopy (the pass at whose end migrate-start-postcopy is asked); add --postcopy or leave --postcopy-after out'],
    [['--vcpus', '4', '--postcopy-after', '2'], "--vcpus takes effect only with --postcopy (the destination's vCPUs after the postcopy switch); add --postcopy or leave --vcpus out"],
  ])('%j exits 2 with the message and the usage', async (args, message) => {
    const run = await cli('simulate', ...args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const [first, second, third] = run.stderr.split('\n');
    expect(first).toBe(`migration-stats simulate: ${message}`);
    expect(second).toBe('');
    expect(third).toBe('Usage: migration-stats simulate [options]');
  });

  it('exits 2 on an unknown command, and without one', async () => {
    const unknown = await cli('migrate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toBe('migration-stats: unknown command "migrate"');
    const none = await cli();
    expect(none.code).toBe(2);
    expect(none.stderr.split('\n')[0]).toBe('migration-stats: a command is needed');
  });

  it('prints the usage with --help and exits 0', async () => {
    const run = await cli('simulate', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: migration-stats simulate \[options\]\n/);
    for (const flag of ['--ram', '--zero-share', '--dirty-rate', '--bandwidth', '--channels', '--downtime-limit', '--backend', '--max-passes', '--json']) {
      expect(run.stdout).toContain(`  ${flag} `);
    }
  });
});

describe('migration-stats simulate: runs', () => {
  it('migrates, prints plain progress lines, the info migrate report and the verification, exit 0', async () => {
    const run = await cli('simulate', '--ram', '4MiB', '--dirty-rate', '0', '--backend', 'js');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(
      'Migrating a 4MiB guest (25% zero pages, dirtying 0B/s) over 2 multifd channels at 128MiB/s, downtime limit 300 ms, js backend',
    );
    expect(lines[1]).toMatch(/^pass 1 · active · [\d.]+ s · transferred 167 B · remaining 4 MiB · /);
    // Pass numbers are QEMU's dirty-sync-count: stop-and-copy's is the last sync's.
    const syncs = /Others: \t\tdirty_syncs=(\d+)/.exec(run.stdout)?.[1];
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^pass ${syncs} · stop-and-copy · `)));
    expect(lines).toContain('Status: \t\tcompleted');
    expect(lines).toContain('    Page Types: \tnormal=768, zero=256');
    expect(lines.at(-2)).toBe('migration completed; destination equals source: 4194304 bytes (1024 pages) compared byte for byte');
    expect(run.stdout).not.toContain('\x1b[');
  });

  it('prints the query-migrate JSON of the completed migration with --json', async () => {
    const run = await cli('simulate', '--ram', '1MiB', '--dirty-rate', '0', '--zero-share', '0.5', '--json');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toHaveLength(2);
    const info = JSON.parse(run.stdout);
    expect(info.status).toBe('completed');
    expect(info.ram).toMatchObject({ total: 1048576, duplicate: 128, normal: 128, 'normal-bytes': 524288, remaining: 0, 'page-size': 4096 });
    expect(info.ram.transferred).toBe(info.ram['multifd-bytes'] + 8 + 31 + 16 + 16 + 1);
    expect(run.stderr).toContain('migration completed; destination equals source');
  });

  it('cancels a migration whose pass --max-passes ends unconverged, with the stats of that moment, exit 1', async () => {
    const run = await cli(
      'simulate', '--ram', '2MiB', '--dirty-rate', '1GiB/s', '--bandwidth', '1MiB/s', '--downtime-limit', '10', '--avail-switchover-bandwidth', '1MiB/s', '--max-passes', '2',
    );
    expect(run.code).toBe(1);
    // --max-passes is QEMU's migrate_cancel: the report is that of the moment of the cancel.
    expect(run.stdout).toContain('Status: \t\tcancelling');
    expect(run.stdout).toMatch(/\npass 3 · cancelling · .*\npass 3 · cancelled · /);
    expect(run.stdout).toMatch(/Others: \t\tdirty_syncs=3\n/);
    expect(run.stderr).toMatch(/^\nmigration did not converge in 2 passes \(the most allowed\): .* Migration cancelled\n$/);
  });
});

describe('migration-stats simulate: its output closed', () => {
  it('ends quietly with exit 141, as a process SIGPIPE ended, when the reader goes away (`| head -1`)', async () => {
    // A migration that never converges writes a line per pass for ever: whenever head exits, a
    // later write finds the pipe closed. (A fixed switch-over bandwidth of 1 MiB/s × 10 ms is under
    // 3 pages, against a guest that dirties every page in each pass of at least a second.)
    const never = '--dirty-rate 1GiB/s --bandwidth 1MiB/s --avail-switchover-bandwidth 1MiB/s --downtime-limit 10 --max-passes 1000000';
    const command = `"${process.execPath}" "${BIN}" simulate --ram 1MiB ${never}`;
    const run = await new Promise<Run>((resolve) => {
      execFile('bash', ['-c', `${command} | head -1; echo "exit \${PIPESTATUS[0]}" >&2`], (error, stdout, stderr) => {
        resolve({ code: error ? 1 : 0, stdout, stderr });
      });
    });
    expect(run.stdout).toMatch(/^Migrating a 1MiB guest .*\n$/);
    expect(run.stderr).toBe('exit 141\n');
  });
});

describe('migration-stats simulate: stopped by a signal', () => {
  /** Polls until `ready()` holds, for at most `limitMs` (a bound on a hung child, not a timing check). */
  async function until(ready: () => boolean, what: string, limitMs = 60_000): Promise<void> {
    for (const start = Date.now(); !ready(); await sleep(20)) {
      if (Date.now() - start > limitMs) throw new Error(`gave up waiting for ${what}`);
    }
  }

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s stops the workers, prints the report marked cancelled, ends its lines and exits %i', async (signal, code) => {
    // 48 MiB of data at 1 MiB/s: pass 1 is still under way when the signal comes.
    const child = spawn(process.execPath, [BIN, 'simulate', '--ram', '64MiB', '--bandwidth', '1MiB/s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal })),
    );
    try {
      await until(() => stdout.includes('\npass 1 · active · '), 'pass 1 to start');
      child.kill(signal);
      expect(await exited).toEqual({ code, signal: null });
    } finally {
      child.kill('SIGKILL');
    }
    const lines = stdout.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^pass 1 · cancelled · /));
    expect(stdout).toContain('\nStatus: \t\tcancelling\n');
    expect(stdout).toMatch(/\n  Others: \t\tdirty_syncs=1\n$/);
    expect(stderr).toMatch(new RegExp(`^\\nmigration cancelled \\(${signal}\\) during pass 1: .+ of 64 MiB still to send; the figures are those of that moment\\n$`));
  });
});
