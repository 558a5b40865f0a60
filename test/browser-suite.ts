/**
 * The browser suite, run once per engine (test/browser*.test.ts): Web Workers share the counters,
 * whichever way the page loads the library (the no-bundler build by URL, a Vite build, an esbuild
 * build), with and without cross-origin isolation, under a Content-Security-Policy; workers record
 * exponential histograms (bucket totals from test/exp-model.ts) read by an interval; then the
 * example page's counters view and its migrate view (the simulator in Web Workers). Pages run
 * test/fixtures/browser/scenario.js and hand back plain results; the expected values live here,
 * and where an engine differs, FACTS says how, so each engine's expectation is explicit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { serve } from '../examples/browser/server.mjs';
import { systemFile } from './requirements.js';
import { NPM_SOURCE } from './engines/chromium.js';
import { maxIndex, modelCounts, modelLowest, U64_MAX } from './exp-model.js';
import { ENGINE_NAMES, engineGate, launchEngine, waitInPage, type Engine, type EngineId, type EnginePage } from './engines/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/browser');
const LIBRARY = join(ROOT, 'dist/browser');
const EXAMPLE = join(ROOT, 'examples/browser');
const WORKERS = 4;

/** How an engine behaves where engines differ. */
interface EngineFacts {
  /** Whether workers can share memory on a cross-origin isolated page. */
  sharesWhenIsolated: boolean;
  /** Whether they can on a page served without the isolation headers. */
  sharesWithoutIsolation: boolean;
  /** The browser's own error where it refuses to post shared memory (`name: message`). */
  refusal: RegExp;
  /** Adds per worker in a shared run: fewer where the JS backend is slow, so the suite stays short. */
  adds: number;
}

const CHROMIUM_REFUSAL = /^DataCloneError: Failed to execute 'postMessage' on 'MessagePort': SharedArrayBuffer transfer requires self.crossOriginIsolated/;

const FACTS: Record<EngineId, EngineFacts> = {
  chromium: { sharesWhenIsolated: true, sharesWithoutIsolation: false, refusal: CHROMIUM_REFUSAL, adds: 250_000 },
  'chromium-npm': { sharesWhenIsolated: true, sharesWithoutIsolation: false, refusal: CHROMIUM_REFUSAL, adds: 250_000 },
  firefox: { sharesWhenIsolated: true, sharesWithoutIsolation: false, refusal: /^DataCloneError: The WebAssembly.Memory object cannot be serialized/, adds: 250_000 },
  // WebKitGTK 2.50 isolates the page but has no SharedArrayBuffer (an open WebKit bug).
  webkit: { sharesWhenIsolated: false, sharesWithoutIsolation: false, refusal: /^DataCloneError: /, adds: 50_000 },
  // With JSC_useSharedArrayBuffer=1 it shares, and then even without isolation.
  'webkit-sab': { sharesWhenIsolated: true, sharesWithoutIsolation: true, refusal: /^$/ /* never refuses */, adds: 50_000 },
};

type Server = { url: string; close(): Promise<void> };
type RateResult = { steps: [string, string | boolean][]; seenByAdder: boolean[] };
type SharedResult = {
  isolated: boolean;
  canShareMemory: boolean;
  browserLetsShare: string;
  workers: { backend: string; lane: number }[];
  pageLane: number;
  laneCount: number;
  totals: Record<string, string>;
  totalsSeenByLastWorker: Record<string, string>;
  rate: RateResult;
};
type ErrorResult = { name: string; message: string } | null | undefined;
type SingleResult = {
  isolated: boolean;
  sharedArrayBufferGlobal: string;
  canShareMemory: boolean;
  browserLetsShare: string;
  backends: Record<'wasm' | 'js', { totals: Record<string, string>; rate: RateResult; handleError: ErrorResult; postMessageError: ErrorResult }>;
};

