import { describe, expect, it } from 'vitest';
import { MigrationStats, prometheusText, queryMigrate } from '../dist/index.js';

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
