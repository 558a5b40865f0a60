// A worker of the runtime suite, started as a node:worker_threads worker or as a Web Worker. It
// listens wherever this runtime lets a worker listen (`self` and node:worker_threads' parentPort:
// a Bun worker has both, whichever API started it) and answers a request on the channel the
// request names (`api`), so each request is handled once. It first says what its scope has, then
// attaches to the handle it is sent and counts as the browser scenario's workers do. It neither
// closes its stats nor lets them be garbage-collected (which gives the lane back too: Bun collects
// them soon), so every worker keeps its lane and the suite can check that they are distinct.
import { parentPort } from 'node:worker_threads';
import { MigrationStats } from 'migration-stats';

const scope = {
  self: typeof self !== 'undefined',
  workerGlobalScope: typeof WorkerGlobalScope !== 'undefined',
  parentPort: parentPort !== null,
};

/** The stats this worker made, kept reachable for as long as it lives. */
const kept = [];

async function count({ handle, backend, adds, index, workers }, api) {
  try {
    const stats = await MigrationStats.attach(handle, { backend });
    kept.push(stats);
    for (let k = 0; k < adds; k++) {
      stats.zeroPages.add(1); // number argument
      stats.precopyBytes.add(4096n); // bigint argument
      stats.addMultifdPacket(1, 2, 3); // three adds in one call
      stats.dirtyPagesRate.max(k * workers + index); // a compare-and-swap gauge
    }
    return { ok: true, backend: stats.backend, lane: stats.lane, api, scope };
  } catch (error) {
    return { ok: false, error: `${error?.name}: ${error?.message ?? error}` };
  }
}

const channels = [];
if (scope.self && typeof self.addEventListener === 'function' && typeof self.postMessage === 'function') {
  channels.push({ api: 'web', post: (message) => self.postMessage(message), listen: (handler) => self.addEventListener('message', (event) => handler(event.data)) });
}
if (parentPort) channels.push({ api: 'threads', post: (message) => parentPort.postMessage(message), listen: (handler) => parentPort.on('message', handler) });
for (const { api, post, listen } of channels) {
  listen(async (request) => {
    if (request?.api === api) post(await count(request, api));
  });
}
