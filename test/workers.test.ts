import { describe, expect, it } from 'vitest';
import { MigrationStats, type BackendName } from '../dist/index.js';
import { U64_MAX } from './helpers.js';
import { startFixture } from './workers.js';

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
  const startLine = new SharedArrayBuffer(8);
  const gate = new Int32Array(startLine);
  const started = CONFIGS.map((config, id) =>
    startFixture('counting-worker.mjs', { handle: stats.handle, ...config, id, iterations: ITERATIONS, own: OWN[id], startLine }),
  );
  const workers = started.map((s) => s.worker);
  const done = started.map((s) => s.result);
  // Release every worker at once, then read while they write: reads must never go backwards.
  while (Atomics.load(gate, 0) < workers.length) await new Promise((r) => setTimeout(r, 1));
  Atomics.store(gate, 1, 1);
  Atomics.notify(gate, 1);
  let last = 0n;
  let finished = false;
  const all = Promise.all(done).then(() => (finished = true));
  while (!finished) {
    const now = stats.normalPages.get();
    expect(now >= last, `read ${now} after ${last}`).toBe(true);
    last = now;
    await new Promise((r) => setImmediate(r));
  }
  await all;
  await Promise.all(workers.map((w) => w.terminate()));
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
