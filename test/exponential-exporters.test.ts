// Exponential histograms (`scale: s`) through every exporter: OpenTelemetry gets them as exponential
// histogram data points, equal to what the SDK's own exponential aggregation makes of the same
// values at the same scale; the text formats and prom-client get classic buckets, only those where
// the cumulative count changes, `le` the highest integer each counts. Both backends.
import { spawnSync } from 'node:child_process';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ExponentialHistogram,
} from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetricsHandler, defineStats, prometheusText } from '../dist/index.js';
import { statsMetricProducer } from '../dist/exporters/otel.js';
import { registerPromClient } from '../dist/exporters/prom-client.js';
import { readExposition } from './exposition.js';
import { BACKENDS, callHandler } from './helpers.js';
import { requireTool } from './tools.js';
import { SAFETY_NET_MS } from './wait.js';

const U64_MAX = 2n ** 64n - 1n;

/** The exact model: OpenTelemetry's index of an integer v ≥ 1 at scale s, 2^i < v^(2^s) ≤ 2^(i+1). */
function modelIndex(v: bigint, s: number): number {
  const below = v ** (1n << BigInt(s)) - 1n;
  return below === 0n ? -1 : below.toString(2).length - 1;
}

/** ⌊n^(1/k)⌋ by bisection. */
function integerRoot(n: bigint, k: number): bigint {
  let lo = 0n;
  let hi = 1n << BigInt(Math.ceil(n.toString(2).length / k) + 1);
  while (lo < hi) {
    const mid = (lo + hi + 1n) >> 1n;
    if (mid ** BigInt(k) <= n) lo = mid;
    else hi = mid - 1n;
  }
  return lo;
}

/** The highest integer bucket i holds at scale s: ⌊base^(i+1)⌋, at most 2^64 − 1. */
function modelHighest(i: number, s: number): bigint {
  const root = integerRoot(1n << BigInt(i + 1), 2 ** s);
  return root > U64_MAX ? U64_MAX : root;
}

const Pool = defineStats(
  {
    runTime: { kind: 'histogram', unit: 'microseconds', help: 'Task run time.', scale: 3 },
    waitTime: { kind: 'histogram', unit: 'microseconds', help: 'Queue wait.', buckets: 3 },
  },
  { namespace: 'pool' },
);

/** prom-client's text without the empty lines it puts between families. */
const withoutEmptyLines = (text: string): string => text.replace(/\n\n/g, '\n');

