// A worker of the runtime suite that records into the histograms of a memory made by defineStats,
// which it joins with attachStats (the handle alone). Started as a node:worker_threads worker or a
// Web Worker, it answers each request on the channel the request names (`api`; see
// counting-worker.mjs), one reply per request: `attach`, then any number of `record`s.
import { parentPort } from 'node:worker_threads';
import { attachStats } from 'migration-stats';

/** The stats this worker joined, kept reachable so that it keeps its lane. */
let stats;

const handlers = {
  async attach({ handle, backend }) {
    stats = await attachStats(handle, { backend });
    return { backend: stats.backend, lane: stats.lane };
  },
  /** Records each value `times` times in each named histogram: a number where it is a safe integer on even rounds, a bigint otherwise. */
  record({ names, values, rounds, timer }) {
    const big = values.map(BigInt);
    const safe = big.map((v) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v));
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const histogram = stats.metric(name);
        for (const v of round % 2 === 0 ? safe : big) histogram.record(v);
      }
      stats.metric('records').add(values.length * names.length);
    }
    if (timer === undefined) return {};
    // One timing: end() records once and gives the same value when called again.
    const end = stats.metric(timer).startTimer();
    const first = end();
    const second = end();
    return { timed: [String(first), String(second)] };
  },
};

async function handle(request) {
  try {
    return { ok: true, ...(await handlers[request.op](request)) };
  } catch (error) {
    return { ok: false, error: `${error?.name}: ${error?.message ?? error}` };
  }
}

if (typeof self !== 'undefined' && typeof self.addEventListener === 'function' && typeof self.postMessage === 'function') {
  self.addEventListener('message', async (event) => {
    if (event.data?.api === 'web') self.postMessage(await handle(event.data));
  });
}
if (parentPort) {
  parentPort.on('message', async (request) => {
    if (request?.api === 'threads') parentPort.postMessage(await handle(request));
  });
}
