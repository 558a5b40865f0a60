// `npm run bench`: the Wasm backend against the pure-JS backend, a native C reference and
// prom-client, single-threaded and with 1, 2 and 4 worker threads, plus attach latency and the
// release module's size. Prints Markdown tables and writes every figure to a JSON file.
//
//   npm run bench                         full run (about 80 s on 2 vCPU)
//   npm run bench -- --quick              short rounds, for a first look (about 10 s)
//   npm run bench -- --json out.json      choose where the JSON goes (default bench/results/)
//   npm run bench -- --runtimes           add/get in Node 20/22/24/26, Bun and Deno (bench/runtimes.mjs)
//
// Method: every implementation warms up first; then each round runs every scenario of every
// implementation for the same fixed time, implementations in a rotating order; the tables show
// medians over the rounds, and every ratio is computed inside one round, then its median is taken.
// Results are consumed (summed, compared) and sent back to this thread; every run that adds checks
// that the counter ends exactly at the number of adds performed, and stops the bench if not.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, platform, release } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { num, table, times } from './format.mjs';
import { median, wallMs } from './measure.mjs';
import { buildNative } from './native.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
// `--runtimes`: the single-thread add/get table in every supported runtime instead (bench/runtimes.mjs).
if (args.includes('--runtimes')) {
  await import('./runtimes.mjs');
  process.exit();
}
const quick = args.includes('--quick');
const jsonArg = args.indexOf('--json');
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const jsonPath = jsonArg >= 0 ? args[jsonArg + 1] : `${root}bench/results/bench-${stamp}.json`;

const config = quick
  ? { warmupMs: 100, singleMs: 40, singleRounds: 3, threadMs: 60, threadRounds: 2, attachSamples: 7 }
  : { warmupMs: 300, singleMs: 120, singleRounds: 9, threadMs: 150, threadRounds: 9, attachSamples: 21 };

const log = (line) => process.stderr.write(`${line}\n`);

for (const file of ['dist/index.js', 'build/release.wasm']) {
  if (!existsSync(`${root}${file}`)) {
    log(`${file} is missing: run \`npm run build\` (or \`npm install\`) first.`);
    process.exit(1);
  }
}

// ─── machine ──────────────────────────────────────────────────────────────────────────────────

function cpuModel() {
  const lscpu = spawnSync('lscpu', { encoding: 'utf8' });
  const line = lscpu.stdout?.split('\n').find((l) => l.startsWith('Model name:'));
  return line ? line.slice('Model name:'.length).trim() : cpus()[0]?.model ?? 'unknown CPU';
}

const native = buildNative();
if (native.skipped) log(native.skipped);
const machine = {
  cpu: cpuModel(),
  vcpus: availableParallelism(),
  os: `${platform()} ${release()}`,
  node: process.version,
  v8: process.versions.v8,
  cc: native.compiler ?? null,
  date: new Date().toISOString(),
  // The machine may be shared: the 1-minute load average before and after the run says how busy.
  loadBefore: loadavg()[0],
  loadAfter: NaN,
};

// ─── workers ──────────────────────────────────────────────────────────────────────────────────

/** Starts a worker and resolves once it has posted its first message. */
async function start(file, workerData) {
  const worker = new Worker(new URL(file, import.meta.url), { workerData });
  const first = await next(worker);
  return { worker, first };
}

/** The next message of a worker; rejects on an error or an exit. */
function next(worker) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      off();
      resolve(m);
    };
    const onError = (e) => {
      off();
      reject(e);
    };
    const onExit = (code) => {
      off();
      reject(new Error(`worker exited (${code})`));
    };
    const off = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

async function ask(worker, message) {
  const reply = next(worker);
  worker.postMessage(message);
  return reply;
}

/** Rotates a list by `k` places: each round starts with a different implementation. */
const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);

let sink = 0;

// ─── single thread ────────────────────────────────────────────────────────────────────────────

