// Attach latency in a new worker: the library is already imported (as in any worker that uses it),
// from the package's Node build (dist/node/, what `import 'migration-stats'` loads); the clock
// starts when the message with the handle arrives and stops when the first add is done.
import { parentPort } from 'node:worker_threads';
import { MigrationStats } from '../dist/node/index.js';
import { wallMs } from './measure.mjs';

parentPort.once('message', async ({ handle, backend, postedAt }) => {
  const received = performance.now();
  const receivedWall = wallMs();
  const stats = await MigrationStats.attach(handle, { backend });
  stats.zeroPages.add(1);
  const done = performance.now();
  const doneWall = wallMs();
  stats.close();
  parentPort.postMessage({ attachMs: done - received, postedMs: doneWall - postedAt, deliveryMs: receivedWall - postedAt });
});
parentPort.postMessage({ ready: true });
