// The fuzzer: seeded fast-check runs that throw random values, objects with throwing getters,
// revoked Proxies, forged stats, deep trees and huge numbers at every public function of the main
// entry and of the two adapters. Each call either succeeds or throws the library's own TypeError or
// RangeError, whose message starts with the call's name; a refused call leaves every counter as it
// was, and an accepted update changes the counters exactly as a BigInt model says.
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  completedMbps,
  COUNTER_NAMES,
  createMetricsHandler,
  defineStats,
  formatQmp,
  infoMigrate,
  MIGRATION_STATUSES,
  MigrationStats,
  MigrationWindow,
  prometheusText,
  PROTOBUF_CONTENT_TYPE,
  queryMigrate,
  sizeToStr,
  type CounterName,
  type SharedStats,
} from '../../dist/index.js';
import { observeStats, statsMetricProducer } from '../../dist/exporters/otel.js';
import { registerPromClient } from '../../dist/exporters/prom-client.js';
import { readExposition } from '../exposition.js';
import { decodeFamilies } from '../protobuf-decode.js';
import { copyChunks, OPTIONS, SCHEMA } from '../fixtures/every-kind.mjs';
import { forgedSharedStats, forgedStats } from '../hostile.js';
import { acceptHeader, countish, hostile, just, nearValid, optionsOf, primitive, type Recipe } from './arbitraries.js';

/** The seed of every property: the same cases on every run. */
const SEED = 9110;
const U64 = 2n ** 64n;

const wasm = await MigrationStats.create({ backend: 'wasm' });
const js = await MigrationStats.create({ backend: 'js' });
const bundledCopy = (await import('migration-stats/browser')) as typeof import('../../dist/index.js');
const bundled = await bundledCopy.MigrationStats.create();
/** Stats of another definition, with every kind of metric: on both backends, and of another copy (read through their memory). */
const EveryKind = defineStats(SCHEMA, OPTIONS);
const anyWasm = await EveryKind.create({ backend: 'wasm' });
const anyJs = await EveryKind.create({ backend: 'js' });
const anyBundled = await bundledCopy.defineStats(SCHEMA, OPTIONS).create();
for (const [i, stats] of [anyWasm, anyJs, anyBundled].entries()) {
  copyChunks(stats, i, 500);
  stats.workerBytes.at(3).add(2n ** 63n + BigInt(i));
}
/** The stats whose counters must not change, and what they hold. */
const WATCHED = [wasm, js, bundled];
const ANY_WATCHED: SharedStats[] = [anyWasm, anyJs, anyBundled];
/** Every value of a stats object of any definition: each value, element, bucket and sum. */
const cells = (stats: SharedStats): bigint[] =>
  Object.values(stats.snapshot()).flatMap((value) => (typeof value === 'bigint' ? [value] : Array.isArray(value) ? value : [...value.buckets, value.sum, value.count]));
const snapshot = (): bigint[] => [...WATCHED.flatMap((stats) => stats.counters.map((counter) => counter.get())), ...ANY_WATCHED.flatMap(cells)];

// Counters that are not all zero, some beyond 2^53 and 2^63.
for (const stats of [wasm, js, bundled]) {
  stats.counters.forEach((counter, i) => counter.set(i % 3 === 0 ? 2n ** 63n + BigInt(i) : BigInt(i) * 4099n));
}

/** Objects that claim to be stats and are not (picked by index: fast-check looks into constants, which a revoked Proxy refuses). */
const FORGERY_LIST: readonly unknown[] = [...forgedStats(wasm), ...forgedStats(js)].map(([, forgery]) => forgery);
const FORGERIES = new Set(FORGERY_LIST);

/** Any stats argument: real ones on both backends, one of another copy, forgeries, anything hostile. */
const statsArg: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(wasm, js, bundled).map(just) },
  { weight: 2, arbitrary: fc.nat(FORGERY_LIST.length - 1).map((i) => just(FORGERY_LIST[i])) },
  { weight: 1, arbitrary: hostile },
);