const SCENARIOS = [
  ['addNumber', 'add(1), number argument'],
  ['addBigint', 'add(1n), bigint argument'],
  ['get', 'get() → bigint'],
  ['getNumber', 'getNumber() → number'],
  ['rateExceeded', 'migrationRateExceeded()'],
  ['packetPerUpdate', 'addMultifdPacket(), per counter update (÷3)'],
  ['rawExportAdd', 'raw Wasm export addNum(addr, 1), no API'],
  ['rawExportPacketPerUpdate', 'raw Wasm export addPacket, per update, no API'],
  ['emptyWasmCall', 'empty Wasm export call (boundary cost only)'],
];
const JS_IMPLS = ['wasm', 'js', 'prom'];
/** The C measurement each scenario is compared with, where its name differs. */
const C_EQUIVALENT = {
  addNumber: 'add',
  addBigint: 'add',
  rawExportAdd: 'add',
  rawExportPacketPerUpdate: 'packetPerUpdate',
  emptyWasmCall: 'add',
};

async function singleThread() {
  log(`single thread: warming up (${config.warmupMs} ms per scenario)…`);
  const workers = {};
  for (const impl of JS_IMPLS) workers[impl] = (await start('./single-worker.mjs', { impl })).worker;
  for (const impl of JS_IMPLS) for (const [scenario] of SCENARIOS) await ask(workers[impl], { scenario, ms: config.warmupMs });
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
        const result = await ask(workers[impl], { scenario, ms: config.singleMs });
        if (result.skipped) continue;
        if (result.error) throw new Error(`bench stopped: ${result.error}`);
        round[impl][scenario] = result.nsPerOp;
        sink += result.sink;
      }
    }
    if (r % 2 === 1) runNative();
    // In C, get and getNumber are the same operation (a native read has no bigint).
    if (round.c.get !== undefined) round.c.getNumber = round.c.get;
    rounds.push(round);
  }
  await Promise.all(Object.values(workers).map((w) => w.terminate()));
  return rounds;
}

// ─── threads ──────────────────────────────────────────────────────────────────────────────────

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

