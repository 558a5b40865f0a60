// One thread of the contention runs. It attaches once to its pool's counters, twice: with a lane and
// without one (both share this thread's Wasm instance, as a real worker's would). For each run it
// counts itself in at the start line, adds 1 to the counter it is told in chunks until the stop
// flag is set, and reports how many adds it did.
import { parentPort, workerData } from 'node:worker_threads';
import { MigrationStats } from '../dist/index.js';
import { wallMs } from './measure.mjs';

const { backend, handle, warmupMs } = workerData;
/** Adds between two looks at the stop flag (the C reference uses the same). */
const CHUNK = 1000;
const READY = 0;
const GO = 1;
const STOP = 2;

const laned = await MigrationStats.attach(handle, { backend });
const unlaned = await MigrationStats.attach(handle, { backend, lane: false });

function chunk(counter) {
  for (let i = 0; i < CHUNK; i++) counter.add(1);
}

// Warm-up on both instances (bench/suites/threads.mjs zeroes the counters before every run).
for (const stats of [laned, unlaned]) {
  const t0 = performance.now();
  while (performance.now() - t0 < warmupMs / 2) chunk(stats.zeroPages);
}

parentPort.on('message', ({ lane, counter, control }) => {
  const target = (lane ? laned : unlaned)[counter];
  const flags = new Int32Array(control);
  Atomics.add(flags, READY, 1);
  Atomics.notify(flags, READY);
  while (Atomics.load(flags, GO) === 0) Atomics.wait(flags, GO, 0);
  const t0 = wallMs();
  let ops = 0;
  while (Atomics.load(flags, STOP) === 0) {
    chunk(target);
    ops += CHUNK;
  }
  const t1 = wallMs();
  parentPort.postMessage({ ops, t0, t1, lane: lane ? laned.lane : unlaned.lane });
});
parentPort.postMessage({ ready: true });
