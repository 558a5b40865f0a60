// The exponential histograms' core operations, single thread, on both backends: `recordExp` (scale
// 3, every u64 in 513 cells) against the log-linear `record` (8 sub-buckets, 496 buckets), and the
// index alone (`expIndexNum`), in nanoseconds per call of the core, number arguments. Opt-in
// (`--only exp-index`). Each (backend, operation) runs in a worker of its own; rounds rotate the
// order; ratios are taken inside a round, then their median; each worker checks its exact count.
import { num, times } from '../format.mjs';
import { medianOver } from '../measure.mjs';
import { ask, rotate, start } from '../workers.mjs';

const WORKER = new URL('../exp-index-worker.mjs', import.meta.url);
const IMPLS = ['wasm', 'js'].flatMap((backend) => ['record', 'recordExp', 'expIndex'].map((op) => ({ key: `${backend}-${op}`, backend, op })));

export default {
  name: 'exp-index',
  usesNative: false,
  optIn: true,
  settings: { quick: { expMs: 40, expRounds: 3 }, full: { expMs: 120, expRounds: 9 } },
  describe: (config) => `${config.expRounds} rounds of ${config.expMs} ms per core operation`,
  /**
   * Measures each operation on each backend.
   * @param config - `warmupMs`, `expMs`, `expRounds`
   * @param context - the bench's `log` and `consume`
   * @returns the table and the ratios
   * @throws Error when a count is not exact
   */
  async run(config, { log, consume }) {
    const workers = {};
    try {
      for (const { key, backend, op } of IMPLS) workers[key] = (await start(WORKER, { backend, op })).worker;
      log(`exp-index: warming up (${config.warmupMs} ms each)…`);
      for (const { key } of IMPLS) await ask(workers[key], { ms: config.warmupMs });
      const rounds = [];
      for (let r = 0; r < config.expRounds; r++) {
        log(`exp-index: round ${r + 1}/${config.expRounds}`);
        const round = {};
        for (const key of rotate(IMPLS.map((i) => i.key), r)) {
          const result = await ask(workers[key], { ms: config.expMs });
          if (result.error) throw new Error(`bench stopped: ${result.error}`);
          round[key] = result.nsPerOp;
          consume(result.sink);
        }
        rounds.push(round);
      }
      const at = (key) => medianOver(rounds, (round) => round[key]);
      const vs = (key, base) => medianOver(rounds, (round) => round[key] / round[base]);
      const rows = ['wasm', 'js'].map((b) => [b, num(at(`${b}-record`)), num(at(`${b}-recordExp`)), times(vs(`${b}-recordExp`, `${b}-record`)), num(at(`${b}-expIndex`))]);
      return {
        title: 'Exponential record against log-linear record, core calls, one thread (ns per call)',
        table: { headers: ['backend', 'record (log-linear)', 'recordExp (scale 3)', 'recordExp ÷ record (×)', 'expIndexNum'], rows },
        notes: ['Values: a fixed spread of 1 to 2^24, as numbers; the cores called directly (no Histogram object, no argument checks).'],
        ratios: {
          exp_record_wasm_vs_loglinear: vs('wasm-recordExp', 'wasm-record'),
          exp_record_js_vs_loglinear: vs('js-recordExp', 'js-record'),
          exp_record_js_vs_wasm: vs('js-recordExp', 'wasm-recordExp'),
        },
        data: rounds,
      };
    } finally {
      await Promise.all(Object.values(workers).map((w) => w.terminate()));
    }
  },
};
