// Exposition: the Prometheus text of many series, written by `prometheusText` of this build, by the
// same function of a base version (`--release-ref`, built from git as the release suite does), and
// by prom-client's `register.metrics()` over the same series, in one process, in rotating order.
// Two shapes: 10 vectors of 1,000 elements (10,000 counter series) and 100 histograms of 24
// buckets. Every contender's text is checked to hold the same sample lines before timing; the time
// is per text (microseconds), the median over rounds; every ratio is computed inside a round.
import { rmSync } from 'node:fs';
import { num, times } from '../format.mjs';
import { medianOver } from '../measure.mjs';
import { buildRelease } from './release.mjs';

const VECTORS = 10;
const ELEMENTS = 1000;
const HISTOGRAMS = 100;
const BUCKETS = 24;

/** The schema of one shape: `vectors` (counters with a `worker` label) or `histograms`. */
function schemaOf(shape) {
  const entries =
    shape === 'vectors'
      ? Array.from({ length: VECTORS }, (_, v) => [`bytes${v}`, { kind: 'counter', unit: 'bytes', help: `Bytes of vector ${v}.`, length: ELEMENTS, label: 'worker' }])
      : Array.from({ length: HISTOGRAMS }, (_, h) => [`latency${h}`, { kind: 'histogram', unit: 'microseconds', help: `Latency ${h}.`, buckets: BUCKETS }]);
  return Object.fromEntries(entries);
}

/** Stats of `library` with known values: element e of vector v holds v·1000 + e; histogram h records 1, 2, 4, … 2^h%20. */
async function makeStats(library, shape) {
  const stats = await library.defineStats(schemaOf(shape), { namespace: 'bench' }).create();
  if (shape === 'vectors') {
    for (let v = 0; v < VECTORS; v++) for (let e = 0; e < ELEMENTS; e++) stats[`bytes${v}`].at(e).add(v * ELEMENTS + e);
  } else {
    for (let h = 0; h < HISTOGRAMS; h++) for (let k = 0; k <= h % 20; k++) stats[`latency${h}`].record(2 ** k);
  }
  return stats;
}

/** prom-client's registry with the same series and values as {@link makeStats}. */
function makeRegistry(prom, shape, le) {
  const registry = new prom.Registry();
  if (shape === 'vectors') {
    for (let v = 0; v < VECTORS; v++) {
      const counter = new prom.Counter({ name: `bench_bytes${v}_bytes_total`, help: `Bytes of vector ${v}.`, labelNames: ['worker'], registers: [registry] });
      for (let e = 0; e < ELEMENTS; e++) counter.inc({ worker: String(e) }, v * ELEMENTS + e);
    }
  } else {
    for (let h = 0; h < HISTOGRAMS; h++) {
      const histogram = new prom.Histogram({ name: `bench_latency${h}_microseconds`, help: `Latency ${h}.`, buckets: le, registers: [registry] });
      for (let k = 0; k <= h % 20; k++) histogram.observe(2 ** k);
    }
  }
  return registry;
}

/** A `/metrics` request to `handler`, answered into a response that keeps the body: the body. */
function request(handler) {
  let body = '';
  handler({ method: 'GET', headers: {} }, { statusCode: 0, setHeader() {}, end: (text) => void (body = text) });
  return body;
}

/** The sample lines of a text, sorted, without names (prom-client names families its own way). */
function sampleValues(text) {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.slice(line.lastIndexOf(' ') + 1))
    .sort()
    .join(',');
}

/** Microseconds per call of `text` over `ms` milliseconds (at least 3 calls); each text is made flat, as writing it would. */
async function timeText(text, ms) {
  let calls = 0;
  let length = 0;
  const t0 = performance.now();
  let t;
  do {
    const got = await text();
    length += got.length + got.charCodeAt(got.length >> 1);
    calls++;
    t = performance.now();
  } while (t - t0 < ms || calls < 3);
  return { us: ((t - t0) * 1000) / calls, length };
}

