// Attach latency in a new worker: the library is already imported (as in any worker that uses it),
// from the package's Node build (dist/node/, what `import 'migration-stats'` loads); the clock
// starts when the message with the handle arrives and stops when the first add is done.
// `which`: 'qemu' attaches a MigrationStats and adds to zeroPages; 'series' attaches stats of any
// definition (attachStats) and adds to the first element of its first vector.
import { parentPort } from 'node:worker_threads';
import { attachStats, MigrationStats } from '../dist/node/index.js';
import { wallMs } from './measure.mjs';

parentPort.once('message', async ({ handle, backend, postedAt, which }) => {
  const received = performance.now();
  const receivedWall = wallMs();
  const stats = which === 'series' ? await attachStats(handle, { backend }) : await MigrationStats.attach(handle, { backend });
  if (which === 'series') stats.b0.at(0).add(1);
  else stats.zeroPages.add(1);
  const done = performance.now();
  const doneWall = wallMs();
  stats.close();
  parentPort.postMessage({ attachMs: done - received, postedMs: doneWall - postedAt, deliveryMs: receivedWall - postedAt });
});
parentPort.postMessage({ ready: true });