/** The rate limiter's worked example at 1 GiB/s (QEMU's migration-stats.c arithmetic), step by step, as scenario.js records it. */
const RATE_STEPS: [string, string | boolean][] = [
  ['rate_set(1073741824) → rate_get()', '107374182'],
  ['reset() → rate_limit_start', '0'],
  ['qemu_file += 107374182 → exceeded()', false],
  ['qemu_file += 1 → exceeded()', true],
  ['reset() → rate_limit_start', '107374183'],
  ['multifd += 50000000; rdma += 57374182 → exceeded()', false],
  ['→ transferred', '214748365'],
  ['rdma += 1 → exceeded()', true],
  ['rate_set(0) → exceeded()', false],
  ['rate_set(9) → rate_get()', '0'],
  ['rate_set(10) → rate_get()', '1'],
  ['rate_set(19) → rate_get()', '1'],
  ['rate_set(20) → rate_get()', '2'],
  ['rate_set(134217728) → rate_get()', '13421772'],
  ['rate_set(18446744073709551615) → rate_get()', '1844674407370955161'],
];
/** What the thread that made each add saw: the same as the page, step for step. */
const RATE_SEEN_BY_ADDER = [false, true, false, false, true];

const HEADER_NAMES = ['Cross-Origin-Opener-Policy: same-origin', 'Cross-Origin-Embedder-Policy: require-corp'];
/** The start of the library's error on a page that lacks isolation. */
const NOT_ISOLATED = /^MigrationStats\.handle: this page is not cross-origin isolated/;
/** The start of the library's error in an engine that cannot share memory although the page is isolated. */
const ENGINE_CANNOT_SHARE = /^MigrationStats\.handle: this JavaScript engine cannot share memory with workers: this page is cross-origin isolated/;

/** The 15 counters after `workers` workers each ran worker-body.js's count loop `adds` times. */
function expectedTotals(workers: number, adds: number): Record<string, string> {
  const rounds = BigInt(workers * adds);
  const zero = {
    dirtyBytesLastSync: 0n, dirtyPagesRate: 0n, dirtySyncCount: 0n, dirtySyncMissedZeroCopy: 0n, downtimeBytes: 0n,
    multifdBytes: 0n, normalPages: 0n, postcopyBytes: 0n, postcopyRequests: 0n, precopyBytes: 0n,
    qemuFileTransferred: 0n, rateLimitStart: 0n, rateLimitMax: 0n, rdmaBytes: 0n, zeroPages: 0n,
  };
  const totals = {
    ...zero,
    zeroPages: rounds * (1n + 2n), // add(1) and the packet's 2 zero pages
    precopyBytes: rounds * 4096n,
    normalPages: rounds,
    multifdBytes: rounds * 3n,
    dirtyPagesRate: rounds - 1n, // max over k·workers + index
  };
  return Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, String(v)]));
}

/** The exponential run's values: 0, 2^64 − 1, and the lowest integer of each bucket at scale 3 and of every 61st at scale 8, each with the one below it. */
const EXP_VALUES = [
  ...new Set([0n, U64_MAX, ...Array.from({ length: maxIndex(3) + 1 }, (_, i) => modelLowest(i, 3)), ...Array.from({ length: 16384 / 61 }, (_, k) => modelLowest(k * 61, 8))]),
].flatMap((v) => (v > 1n ? [v - 1n, v] : [v]));
/** What the page records on its own before its interval reader starts. */
const EXP_BEFORE = [5n, 1000n, 2n ** 40n];
type Shown = { buckets: string[]; count: string; sum: string };
type ExponentialResult = { backend: string; workers: string[]; interval: { runTime: Shown; fine: Shown; records: string }; totals: { runTime: Shown; fine: Shown; records: string } };

/** A histogram's reading as scenario.js shows it, from the model: each value of `values` recorded `times` times, then each of `extra` once. */
function expectedReading(scale: number, times: number, values: readonly bigint[], extra: readonly bigint[] = []): Shown {
  const counts = modelCounts(values, scale, 64 * 2 ** scale + 2).map((c) => c * BigInt(times));
  modelCounts(extra, scale, counts.length).forEach((c, i) => (counts[i]! += c));
  const sum = BigInt(times) * values.reduce((a, b) => a + b, 0n) + extra.reduce((a, b) => a + b, 0n);
  return { buckets: counts.map(String), count: String(counts.reduce((a, b) => a + b, 0n)), sum: String(BigInt.asUintN(64, sum)) };
}