/** Objects that claim to be stats of any definition and are not. */
const ANY_FORGERY_LIST: readonly unknown[] = [...forgedSharedStats(anyWasm), ...forgedSharedStats(anyJs)].map(([, forgery]) => forgery);

/** The stats argument of the exporters: any definition, MigrationStats included, and forgeries of both kinds. */
const anyStatsArg: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(anyWasm, anyJs, anyBundled, wasm, bundled).map(just) },
  { weight: 2, arbitrary: fc.nat(ANY_FORGERY_LIST.length - 1).map((i) => just(ANY_FORGERY_LIST[i])) },
  { weight: 1, arbitrary: fc.nat(FORGERY_LIST.length - 1).map((i) => just(FORGERY_LIST[i])) },
  { weight: 1, arbitrary: hostile },
);

/** How many calls each property made, by call name, and how many of them were accepted. */
const made = new Map<string, number>();
const accepted = new Map<string, number>();
const count = (name: string, ok: boolean): void => {
  made.set(name, (made.get(name) ?? 0) + 1);
  if (ok) accepted.set(name, (accepted.get(name) ?? 0) + 1);
};

/** Checks what a call threw: the library's TypeError or RangeError, its message starting with the call's name. */
function checkThrown(name: string, error: unknown): void {
  const ok = (error instanceof TypeError || error instanceof RangeError) && error.message.startsWith(`${name}: `);
  if (!ok) {
    const shown = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
    throw new Error(`${name} threw something that is not the library's TypeError or RangeError naming it: ${shown.slice(0, 300)}`);
  }
}

/**
 * Calls `call` once with fresh arguments made from the recipes; the call is accepted or refused as
 * {@link checkThrown} says, and the watched counters do not change.
 * @returns what the call returned, or `undefined` when it threw
 */
function fuzzCall(name: string, recipes: readonly Recipe[], call: (...args: unknown[]) => unknown): { ok: boolean; result: unknown } {
  const before = snapshot();
  let outcome: { ok: boolean; result: unknown };
  try {
    outcome = { ok: true, result: call(...recipes.map((make) => make())) };
  } catch (error) {
    checkThrown(name, error);
    outcome = { ok: false, result: undefined };
  }
  count(name, outcome.ok);
  const after = snapshot();
  if (after.some((value, i) => value !== before[i])) throw new Error(`${name} changed a counter`);
  return outcome;
}

/** Runs a property of `runs` calls of one function, its arguments from `args`. */
function fuzz(name: string, runs: number, args: fc.Arbitrary<Recipe>[], call: (...args: unknown[]) => unknown, then?: (result: unknown) => void): void {
  fc.assert(
    fc.property(fc.tuple(...args), (recipes) => {
      const { ok, result } = fuzzCall(name, recipes, call);
      if (ok) then?.(result);
    }),
    { seed: SEED, numRuns: runs, endOnFailure: true },
  );
}

const status = fc.constantFrom(...MIGRATION_STATUSES, 'running').map(just);
const contextValue = fc.oneof(status, countish, primitive.map(just), fc.double({ min: 0, max: 1e6 }).map(just));
/** Contexts that are valid for their status, before {@link nearValid} changes one member. */
const validContext = fc
  .record({
    status: fc.constantFrom(...MIGRATION_STATUSES),
    setupTimeMs: fc.nat(1000),
    extra: fc.nat(100_000),
    downtimeMs: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 63n - 1n })),
    expectedDowntimeMs: fc.double({ min: 0, max: 1e18, noNaN: true }).map(Math.trunc),
    ramTotalBytes: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    remainingBytes: fc.nat(),
    pageSize: fc.constantFrom(4096, 65536, 1n),
    mbps: fc.double({ min: 0, max: 1e9, noNaN: true }),
    pagesPerSecond: fc.oneof(fc.double({ min: 0, max: 1e12, noNaN: true }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    errorDesc: fc.string({ unit: 'binary', maxLength: 20 }),
  })
  .map(({ extra, ...context }) => Object.fromEntries(Object.entries({ ...context, totalTimeMs: context.setupTimeMs + extra }).map(([key, value]) => [key, just(value)])));