async function threadRun(pool, impl, mode, n) {
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
  await sleep(config.threadMs);
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

async function threads() {
  const { MigrationStats } = await import('../dist/index.js');
  log(`threads: starting 2 × ${Math.max(...THREADS)} workers (warm-up ${config.warmupMs} ms each)…`);
  // One memory per backend, attached once by each worker, as long-lived workers would.
  const pools = {};
  for (const backend of ['wasm', 'js']) {
    const stats = await MigrationStats.create({ backend, lane: false });
    const workers = await Promise.all(
      Array.from(
        { length: Math.max(...THREADS) },
        async () => (await start('./thread-worker.mjs', { backend, handle: stats.handle, warmupMs: config.warmupMs })).worker,
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
        const impls = rotate([...THREAD_IMPLS, { key: 'c' }], r);
        for (const impl of impls) {
          if (impl.key === 'c') {
            if (native.skipped) continue;
            const out = native.run('threads', mode, n, config.threadMs);
            if (!out.exact) throw new Error(`bench stopped: native C ${mode} ×${n} lost adds`);
            round[key].c = { opsPerSecond: out.ops / out.seconds, cores: out.cpuSeconds / out.seconds };
          } else {
            round[key][impl.key] = await threadRun(pools[impl.backend], impl, mode, n);
          }
        }
      }
    }
    rounds.push(round);
  }
  await Promise.all(Object.values(pools).flatMap((p) => p.workers.map((w) => w.terminate())));
  return rounds;
}

// ─── attach ───────────────────────────────────────────────────────────────────────────────────

async function attach() {
  const { MigrationStats } = await import('../dist/index.js');
  const out = {};
  for (const backend of ['wasm', 'js']) {
    log(`attach: ${config.attachSamples} new workers on the ${backend} backend`);
    const stats = await MigrationStats.create({ backend, lane: false });
    const samples = [];
    for (let k = 0; k < config.attachSamples; k++) {
      const { worker } = await start('./attach-worker.mjs', {});
      const result = await ask(worker, { handle: stats.handle, backend, postedAt: wallMs() });
      samples.push(result);
      await worker.terminate();
    }
    if (stats.zeroPages.get() !== BigInt(config.attachSamples)) throw new Error('bench stopped: an attach sample lost its add');
    out[backend] = {
      medianMs: median(samples.map((s) => s.attachMs)),
      medianFromPostMs: median(samples.map((s) => s.postedMs)),
      samplesMs: samples.map((s) => s.attachMs),
    };
  }
  return out;
}

// ─── run, summarise, print ────────────────────────────────────────────────────────────────────

const started = performance.now();
const single = await singleThread();
const threaded = await threads();
const attached = await attach();
native.dispose?.();
machine.loadAfter = loadavg()[0];
const wasmBytes = statSync(`${root}build/release.wasm`).size;

/** Median over rounds of `f(round)`, skipping rounds where it is not a number. */
const over = (rounds, f) => median(rounds.map((round) => f(round)));
const singleMedian = (impl, scenario) => over(single, (r) => r[impl][scenario]);
const ops = (r, key, impl) => r[key][impl]?.opsPerSecond;
const cores = (r, key, impl) => r[key][impl]?.cores;
/** Adds per CPU-second: what each core did, whatever share of the machine the run got. */
const perCore = (r, key, impl) => ops(r, key, impl) / cores(r, key, impl);
const threadMedian = (key, impl) => over(threaded, (r) => ops(r, key, impl) / 1e6);
const coresMedian = (key, impl) => over(threaded, (r) => cores(r, key, impl));
/** Rounds where the 1-thread run had a core and the 2-thread run two (≥ 1.8) for `impl`. */
const twoCoreRounds = (impl) => threaded.filter((r) => cores(r, 'same:1', impl) >= 0.9 && cores(r, 'same:2', impl) >= 1.8);

/** Median over the rounds of how much faster Wasm's `scenario` is than `other`'s (>1 = Wasm faster). */
const wasmSpeedup = ([other, scenario, otherScenario = scenario]) => over(single, (r) => r[other][otherScenario] / r.wasm[scenario]);
/** Median over the rounds of throughput `a` ÷ throughput `b`, each `[runKey, impl]`. */
const threadRatio = ([aKey, aImpl, bKey, bImpl], rounds = threaded, of = ops) =>
  over(rounds, (r) => of(r, aKey, aImpl) / of(r, bKey, bImpl));
const wasmTwoCoreRounds = twoCoreRounds('wasm');
const ratios = {
  ...Object.fromEntries(
    Object.entries({
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
    }).map(([name, spec]) => [name, wasmSpeedup(spec)]),
  ),
  ...Object.fromEntries(
    Object.entries({
      sameTwoVsOneWasm: ['same:2', 'wasm', 'same:1', 'wasm'],
      sameTwoVsOneCDifferent: ['different:2', 'c', 'different:1', 'c'],
      sameFourVsOneWasm: ['same:4', 'wasm', 'same:1', 'wasm'],
      sameTwoWasmVsJs: ['same:2', 'wasm', 'same:2', 'js'],
      sameVsDifferentTwoWasm: ['same:2', 'wasm', 'different:2', 'wasm'],
      sameTwoVsOneWasmNoLane: ['same:2', 'wasmNoLane', 'same:1', 'wasmNoLane'],
      sameTwoWasmVsC: ['same:2', 'wasm', 'same:2', 'c'],
    }).map(([name, spec]) => [name, threadRatio(spec)]),
  ),
  ...Object.fromEntries(
    Object.entries({
      perCoreTwoVsOneWasm: 'wasm',
      perCoreTwoVsOneWasmNoLane: 'wasmNoLane',
      perCoreTwoVsOneJs: 'js',
      perCoreTwoVsOneCSharedSlot: 'c',
    }).map(([name, impl]) => [name, threadRatio(['same:2', impl, 'same:1', impl], threaded, perCore)]),
  ),
  sameTwoVsOneWasmTwoCores: threadRatio(['same:2', 'wasm', 'same:1', 'wasm'], wasmTwoCoreRounds),
  twoCoreRoundsWasm: wasmTwoCoreRounds.length,
};

const targets = [
  ['single-thread `add(1)`, Wasm vs pure JS', '≥ 1.4×', ratios.addNumberWasmVsJs, 1.4],
  ['single-thread `add(1)`, Wasm vs native C', '≥ 0.70×', ratios.addNumberWasmVsC, 0.7],
  ['`addMultifdPacket` per counter update vs native C (same 3 adds)', '≥ 0.90×', ratios.packetWasmVsCPacket, 0.9],
  ['`getNumber`, Wasm vs pure JS', '≥ 2×', ratios.getNumberWasmVsJs, 2],
  ['2 threads on one counter vs 1 thread, Wasm', '≥ 1.7×', ratios.sameTwoVsOneWasm, 1.7],
  ['2 threads on one counter, Wasm vs pure JS', '≥ 1.3×', ratios.sameTwoWasmVsJs, 1.3],
].map(([measure, target, value, min]) => ({ measure, target, measured: times(value), value, met: value >= min, margin: value / min - 1 }));
targets.push({
  measure: 'release `.wasm` size',
  target: '≤ 4 KB',
  measured: `${wasmBytes} B`,
  value: wasmBytes,
  met: wasmBytes <= 4096,
  margin: 4096 / wasmBytes - 1,
});
targets.push({
  measure: 'attach in a new worker, handle received → first add done (median)',
  target: '≤ 1 ms',
  measured: `${num(attached.wasm.medianMs, 3)} ms`,
  value: attached.wasm.medianMs,
  met: attached.wasm.medianMs <= 1,
  margin: 1 / attached.wasm.medianMs - 1,
});
/** How far a result is from its target: +12% = 12% better than needed, −30% = 30% short. */
const margin = (m) => (Number.isFinite(m) ? `${m >= 0 ? '+' : '−'}${Math.abs(m * 100).toFixed(1)}%` : '–');

const singleRows = SCENARIOS.map(([scenario, title]) => {
  const w = singleMedian('wasm', scenario);
  const j = singleMedian('js', scenario);
  const c = scenario === 'emptyWasmCall' ? NaN : singleMedian('c', C_EQUIVALENT[scenario] ?? scenario);
  const p = singleMedian('prom', scenario);
  const vsJs = wasmSpeedup(['js', scenario]);
  const vsC = wasmSpeedup(['c', scenario, C_EQUIVALENT[scenario] ?? scenario]);
  return [title, num(w), num(j), num(c), num(p), times(vsJs), times(vsC)];
});
const threadRows = MODES.flatMap((mode) =>
  THREADS.map((n) => [
    String(n),
    mode === 'same' ? 'one counter' : 'one counter each',
    ...[...THREAD_IMPLS.map((impl) => impl.key), 'c'].map(
      (impl) => `${num(threadMedian(`${mode}:${n}`, impl), 0)} (${num(coresMedian(`${mode}:${n}`, impl), 1)})`,
    ),
  ]),
);

const header = `migration-stats bench, ${machine.date.slice(0, 10)}: ${machine.cpu}, ${machine.vcpus} vCPU, ${machine.os}, Node ${machine.node} (V8 ${machine.v8})${machine.cc ? `, ${machine.cc}` : ''}`;
const text = [
  header,
  `${quick ? 'quick' : 'full'} run: ${config.singleRounds} single-thread rounds of ${config.singleMs} ms per scenario, ${config.threadRounds} thread rounds of ${config.threadMs} ms, ${config.attachSamples} attach samples; medians` +
    `; 1-min load average ${num(machine.loadBefore)} before, ${num(machine.loadAfter)} after`,
  '',
  'Single thread (ns per operation; ratios are speed-ups of Wasm, >1× = Wasm faster, each computed inside a round)',
  '',
  table(['operation', 'Wasm (ns/op)', 'pure JS (ns/op)', 'native C (ns/op)', 'prom-client inc (ns/op)', 'Wasm vs JS (×)', 'Wasm vs C (×)'], singleRows),
  '',
  'C: get and getNumber are the same read; the add rows and the empty call compare with one C atomic add, the packet rows with',
  'C doing the same three adds. The raw-export rows call the Wasm core directly, without the public API.',
  `C, lane owner's relaxed load+store instead of a locked add (not used by the library): ${num(singleMedian('c', 'relaxedLaneAdd'))} ns/op`,
  '',
  'Threads adding 1 in a loop, all started together (total M adds/s over all threads; in brackets the CPU cores the',
  'process got during the run, CPU time ÷ wall time: below the thread count, other programs had the rest of the machine)',
  '',
  table(['threads', 'counter', ...THREAD_IMPLS.map((i) => i.title), 'native C (M adds/s, cores)'], threadRows, 2),
  '',
  'native C: "one counter" is one shared atomic slot; "one counter each" is one slot per thread, 128 bytes apart.',
  '',
  `Attach in a new worker (handle received → first add done, median of ${config.attachSamples}): Wasm ${num(attached.wasm.medianMs, 3)} ms, pure JS ${num(attached.js.medianMs, 3)} ms` +
    ` (from postMessage: Wasm ${num(attached.wasm.medianFromPostMs, 3)} ms, JS ${num(attached.js.medianFromPostMs, 3)} ms)`,
  `Release .wasm: ${wasmBytes} bytes`,
  '',
  'Targets (issue 4)',
  '',
  table(['measure', 'target', 'measured', 'met', 'margin (%)'], targets.map((t) => [t.measure, t.target, t.measured, t.met ? 'yes' : 'no', margin(t.margin)]), 4),
  '',
  `2 threads vs 1 on one counter, Wasm, in the ${ratios.twoCoreRoundsWasm} of ${threaded.length} rounds where the 2 threads got ≥ 1.8 cores: ${times(ratios.sameTwoVsOneWasmTwoCores)}` +
    ` (what this machine gave native C, 2 vs 1 thread on their own slots: ${times(ratios.sameTwoVsOneCDifferent)})`,
  `Adds per CPU-second, 2 threads on one counter vs 1 (1.00× = no contention cost): Wasm ${times(ratios.perCoreTwoVsOneWasm)},` +
    ` pure JS ${times(ratios.perCoreTwoVsOneJs)}, Wasm without lanes ${times(ratios.perCoreTwoVsOneWasmNoLane)}, C on one shared slot ${times(ratios.perCoreTwoVsOneCSharedSlot)}`,
  `Other ratios: 4 threads vs 1 on one counter, Wasm ${times(ratios.sameFourVsOneWasm)}; 2 threads one counter vs one counter each, Wasm ${times(ratios.sameVsDifferentTwoWasm)};` +
    ` 2 vs 1 thread without lanes, Wasm ${times(ratios.sameTwoVsOneWasmNoLane)}; add(1) Wasm vs prom-client ${times(ratios.addNumberWasmVsProm)};` +
    ` empty Wasm call vs one C atomic add ${times(ratios.emptyCallVsCAdd)}`,
].join('\n');
process.stdout.write(`${text}\n`);

mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(
  jsonPath,
  `${JSON.stringify(
    { machine, mode: quick ? 'quick' : 'full', config, native: native.skipped ?? 'ok', wasmBytes, ratios, targets, single, threads: threaded, attach: attached, sink },
    null,
    2,
  )}\n`,
);
log(`\nJSON: ${jsonPath} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
