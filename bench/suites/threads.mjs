// Threads: total adds per second of 1, 2 and 4 worker threads on one counter and on one counter each.
//
// One memory per backend, attached once by each of four long-lived workers
// (bench/thread-worker.mjs), with a lane and without one. A run zeroes the counters, lets the
// threads count themselves in at a start line, starts them all at once, stops them after a fixed
// time and checks that the counters hold exactly the adds the threads report (and that each laned
// thread had a lane of its own): the bench stops if not. The process's CPU time over the run says
// how many cores it really got on a shared machine. Each round runs every thread count and mode
// for every implementation, native C included, in a rotating order; the table shows medians over
// the rounds, and every ratio is computed inside one round before its median is taken.
import { setTimeout as sleep } from 'node:timers/promises';
import { num, times } from '../format.mjs';
import { medianOver } from '../measure.mjs';
import { ask, rotate, start } from '../workers.mjs';

const WORKER = new URL('../thread-worker.mjs', import.meta.url);

const THREADS = [1, 2, 4];
const MODES = ['same', 'different'];
/** The add-only counters the threads of a `different` run use, one each. */
const OWN_COUNTERS = ['zeroPages', 'normalPages', 'multifdBytes', 'precopyBytes'];
const THREAD_IMPLS = [
  { key: 'wasm', backend: 'wasm', lane: true, title: 'Wasm (M adds/s, cores)' },
  { key: 'js', backend: 'js', lane: true, title: 'pure JS (M adds/s, cores)' },
  { key: 'wasmNoLane', backend: 'wasm', lane: false, title: 'Wasm, no lane (M adds/s, cores)' },
  { key: 'jsNoLane', backend: 'js', lane: false, title: 'JS, no lane (M adds/s, cores)' },
];
/** Throughput ratios kept in the JSON: name → [run, implementation, ÷ run, ÷ implementation]. */
const RATIOS = {
  sameTwoVsOneWasm: ['same:2', 'wasm', 'same:1', 'wasm'],
  sameTwoVsOneCDifferent: ['different:2', 'c', 'different:1', 'c'],
  sameFourVsOneWasm: ['same:4', 'wasm', 'same:1', 'wasm'],
  sameTwoWasmVsJs: ['same:2', 'wasm', 'same:2', 'js'],
  sameVsDifferentTwoWasm: ['same:2', 'wasm', 'different:2', 'wasm'],
  sameTwoVsOneWasmNoLane: ['same:2', 'wasmNoLane', 'same:1', 'wasmNoLane'],
  sameTwoWasmVsC: ['same:2', 'wasm', 'same:2', 'c'],
};
/** Adds-per-CPU-second ratios, 2 threads on one counter ÷ 1: name → implementation. */
const PER_CORE_RATIOS = {
  perCoreTwoVsOneWasm: 'wasm',
  perCoreTwoVsOneWasmNoLane: 'wasmNoLane',
  perCoreTwoVsOneJs: 'js',
  perCoreTwoVsOneCSharedSlot: 'c',
};

/**
 * One timed run of `n` threads of a pool.
 * @param pool - the backend's counters and workers
 * @param impl - which implementation (lane or not)
 * @param mode - `same` (one counter) or `different` (one counter each)
 * @param n - how many threads
 * @param ms - how long the threads add
 * @returns adds per second over all threads, and the cores the process got
 * @throws Error when a counter does not hold exactly the adds made, or laned threads share a lane
 */
