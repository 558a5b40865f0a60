// Zero-page scan: Wasm v128 loop vs Wasm u64 loop vs JS Int32 loop, over a shared memory as the
// simulator's channels use it (one call per 4 KiB page). Prints a table; run after `npm run build`.
//
//   node bench/zero-scan.mjs [--mib 16] [--rounds 7]
import { compileScan, jsZeroScanner, wasmZeroScanner } from '../dist/simulate/zero-scan.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const PAGE = 4096;
const mib = arg('mib', 16);
const rounds = arg('rounds', 7);
const pages = (mib * 1024 * 1024) / PAGE;

const memory = new WebAssembly.Memory({ initial: mib * 16, maximum: mib * 16, shared: true });
const bytes = new Uint8Array(memory.buffer);

// Page contents of each case: what a scan of one page has to read before it can answer.
const cases = {
  'zero (whole page read)': () => bytes.fill(0),
  'last byte set (whole page read)': () => {
    bytes.fill(0);
    for (let p = 0; p < pages; p++) bytes[p * PAGE + PAGE - 1] = 1;
  },
  'random data (first bytes decide)': () => {
    let x = 0x9e3779b9;
    const words = new Uint32Array(memory.buffer);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      words[i] = x >>> 0 || 1;
    }
  },
};

const module = await compileScan();
if (!module) throw new Error('this engine cannot run the Wasm SIMD scan module');
const scanners = [
  await wasmZeroScanner(module, memory, PAGE, true),
  await wasmZeroScanner(module, memory, PAGE, false),
  jsZeroScanner(memory.buffer, PAGE),
];

let sink = 0;
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const rows = [];
for (const [name, fill] of Object.entries(cases)) {
  fill();
  const row = { case: name };
  for (const scanner of scanners) {
    const times = [];
    // One untimed round first: the JIT compiles and tiers up the loop, the pages come into cache.
    for (let r = -1; r < rounds; r++) {
      const t0 = performance.now();
      let zeros = 0;
      for (let p = 0; p < pages; p++) zeros += scanner.isZeroPage(p * PAGE) ? 1 : 0;
      if (r >= 0) times.push(performance.now() - t0);
      sink += zeros;
    }
    const nsPerPage = (median(times) * 1e6) / pages;
    row[`${scanner.kind} ns/page`] = nsPerPage.toFixed(1);
    row[`${scanner.kind} GB/s`] = (PAGE / nsPerPage).toFixed(1);
  }
  rows.push(row);
}
console.log(`zero-page scan, ${pages} pages of ${PAGE} B (${mib} MiB), median of ${rounds} rounds, ` +
  `Node ${process.versions.node}, ${new Date().toISOString().slice(0, 10)}`);
console.table(rows);
if (sink < 0) console.log(sink);
