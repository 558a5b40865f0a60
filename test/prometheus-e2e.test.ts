/**
 * End to end: a real Prometheus server (Debian package `prometheus`), started here on loopback
 * with a temporary config and data folder and a 1 s scrape interval, scrapes a Node process whose
 * worker threads update the counters; its query API must return the exact values. Nothing here
 * depends on speed: the Node process's lines are awaited as they come, and Prometheus is asked
 * until it has a scrape with the final counts (a scrape that fails or times out on a busy machine
 * is simply made again at the next interval), within test/wait.ts's safety net.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { METRICS } from '../dist/index.js';
import { gate } from './requirements.js';
import { startPrometheus } from './prometheus-server.js';
import { requireTool, start, stop } from './tools.js';
import { poll, waitForJsonLine } from './wait.js';

const WORKERS = 4;
const TIMES = 20_000;

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('Prometheus scraping a Node process', () => {
  const started: ChildProcess[] = [];
  let dataDir: string | undefined;

  afterAll(async () => {
    for (const child of started.reverse()) await stop(child);
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores the exact values that worker threads counted (and rounds above 2^53)', async (ctx) => {
    gate('prometheus').check(ctx);
    const prometheus = requireTool('prometheus');

    // 1. The Node process: /metrics on a free port, WORKERS threads adding TIMES times.
    const server = start(process.execPath, [fileURLToPath(new URL('./fixtures/metrics-server.mjs', import.meta.url)), String(WORKERS), String(TIMES)]);
    started.push(server.child);
    const { port: targetPort } = (await waitForJsonLine(server, 'the metrics server listening', 'port')) as { port: number };

    // 2. Prometheus on another free port, scraping it every second.
    dataDir = mkdtempSync(join(tmpdir(), 'migration-stats-prometheus-'));
    const { api, exited } = await startPrometheus({
      prometheus,
      dataDir,
      job: 'migration-stats',
      targets: [`127.0.0.1:${targetPort}`],
      scraped: { name: 'the metrics server', ...server },
      started,
    });

    // 3. The workers' final counts, then a scrape that has them.
    const { values } = (await waitForJsonLine(server, 'the workers done', 'done')) as { values: Record<string, string> };
    expect(values.zeroPages).toBe(String(WORKERS * TIMES));
    expect(values.multifdBytes).toBe(String(WORKERS * TIMES * 4096));
    const query = encodeURIComponent('{job="migration-stats",__name__=~"qemu_migration_.+"}');
    const expected = Object.fromEntries(
      METRICS.map((m) => [`qemu_migration_${m.promName}${m.type === 'counter' ? '_total' : ''}`, String(Number(BigInt(values[m.counter]!)))]),
    );
    const samples = await poll('Prometheus has scraped the final counts', async () => {
      const body = (await (await fetch(`${api}/api/v1/query?query=${query}`)).json()) as { data: { result: Sample[] } };
      const got = Object.fromEntries(body.data.result.map((s) => [s.metric.__name__, s.value[1]]));
      if (Object.keys(got).length === 15 && Object.entries(expected).every(([name, value]) => got[name] === value)) return body.data.result;
      throw new Error(`Prometheus has ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
    }, { stop: exited });

    const byName = Object.fromEntries(samples.map((s) => [s.metric.__name__, s]));
    expect(byName.qemu_migration_zero_pages_total?.value[1]).toBe('80000');
    expect(byName.qemu_migration_normal_pages_total?.value[1]).toBe('240000');
    expect(byName.qemu_migration_multifd_bytes_total?.value[1]).toBe('327680000');
    expect(byName.qemu_migration_qemu_file_transferred_bytes_total?.value[1]).toBe('560000');
    expect(byName.qemu_migration_dirty_syncs_total?.value[1]).toBe('80000');
    expect(byName.qemu_migration_dirty_pages_per_second?.value[1]).toBe('12345');
    // The gauge holds 2^53 + 1; Prometheus keeps float64, so it answers 2^53.
    expect(values.rateLimitMax).toBe('9007199254740993');
    expect(byName.qemu_migration_rate_limit_max_bytes?.value[1]).toBe('9007199254740992');
    for (const sample of samples) {
      expect(sample.metric).toMatchObject({ job: 'migration-stats', instance: `127.0.0.1:${targetPort}`, vm: 'e2e' });
    }
  });
});
