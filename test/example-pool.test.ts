// The worker-pool example (examples/worker-pool.mjs), run as a user runs it: its exit status and the
// exact totals it prints, for its defaults and for other arguments. Nothing here depends on how
// long the copies took.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const EXAMPLE = fileURLToPath(new URL('../examples/worker-pool.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs the example with `args` from the repository's root; resolves with its exit status and output. */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EXAMPLE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The bytes of the source tree the example makes: file i has 100 + (i × 7919 mod 20000) bytes. */
function treeBytes(files: number): number {
  let total = 0;
  for (let i = 0; i < files; i++) total += 100 + ((i * 7919) % 20_000);
  return total;
}

describe('examples/worker-pool.mjs', () => {
  it.each([
    [[], 4, 300],
    [['3', '120'], 3, 120],
  ])('copies every file, counts every byte exactly and serves the totals on /metrics (arguments %j)', async (args, workers, files) => {
    const { status, stdout, stderr } = await run(args);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const bytes = treeBytes(files);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`worker-pool: ${workers} workers copy ${files} files (${bytes} bytes) at most 6000000 bytes/s`);
    expect(lines).toContain(`verified: ${files} of ${files} copies match`);
    const counted = lines.find((line) => line.startsWith('counted: '));
    const perWorker = new RegExp(`^counted: ${files} files, ${bytes} bytes, per worker ${Array(workers).fill('(\\d+)').join(' \\+ ')} = ${bytes}$`).exec(counted ?? '');
    expect(perWorker, counted).not.toBeNull();
    expect(perWorker!.slice(1).reduce((sum, n) => sum + Number(n), 0)).toBe(bytes);
    expect(lines.filter((line) => new RegExp(`^latency: ${files} files, median at most \\d+ µs, 99th percentile at most \\d+ µs$`).test(line))).toHaveLength(1);
    // The scrape, as the example printed it.
    const scraped = lines.slice(lines.findIndex((line) => line.startsWith('scraped http://127.0.0.1:')) + 1).map((line) => line.trim());
    expect(scraped.filter((line) => !line.startsWith('copy_worker_bytes_total') && !line.startsWith('copy_latency_sum'))).toEqual([
      `copy_copied_bytes_total{job="worker-pool"} ${bytes}`,
      `copy_copied_files_total{job="worker-pool"} ${files}`,
      'copy_queue_depth{job="worker-pool"} 0',
      `copy_latency_count{job="worker-pool"} ${files}`,
    ]);
    const elements = scraped.filter((line) => line.startsWith('copy_worker_bytes_total'));
    expect(elements.map((line) => line.split(' ')[0])).toEqual(Array.from({ length: workers }, (_, i) => `copy_worker_bytes_total{job="worker-pool",worker="${i}"}`));
    expect(elements.map((line) => Number(line.split(' ')[1]))).toEqual(perWorker!.slice(1).map(Number));
  });
});
