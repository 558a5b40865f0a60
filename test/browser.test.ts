// Web Workers share the counters in real headless Chromium, whichever way the page loads the library:
// the no-bundler build by URL, a Vite build, an esbuild build. Pages run test/fixtures/browser/
// scenario.js and hand back plain results; the expected values live here.
//
// Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM_PATH). Without it these tests fail, unless
// MIGRATION_STATS_SKIP_BROWSER=1 says to skip them.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { serve } from '../examples/browser/server.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/browser');
const LIBRARY = join(ROOT, 'dist/browser');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SKIP = process.env.MIGRATION_STATS_SKIP_BROWSER === '1';

const WORKERS = 4;
const ADDS = 250_000;

type Server = { url: string; close(): Promise<void> };
type Scenario = {
  runShared(options: { workers: number; adds: number }): Promise<SharedResult>;
  runSingleThread(): Promise<SingleResult>;
  create(): Promise<string>;
};
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
type ErrorResult = { name: string; message: string } | undefined;
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

const HEADER_NAMES = ['Cross-Origin-Opener-Policy: same-origin', 'Cross-Origin-Embedder-Policy: require-corp'];

let browser: Browser;
let temp: string;
const servers: Server[] = [];

async function serveFixtures(root: string, options: { isolated: boolean; headers?: Record<string, string> }): Promise<Server> {
  const server: Server = await serve({ mounts: { '/': root, '/lib/': LIBRARY }, ...options });
  servers.push(server);
  return server;
}

/**
 * Opens a page and waits for its `window.scenario` (the page's signal that it loaded). Fails at
 * once, with the reason, if the page throws or a request fails, instead of waiting for a timeout.
 */
async function openScenario(url: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const failed = new Promise<never>((_, reject) => {
    page.on('pageerror', (error) => reject(new Error(`${url}: the page threw ${error.message}`)));
    page.on('response', (response) => {
      if (response.status() >= 400) reject(new Error(`${url}: ${response.url()} answered ${response.status()}`));
    });
    page.on('requestfailed', (request) => reject(new Error(`${url}: ${request.url()} failed (${request.failure()?.errorText})`)));
  });
  failed.catch(() => {});
  await Promise.race([page.goto(url), failed]);
  await Promise.race([page.waitForFunction(() => 'scenario' in window, undefined, { timeout: 30_000 }), failed]);
  return page;
}

/** Calls a function of the page's `window.scenario` and waits for its result (the page's signal). */
function call<T>(page: Page, name: keyof Scenario): Promise<T> {
  return page.evaluate(
    ([fn, options]) => (window as unknown as { scenario: Record<string, (o: unknown) => Promise<unknown>> }).scenario[fn]!(options),
    [name, { workers: WORKERS, adds: ADDS }] as const,
  ) as Promise<T>;
}

function checkShared(result: SharedResult): void {
  expect(result.isolated).toBe(true);
  expect(result.canShareMemory).toBe(true);
  expect(result.browserLetsShare).toBe('posted');
  expect(result.workers.map((w) => w.backend)).toEqual(['wasm', 'js', 'wasm', 'js']);
  // The workers and the page hold lanes of their own, as far as the memory has lanes; any others share.
  expect(result.laneCount).toBeGreaterThanOrEqual(4);
  expect(new Set([...result.workers.map((w) => w.lane), result.pageLane]).size).toBe(Math.min(WORKERS + 1, result.laneCount));
  expect(result.totals).toEqual(expectedTotals(WORKERS, ADDS));
  expect(result.totalsSeenByLastWorker).toEqual(result.totals);
  expect(result.rate.steps).toEqual(RATE_STEPS);
  expect(result.rate.seenByAdder).toEqual(RATE_SEEN_BY_ADDER);
}