async function threadRun(pool, impl, mode, n, ms) {
  const { stats, workers } = pool;
  // No thread is adding between runs: reset() leaves every counter at exactly 0.
  stats.reset();
  const control = new SharedArrayBuffer(12);
  const flags = new Int32Array(control);
  const replies = workers.slice(0, n).map((worker, i) =>
    ask(worker, { lane: impl.lane, counter: mode === 'same' ? 'zeroPages' : OWN_COUNTERS[i], control }),
  );
  while (Atomics.load(flags, 0) < n) await Atomics.waitAsync(flags, 0, Atomics.load(flags, 0)).value;
  // CPU time of the whole process (this thread only sleeps meanwhile): how many cores the run got.
  const cpu0 = process.cpuUsage();
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  await sleep(ms);
  Atomics.store(flags, 2, 1);
  const results = await Promise.all(replies);
  const cpu = process.cpuUsage(cpu0);
  // Exactness: every add that a thread counted is in the counter, and nothing else.
  const counts = mode === 'same' ? [['zeroPages', results.reduce((s, r) => s + r.ops, 0)]] : results.map((r, i) => [OWN_COUNTERS[i], r.ops]);
  for (const [name, ops] of counts) {
    const got = stats[name].get();
    if (got !== BigInt(ops)) throw new Error(`bench stopped: ${impl.key} ${mode} ×${n}: ${name} is ${got} after ${ops} adds`);
  }
  if (impl.lane && (new Set(results.map((r) => r.lane)).size !== n || results.some((r) => r.lane < 0))) {
    throw new Error(`bench stopped: ${impl.key}: threads without a lane of their own`);
  }
  const seconds = (Math.max(...results.map((r) => r.t1)) - Math.min(...results.map((r) => r.t0))) / 1000;
  return { opsPerSecond: results.reduce((s, r) => s + r.ops, 0) / seconds, cores: (cpu.user + cpu.system) / 1e6 / seconds };
}

/**
 * Runs the rounds.
 * @param config - `warmupMs`, `threadMs`, `threadRounds`
 * @param context - the bench's `log` and `native`
 * @returns one object per round: `mode:threads` → implementation → `{ opsPerSecond, cores }`
 * @throws Error when a run lost adds or a worker failed
 */
async function measure(config, { log, native }) {
  const { MigrationStats } = await import('../../dist/index.js');
  log(`threads: starting 2 × ${Math.max(...THREADS)} workers (warm-up ${config.warmupMs} ms each)…`);
  // One memory per backend, attached once by each worker, as long-lived workers would.
  const pools = {};
  try {
    for (const backend of ['wasm', 'js']) {
      const stats = await MigrationStats.create({ backend, lane: false });
      const workers = await Promise.all(
        Array.from(
          { length: Math.max(...THREADS) },
          async () => (await start(WORKER, { backend, handle: stats.handle, warmupMs: config.warmupMs })).worker,
        ),
      );
      pools[backend] = { stats, workers };
    }
    const rounds = [];
    for (let r = 0; r < config.threadRounds; r++) {
      log(`threads: round ${r + 1}/${config.threadRounds}`);
      const round = {};
      for (const mode of MODES) {
        for (const n of THREADS) {
          const key = `${mode}:${n}`;
          round[key] = {};
          for (const impl of rotate([...THREAD_IMPLS, { key: 'c' }], r)) {
            if (impl.key === 'c') {
              if (native.skipped) continue;
              const out = native.run('threads', mode, n, config.threadMs);
              if (!out.exact) throw new Error(`bench stopped: native C ${mode} ×${n} lost adds`);
              round[key].c = { opsPerSecond: out.ops / out.seconds, cores: out.cpuSeconds / out.seconds };
            } else {
              round[key][impl.key] = await threadRun(pools[impl.backend], impl, mode, n, config.threadMs);
            }
          }
        }
      }
      rounds.push(round);
    }
    return rounds;
  } finally {
    await Promise.all(Object.values(pools).flatMap((p) => p.workers.map((w) => w.terminate())));
  }
}

