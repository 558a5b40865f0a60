// Histogram `record`, single thread: this library's shared histogram (Wasm core, pure JS, and the
// batched writer) against hdr-histogram-js `recordValue` (its JS and its Wasm builds) and
// prom-client `Histogram.observe`, in nanoseconds per record. Only this library's histogram is in
// shared memory (every thread records into one set of buckets); the others are private to a
// thread. Each implementation runs in a worker of its own; rounds rotate the order; every ratio is
// computed inside a round, then its median taken; each worker checks its exact count after each run.
import { num, times } from '../format.mjs';
import { medianOver } from '../measure.mjs';
import { ask, rotate, start } from '../workers.mjs';

const WORKER = new URL('../histogram-worker.mjs', import.meta.url);
const IMPLS = [
  ['wasm', 'record(), Wasm core'],
  ['js', 'record(), pure JS'],
  ['batched', 'batch().record(), flushed every 1024'],
  ['exp-wasm', 'record(), exponential scale 3, Wasm core'],
  ['exp-js', 'record(), exponential scale 3, pure JS'],
  ['hdr-js', 'hdr-histogram-js recordValue (JS)'],
  ['hdr-wasm', 'hdr-histogram-js recordValue (Wasm)'],
  ['prom', 'prom-client Histogram.observe'],
];

export default {
  name: 'histogram',
  usesNative: false,
  settings: { quick: { histogramMs: 40, histogramRounds: 3 }, full: { histogramMs: 120, histogramRounds: 9 } },
  describe: (config) => `${config.histogramRounds} histogram rounds of ${config.histogramMs} ms per implementation`,
  /**
   * Measures every implementation's record.
   * @param config - `warmupMs`, `histogramMs`, `histogramRounds`
   * @param context - the bench's `log` and `consume`
   * @returns the table and the ratios
   * @throws Error when a count is not exact
   */
  async run(config, { log, consume }) {
    const workers = {};
    try {
      for (const [impl] of IMPLS) workers[impl] = (await start(WORKER, { impl })).worker;
      log(`histogram: warming up (${config.warmupMs} ms each)…`);
      for (const [impl] of IMPLS) await ask(workers[impl], { ms: config.warmupMs });
      const rounds = [];
      for (let r = 0; r < config.histogramRounds; r++) {
        log(`histogram: round ${r + 1}/${config.histogramRounds}`);
        const round = {};
        for (const impl of rotate(IMPLS.map(([i]) => i), r)) {
          const result = await ask(workers[impl], { ms: config.histogramMs });
          if (result.error) throw new Error(`bench stopped: ${result.error}`);
          round[impl] = result.nsPerOp;
          consume(result.sink);
        }
        rounds.push(round);
      }
      const at = (impl) => medianOver(rounds, (round) => round[impl]);
      const vsWasm = (impl) => medianOver(rounds, (round) => round[impl] / round.wasm);
      return {
        title: 'Histogram record, one thread (ns per record; "vs Wasm" is its time ÷ the Wasm core\'s, inside a round: >1× = slower than Wasm)',
        table: {
          headers: ['implementation', 'ns/record', 'vs Wasm (×)', 'shared across threads'],
          rows: IMPLS.map(([impl, title]) => [title, num(at(impl)), times(vsWasm(impl)), ['wasm', 'js', 'batched', 'exp-wasm', 'exp-js'].includes(impl) ? 'yes' : 'no']),
        },
        notes: ['Values: a fixed spread of 1 µs to 16 s; this library: 24 log2 buckets (exponential: scale 3, 515 cells); hdr-histogram-js: 2 significant digits up to 2^24; prom-client: the same 24 boundaries.'],
        ratios: Object.fromEntries(IMPLS.map(([impl]) => [`histogram_${impl}_vs_wasm`, vsWasm(impl)])),
        data: rounds,
      };
    } finally {
      await Promise.all(Object.values(workers).map((w) => w.terminate()));
    }
  },
};
