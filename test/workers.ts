/**
 * Real worker threads for tests: every test that starts a worker goes through {@link startFixture},
 * so a fixture that throws, or exits without reporting, fails its test at once instead of leaving
 * it waiting until the global timeout. Waits end on events (a message, an error, an exit, a word of
 * shared memory set), never after a duration: see test/wait.ts.
 */
import { Worker } from 'node:worker_threads';
import type { MigrationStats, SharedStats } from '../dist/index.js';
import { waitForEvent } from './wait.js';

/**
 * Starts `test/fixtures/<fixture>` and resolves with its first message.
 * @param workerData - passed to the worker as `workerData`
 * @returns the worker (terminate it when done) and its first message; the promise rejects with the
 *   worker's error, or when it exits before posting anything
 */
export function startFixture<T>(fixture: string, workerData?: unknown): { worker: Worker; result: Promise<T> } {
  const worker = new Worker(new URL(`./fixtures/${fixture}`, import.meta.url), { workerData });
  const result = waitForEvent<[T]>(worker, 'message', `the first message of ${fixture}`).then(([message]) => message);
  return { worker, result };
}

/**
 * Waits until `done()` holds, for what workers say through shared memory (a start line they have
 * reached, a flag they set) rather than by a message: looks again each millisecond, yielding to the
 * event loop, where worker errors arrive. Throws at once when one of `watched` (the workers'
 * results) rejects. No time limit: the workers' arrival, or their failure, ends the wait.
 */
export async function untilShared(done: () => boolean, watched: readonly Promise<unknown>[]): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (const result of watched) result.catch((error: unknown) => (failure ??= { error }));
  while (!done()) {
    if (failure !== undefined) throw failure.error;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Adds in two worker threads (test/fixtures/adding-worker.mjs), one per backend, each doing
 * `times` × every [counter, amount] pair, and waits until both are done.
 */
export async function addInWorkers(stats: MigrationStats, adds: [string, number][], times: number): Promise<void> {
  await Promise.all(
    (['wasm', 'js'] as const).map((backend) => {
      const { worker, result } = startFixture('adding-worker.mjs', { handle: stats.handle, backend, adds, times });
      return result.finally(() => worker.terminate());
    }),
  );
}

/**
 * Starts one fixture per entry of `workerData`, each waiting at a shared start line, releases them
 * together once all are waiting, and returns their first messages (terminating them all, also when
 * one fails).
 * @param fixture - a file of test/fixtures that counts `Atomics.add(gate, 0, 1)` and waits for word 1
 */
export async function startAtLine<T>(fixture: string, workerData: readonly Record<string, unknown>[]): Promise<T[]> {
  const startLine = new SharedArrayBuffer(8);
  const gate = new Int32Array(startLine);
  const started = workerData.map((data) => startFixture<T>(fixture, { ...data, startLine }));
  try {
    // A worker that fails before it reaches the line fails the wait at once.
    await untilShared(() => Atomics.load(gate, 0) >= started.length, started.map((s) => s.result));
    Atomics.store(gate, 1, 1);
    Atomics.notify(gate, 1);
    return await Promise.all(started.map((s) => s.result));
  } finally {
    await Promise.all(started.map((s) => s.worker.terminate()));
  }
}

/**
 * Makes the updates of test/fixtures/every-kind.mjs in worker threads, one per element of its
 * vector, alternately on the Wasm and the JS backend, each copying `times` chunks, and waits until
 * all are done.
 */
export async function copyInWorkers(stats: SharedStats, workers: number, times: number): Promise<void> {
  await Promise.all(
    Array.from({ length: workers }, (_, worker) => {
      const backend = worker % 2 === 0 ? 'wasm' : 'js';
      const { worker: thread, result } = startFixture('every-kind-worker.mjs', { handle: stats.handle, backend, worker, times });
      return result.finally(() => thread.terminate());
    }),
  );
}
