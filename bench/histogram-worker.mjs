// One implementation's histogram `record`, in a worker of its own (so that its JIT feedback never
// mixes with another's). bench/suites/histogram.mjs asks for one fixed-time run at a time:
// { ms } → { nsPerOp, sink, error }. Every implementation records the same sequence of values
// (latencies in microseconds, a fixed pseudo-random spread over 1 µs – 16 s), and checks after
// each run that its count is exactly the records it made.
import { parentPort, workerData } from 'node:worker_threads';
import { fixedTime } from './measure.mjs';

const { impl } = workerData;
/** 4096 values, from a fixed linear congruential sequence: every run records the same ones. */
const VALUES = (() => {
  const out = new Float64Array(4096);
  let x = 12345;
  for (let i = 0; i < out.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = 1 + (x % (1 << (1 + (i % 24))));
  }
  return out;
})();

async function recorder() {
  if (impl === 'hdr-js' || impl === 'hdr-wasm') {
    const hdr = await import('hdr-histogram-js');
    if (impl === 'hdr-wasm') await hdr.initWebAssembly();
    const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 2 ** 24, numberOfSignificantValueDigits: 2, useWebAssembly: impl === 'hdr-wasm' });
    return { record: (v) => histogram.recordValue(v), count: () => histogram.totalCount };
  }
  if (impl === 'prom') {
    const { Histogram } = await import('prom-client');
    // Powers of two up to 2^24 µs: the same boundaries as a 24-bucket log2 histogram.
    const histogram = new Histogram({ name: 'bench_latency_microseconds', help: 'Latency.', buckets: Array.from({ length: 24 }, (_, k) => 2 ** (k + 1) - 1), registers: [] });
    return { record: (v) => histogram.observe(v), count: async () => (await histogram.get()).values.find((v) => v.metricName.endsWith('_count')).value };
  }
  if (impl === 'otel') {
    // The OpenTelemetry SDK's exponential histogram, as an application gets it: a MeterProvider
    // whose view gives the instrument that aggregation (160 buckets at most, its default), and a
    // reader that collects on demand for the count.
    const { AggregationType, MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
    class Reader extends MetricReader {
      onForceFlush() {
        return Promise.resolve();
      }
      onShutdown() {
        return Promise.resolve();
      }
    }
    const reader = new Reader();
    const provider = new MeterProvider({
      views: [{ instrumentName: 'latency', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
      readers: [reader],
    });
    const histogram = provider.getMeter('bench').createHistogram('latency', { unit: 'us' });
    const point = async () => (await reader.collect()).resourceMetrics.scopeMetrics[0].metrics[0].dataPoints[0].value;
    return { record: (v) => histogram.record(v), count: async () => (await point()).count, scale: async () => (await point()).scale };
  }
  const { defineStats } = await import('../dist/index.js');
  // exp-…: exponential buckets of scale 3 (8 per power of two, every u64 value); ll8-…: log-linear
  // buckets of the same resolution (8 sub-buckets, every u64 value); the others 24 log2 buckets.
  const latency = impl.startsWith('exp-')
    ? { kind: 'histogram', unit: 'microseconds', help: 'Latency.', scale: 3 }
    : impl.startsWith('ll8-')
      ? { kind: 'histogram', unit: 'microseconds', help: 'Latency.', subBuckets: 8, buckets: 496 }
      : { kind: 'histogram', unit: 'microseconds', help: 'Latency.', buckets: 24 };
  const Stats = defineStats({ latency });
  const stats = await Stats.create({ backend: impl.endsWith('js') ? 'js' : 'wasm' });
  const histogram = stats.latency;
  if (impl === 'batched') {
    const batch = histogram.batch();
    return { record: (v) => batch.record(v), count: () => (batch.flush(), Number(histogram.count())) };
  }
  return { record: (v) => histogram.record(v), count: () => Number(histogram.count()) };
}

const { record, count, scale } = await recorder();
let recorded = 0;
parentPort.on('message', async ({ ms }) => {
  const result = fixedTime((n) => {
    for (let i = 0; i < n; i++) record(VALUES[i & 4095]);
    return 0;
  }, ms);
  recorded += result.calls;
  const seen = await count();
  const error = seen === recorded ? null : `${impl}: count is ${seen} after ${recorded} records`;
  parentPort.postMessage({ nsPerOp: result.nsPerOp, sink: result.sink, error, scale: scale && (await scale()) });
});
parentPort.postMessage({ ready: true });
