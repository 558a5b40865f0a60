// The simulator's postcopy: exact counts of faults, requests and pages after the switch, the destination's blocktime statistics, the command line; no test depends on timing.
import { execFile, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { postcopyBlocktimeInfo, prometheusText, type BackendName } from '../dist/index.js';
import { PAGE_BYTES, simulateMigration, type MigrationResult } from '../dist/simulate/index.js';
import { gate } from './requirements.js';
import { requireTool } from './tools.js';

const MiB = 1024 * 1024;
const BIN = new URL('../bin/migration-stats.mjs', import.meta.url).pathname;

/**
 * A guest dirtying 64 times faster than the link: after a pass over 4 MiB at 8 MiB/s nearly every
 * page is dirty again, far more than the 2.4 MiB that fit the 300 ms downtime limit, so pre-copy
 * cannot converge whatever the machine's speed.
 */
// Pre-copy cannot converge whatever the machine's speed: a fixed switch-over bandwidth keeps the
// threshold at 8 MiB/s × 300 ms (2.4 MiB) even when a busy machine's window moved nothing, and each
// pass (at least 0.4 s at 8 MiB/s) leaves nearly every one of the 4 MiB dirty.
const TOO_FAST = { ramBytes: 4 * MiB, bandwidthBytesPerSecond: 8 * MiB, availSwitchoverBandwidth: 8 * MiB, dirtyBytesPerSecond: 512 * MiB } as const;

/** Every identity of a completed postcopy migration. */
function expectPostcopyAddsUp(result: MigrationResult): void {
  expect(result.status).toBe('completed');
  expect(result.verified).toBe(true);
  const pc = result.postcopy!;
  const dest = result.destinationStats!;
  const s = result.stats.snapshot();
  // Each vCPU's first access is a page the guest wrote last, missing at the switch: at least one fault each.
  expect(pc.remoteFaults).toBeGreaterThanOrEqual(pc.vcpus);
  // Every page a vCPU faulted on was requested exactly once; no page was requested without a fault.
  let faulted = 0;
  for (let page = 0; page < pc.pageFaults.length; page++) {
    if (pc.pageFaults[page]! > 0) faulted++;
    expect([page, pc.pageRequests[page]]).toEqual([page, pc.pageFaults[page]! > 0 ? 1 : 0]);
  }
  expect(pc.requests).toBe(faulted);
  // The source took every request off the return path, and postcopyRequests counts them.
  expect(pc.requestsTaken).toBe(pc.requests);
  expect(s.postcopyRequests).toBe(BigInt(pc.requests));
  expect(result.info.ram!['postcopy-requests']).toBe(BigInt(pc.requests));
  expect(pc.requestedPagesSent).toBeLessThanOrEqual(pc.requests);
  // Every page missing at the switch was sent once after it, by the background stream or a request.
  expect(pc.normalPagesAfterSwitch + pc.zeroPagesAfterSwitch).toBe(pc.missingPages);
  expect(s.normalPages + s.zeroPages).toBe(BigInt(result.pagesSent));
  // postcopyBytes: the page records sent after the switch (8 + 4096 B, or 8 + 1 B for a zero page) and the end of section.
  expect(s.postcopyBytes).toBe(BigInt(pc.normalPagesAfterSwitch * (8 + PAGE_BYTES) + pc.zeroPagesAfterSwitch * 9 + 8));
  expect(result.stats.migrationTransferredBytes()).toBe(s.qemuFileTransferred + s.multifdBytes);
  // The destination's statistics: the distribution sums to the remote faults, all of them vCPU faults.
  const d = dest.snapshot() as unknown as { vcpuFaults: bigint[]; vcpuBlocktime: bigint[]; blocktime: bigint; nonVcpuFaults: bigint; latency: { buckets: bigint[] } };
  expect(d.latency.buckets.length).toBe(24);
  expect(d.latency.buckets.reduce((a, b) => a + b, 0n)).toBe(BigInt(pc.remoteFaults));
  expect(d.vcpuFaults.reduce((a, b) => a + b, 0n)).toBe(BigInt(pc.remoteFaults));
  expect(d.nonVcpuFaults).toBe(0n);
  // While all vCPUs are blocked each one is: the overlapped time is within every vCPU's.
  for (const blocked of d.vcpuBlocktime) expect(d.blocktime).toBeLessThanOrEqual(blocked);
  // query-migrate: the completed reply has QEMU's six members, as postcopyBlocktimeInfo computes them.
  const members = postcopyBlocktimeInfo(dest);
  for (const [key, value] of Object.entries(members)) expect(result.info[key as keyof typeof members]).toEqual(value);
  // Per-vCPU blocktime (ms) never exceeds the migration's total time (ms).
  for (const ms of members['postcopy-vcpu-blocktime']) expect(ms).toBeLessThanOrEqual(result.info['total-time']!);
  expect(result.info.status).toBe('completed');
}

describe.each<BackendName>(['wasm', 'js'])('postcopy (%s backend)', (backend) => {
  it('completes a guest that pre-copy cannot migrate, to a byte-identical destination, with exact counts', async () => {
    const statuses: string[] = [];
    const result = await simulateMigration({ ...TOO_FAST, backend, postcopy: true, vcpus: 2, onProgress: (p) => void statuses.push(p.status) });
    expectPostcopyAddsUp(result);
    expect(result.postcopy!.passesBeforeSwitch).toBe(1);
    expect(result.postcopy!.vcpus).toBe(2);
    // active → postcopy-active → completed, never stop-and-copy.
    const order = statuses.filter((status, i) => status !== statuses[i - 1]);
    expect(order).toEqual(['setup', 'active', 'postcopy-active', 'completed']);
  });

  it('asks for postcopy when pass --postcopy-after ends, and switches at the next iteration, with 3 vCPUs', async () => {
    const passes: number[] = [];
    const result = await simulateMigration({
      ...TOO_FAST,
      backend,
      postcopy: true,
      postcopyAfter: 2,
      vcpus: 3,
      onProgress: (p) => void (p.status === 'postcopy-active' && passes.push(p.pass)),
    });
    expectPostcopyAddsUp(result);
    expect(result.postcopy!.passesBeforeSwitch).toBe(2);
    expect(result.passes).toBe(2);
    // Syncs: set-up (1), the ends of passes 1 and 2 (2, 3), the switch (4): postcopy-active comes in
    // pass 3, before the guest stops (QEMU's postcopy_start), and the switch's sync makes it pass 4.
    expect(result.stats.dirtySyncCount.get()).toBe(4n);
    expect([passes[0], passes.at(-1)]).toEqual([3, 4]);
    expect(result.info['postcopy-vcpu-latency']).toHaveLength(3);
  });

  it('is cancelled when pass --max-passes ends before --postcopy-after', async () => {
    const result = await simulateMigration({ ...TOO_FAST, backend, postcopy: true, postcopyAfter: 1000, maxPasses: 1, vcpus: 1 });
    expect(result.status).toBe('cancelled');
    expect(result.message).toMatch(/^migration did not converge in 1 pass /);
    expect(result.postcopy).toBeUndefined();
  });
});

describe('postcopy settings', () => {
  it('are refused with the setting, the value and what is allowed', async () => {
    await expect(simulateMigration({ vcpus: 0 })).rejects.toThrow('simulateMigration: options.vcpus must be a whole number from 1 to 64; received 0');
    await expect(simulateMigration({ postcopyAfter: 1.5 })).rejects.toThrow(RangeError);
    await expect(simulateMigration({ postcopy: 'yes' as never })).rejects.toThrow(
      'simulateMigration: options.postcopy must be true or false; received "yes"',
    );
  });

  it('leave a migration without postcopy as it was: no vCPUs, no destination stats', async () => {
    const result = await simulateMigration({ ramBytes: 1 * MiB, dirtyBytesPerSecond: 0, bandwidthBytesPerSecond: 0, vcpus: 4 });
    expect(result.postcopy).toBeUndefined();
    expect(result.destinationStats).toBeUndefined();
    expect(Object.keys(result.info).filter((key) => key.startsWith('postcopy'))).toEqual([]);
  });
});

describe('the destination statistics in Prometheus', () => {
  it('export with a vcpu label and the distribution as a histogram, and pass promtool', async (ctx) => {
    gate('prometheus').check(ctx);
    const result = await simulateMigration({ ...TOO_FAST, postcopy: true, vcpus: 2 });
    const text = prometheusText(result.destinationStats!);
    const faults = result.postcopy!.remoteFaults;
    expect(text).toContain('# TYPE qemu_migration_postcopy_latency histogram\n');
    expect(text).toContain(`qemu_migration_postcopy_latency_bucket{le="+Inf"} ${faults}\n`);
    expect(text).toContain(`qemu_migration_postcopy_latency_bucket{le="1"} `);
    expect(text).toContain(`qemu_migration_postcopy_latency_count ${faults}\n`);
    expect(text).toMatch(/\nqemu_migration_postcopy_vcpu_faults_total\{vcpu="1"\} \d+\n/);
    expect(text).toMatch(/\nqemu_migration_postcopy_blocktime_total \d+\n/);
    const check = spawnSync(requireTool('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect([check.status, check.stdout + check.stderr]).toEqual([0, '']);
  });
});

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'simulate', ...args], (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('migration-stats simulate --postcopy', () => {
  const tooFast = ['--ram', '4MiB', '--bandwidth', '8MiB/s', '--avail-switchover-bandwidth', '8MiB/s', '--dirty-rate', '512MiB/s'];

  it('fails with exit 1 without postcopy, and completes with it (exit 0, the completed query-migrate in --json)', async () => {
    const without = await cli(...tooFast, '--max-passes', '2');
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('migration did not converge in 2 passes');
    const run = await cli(...tooFast, '--postcopy', '--vcpus', '2', '--json');
    expect(run.code).toBe(0);
    const info = JSON.parse(run.stdout) as Record<string, unknown> & { ram: Record<string, number> };
    expect(info.status).toBe('completed');
    expect(info['postcopy-latency-dist']).toHaveLength(24);
    expect(info['postcopy-vcpu-blocktime']).toHaveLength(2);
    expect(info['postcopy-vcpu-latency']).toHaveLength(2);
    for (const key of ['postcopy-blocktime', 'postcopy-latency', 'postcopy-non-vcpu-latency']) expect(typeof info[key]).toBe('number');
    expect((info['postcopy-latency-dist'] as number[]).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    expect(info.ram['postcopy-requests']).toBeGreaterThanOrEqual(1);
    expect(info.ram['postcopy-bytes']).toBeGreaterThan(0);
    expect(run.stderr).toContain('migration completed; destination equals source');
  });

  it("prints info migrate -a: the globals and QEMU's blocktime lines", async () => {
    const run = await cli(...tooFast, '--postcopy', '--backend', 'js');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(', postcopy after 1 pass with 2 vCPUs, js backend\n');
    expect(run.stdout).toContain(' · postcopy · ');
    expect(run.stdout).toContain('\nStatus: \t\tcompleted\n');
    expect(run.stdout).toContain('\nGlobals:\n  store-global-state: on\n');
    expect(run.stdout).toMatch(/\nPostcopy Blocktime \(ms\): \d+\nPostcopy vCPU Blocktime \(ms\):\n \[\d+, \d+\]\nPostcopy Latency \(ns\): \d+\n/);
    expect(run.stdout).toContain('\nPostcopy Latency Distribution:\n  [     1 us -     2 us ]: ');
    expect(run.stdout.match(/^ {2}\[ .{8} - .{8} \]: {1,10}\d+$/gm)?.length).toBe(24);
  });

  it.each([
    [['--postcopy=1'], '--postcopy takes no value; received "--postcopy=1"'],
    [['--postcopy', '--postcopy'], '--postcopy is given twice'],
    [['--postcopy-after', '0'], '--postcopy-after must be a whole number of passes from 1 to 1000000, such as 1; received "0"'],
    [['--vcpus', '65'], '--vcpus must be a whole number from 1 to 64, such as 2; received "65"'],
  ])('refuses %j with exit 2', async (args, message) => {
    const run = await cli(...args);
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(`migration-stats simulate: ${message}`);
  });
});
