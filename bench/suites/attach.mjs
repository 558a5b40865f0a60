// Attach: how long a new worker takes from receiving a handle to its first add, on each backend:
// of a MigrationStats, and of stats of 10,000 series (10 vectors × 1,000 elements, by attachStats).
//
// Each sample is a fresh worker (bench/attach-worker.mjs) that has already imported the library
// (the package's Node build, dist/node/, as users load it), as any worker that uses it would
// have; the handle goes to it by postMessage, and it times the attach and one add from the
// message's arrival (and, on the wall clock, from the postMessage). Beside them, prom-client's
// first `Counter` use in a new worker that imported prom-client, timed the same way.
// The suite reports the median of the samples, and stops the bench unless the counter ends at
// exactly one add per sample.
import { num } from '../format.mjs';
import { median, wallMs } from '../measure.mjs';
import { ask, start } from '../workers.mjs';

const WORKER = new URL('../attach-worker.mjs', import.meta.url);
/** The definition of 10,000 series: 10 counters of 1,000 elements each. */
const SERIES = Object.fromEntries(Array.from({ length: 10 }, (_, v) => [`b${v}`, { kind: 'counter', unit: 'bytes', help: 'Bytes.', length: 1000, label: 'worker' }]));

export default {
  name: 'attach',
  usesNative: false,
  settings: { quick: { attachSamples: 7 }, full: { attachSamples: 21 } },
  /**
   * @param config - the run's settings
   * @returns what this suite runs, for the report's second line
   */
  describe: (config) => `${config.attachSamples} attach samples`,
  /**
   * Attaches `attachSamples` new workers per backend.
   * @param config - `attachSamples`
   * @param context - the bench's `log`
   * @returns the suite's note and, per backend, the medians and every sample
   * @throws Error when a sample lost its add or a worker failed
   */
  async run(config, { log }) {
    const { MigrationStats, defineStats } = await import('../../dist/node/index.js');
    const data = {};
    for (const [which, backend] of [['qemu', 'wasm'], ['qemu', 'js'], ['series', 'wasm'], ['series', 'js']]) {
      log(`attach: ${config.attachSamples} new workers on the ${backend} backend (${which})`);
      const stats = which === 'series' ? await defineStats(SERIES).create({ backend, lane: false }) : await MigrationStats.create({ backend, lane: false });
      const samples = [];
      for (let k = 0; k < config.attachSamples; k++) {
        const { worker } = await start(WORKER, {});
        try {
          samples.push(await ask(worker, { handle: stats.handle, backend, postedAt: wallMs(), which }));
        } finally {
          await worker.terminate();
        }
      }
      const added = which === 'series' ? stats.b0.at(0).get() : stats.zeroPages.get();
      if (added !== BigInt(config.attachSamples)) throw new Error('bench stopped: an attach sample lost its add');
      data[which === 'series' ? `series_${backend}` : backend] = {
        medianMs: median(samples.map((s) => s.attachMs)),
        medianFromPostMs: median(samples.map((s) => s.postedMs)),
        samplesMs: samples.map((s) => s.attachMs),
      };
    }
    log(`attach: ${config.attachSamples} new workers, prom-client's first Counter use`);
    const promSamples = [];
    for (let k = 0; k < config.attachSamples; k++) {
      const { worker } = await start(WORKER, { promClient: true });
      try {
        const sample = await ask(worker, { postedAt: wallMs() });
        if (sample.value !== 1) throw new Error('bench stopped: a prom-client sample lost its inc');
        promSamples.push(sample);
      } finally {
        await worker.terminate();
      }
    }
    data.promClient = {
      medianMs: median(promSamples.map((s) => s.attachMs)),
      medianFromPostMs: median(promSamples.map((s) => s.postedMs)),
      samplesMs: promSamples.map((s) => s.attachMs),
    };
    return {
      notes: [
        `Attach in a new worker (handle received → first add done, median of ${config.attachSamples}): Wasm ${num(data.wasm.medianMs, 3)} ms, pure JS ${num(data.js.medianMs, 3)} ms` +
          ` (from postMessage: Wasm ${num(data.wasm.medianFromPostMs, 3)} ms, JS ${num(data.js.medianFromPostMs, 3)} ms)`,
        `The same for stats of 10,000 series (10 vectors × 1,000, attachStats): Wasm ${num(data.series_wasm.medianMs, 3)} ms, pure JS ${num(data.series_js.medianMs, 3)} ms`,
        `prom-client's first Counter use in a new worker that imported it (message received → new Counter + inc() done, median of ${config.attachSamples}): ${num(data.promClient.medianMs, 3)} ms` +
          ` (from postMessage: ${num(data.promClient.medianFromPostMs, 3)} ms)`,
      ],
      ratios: {},
      data,
    };
  },
};
