// The one-file browser build (dist/browser/migration-stats.js, `migration-stats/browser`): it needs
// nothing else, has the API of the main entry, and shares memory with it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import * as main from '../dist/index.js';

const FILE = new URL('../dist/browser/migration-stats.js', import.meta.url);
const temp = mkdtempSync(join(tmpdir(), 'migration-stats-build-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('the browser build', () => {
  it('runs in plain Node from a folder with nothing else in it (no imports left to resolve)', () => {
    const alone = join(temp, 'migration-stats.js');
    copyFileSync(FILE, alone);
    copyFileSync(new URL('../dist/browser/migration-stats.js.map', import.meta.url), `${alone}.map`);
    // A child process: Node's own resolver, with no node_modules anywhere above the file.
    const script = `const { MigrationStats } = await import(${JSON.stringify(pathToFileURL(alone).href)});
      const stats = await MigrationStats.create(); stats.zeroPages.add(2); console.log(String(stats.zeroPages.get()));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: temp, encoding: 'utf8' });
    expect(out.trim()).toBe('2');
  });

  it('exports what the main entry exports', async () => {
    const browser = await import('migration-stats/browser');
    expect(Object.keys(browser).sort()).toEqual(Object.keys(main).sort());
    expect(browser.COUNTERS).toEqual(main.COUNTERS);
  });

  it('shares one memory with the main entry, on both backends', async () => {
    const browser = (await import('migration-stats/browser')) as typeof main;
    const stats = await browser.MigrationStats.create({ backend: 'js' });
    const other = await main.MigrationStats.attach(stats.handle, { backend: 'wasm' });
    other.normalPages.add(5n);
    stats.normalPages.add(6);
    expect(stats.normalPages.get()).toBe(11n);
    expect(other.normalPages.get()).toBe(11n);
  });

  it('keeps class names for stack traces and constructor.name', async () => {
    const browser = (await import('migration-stats/browser')) as typeof main;
    expect(browser.MigrationStats.name).toBe('MigrationStats');
    expect(browser.Stat64.name).toBe('Stat64');
  });

  it('stays under 46 kB gzipped', () => {
    // About 32.6 kB in 0.2.0; about 41.4 kB (2026-12-07) with exponential histograms (their index
    // tables, 3 kB), interval readers and Prometheus' protobuf format: the stats core (definitions
    // with their checks, counters, vectors, histograms, the Wasm core) plus the QEMU report
    // formatters and the exporters. The bound catches an accidental bundle of something large, not
    // a few bytes more.
    expect(gzipSync(readFileSync(FILE)).length).toBeLessThan(46_000);
  });
});
