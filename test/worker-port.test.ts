import { afterEach, describe, expect, it, vi } from 'vitest';
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

describe('the worker adapter with Web Workers', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  /** A Web Worker that posts at once, before the next task, as a Deno worker's messages can arrive. */
  class EarlyWorker extends EventTarget {
    constructor() {
      super();
      queueMicrotask(() => this.dispatchEvent(new MessageEvent('message', { data: 'alive' })));
      queueMicrotask(() => this.dispatchEvent(Object.assign(new Event('error', { cancelable: true }), { message: 'boom' })));
    }
    postMessage(): void {}
    terminate(): void {}
  }

  it('keeps what the worker sends before listen() and delivers it then, errors included', async () => {
    vi.stubGlobal('Worker', EarlyWorker);
    const worker = await startWorker(new URL('file:///tmp/early-worker.js'));
    for (let i = 0; i < 5; i++) await Promise.resolve(); // the simulator awaits before it listens
    const messages: unknown[] = [];
    const errors: string[] = [];
    worker.listen(
      ({ data }) => messages.push(data),
      (error) => errors.push(error.message),
    );
    expect(messages).toEqual(['alive']);
    expect(errors).toEqual(['worker early-worker.js failed: boom']);
  });
});