/** Runs `promtool check metrics` on a text. */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync(requireTool('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe.each(BACKENDS)('exponential histograms in the text formats and prom-client (%s backend)', (backend) => {
  it('writes only the buckets that count something, le the highest integer of each, then +Inf, _sum, _count', async () => {
    const stats = await Pool.create({ backend });
    for (const v of [0, 1, 130, 130, 1000]) stats.runTime.record(v);
    stats.waitTime.record(2);
    // At scale 3: 1 is in bucket −1 (highest 1), 130 in bucket 56, (2^7, 2^7.125], highest ⌊139.58⌋ = 139;
    // 1000 in bucket 79, (2^9.875, 2^10], highest 1024.
    expect([modelIndex(1n, 3), modelIndex(130n, 3), modelIndex(1000n, 3)]).toEqual([-1, 56, 79]);
    expect([modelHighest(-1, 3), modelHighest(56, 3), modelHighest(79, 3)]).toEqual([1n, 139n, 1024n]);
    expect(prometheusText(stats, { labels: { host: 'h1' } })).toBe(
      [
        '# HELP pool_run_time Task run time.',
        '# TYPE pool_run_time histogram',
        'pool_run_time_bucket{host="h1",le="0"} 1',
        'pool_run_time_bucket{host="h1",le="1"} 2',
        'pool_run_time_bucket{host="h1",le="139"} 4',
        'pool_run_time_bucket{host="h1",le="1024"} 5',
        'pool_run_time_bucket{host="h1",le="+Inf"} 5',
        'pool_run_time_sum{host="h1"} 1261',
        'pool_run_time_count{host="h1"} 5',
        '# HELP pool_wait_time Queue wait.',
        '# TYPE pool_wait_time histogram',
        'pool_wait_time_bucket{host="h1",le="1"} 0',
        'pool_wait_time_bucket{host="h1",le="3"} 1',
        'pool_wait_time_bucket{host="h1",le="+Inf"} 1',
        'pool_wait_time_sum{host="h1"} 2',
        'pool_wait_time_count{host="h1"} 1',
        '',
      ].join('\n'),
    );
    // The data point of docs/reports.md's example: the same read.
    const { resourceMetrics } = await statsMetricProducer(stats, { kinds: ['histogram'] }).collect();
    const counts = Array<number>(81).fill(0);
    [counts[0], counts[57], counts[80]] = [1, 2, 1];
    expect(resourceMetrics.scopeMetrics[0]!.metrics[0]).toMatchObject({
      descriptor: { name: 'pool.run_time' },
      dataPointType: 1,
      dataPoints: [{ value: { scale: 3, zeroCount: 1, positive: { offset: -1, bucketCounts: counts }, negative: { offset: 0, bucketCounts: [] }, sum: 1261, count: 5 } }],
    });
    expect(stats.definition.metrics[0]!.buckets).toBe(514);
    // The largest value counts in the top bucket, which is written as +Inf only (as the last bucket of
    // every histogram; narrowed by maxValue, it also counts every larger value).
    stats.runTime.record(U64_MAX);
    const text = prometheusText(stats, { format: 'openmetrics', prefix: '' });
    expect(text.split('\n').filter((line) => line.startsWith('run_time'))).toEqual([
      'run_time_bucket{le="0.0"} 1',
      'run_time_bucket{le="1.0"} 2',
      'run_time_bucket{le="139.0"} 4',
      'run_time_bucket{le="1024.0"} 5',
      'run_time_bucket{le="+Inf"} 6',
      `run_time_sum ${(1261n + U64_MAX) % 2n ** 64n}`,
      'run_time_count 6',
    ]);
    expect(prometheusText(stats)).toContain(`\npool_run_time_bucket{le="1024"} 5\npool_run_time_bucket{le="+Inf"} 6\n`);
  });

  it('gives 4 _bucket lines (+Inf included) for 3 distinct values among 16k cells, and none but +Inf when empty', async () => {
    const Fine = defineStats({ latency: { kind: 'histogram', unit: 'nanoseconds', help: 'Latency.', scale: 8 } }, { namespace: 'fine' });
    const stats = await Fine.create({ backend });
    expect(stats.definition.metrics[0]!.buckets).toBeGreaterThanOrEqual(16_384);
    expect(prometheusText(stats).split('\n').filter((line) => line.includes('_bucket'))).toEqual(['fine_latency_bucket{le="+Inf"} 0']);
    for (const v of [100, 101, 101, 1000, 1000, 1000]) stats.latency.record(v);
    // Scale 8: 100 and 101 are in buckets 1700 and 1704, whose highest integers are themselves; 1000 in 2551, up to 1002.
    expect([modelIndex(100n, 8), modelIndex(101n, 8), modelIndex(1000n, 8)]).toEqual([1700, 1704, 2551]);
    expect(modelHighest(2551, 8)).toBe(1002n);
    const buckets = prometheusText(stats).split('\n').filter((line) => line.includes('_bucket'));
    expect(buckets).toEqual([
      'fine_latency_bucket{le="100"} 1',
      'fine_latency_bucket{le="101"} 3',
      'fine_latency_bucket{le="1002"} 6',
      'fine_latency_bucket{le="+Inf"} 6',
    ]);
    // The handler's text, and prom-client's, write the same.
    expect(callHandler(createMetricsHandler(stats), { method: 'GET', headers: {} }).body).toBe(prometheusText(stats));
    const registry = new Registry();
    registerPromClient(stats, { registry });
    expect(withoutEmptyLines(await registry.metrics())).toBe(prometheusText(stats));
  });

  it('agrees with the exact model at random values of every scale: each written le is the highest integer of its bucket', async () => {
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let scale = 0; scale <= 8; scale++) {
      const One = defineStats({ h: { kind: 'histogram', unit: 'bytes', help: 'Sizes.', scale } }, { namespace: 'm' });
      const stats = await One.create({ backend });
      const values = Array.from({ length: 40 }, () => BigInt(next()) << BigInt(next() % 30));
      for (const v of values) stats.h.record(v);
      const lines = prometheusText(stats).split('\n').filter((line) => line.includes('_bucket{le="') && !line.includes('+Inf'));
      const expected = new Map<bigint, number>();
      for (const v of values) {
        const highest = v === 0n ? 0n : modelHighest(modelIndex(v, scale), scale);
        expected.set(highest, (expected.get(highest) ?? 0) + 1);
      }
      let cumulative = 0;
      const want = [...expected.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([le, n]) => `m_h_bytes_bucket{le="${le}"} ${(cumulative += n)}`);
      expect(lines, `scale ${scale}`).toEqual(want);
    }
  });

  it('writes a narrowed histogram (maxValue) with its top bucket, which also counts larger values, as +Inf only', async () => {
    const Narrow = defineStats({ h: { kind: 'histogram', unit: 'bytes', help: 'Sizes.', scale: 0, maxValue: 1000 } }, { namespace: 'n' });
    const stats = await Narrow.create({ backend });
    // Scale 0: 1000 is in (2^9, 2^10], the top bucket; 5000 counts there too. 3 is in (2, 4].
    for (const v of [3, 600, 5000]) stats.h.record(v);
    expect(prometheusText(stats).split('\n').filter((line) => line.includes('_bucket'))).toEqual(['n_h_bytes_bucket{le="4"} 1', 'n_h_bytes_bucket{le="+Inf"} 3']);
  });

  it('round-trips through a real prom-client registry, both formats, and passes promtool', async () => {
    const stats = await Pool.create({ backend });
    for (const v of [0, 7, 7, 300, 2 ** 40]) stats.runTime.record(v);
    const registry = new Registry();
    const { names } = registerPromClient(stats, { registry, labels: { vm: 'guest1' } });
    expect(names).toEqual(['pool_run_time', 'pool_wait_time']);
    const text = await registry.metrics();
    expect(withoutEmptyLines(text)).toBe(prometheusText(stats, { labels: { vm: 'guest1' } }));
    // A collection reads again, and a bucket first counted shows.
    stats.runTime.record(20);
    expect(withoutEmptyLines(await registry.metrics())).toBe(prometheusText(stats, { labels: { vm: 'guest1' } }));
    const openMetrics = new (Registry as unknown as new (contentType: string) => Registry)(Registry.OPENMETRICS_CONTENT_TYPE);
    registerPromClient(stats, { registry: openMetrics });
    const families = readExposition(await openMetrics.metrics(), 'openmetrics');
    const run = families.find((family) => family.name === 'pool_run_time')!;
    expect(run.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels.le)).toEqual(['0.0', '7.0', '20.0', '304.0', '1.099511627776e+12', '+Inf']);
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const check = promtoolCheck(prometheusText(stats, { format }));
      expect(check, check.output).toMatchObject({ status: 0 });
    }
  });
});

