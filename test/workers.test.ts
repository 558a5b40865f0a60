import { describe, expect, it } from 'vitest';
import { MigrationStats, type BackendName } from '../dist/index.js';
import { U64_MAX } from './helpers.js';
import { startAtLine } from './workers.js';

const ITERATIONS = 250_000;
const OWN = ['downtimeBytes', 'postcopyBytes', 'rdmaBytes', 'postcopyRequests', 'precopyBytes', 'dirtySyncCount'] as const;
// Both backends, with a lane and without one: four workers then add into the same base slots.
const CONFIGS: { backend: BackendName; lane: boolean }[] = [
  { backend: 'wasm', lane: true },
  { backend: 'js', lane: true },
  { backend: 'wasm', lane: false },
  { backend: 'js', lane: false },
  { backend: 'wasm', lane: false },
  { backend: 'js', lane: false },
];

async function runWorkers(creator: BackendName) {
  const stats = await MigrationStats.create({ backend: creator });
  stats.dirtyBytesLastSync.set(U64_MAX);
  // Read while the workers write (from before they are released until all are done): reads must never go backwards.
  let finished = false;
  const reading = (async () => {
    let last = 0n;
    while (!finished) {
      const now = stats.normalPages.get();
      expect(now >= last, `read ${now} after ${last}`).toBe(true);
      last = now;
      await new Promise((r) => setImmediate(r));
    }
  })();
  try {
    await startAtLine('counting-worker.mjs', CONFIGS.map((config, id) => ({ handle: stats.handle, ...config, id, iterations: ITERATIONS, own: OWN[id] })));
  } finally {
    finished = true;
  }
  await reading;
  return stats;
}

describe.each(['wasm', 'js'] as const)('worker_threads on a handle made by the %s backend', (creator) => {
  it('add, max and min from 6 workers mixing backends and lanes lose no update', async () => {
    const stats = await runWorkers(creator);
    const workers = BigInt(CONFIGS.length);
    const n = BigInt(ITERATIONS);
    const packets = BigInt(Math.ceil(ITERATIONS / 4));
    // Per worker: n/2 adds of 2 and n/2 adds of 1, plus one normal page per packet.
    expect(stats.normalPages.get()).toBe(workers * ((n / 2n) * 3n + packets));
    expect(stats.qemuFileTransferred.get()).toBe(workers * n * 0x1_0000_0001n);
    for (const name of OWN) expect(stats[name].get(), name).toBe(3n * n);
    expect(stats.zeroPages.get()).toBe(workers * packets * 2n);
    expect(stats.multifdBytes.get()).toBe(workers * packets * 4096n);
    const top = BigInt((CONFIGS.length - 1) * 1_000_000 + ITERATIONS - 1);
    expect(stats.dirtyPagesRate.get()).toBe(top);
    expect(stats.dirtyBytesLastSync.get()).toBe(1_000_000_000_000n - top);
    // rdmaBytes is one worker's own counter.
    expect(stats.migrationTransferredBytes()).toBe(workers * (n * 0x1_0000_0001n + packets * 4096n) + 3n * n);
  });
});
