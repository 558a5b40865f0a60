// The load case: real worker_threads on one handle, mixing the Wasm and pure-JS backends, with a
// lane and without one, each doing a million rounds of updates released at one start line, while
// the main thread reads the counters through prometheusText and queryMigrate. Totals are exact,
// and no read goes backwards.
//
// Further load and lane cases (workers terminated without close(), thousands of them) go into
// this folder as *.stress.ts files of their own; startAtLine() (test/workers.ts) starts fixtures together.
import { describe, expect, it } from 'vitest';
import { MigrationStats, prometheusText, queryMigrate, type BackendName } from '../../dist/index.js';
import { readExposition } from '../exposition.js';
import { BACKENDS } from '../helpers.js';
import { startAtLine } from '../workers.js';

const ITERATIONS = 1_000_000;
const CONFIGS: { backend: BackendName; lane: boolean }[] = [
  { backend: 'wasm', lane: true },
  { backend: 'js', lane: true },
  { backend: 'wasm', lane: false },
  { backend: 'js', lane: false },
  { backend: 'wasm', lane: true },
  { backend: 'js', lane: false },
];
/** Updates made by all workers: three per round, three more per packet (every 8th round). */
const PACKETS = Math.ceil(ITERATIONS / 8);
const UPDATES = CONFIGS.length * (3 * ITERATIONS + 3 * PACKETS);

describe.each(BACKENDS)('load on a handle made by the %s backend', (creator) => {
  it(`${CONFIGS.length} workers of both backends, with and without lanes, make ${UPDATES} updates and lose none`, async () => {
    const stats = await MigrationStats.create({ backend: creator });
    let done = false;
    let reads = 0;
    /** Reads while the workers add: every exposition valid, no counter going backwards. */
    const readWhileRunning = async (): Promise<void> => {
      let last = 0n;
      while (!done) {
        const text = prometheusText(stats);
        const zero = readExposition(text, 'prometheus').find((family) => family.name === 'qemu_migration_zero_pages_total')!;
        const now = BigInt(zero.samples[0]!.value);
        expect(now >= last, `read ${now} after ${last}`).toBe(true);
        last = now;
        const ram = queryMigrate(stats, { status: 'active', setupTimeMs: 0, totalTimeMs: 1, ramTotalBytes: 0, remainingBytes: 0, mbps: 0, pagesPerSecond: 0 }).ram!;
        expect(ram.duplicate >= now).toBe(true);
        reads++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const running = readWhileRunning();
    const results = await startAtLine<{ updates: number; lane: number }>('load-worker.mjs', CONFIGS.map((config) => ({ handle: stats.handle, ...config, iterations: ITERATIONS })));
    done = true;
    await running;

    expect(results.reduce((sum, r) => sum + r.updates, 0)).toBe(UPDATES);
    expect(results.map((r) => r.lane >= 0)).toEqual(CONFIGS.map((c) => c.lane));
    const workers = BigInt(CONFIGS.length);
    const n = BigInt(ITERATIONS);
    const packets = BigInt(PACKETS);
    expect(stats.zeroPages.get()).toBe(workers * (n + 2n * packets));
    expect(stats.normalPages.get()).toBe(workers * (2n * n + packets));
    expect(stats.qemuFileTransferred.get()).toBe(workers * n * 0x1_0000_0001n);
    expect(stats.multifdBytes.get()).toBe(workers * packets * 4096n);
    expect(stats.migrationTransferredBytes()).toBe(workers * (n * 0x1_0000_0001n + packets * 4096n));
    console.log(`${creator}: ${UPDATES} updates from ${CONFIGS.length} workers, ${reads} reads while they ran`);
  });
});
