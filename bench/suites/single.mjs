// Single thread: nanoseconds per operation of the public API, Wasm against pure JS, native C and prom-client.
//
// Each JS implementation runs in a worker of its own (bench/single-worker.mjs), so that its JIT
// feedback never mixes with another's; the C reference is a separate process. Every scenario of
// every implementation warms up first; then each round runs each scenario once per implementation
// for the same fixed time, the implementations in a rotating order, and C before the JS runs in
// even rounds and after them in odd ones. The table shows medians over the rounds; every ratio is
// computed inside one round before its median is taken. A worker checks after each run that the
// counters hold exactly the adds it made, and the bench stops when they do not; what each run
// returns from its loop is handed to `context.consume`, so that no loop's work can be dropped.
import { num, times } from '../format.mjs';
import { medianOver } from '../measure.mjs';
import { ask, rotate, start } from '../workers.mjs';

const WORKER = new URL('../single-worker.mjs', import.meta.url);

const SCENARIOS = [
  ['addNumber', 'add(1), number argument'],
  ['addBigint', 'add(1n), bigint argument'],
  ['ownAdd', 'add(1), defineStats counter, one memory in the thread'],
  ['vectorAdd', 'vector at(i).add(1), 8 elements in turn, the same'],
  ['batchAdd', 'batch().add(1), flushed every 1024 adds'],
  ['plainIncrement', 'plain JS number += 1 (one thread, not shared)'],
  ['get', 'get() → bigint'],
  ['getNumber', 'getNumber() → number'],
  ['rateExceeded', 'migrationRateExceeded()'],
  ['packetPerUpdate', 'addMultifdPacket(), per counter update (÷3)'],
  ['rawExportAdd', 'raw Wasm export addNum(addr, 1), no API'],
  ['rawExportPacketPerUpdate', 'raw Wasm export add3 (a packet), per update, no API'],
  ['emptyWasmCall', 'empty Wasm export call (boundary cost only)'],
];
const JS_IMPLS = ['wasm', 'js', 'prom'];
/** Scenarios run in a worker of their own per backend, with one memory only (single-worker.mjs `ownOnly`). */
const OWN_ONLY = new Set(['ownAdd', 'vectorAdd']);
/** The C measurement each scenario is compared with, where its name differs. */
const C_EQUIVALENT = {
  addNumber: 'add',
  addBigint: 'add',
  vectorAdd: 'add',
  ownAdd: 'add',
  rawExportAdd: 'add',
  rawExportPacketPerUpdate: 'packetPerUpdate',
  emptyWasmCall: 'add',
};
/** The ratios kept in the JSON: name → [other implementation, Wasm scenario, its scenario]. */
const RATIOS = {
  addNumberWasmVsJs: ['js', 'addNumber'],
  addBigintWasmVsJs: ['js', 'addBigint'],
  getWasmVsJs: ['js', 'get'],
  getNumberWasmVsJs: ['js', 'getNumber'],
  rateExceededWasmVsJs: ['js', 'rateExceeded'],
  packetWasmVsJs: ['js', 'packetPerUpdate'],
  addNumberWasmVsC: ['c', 'addNumber', 'add'],
  addBigintWasmVsC: ['c', 'addBigint', 'add'],
  packetWasmVsCPacket: ['c', 'packetPerUpdate'],
  packetWasmVsCAdd: ['c', 'packetPerUpdate', 'add'],
  rawExportAddVsC: ['c', 'rawExportAdd', 'add'],
  rawExportPacketVsC: ['c', 'rawExportPacketPerUpdate', 'packetPerUpdate'],
  emptyCallVsCAdd: ['c', 'emptyWasmCall', 'add'],
  addNumberWasmVsProm: ['prom', 'addNumber'],
  batchAddVsPlainIncrement: ['wasm', 'batchAdd', 'plainIncrement'],
};

/**
 * Runs the rounds.
 * @param config - `warmupMs`, `singleMs`, `singleRounds`
 * @param context - the bench's `log`, `native` and `consume`
 * @returns one object per round: implementation → scenario → ns per operation
 * @throws Error when a worker reports lost adds or fails
 */
