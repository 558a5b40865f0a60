// Arguments that run code when read (getters, Proxy traps, revoked Proxies): every function reads
// each value once, and what such code throws comes out as the library's own TypeError naming the
// argument, never as the getter's or the engine's error.
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Meter } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  createMetricsHandler,
  formatQmp,
  infoMigrate,
  MigrationStats,
  MigrationWindow,
  prometheusText,
  queryMigrate,
} from '../dist/index.js';
import { observeMigrationStats, observeStats, statsMetricProducer } from '../dist/exporters/otel.js';
import { registerPromClient } from '../dist/exporters/prom-client.js';
import { BACKENDS, values } from './helpers.js';
import { BRAND, flippingGetter, revokedProxy, throwingGetter, throwingProxy } from './hostile.js';

const stats = await MigrationStats.create();
const meter = (): Meter => new MeterProvider().getMeter('arguments');

/** Hostile objects, each made anew for every call. */
const HOSTILE: [label: string, make: () => object][] = [
  ['a revoked Proxy', revokedProxy],
  ['a Proxy whose traps throw', () => throwingProxy()],
];

/** Runs `call` and returns what it threw. */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('it did not throw');
}

/** Expects the library's TypeError, its message starting with `head`, and not the getter's words passed on as the error itself. */
function expectLibraryTypeError(call: () => unknown, head: string): void {
  const error = thrown(call);
  expect(error).toBeInstanceOf(TypeError);
  expect((error as TypeError).message.startsWith(head), (error as TypeError).message).toBe(true);
}

describe('a stats argument that cannot be read', () => {
  // The QEMU reports take a MigrationStats; the exporters take any stats object.
  const QEMU = 'stats must be a MigrationStats';
  const ANY = 'stats must be a stats object';
  const calls: [where: string, call: (value: object) => unknown, message: string][] = [
    ['queryMigrate', (value) => queryMigrate(value as MigrationStats, { status: 'none' }), QEMU],
    ['prometheusText', (value) => prometheusText(value as MigrationStats), ANY],
    ['createMetricsHandler', (value) => createMetricsHandler(value as MigrationStats), ANY],
    ['new MigrationWindow', (value) => new MigrationWindow(value as MigrationStats, { nowMs: 0 }), QEMU],
    ['registerPromClient', (value) => registerPromClient(value as MigrationStats, { registry: new Registry() }), ANY],
    ['observeMigrationStats', (value) => observeMigrationStats(value as MigrationStats, meter()), ANY],
    ['observeStats', (value) => observeStats(value as MigrationStats, meter()), ANY],
    ['statsMetricProducer', (value) => statsMetricProducer(value as MigrationStats), ANY],
  ];
  for (const [where, call, message] of calls) {
    it.each(HOSTILE)(`${where} gets %s and throws its own TypeError naming stats`, (_label, make) => {
      expectLibraryTypeError(() => call(make()), `${where}: ${message}`);
    });
  }

  it.each(HOSTILE)('MigrationStats.isMigrationStats answers false for %s instead of throwing', (_label, make) => {
    expect(MigrationStats.isMigrationStats(make())).toBe(false);
  });
});

