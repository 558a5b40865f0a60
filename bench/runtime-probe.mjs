// One backend's single-thread add/get loops, in a process of its own, in whichever runtime runs it
// (Node, Bun, Deno): bench/runtimes.mjs starts one per backend and asks it, one line of JSON on
// stdin at a time, for a fixed-time run: { op, ms } → { op, nsPerOp, calls }. It warms up first,
// says { ready, runtime }, and checks after every run that no add was lost.
//
//   <runtime> bench/runtime-probe.mjs --backend wasm|js --warmup MS
import { createInterface } from 'node:readline';
import { MigrationStats } from '../dist/index.js';
import { fixedTime } from './measure.mjs';

const args = globalThis.Deno ? globalThis.Deno.args : process.argv.slice(2);
const option = (name) => args[args.indexOf(name) + 1];
const backend = option('--backend');
const warmupMs = Number(option('--warmup'));

function runtime() {
  if (globalThis.Deno) return { name: 'Deno', version: globalThis.Deno.version.deno, engine: `V8 ${globalThis.Deno.version.v8}` };
  if (globalThis.Bun) return { name: 'Bun', version: globalThis.Bun.version, engine: 'JavaScriptCore' };
  return { name: 'Node', version: process.versions.node, engine: `V8 ${process.versions.v8}` };
}

const stats = await MigrationStats.create({ backend });
if (stats.lane < 0) throw new Error('the bench instance got no lane');
const zero = stats.zeroPages;
let expected = 0n;

const OPS = {
  add(n) {
    for (let i = 0; i < n; i++) zero.add(1);
    expected += BigInt(n);
    return 0;
  },
  // Every result is compared with the previous one, so none can be dropped as unused.
  get(n) {
    let last = 0n;
    let backwards = 0;
    for (let i = 0; i < n; i++) {
      const value = zero.get();
      if (value < last) backwards++;
      last = value;
    }
    return backwards;
  },
};

function timed(op, ms) {
  const result = fixedTime(OPS[op], ms);
  if (result.sink !== 0) throw new Error(`${backend}: get() went backwards ${result.sink} times`);
  const got = zero.get();
  if (got !== expected) throw new Error(`${backend}: zeroPages is ${got} after ${expected} adds: adds were lost`);
  return result;
}

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
for (const op of Object.keys(OPS)) timed(op, warmupMs);
send({ ready: true, backend: stats.backend, runtime: runtime() });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  try {
    const { op, ms } = JSON.parse(line);
    const { nsPerOp, calls } = timed(op, ms);
    send({ op, nsPerOp, calls });
  } catch (error) {
    send({ error: String(error?.message ?? error) });
  }
});
lines.on('close', () => process.exit(0));
