// Lanes after dead workers: thousands of workers start, claim a lane, add, and are terminated
// without close() (as a worker pool recycles its workers), and then the memory they used is
// measured against a fresh one in the same run: two threads adding to one counter, and get().
//
// Each worker's adds are counted, and the churned memory must hold exactly their sum before the
// measurements start; each two-thread run checks its own exact total too. Rounds alternate which
// memory goes first; ratios (churned ÷ fresh) are computed inside a round, then their median taken.
import { num, times } from '../format.mjs';
import { fixedTime, medianOver } from '../measure.mjs';
import { ask, start } from '../workers.mjs';

const CHURN_WORKER = new URL('../churn-worker.mjs', import.meta.url);
const THREAD_WORKER = new URL('../thread-worker.mjs', import.meta.url);
/** Workers alive at once while churning. */
const CONCURRENT = 8;
/** Adds each churned worker makes. */
const ADDS = 100;

/** Starts `count` workers on `stats`, `CONCURRENT` at a time, each terminated once it has added. */
async function churn(stats, count, log) {
  let started = 0;
  const lanes = new Map();
  const one = async () => {
    while (started < count) {
      const i = started++;
      const { worker, first } = await start(CHURN_WORKER, { handle: stats.handle, backend: i & 1 ? 'js' : 'wasm', adds: ADDS });
      lanes.set(first.lane, (lanes.get(first.lane) ?? 0) + 1);
      await worker.terminate();
      if ((i + 1) % 1000 === 0) log(`churn: ${i + 1}/${count} workers started and terminated`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT }, one));
  return lanes;
}

/** Two threads adding 1 to `zeroPages` of `stats` for `ms`: adds per second, exact total checked. */
async function twoThreads(pool, ms) {
  const { stats, workers } = pool;
  stats.reset();
  const control = new SharedArrayBuffer(12);
  const flags = new Int32Array(control);
  const replies = workers.map((worker) => ask(worker, { lane: true, counter: 'zeroPages', control }));
  while (Atomics.load(flags, 0) < workers.length) await Atomics.waitAsync(flags, 0, Atomics.load(flags, 0)).value;
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  await new Promise((resolve) => setTimeout(resolve, ms));
  Atomics.store(flags, 2, 1);
  const results = await Promise.all(replies);
  const ops = results.reduce((s, r) => s + r.ops, 0);
  const got = stats.zeroPages.get();
  if (got !== BigInt(ops)) throw new Error(`bench stopped: churn: zeroPages is ${got} after ${ops} adds`);
  const seconds = (Math.max(...results.map((r) => r.t1)) - Math.min(...results.map((r) => r.t0))) / 1000;
  return { opsPerSecond: ops / seconds, lanes: results.map((r) => r.lane) };
}

export default {
  name: 'churn',
  optIn: true,
  usesNative: false,
  settings: { quick: { churnWorkers: 1000, churnMs: 60, churnRounds: 3 }, full: { churnWorkers: 10000, churnMs: 150, churnRounds: 9 } },
  describe: (config) => `${config.churnWorkers} workers terminated without close(), then ${config.churnRounds} rounds of ${config.churnMs} ms`,
  /**
   * Churns one memory, then measures it against a fresh one.
   * @param config - `warmupMs`, `churnWorkers`, `churnMs`, `churnRounds`
   * @param context - the bench's `log` and `consume`
   * @returns the table of both memories and their ratios
   * @throws Error when a total is not exact
   */
  async run(config, { log, consume }) {
    const { MigrationStats } = await import('../../dist/index.js');
    const fresh = await MigrationStats.create({ lane: false });
    const churned = await MigrationStats.create({ lane: false });
    log(`churn: starting and terminating ${config.churnWorkers} workers (${CONCURRENT} at a time)…`);
    const lanes = await churn(churned, config.churnWorkers, log);
    const expected = BigInt(config.churnWorkers * ADDS);
    if (churned.zeroPages.get() !== expected) throw new Error(`bench stopped: churn: zeroPages is ${churned.zeroPages.get()}, expected ${expected}`);
    const pools = {};
    const workers = [];
    try {
      for (const [name, stats] of [['fresh', fresh], ['churned', churned]]) {
        const pair = [];
        for (let i = 0; i < 2; i++) pair.push((await start(THREAD_WORKER, { backend: 'wasm', handle: stats.handle, warmupMs: config.warmupMs })).worker);
        workers.push(...pair);
        pools[name] = { stats, workers: pair };
      }
      const readers = { fresh: await MigrationStats.attach(fresh.handle, { lane: false }), churned: await MigrationStats.attach(churned.handle, { lane: false }) };
      const rounds = [];
      for (let r = 0; r < config.churnRounds; r++) {
        log(`churn: round ${r + 1}/${config.churnRounds}`);
        const round = {};
        for (const name of r % 2 === 0 ? ['fresh', 'churned'] : ['churned', 'fresh']) {
          const add = await twoThreads(pools[name], config.churnMs);
          const zero = readers[name].zeroPages;
          const get = fixedTime((n) => {
            let sum = 0n;
            for (let i = 0; i < n; i++) sum += zero.get();
            return Number(sum & 0xffffn);
          }, config.churnMs, 1);
          consume(get.sink);
          round[name] = { add: add.opsPerSecond, get: get.nsPerOp, lanes: add.lanes };
        }
        rounds.push(round);
      }
      const at = (name, key) => medianOver(rounds, (round) => round[name][key]);
      const ratio = (key) => medianOver(rounds, (round) => round.churned[key] / round.fresh[key]);
      const laneCount = new Uint32Array(churned.handle.memory.buffer, 0, 16)[2];
      return {
        title: `Lanes after ${config.churnWorkers} workers were terminated without close() (Wasm; churned ÷ fresh inside a round)`,
        table: {
          headers: ['measure', 'fresh memory', 'churned memory', 'churned ÷ fresh (×)'],
          rows: [
            ['2 threads adding to one counter (M adds/s)', num(at('fresh', 'add') / 1e6), num(at('churned', 'add') / 1e6), times(ratio('add'))],
            ['get() in a third thread (ns/op)', num(at('fresh', 'get')), num(at('churned', 'get')), times(ratio('get'))],
          ],
        },
        notes: [
          `Lanes: ${laneCount} in each memory; the terminated workers left every lane marked, and later instances share lanes in turn.`,
          `Lanes the churned workers got (lane: workers): ${[...lanes].sort((a, b) => a[0] - b[0]).map(([lane, n]) => `${lane}: ${n}`).join(', ')}.`,
          `Exact: the churned memory held ${expected} adds (${config.churnWorkers} × ${ADDS}) before the runs, and each run its own total.`,
        ],
        ratios: { churnAddChurnedVsFresh: ratio('add'), churnGetChurnedVsFresh: ratio('get') },
        data: rounds,
      };
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  },
};
