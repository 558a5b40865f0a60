// One exact total across workers, read by the main thread: this library reads its shared memory
// (every worker's adds are already there); prom-client's per-thread registries must be asked for
// their metrics by message and merged with AggregatorRegistry.aggregate, as its cluster support does.
// 2, 4 and 8 workers each make the same known adds first, so both totals must come out exact; the
// time is per total (microseconds), the median over rounds of many totals each.
import { num, times } from '../format.mjs';
import { medianOver } from '../measure.mjs';
import { ask, start } from '../workers.mjs';
import { SCHEMA } from '../aggregate-schema.mjs';

const WORKER = new URL('../aggregate-worker.mjs', import.meta.url);
const COUNTS = [2, 4, 8];
const ADDS = 10_000;

/** Microseconds per call of `total` (async), over `repeat` calls; checks each result. */
async function timePerTotal(total, expected, repeat) {
  const t0 = performance.now();
  for (let i = 0; i < repeat; i++) {
    const got = await total();
    if (got !== expected) throw new Error(`bench stopped: aggregate: total is ${got}, expected ${expected}`);
  }
  return ((performance.now() - t0) * 1000) / repeat;
}

export default {
  name: 'aggregate',
  usesNative: false,
  settings: { quick: { aggregateRounds: 3, aggregateRepeat: 20 }, full: { aggregateRounds: 9, aggregateRepeat: 100 } },
  describe: (config) => `${config.aggregateRounds} rounds of ${config.aggregateRepeat} cross-worker totals at ${COUNTS.join(', ')} workers`,
  /**
   * Measures both ways of reading one total at each worker count.
   * @param config - `aggregateRounds`, `aggregateRepeat`
   * @param context - the bench's `log`
   * @returns the table and the ratios
   * @throws Error when a total is not exact
   */
  async run(config, { log }) {
    const { defineStats } = await import('../../dist/index.js');
    const { AggregatorRegistry } = await import('prom-client');
    const rows = [];
    const ratios = {};
    const data = {};
    for (const n of COUNTS) {
      log(`aggregate: ${n} workers`);
      const stats = await defineStats(SCHEMA).create({ lane: false });
      const workers = [];
      try {
        for (let i = 0; i < n; i++) {
          workers.push((await start(WORKER, { mode: 'shared', handle: stats.handle, adds: ADDS, index: i })).worker);
          workers.push((await start(WORKER, { mode: 'prom', adds: ADDS, index: i })).worker);
        }
        const prom = workers.filter((_, i) => i % 2 === 1);
        const expected = BigInt(n * ADDS * 4096);
        const shared = async () => stats.bytesCopied.get() + stats.bytesPerWorker.total() - expected;
        const merged = async () => {
          const registry = AggregatorRegistry.aggregate(await Promise.all(prom.map((w) => ask(w, 'metrics'))));
          const bytes = (await registry.getSingleMetric('bytes_copied_total').get()).values[0].value;
          const perWorker = (await registry.getSingleMetric('bytes_per_worker_total').get()).values.reduce((sum, v) => sum + v.value, 0);
          return BigInt(bytes + perWorker) - expected;
        };
        const rounds = [];
        for (let r = 0; r < config.aggregateRounds; r++) {
          const round = {};
          for (const [name, total] of r % 2 === 0 ? [['shared', shared], ['prom', merged]] : [['prom', merged], ['shared', shared]]) {
            round[name] = await timePerTotal(total, expected, config.aggregateRepeat);
          }
          rounds.push(round);
        }
        const at = (name) => medianOver(rounds, (round) => round[name]);
        const ratio = medianOver(rounds, (round) => round.prom / round.shared);
        ratios[`aggregate${n}PromVsShared`] = ratio;
        data[n] = rounds;
        rows.push([String(n), num(at('shared')), num(at('prom')), times(ratio)]);
      } finally {
        await Promise.all(workers.map((w) => w.terminate()));
      }
    }
    return {
      title: 'One exact total across workers, read by the main thread (µs per total; both totals checked against the adds made)',
      table: {
        headers: ['workers', 'shared memory (µs)', 'prom-client, asked by message + aggregate (µs)', 'prom-client ÷ shared (×)'],
        rows,
      },
      notes: [`Each worker made ${ADDS} adds to a counter and to its element of an 8-element vector; a total is both read and summed.`],
      ratios,
      data,
    };
  },
};