export default {
  name: 'threads',
  usesNative: true,
  settings: { quick: { threadMs: 60, threadRounds: 2 }, full: { threadMs: 150, threadRounds: 9 } },
  /**
   * @param config - the run's settings
   * @returns what this suite runs, for the report's second line
   */
  describe: (config) => `${config.threadRounds} thread rounds of ${config.threadMs} ms`,
  /**
   * Measures every thread count and mode and summarises the rounds.
   * @param config - `warmupMs`, `threadMs`, `threadRounds`
   * @param context - the bench's `log` and `native`
   * @returns the suite's table, notes, ratios and rounds
   * @throws Error when a run lost adds or a worker failed
   */
  async run(config, context) {
    const rounds = await measure(config, context);
    const ops = (r, key, impl) => r[key][impl]?.opsPerSecond;
    const cores = (r, key, impl) => r[key][impl]?.cores;
    /** Adds per CPU-second: what each core did, whatever share of the machine the run got. */
    const perCore = (r, key, impl) => ops(r, key, impl) / cores(r, key, impl);
    /** Median over `among` of `of(a)` ÷ `of(b)`, each `[run, implementation]`. */
    const ratio = ([aKey, aImpl, bKey, bImpl], among = rounds, of = ops) =>
      medianOver(among, (r) => of(r, aKey, aImpl) / of(r, bKey, bImpl));
    /** Rounds where the 1-thread Wasm run had a core and the 2-thread run two (≥ 1.8). */
    const twoCoreRounds = rounds.filter((r) => cores(r, 'same:1', 'wasm') >= 0.9 && cores(r, 'same:2', 'wasm') >= 1.8);
    const ratios = {
      ...Object.fromEntries(Object.entries(RATIOS).map(([name, spec]) => [name, ratio(spec)])),
      ...Object.fromEntries(
        Object.entries(PER_CORE_RATIOS).map(([name, impl]) => [name, ratio(['same:2', impl, 'same:1', impl], rounds, perCore)]),
      ),
      sameTwoVsOneWasmTwoCores: ratio(['same:2', 'wasm', 'same:1', 'wasm'], twoCoreRounds),
      twoCoreRoundsWasm: twoCoreRounds.length,
    };
    const rows = MODES.flatMap((mode) =>
      THREADS.map((n) => [
        String(n),
        mode === 'same' ? 'one counter' : 'one counter each',
        ...[...THREAD_IMPLS.map((impl) => impl.key), 'c'].map((impl) => {
          const key = `${mode}:${n}`;
          return `${num(medianOver(rounds, (r) => ops(r, key, impl) / 1e6), 0)} (${num(medianOver(rounds, (r) => cores(r, key, impl)), 1)})`;
        }),
      ]),
    );
    return {
      title: [
        'Threads adding 1 in a loop, all started together (total M adds/s over all threads; in brackets the CPU cores the',
        'process got during the run, CPU time ÷ wall time: below the thread count, other programs had the rest of the machine)',
      ].join('\n'),
      table: { headers: ['threads', 'counter', ...THREAD_IMPLS.map((i) => i.title), 'native C (M adds/s, cores)'], rows, textColumns: 2 },
      notes: [
        'native C: "one counter" is one shared atomic slot; "one counter each" is one slot per thread, 128 bytes apart.',
        '',
        `2 threads vs 1 on one counter, Wasm, in the ${ratios.twoCoreRoundsWasm} of ${rounds.length} rounds where the 2 threads got ≥ 1.8 cores: ${times(ratios.sameTwoVsOneWasmTwoCores)}` +
          ` (what this machine gave native C, 2 vs 1 thread on their own slots: ${times(ratios.sameTwoVsOneCDifferent)})`,
        `Adds per CPU-second, 2 threads on one counter vs 1 (1.00× = no contention cost): Wasm ${times(ratios.perCoreTwoVsOneWasm)},` +
          ` pure JS ${times(ratios.perCoreTwoVsOneJs)}, Wasm without lanes ${times(ratios.perCoreTwoVsOneWasmNoLane)}, C on one shared slot ${times(ratios.perCoreTwoVsOneCSharedSlot)}`,
        `Other ratios: 4 threads vs 1 on one counter, Wasm ${times(ratios.sameFourVsOneWasm)}; 2 threads one counter vs one counter each, Wasm ${times(ratios.sameVsDifferentTwoWasm)};` +
          ` 2 vs 1 thread without lanes, Wasm ${times(ratios.sameTwoVsOneWasmNoLane)}`,
      ],
      ratios,
      data: rounds,
    };
  },
};