describe('nested values that cannot be read', () => {
  const cases: [label: string, call: () => unknown, head: string][] = [
    ['prometheusText, labels a revoked Proxy', () => prometheusText(stats, { labels: revokedProxy() as never }), 'prometheusText: options.labels could not be read'],
    ['prometheusText, labels a throwing Proxy', () => prometheusText(stats, { labels: throwingProxy() as never }), 'prometheusText: options.labels could not be read'],
    ['prometheusText, a label getter that throws', () => prometheusText(stats, { labels: throwingGetter('vm') as never }), 'prometheusText: options.labels.vm could not be read'],
    ['createMetricsHandler, labels a throwing Proxy', () => createMetricsHandler(stats, { labels: throwingProxy() as never }), 'createMetricsHandler: options.labels could not be read'],
    ['createMetricsHandler, a label getter that throws', () => createMetricsHandler(stats, { labels: throwingGetter('vm') as never }), 'createMetricsHandler: options.labels.vm could not be read'],
    ['registerPromClient, a label getter that throws', () => registerPromClient(stats, { registry: new Registry(), labels: throwingGetter('vm') as never }), 'registerPromClient: options.labels.vm could not be read'],
    ['registerPromClient, a registry whose traps throw', () => registerPromClient(stats, { registry: throwingProxy() as never }), 'registerPromClient: options.registry'],
    ['observeMigrationStats, attributes a revoked Proxy', () => observeMigrationStats(stats, meter(), { attributes: revokedProxy() as never }), 'observeMigrationStats: options.attributes could not be read'],
    ['observeMigrationStats, an attribute getter that throws', () => observeMigrationStats(stats, meter(), { attributes: throwingGetter('vm') as never }), 'observeMigrationStats: options.attributes.vm could not be read'],
    ['observeMigrationStats, an attribute array whose traps throw', () => observeMigrationStats(stats, meter(), { attributes: { tags: throwingProxy([]) } as never }), 'observeMigrationStats: options.attributes.tags could not be read'],
    ['observeMigrationStats, a meter whose traps throw', () => observeMigrationStats(stats, throwingProxy() as never), 'observeMigrationStats: meter'],
    ['observeStats, an attribute getter that throws', () => observeStats(stats, meter(), { attributes: throwingGetter('vm') as never }), 'observeStats: options.attributes.vm could not be read'],
    ['statsMetricProducer, attributes a revoked Proxy', () => statsMetricProducer(stats, { attributes: revokedProxy() as never }), 'statsMetricProducer: options.attributes could not be read'],
    ['statsMetricProducer, kinds a throwing Proxy', () => statsMetricProducer(stats, { kinds: throwingProxy([]) as never }), 'statsMetricProducer: options.kinds could not be read'],
    ['statsMetricProducer, options whose getter throws', () => statsMetricProducer(stats, throwingGetter('kinds') as never), 'statsMetricProducer: options.kinds could not be read'],
    ['formatQmp, the value a revoked Proxy', () => formatQmp(revokedProxy() as never), 'formatQmp: value could not be read'],
    ['formatQmp, the value a throwing Proxy', () => formatQmp(throwingProxy() as never, { type: null }), 'formatQmp: value could not be read'],
    ['formatQmp, a member getter that throws', () => formatQmp({ ram: throwingGetter('total') } as never), 'formatQmp: value.ram.total could not be read'],
    ['formatQmp, an array item a revoked Proxy', () => formatQmp([1, revokedProxy()] as never, { type: null }), 'formatQmp: value[1] could not be read'],
    ['formatQmp, options.type a revoked Proxy', () => formatQmp({}, { type: revokedProxy() as never }), 'formatQmp: options.type must be'],
    ['infoMigrate, info a revoked Proxy', () => infoMigrate(revokedProxy() as never), 'infoMigrate: info could not be read'],
    ['infoMigrate, info a throwing Proxy', () => infoMigrate(throwingProxy() as never), 'infoMigrate: info could not be read'],
    ['infoMigrate, a status getter that throws', () => infoMigrate(throwingGetter('status') as never), 'infoMigrate: info.status could not be read'],
    ['infoMigrate, ram a throwing Proxy', () => infoMigrate({ status: 'active', ram: throwingProxy() } as never), 'infoMigrate: info.ram could not be read'],
    ['infoMigrate, a ram member getter that throws', () => infoMigrate({ status: 'active', ram: throwingGetter('transferred') } as never), 'infoMigrate: info.ram.transferred could not be read'],
    ['queryMigrate, the context a throwing Proxy', () => queryMigrate(stats, throwingProxy() as never), 'queryMigrate: context could not be read'],
    ['queryMigrate, a context getter that throws', () => queryMigrate(stats, throwingGetter('status') as never), 'queryMigrate: context.status could not be read'],
    ['new MigrationWindow, an options getter that throws', () => new MigrationWindow(stats, throwingGetter('nowMs') as never), 'new MigrationWindow: options.nowMs could not be read'],
  ];
  it.each(cases)('%s: the library’s TypeError naming it', (_label, call, head) => {
    const before = values(stats);
    expectLibraryTypeError(call, head);
    expect(values(stats)).toEqual(before);
  });

  it.each(HOSTILE)('MigrationStats.create and attach refuse options that are %s with their own TypeError', async (_label, make) => {
    await expect(MigrationStats.create(make() as never)).rejects.toThrow(/^MigrationStats\.create: options could not be read/);
    await expect(MigrationStats.attach(stats.handle, make() as never)).rejects.toThrow(/^MigrationStats\.attach: options could not be read/);
    await expect(MigrationStats.create(throwingGetter('backend') as never)).rejects.toThrow(/^MigrationStats\.create: options\.backend could not be read/);
  });
});

