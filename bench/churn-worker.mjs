// One short-lived worker of the lane-churn suite: attaches (claiming a lane), adds, says so, and is
// then terminated by the bench without ever calling close(), as a recycled pool worker would be.
import { parentPort, workerData } from 'node:worker_threads';
import { MigrationStats } from '../dist/index.js';

const { handle, backend, adds } = workerData;
const stats = await MigrationStats.attach(handle, { backend });
for (let i = 0; i < adds; i++) stats.zeroPages.add(1);
parentPort.postMessage({ lane: stats.lane });
// Stay alive (holding the lane) until terminated.
setInterval(() => {}, 1 << 30);