it.skipIf(SKIP)('finds Chromium to run the browser tests in', () => {
  expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (see the top of this file)`).toBe(true);
});

describe.skipIf(SKIP)('in headless Chromium', () => {
  let vite: Server;
  let esbuilt: Server;
  let nobundle: Server;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not at ${CHROMIUM}: install Debian's chromium (apt-get install chromium), or set CHROMIUM_PATH, ` +
          'or set MIGRATION_STATS_SKIP_BROWSER=1 to skip the browser tests.',
      );
    }
    if (!existsSync(join(LIBRARY, 'migration-stats.js'))) throw new Error('dist/browser/migration-stats.js is missing: run npm run build');
    temp = mkdtempSync(join(tmpdir(), 'migration-stats-browser-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });

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
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  describe('on a cross-origin isolated page, 4 workers on both backends share one handle', () => {
    it.each([
      ['the no-bundler build imported by URL', () => `${nobundle.url}nobundle.html`],
      ['a Vite build', () => vite.url],
      ['an esbuild build', () => esbuilt.url],
    ])('adds exactly and limits the rate as QEMU does, with %s', async (_, url) => {
      const page = await openScenario(url());
      checkShared(await call<SharedResult>(page, 'runShared'));
      await page.context().close();
    });
  });

  describe('on a page served without the isolation headers', () => {
    let plain: Server;
    beforeAll(async () => {
      plain = await serveFixtures(FIXTURES, { isolated: false });
    });

    it('refuses stats.handle with an error that names both headers, before postMessage', async () => {
      const page = await openScenario(`${plain.url}nobundle.html`);
      const result = await call<SingleResult>(page, 'runSingleThread');
      expect(result.isolated).toBe(false);
      expect(result.sharedArrayBufferGlobal).toBe('undefined');
      expect(result.canShareMemory).toBe(false);
      // The browser itself would refuse: canShareMemory() agrees with it.
      expect(result.browserLetsShare).toBe('DataCloneError');
      for (const backend of ['wasm', 'js'] as const) {
        const { handleError, postMessageError } = result.backends[backend];
        expect(handleError?.name).toBe('Error');
        for (const header of HEADER_NAMES) expect(handleError?.message).toContain(header);
        expect(handleError?.message).toContain('canShareMemory()');
        // postMessage(stats.handle) meets the library's error, not the browser's DataCloneError.
        expect(postMessageError).toEqual(handleError);
      }
      await page.context().close();
    });

    it('still counts and limits the rate on one thread, with both backends', async () => {
      const page = await openScenario(`${plain.url}nobundle.html`);
      const result = await call<SingleResult>(page, 'runSingleThread');
      for (const backend of ['wasm', 'js'] as const) {
        const { totals, rate } = result.backends[backend];
        expect(totals).toMatchObject({ zeroPages: '100004', normalPages: '3', multifdBytes: '5' });
        expect(rate.steps).toEqual(RATE_STEPS);
      }
      await page.context().close();
    });

    it('still works with a Vite build', async () => {
      const viteNotIsolated = await serveFixtures(join(temp, 'vite'), { isolated: false });
      const page = await openScenario(viteNotIsolated.url);
      const result = await call<SingleResult>(page, 'runSingleThread');
      expect(result.canShareMemory).toBe(false);
      expect(result.backends.wasm.totals.zeroPages).toBe('100004');
      for (const header of HEADER_NAMES) expect(result.backends.wasm.handleError?.message).toContain(header);
      await page.context().close();
    });
  });

  describe("under a Content-Security-Policy", () => {
    it("needs 'wasm-unsafe-eval' in script-src to create the stats", async () => {
      const strict = await serveFixtures(FIXTURES, { isolated: true, headers: { 'Content-Security-Policy': "script-src 'self'" } });
      const page = await openScenario(`${strict.url}plain.html`);
      const created = await call<string>(page, 'create');
      expect(created).toMatch(/^Error: MigrationStats.create: this page's Content-Security-Policy forbids compiling WebAssembly/);
      expect(created).toContain("script-src 'self' 'wasm-unsafe-eval'");
      await page.context().close();
    });

    it("shares with workers when script-src allows 'wasm-unsafe-eval'", async () => {
      const allowing = await serveFixtures(FIXTURES, {
        isolated: true,
        headers: { 'Content-Security-Policy': "script-src 'self' 'wasm-unsafe-eval'" },
      });
      const page = await openScenario(`${allowing.url}plain.html`);
      checkShared(await call<SharedResult>(page, 'runShared'));
      await page.context().close();
    });
  });

  describe('the example page (npm run example:browser)', () => {
    const children: ChildProcess[] = [];
    afterAll(() => {
      for (const child of children) child.kill();
    });

    /** Starts examples/browser/server.mjs as docs/design.md says, on a free port; resolves to its URL. */
    function startExample(args: string[]): Promise<string> {
      const child = spawn(process.execPath, [join(ROOT, 'examples/browser/server.mjs'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
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

    /** Runs the counters view with 4 workers × 250,000 packets; returns the table as the page shows it. */
    async function runExample(url: string): Promise<{ state: string; isolation: string; rows: Record<string, string[]>; titles: Record<string, string> }> {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${url}?workers=${WORKERS}&packets=${ADDS}&start`);
      await page.waitForSelector('#view:is([data-state="done"], [data-state="wrong"], [data-state="error"])', { timeout: 60_000 });
      const shown = await page.evaluate(() => ({
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
      }));
      await context.close();
      return shown;
    }

    it('shows exact totals from 4 workers when served with the headers', async () => {
      const shown = await runExample(await startExample([]));
      expect(shown.state).toBe('done');
      expect(shown.isolation).toMatch(/^Cross-origin isolated/);
      const packets = BigInt(WORKERS * ADDS);
      expect(shown.rows.normalPages?.slice(0, 2)).toEqual([String(packets * 48n), String(packets * 48n)]);
      expect(shown.rows.zeroPages?.slice(0, 2)).toEqual([String(packets * 16n), String(packets * 16n)]);
      expect(shown.rows.multifdBytes?.slice(0, 2)).toEqual([String(packets * 196672n), String(packets * 196672n)]);
      // Each counter's name cell carries its help text whole, quotes included.
      expect(shown.titles.zeroPages).toBe('All-zero pages (reported as "duplicate").');
    });

    it('counts on the page and shows the headers to send when served with --no-isolation', async () => {
      const shown = await runExample(await startExample(['--no-isolation']));
      expect(shown.state).toBe('done');
      for (const header of HEADER_NAMES) expect(shown.isolation).toContain(header);
      expect(shown.rows.normalPages?.slice(0, 2)).toEqual([String(BigInt(ADDS) * 48n), String(BigInt(ADDS) * 48n)]);
    });
  });
});
