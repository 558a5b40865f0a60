// A misspelt option name is an error, not a silently used default.
import { Registry } from 'prom-client';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createMetricsHandler, formatQmp, MigrationStats, MigrationWindow, prometheusText, queryMigrate } from '../dist/index.js';
import { observeMigrationStats, observeStats, statsMetricProducer } from '../dist/exporters/otel.js';
import { registerPromClient } from '../dist/exporters/prom-client.js';
import type { OptionNames } from '../dist/options.js';

describe('option names', async () => {
  const stats = await MigrationStats.create();

  it.each([
    ['new MigrationWindow', () => new MigrationWindow(stats, { nowMs: 0, downtimeLimit: 500 } as never), 'options.downtimeLimit', 'nowMs, downtimeLimitMs, availSwitchoverBandwidth'],
    ['queryMigrate', () => queryMigrate(stats, { status: 'setup', downTimeMs: 5 } as never), 'context.downTimeMs', 'status, setupTimeMs, totalTimeMs'],
    ['formatQmp', () => formatQmp({}, { respond: true } as never), 'options.respond', 'type, response'],
    ['prometheusText', () => prometheusText(stats, { label: { vm: 'a' } } as never), 'options.label', 'prefix, labels, format'],
    ['createMetricsHandler', () => createMetricsHandler(stats, { label: { vm: 'a' } } as never), 'options.label', 'prefix, labels, onError'],
    ['registerPromClient', () => registerPromClient(stats, { registry: new Registry(), label: { vm: 'a' } } as never), 'options.label', 'registry, prefix, labels'],
    ['observeMigrationStats', () => observeMigrationStats(stats, new MeterProvider().getMeter('m'), { attribute: { vm: 'a' } } as never), 'options.attribute', 'prefix, attributes'],
    ['observeStats', () => observeStats(stats, new MeterProvider().getMeter('m'), { attribute: { vm: 'a' } } as never), 'options.attribute', 'prefix, attributes'],
    ['statsMetricProducer', () => statsMetricProducer(stats, { kind: ['histogram'] } as never), 'options.kind', 'prefix, attributes, kinds'],
  ])('%s refuses an unknown option, naming it and the ones it takes', (where, call, name, allowed) => {
    expect(call).toThrow(TypeError);
    expect(call).toThrow(`${where}: ${name} is not an option; the options are ${allowed}`);
  });
});

describe('the option reader', () => {
  it('has each call list its names in an object the compiler checks against the options type', () => {
    // Checked by `npm run typecheck` (npm test runs it first): each line below must be a type error.
    // @ts-expect-error: the list misses `lane`
    const missing: OptionNames<{ backend?: string; lane?: boolean }> = { backend: true };
    // @ts-expect-error: `lanes` is not a member of the options type
    const extra: OptionNames<{ lane?: boolean }> = { lane: true, lanes: true };
    expect([Object.keys(missing), Object.keys(extra)]).toEqual([['backend'], ['lane', 'lanes']]);
  });
});
