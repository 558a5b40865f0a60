// The exporters over stats of any definition: a counter, a gauge, a vector and a histogram
// (test/fixtures/every-kind.mjs), updated by real worker threads on both backends, then exported.
// Every value is checked exactly: against the same updates made in this thread, and against
// figures computed here from the chunk sizes.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { AggregatorRegistry, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  attachStats,
  createMetricsHandler,
  defineStats,
  OPENMETRICS_CONTENT_TYPE,
  prometheusText,
  PROMETHEUS_CONTENT_TYPE,
  SharedStats,
  type BackendName,
} from '../dist/index.js';
import { observeMigrationStats, observeStats, statsMetricProducer } from '../dist/exporters/otel.js';
import { registerPromClient } from '../dist/exporters/prom-client.js';
import { readExposition, isCanonicalNumber, type Family } from './exposition.js';
import { chunkSize, copyChunks, OPTIONS, SCHEMA, WORKERS } from './fixtures/every-kind.mjs';
import { BACKENDS, callHandler } from './helpers.js';
import { BRAND } from './hostile.js';
import { gate } from './requirements.js';
import { requireTool } from './tools.js';
import { copyInWorkers } from './workers.js';
import { SAFETY_NET_MS } from './wait.js';

const EveryKind = defineStats(SCHEMA, OPTIONS);
/** Chunks each worker copies. */
const TIMES = 5000;

/** Every chunk size the workers copy, by worker. */
const SIZES: number[][] = Array.from({ length: WORKERS }, (_, worker) => Array.from({ length: TIMES }, (_, i) => chunkSize(worker, i)));
const ALL_SIZES = SIZES.flat();
const TOTAL_BYTES = ALL_SIZES.reduce((a, b) => a + b, 0);

type EveryKindStats = Awaited<ReturnType<typeof EveryKind.create>>;

/** Stats of every kind after the workers' updates, and the same updates made in this thread. */
async function copied(backend: BackendName): Promise<{ stats: EveryKindStats; model: EveryKindStats }> {
  const stats = await EveryKind.create({ backend });
  await copyInWorkers(stats, WORKERS, TIMES);
  const model = await EveryKind.create({ backend, lane: false });
  for (let worker = 0; worker < WORKERS; worker++) copyChunks(model, worker, TIMES);
  return { stats, model };
}

