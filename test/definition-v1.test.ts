// Memories made by 0.2.0, whose definition (format 1) carries every metric's Prometheus and
// OpenTelemetry names, resolved: they attach as the same definition and export under the same
// names. The fixtures are what 0.2.0 wrote: its canonical JSON for four definitions, and what its
// exporters wrote for stats with known values (test/fixtures/v0.2.0). A memory is made here as
// 0.2.0's create() made one: the layout planned from the definition and the JSON's length, the
// header and the JSON written into a new memory.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { writeHeader } from '../dist/backend/header.js';
import { planLayout } from '../dist/backend/layout.js';
import { compileCore } from '../dist/backend/wasm-core.js';
import { decodeDefinition, encodeDefinition, firstDifference, type Definition } from '../dist/definition.js';
import { encodeV1 } from '../dist/definition-v1.js';
import { exportNames } from '../dist/exporters/names.js';
import { statsMetricProducer } from '../dist/exporters/otel.js';
import { makeHandle, type StatsHandle } from '../dist/handle.js';
import {
  attachStats,
  definePostcopyStats,
  defineStats,
  MigrationStats,
  prometheusText,
  type BackendName,
  type RateLimitedStats,
  type SharedStats,
  type StatVector,
  type Histogram,
  type Stat64,
} from '../dist/index.js';
import { BACKENDS } from './helpers.js';

const fixture = (file: string): string => readFileSync(new URL(`./fixtures/v0.2.0/${file}`, import.meta.url), 'utf8');
const V1: Record<'copy' | 'plain' | 'qemu' | 'postcopy', string> = JSON.parse(fixture('definitions.json'));

/** The schemas the fixtures were made from. */
const Copy = defineStats(
  {
    bytesCopied: { kind: 'counter', unit: 'bytes', help: 'Bytes written to the destination' },
    sent: { kind: 'counter', unit: 'bytes', help: 'Bytes sent' },
    waitTime: { kind: 'gauge', unit: 'seconds', help: 'Seconds waited' },
    queueDepth: { kind: 'gauge', unit: 'files', help: 'Files waiting', names: { prometheus: 'queue', otel: 'queue.depth', otelUnit: '{file}' } },
    bytesPerWorker: { kind: 'counter', unit: 'bytes', help: 'Bytes by worker', length: 4, label: 'worker' },
    copyLatency: { kind: 'histogram', unit: 'microseconds', help: 'Time to copy one file', buckets: 24, subBuckets: 2 },
    HTTPRequests: { kind: 'counter', unit: 'requests', help: 'Requests served', names: { c: 'http_reqs' } },
    rateStart: { kind: 'gauge', unit: 'bytes', help: 'Window start' },
    rateMax: { kind: 'gauge', unit: 'bytes', help: 'Window budget' },
  },
  { namespace: 'copy', rateLimit: { counters: ['sent', 'bytesCopied'], start: 'rateStart', max: 'rateMax' } },
);
const Plain = defineStats({
  filesSeen: { kind: 'counter', unit: 'files', help: 'Files seen' },
  pauseMs: { kind: 'histogram', unit: 'milliseconds', help: 'Pauses', buckets: 8 },
});
const Postcopy = definePostcopyStats(4);

const definitionsNow = async (): Promise<Record<keyof typeof V1, Definition>> => ({
  copy: Copy.definition,
  plain: Plain.definition,
  qemu: (await MigrationStats.create({ lane: false })).definition,
  postcopy: Postcopy.definition,
});

/** A memory holding `json` as its definition, made as 0.2.0's create() made one (its layout planned from `planned`). */
async function memoryOf(json: string, planned = json): Promise<StatsHandle> {
  const bytes = new TextEncoder().encode(json);
  const layout = planLayout(decodeDefinition(planned), 4, bytes.length);
  if (typeof layout === 'string') throw new Error(layout);
  const memory = new WebAssembly.Memory({ initial: layout.pages, maximum: layout.pages, shared: true });
  writeHeader(memory.buffer, layout, bytes);
  return makeHandle(memory, await compileCore());
}

/** The values the fixtures' exporters read. */
function fill(stats: SharedStats): void {
  const m = (name: string) => stats.metric(name);
  (m('bytesCopied') as Stat64).add(4096);
  (m('sent') as Stat64).add(1 << 20);
  (m('waitTime') as Stat64).set(3);
  (m('queueDepth') as Stat64).set(7);
  (m('bytesPerWorker') as StatVector).at(2).add(512);
  (m('copyLatency') as Histogram).record(130);
  (m('copyLatency') as Histogram).record(3);
  (m('HTTPRequests') as Stat64).add(9);
  (stats as RateLimitedStats).rateSet(1e6);
}

/** What the OpenTelemetry producer names each metric. */
async function otelDescriptors(stats: SharedStats): Promise<unknown[]> {
  const { resourceMetrics } = await statsMetricProducer(stats).collect();
  return resourceMetrics.scopeMetrics[0]!.metrics.map((m) => m.descriptor);
}