/** Defines the browser suite for one engine. */
export function browserSuite(id: EngineId): void {
  const facts = FACTS[id];
  const gate = engineGate(id);
  const ADDS = facts.adds;

  describe(`in ${ENGINE_NAMES[id]}`, () => {
    let engine: Engine;
    let temp: string | undefined;
    const servers: Server[] = [];
    let vite: Server;
    let esbuilt: Server;
    let nobundle: Server;

    /** A test of this engine: skipped (or failed, under MIGRATION_STATS_REQUIRE_ALL=1) where the engine is missing. */
    const test = (name: string, body: () => Promise<void>) =>
      it(name, async (ctx) => {
        gate.check(ctx);
        await body();
      });

    async function serveFixtures(root: string, options: { isolated: boolean; headers?: Record<string, string> }): Promise<Server> {
      const server: Server = await serve({ mounts: { '/': root, '/lib/': LIBRARY }, ...options });
      servers.push(server);
      return server;
    }

    /** Opens a page and waits for its `window.scenario` (the page's signal that it loaded). */
    async function openScenario(url: string): Promise<EnginePage> {
      const page = await engine.open(url);
      await waitInPage(page, `${url} in ${engine.description}`, () => 'scenario' in window);
      return page;
    }

    /** Calls a function of the page's `window.scenario` and waits for its result (the page's signal). */
    function call<T>(page: EnginePage, name: 'runShared' | 'runSingleThread' | 'create'): Promise<T> {
      return page.evaluate(
        ({ fn, options }) => (window as unknown as { scenario: Record<string, (o: unknown) => Promise<unknown>> }).scenario[fn]!(options),
        { fn: name, options: { workers: WORKERS, adds: ADDS } },
      ) as Promise<T>;
    }

    /** Opens a page, runs one scenario function, closes the page. */
    async function runOn<T>(url: string, name: 'runShared' | 'runSingleThread' | 'create'): Promise<T> {
      const page = await openScenario(url);
      try {
        return await call<T>(page, name);
      } finally {
        await page.close();
      }
    }

    function checkShared(result: SharedResult, isolated: boolean): void {
      expect(result.isolated).toBe(isolated);
      expect(result.canShareMemory).toBe(true);
      expect(result.browserLetsShare).toBe('posted');
      expect(result.workers.map((w) => w.backend)).toEqual(['wasm', 'js', 'wasm', 'js']);
      // The workers and the page hold lanes of their own, as far as the memory has lanes (about
      // twice the engine's hardwareConcurrency, at least 4); any others share.
      expect(result.laneCount).toBeGreaterThanOrEqual(4);
      expect(new Set([...result.workers.map((w) => w.lane), result.pageLane]).size).toBe(Math.min(WORKERS + 1, result.laneCount));
      expect(result.totals).toEqual(expectedTotals(WORKERS, ADDS));
      expect(result.totalsSeenByLastWorker).toEqual(result.totals);
      expect(result.rate.steps).toEqual(RATE_STEPS);
      expect(result.rate.seenByAdder).toEqual(RATE_SEEN_BY_ADDER);
    }

    /** Where the engine cannot share: runShared stops at stats.handle with the library's error. */
    async function expectSharingRefused(url: string, error: RegExp): Promise<void> {
      await expect(runOn<SharedResult>(url, 'runShared')).rejects.toThrow(error);
    }

    /** What a page that cannot share memory reports, on one thread. */
    function checkCannotShare(result: SingleResult, isolated: boolean, error: RegExp): void {
      expect(result.isolated).toBe(isolated);
      expect(result.sharedArrayBufferGlobal).toBe('undefined');
      expect(result.canShareMemory).toBe(false);
      // The browser itself would refuse: canShareMemory() agrees with it.
      expect(result.browserLetsShare).toMatch(facts.refusal);
      for (const backend of ['wasm', 'js'] as const) {
        const { handleError, postMessageError } = result.backends[backend];
        expect(handleError?.name).toBe('Error');
        expect(handleError?.message).toMatch(error);
        expect(handleError?.message).toContain('canShareMemory()');
        // postMessage(stats.handle) meets the library's error, not the browser's DataCloneError.
        expect(postMessageError).toEqual(handleError);
      }
    }

    beforeAll(async () => {
      if (!gate.available) return;
      if (!existsSync(join(LIBRARY, 'migration-stats.js'))) throw new Error('dist/browser/migration-stats.js is missing: run npm run build');
      temp = mkdtempSync(join(tmpdir(), `migration-stats-browser-${id}-`));

      // A user's app: the bundler fixtures, with the package installed under node_modules.
      const app = join(temp, 'app');
      mkdirSync(join(app, 'node_modules'), { recursive: true });
      for (const file of ['scenario.js', 'worker-body.js', 'bundler-page.js', 'bundler-worker.js']) copyFileSync(join(FIXTURES, file), join(app, file));
      copyFileSync(join(FIXTURES, 'bundler.html'), join(app, 'index.html'));
      symlinkSync(ROOT, join(app, 'node_modules', 'migration-stats'), 'dir');

      // Vite with no configuration file and no plugin: its defaults only.
      const { build: viteBuild } = await import('vite');
      await viteBuild({ root: app, configFile: false, logLevel: 'warn', build: { outDir: join(temp, 'vite'), emptyOutDir: true } });
      // esbuild: the page and the worker as two entry points.
      const { build: esbuild } = await import('esbuild');
      await esbuild({
        entryPoints: [join(app, 'bundler-page.js'), join(app, 'bundler-worker.js')],
        outdir: join(temp, 'esbuild'),
        bundle: true,
        format: 'esm',
        logLevel: 'warning',
      });
      copyFileSync(join(app, 'index.html'), join(temp, 'esbuild', 'index.html'));

      [vite, esbuilt, nobundle] = await Promise.all([
        serveFixtures(join(temp, 'vite'), { isolated: true }),
        serveFixtures(join(temp, 'esbuild'), { isolated: true }),
        serveFixtures(FIXTURES, { isolated: true }),
      ]);
      engine = await launchEngine(id);
      console.log(`${ENGINE_NAMES[id]}: ${engine.description}`);
    });

    afterAll(async () => {
      await engine?.close();
      await Promise.all(servers.map((s) => s.close()));
      if (temp) rmSync(temp, { recursive: true, force: true });
    });

    test('runs in the browser it should', async () => {
      const expected: Record<EngineId, RegExp> = {
        chromium: process.env.CHROMIUM_PATH
          ? /^Chromium \S+ \(CHROMIUM_PATH, /
          : systemFile('/usr/bin/chromium')
            ? /^Chromium \S+ \(Debian's chromium, \/usr\/bin\/chromium\)$/
            : new RegExp(`^Chromium \\S+ \\(${NPM_SOURCE}, `),
        'chromium-npm': new RegExp(`^Chromium \\S+ \\(${NPM_SOURCE}, `),
        firefox: /^firefox\/\d+\S* \(/,
        webkit: /^WebKitGTK \d+\.\d+\S* MiniBrowser \([^)]+\)$/,
        'webkit-sab': /^WebKitGTK \d+\.\d+\S* MiniBrowser \([^)]+\) with JSC_useSharedArrayBuffer=1$/,
      };
      expect(engine.description).toMatch(expected[id]);
    });

    describe(`on a cross-origin isolated page, 4 workers on both backends share one handle${facts.sharesWhenIsolated ? '' : ' — or, in this engine, cannot'}`, () => {
      for (const [name, url] of [
        ['the no-bundler build imported by URL', () => `${nobundle.url}nobundle.html`],
        ['a Vite build', () => vite.url],
        ['an esbuild build', () => esbuilt.url],
      ] as const) {
        test(
          facts.sharesWhenIsolated
            ? `adds exactly and limits the rate as QEMU does, with ${name}`
            : `refuses stats.handle with the error saying this engine cannot share memory, with ${name}`,
          async () => {
            if (facts.sharesWhenIsolated) checkShared(await runOn<SharedResult>(url(), 'runShared'), true);
            else await expectSharingRefused(url(), ENGINE_CANNOT_SHARE);
          },
        );
      }

      for (const [name, url] of [
        ['the no-bundler build imported by URL', () => `${nobundle.url}nobundle.html`],
        ['a Vite build', () => vite.url],
        ['an esbuild build', () => esbuilt.url],
      ] as const) {
        test(
          facts.sharesWhenIsolated
            ? `4 workers record exponential histograms (scales 3 and 8) exactly, and an interval reads their records alone, with ${name}`
            : `records exponential histograms (scales 3 and 8) exactly on the page with both backends, an interval reading its records alone, and refuses their handle as this engine cannot share memory, with ${name}`,
          async () => {
            const page = await openScenario(url());
            const run = (options: Record<string, unknown>) =>
              page.evaluate(
                (o) => (window as unknown as { scenario: { runExponential(o: unknown): Promise<unknown> } }).scenario.runExponential(o),
                { workers: WORKERS, values: EXP_VALUES.map(String), before: EXP_BEFORE.map(String), ...options },
              ) as Promise<ExponentialResult>;
            try {
              const results: ExponentialResult[] = [];
              if (facts.sharesWhenIsolated) {
                results.push(await run({}));
                expect(results[0]!.workers).toEqual(['wasm', 'js', 'wasm', 'js']);
              } else {
                await expect(run({})).rejects.toThrow(/this JavaScript engine cannot share memory with workers/);
                for (const backend of ['wasm', 'js']) {
                  const result = await run({ onPage: true, backend });
                  expect([result.backend, result.workers]).toEqual([backend, []]);
                  results.push(result);
                }
              }
              for (const result of results) {
                const records = String(WORKERS * EXP_VALUES.length * 2);
                expect(result.interval).toEqual({ runTime: expectedReading(3, WORKERS, EXP_VALUES), fine: expectedReading(8, WORKERS, EXP_VALUES), records });
                expect(result.totals).toEqual({
                  runTime: expectedReading(3, WORKERS, EXP_VALUES, EXP_BEFORE),
                  fine: expectedReading(8, WORKERS, EXP_VALUES, EXP_BEFORE),
                  records,
                });
              }
            } finally {
              await page.close();
            }
          },
        );
      }

      test('counts and limits the rate on one thread, with both backends', async () => {
        const result = await runOn<SingleResult>(`${nobundle.url}nobundle.html`, 'runSingleThread');
        expect(result.isolated).toBe(true);
        if (facts.sharesWhenIsolated) {
          expect(result.sharedArrayBufferGlobal).toBe('function');
          expect(result.canShareMemory).toBe(true);
          expect(result.browserLetsShare).toBe('posted');
          for (const backend of ['wasm', 'js'] as const) expect(result.backends[backend].handleError).toBeFalsy();
        } else {
          // WebKitGTK: isolated, yet no SharedArrayBuffer, and the browser refuses to post shared memory.
          checkCannotShare(result, true, ENGINE_CANNOT_SHARE);
          expect(result.backends.wasm.handleError?.message).toContain('JSC_useSharedArrayBuffer=1');
        }
        for (const backend of ['wasm', 'js'] as const) {
          expect(result.backends[backend].totals).toMatchObject({ zeroPages: '100004', normalPages: '3', multifdBytes: '5' });
          expect(result.backends[backend].rate.steps).toEqual(RATE_STEPS);
        }
      });
    });

    describe('on a page served without the isolation headers', () => {
      let plain: Server;
      let viteNotIsolated: Server;
      beforeAll(async () => {
        if (!gate.available) return;
        plain = await serveFixtures(FIXTURES, { isolated: false });
        viteNotIsolated = await serveFixtures(join(temp!, 'vite'), { isolated: false });
      });

      if (facts.sharesWithoutIsolation) {
        test('shares with workers all the same (this engine exposes SharedArrayBuffer without isolation)', async () => {
          checkShared(await runOn<SharedResult>(`${plain.url}nobundle.html`, 'runShared'), false);
        });

        test('gives the handle on one thread, and counts with both backends', async () => {
          const result = await runOn<SingleResult>(`${plain.url}nobundle.html`, 'runSingleThread');
          expect(result.isolated).toBe(false);
          expect(result.sharedArrayBufferGlobal).toBe('function');
          expect(result.canShareMemory).toBe(true);
          expect(result.browserLetsShare).toBe('posted');
          for (const backend of ['wasm', 'js'] as const) {
            expect(result.backends[backend].handleError).toBeFalsy();
            expect(result.backends[backend].totals).toMatchObject({ zeroPages: '100004', normalPages: '3', multifdBytes: '5' });
          }
        });

        test('shares with workers with a Vite build too', async () => {
          checkShared(await runOn<SharedResult>(viteNotIsolated.url, 'runShared'), false);
        });
      } else {
        test('refuses stats.handle with an error that names both headers, before postMessage', async () => {
          const result = await runOn<SingleResult>(`${plain.url}nobundle.html`, 'runSingleThread');
          checkCannotShare(result, false, NOT_ISOLATED);
          for (const header of HEADER_NAMES) expect(result.backends.wasm.handleError?.message).toContain(header);
        });

        test('still counts and limits the rate on one thread, with both backends', async () => {
          const result = await runOn<SingleResult>(`${plain.url}nobundle.html`, 'runSingleThread');
          for (const backend of ['wasm', 'js'] as const) {
            const { totals, rate } = result.backends[backend];
            expect(totals).toMatchObject({ zeroPages: '100004', normalPages: '3', multifdBytes: '5' });
            expect(rate.steps).toEqual(RATE_STEPS);
          }
        });

        test('still works with a Vite build', async () => {
          const result = await runOn<SingleResult>(viteNotIsolated.url, 'runSingleThread');
          expect(result.canShareMemory).toBe(false);
          expect(result.backends.wasm.totals.zeroPages).toBe('100004');
          for (const header of HEADER_NAMES) expect(result.backends.wasm.handleError?.message).toContain(header);
        });
      }
    });

    describe('under a Content-Security-Policy', () => {
      test("needs 'wasm-unsafe-eval' in script-src to create the stats", async () => {
        const strict = await serveFixtures(FIXTURES, { isolated: true, headers: { 'Content-Security-Policy': "script-src 'self'" } });
        const created = await runOn<string>(`${strict.url}plain.html`, 'create');
        expect(created).toMatch(/^Error: MigrationStats.create: this page's Content-Security-Policy forbids compiling WebAssembly/);
        expect(created).toContain("script-src 'self' 'wasm-unsafe-eval'");
      });

      test(
        facts.sharesWhenIsolated
          ? "shares with workers when script-src allows 'wasm-unsafe-eval'"
          : "creates the stats when script-src allows 'wasm-unsafe-eval', and refuses to share them as this engine cannot",
        async () => {
          const allowing = await serveFixtures(FIXTURES, {
            isolated: true,
            headers: { 'Content-Security-Policy': "script-src 'self' 'wasm-unsafe-eval'" },
          });
          if (facts.sharesWhenIsolated) {
            checkShared(await runOn<SharedResult>(`${allowing.url}plain.html`, 'runShared'), true);
          } else {
            expect(await runOn<string>(`${allowing.url}plain.html`, 'create')).toBe('created');
            await expectSharingRefused(`${allowing.url}plain.html`, ENGINE_CANNOT_SHARE);
          }
        },
      );
    });

    describe('the example page (npm run example:browser)', () => {
      const children: ChildProcess[] = [];
      afterAll(() => {
        for (const child of children) child.kill();
      });

      /** Starts examples/browser/server.mjs as README says, on a free port; resolves to its URL. */
      function startExample(args: string[]): Promise<string> {
        const child = spawn(process.execPath, [join(EXAMPLE, 'server.mjs'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(child);
        return new Promise((resolve, reject) => {
          let out = '';
          child.stdout!.on('data', (chunk: Buffer) => {
            out += chunk;
            const url = /(http:\/\/\S+\/)/.exec(out)?.[1];
            if (url) resolve(url);
          });
          child.once('exit', (code) => reject(new Error(`the example server exited with ${code}: ${out}`)));
        });
      }

      type Shown = { state: string; isolation: string; rows: Record<string, string[]>; titles: Record<string, string> };

      /** Runs the counters view with 4 workers × ADDS packets; returns the table as the page shows it. */
      async function runExample(url: string): Promise<Shown> {
        const page = await engine.open(`${url}?workers=${WORKERS}&packets=${ADDS}&start`);
        try {
          await waitInPage(page, `the example page in ${engine.description}`, () =>
            document.querySelector('#view:is([data-state="done"], [data-state="wrong"], [data-state="error"])') !== null,
          );
          return await page.evaluate(
            () => ({
              state: document.getElementById('view')!.dataset.state!,
              isolation: document.getElementById('isolation')!.textContent!,
              rows: Object.fromEntries(
                [...document.querySelectorAll('tbody tr')].map((row) => [
                  (row as HTMLElement).dataset.counter!,
                  [...row.querySelectorAll('td')].slice(2).map((cell) => cell.textContent!.replaceAll(',', '')),
                ]),
              ),
              titles: Object.fromEntries(
                [...document.querySelectorAll('tbody tr')].map((row) => [(row as HTMLElement).dataset.counter!, (row.querySelector('td') as HTMLElement).title]),
              ),
            }),
            undefined,
          );
        } finally {
          await page.close();
        }
      }

      /** The table after `senders` threads sent ADDS packets each: value and expected, both exact. */
      function expectPackets(shown: Shown, senders: number): void {
        expect(shown.state).toBe('done');
        const packets = BigInt(senders * ADDS);
        expect(shown.rows.normalPages?.slice(0, 2)).toEqual([String(packets * 48n), String(packets * 48n)]);
        expect(shown.rows.zeroPages?.slice(0, 2)).toEqual([String(packets * 16n), String(packets * 16n)]);
        expect(shown.rows.multifdBytes?.slice(0, 2)).toEqual([String(packets * 196672n), String(packets * 196672n)]);
      }

      test(
        facts.sharesWhenIsolated
          ? 'shows exact totals from 4 workers when served with the headers'
          : 'counts on the page, and says this engine cannot share memory, when served with the headers',
        async () => {
          const shown = await runExample(await startExample([]));
          if (facts.sharesWhenIsolated) {
            expect(shown.isolation).toMatch(/^Cross-origin isolated/);
            expectPackets(shown, WORKERS);
          } else {
            expect(shown.isolation).toMatch(/^Workers cannot share memory here, so this page counts on its own thread\.\nMigrationStats\.handle: this JavaScript engine cannot share memory/);
            expectPackets(shown, 1);
          }
          // Each counter's name cell carries its help text whole, quotes included.
          expect(shown.titles.zeroPages).toBe('All-zero pages (reported as "duplicate").');
        },
      );

      test(
        facts.sharesWithoutIsolation
          ? 'shows exact totals from 4 workers when served with --no-isolation (this engine shares without isolation)'
          : 'counts on the page and shows the headers to send when served with --no-isolation',
        async () => {
          const shown = await runExample(await startExample(['--no-isolation']));
          if (facts.sharesWithoutIsolation) {
            expect(shown.isolation).toBe('Not cross-origin isolated, but this browser lets Web Workers share these counters anyway.');
            expectPackets(shown, WORKERS);
          } else {
            for (const header of HEADER_NAMES) expect(shown.isolation).toContain(header);
            expectPackets(shown, 1);
          }
        },
      );
    });

    describe('the migrate view: the simulator in Web Workers (dist/browser/simulate.js)', () => {
      type ShownMigration = {
        state: string;
        status: string;
        report: string;
        counters: Record<string, bigint>;
        titles: Record<string, string>;
        chart: { hidden: boolean; bars: string[] };
      };

      async function show(isolated: boolean, query: string): Promise<ShownMigration> {
        const server: Server = await serve({ mounts: { '/': EXAMPLE, '/lib/': LIBRARY }, isolated });
        servers.push(server);
        const page = await engine.open(`${server.url}?${query}#migrate`);
        try {
          await waitInPage(page, `the migrate view in ${engine.description}`, () =>
            document.querySelector('#view:not([data-state="running"]):not([data-state="idle"])[data-state]') !== null,
          );
          const shown = await page.evaluate(
            () => ({
              state: document.getElementById('view')!.dataset.state!,
              status: document.querySelector('#view .status')!.textContent!,
              report: document.querySelector('#view .report')!.textContent!,
              counters: Object.fromEntries(
                [...document.querySelectorAll<HTMLTableRowElement>('#view .counters tbody tr')].map((row) => [
                  row.cells[0]!.textContent!,
                  row.cells[2]!.textContent!.replaceAll(',', ''),
                ]),
              ),
              titles: Object.fromEntries(
                [...document.querySelectorAll<HTMLTableRowElement>('#view .counters tbody tr')].map((row) => [row.cells[0]!.textContent!, row.cells[0]!.title]),
              ),
              chart: {
                hidden: document.querySelector<HTMLElement>('#view .latency')!.hidden === true,
                bars: [...document.querySelectorAll<SVGRectElement>('#view .latency rect')].map((rect) => rect.dataset.count!),
              },
            }),
            undefined,
          );
          return { ...shown, counters: Object.fromEntries(Object.entries(shown.counters).map(([k, v]) => [k, BigInt(v as string)])) };
        } finally {
          await page.close();
        }
      }

      function expectMigrated(shown: ShownMigration): void {
        expect(shown.status).toBe('Done: the destination equals the source byte for byte.');
        expect(shown.state).toBe('done');
        expect(shown.report).toContain('Status: \t\tcompleted\n');
        expect(shown.report).toContain('migration completed; destination equals source: 8388608 bytes (2048 pages) compared byte for byte');
        // The table shows the shared counters the workers wrote.
        const c = shown.counters;
        expect(c.normal_pages! + c.zero_pages!).toBeGreaterThanOrEqual(2048n);
        expect(c.multifd_bytes).toBeGreaterThan(c.normal_pages! * 4096n);
        expect(c.dirty_sync_count).toBeGreaterThanOrEqual(3n);
        // Each counter's name cell carries its help text whole, quotes included.
        expect(shown.titles.zero_pages).toBe('All-zero pages (reported as "duplicate").');
        // No postcopy, no latency chart.
        expect(shown.chart.hidden).toBe(true);
      }

      if (facts.sharesWhenIsolated) {
        test('migrates a guest dirtying far faster than the link by postcopy, and draws the latency distribution', async () => {
          const shown = await show(true, 'ram=4&dirty=512&bandwidth=8&switchover=8&postcopy&vcpus=2&start');
          expect(shown.status).toBe('Done: the destination equals the source byte for byte.');
          expect(shown.report).toContain('Status: \t\tcompleted\n');
          expect(shown.report).toContain('\nPostcopy Latency Distribution:\n');
          // One bar per bucket, each with the count the report prints for it.
          const printed = [...shown.report.matchAll(/^ {2}\[ .{8} - .{8} \]: +(\d+)$/gm)].map((m) => m[1]);
          expect(printed).toHaveLength(24);
          expect(shown.chart).toEqual({ hidden: false, bars: printed });
          // Each vCPU faulted at least once (its first access is a page the guest wrote last).
          expect(printed.reduce((a, b) => a + Number(b), 0)).toBeGreaterThanOrEqual(2);
          expect(shown.counters.postcopy_requests).toBeGreaterThanOrEqual(1n);
        });
      }

      for (const backend of ['wasm', 'js']) {
        test(
          facts.sharesWhenIsolated
            ? `migrates a guest that keeps writing to a byte-identical destination (${backend} backend)`
            : `starts nothing and says this browser cannot share memory with workers, on an isolated page (${backend} backend)`,
          async () => {
            // A switch-over bandwidth of 1 GiB/s (QEMU's avail-switchover-bandwidth) makes the threshold
            // independent of the machine's speed: the first check converges, however busy the machine.
            const shown = await show(true, `ram=8&dirty=4&bandwidth=32&switchover=1024&backend=${backend}&start`);
            if (facts.sharesWhenIsolated) {
              expectMigrated(shown);
            } else {
              expect(shown.state).toBe('unavailable');
              expect(shown.status).toContain('this browser cannot share memory with workers even on this cross-origin isolated page');
              expect(shown.counters.multifd_bytes).toBe(0n);
            }
          },
        );
      }

      test(
        facts.sharesWithoutIsolation
          ? 'migrates on a page without isolation too (this engine shares without it)'
          : 'explains that it needs cross-origin isolation, and starts nothing, on a page without it',
        async () => {
          if (facts.sharesWithoutIsolation) {
            expectMigrated(await show(false, 'ram=8&dirty=4&bandwidth=32&switchover=1024&start'));
          } else {
            const shown = await show(false, 'ram=8&start');
            expect(shown.state).toBe('unavailable');
            expect(shown.status).toContain('serve this page cross-origin isolated');
            expect(shown.counters.multifd_bytes).toBe(0n);
          }
        },
      );
    });
  });
}