describe('each value is read once', () => {
  it('prometheusText prints the label value that was checked, not what a getter answers later', () => {
    const { object, reads } = flippingGetter('vm', 'guest1', 42);
    expect(prometheusText(stats, { labels: object as never })).toContain('qemu_migration_zero_pages_total{vm="guest1"} ');
    expect(reads()).toBe(1);
  });

  it('formatQmp prints the member it read, reading it once', () => {
    const { object, reads } = flippingGetter('error-desc', 'first', 7n, { status: 'failed' });
    expect(formatQmp(object as never)).toBe('{"status": "failed", "error-desc": "first"}');
    expect(reads()).toBe(1);
  });

  it('infoMigrate prints the status and ram it checked, reading each once', () => {
    const status = flippingGetter('status', 'setup', 'bogus');
    expect(infoMigrate(status.object as never)).toBe('Status: \t\tsetup\n');
    expect(status.reads()).toBe(1);
    const info = queryMigrate(stats, { status: 'active', setupTimeMs: 1, totalTimeMs: 2, ramTotalBytes: 4096n, remainingBytes: 0n, mbps: 0, pagesPerSecond: 0 });
    const ram = flippingGetter('ram', info.ram, { mbps: 'nope' }, { ...info });
    expect(infoMigrate(ram.object as never)).toContain('RAM info:\n  Throughput (Mbps): \t0.00\n');
    expect(ram.reads()).toBe(1);
  });

  it('observeMigrationStats observes the attribute values it checked', async () => {
    const observed: unknown[] = [];
    const fake = {
      createObservableCounter: () => ({}),
      createObservableGauge: () => ({}),
      addBatchObservableCallback: (callback: (result: { observe: (i: unknown, v: number, a: unknown) => void }) => void) =>
        callback({ observe: (_i, _v, attributes) => observed.push(attributes) }),
      removeBatchObservableCallback: () => {},
    } as unknown as Meter;
    const { object, reads } = flippingGetter('vm', 'guest1', { not: 'an attribute' });
    observeMigrationStats(stats, fake, { attributes: object as never });
    expect(observed).toHaveLength(15);
    for (const attributes of observed) expect(attributes).toEqual({ vm: 'guest1' });
    expect(reads()).toBe(1);
  });

  it.each(BACKENDS)('MigrationWindow reads the counters of a stats of another copy once, when made (%s backend)', async (backend) => {
    const real = await MigrationStats.create({ backend });
    // A MigrationStats of another copy of the library, whose zeroPages property stops answering.
    const { object } = flippingGetter('zeroPages', real.zeroPages, undefined, { ...real, [BRAND]: (real as unknown as Record<symbol, unknown>)[BRAND], handle: real.handle });
    const window = new MigrationWindow(object as MigrationStats, { nowMs: 0 });
    real.zeroPages.add(10);
    real.qemuFileTransferred.add(1000);
    expect(window.update(1000)?.pagesPerSecond).toBe(10);
  });
});