describe("0.2.0's definitions (format 1)", () => {
  it('decode as the definitions made now: the same C names, units and kinds, and the names given', async () => {
    const now = await definitionsNow();
    for (const key of Object.keys(V1) as (keyof typeof V1)[]) {
      const decoded = decodeDefinition(V1[key]);
      expect(firstDifference(now[key], decoded), key).toBeUndefined();
      expect(decoded, key).toEqual(now[key]);
    }
    expect(decodeDefinition(V1.copy).metrics.map((m) => m.names)).toEqual([{}, {}, {}, { prometheus: 'queue', otel: 'queue.depth', otelUnit: '{file}' }, {}, {}, {}, {}, {}]);
  });

  it("are what 0.2.0's form of the definitions made now is, byte for byte, and what the exporters name them now", async () => {
    const now = await definitionsNow();
    for (const key of Object.keys(V1) as (keyof typeof V1)[]) {
      expect(encodeV1(now[key]), key).toBe(V1[key]);
      const stored = JSON.parse(V1[key]) as { metrics: { name: string; promName: string; otelName: string; otelUnit: string }[] };
      const names = exportNames(now[key]);
      for (const m of stored.metrics) expect(names.get(m.name), `${key} ${m.name}`).toEqual({ prometheus: m.promName, otel: m.otelName, otelUnit: m.otelUnit });
    }
  });

  it.each(BACKENDS)('attach through defineStats and attachStats, and export under the same names (%s)', async (backend: BackendName) => {
    const handle = await memoryOf(V1.copy);
    const seen = await attachStats(handle, { backend });
    expect(seen.definition).toEqual(Copy.definition);
    fill(seen);
    const same = await Copy.attach(handle, { backend });
    expect(same.sent.get()).toBe(1n << 20n);
    for (const stats of [seen, same]) {
      expect(prometheusText(stats)).toBe(fixture('copy.prom'));
      expect(prometheusText(stats, { format: 'openmetrics' })).toBe(fixture('copy.openmetrics'));
      expect(await otelDescriptors(stats)).toEqual(JSON.parse(fixture('copy.otel.json')));
    }
  });

  it.each(BACKENDS)("attach QEMU's counters as MigrationStats, exported under the same names (%s)", async (backend: BackendName) => {
    const handle = await memoryOf(V1.qemu);
    const stats = await MigrationStats.attach(handle, { backend });
    stats.counters.forEach((c, i) => c.add(i + 1));
    expect(await attachStats(handle, { backend })).toBeInstanceOf(MigrationStats);
    expect(prometheusText(stats, { format: 'openmetrics' })).toBe(fixture('qemu.openmetrics'));
    expect(await otelDescriptors(stats)).toEqual(JSON.parse(fixture('qemu.otel.json')));
  });

  it.each(BACKENDS)("attach the postcopy statistics' definition, exported under the same names (%s)", async (backend: BackendName) => {
    const stats = await Postcopy.attach(await memoryOf(V1.postcopy), { backend });
    expect(prometheusText(stats, { format: 'openmetrics' })).toBe(fixture('postcopy.openmetrics'));
    expect(await otelDescriptors(stats)).toEqual(JSON.parse(fixture('postcopy.otel.json')));
  });

  it('are refused, saying why, where they are not what 0.2.0 wrote', () => {
    const copy = JSON.parse(V1.copy);
    const edited = (change: (d: typeof copy) => void): string => {
      const d = structuredClone(copy);
      change(d);
      return JSON.stringify(d);
    };
    expect(() => decodeDefinition(edited((d) => (d.metrics[0].promName = '1bad')))).toThrow(
      'schema.bytesCopied.names.prometheus must be a Prometheus metric name (matching ^[a-zA-Z_:][a-zA-Z0-9_:]{0,127}$); received "1bad"',
    );
    expect(() => decodeDefinition(edited((d) => delete d.metrics[0].otelUnit))).toThrow('schema.bytesCopied.names.otelUnit must be printable ASCII without spaces, 1 to 63 characters; received undefined');
    expect(() => decodeDefinition(edited((d) => (d.metrics[0].extra = 1)))).toThrow("the memory's definition is not in canonical form");
    expect(() => decodeDefinition(edited((d) => (d.metrics[0].names = {})))).toThrow("the memory's definition is not in canonical form");
    expect(() => decodeDefinition(edited((d) => (d.format = 3)))).toThrow("the memory's definition is not one this version of migration-stats reads");
    // A name 0.2.0 stored that it would not have derived was given by the schema: it stays.
    expect(decodeDefinition(edited((d) => (d.metrics[0].promName = 'copied'))).metrics[0]!.names).toEqual({ prometheus: 'copied' });
  });
});

describe('the form written now (format 2)', () => {
  it('carries no export names but those a schema gave', () => {
    const json = encodeDefinition(Copy.definition);
    expect(json).not.toMatch(/promName|otelName|"By"/);
    expect(json.match(/"names":\{\}/g)).toHaveLength(8);
    expect(json).toContain('"names":{"prometheus":"queue","otel":"queue.depth","otelUnit":"{file}"}');
    expect(decodeDefinition(json)).toBe(Copy.definition);
  });

  it.each(BACKENDS)('is exported under the names 0.2.0 exported (%s)', async (backend: BackendName) => {
    const stats = await Copy.create({ backend });
    fill(stats);
    expect(prometheusText(stats)).toBe(fixture('copy.prom'));
    expect(prometheusText(stats, { format: 'openmetrics' })).toBe(fixture('copy.openmetrics'));
    expect(await otelDescriptors(stats)).toEqual(JSON.parse(fixture('copy.otel.json')));
  });
});

describe('a 0.2.0 memory with a metric named "interval"', () => {
  it('is refused naming the metric and why, not as a damaged header', async () => {
    // 0.2.0 allowed the name; this version's stats objects have interval() for their readers.
    const v1 = JSON.parse(V1.plain) as { metrics: { name: string }[] };
    v1.metrics[0]!.name = 'interval';
    // Planned as 0.2.0 planned it: the name changes no cell.
    const handle = await memoryOf(JSON.stringify(v1), V1.plain);
    const refusal = await Promise.resolve()
      .then(() => attachStats(handle))
      .then(() => undefined, (error: unknown) => error);
    expect(refusal).toBeInstanceOf(TypeError);
    expect((refusal as Error).message).toBe(
      `attachStats: handle.memory's definition has a metric named "interval", a name this version of migration-stats reserves for the stats object's own API (made by an earlier version, the memory is read by that version only)`,
    );
  });
});