/** What the SDK's own exponential aggregation makes of `values`, made to end at `scale`. */
async function sdkAggregation(values: readonly number[], scale: number): Promise<ExponentialHistogram> {
  // The SDK starts at scale 20 and lowers the scale until the buckets fit in maxSize: a maxSize of
  // the span at `scale` makes it end there (at scale + 1 the span is about twice as wide).
  const nonZero = values.filter((v) => v > 0).map((v) => modelIndex(BigInt(v), scale));
  const maxSize = Math.max(...nonZero) - Math.min(...nonZero) + 1;
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: SAFETY_NET_MS });
  const aggregation = { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize, recordMinMax: false } } as const;
  const provider = new MeterProvider({ readers: [reader], views: [{ instrumentName: 'reference', aggregation }] });
  try {
    const histogram = provider.getMeter('reference').createHistogram('reference');
    for (const v of values) histogram.record(v);
    await reader.forceFlush();
    return exporter.getMetrics()[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.value as ExponentialHistogram;
  } finally {
    await provider.shutdown();
  }
}

describe.each(BACKENDS)('exponential histograms to OpenTelemetry (%s backend)', (backend) => {
  it('are EXPONENTIAL_HISTOGRAM data points, cumulative, through a periodic reader and the in-memory exporter', async () => {
    const stats = await Pool.create({ backend });
    for (const v of [0, 0, 1, 130, 130, 1000]) stats.runTime.record(v);
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: SAFETY_NET_MS, metricProducers: [statsMetricProducer(stats, { attributes: { vm: 'guest1' } })] });
    const provider = new MeterProvider({ readers: [reader] });
    try {
      await reader.forceFlush();
      const metrics = new Map(exporter.getMetrics()[0]!.scopeMetrics.flatMap((scope) => scope.metrics).map((m) => [m.descriptor.name, m]));
      const run = metrics.get('pool.run_time')!;
      expect(run).toMatchObject({ dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM, aggregationTemporality: AggregationTemporality.CUMULATIVE, descriptor: { unit: 'us', description: 'Task run time.' } });
      expect(run.dataPoints).toHaveLength(1);
      expect(run.dataPoints[0]!.attributes).toEqual({ vm: 'guest1' });
      // Indexes −1 (the value 1), 56 (130) and 79 (1000): 81 buckets from offset −1.
      const counts = Array<number>(81).fill(0);
      counts[-1 + 1] = 1;
      counts[56 + 1] = 2;
      counts[79 + 1] = 1;
      expect(run.dataPoints[0]!.value).toEqual({ scale: 3, zeroCount: 2, positive: { offset: -1, bucketCounts: counts }, negative: { offset: 0, bucketCounts: [] }, sum: 1261, count: 6 });
      // No min or max: the buckets do not keep them.
      expect(run.dataPoints[0]!.value).not.toHaveProperty('min');
      expect(run.dataPoints[0]!.value).not.toHaveProperty('max');
      // The log-linear histogram beside it stays an explicit-bucket one.
      expect(metrics.get('pool.wait_time')).toMatchObject({ dataPointType: DataPointType.HISTOGRAM });
    } finally {
      await provider.shutdown();
    }
  });

  it('gives an empty histogram as the SDK does: no buckets, offset 0', async () => {
    const stats = await Pool.create({ backend });
    const { resourceMetrics } = await statsMetricProducer(stats, { kinds: ['histogram'] }).collect();
    const run = resourceMetrics.scopeMetrics[0]!.metrics.find((m) => m.descriptor.name === 'pool.run_time')!;
    expect(run.dataPoints[0]!.value).toEqual({ scale: 3, zeroCount: 0, positive: { offset: 0, bucketCounts: [] }, negative: { offset: 0, bucketCounts: [] }, sum: 0, count: 0 });
  });

  it("equals the SDK's own exponential aggregation of the same values at the same scale, at every scale", async () => {
    let seed = 777;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let scale = 0; scale <= 8; scale++) {
      const One = defineStats({ h: { kind: 'histogram', unit: 'bytes', help: 'Sizes.', scale } }, { namespace: 'm' });
      const stats = await One.create({ backend });
      // Powers of two (exact bucket bounds), their neighbours, zeros and spread values.
      const values = [0, 0, 1, 2, 3, 1023, 1024, 1025, 2 ** 20, 2 ** 20 + 1, ...Array.from({ length: 300 }, () => next() % 2 ** (1 + (next() % 31)))];
      for (const v of values) stats.h.record(v);
      const reference = await sdkAggregation(values, scale);
      expect(reference.scale, 'the SDK ends at the scale asked for').toBe(scale);
      const { resourceMetrics } = await statsMetricProducer(stats).collect();
      const ours = resourceMetrics.scopeMetrics[0]!.metrics[0]!;
      expect(ours.dataPointType).toBe(DataPointType.EXPONENTIAL_HISTOGRAM);
      const { min: _min, max: _max, ...expected } = reference;
      expect(ours.dataPoints[0]!.value, `scale ${scale}`).toEqual(expected);
    }
  });
});
