import { describe, expect, it } from 'vitest';
import { BUFFER_DELAY, RATE_LIMIT_DISABLED, XFER_LIMIT_RATIO } from '../dist/index.js';
import { BACKENDS, fresh, U64_MAX } from './helpers.js';

describe('constants', () => {
  it('matches migration-stats.h', () => {
    expect(BUFFER_DELAY).toBe(100);
    expect(RATE_LIMIT_DISABLED).toBe(0);
    expect(XFER_LIMIT_RATIO).toBe(10);
  });
});

describe.each(BACKENDS)('rate limiter on the %s backend', (backend) => {
  it('follows the worked 1 GiB/s example of QEMU\'s rate limiter', async () => {
    const stats = await fresh(backend);
    stats.migrationRateSet(1073741824);
    expect(stats.migrationRateGet()).toBe(107374182n);
    stats.migrationRateReset();
    expect(stats.rateLimitStart.get()).toBe(0n);
    stats.qemuFileTransferred.add(107374182);
    expect(stats.migrationRateExceeded()).toBe(false);
    stats.qemuFileTransferred.add(1);
    expect(stats.migrationRateExceeded()).toBe(true);
    stats.migrationRateReset();
    expect(stats.rateLimitStart.get()).toBe(107374183n);
    stats.multifdBytes.add(50000000);
    stats.rdmaBytes.add(57374182);
    expect(stats.migrationTransferredBytes()).toBe(214748365n);
    expect(stats.migrationRateExceeded()).toBe(false);
    stats.rdmaBytes.add(1);
    expect(stats.migrationRateExceeded()).toBe(true);
    stats.migrationRateSet(0);
    expect(stats.migrationRateExceeded()).toBe(false);
  });

  it.each([
    [9, 0n],
    [10, 1n],
    [19, 1n],
    [20, 2n],
    [134217728, 13421772n],
    [U64_MAX, 1844674407370955161n],
    [0n, 0n],
  ])('stores floor(%s / 10) as the per-window budget', async (limit, budget) => {
    const stats = await fresh(backend);
    stats.migrationRateSet(limit);
    expect(stats.migrationRateGet()).toBe(budget);
    expect(stats.rateLimitMax.get()).toBe(budget);
  });

  it('does not start a new window when the rate changes', async () => {
    const stats = await fresh(backend);
    stats.qemuFileTransferred.add(500);
    stats.migrationRateSet(1000);
    expect(stats.rateLimitStart.get()).toBe(0n);
    expect(stats.migrationRateExceeded()).toBe(true);
  });

  it('answers true on a stream error even when the limit is disabled', async () => {
    const stats = await fresh(backend);
    expect(stats.migrationRateGet()).toBe(0n);
    for (const error of [-5, -32, 1, true, 'EIO', NaN, {}]) {
      expect(stats.migrationRateExceeded(error), String(error)).toBe(true);
    }
    for (const none of [undefined, 0, -0, 0n, null, false]) {
      expect(stats.migrationRateExceeded(none), String(none)).toBe(false);
    }
  });

  it('treats used == budget as not exceeded and budget + 1 as exceeded', async () => {
    const stats = await fresh(backend);
    stats.migrationRateSet(1000);
    stats.multifdBytes.add(100);
    expect(stats.migrationRateExceeded(0)).toBe(false);
    stats.multifdBytes.add(1);
    expect(stats.migrationRateExceeded(0)).toBe(true);
  });

  it('answers true when the window start is above the current total (used wraps)', async () => {
    const stats = await fresh(backend);
    stats.migrationRateSet(1000);
    stats.rateLimitStart.set(5);
    stats.qemuFileTransferred.add(4);
    expect(stats.migrationRateExceeded()).toBe(true);
  });

  it('sums transferred bytes modulo 2^64', async () => {
    const stats = await fresh(backend);
    stats.qemuFileTransferred.set(U64_MAX);
    stats.multifdBytes.set(U64_MAX);
    stats.rdmaBytes.set(3);
    expect(stats.migrationTransferredBytes()).toBe(1n);
    stats.migrationRateReset();
    expect(stats.rateLimitStart.get()).toBe(1n);
  });
});
