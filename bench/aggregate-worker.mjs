// One worker of the cross-worker total: it counts `adds` updates, either into this library's shared
// stats (attached from the handle it is given) or into a prom-client Counter in a registry of its
// own, and then answers requests: for prom-client, each request is for its registry's metrics as
// JSON (what prom-client's AggregatorRegistry aggregates); for this library there is nothing to
// ask, the main thread reads the shared memory.
import { parentPort, workerData } from 'node:worker_threads';

const { mode, handle, adds, index } = workerData;
if (mode === 'shared') {
  const { defineStats } = await import('../dist/index.js');
  const { SCHEMA } = await import('./aggregate-schema.mjs');
  const stats = await defineStats(SCHEMA).attach(handle);
  for (let i = 0; i < adds; i++) {
    stats.bytesCopied.add(4096);
    stats.bytesPerWorker.at(index).add(4096);
  }
  parentPort.postMessage({ ready: true });
} else {
  const { Counter, Registry } = await import('prom-client');
  const registry = new Registry();
  const bytes = new Counter({ name: 'bytes_copied_total', help: 'Bytes copied.', registers: [registry] });
  const perWorker = new Counter({ name: 'bytes_per_worker_total', help: 'Bytes by worker.', labelNames: ['worker'], registers: [registry] });
  for (let i = 0; i < adds; i++) {
    bytes.inc(4096);
    perWorker.inc({ worker: String(index) }, 4096);
  }
  parentPort.on('message', async () => parentPort.postMessage(await registry.getMetricsAsJSON()));
  parentPort.postMessage({ ready: true });
}