const CONTEXT = ['status', 'setupTimeMs', 'totalTimeMs', 'downtimeMs', 'expectedDowntimeMs', 'ramTotalBytes', 'remainingBytes', 'pageSize', 'mbps', 'pagesPerSecond', 'errorDesc'];
/** queryMigrate's answers, kept to feed infoMigrate and formatQmp. */
const infos: unknown[] = [{}];
const info = fc.oneof(fc.nat(1000).map((i): Recipe => () => infos[i % infos.length]), optionsOf(['status', 'ram', 'total-time', 'setup-time', 'downtime', 'expected-downtime', 'error-desc'], contextValue));

const label = fc.oneof(fc.constantFrom('vm', 'host', 'bad name', '__name__', '0x', 'ok_1').map(just), primitive.map(just));
const promOptions = optionsOf(['prefix', 'labels', 'format'], fc.oneof(
  fc.constantFrom('', 'x_', 'qemu_', '9x', 'a-b', 'prometheus', 'openmetrics').map(just),
  optionsOf(['vm', 'host', 'bad name', '__name__'], label),
));

describe('fuzzing every public function of the main entry', () => {
  it('refuses bad arguments of the reports and exporters with their own errors, and changes no counter', async () => {
    fuzz('queryMigrate', 22_000, [statsArg, fc.oneof(nearValid(validContext), optionsOf(CONTEXT, contextValue))], (stats, context) => queryMigrate(stats as never, context as never), (result) => {
      if (infos.length < 1000) infos.push(result);
    });
    fuzz('infoMigrate', 12_000, [info], (value) => infoMigrate(value as never), (text) => expect(typeof text).toBe('string'));
    fuzz('formatQmp', 17_000, [fc.oneof(info, hostile), optionsOf(['type', 'response'], fc.constantFrom('MigrationInfo', 'MigrationStats', null, true, false).map(just))], (value, options) => formatQmp(value as never, options as never), (text) => {
      expect(typeof text).toBe('string');
    });
    fuzz('sizeToStr', 5_000, [fc.oneof(countish, hostile)], (bytes) => sizeToStr(bytes as never));
    const ms = fc.oneof({ weight: 3, arbitrary: fc.nat(10_000).map(just) }, { weight: 1, arbitrary: hostile });
    fuzz('completedMbps', 5_000, [fc.oneof(countish, hostile), ms, ms], (a, b, c) => completedMbps(a as never, b as never, c as never));
    fuzz('prometheusText', 12_000, [statsArg, promOptions], (stats, options) => prometheusText(stats as never, options as never), (text) => {
      readExposition(text as string, (text as string).endsWith('# EOF\n') ? 'openmetrics' : 'prometheus');
    });
    const request = optionsOf(['method', 'headers'], fc.oneof(
      fc.constantFrom('GET', 'HEAD', 'POST', 'get', 'BREW').map(just),
      optionsOf(['accept'], fc.oneof(acceptHeader.map(just), fc.array(acceptHeader, { maxLength: 3 }).map(just))),
    ));
    fuzz('createMetricsHandler', 12_000, [statsArg, optionsOf(['prefix', 'labels'], label), request], (stats, options, req) => {
      const handler = createMetricsHandler(stats as never, options as never);
      // The handler itself: whatever the request, it answers and never throws.
      const answer = { status: 0, type: '', body: undefined as string | undefined, logged: 0 };
      // A request that fails is logged with console.error (no onError here), once.
      const log = console.error;
      console.error = () => void answer.logged++;
      try {
        handler(req as never, {
          set statusCode(code: number) { answer.status = code; },
          get statusCode() { return answer.status; },
          setHeader(name: string, value: string | number) { if (name === 'Content-Type') answer.type = String(value); },
          end(body?: string) { answer.body = body; },
        });
      } catch (error) {
        throw new Error(`the handler threw ${String(error)}`);
      } finally {
        console.error = log;
      }
      return answer;
    }, (result) => {
      const { status: code, type, body, logged } = result as { status: number; type: string; body: string | Uint8Array | undefined; logged: number };
      expect([200, 405, 406, 500]).toContain(code);
      expect(logged).toBe(code === 500 ? 1 : 0);
      if (code === 500) expect(body).toBe('Internal Server Error\n');
      if (code === 200 && body instanceof Uint8Array) {
        expect(type).toBe(PROTOBUF_CONTENT_TYPE);
        decodeFamilies(body);
      } else if (code === 200 && typeof body === 'string') readExposition(body, type.startsWith('application/openmetrics-text') ? 'openmetrics' : 'prometheus');
      else if (code === 200 && body !== undefined) throw new Error(`a 200 body that is neither text nor bytes: ${typeof body}`);
    });
    fuzz('isMigrationStats', 5_000, [statsArg], (value) => {
      const answer = MigrationStats.isMigrationStats(value);
      if (value === wasm || value === js || value === bundled) expect(answer).toBe(true);
      if (FORGERIES.has(value)) expect(answer).toBe(false);
      return answer;
    });
    const validWindow = fc
      .record({ nowMs: fc.integer(), downtimeLimitMs: fc.nat(2_000_000), availSwitchoverBandwidth: fc.oneof(fc.constant(0), fc.bigInt({ min: 1000n, max: 2n ** 64n - 1n })) }, { requiredKeys: ['nowMs'] })
      .map((options) => Object.fromEntries(Object.entries(options).map(([key, value]) => [key, just(value)])));
    const windowOptions = fc.oneof(nearValid(validWindow), optionsOf(['nowMs', 'downtimeLimitMs', 'availSwitchoverBandwidth'], fc.oneof(countish, fc.integer().map(just))));
    fuzz('new MigrationWindow', 12_000, [statsArg, windowOptions], (stats, options) => new MigrationWindow(stats as never, options as never));
    // update() and restart() on windows over stats that no other property watches: update resets the rate limiter.
    const own = await MigrationStats.create();
    const window = new MigrationWindow(own, { nowMs: 0 });
    const beforeUpdates = own.snapshot();
    fuzz('MigrationWindow.update', 6_000, [fc.oneof(fc.integer({ min: -10, max: 1e9 }).map(just), hostile)], (now) => window.update(now as never));
    fuzz('MigrationWindow.restart', 3_000, [fc.oneof(fc.integer().map(just), hostile)], (now) => window.restart(now as never));
    const { rateLimitStart: _changedByUpdate, ...others } = own.snapshot();
    const { rateLimitStart: _before, ...othersBefore } = beforeUpdates;
    expect(others).toEqual(othersBefore);
  });

  it('keeps the counters exact under random updates, refused ones changing nothing (both backends)', () => {
    /** The BigInt model of the watched stats' counters. */
    const model = new Map<MigrationStats, Map<CounterName, bigint>>(WATCHED.map((stats) => [stats, new Map(stats.counters.map((c) => [c.name as CounterName, c.get()]))]));
    const value = fc.oneof(countish, hostile);
    const op = fc.tuple(fc.constantFrom(wasm, js), fc.constantFrom(...COUNTER_NAMES), fc.constantFrom('add', 'set', 'min', 'max', 'getNumber'), value);
    fc.assert(
      fc.property(op, ([stats, name, method, recipe]) => {
        const where = `${name}.${method}`;
        const counter = stats[name];
        const values = model.get(stats)!;
        const before = values.get(name)!;
        const argument = recipe();
        try {
          if (method === 'getNumber') {
            expect(counter.getNumber()).toBe(Number(before));
          } else {
            counter[method](argument as never);
            const v = BigInt(argument as bigint);
            values.set(name, method === 'add' ? (before + v) % U64 : method === 'set' ? v : method === 'min' ? (v < before ? v : before) : v > before ? v : before);
          }
          count('Stat64 methods', true);
        } catch (error) {
          checkThrown(where, error);
          count('Stat64 methods', false);
        }
        for (const [counterName, expected] of values) expect(stats[counterName].get(), counterName).toBe(expected);
      }),
      { seed: SEED, numRuns: 40_000, endOnFailure: true },
    );
    const pages = fc.oneof({ weight: 6, arbitrary: fc.oneof(fc.nat(), fc.constantFrom(0, 0xffff_ffff, Number.MAX_SAFE_INTEGER)).map(just) }, { weight: 1, arbitrary: hostile });
    const packet = fc.tuple(fc.constantFrom(wasm, js), pages, pages, pages);
    fc.assert(
      fc.property(packet, ([stats, a, b, c]) => {
        const values = model.get(stats)!;
        const [normal, zero, bytes] = [a(), b(), c()];
        try {
          stats.addMultifdPacket(normal as never, zero as never, bytes as never);
          for (const [name, add] of [['normalPages', normal], ['zeroPages', zero], ['multifdBytes', bytes]] as const) {
            values.set(name, (values.get(name)! + BigInt(add as number)) % U64);
          }
          count('addMultifdPacket', true);
        } catch (error) {
          checkThrown('addMultifdPacket', error);
          count('addMultifdPacket', false);
        }
        for (const [counterName, expected] of values) expect(stats[counterName].get(), counterName).toBe(expected);
      }),
      { seed: SEED, numRuns: 10_000, endOnFailure: true },
    );
    fc.assert(
      fc.property(fc.constantFrom(wasm, js), fc.oneof(countish, hostile), (stats, recipe) => {
        const budget = stats.migrationRateGet();
        const argument = recipe();
        try {
          stats.migrationRateSet(argument as never);
          expect(stats.migrationRateGet()).toBe(BigInt(argument as bigint) / 10n);
          count('migrationRateSet', true);
        } catch (error) {
          checkThrown('migrationRateSet', error);
          expect(stats.migrationRateGet()).toBe(budget);
          count('migrationRateSet', false);
        }
        expect(typeof stats.migrationRateExceeded(argument)).toBe('boolean');
      }),
      { seed: SEED, numRuns: 10_000, endOnFailure: true },
    );
  });

  it('refuses bad arguments of the exporters for stats of any definition, and changes no value', async () => {
    // Label names that clash with the vector's label or the histogram's le, besides the others.
    const anyLabel = fc.oneof(fc.constantFrom('vm', 'worker', 'le', 'bad name', '__name__').map(just), primitive.map(just));
    const anyLabels = optionsOf(['vm', 'worker', 'le', 'bad name'], anyLabel);
    const prefix = fc.constantFrom('', 'x_', 'copy_', '9x', 'a-b', 'job.', 'a b').map(just);
    const promOptions = optionsOf(['prefix', 'labels', 'format'], fc.oneof(prefix, anyLabels, fc.constantFrom('prometheus', 'openmetrics').map(just)));
    fuzz('prometheusText', 8_000, [anyStatsArg, promOptions], (stats, options) => prometheusText(stats as never, options as never), (text) => {
      readExposition(text as string, (text as string).endsWith('# EOF\n') ? 'openmetrics' : 'prometheus');
    });
    fuzz('createMetricsHandler', 4_000, [anyStatsArg, optionsOf(['prefix', 'labels'], fc.oneof(prefix, anyLabels))], (stats, options) => createMetricsHandler(stats as never, options as never));
    const registryArg = fc.oneof({ weight: 4, arbitrary: fc.constant<Recipe>(() => new Registry()) }, { weight: 1, arbitrary: hostile });
    fuzz('registerPromClient', 3_000, [anyStatsArg, optionsOf(['registry', 'prefix', 'labels'], fc.oneof(registryArg, prefix, anyLabels))], (stats, options) => registerPromClient(stats as never, options as never), (registration) => {
      (registration as { unregister(): void }).unregister();
    });
    const meter = new MeterProvider().getMeter('fuzz');
    const attributeValue = fc.oneof(primitive.map(just), fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }).map(just));
    const attributes = optionsOf(['vm', 'worker', 'le', 'bad name'], attributeValue);
    const meterArg = fc.oneof({ weight: 4, arbitrary: fc.constant(just(meter)) }, { weight: 1, arbitrary: hostile });
    fuzz('observeStats', 3_000, [anyStatsArg, meterArg, optionsOf(['prefix', 'attributes'], fc.oneof(prefix, attributes))], (stats, m, options) => observeStats(stats as never, m as never, options as never), (registration) => {
      (registration as { remove(): void }).remove();
    });
    const kinds = fc.oneof(fc.subarray(['counter', 'gauge', 'histogram']).map(just), fc.array(fc.constantFrom('counter', 'histogram', 'summary', 1), { maxLength: 4 }).map(just));
    const producers: { collect(): Promise<{ resourceMetrics: { scopeMetrics: { metrics: unknown[] }[] }; errors: unknown[] }> }[] = [];
    fuzz('statsMetricProducer', 4_000, [anyStatsArg, optionsOf(['prefix', 'attributes', 'kinds'], fc.oneof(prefix, attributes, kinds))], (stats, options) => statsMetricProducer(stats as never, options as never), (producer) => {
      if (producers.length < 500) producers.push(producer as (typeof producers)[number]);
    });
    // What accepted producers collect: no error (the stats here never fail), every metric asked for.
    for (const producer of producers) {
      const { resourceMetrics, errors } = await producer.collect();
      expect(errors).toEqual([]);
      expect(resourceMetrics.scopeMetrics).toHaveLength(1);
    }
    expect(producers.length).toBeGreaterThan(100);
  });

  it('refuses bad options of create and attach with their own errors', async () => {
    const createOptions = optionsOf(['backend', 'lane'], fc.constantFrom('wasm', 'js', 'c', true, false).map(just));
    const target = await MigrationStats.create();
    const handles = fc.oneof(
      { weight: 3, arbitrary: fc.constant(just(target.handle)) },
      { weight: 1, arbitrary: optionsOf(['kind', 'layoutVersion', 'memory', 'module'], fc.constantFrom(target.handle.memory, target.handle.module, new WebAssembly.Memory({ initial: 1 })).map(just)) },
      { weight: 1, arbitrary: hostile },
    );
    const check = async (name: string, call: () => Promise<MigrationStats>): Promise<void> => {
      try {
        (await call()).close();
        count(name, true);
      } catch (error) {
        checkThrown(name, error);
        count(name, false);
      }
    };
    await fc.assert(
      fc.asyncProperty(createOptions, async (options) => check('MigrationStats.create', () => MigrationStats.create(options() as never))),
      { seed: SEED, numRuns: 2_000, endOnFailure: true },
    );
    await fc.assert(
      fc.asyncProperty(handles, createOptions, async (handle, options) => check('MigrationStats.attach', () => MigrationStats.attach(handle() as never, options() as never))),
      { seed: SEED, numRuns: 2_000, endOnFailure: true },
    );
    const total = [...made.values()].reduce((sum, n) => sum + n, 0);
    console.log(`fuzzed ${total} calls: ${[...made].map(([name, n]) => `${name} ${n} (${accepted.get(name) ?? 0} accepted)`).join(', ')}`);
    expect(total).toBe(FUZZED_CALLS);
    // Each function was both accepted and refused many times (isMigrationStats never throws).
    for (const [name, n] of made) {
      expect(accepted.get(name) ?? 0, `${name} accepted`).toBeGreaterThan(n / 50);
      if (name !== 'isMigrationStats') expect(n - (accepted.get(name) ?? 0), `${name} refused`).toBeGreaterThan(n / 50);
    }
  });
});

/** Calls made by the four properties above, in all (docs/design.md gives this figure). */
const FUZZED_CALLS =
  22_000 + 12_000 + 17_000 + 5_000 + 5_000 + 12_000 + 12_000 + 5_000 + 12_000 + 6_000 + 3_000 + 40_000 + 10_000 + 10_000 +
  (8_000 + 4_000 + 3_000 + 3_000 + 4_000) +
  2_000 + 2_000;
