import { describe, expect, it } from 'vitest';
import { completedMbps, MigrationStats, MigrationWindow, queryMigrate, type BackendName } from '../dist/index.js';
import { printfG } from '../dist/qemu/printf.js';
import { bitsOfDouble, reference } from './c-reference.js';

const U64_MAX = 2n ** 64n - 1n;

describe.each<BackendName>(['wasm', 'js'])('MigrationWindow (%s backend)', (backend) => {
  const make = () => MigrationStats.create({ backend });

  it("computes QEMU's own example: 12,500,000 bytes in 100 ms", async () => {
    const stats = await make();
    const window = new MigrationWindow(stats, { nowMs: 5000 });
    stats.qemuFileTransferred.add(12_500_000);
    stats.dirtyPagesRate.set(1);
    stats.dirtyBytesLastSync.set(50_000_000);
    expect(window.update(5100)).toEqual({
      transferred: 12_500_000n,
      timeSpentMs: 100,
      bandwidth: 125_000,
      thresholdSize: 37_500_000n,
      mbps: 1000,
      pagesPerSecond: 0,
      expectedDowntimeMs: 400,
    });
  });

  it('returns null and changes nothing until BUFFER_DELAY ms have passed', async () => {
    const stats = await make();
    const window = new MigrationWindow(stats, { nowMs: 1000 });
    stats.multifdBytes.add(777);
    expect(window.update(1099)).toBeNull();
    expect(window.update(-5)).toBeNull();
    expect(window.startMs).toBe(1000);
    expect(window.startBytes).toBe(0n);
    expect(window.last).toBeNull();
    expect(stats.rateLimitStart.get()).toBe(0n);
    expect(window.update(1100)?.transferred).toBe(777n);
  });

  it('resets the rate limiter and starts the next window at nowMs', async () => {
    const stats = await make();
    const window = new MigrationWindow(stats, { nowMs: 0 });
    stats.qemuFileTransferred.add(1000);
    stats.rdmaBytes.add(24);
    stats.normalPages.add(3);
    window.update(250);
    expect(stats.rateLimitStart.get()).toBe(1024n);
    expect(window.startMs).toBe(250);
    expect(window.startBytes).toBe(1024n);
    expect(window.startPages).toBe(3n);
    stats.multifdBytes.add(50_000);
    stats.zeroPages.add(7);
    stats.normalPages.add(13);
    const second = window.update(450);
    expect(second).toMatchObject({ transferred: 50_000n, timeSpentMs: 200, pagesPerSecond: 100 });
    expect(window.last).toBe(second);
  });

  it('counts normal and zero pages in pagesPerSecond without truncating it', async () => {
    const stats = await make();
    const window = new MigrationWindow(stats, { nowMs: 0 });
    stats.normalPages.add(10);
    stats.zeroPages.add(3);
    expect(window.update(300)?.pagesPerSecond).toBe(13 / 0.3);
  });

  it('re-estimates the expected downtime only when dirtyPagesRate != 0 and more than 10000 bytes moved', async () => {
    const stats = await make();
    const window = new MigrationWindow(stats, { nowMs: 0 });
    stats.dirtyBytesLastSync.set(1_000_000);
    stats.qemuFileTransferred.add(20_000);
    expect(window.expectedDowntimeMs).toBe(300); // the downtime limit until the first estimate
    expect(window.update(100)?.expectedDowntimeMs).toBe(300); // dirtyPagesRate is 0

    stats.dirtyPagesRate.set(5);
    stats.qemuFileTransferred.add(10_000);
    expect(window.update(200)?.expectedDowntimeMs).toBe(300); // exactly 10000 bytes: not more

    stats.qemuFileTransferred.add(10_001);
    expect(window.update(300)?.expectedDowntimeMs).toBe(Math.trunc(1_000_000 / (10_001 / 100)));
    expect(window.expectedDowntimeMs).toBe(9999);

    stats.qemuFileTransferred.add(5);
    expect(window.update(400)?.expectedDowntimeMs).toBe(9999); // kept
  });

  it('takes a new downtime limit for the windows that close after setDowntimeLimit, and refuses a bad one', async () => {
    const stats = await make();
    const window = new MigrationWindow(stats, { nowMs: 0 });
    stats.qemuFileTransferred.add(12_500_000);
    expect(window.update(100)?.thresholdSize).toBe(37_500_000n);
    window.setDowntimeLimit(1000);
    expect(window.downtimeLimitMs).toBe(1000);
    stats.qemuFileTransferred.add(12_500_000);
    expect(window.update(200)?.thresholdSize).toBe(125_000_000n);
    expect(() => window.setDowntimeLimit(2_000_001)).toThrow(
      new RangeError("MigrationWindow.setDowntimeLimit: downtimeLimitMs must be an integer number of milliseconds from 0 to 2000000 (QEMU's range); received 2000001"),
    );
    expect(() => window.setDowntimeLimit('5' as never)).toThrow(TypeError);
    expect(window.downtimeLimitMs).toBe(1000);
  });

  it("uses availSwitchoverBandwidth after QEMU's integer division by 1000", async () => {
    const stats = await make();
    const window = new MigrationWindow(stats, { nowMs: 0, downtimeLimitMs: 500, availSwitchoverBandwidth: 1999 });
    stats.qemuFileTransferred.add(123_456);
    stats.dirtyPagesRate.set(1);
    stats.dirtyBytesLastSync.set(777);
    const result = window.update(100);
    expect(result?.bandwidth).toBe(1234.56);
    expect(result?.thresholdSize).toBe(500n); // 1999 / 1000 = 1 byte per ms
    expect(result?.expectedDowntimeMs).toBe(777);
  });

  it('accepts availSwitchoverBandwidth from 1 to 999, as QEMU does: 0 bytes/ms, a threshold of 0', async () => {
    for (const switchover of [1, 500, 999, 999n]) {
      const stats = await make();
      const window = new MigrationWindow(stats, { nowMs: 0, downtimeLimitMs: 300, availSwitchoverBandwidth: switchover });
      expect(window.availSwitchoverBandwidth).toBe(BigInt(switchover));
      stats.multifdBytes.add(12_500_000);
      stats.normalPages.add(3000);
      stats.dirtyPagesRate.set(1);
      stats.dirtyBytesLastSync.set(4096);
      // The measured figures are QEMU's; only the switch-over bandwidth is 999 / 1000 = 0 bytes/ms.
      expect(window.update(100)).toEqual({
        transferred: 12_500_000n,
        timeSpentMs: 100,
        bandwidth: 125_000,
        thresholdSize: 0n,
        mbps: 1000,
        pagesPerSecond: 30_000,
        // 4096 / 0.0 = +∞, which C's conversion to int64_t leaves undefined: saturated, documented.
        expectedDowntimeMs: 9223372036854774784,
      });
      expect(window.thresholdSize).toBe(0n);
    }
  });

  it('gives an expected downtime of 0 for 0 dirty bytes at 0 bytes/ms (NaN in C, undefined as int64_t)', async () => {
    const stats = await make();
    const window = new MigrationWindow(stats, { nowMs: 0, availSwitchoverBandwidth: 1 });
    stats.qemuFileTransferred.add(20_000);
    stats.dirtyPagesRate.set(1);
    stats.dirtyBytesLastSync.set(0);
    expect(window.update(100)?.expectedDowntimeMs).toBe(0);
    // Then +∞ once something is dirty, and queryMigrate reports either one.
    stats.qemuFileTransferred.add(20_000);
    stats.dirtyBytesLastSync.set(1);
    expect(window.update(200)?.expectedDowntimeMs).toBe(9223372036854774784);
    expect(
      queryMigrate(stats, {
        status: 'active',
        setupTimeMs: 0,
        totalTimeMs: 200,
        expectedDowntimeMs: window.expectedDowntimeMs,
        ramTotalBytes: 4096,
        remainingBytes: 4096,
        mbps: window.mbps,
        pagesPerSecond: window.pagesPerSecond,
      })['expected-downtime'],
    ).toBe(9223372036854774784n);
  });

  it('rejects bad arguments with the name, the value and what is allowed', async () => {
    const stats = await make();
    expect(() => new MigrationWindow({} as MigrationStats, { nowMs: 0 })).toThrow(/stats must be a MigrationStats .*received an object \(Object\)/);
    expect(() => new MigrationWindow(stats, undefined as never)).toThrow(/options must be an object .*received undefined/);
    expect(() => new MigrationWindow(stats, { nowMs: 1.5 })).toThrow(/options.nowMs must be a whole number of milliseconds .*received 1.5: pass Math.floor/);
    expect(() => new MigrationWindow(stats, { nowMs: '0' as never })).toThrow(TypeError);
    expect(() => new MigrationWindow(stats, { nowMs: 0, downtimeLimitMs: 2_000_001 })).toThrow(/options.downtimeLimitMs must be an integer number of milliseconds from 0 to 2000000 .*received 2000001/);
    expect(() => new MigrationWindow(stats, { nowMs: 0, downtimeLimitMs: -1 })).toThrow(RangeError);
    expect(() => new MigrationWindow(stats, { nowMs: 0, availSwitchoverBandwidth: -1 })).toThrow(/options.availSwitchoverBandwidth must be .*received -1/);
    const window = new MigrationWindow(stats, { nowMs: 0 });
    stats.qemuFileTransferred.add(1);
    expect(() => window.update(NaN)).toThrow(/MigrationWindow.update: nowMs must be a whole number/);
    expect(() => window.update(100.5)).toThrow(RangeError);
    expect(window.startMs).toBe(0);
    expect(stats.rateLimitStart.get()).toBe(0n);
  });

  it('saturates thresholdSize at 2^64 − 1 when the counters wrap inside a window (C leaves it undefined)', async () => {
    const stats = await make();
    stats.qemuFileTransferred.add(5_000_000);
    const window = new MigrationWindow(stats, { nowMs: 0 });
    stats.reset();
    const result = window.update(100);
    expect(result?.transferred).toBe(2n ** 64n - 5_000_000n);
    expect(result?.thresholdSize).toBe(U64_MAX);
  });

  it('saturates expectedDowntimeMs below 2^63 when the estimate does not fit int64 (C leaves it undefined)', async () => {
    const stats = await make();
    const window = new MigrationWindow(stats, { nowMs: 0 });
    stats.dirtyPagesRate.set(1);
    stats.dirtyBytesLastSync.set(U64_MAX);
    stats.qemuFileTransferred.add(10_001);
    expect(window.update(1_000_000_000)?.expectedDowntimeMs).toBe(9223372036854774784);
  });

  it('restart() starts a new window from the counters as they are, without measuring', async () => {
    const stats = await make();
    stats.qemuFileTransferred.add(5_000_000);
    const window = new MigrationWindow(stats, { nowMs: 0 });
    stats.reset();
    window.restart(40);
    expect(window.startBytes).toBe(0n);
    expect(window.update(139)).toBeNull();
    stats.qemuFileTransferred.add(100);
    expect(window.update(140)?.transferred).toBe(100n);
  });

  it('has C reference windows of every kind: switch-over bandwidths of 1–999, with +∞ and NaN downtimes', () => {
    const small = reference.window.filter((c) => BigInt(c.switchover) > 0n && BigInt(c.switchover) < 1000n);
    expect(small.length).toBeGreaterThanOrEqual(50);
    expect(small.every((c) => c.thresholdSize === '0')).toBe(true);
    expect(small.filter((c) => c.expectedDowntime === 'inf' && BigInt(c.transferred) > 10_000n).length).toBeGreaterThan(0);
    expect(small.filter((c) => c.expectedDowntime === 'nan' && BigInt(c.transferred) > 10_000n).length).toBeGreaterThan(0);
  });

  it(`matches C bit for bit on ${reference.window.length} windows`, async () => {
    const stats = await make();
    const wrong = reference.window.filter((c) => {
      stats.reset();
      const window = new MigrationWindow(stats, {
        nowMs: 0,
        downtimeLimitMs: c.downtimeLimitMs,
        availSwitchoverBandwidth: BigInt(c.switchover),
      });
      stats.qemuFileTransferred.add(BigInt(c.transferred));
      stats.normalPages.add(BigInt(c.pages));
      stats.dirtyPagesRate.set(1);
      stats.dirtyBytesLastSync.set(BigInt(c.dirtyBytes));
      const result = window.update(c.timeSpentMs)!;
      // Where C's conversion is undefined (+∞ or NaN), the documented value: saturated, or 0 for NaN.
      const converted = c.expectedDowntime === 'inf' ? 9223372036854774784n : c.expectedDowntime === 'nan' ? 0n : BigInt(c.expectedDowntimeMs!);
      const expected = BigInt(c.transferred) > 10_000n ? converted : BigInt(c.downtimeLimitMs);
      return (
        bitsOfDouble(result.bandwidth) !== c.bandwidthBits ||
        result.thresholdSize !== BigInt(c.thresholdSize) ||
        bitsOfDouble(result.mbps) !== c.mbpsBits ||
        bitsOfDouble(result.pagesPerSecond) !== c.pagesPerSecondBits ||
        BigInt(result.expectedDowntimeMs) !== expected
      );
    });
    expect(wrong).toEqual([]);
  });
});

describe('completedMbps', () => {
  it('gives 58.153 for 465224 bytes, setup 3 ms, total 67 ms (QMP prints 58.152999999999999)', () => {
    const mbps = completedMbps(465224n, 67, 3);
    expect(mbps).toBe(58.153);
    expect(printfG(mbps!, 17)).toBe('58.152999999999999');
  });

  it('returns null when the transfer took 0 ms, as QEMU then keeps the last figure', () => {
    expect(completedMbps(1000, 5, 5)).toBeNull();
  });

  it('rejects a setup longer than the total and non-integer arguments', () => {
    expect(() => completedMbps(1, 3, 4)).toThrow(/need 0 <= setupTimeMs <= totalTimeMs; received setupTimeMs 4 and totalTimeMs 3/);
    expect(() => completedMbps(-1, 3, 1)).toThrow(/transferredBytes must be .*received -1/);
    expect(() => completedMbps(1, 3.5, 1)).toThrow(/totalTimeMs must be a whole number/);
  });
});
