// `npm run bench`: the Wasm backend against the pure-JS backend, a native C reference and
// prom-client, single-threaded and with 1, 2 and 4 worker threads, plus attach latency and the
// release module's size. Prints Markdown tables and writes every figure to a JSON file.
//
//   npm run bench                         full run (about 80 s on 2 vCPU)
//   npm run bench -- --quick              short rounds, for a first look (about 10 s)
//   npm run bench -- --json out.json      choose where the JSON goes (default bench/results/)
//   npm run bench -- --only single,attach run only these suites (bench/suites/index.mjs lists them)
//   npm run bench -- --only release       this build against a previous release (--release-ref, default v0.1.0)
//   npm run bench -- --only exposition    Prometheus text against --release-ref and prom-client (opt-in)
//   npm run bench -- --only simulate      the simulator against a first-touch copy: opt-in, never
//                                         part of a run without --only (GiBs of memory, a minute)
//   npm run bench -- --runtimes           add/get in Node 20/22/24/26, Bun and Deno (bench/runtimes.mjs)
//
// This file parses the flags, describes the machine, builds the C reference when a suite needs
// it, runs the selected suites one after the other in their listed order, and hands what they
// return to bench/report.mjs. How each suite measures (warm-up, fixed-time rounds in a rotating
// order, medians, ratios inside a round, exact totals) is described at the top of its module.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeMachine, loadAverage } from './machine.mjs';
import { buildNative } from './native.mjs';
import { reportText, writeJson } from './report.mjs';
import { SUITES } from './suites/index.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// `--runtimes`: the single-thread add/get table in every supported runtime instead (bench/runtimes.mjs).
if (process.argv.includes('--runtimes')) {
  await import('./runtimes.mjs');
  process.exit();
}
const log = (line) => process.stderr.write(`${line}\n`);
const USAGE =
  `Usage: npm run bench -- [--quick] [--json FILE] [--only ${SUITES.map((s) => s.name).join(',')}] [--release-ref REF]\n` +
  `(without --only: ${SUITES.filter((s) => !s.optIn).map((s) => s.name).join(', ')}; only with --only: ${SUITES.filter((s) => s.optIn).map((s) => s.name).join(', ')})`;
/** Settings every suite shares; each suite adds its own (`settings` in its module). */
const COMMON_SETTINGS = { quick: { warmupMs: 100 }, full: { warmupMs: 300 } };

/**
 * Reads the command line.
 * @param args - the arguments after the script's name
 * @returns `{ quick, jsonPath, suites }`, `jsonPath` undefined for the default
 * @throws Error naming the flag or suite name that is not understood
 */
function parseFlags(args) {
  const flags = { quick: false, jsonPath: undefined, suites: SUITES.filter((s) => !s.optIn), releaseRef: 'v0.1.0' };
  const value = (i) => {
    if (i >= args.length || args[i].startsWith('--')) throw new Error(`${args[i - 1]} needs a value`);
    return args[i];
  };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--quick') flags.quick = true;
    else if (args[i] === '--json') flags.jsonPath = value(++i);
    else if (args[i] === '--release-ref') flags.releaseRef = value(++i);
    else if (args[i] === '--only') {
      const names = value(++i).split(',');
      const unknown = names.filter((name) => !SUITES.some((s) => s.name === name));
      if (unknown.length > 0) throw new Error(`no suite named ${unknown.map((n) => `"${n}"`).join(', ')}`);
      flags.suites = SUITES.filter((s) => names.includes(s.name));
    } else throw new Error(`unknown argument "${args[i]}"`);
  }
  return flags;
}

let flags;
try {
  flags = parseFlags(process.argv.slice(2));
} catch (error) {
  log(`bench: ${error.message}\n${USAGE}`);
  process.exit(1);
}
for (const file of ['dist/index.js', 'dist/node/index.js', 'build/release.wasm']) {
  if (!existsSync(`${root}${file}`)) {
    log(`${file} is missing: run \`npm run build\` (or \`npm install\`) first.`);
    process.exit(1);
  }
}

const { quick, suites } = flags;
const mode = quick ? 'quick' : 'full';
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const jsonPath = flags.jsonPath ?? `${root}bench/results/bench-${stamp}.json`;
const config = Object.assign({ releaseRef: flags.releaseRef }, COMMON_SETTINGS[mode], ...suites.map((s) => s.settings[mode]));

const needsNative = suites.some((s) => s.usesNative);
const native = needsNative ? await buildNative() : { skipped: 'native C reference not built: no suite of this run uses it' };
if (needsNative && native.skipped) log(native.skipped);
// The machine may be shared: the 1-minute load average before and after the run says how busy.
const machine = describeMachine(native.compiler);

let sink = 0;
const context = {
  log,
  native,
  /** Adds a number that depends on the measured work to what goes into the JSON. */
  consume: (value) => {
    sink += value;
  },
};
const started = performance.now();
const results = [];
try {
  for (const suite of suites) results.push(await suite.run(config, context));
} finally {
  native.dispose?.();
}
machine.loadAfter = loadAverage();
const wasmBytes = statSync(`${root}build/release.wasm`).size;

process.stdout.write(`${reportText({ machine, mode, suites, config, results, wasmBytes })}\n`);
writeJson(jsonPath, { machine, mode, config, native: native.skipped ?? 'ok', wasmBytes, suites, results, sink });
log(`\nJSON: ${jsonPath} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
