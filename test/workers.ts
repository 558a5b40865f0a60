/** Real worker threads that add to shared counters (test/fixtures/adding-worker.mjs). */
import { Worker } from 'node:worker_threads';
import type { MigrationStats } from '../src/index.js';

/**
 * Adds in two worker threads, one per backend, each doing `times` × every [counter, amount]
 * pair, and waits until both are done.
 */
export async function addInWorkers(stats: MigrationStats, adds: [string, number][], times: number): Promise<void> {
  await Promise.all(
    (['wasm', 'js'] as const).map((backend) => {
      const worker = new Worker(new URL('./fixtures/adding-worker.mjs', import.meta.url), {
        workerData: { handle: stats.handle, backend, adds, times },
      });
      return new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }).finally(() => worker.terminate());
    }),
  );
}
