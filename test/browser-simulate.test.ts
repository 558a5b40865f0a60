// The simulator runs in browsers too: the example page's "migrate" view runs simulateMigration from
// the browser build (dist/browser/simulate.js) in headless Chromium, its guest and channels in Web
// Workers, and ends with a byte-identical destination.
//
// Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM_PATH); MIGRATION_STATS_SKIP_BROWSER=1
// skips these tests, as it does test/browser.test.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { serve } from '../examples/browser/server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SKIP = process.env.MIGRATION_STATS_SKIP_BROWSER === '1';
const EXAMPLE = fileURLToPath(new URL('../examples/browser/', import.meta.url));
const LIBRARY = fileURLToPath(new URL('../dist/browser/', import.meta.url));

type Server = { url: string; close(): Promise<void> };
type Shown = { state: string; status: string; report: string; counters: Record<string, bigint>; titles: Record<string, string>; chart: { hidden: boolean; bars: string[] } };

describe.skipIf(SKIP)('the migrate view in headless Chromium', () => {
  let browser: Browser;
  const servers: Server[] = [];

  beforeAll(async () => {
    for (const file of ['simulate.js', 'simulate-worker.js', 'migration-stats.js']) {
      if (!existsSync(LIBRARY + file)) throw new Error(`dist/browser/${file} is missing: run npm run build`);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  async function show(isolated: boolean, query: string): Promise<Shown> {
    const server: Server = await serve({ mounts: { '/': EXAMPLE, '/lib/': LIBRARY }, isolated });
    servers.push(server);
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}?${query}#migrate`);
    await page.waitForSelector('#view:not([data-state="running"]):not([data-state="idle"])[data-state]', { timeout: 60_000 });
    const shown = await page.evaluate(() => ({
      state: document.getElementById('view')!.dataset.state!,
      status: document.querySelector('#view .status')!.textContent!,
      report: document.querySelector('#view .report')!.textContent!,
      counters: Object.fromEntries(
        [...document.querySelectorAll<HTMLTableRowElement>('#view .counters tbody tr')].map((row) => [
          row.cells[0]!.textContent!,
          row.cells[2]!.textContent!.replaceAll(',', ''),
        ]),
      ),
      chart: {
        hidden: document.querySelector<HTMLElement>('#view .latency')!.hidden === true,
        bars: [...document.querySelectorAll<SVGRectElement>('#view .latency rect')].map((rect) => rect.dataset.count!),
      },
      titles: Object.fromEntries(
        [...document.querySelectorAll<HTMLTableRowElement>('#view .counters tbody tr')].map((row) => [row.cells[0]!.textContent!, row.cells[0]!.title]),
      ),
    }));
    await context.close();
    expect(errors).toEqual([]);
    return { ...shown, counters: Object.fromEntries(Object.entries(shown.counters).map(([k, v]) => [k, BigInt(v as string)])) };
  }

  it.each(['wasm', 'js'])('migrates a guest that keeps writing to a byte-identical destination (%s backend)', async (backend) => {
    const shown = await show(true, `ram=8&dirty=4&bandwidth=32&passes=100000&backend=${backend}&start`);
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
    expect(shown.chart.hidden).toBe(true);
  });

  it('migrates a guest dirtying far faster than the link by postcopy, and draws the latency distribution', async () => {
    const shown = await show(true, 'ram=4&dirty=512&bandwidth=8&postcopy&vcpus=2&start');
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

  it('explains that it needs cross-origin isolation, and starts nothing, on a page without it', async () => {
    const shown = await show(false, 'ram=8&start');
    expect(shown.state).toBe('unavailable');
    expect(shown.status).toContain('cross-origin isolated');
    expect(shown.counters.multifd_bytes).toBe(0n);
  });
});
