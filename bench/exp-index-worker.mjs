// One core operation on one backend, in a worker of its own (so that its JIT feedback never mixes
// with another's), for bench/suites/exp-index.mjs: { ms } → { nsPerOp, sink, error }. Every
// implementation gets the same values (a fixed pseudo-random spread over 1 – 2^24, numbers) and
// checks after each run that its histogram counted exactly the records it made.
import { parentPort, workerData } from 'node:worker_threads';
import { fixedTime } from './measure.mjs';

const { backend, op } = workerData;
const VALUES = (() => {
  const out = new Float64Array(4096);
  let x = 12345;
  for (let i = 0; i < out.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = 1 + (x % (1 << (1 + (i % 24))));
  }
  return out;
})();

const { writeExpTable } = await import('../dist/backend/exp-index.js');
const { EXP_TABLE_BYTES } = await import('../dist/backend/abi.js');
const memory = new WebAssembly.Memory({ initial: 1, maximum: 1024, shared: true });
const TABLE = 64;
writeExpTable(memory.buffer, TABLE);
const core =
  backend === 'wasm'
    ? (await import('../dist/backend/wasm-core.js')).wasmCore(await (await import('../dist/backend/wasm-core.js')).compileCore(), memory)
    : new (await import('../dist/backend/js-core.js')).JsCore(memory.buffer);
// Log-linear: 8 sub-buckets per power of two (496 buckets); exponential: scale 3, every u64 (513 cells).
const BUCKET0 = TABLE + EXP_TABLE_BYTES;
const SUB_BITS = 3;
const BUCKETS = (65 - SUB_BITS) << SUB_BITS;
const SCALE = 3;
const CELLS = (64 << SCALE) + 1;
const cells = op === 'record' ? BUCKETS : CELLS;
const SUM = BUCKET0 + 8 * cells;

const runs = {
  record: (n) => {
    for (let i = 0; i < n; i++) core.recordNum(BUCKET0, SUM, BUCKETS, SUB_BITS, VALUES[i & 4095]);
    return 0;
  },
  recordExp: (n) => {
    for (let i = 0; i < n; i++) core.recordExpNum(BUCKET0, SUM, CELLS, TABLE, SCALE, -1, VALUES[i & 4095]);
    return 0;
  },
  expIndex: (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) sink += core.expIndexNum(TABLE, SCALE, VALUES[i & 4095]);
    return sink;
  },
};
const run = runs[op];
const u64 = new BigUint64Array(memory.buffer, BUCKET0, cells);
let recorded = 0;
parentPort.on('message', ({ ms }) => {
  const result = fixedTime(run, ms);
  let error = null;
  if (op !== 'expIndex') {
    recorded += result.calls;
    const seen = u64.reduce((a, b) => a + b, 0n);
    if (seen !== BigInt(recorded)) error = `${backend} ${op}: ${seen} counted after ${recorded} records`;
  }
  parentPort.postMessage({ nsPerOp: result.nsPerOp, sink: result.sink, error });
});
parentPort.postMessage({ ready: true });
