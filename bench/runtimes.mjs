// `npm run bench -- --runtimes` (or `node bench/runtimes.mjs`): the single-thread add(1) and get()
// loops of both backends in every runtime the project supports (scripts/runtimes.mjs installs
// them from npm into .cache/runtimes/), in one run, with Wasm ÷ JS for each runtime. Prints a
// Markdown table with the machine, the runtimes' versions and the date, and writes every figure
// to a JSON file.
//
//   npm run bench -- --runtimes                 9 rounds (about 1 minute on 2 vCPU)
//   npm run bench -- --runtimes --quick         3 short rounds, for a first look
//   npm run bench -- --runtimes bun deno        some runtimes only
//   npm run bench -- --runtimes --json out.json (default: bench/results/runtimes-<date>.json)
//
// Method: each backend runs in a process of its own (bench/runtime-probe.mjs), so no JIT feedback
// is shared, and warms up first. A round runs each operation once per backend for the same fixed
// time, one process at a time, the backends' order alternating between rounds; each ratio is
// computed inside a round, and the table shows medians over the rounds. After every run the probe
// checks that the counter equals the adds it made.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { installAll, RUNTIMES, runArgs, runtimeEnv } from '../scripts/runtimes.mjs';
import { num, table, times } from './format.mjs';
import { median } from './measure.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2).filter((a) => a !== '--runtimes');
const quick = args.includes('--quick');
const jsonAt = args.indexOf('--json');
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const jsonPath = jsonAt >= 0 ? args[jsonAt + 1] : join(ROOT, 'bench', 'results', `runtimes-${stamp}.json`);
const ids = args.filter((a, i) => !a.startsWith('--') && (jsonAt < 0 || i !== jsonAt + 1));
const config = quick ? { warmupMs: 100, runMs: 40, rounds: 3 } : { warmupMs: 300, runMs: 120, rounds: 9 };
const OPS = ['add', 'get'];
const BACKENDS = ['wasm', 'js'];
const log = (line) => process.stderr.write(`${line}\n`);

function cpuModel() {
  const lscpu = spawnSync('lscpu', { encoding: 'utf8' });
  const line = lscpu.stdout?.split('\n').find((l) => l.startsWith('Model name:'));
  return line ? line.slice('Model name:'.length).trim() : cpus()[0]?.model ?? 'unknown CPU';
}

/** Starts a probe process and waits for it to be warm; returns a function that asks it for one run. */
async function startProbe(installed, backend) {
  const { runtime, binary } = installed;
  const child = spawn(binary, runArgs(runtime, join(ROOT, 'bench', 'runtime-probe.mjs'), ['--backend', backend, '--warmup', String(config.warmupMs)]), {
    cwd: ROOT,
    env: runtimeEnv(runtime),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const replies = [];
  const waiting = [];
  const failed = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`${runtime.id} ${backend} probe exited (${code}): ${stderr.trim()}`))));
  failed.catch(() => {});
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line);
    if (waiting.length) waiting.shift()(message);
    else replies.push(message);
  });
  const next = () => Promise.race([new Promise((resolve) => (replies.length ? resolve(replies.shift()) : waiting.push(resolve))), failed]);
  const ready = await next();
  if (!ready.ready) throw new Error(`${runtime.id} ${backend} probe: ${JSON.stringify(ready)}`);
  return {
    ready,
    async run(op) {
      child.stdin.write(`${JSON.stringify({ op, ms: config.runMs })}\n`);
      const reply = await next();
      if (reply.error) throw new Error(`${runtime.id} ${backend}: ${reply.error}`);
      return reply.nsPerOp;
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.stdin.end();
      }),
  };
}

async function benchRuntime(installed) {
  log(`${installed.runtime.name}: ${installed.version}`);
  const probes = {};
  for (const backend of BACKENDS) probes[backend] = await startProbe(installed, backend);
  const rounds = [];
  try {
    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 === 0 ? BACKENDS : [...BACKENDS].reverse();
      const figures = {};
      for (const op of OPS) {
        figures[op] = {};
        for (const backend of order) figures[op][backend] = await probes[backend].run(op);
        figures[op].ratio = figures[op].js / figures[op].wasm; // Wasm ÷ JS in speed
      }
      rounds.push(figures);
    }
  } finally {
    await Promise.all(BACKENDS.map((backend) => probes[backend].stop()));
  }
  const summary = {};
  for (const op of OPS) {
    summary[op] = {
      wasmNsPerOp: median(rounds.map((r) => r[op].wasm)),
      jsNsPerOp: median(rounds.map((r) => r[op].js)),
      wasmOverJs: median(rounds.map((r) => r[op].ratio)),
    };
  }
  return { id: installed.runtime.id, name: installed.runtime.name, version: installed.version, probe: probes.wasm.ready.runtime, rounds, summary };
}

const installed = await installAll(ids.length ? ids : RUNTIMES.map((r) => r.id), log);
const machine = { cpu: cpuModel(), vcpus: availableParallelism(), os: `${platform()} ${release()}`, loadBefore: loadavg()[0] };
const date = new Date().toISOString();
const results = [];
for (const runtime of installed) results.push(await benchRuntime(runtime));
machine.loadAfter = loadavg()[0];

const mops = (ns) => num(1e3 / ns, 0);
const rows = results.map((r) => [
  r.name,
  `${r.probe.version} (${r.probe.engine})`,
  mops(r.summary.add.wasmNsPerOp),
  mops(r.summary.add.jsNsPerOp),
  times(r.summary.add.wasmOverJs),
  mops(r.summary.get.wasmNsPerOp),
  mops(r.summary.get.jsNsPerOp),
  times(r.summary.get.wasmOverJs),
]);
console.log(
  `Single thread, M operations per second (median of ${config.rounds} rounds of ${config.runMs} ms per backend; Wasm ÷ JS computed inside each round)\n` +
    `${machine.cpu}, ${machine.vcpus} vCPU, ${machine.os}, ${date.slice(0, 10)}; 1-minute load ${machine.loadBefore.toFixed(2)} before, ${machine.loadAfter.toFixed(2)} after\n`,
);
console.log(
  table(['runtime', 'version', 'add(1) Wasm', 'add(1) JS', 'add Wasm ÷ JS', 'get() Wasm', 'get() JS', 'get Wasm ÷ JS'], rows, 2),
);

mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(jsonPath, `${JSON.stringify({ date, machine, config, results }, null, 2)}\n`);
log(`\nEvery figure, round by round: ${jsonPath}`);
