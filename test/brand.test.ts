import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetricsHandler, defineStats, MigrationStats, MigrationWindow, prometheusText, queryMigrate } from '../dist/index.js';
import { observeMigrationStats, observeStats, statsMetricProducer } from '../dist/exporters/otel.js';
import { registerPromClient } from '../dist/exporters/prom-client.js';
import { BACKENDS } from './helpers.js';
import { OPTIONS, SCHEMA } from './fixtures/every-kind.mjs';
import { forgedSharedStats, forgedStats, STATS_BRAND } from './hostile.js';

/** What the QEMU reports say of a stats argument that is not a MigrationStats. */
const QEMU = 'stats must be a MigrationStats \\(from MigrationStats\\.create or attach\\)';
/** What the exporters, which take any stats object, say of one that is not a stats object. */
const ANY = 'stats must be a stats object \\(from defineStats\\(…\\)\\.create or attach, attachStats, or MigrationStats\\.create or attach\\)';

/** Every function that takes a stats argument, called with `stats`, and the start of its message for anything else. */
const TAKERS: [where: string, call: (stats: MigrationStats) => unknown, message: string][] = [
  ['queryMigrate', (stats) => queryMigrate(stats, { status: 'active', setupTimeMs: 1, totalTimeMs: 2, ramTotalBytes: 4096n, remainingBytes: 0n, mbps: 0, pagesPerSecond: 0 }), QEMU],
  ['prometheusText', (stats) => prometheusText(stats), ANY],
  ['createMetricsHandler', (stats) => createMetricsHandler(stats), ANY],
  ['new MigrationWindow', (stats) => new MigrationWindow(stats, { nowMs: 0 }).update(100), QEMU],
  ['registerPromClient', (stats) => registerPromClient(stats, { registry: new Registry() }), ANY],
  ['observeMigrationStats', (stats) => observeMigrationStats(stats, new MeterProvider().getMeter('brand')), ANY],
  ['observeStats', (stats) => observeStats(stats, new MeterProvider().getMeter('brand')), ANY],
  ['statsMetricProducer', (stats) => statsMetricProducer(stats), ANY],
];

describe('MigrationStats.isMigrationStats', () => {
  it('knows instances of this copy of the library, on both backends', async () => {
    for (const backend of ['wasm', 'js'] as const) {
      const stats = await MigrationStats.create({ backend });
      expect(MigrationStats.isMigrationStats(stats)).toBe(true);
      expect(MigrationStats.isMigrationStats(await MigrationStats.attach(stats.handle))).toBe(true);
    }
  });

  it('refuses look-alikes and other values', async () => {
    const stats = await MigrationStats.create();
    for (const value of [null, undefined, 0, 'stats', {}, { ...stats }, Object.create(MigrationStats.prototype), stats.handle]) {
      expect(MigrationStats.isMigrationStats(value)).toBe(false);
    }
  });

  it.each(BACKENDS)('refuses forgeries in every function, with the library’s TypeError naming stats (%s backend)', async (backend) => {
    const real = await MigrationStats.create({ backend });
    for (const [label, forgery] of forgedStats(real)) {
      expect(MigrationStats.isMigrationStats(forgery), label).toBe(false);
      expectRefusedEverywhere(label, forgery);
    }
  });

  it('lets every function take the counters of another copy of the library', async () => {
    const bundled = (await import('migration-stats/browser')) as typeof import('../dist/index.js');
    const stats = await bundled.MigrationStats.create();
    for (const [where, call] of TAKERS) expect(() => call(stats), where).not.toThrow();
    // The window resets the other copy's rate limiter through its counters.
    stats.qemuFileTransferred.add(5000);
    const window = new MigrationWindow(stats, { nowMs: 0 });
    stats.qemuFileTransferred.add(1000);
    expect(window.update(100)?.transferred).toBe(1000n);
    expect(stats.rateLimitStart.get()).toBe(6000n);
  });

  it('knows instances made by another copy of the library (a bundle), which instanceof does not', async () => {
    const bundled = (await import('migration-stats/browser')) as typeof import('../dist/index.js');
    expect(bundled.MigrationStats).not.toBe(MigrationStats);
    const stats = await bundled.MigrationStats.create();
    stats.zeroPages.add(7);
    expect(stats instanceof MigrationStats).toBe(false);
    expect(MigrationStats.isMigrationStats(stats)).toBe(true);
    // The reports of this copy accept the other copy's counters.
    const info = queryMigrate(stats, {
      status: 'active', setupTimeMs: 1, totalTimeMs: 2, ramTotalBytes: 4096n, remainingBytes: 0n, mbps: 0, pagesPerSecond: 0,
    });
    expect(info.ram?.duplicate).toBe(7n);
    expect(prometheusText(stats)).toContain(' 7\n');
  });
});

describe('stats of any definition', () => {
  const Copy = defineStats(SCHEMA, OPTIONS);
  const EXPORTERS = TAKERS.filter(([, , message]) => message === ANY);
  const REPORTS = TAKERS.filter(([, , message]) => message === QEMU);

  it.each(BACKENDS)('are taken by every exporter and refused by the QEMU reports (%s backend)', async (backend) => {
    const stats = await Copy.create({ backend });
    for (const [where, call] of EXPORTERS) expect(() => call(stats as never), where).not.toThrow();
    for (const [where, call] of REPORTS) {
      expect(() => call(stats as never), where).toThrow(new RegExp(`^${where}: ${QEMU}; received an object \\(Object\\)$`));
    }
    expect(MigrationStats.isMigrationStats(stats)).toBe(false);
  });

  it.each(BACKENDS)('forgeries are refused by every exporter with the library’s TypeError naming stats (%s backend)', async (backend) => {
    const real = await Copy.create({ backend });
    real.copiedFiles.add(3);
    for (const [label, forgery] of forgedSharedStats(real)) {
      expectRefusedEverywhere(label, forgery);
    }
    expect(real.copiedFiles.get()).toBe(3n);
  });

  it('an object with the brand and a live handle is read through that memory, as attachStats would read it', async () => {
    const real = await Copy.create();
    real.copiedFiles.add(3);
    const carrier = { [STATS_BRAND]: (real as unknown as Record<symbol, unknown>)[STATS_BRAND], handle: real.handle };
    expect(prometheusText(carrier as never)).toBe(prometheusText(real));
  });
});

/** Expects every function that takes stats to refuse `forgery` with its own TypeError naming stats. */
function expectRefusedEverywhere(label: string, forgery: unknown): void {
  for (const [where, call, message] of TAKERS) {
    let error: unknown;
    try {
      call(forgery as MigrationStats);
    } catch (caught) {
      error = caught;
    }
    expect(error, `${where} given ${label}`).toBeInstanceOf(TypeError);
    expect((error as Error).message, `${where} given ${label}`).toMatch(new RegExp(`^${where}: ${message}; received `));
  }
}