export default {
  name: 'exposition',
  usesNative: false,
  optIn: true,
  settings: { quick: { expositionMs: 150, expositionRounds: 3 }, full: { expositionMs: 400, expositionRounds: 9 } },
  describe: (config) => `${config.expositionRounds} rounds of ${config.expositionMs} ms per text, against ${config.releaseRef} and prom-client`,
  /**
   * Measures the three texts of each shape.
   * @param config - `warmupMs`, `expositionMs`, `expositionRounds`, `releaseRef`
   * @param context - the bench's `log` and `consume`
   * @returns the table and the ratios
   * @throws Error when the texts do not hold the same values
   */
  async run(config, { log, consume }) {
    const current = await import('../../dist/index.js');
    const prom = await import('prom-client');
    const base = buildRelease(config.releaseRef, log);
    const baseLibrary = base.skipped ? undefined : await import(base.library);
    if (base.skipped) log(`exposition: ${base.skipped}`);
    const rows = [];
    const ratios = {};
    const data = {};
    try {
      for (const shape of ['vectors', 'histograms']) {
        const stats = await makeStats(current, shape);
        const le = shape === 'histograms' ? Array.from({ length: BUCKETS - 1 }, (_, i) => Number(stats.latency0.bucketRange(i).upper - 1n)) : [];
        const handler = current.createMetricsHandler(stats);
        const texts = { current: () => current.prometheusText(stats), currentHandler: () => request(handler) };
        if (baseLibrary) {
          const baseStats = await makeStats(baseLibrary, shape);
          const baseHandler = baseLibrary.createMetricsHandler(baseStats);
          texts.base = () => baseLibrary.prometheusText(baseStats);
          texts.baseHandler = () => request(baseHandler);
        }
        const registry = makeRegistry(prom, shape, le);
        texts.prom = () => registry.metrics();
        const expected = sampleValues(texts.current());
        for (const [name, text] of Object.entries(texts)) {
          if (sampleValues(await text()) !== expected) throw new Error(`bench stopped: exposition: ${name}'s ${shape} text holds other values than this build's`);
          await timeText(text, config.warmupMs);
        }
        const names = Object.keys(texts);
        const rounds = [];
        for (let r = 0; r < config.expositionRounds; r++) {
          log(`exposition: ${shape}, round ${r + 1}/${config.expositionRounds}`);
          const round = {};
          for (const name of names.map((_, i) => names[(i + r) % names.length])) {
            const { us, length } = await timeText(texts[name], config.expositionMs);
            round[name] = us;
            consume(length);
          }
          rounds.push(round);
        }
        const at = (name) => medianOver(rounds, (round) => round[name]);
        const vs = (name) => medianOver(rounds, (round) => round[name] / round.current);
        ratios[`exposition_${shape}_prom_vs_current`] = vs('prom');
        ratios[`exposition_${shape}_base_vs_current`] = vs('base');
        ratios[`exposition_${shape}_base_handler_vs_current_handler`] = medianOver(rounds, (round) => round.baseHandler / round.currentHandler);
        data[shape] = rounds;
        const series = shape === 'vectors' ? `${VECTORS} vectors × ${ELEMENTS} series` : `${HISTOGRAMS} histograms × ${BUCKETS} buckets`;
        const handlers = medianOver(rounds, (round) => round.baseHandler / round.currentHandler);
        rows.push([series, num(at('current')), num(at('base')), num(at('prom')), times(vs('base')), times(vs('prom')), num(at('currentHandler')), num(at('baseHandler')), times(handlers)]);
      }
    } finally {
      if (base.dir) rmSync(base.dir, { recursive: true, force: true });
    }
    return {
      title: `Prometheus text of many series (µs per text; "÷ this" is the other's time ÷ this build's, inside a round: >1× = this build is faster)`,
      table: {
        headers: ['series', 'prometheusText, this build (µs)', `prometheusText, ${config.releaseRef} (µs)`, 'prom-client register.metrics() (µs)', `${config.releaseRef} ÷ this (×)`, 'prom-client ÷ this (×)', 'handler per request, this (µs)', `handler, ${config.releaseRef} (µs)`, 'handler ÷ (×)'],
        rows,
      },
      notes: [
        'All texts hold the same sample values (checked before timing); prom-client keeps its own values, this library reads its shared memory.',
        'Each text is made flat (one character read) as writing it would; the handler answers a GET into a response that keeps the body (Content-Length included).',
      ],
      ratios,
      data,
    };
  },
};
