// Histogram `record`, single thread: this library's shared histogram (log2 and exponential buckets,
// each on the Wasm core and in pure JS, and the batched writer) against hdr-histogram-js
// `recordValue` (its JS and its Wasm builds), the OpenTelemetry SDK's exponential histogram
// `Histogram.record` and prom-client `Histogram.observe`, in nanoseconds per record. Only this library's histogram is in
// shared memory (every thread records into one set of buckets); the others are private to a
// thread. Each implementation runs in a worker of its own; rounds rotate the order; every ratio is
// computed inside a round, then its median taken; each worker checks its exact count after each run.
import { num, times } from '../format.mjs';
import { medianOver } from '../measure.mjs';
import { ask, rotate, start } from '../workers.mjs';

const WORKER = new URL('../histogram-worker.mjs', import.meta.url);
const IMPLS = [
  ['wasm', 'record(), Wasm core'],
  ['js', 'record(), pure JS'],
  ['ll8-wasm', 'record(), 8 sub-buckets (log-linear), Wasm core'],
  ['ll8-js', 'record(), 8 sub-buckets (log-linear), pure JS'],
  ['exp-wasm', 'record(), exponential (scale 3), Wasm core'],
  ['exp-js', 'record(), exponential (scale 3), pure JS'],
  ['batched', 'batch().record(), flushed every 1024'],
  ['hdr-js', 'hdr-histogram-js recordValue (JS)'],
  ['hdr-wasm', 'hdr-histogram-js recordValue (Wasm)'],
  ['otel', 'OpenTelemetry SDK exponential Histogram.record'],
  ['prom', 'prom-client Histogram.observe'],
];
/** Ratios kept in the JSON and printed below the table: name → [numerator, denominator] (time ÷ time, inside a round). */
const PAIRS = {
  expVsLogLinearWasm: ['exp-wasm', 'wasm'],
  expVsLogLinearJs: ['exp-js', 'js'],
  expVsLogLinear8Wasm: ['exp-wasm', 'll8-wasm'],
  expVsLogLinear8Js: ['exp-js', 'll8-js'],
  jsVsWasm: ['js', 'wasm'],
  expJsVsExpWasm: ['exp-js', 'exp-wasm'],
  otelVsExpWasm: ['otel', 'exp-wasm'],
  otelVsExpJs: ['otel', 'exp-js'],
  hdrJsVsExpWasm: ['hdr-js', 'exp-wasm'],
  hdrWasmVsExpWasm: ['hdr-wasm', 'exp-wasm'],
};

export default {
  name: 'histogram',
  usesNative: false,
  settings: { quick: { histogramMs: 40, histogramRounds: 3 }, full: { histogramMs: 120, histogramRounds: 9 } },
  describe: (config) => `${config.histogramRounds} histogram rounds of ${config.histogramMs} ms per implementation`,
  /**
   * Measures every implementation's record.
   * @param config - `warmupMs`, `histogramMs`, `histogramRounds`
   * @param context - the bench's `log` and `consume`
   * @returns the table and the ratios
   * @throws Error when a count is not exact
   */
  async run(config, { log, consume }) {
    const workers = {};
    try {
      for (const [impl] of IMPLS) workers[impl] = (await start(WORKER, { impl })).worker;
      log(`histogram: warming up (${config.warmupMs} ms each)…`);
      for (const [impl] of IMPLS) await ask(workers[impl], { ms: config.warmupMs });
      const rounds = [];
      let otelScale;
      for (let r = 0; r < config.histogramRounds; r++) {
        log(`histogram: round ${r + 1}/${config.histogramRounds}`);
        const round = {};
        for (const impl of rotate(IMPLS.map(([i]) => i), r)) {
          const result = await ask(workers[impl], { ms: config.histogramMs });
          if (result.error) throw new Error(`bench stopped: ${result.error}`);
          round[impl] = result.nsPerOp;
          consume(result.sink);
          if (result.scale !== undefined) otelScale = result.scale;
        }
        rounds.push(round);
      }
      const at = (impl) => medianOver(rounds, (round) => round[impl]);
      const vsWasm = (impl) => medianOver(rounds, (round) => round[impl] / round.wasm);
      const pairs = Object.fromEntries(Object.entries(PAIRS).map(([name, [a, b]]) => [name, medianOver(rounds, (round) => round[a] / round[b])]));
      return {
        title: 'Histogram record, one thread (ns per record; "vs Wasm" is its time ÷ the Wasm core\'s, inside a round: >1× = slower than Wasm)',
        table: {
          headers: ['implementation', 'ns/record', 'vs Wasm (×)', 'shared across threads'],
          rows: IMPLS.map(([impl, title]) => [title, num(at(impl)), times(vsWasm(impl)), ['wasm', 'js', 'll8-wasm', 'll8-js', 'exp-wasm', 'exp-js', 'batched'].includes(impl) ? 'yes' : 'no']),
        },
        notes: [
          'Values: a fixed spread of 1 µs to 16 s; this library: 24 log2 buckets, or 8 sub-buckets per power of two (496), or exponential ones of scale 3 (8 per power of two, 515 cells), both over every u64;',
          `hdr-histogram-js: 2 significant digits up to 2^24; OpenTelemetry: its default of 160 buckets at most (scale ${otelScale ?? '–'} once it had these values); prom-client: the same 24 boundaries.`,
          `Ratios of times, inside a round (<1× = the first is faster): exponential ÷ log2 record, Wasm ${times(pairs.expVsLogLinearWasm)}, pure JS ${times(pairs.expVsLogLinearJs)};`,
          `exponential ÷ 8-sub-bucket record, Wasm ${times(pairs.expVsLogLinear8Wasm)}, pure JS ${times(pairs.expVsLogLinear8Js)};`,
          `pure JS ÷ Wasm, log2 ${times(pairs.jsVsWasm)}, exponential ${times(pairs.expJsVsExpWasm)}; OpenTelemetry ÷ exponential record, Wasm ${times(pairs.otelVsExpWasm)}, pure JS ${times(pairs.otelVsExpJs)};`,
          `hdr-histogram-js ÷ exponential record (Wasm), its JS build ${times(pairs.hdrJsVsExpWasm)}, its Wasm build ${times(pairs.hdrWasmVsExpWasm)}.`,
        ],
        ratios: { ...Object.fromEntries(IMPLS.map(([impl]) => [`histogram_${impl}_vs_wasm`, vsWasm(impl)])), ...pairs },
        data: rounds,
      };
    } finally {
      await Promise.all(Object.values(workers).map((w) => w.terminate()));
    }
  },
};
