import { readFileSync } from 'node:fs';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { Meter } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MigrationStats, type BackendName } from '../dist/index.js';
import { observeMigrationStats } from '../dist/exporters/otel.js';
import { registerPromClient } from '../dist/exporters/prom-client.js';
import { addInWorkers } from './workers.js';
import { SAFETY_NET_MS } from './wait.js';

describe.each<BackendName>(['wasm', 'js'])('prom-client adapter (%s backend)', (backend) => {
  it('shows what worker threads counted at each collection', async () => {
    const stats = await MigrationStats.create({ backend });
    const registry = new Registry();
    const { names } = registerPromClient(stats, { registry, labels: { vm: 'guest1' } });
    expect(names).toHaveLength(15);
    expect(await registry.metrics()).toContain('\nqemu_migration_zero_pages_total{vm="guest1"} 0\n');
    await addInWorkers(stats, [['zeroPages', 1], ['precopyBytes', 4096]], 10_000);
    stats.dirtyPagesRate.set(250);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE qemu_migration_zero_pages_total counter\nqemu_migration_zero_pages_total{vm="guest1"} 20000\n');
    expect(text).toContain('\nqemu_migration_precopy_bytes_total{vm="guest1"} 81920000\n');
    expect(text).toContain('# TYPE qemu_migration_dirty_pages_per_second gauge\nqemu_migration_dirty_pages_per_second{vm="guest1"} 250\n');
    // A second collection does not add up: counters are re-read, not incremented.
    expect(await registry.metrics()).toContain('\nqemu_migration_zero_pages_total{vm="guest1"} 20000\n');
  });

  it('rounds values above 2^53 to the nearest double, as prom-client keeps numbers', async () => {
    const stats = await MigrationStats.create({ backend });
    const registry = new Registry();
    registerPromClient(stats, { registry });
    stats.rateLimitMax.set(2n ** 53n + 1n);
    expect(await registry.metrics()).toContain('\nqemu_migration_rate_limit_max_bytes 9007199254740992\n');
  });

  it('writes OpenMetrics through an OpenMetrics registry', async () => {
    const stats = await MigrationStats.create({ backend });
    // prom-client's types omit the constructor's content-type argument; its code takes it.
    const OpenMetricsRegistry = Registry as unknown as new (contentType: string) => Registry;
    const registry = new OpenMetricsRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
    registerPromClient(stats, { registry });
    stats.normalPages.add(7);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE qemu_migration_normal_pages counter\nqemu_migration_normal_pages_total 7\n');
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  it('unregisters, and leaves the registry as it was when a name is taken', async () => {
    const stats = await MigrationStats.create({ backend });
    const registry = new Registry();
    const registration = registerPromClient(stats, { registry });
    expect(() => registerPromClient(stats, { registry })).toThrow(/already been registered/);
    expect(registry.getMetricsAsArray()).toHaveLength(15);
    registration.unregister();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    registerPromClient(stats, { registry, prefix: 'vm1_' });
    expect(registry.getSingleMetric('vm1_zero_pages_total')).toBeDefined();
  });

  it('rejects bad arguments, naming them', async () => {
    const stats = await MigrationStats.create({ backend });
    expect(() => registerPromClient({} as MigrationStats)).toThrow(/^registerPromClient: stats must be a stats object \(from defineStats/);
    expect(() => registerPromClient(stats, { registry: {} as Registry })).toThrow(/options.registry must be a prom-client Registry/);
    expect(() => registerPromClient(stats, { registry: new Registry(), prefix: 'no-dash' })).toThrow(/options.prefix must be/);
  });
});

describe.each<BackendName>(['wasm', 'js'])('OpenTelemetry adapter (%s backend)', (backend) => {
  async function collect(stats: MigrationStats, options?: Parameters<typeof observeMigrationStats>[2]) {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    // Exports only when flushed; a flush's limit is the suite's safety net, not the SDK's 30 s.
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: SAFETY_NET_MS });
    const provider = new MeterProvider({ readers: [reader] });
    const registration = observeMigrationStats(stats, provider.getMeter('migration-stats-test'), options);
    const read = async () => {
      exporter.reset();
      await reader.forceFlush();
      const metrics = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
      return new Map(metrics.map((m) => [m.descriptor.name, m]));
    };
    return { registration, read, shutdown: () => provider.shutdown() };
  }

  it('observes what worker threads counted, with units, descriptions and attributes', async () => {
    const stats = await MigrationStats.create({ backend });
    const { registration, read, shutdown } = await collect(stats, { attributes: { vm: 'guest1' } });
    try {
      expect(registration.names).toHaveLength(15);
      await addInWorkers(stats, [['zeroPages', 1], ['multifdBytes', 1344]], 10_000);
      stats.dirtyBytesLastSync.set(8192);
      const metrics = await read();
      expect(metrics.size).toBe(15);
      const zero = metrics.get('qemu.migration.zero_pages')!;
      expect(zero.descriptor).toMatchObject({ unit: '{page}', description: 'All-zero pages (reported as "duplicate"); QEMU zero_pages.' });
      expect(zero.dataPoints).toHaveLength(1);
      expect(zero.dataPoints[0]).toMatchObject({ value: 20_000, attributes: { vm: 'guest1' } });
      expect(metrics.get('qemu.migration.multifd_bytes')?.descriptor.unit).toBe('By');
      expect(metrics.get('qemu.migration.multifd_bytes')?.dataPoints[0]?.value).toBe(26_880_000);
      expect(metrics.get('qemu.migration.dirty_bytes_last_sync')?.dataPoints[0]?.value).toBe(8192);
      // Monotonic sums for adds, gauges for sets.
      expect(zero).toMatchObject({ dataPointType: DataPointType.SUM, isMonotonic: true });
      expect(metrics.get('qemu.migration.rate_limit_max')?.dataPointType).toBe(DataPointType.GAUGE);
    } finally {
      await shutdown();
    }
  });

  it('stops observing after remove()', async () => {
    const stats = await MigrationStats.create({ backend });
    const { registration, read, shutdown } = await collect(stats);
    try {
      stats.normalPages.add(5);
      expect((await read()).get('qemu.migration.normal_pages')?.dataPoints[0]?.value).toBe(5);
      registration.remove();
      stats.normalPages.add(5);
      const after = (await read()).get('qemu.migration.normal_pages');
      expect(after?.dataPoints.some((p) => p.value === 10) ?? false).toBe(false);
    } finally {
      await shutdown();
    }
  });

  it('rejects bad arguments, naming them', async () => {
    const stats = await MigrationStats.create({ backend });
    expect(() => observeMigrationStats({} as MigrationStats, {} as never)).toThrow(/^observeMigrationStats: stats must be a stats object \(from defineStats/);
    expect(() => observeMigrationStats(stats, {} as never)).toThrow(/meter must be an OpenTelemetry Meter/);
  });

  it('refuses a prefix or attributes that OpenTelemetry does not allow, before creating any instrument', async () => {
    const stats = await MigrationStats.create({ backend });
    const created: string[] = [];
    const meter = {
      createObservableCounter: (name: string) => (created.push(name), {}),
      createObservableGauge: (name: string) => (created.push(name), {}),
      addBatchObservableCallback: () => {},
      removeBatchObservableCallback: () => {},
    } as unknown as Meter;
    expect(() => observeMigrationStats(stats, meter, { prefix: '9vm.' })).toThrow(
      new TypeError(
        "observeMigrationStats: options.prefix must be '' or match /^[A-Za-z][A-Za-z0-9_.\\-/]*$/ (an OpenTelemetry instrument name start); received \"9vm.\"",
      ),
    );
    expect(() => observeMigrationStats(stats, meter, { prefix: 'a b.' })).toThrow(TypeError);
    expect(() => observeMigrationStats(stats, meter, { prefix: 'x'.repeat(240) })).toThrow(/at most 255 characters/);
    expect(() => observeMigrationStats(stats, meter, { attributes: { vm: {} } as never })).toThrow(
      new TypeError(
        'observeMigrationStats: options.attributes.vm must be a string, number, boolean or an array of one of them; received an object (Object)',
      ),
    );
    expect(() => observeMigrationStats(stats, meter, { attributes: { vm: [1, 'a'] } as never })).toThrow(/options\.attributes\.vm must be/);
    expect(created).toEqual([]);
    // What is allowed still works.
    observeMigrationStats(stats, meter, { prefix: 'vm-1/qemu.', attributes: { vm: 'guest1', cpu: 2, live: true, tags: ['a', 'b'] } });
    expect(created).toHaveLength(15);
  });
});

describe('package entry points', () => {
  it('keeps prom-client and @opentelemetry out of the main entry, which reaches neither', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    // Follow the main entry's static imports (the modules of dist/, and the Node bundle that
    // package.json names, with its chunks) and look for the optional peers.
    const reached = (entry: URL): Set<string> => {
      const seen = new Set<string>();
      const visit = (file: URL): void => {
        if (seen.has(file.href)) return;
        seen.add(file.href);
        const text = readFileSync(file, 'utf8');
        for (const [, spec] of text.matchAll(/(?:from|import)\s*['"]([^'"]+)['"]/g)) {
          expect(spec, file.pathname).not.toMatch(/prom-client|@opentelemetry/);
          if (spec!.startsWith('.')) visit(new URL(spec!, file));
        }
      };
      visit(entry);
      return seen;
    };
    expect(reached(new URL('../dist/index.js', import.meta.url)).size).toBeGreaterThan(5);
    expect(pkg.exports['.'].default).toBe('./dist/node/index.js');
    expect(reached(new URL(`.${pkg.exports['.'].default}`, import.meta.url)).size).toBeGreaterThan(1);
    expect(pkg.exports['./prom-client'].default).toBe('./dist/node/prom-client.js');
    expect(pkg.exports['./otel'].default).toBe('./dist/node/otel.js');
    expect(pkg.peerDependenciesMeta).toEqual({ '@opentelemetry/api': { optional: true }, 'prom-client': { optional: true } });
  });
});
