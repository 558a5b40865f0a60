import { describe, expect, it } from 'vitest';
import { startWorker } from '../dist/simulate/worker-port.js';

describe('the worker adapter in Node', () => {
  it('reports a worker that exits on its own instead of leaving its caller waiting', async () => {
    const worker = await startWorker(new URL('./fixtures/exiting-worker.mjs', import.meta.url));
    const error = await new Promise<Error>((resolve) => worker.listen(() => {}, resolve));
    expect(error.message).toBe('worker exiting-worker.mjs exited (code 3) while still needed');
  });

  it('stays quiet when its caller terminates the worker', async () => {
    const worker = await startWorker(new URL('./fixtures/echo-worker.mjs', import.meta.url));
    const errors: Error[] = [];
    worker.listen(() => {}, (e) => errors.push(e));
    await worker.terminate();
    // terminate() resolves once the thread is gone; its exit event is emitted by then.
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual([]);
  });
});
