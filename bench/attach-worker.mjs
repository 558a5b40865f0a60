// Attach latency in a new worker: the library is already imported (as in any worker that uses it),
// from the package's Node build (dist/node/, what `import 'migration-stats'` loads); the clock
// starts when the message with the handle arrives and stops when the first add is done.
// `which`: 'qemu' attaches a MigrationStats and adds to zeroPages; 'series' attaches stats of any
// definition (attachStats) and adds to the first element of its first vector.
// With workerData.promClient, the worker has imported prom-client instead, and times its first
// `Counter` use from the message's arrival: a new Counter in the default registry, then `inc()`.
import { parentPort, workerData } from 'node:worker_threads';
import { attachStats, MigrationStats } from '../dist/node/index.js';
import { wallMs } from './measure.mjs';

const prom = workerData?.promClient ? await import('prom-client') : undefined;

parentPort.once('message', async ({ handle, backend, postedAt, which }) => {
  const received = performance.now();
  const receivedWall = wallMs();
  if (prom) {
    const counter = new prom.Counter({ name: 'zero_pages_total', help: 'Zero pages.' });
    counter.inc(1);
    const done = performance.now();
    const doneWall = wallMs();
    const { values } = await counter.get();
    parentPort.postMessage({ attachMs: done - received, postedMs: doneWall - postedAt, deliveryMs: receivedWall - postedAt, value: values[0]?.value });
    return;
  }
  const stats = which === 'series' ? await attachStats(handle, { backend }) : await MigrationStats.attach(handle, { backend });
  if (which === 'series') stats.b0.at(0).add(1);
  else stats.zeroPages.add(1);
  const done = performance.now();
  const doneWall = wallMs();
  stats.close();
  parentPort.postMessage({ attachMs: done - received, postedMs: doneWall - postedAt, deliveryMs: receivedWall - postedAt });
});
parentPort.postMessage({ ready: true });