async function measure(config, { log, native, consume }) {
  log(`single thread: warming up (${config.warmupMs} ms per scenario)…`);
  const workers = {};
  try {
    const ownWorkers = {};
    for (const impl of JS_IMPLS) workers[impl] = (await start(WORKER, { impl })).worker;
    for (const impl of ['wasm', 'js']) workers[`${impl}-own`] = ownWorkers[impl] = (await start(WORKER, { impl, ownOnly: true })).worker;
    const workerFor = (impl, scenario) => (OWN_ONLY.has(scenario) ? ownWorkers[impl] : workers[impl]);
    for (const impl of JS_IMPLS) for (const [scenario] of SCENARIOS) if (workerFor(impl, scenario)) await ask(workerFor(impl, scenario), { scenario, ms: config.warmupMs });
    if (!native.skipped) native.run('single', config.warmupMs);

    const rounds = [];
    for (let r = 0; r < config.singleRounds; r++) {
      log(`single thread: round ${r + 1}/${config.singleRounds}`);
      const round = { wasm: {}, js: {}, prom: {}, c: {} };
      const runNative = () => {
        if (!native.skipped) Object.assign(round.c, native.run('single', config.singleMs));
      };
      if (r % 2 === 0) runNative();
      for (const [scenario] of SCENARIOS) {
        for (const impl of rotate(JS_IMPLS, r)) {
          if (!workerFor(impl, scenario)) continue;
          const result = await ask(workerFor(impl, scenario), { scenario, ms: config.singleMs });
          if (result.skipped) continue;
          if (result.error) throw new Error(`bench stopped: ${result.error}`);
          round[impl][scenario] = result.nsPerOp;
          consume(result.sink);
        }
      }
      if (r % 2 === 1) runNative();
      // In C, get and getNumber are the same operation (a native read has no bigint).
      if (round.c.get !== undefined) round.c.getNumber = round.c.get;
      rounds.push(round);
    }
    return rounds;
  } finally {
    await Promise.all(Object.values(workers).map((w) => w.terminate()));
  }
}

export default {
  name: 'single',
  usesNative: true,
  settings: { quick: { singleMs: 40, singleRounds: 3 }, full: { singleMs: 120, singleRounds: 9 } },
  /**
   * @param config - the run's settings
   * @returns what this suite runs, for the report's second line
   */
  describe: (config) => `${config.singleRounds} single-thread rounds of ${config.singleMs} ms per scenario`,
  /**
   * Measures every scenario and summarises the rounds.
   * @param config - `warmupMs`, `singleMs`, `singleRounds`
   * @param context - the bench's `log`, `native` and `consume`
   * @returns the suite's table, notes, ratios and rounds
   * @throws Error when an implementation lost adds or a worker failed
   */
  async run(config, context) {
    const rounds = await measure(config, context);
    const at = (impl, scenario) => medianOver(rounds, (r) => r[impl][scenario]);
    /** How much faster Wasm's `scenario` is than `other`'s `otherScenario` (>1 = Wasm faster). */
    const wasmSpeedup = ([other, scenario, otherScenario = scenario]) =>
      medianOver(rounds, (r) => r[other][otherScenario] / r.wasm[scenario]);
    const ratios = Object.fromEntries(Object.entries(RATIOS).map(([name, spec]) => [name, wasmSpeedup(spec)]));
    /** What `at(i)` adds to an add on the same memory, in ns: vectorAdd − ownAdd inside a round, its median. */
    const atCost = (impl) => medianOver(rounds, (r) => r[impl].vectorAdd - r[impl].ownAdd);
    ratios.vectorAtNsWasm = atCost('wasm');
    ratios.vectorAtNsJs = atCost('js');
    const rows = SCENARIOS.map(([scenario, title]) => {
      const cScenario = C_EQUIVALENT[scenario] ?? scenario;
      const c = scenario === 'emptyWasmCall' ? NaN : at('c', cScenario);
      return [
        title,
        num(at('wasm', scenario)),
        num(at('js', scenario)),
        num(c),
        num(at('prom', scenario)),
        times(wasmSpeedup(['js', scenario])),
        times(wasmSpeedup(['c', scenario, cScenario])),
      ];
    });
    return {
      title: 'Single thread (ns per operation; ratios are speed-ups of Wasm, >1× = Wasm faster, each computed inside a round)',
      table: {
        headers: ['operation', 'Wasm (ns/op)', 'pure JS (ns/op)', 'native C (ns/op)', 'prom-client inc (ns/op)', 'Wasm vs JS (×)', 'Wasm vs C (×)'],
        rows,
      },
      notes: [
        'C: get and getNumber are the same read; the add rows and the empty call compare with one C atomic add, the packet rows with',
        'C doing the same three adds. The raw-export rows call the Wasm core directly, without the public API.',
        `C, lane owner's relaxed load+store instead of a locked add (not used by the library): ${num(at('c', 'relaxedLaneAdd'))} ns/op`,
        `vector at(i).add(1) − add(1) on a counter of the same memory, inside a round: Wasm ${num(ratios.vectorAtNsWasm)} ns, pure JS ${num(ratios.vectorAtNsJs)} ns`,
        'The two rows of one memory run in workers that have no other: a second memory in a thread is a second Wasm instance, which makes',
        'Stat64\'s call into the core polymorphic (src/backend/wasm-core.ts); the other rows\' workers hold MigrationStats\' memory and defineStats\'.',
        `Other ratios: add(1) Wasm vs prom-client ${times(ratios.addNumberWasmVsProm)}; empty Wasm call vs one C atomic add ${times(ratios.emptyCallVsCAdd)}; batch().add(1) vs a plain JS number += 1 ${times(ratios.batchAddVsPlainIncrement)} (speed of the batch ÷ speed of the plain add)`,
      ],
      ratios,
      data: rounds,
    };
  },
};