/** Runs `promtool check metrics` on a text; returns its exit status and output. */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync(requireTool('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The samples of one family, as `name{labels} value` lines. */
function sampleLines(family: Family | undefined): string[] {
  return (family?.samples ?? []).map(({ name, labels, value }) => {
    const pairs = Object.entries(labels).map(([key, v]) => `${key}="${v}"`);
    return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${value}`;
  });
}

describe('a small definition of every kind, exported', () => {
  const Small = defineStats(
    {
      files: { kind: 'counter', unit: 'files', help: 'Files copied.' },
      depth: { kind: 'gauge', unit: 'files', help: 'Files waiting.' },
      perWorker: { kind: 'counter', unit: 'files', help: 'Files copied by each worker.', length: 2, label: 'worker' },
      sizeBytes: { kind: 'histogram', unit: 'bytes', help: 'File sizes.', buckets: 3 },
    },
    { namespace: 'copy' },
  );

  it.each(BACKENDS)('prints the text format exactly as documented (%s backend)', async (backend) => {
    const stats = await Small.create({ backend });
    stats.files.add(3);
    stats.depth.set(2);
    stats.perWorker.at(1).add(3);
    for (const size of [0, 1, 3, 4096]) stats.sizeBytes.record(size);
    expect(prometheusText(stats, { labels: { host: 'h1' } })).toBe(
      [
        '# HELP copy_files_total Files copied.',
        '# TYPE copy_files_total counter',
        'copy_files_total{host="h1"} 3',
        '# HELP copy_depth Files waiting.',
        '# TYPE copy_depth gauge',
        'copy_depth{host="h1"} 2',
        '# HELP copy_per_worker_total Files copied by each worker.',
        '# TYPE copy_per_worker_total counter',
        'copy_per_worker_total{host="h1",worker="0"} 0',
        'copy_per_worker_total{host="h1",worker="1"} 3',
        '# HELP copy_size_bytes File sizes.',
        '# TYPE copy_size_bytes histogram',
        'copy_size_bytes_bucket{host="h1",le="1"} 2',
        'copy_size_bytes_bucket{host="h1",le="3"} 3',
        'copy_size_bytes_bucket{host="h1",le="+Inf"} 4',
        'copy_size_bytes_sum{host="h1"} 4100',
        'copy_size_bytes_count{host="h1"} 4',
        '',
      ].join('\n'),
    );
  });

  it.each(BACKENDS)('prints OpenMetrics exactly as documented: families without _total, UNIT, canonical le (%s backend)', async (backend) => {
    const stats = await Small.create({ backend });
    stats.sizeBytes.record(2);
    expect(prometheusText(stats, { format: 'openmetrics', prefix: '' })).toBe(
      [
        '# HELP files Files copied.',
        '# TYPE files counter',
        'files_total 0',
        '# HELP depth Files waiting.',
        '# TYPE depth gauge',
        'depth 0',
        '# HELP per_worker Files copied by each worker.',
        '# TYPE per_worker counter',
        'per_worker_total{worker="0"} 0',
        'per_worker_total{worker="1"} 0',
        '# HELP size_bytes File sizes.',
        '# TYPE size_bytes histogram',
        '# UNIT size_bytes bytes',
        'size_bytes_bucket{le="1.0"} 0',
        'size_bytes_bucket{le="3.0"} 1',
        'size_bytes_bucket{le="+Inf"} 1',
        'size_bytes_sum 2',
        'size_bytes_count 1',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('writes le as OpenMetrics canonical numbers, and exactly in the text format, up to 2^64 − 2', async () => {
    const Wide = defineStats({ latency: { kind: 'histogram', unit: 'seconds', help: 'Wide.', buckets: 64 } });
    const stats = await Wide.create();
    const le = (format: 'prometheus' | 'openmetrics'): string[] =>
      readExposition(prometheusText(stats, { format }), format)[0]!.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels.le!);
    const text = le('prometheus');
    expect(text.slice(0, 3)).toEqual(['1', '3', '7']);
    expect(text[19]).toBe('1048575');
    expect(text[62]).toBe('9223372036854775807');
    expect(text[63]).toBe('+Inf');
    const open = le('openmetrics');
    expect(open.slice(0, 3)).toEqual(['1.0', '3.0', '7.0']);
    expect(open[18]).toBe('524287.0');
    expect(open[19]).toBe('1.048575e+06');
    expect(open[62]).toBe('9.223372036854776e+18');
    expect(open.every(isCanonicalNumber)).toBe(true);
  });
});

describe('the canonical numbers of the exposition reader', () => {
  it('knows Go’s %g rendering (the examples of OpenMetrics) and refuses others', () => {
    for (const le of ['0.0', '1e-05', '0.0001', '0.1', '1.0', '10.0', '100000.0', '1e+06', '1e+23', '1.1e+23', '1.048575e+06', '+Inf']) {
      expect(isCanonicalNumber(le), le).toBe(true);
    }
    for (const le of ['0', '1', '10', '1000000.0', '1e6', '1.0e+06', '1e+6', '0.00001', '1048575.0', ' 1.0']) expect(isCanonicalNumber(le), le).toBe(false);
  });

  it('refuses histograms that break a rule (so it can fail)', async () => {
    const stats = await EveryKind.create();
    stats.chunkBytes.record(3);
    stats.chunkBytes.record(300);
    const text = prometheusText(stats);
    const open = prometheusText(stats, { format: 'openmetrics' });
    const broken: [string, string, 'prometheus' | 'openmetrics'][] = [
      [text.replace('copy_chunk_bytes_bucket{le="+Inf"} 2\n', ''), 'the last bucket is not le="+Inf"', 'prometheus'],
      [text.replace('copy_chunk_bytes_count 2', 'copy_chunk_bytes_count 3'), '_count 3 is not the +Inf bucket', 'prometheus'],
      [text.replace('copy_chunk_bytes_sum 303\n', ''), 'no _sum', 'prometheus'],
      [text.replace('copy_chunk_bytes_bucket{le="3"} 1', 'copy_chunk_bytes_bucket{le="3"} 9'), 'not cumulative', 'prometheus'],
      [text.replace('copy_chunk_bytes_bucket{le="3"} 1', 'copy_chunk_bytes_bucket{le="99"} 1'), 'le 99 is not below le 5', 'prometheus'],
      [text.replace('copy_chunk_bytes_bucket{le="3"} 1', 'copy_chunk_bytes_bucket 1'), 'a bucket without le', 'prometheus'],
      [text.replace('copy_chunk_bytes_sum 303', 'copy_chunk_bytes_sum{le="1"} 303'), 'has an le label', 'prometheus'],
      [text.replace('copy_chunk_bytes_sum 303', 'copy_chunk_bytes 303'), 'is not in the family', 'prometheus'],
      [text.replace('copy_worker_bytes_total{worker="1"} 0', 'copy_worker_bytes_total{worker="0"} 0'), 'was given before', 'prometheus'],
      [open.replace('le="3.0"', 'le="3"'), 'not a canonical number', 'openmetrics'],
    ];
    for (const [bad, why, format] of broken) expect(() => readExposition(bad, format), why).toThrow(why);
  });
});

describe.each(BACKENDS)('prometheusText of stats of any definition (%s backend)', (backend) => {
  it('prints exactly what worker threads counted: counters, gauges, vector elements, cumulative buckets', async () => {
    const { stats, model } = await copied(backend);
    const text = prometheusText(stats);
    expect(text).toBe(prometheusText(model));
    const families = readExposition(text, 'prometheus');
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ['copy_copied_files_total', 'counter'],
      ['copy_queue_depth', 'gauge'],
      ['copy_worker_bytes_total', 'counter'],
      ['copy_chunk_bytes', 'histogram'],
    ]);
    const [files, depth, perWorker, chunks] = families;
    expect(sampleLines(files)).toEqual([`copy_copied_files_total ${WORKERS * TIMES}`]);
    expect(sampleLines(depth)).toEqual([`copy_queue_depth ${TIMES - 1}`]);
    expect(sampleLines(perWorker)).toEqual(SIZES.map((sizes, w) => `copy_worker_bytes_total{worker="${w}"} ${sizes.reduce((a, b) => a + b, 0)}`));
    // Each bucket counts every chunk of at most its le, the +Inf one all of them.
    const buckets = chunks!.samples.filter((s) => s.name === 'copy_chunk_bytes_bucket');
    expect(buckets).toHaveLength(SCHEMA.chunkBytes.buckets);
    for (const { labels, value } of buckets) {
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      expect(value, `le ${labels.le}`).toBe(String(ALL_SIZES.filter((size) => size <= le).length));
    }
    expect(sampleLines(chunks).slice(-2)).toEqual([`copy_chunk_bytes_sum ${TOTAL_BYTES}`, `copy_chunk_bytes_count ${WORKERS * TIMES}`]);
    // Some buckets in the middle are neither empty nor full.
    expect(buckets.filter((b) => b.value !== '0' && b.value !== String(WORKERS * TIMES)).length).toBeGreaterThan(10);
  });

  it('prints values above 2^53 exactly, in every kind', async () => {
    const stats = await EveryKind.create({ backend });
    stats.copiedFiles.set(2n ** 64n - 1n);
    stats.queueDepth.set(2n ** 53n + 1n);
    stats.workerBytes.at(2).add(2n ** 63n + 3n);
    stats.chunkBytes.record(2n ** 63n + 5n);
    stats.chunkBytes.record(2n ** 53n + 1n);
    const text = prometheusText(stats);
    expect(text).toContain('\ncopy_copied_files_total 18446744073709551615\n');
    expect(text).toContain('\ncopy_queue_depth 9007199254740993\n');
    expect(text).toContain('\ncopy_worker_bytes_total{worker="2"} 9223372036854775811\n');
    expect(text).toContain('\ncopy_chunk_bytes_sum 9232379236109516806\n');
    expect(text).toContain('\ncopy_chunk_bytes_count 2\n');
  });

  it('prints values on either side of 2^53 exactly, as numbers below and as bigints from 2^53 on', async () => {
    const stats = await EveryKind.create({ backend });
    stats.queueDepth.set(2n ** 53n - 1n);
    stats.copiedFiles.add(2n ** 53n);
    stats.workerBytes.at(0).add(2n ** 53n - 1n);
    stats.workerBytes.at(1).add(2n ** 53n - 1n);
    stats.workerBytes.at(1).add(2);
    stats.chunkBytes.record(2n ** 53n - 2n);
    stats.chunkBytes.record(1);
    const text = prometheusText(stats);
    expect(text).toContain('\ncopy_queue_depth 9007199254740991\n');
    expect(text).toContain('\ncopy_copied_files_total 9007199254740992\n');
    expect(text).toContain('\ncopy_worker_bytes_total{worker="0"} 9007199254740991\n');
    expect(text).toContain('\ncopy_worker_bytes_total{worker="1"} 9007199254740993\n');
    expect(text).toContain('\ncopy_chunk_bytes_sum 9007199254740991\n');
    expect(text).toContain('\ncopy_chunk_bytes_count 2\n');
  });

  it('lays out a definition once per set of options, and reads each stats object of it at each call', async () => {
    const one = await EveryKind.create({ backend });
    const two = await EveryKind.create({ backend });
    one.copiedFiles.add(1);
    two.copiedFiles.add(2);
    expect(prometheusText(one)).toContain('\ncopy_copied_files_total 1\n');
    expect(prometheusText(two)).toContain('\ncopy_copied_files_total 2\n');
    expect(prometheusText(one, { labels: { vm: 'a' } })).toContain('\ncopy_copied_files_total{vm="a"} 1\n');
    expect(prometheusText(one, { labels: { vm: 'b' } })).toContain('\ncopy_copied_files_total{vm="b"} 1\n');
    expect(prometheusText(two, { prefix: 'x_' })).toContain('\nx_copied_files_total 2\n');
    expect(prometheusText(two)).toContain('\ncopy_copied_files_total 2\n');
    two.copiedFiles.add(5);
    expect(prometheusText(two, { format: 'openmetrics' })).toContain('\ncopy_copied_files_total 7\n');
    expect(prometheusText(two)).toBe(prometheusText(two, { format: 'prometheus' }));
  });

  it('gives the handler a Content-Length of the body in UTF-8 bytes', async () => {
    const stats = await EveryKind.create({ backend });
    const answer = callHandler(createMetricsHandler(stats, { labels: { city: 'Zürich 東京' } }), { method: 'GET', headers: {} });
    expect(answer.headers['content-length']).toBe(String(new TextEncoder().encode(answer.body).length));
    expect(answer.body).toContain('city="Zürich 東京"');
  });

  it('takes its default prefix from the namespace; prefix overrides it, and no namespace means none', async () => {
    const stats = await EveryKind.create({ backend });
    expect(prometheusText(stats)).toMatch(/^# HELP copy_copied_files_total /);
    expect(prometheusText(stats, { prefix: 'job_' })).toMatch(/^# HELP job_copied_files_total /);
    expect(prometheusText(stats, { prefix: '' })).toMatch(/^# HELP copied_files_total /);
    const Plain = defineStats({ hits: { kind: 'counter', unit: 'requests', help: 'Hits.' } });
    expect(prometheusText(await Plain.create({ backend }))).toBe('# HELP hits_total Hits.\n# TYPE hits_total counter\nhits_total 0\n');
    const Deep = defineStats({ hits: { kind: 'counter', unit: 'requests', help: 'Hits.' } }, { namespace: 'my.app' });
    expect(prometheusText(await Deep.create({ backend }))).toContain('\nmy_app_hits_total 0\n');
  });

  it('merges the constant labels with a vector’s label and a histogram’s le, and refuses ones that clash, naming both', async () => {
    const stats = await EveryKind.create({ backend });
    stats.workerBytes.at(3).add(7);
    const text = prometheusText(stats, { labels: { vm: 'a"b', host: 'h1' } });
    expect(text).toContain('\ncopy_worker_bytes_total{vm="a\\"b",host="h1",worker="3"} 7\n');
    expect(text).toContain('\ncopy_chunk_bytes_bucket{vm="a\\"b",host="h1",le="+Inf"} 0\n');
    expect(text).toContain('\ncopy_chunk_bytes_count{vm="a\\"b",host="h1"} 0\n');
    const calls: [string, (labels: Record<string, string>) => unknown][] = [
      ['prometheusText', (labels) => prometheusText(stats, { labels })],
      ['createMetricsHandler', (labels) => createMetricsHandler(stats, { labels })],
    ];
    for (const [where, call] of calls) {
      expect(() => call({ worker: 'x' })).toThrow(
        new TypeError(
          `${where}: options.labels.worker clashes with the label of the vector workerBytes, whose elements are exported with worker="0" to worker="3"; give the constant label another name`,
        ),
      );
      expect(() => call({ le: 'x' })).toThrow(
        new TypeError(`${where}: options.labels.le clashes with the label le of the buckets of the histogram chunkBytes; give the constant label another name`),
      );
    }
    // Without a histogram, le is a label like any other.
    const Plain = defineStats({ hits: { kind: 'counter', unit: 'requests', help: 'Hits.' } });
    expect(prometheusText(await Plain.create({ backend }), { labels: { le: 'x' } })).toContain('\nhits_total{le="x"} 0\n');
  });

  it('prints OpenMetrics that the strict reader accepts, with the same values', async () => {
    const { stats } = await copied(backend);
    const text = prometheusText(stats, { format: 'openmetrics', labels: { vm: 'guest1' } });
    const families = readExposition(text, 'openmetrics');
    expect(families.map((f) => [f.name, f.type, f.unit])).toEqual([
      ['copy_copied_files', 'counter', undefined],
      ['copy_queue_depth', 'gauge', undefined],
      ['copy_worker_bytes', 'counter', 'bytes'],
      ['copy_chunk_bytes', 'histogram', 'bytes'],
    ]);
    expect(sampleLines(families[3]).slice(-3)).toEqual([
      `copy_chunk_bytes_bucket{vm="guest1",le="+Inf"} ${WORKERS * TIMES}`,
      `copy_chunk_bytes_sum{vm="guest1"} ${TOTAL_BYTES}`,
      `copy_chunk_bytes_count{vm="guest1"} ${WORKERS * TIMES}`,
    ]);
  });

  it('passes promtool check metrics, with and without labels and with 64-bit values', async (ctx) => {
    gate('prometheus').check(ctx);
    const { stats } = await copied(backend);
    stats.workerBytes.at(0).add(2n ** 64n - 1n);
    for (const text of [prometheusText(stats), prometheusText(stats, { labels: { vm: 'guest "1"' } }), prometheusText(stats, { prefix: '' })]) {
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    }
  });

  it('promtool refuses the buckets outside a histogram family (so the check can fail)', async (ctx) => {
    gate('prometheus').check(ctx);
    const stats = await EveryKind.create({ backend });
    const broken = prometheusText(stats).replace('# TYPE copy_chunk_bytes histogram', '# TYPE copy_chunk_bytes counter');
    const { status, output } = promtoolCheck(broken);
    expect(status).not.toBe(0);
    expect(output).toMatch(/copy_chunk_bytes_bucket no help text/);
  });
});

describe('createMetricsHandler over stats of any definition', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it.each(BACKENDS)('serves what worker threads counted, in both formats (%s backend)', async (backend) => {
    const stats = await EveryKind.create({ backend });
    server = createServer(createMetricsHandler(stats, { labels: { vm: 'guest1' } }));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const url = `http://127.0.0.1:${port}/metrics`;
    expect(await (await fetch(url)).text()).toContain('\ncopy_chunk_bytes_count{vm="guest1"} 0\n');
    await copyInWorkers(stats, WORKERS, TIMES);
    const text = await fetch(url);
    expect(text.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    const body = await text.text();
    expect(body).toBe(prometheusText(stats, { labels: { vm: 'guest1' } }));
    expect(body).toContain(`\ncopy_chunk_bytes_count{vm="guest1"} ${WORKERS * TIMES}\n`);
    const open = await fetch(url, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(open.headers.get('content-type')).toBe(OPENMETRICS_CONTENT_TYPE);
    const openBody = await open.text();
    expect(openBody).toBe(prometheusText(stats, { labels: { vm: 'guest1' }, format: 'openmetrics' }));
    expect(readExposition(openBody, 'openmetrics').find((f) => f.name === 'copy_copied_files')?.samples[0]?.value).toBe(String(WORKERS * TIMES));
  });
});

/** prom-client's registry for OpenMetrics (its types omit the constructor's content-type argument; its code takes it). */
function openMetricsRegistry(): Registry {
  return new (Registry as unknown as new (contentType: string) => Registry)(Registry.OPENMETRICS_CONTENT_TYPE);
}

/** prom-client's text without the empty lines it puts between families (the format ignores them; the strict reader does not). */
const withoutEmptyLines = (text: string): string => text.replace(/\n\n/g, '\n');

describe.each(BACKENDS)('the prom-client adapter over stats of any definition (%s backend)', (backend) => {
  it('shows what worker threads counted, histograms with their real buckets, as prometheusText does', async () => {
    const { stats } = await copied(backend);
    const registry = new Registry();
    const { names } = registerPromClient(stats, { registry, labels: { vm: 'guest1' } });
    expect(names).toEqual(['copy_copied_files_total', 'copy_queue_depth', 'copy_worker_bytes_total', 'copy_chunk_bytes']);
    const text = await registry.metrics();
    // Below 2^53 prom-client's numbers are exact, so the text is the library's own, sample for sample.
    expect(withoutEmptyLines(text)).toBe(prometheusText(stats, { labels: { vm: 'guest1' } }));
    expect(text).toContain(`\ncopy_chunk_bytes_bucket{vm="guest1",le="+Inf"} ${WORKERS * TIMES}\ncopy_chunk_bytes_sum{vm="guest1"} ${TOTAL_BYTES}\ncopy_chunk_bytes_count{vm="guest1"} ${WORKERS * TIMES}\n`);
    expect(text).toContain(`\ncopy_worker_bytes_total{vm="guest1",worker="3"} ${SIZES[3]!.reduce((a, b) => a + b, 0)}\n`);
    // A second collection reads again: it does not add up.
    stats.copiedFiles.add(1);
    expect(await registry.metrics()).toContain(`\ncopy_copied_files_total{vm="guest1"} ${WORKERS * TIMES + 1}\n`);
  });

  it('gives getMetricsAsJSON the same samples, which prom-client’s cluster aggregator sums', async () => {
    const stats = await EveryKind.create({ backend });
    for (const size of [0, 5, 5, 300]) stats.chunkBytes.record(size);
    stats.workerBytes.at(1).add(9);
    const registry = new Registry();
    registerPromClient(stats, { registry });
    const json = await registry.getMetricsAsJSON();
    const histogram = json.find((m) => m.name === 'copy_chunk_bytes')!;
    expect(histogram).toMatchObject({ name: 'copy_chunk_bytes', help: SCHEMA.chunkBytes.help, type: 'histogram', aggregator: 'sum' });
    const values = histogram.values as { metricName: string; labels: Record<string, string>; value: number }[];
    expect(values).toHaveLength(SCHEMA.chunkBytes.buckets + 2);
    expect(values.slice(0, 6)).toEqual([
      { metricName: 'copy_chunk_bytes_bucket', labels: { le: '0' }, value: 1 },
      { metricName: 'copy_chunk_bytes_bucket', labels: { le: '1' }, value: 1 },
      { metricName: 'copy_chunk_bytes_bucket', labels: { le: '2' }, value: 1 },
      { metricName: 'copy_chunk_bytes_bucket', labels: { le: '3' }, value: 1 },
      { metricName: 'copy_chunk_bytes_bucket', labels: { le: '5' }, value: 3 },
      { metricName: 'copy_chunk_bytes_bucket', labels: { le: '7' }, value: 3 },
    ]);
    expect(values.slice(-3)).toEqual([
      { metricName: 'copy_chunk_bytes_bucket', labels: { le: '+Inf' }, value: 4 },
      { metricName: 'copy_chunk_bytes_sum', labels: {}, value: 310 },
      { metricName: 'copy_chunk_bytes_count', labels: {}, value: 4 },
    ]);
    expect(json.find((m) => m.name === 'copy_worker_bytes_total')?.values).toEqual([0, 9, 0, 0].map((value, i) => ({ value, labels: { worker: String(i) } })));
    // Two processes' registries, as cluster mode gathers them: every sample is summed.
    const merged = AggregatorRegistry.aggregate([json, await registry.getMetricsAsJSON()]);
    const twice = await merged.metrics();
    expect(twice).toContain('\ncopy_chunk_bytes_bucket{le="5"} 6\n');
    expect(twice).toContain('\ncopy_chunk_bytes_count 8\n');
    expect(twice).toContain('\ncopy_worker_bytes_total{worker="1"} 18\n');
  });

  it('writes OpenMetrics through an OpenMetrics registry, le as canonical numbers', async () => {
    const { stats } = await copied(backend);
    const registry = openMetricsRegistry();
    registerPromClient(stats, { registry });
    const text = await registry.metrics();
    // prom-client writes no UNIT lines; the rest is the library's own OpenMetrics.
    expect(text).toBe(prometheusText(stats, { format: 'openmetrics' }).replace(/# UNIT .*\n/g, ''));
    expect(readExposition(text, 'openmetrics').find((f) => f.name === 'copy_chunk_bytes')?.samples[0]?.labels).toEqual({ le: '0.0' });
  });

  it('passes promtool check metrics', async (ctx) => {
    gate('prometheus').check(ctx);
    const { stats } = await copied(backend);
    const registry = new Registry();
    registerPromClient(stats, { registry, labels: { vm: 'guest1' } });
    expect(promtoolCheck(await registry.metrics())).toEqual({ status: 0, output: '' });
  });

  it('rounds values above 2^53 to the nearest double, as prom-client keeps numbers', async () => {
    const stats = await EveryKind.create({ backend });
    stats.workerBytes.at(0).add(2n ** 53n + 1n);
    stats.chunkBytes.record(2n ** 53n + 1n);
    const registry = new Registry();
    registerPromClient(stats, { registry });
    const text = await registry.metrics();
    expect(text).toContain('\ncopy_worker_bytes_total{worker="0"} 9007199254740992\n');
    expect(text).toContain('\ncopy_chunk_bytes_sum 9007199254740992\n');
  });

  it('unregisters every metric, and leaves the registry as it was when a name is taken', async () => {
    const stats = await EveryKind.create({ backend });
    const registry = new Registry();
    new (await import('prom-client')).Gauge({ name: 'copy_chunk_bytes', help: 'Taken.', registers: [registry] });
    expect(() => registerPromClient(stats, { registry })).toThrow(/already been registered/);
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(['copy_chunk_bytes']);
    registry.clear();
    const registration = registerPromClient(stats, { registry });
    expect(registry.getMetricsAsArray()).toHaveLength(4);
    registry.resetMetrics();
    registration.unregister();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });

  it('refuses constant labels that clash with a vector’s label or le, naming both', async () => {
    const stats = await EveryKind.create({ backend });
    const registry = new Registry();
    expect(() => registerPromClient(stats, { registry, labels: { worker: 'x' } })).toThrow(
      new TypeError(
        'registerPromClient: options.labels.worker clashes with the label of the vector workerBytes, whose elements are exported with worker="0" to worker="3"; give the constant label another name',
      ),
    );
    expect(() => registerPromClient(stats, { registry, labels: { le: 'x' } })).toThrow(/^registerPromClient: options\.labels\.le clashes with the label le of the buckets of the histogram chunkBytes/);
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });
});

/** A reader that collects when asked, and nothing else. */
class ManualReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** The metrics a reader collects now, by name. */
async function collectByName(reader: MetricReader): Promise<{ metrics: Map<string, MetricData>; errors: unknown[] }> {
  const { resourceMetrics, errors } = await reader.collect();
  const all = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  const metrics = new Map(all.map((metric) => [metric.descriptor.name, metric]));
  expect(metrics.size, 'each name once').toBe(all.length);
  return { metrics, errors };
}

/** A histogram as the text format gives it: each bucket's highest value (le) and its own count (not cumulative). */
function bucketsOfText(text: string, family: string): { boundaries: number[]; counts: number[] } {
  const samples = readExposition(text, 'prometheus').find((f) => f.name === family)!.samples.filter((s) => s.name.endsWith('_bucket'));
  const cumulative = samples.map((s) => Number(s.value));
  return {
    boundaries: samples.slice(0, -1).map((s) => Number(s.labels.le)),
    counts: cumulative.map((value, i) => value - (i === 0 ? 0 : cumulative[i - 1]!)),
  };
}

describe.each(BACKENDS)('OpenTelemetry over stats of any definition (%s backend)', (backend) => {
  it('observeStats observes counters, gauges and each element of a vector, and leaves histograms to the producer', async () => {
    const { stats } = await copied(backend);
    const reader = new ManualReader();
    const provider = new MeterProvider({ readers: [reader] });
    try {
      const { names } = observeStats(stats, provider.getMeter('test'), { attributes: { vm: 'guest1' } });
      expect(names).toEqual(['copy.copied_files', 'copy.queue_depth', 'copy.worker_bytes']);
      const { metrics, errors } = await collectByName(reader);
      expect(errors).toEqual([]);
      expect([...metrics.keys()]).toEqual(names);
      expect(metrics.get('copy.copied_files')).toMatchObject({ dataPointType: DataPointType.SUM, isMonotonic: true, descriptor: { unit: '{files}', description: 'Files copied.' } });
      expect(metrics.get('copy.copied_files')?.dataPoints.map((p) => [p.attributes, p.value])).toEqual([[{ vm: 'guest1' }, WORKERS * TIMES]]);
      expect(metrics.get('copy.queue_depth')?.dataPointType).toBe(DataPointType.GAUGE);
      expect(metrics.get('copy.queue_depth')?.dataPoints.map((p) => p.value)).toEqual([TIMES - 1]);
      expect(metrics.get('copy.worker_bytes')?.descriptor.unit).toBe('By');
      expect(metrics.get('copy.worker_bytes')?.dataPoints.map((p) => [p.attributes, p.value])).toEqual(
        SIZES.map((sizes, w) => [{ vm: 'guest1', worker: String(w) }, sizes.reduce((a, b) => a + b, 0)]),
      );
    } finally {
      await provider.shutdown();
    }
  });

  it('observeMigrationStats is the same function under its first name, for any stats', async () => {
    const stats = await EveryKind.create({ backend });
    stats.workerBytes.at(2).add(5);
    const reader = new ManualReader();
    const provider = new MeterProvider({ readers: [reader] });
    try {
      expect(observeMigrationStats(stats, provider.getMeter('test'), { prefix: 'job.' }).names).toEqual(['job.copied_files', 'job.queue_depth', 'job.worker_bytes']);
      const { metrics } = await collectByName(reader);
      expect(metrics.get('job.worker_bytes')?.dataPoints.map((p) => p.value)).toEqual([0, 0, 5, 0]);
    } finally {
      await provider.shutdown();
    }
  });

  it('statsMetricProducer gives every kind to a periodic reader, histograms with the buckets of the text format', async () => {
    const { stats } = await copied(backend);
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    // Exports only when flushed; a flush's limit is the suite's safety net, not the SDK's 30 s.
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: SAFETY_NET_MS, metricProducers: [statsMetricProducer(stats, { attributes: { vm: 'guest1' } })] });
    const provider = new MeterProvider({ readers: [reader] });
    try {
      await reader.forceFlush();
      const exported = exporter.getMetrics();
      expect(exported).toHaveLength(1);
      const scopes = exported[0]!.scopeMetrics.filter((scope) => scope.metrics.length > 0);
      expect(scopes.map((scope) => scope.scope.name)).toEqual(['migration-stats']);
      const metrics = new Map(scopes[0]!.metrics.map((m) => [m.descriptor.name, m]));
      expect([...metrics.keys()]).toEqual(['copy.copied_files', 'copy.queue_depth', 'copy.worker_bytes', 'copy.chunk_bytes']);
      expect(metrics.get('copy.copied_files')).toMatchObject({ dataPointType: DataPointType.SUM, isMonotonic: true, aggregationTemporality: AggregationTemporality.CUMULATIVE });
      expect(metrics.get('copy.copied_files')?.dataPoints[0]).toMatchObject({ value: WORKERS * TIMES, attributes: { vm: 'guest1' } });
      expect(metrics.get('copy.queue_depth')).toMatchObject({ dataPointType: DataPointType.GAUGE, dataPoints: [{ value: TIMES - 1 }] });
      expect(metrics.get('copy.worker_bytes')?.dataPoints.map((p) => [p.attributes, p.value])).toEqual(
        SIZES.map((sizes, w) => [{ vm: 'guest1', worker: String(w) }, sizes.reduce((a, b) => a + b, 0)]),
      );
      const histogram = metrics.get('copy.chunk_bytes')!;
      expect(histogram).toMatchObject({ dataPointType: DataPointType.HISTOGRAM, descriptor: { unit: 'By', description: SCHEMA.chunkBytes.help } });
      expect(histogram.dataPoints).toHaveLength(1);
      const point = histogram.dataPoints[0]!;
      expect(point.attributes).toEqual({ vm: 'guest1' });
      expect(point.value).toEqual({ buckets: bucketsOfText(prometheusText(stats), 'copy_chunk_bytes'), sum: TOTAL_BYTES, count: WORKERS * TIMES });
      // Each bucket counts the chunks above the boundary before it, up to its own (OpenTelemetry's rule).
      const { boundaries, counts } = (point.value as { buckets: { boundaries: number[]; counts: number[] } }).buckets;
      expect(counts).toEqual(counts.map((_, i) => ALL_SIZES.filter((size) => (i === 0 || size > boundaries[i - 1]!) && (i === boundaries.length || size <= boundaries[i]!)).length));
    } finally {
      await provider.shutdown();
    }
  });

  it('beside observeStats on the same provider, a producer of histograms only adds them, once each', async () => {
    const { stats } = await copied(backend);
    const reader = new ManualReader({ metricProducers: [statsMetricProducer(stats, { kinds: ['histogram'] })] });
    const provider = new MeterProvider({ readers: [reader] });
    try {
      observeStats(stats, provider.getMeter('test'));
      const { metrics, errors } = await collectByName(reader);
      expect(errors).toEqual([]);
      expect([...metrics.keys()].sort()).toEqual(['copy.chunk_bytes', 'copy.copied_files', 'copy.queue_depth', 'copy.worker_bytes']);
      expect((metrics.get('copy.chunk_bytes')?.dataPoints[0]?.value as { count: number }).count).toBe(WORKERS * TIMES);
      // A collection reads again.
      stats.chunkBytes.record(1);
      expect(((await collectByName(reader)).metrics.get('copy.chunk_bytes')?.dataPoints[0]?.value as { count: number }).count).toBe(WORKERS * TIMES + 1);
    } finally {
      await provider.shutdown();
    }
  });

  it('rounds values above 2^53 to the nearest double, as OpenTelemetry takes numbers', async () => {
    const stats = await EveryKind.create({ backend });
    stats.copiedFiles.set(2n ** 53n + 1n);
    stats.chunkBytes.record(2n ** 64n - 1n);
    const { resourceMetrics } = await statsMetricProducer(stats).collect();
    const metrics = new Map(resourceMetrics.scopeMetrics[0]!.metrics.map((m) => [m.descriptor.name, m]));
    expect(metrics.get('copy.copied_files')?.dataPoints[0]?.value).toBe(2 ** 53);
    const histogram = metrics.get('copy.chunk_bytes')?.dataPoints[0]?.value as { buckets: { boundaries: number[]; counts: number[] }; sum: number; count: number };
    expect(histogram.sum).toBe(2 ** 64);
    expect(histogram.count).toBe(1);
    expect(histogram.buckets.counts.at(-1)).toBe(1);
    expect(histogram.buckets.boundaries).toHaveLength(SCHEMA.chunkBytes.buckets - 1);
  });
});

describe('statsMetricProducer', () => {
  it('gives the errors of metrics that fail to be read, and the others', async () => {
    const real = await (await import('../dist/index.js')).MigrationStats.create();
    real.normalPages.add(4);
    // A MigrationStats of another copy whose zeroPages.get() starts to fail after it was checked.
    let failing = false;
    const zeroPages = { name: 'zeroPages', add() {}, set() {}, min() {}, max() {}, getNumber: () => 0, get: () => { if (failing) throw new Error('the memory is gone'); return 0n; } };
    const foreign = { ...real, [BRAND]: (real as unknown as Record<symbol, unknown>)[BRAND], handle: real.handle, zeroPages };
    const producer = statsMetricProducer(foreign as never);
    failing = true;
    const { resourceMetrics, errors } = await producer.collect();
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toMatch(/^statsMetricProducer: stats\.zeroPages\.get\(\) failed \(the memory is gone\)/);
    const names = resourceMetrics.scopeMetrics[0]!.metrics.map((m) => m.descriptor.name);
    expect(names).toHaveLength(14);
    expect(names).not.toContain('qemu.migration.zero_pages');
    expect(resourceMetrics.scopeMetrics[0]!.metrics.find((m) => m.descriptor.name === 'qemu.migration.normal_pages')?.dataPoints[0]?.value).toBe(4);
  });

  it('refuses bad arguments with its own errors, naming them', async () => {
    const stats = await EveryKind.create();
    expect(() => statsMetricProducer({} as never)).toThrow(/^statsMetricProducer: stats must be a stats object \(from defineStats/);
    expect(() => statsMetricProducer(stats, { kinds: [] })).toThrow(
      new TypeError("statsMetricProducer: options.kinds must be an array of distinct kinds among 'counter', 'gauge', 'histogram' (at least one); received an object (Array)"),
    );
    expect(() => statsMetricProducer(stats, { kinds: ['summary' as never] })).toThrow(/options\.kinds must be/);
    expect(() => statsMetricProducer(stats, { kinds: ['gauge', 'gauge'] })).toThrow(/options\.kinds must be/);
    expect(() => statsMetricProducer(stats, { kinds: 'histogram' as never })).toThrow(/options\.kinds must be/);
    expect(() => statsMetricProducer(stats, { prefix: '9.' })).toThrow(/^statsMetricProducer: options\.prefix must be '' or match/);
    expect(() => statsMetricProducer(stats, { attributes: { worker: 'x' } })).toThrow(
      new TypeError(
        'statsMetricProducer: options.attributes.worker clashes with the label of the vector workerBytes, whose elements are exported with worker="0" to worker="3"; give the constant label another name',
      ),
    );
    expect(() => observeStats(stats, new MeterProvider().getMeter('m'), { attributes: { worker: 'x' } })).toThrow(/^observeStats: options\.attributes\.worker clashes with the label of the vector workerBytes/);
    // le is no attribute of OpenTelemetry's histograms, and a producer of histograms exports no vector's label.
    expect(() => statsMetricProducer(stats, { attributes: { le: 'x' } })).not.toThrow();
    expect(() => statsMetricProducer(stats, { kinds: ['histogram'], attributes: { worker: 'x' } })).not.toThrow();
    expect(() => statsMetricProducer(stats, { kind: ['histogram'] } as never)).toThrow('statsMetricProducer: options.kind is not an option; the options are prefix, attributes, kinds');
  });
});

describe('stats of another copy of the library', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('are read through their shared memory, whatever their definition', async () => {
    const bundled = (await import('migration-stats/browser')) as typeof import('../dist/index.js');
    const foreign = await bundled.defineStats(SCHEMA, OPTIONS).create();
    expect(foreign instanceof SharedStats).toBe(false);
    copyChunks(foreign, 1, 100);
    const own = await attachStats(foreign.handle);
    expect(prometheusText(foreign)).toBe(prometheusText(own));
    expect(prometheusText(foreign)).toContain('\ncopy_copied_files_total 100\n');
    const handler = createMetricsHandler(foreign);
    const registry = new Registry();
    registerPromClient(foreign, { registry });
    foreign.copiedFiles.add(1);
    foreign.chunkBytes.record(7);
    expect(callHandler(handler, { method: 'GET', headers: {} }).body).toContain('\ncopy_copied_files_total 101\n');
    expect(withoutEmptyLines(await registry.metrics())).toBe(prometheusText(own));
  });

  it('are refused with a message saying why where this thread cannot share memory', async () => {
    const bundled = (await import('migration-stats/browser')) as typeof import('../dist/index.js');
    const foreign = await bundled.defineStats(SCHEMA, OPTIONS).create();
    // A page that is not cross-origin isolated: no SharedArrayBuffer global.
    vi.stubGlobal('crossOriginIsolated', false);
    vi.stubGlobal('SharedArrayBuffer', undefined);
    expect(() => prometheusText(foreign)).toThrow(
      new TypeError(
        'prometheusText: stats must be a stats object (from defineStats(…).create or attach, attachStats, or MigrationStats.create or attach); received an object (Object): it is a stats object of another copy of migration-stats, which this copy reads through its shared memory, and this thread cannot share memory (the page is not cross-origin isolated); pass stats made by this copy',
      ),
    );
  });
});
