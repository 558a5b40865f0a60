// The simulator runs real workers, so it is tested from the build (dist/), like the worker fixtures.
// No test depends on timing: each setting below decides its outcome whatever the machine's speed.
import { describe, expect, it } from 'vitest';
import type { BackendName } from '../dist/index.js';
import {
  MAIN_STREAM,
  MAX_SEND_BYTES,
  MULTIFD_HANDSHAKE_BYTES,
  MULTIFD_PACKET_HEADER_BYTES,
  multifdPacketBytes,
  PAGE_BYTES,
  simulateMigration,
  type MigrationProgress,
  type MigrationResult,
} from '../dist/simulate/index.js';

const MiB = 1024 * 1024;

/** The accounting identities every migration must satisfy, whatever happened in it. */
function expectCountersAddUp(result: MigrationResult): void {
  const s = result.stats.snapshot();
  const channels = BigInt(result.settings.channels);
  // Every page a channel sent was counted once, as normal or zero.
  expect(s.normalPages + s.zeroPages).toBe(BigInt(result.pagesSent));
  // No RDMA here: transferred = main stream + multifd.
  expect(result.stats.migrationTransferredBytes()).toBe(s.qemuFileTransferred + s.multifdBytes);
  // QEMU's multifd accounting: handshakes, packet headers (data and sync), page data.
  expect(s.multifdBytes).toBe(
    channels * BigInt(MULTIFD_HANDSHAKE_BYTES) +
      BigInt(MULTIFD_PACKET_HEADER_BYTES) * BigInt(result.dataPackets + result.syncPackets) +
      BigInt(PAGE_BYTES) * s.normalPages,
  );
  // No window sent more than its budget plus one packet.
  for (const window of result.windows) {
    if (window.budgetBytes > 0n) expect(window.transferredBytes).toBeLessThanOrEqual(window.budgetBytes + BigInt(MAX_SEND_BYTES));
  }
  // A cancelled migration's figures are those of the moment of the cancel (QEMU's final reply has none).
  expect((result.cancelledInfo ?? result.info).ram?.transferred).toBe(result.stats.migrationTransferredBytes());
  // Bitmap syncs: set-up, after every pass (but, as in QEMU, not after one that ended on a
  // threshold of 0, which switches over at once), and at switch-over.
  const completed = result.status === 'completed';
  const syncedPasses = completed && result.thresholdBytes === 0n ? result.passes - 1 : result.passes;
  expect(s.dirtySyncCount).toBe(BigInt(1 + syncedPasses + (completed ? 1 : 0)));
}

describe.each<BackendName>(['wasm', 'js'])('simulateMigration (%s backend)', (backend) => {
  it('migrates an idle 4 MiB guest to a byte-identical destination with exact counters', async () => {
    const result = await simulateMigration({ backend, ramBytes: 4 * MiB, dirtyBytesPerSecond: 0, bandwidthBytesPerSecond: 0 });
    const pages = (4 * MiB) / PAGE_BYTES;
    const zero = Math.floor(0.25 * pages);
    expect(result.status).toBe('completed');
    expect(result.verified).toBe(true);
    expect(result.firstMismatchPage).toBe(-1);
    expect(result.scan).toBe(backend === 'js' ? 'js' : 'wasm-simd');
    // One pass sends everything; nothing is dirty after it; the stop-and-copy pass sends nothing.
    expect(result.passes).toBe(1);
    expect(result.pagesSent).toBe(pages);
    expect(result.dataPackets).toBe(pages / 128);
    expect(result.syncPackets).toBe(2 * 2);
    const s = result.stats.snapshot();
    expect(s.zeroPages).toBe(BigInt(zero));
    expect(s.normalPages).toBe(BigInt(pages - zero));
    // Syncs: set-up, after pass 1 (unless no window had closed: QEMU then switches over at once), at switch-over.
    expect(s.dirtySyncCount).toBe(result.thresholdBytes === 0n ? 2n : 3n);
    expect(s.dirtyBytesLastSync).toBe(0n);
    expect(s.multifdBytes).toBe(BigInt(2 * 64 + 1344 * (pages / 128 + 4) + 4096 * (pages - zero)));
    const main = MAIN_STREAM.streamHeaderBytes + MAIN_STREAM.ramSetupBytes + 2 * MAIN_STREAM.passEndBytes + MAIN_STREAM.streamEndBytes;
    expect(s.qemuFileTransferred).toBe(BigInt(main));
    expect(s.precopyBytes).toBe(BigInt(MAIN_STREAM.ramSetupBytes + MAIN_STREAM.passEndBytes));
    expect(s.downtimeBytes).toBe(BigInt(MAIN_STREAM.passEndBytes));
    expect(s.rateLimitMax).toBe(0n);
    expectCountersAddUp(result);
    expect(result.info.status).toBe('completed');
    expect(result.info.ram?.remaining).toBe(0n);
    expect(result.info.ram?.total).toBe(BigInt(4 * MiB));
    expect(result.info.ram?.duplicate).toBe(BigInt(zero));
  });

  it('migrates a guest that keeps writing, on 3 channels, to a byte-identical destination', async () => {
    const progress: MigrationProgress[] = [];
    const result = await simulateMigration({
      backend,
      ramBytes: 4 * MiB,
      zeroShare: 0.5,
      dirtyBytesPerSecond: 16 * MiB,
      bandwidthBytesPerSecond: 32 * MiB,
      channels: 3,
      // QEMU's avail-switchover-bandwidth: the threshold (1 GiB/s × 300 ms) no longer depends on
      // the machine's speed, so the first convergence check after the bulk pass switches over.
      availSwitchoverBandwidth: 1024 * MiB,
      onProgress: (p) => progress.push(p),
    });
    expect(result.status).toBe('completed');
    expect(result.verified).toBe(true);
    expectCountersAddUp(result);
    expect(result.passes).toBe(1);
    expect(result.syncPackets).toBe(3 * (result.passes + 1));
    // QEMU's statuses: stop-and-copy stays active (no `device` without pause-before-switchover).
    expect(progress.map((p) => p.status).filter((status, i, all) => status !== all[i - 1])).toEqual(['setup', 'active', 'completed']);
    expect(progress.some((p) => p.status === 'active' && p.stopAndCopy)).toBe(true);
    // Pass numbers are QEMU's dirty-sync-count, never decreasing, the last one the final count.
    const passes = progress.map((p) => p.pass);
    expect(passes).toEqual([...passes].sort((a, b) => a - b));
    expect(BigInt(passes.at(-1)!)).toBe(result.stats.dirtySyncCount.get());
    // Expected downtime starts at the downtime limit (QEMU's migrate_fd_connect).
    expect(progress.find((p) => p.status === 'active')?.expectedDowntimeMs).toBe(300);
    expect(progress.at(-1)?.remainingBytes).toBe(0);
  });
});

describe('simulateMigration of a small guest with the default settings', () => {
  // QEMU switches over at the end of a pass whenever what is pending is at most the threshold;
  // before a window has closed both are 0 (the pass sent everything; the threshold starts at 0),
  // so a guest whose first pass ends within the first window completes, with what it dirtied
  // meanwhile sent in stop-and-copy. Otherwise the threshold comes from the measured bandwidth,
  // which a busy machine lowers: avail-switchover-bandwidth (QEMU 8.2+) fixes it at 1 GiB/s ×
  // 300 ms, more than the whole guest, so the first check converges on any machine.
  it.each([1, 4, 8])('completes %i MiB, verified', async (mib) => {
    const result = await simulateMigration({ ramBytes: mib * MiB, availSwitchoverBandwidth: 1024 * MiB });
    expect(result.passes).toBe(1);
    expect(result.message).toMatch(/^migration completed; destination equals source/);
    expect(result.status).toBe('completed');
    expect(result.verified).toBe(true);
    expectCountersAddUp(result);
  });
});

describe.each<BackendName>(['wasm', 'js'])('simulateMigration cancelled by its signal (%s backend)', (backend) => {
  /** A migration that aborts its own signal when it first reports `status`. */
  const abortAt = async (status: MigrationProgress['status'] | 'stop-and-copy', reason: unknown = 'test') => {
    const controller = new AbortController();
    const seen: string[] = [];
    const result = await simulateMigration({
      backend,
      ramBytes: 4 * MiB,
      dirtyBytesPerSecond: 0,
      bandwidthBytesPerSecond: status === 'active' ? 1 * MiB : 0,
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p.status);
        if (status === 'stop-and-copy' ? p.stopAndCopy && p.status === 'active' : p.status === status) controller.abort(reason);
      },
    });
    return { result, seen };
  };

  it('stops during a pass: the figures of that moment, status cancelled', async () => {
    const { result, seen } = await abortAt('active', 'SIGINT');
    expect(result.status).toBe('cancelled');
    expect(result.message).toMatch(/^migration cancelled \(SIGINT\) during pass 1: .+ of 4 MiB still to send; the figures are those of that moment$/);
    expect(result.verified).toBeUndefined();
    expect(result.passes).toBe(1);
    // QEMU's migrate_cancel: cancelling (the figures of that moment), then cancelled, status alone.
    expect(result.info).toEqual({ status: 'cancelled' });
    expect(result.cancelledInfo?.status).toBe('cancelling');
    expect(result.cancelledInfo?.ram?.total).toBe(BigInt(4 * MiB));
    expect(seen.slice(-2)).toEqual(['cancelling', 'cancelled']);
    expect(seen).not.toContain('device');
  });

  it('stops during stop-and-copy, and during the verification of a completed migration', async () => {
    const device = await abortAt('stop-and-copy');
    expect(device.result.status).toBe('cancelled');
    expect(device.result.message).toMatch(/^migration cancelled \(test\) during stop-and-copy: /);
    expect(device.result.info).toEqual({ status: 'cancelled' });
    expect(device.result.cancelledInfo?.status).toBe('cancelling');
    expect(device.result.passes).toBe(1);
    const verifying = await abortAt('completed', new Error('enough'));
    expect(verifying.result.status).toBe('cancelled');
    expect(verifying.result.message).toBe('migration cancelled (enough) during the verification, after the migration completed; the figures are those of that moment');
    expect(verifying.result.info.status).toBe('completed');
    expect(verifying.result.verified).toBeUndefined();
  });

  it('does not start one whose signal is already aborted', async () => {
    const result = await simulateMigration({ backend, ramBytes: 4 * MiB, signal: AbortSignal.abort('early') });
    expect(result.status).toBe('cancelled');
    expect(result.message).toBe('migration cancelled (early) during set-up, before any page was sent; the figures are those of that moment');
    expect(result.info).toEqual({ status: 'cancelled' });
    expect(result.cancelledInfo).toBeUndefined();
    expect(result.stats.normalPages.get()).toBe(0n);
  });
});

describe('simulateMigration of a one-page guest', () => {
  it('says "1 page", not "1 pages"', async () => {
    const result = await simulateMigration({ ramBytes: PAGE_BYTES, dirtyBytesPerSecond: 0, channels: 1 });
    expect(result.message).toBe('migration completed; destination equals source: 4096 bytes (1 page) compared byte for byte');
  });
});

describe('simulateMigration under a bandwidth limit', () => {
  it('never lets a window send more than its budget plus one packet', async () => {
    // 3 MiB of page data against 0.8 MiB per window: at least three windows must close.
    const result = await simulateMigration({ ramBytes: 4 * MiB, dirtyBytesPerSecond: 0, bandwidthBytesPerSecond: 8 * MiB });
    expect(result.status).toBe('completed');
    const limited = result.windows.filter((w) => w.budgetBytes > 0n);
    expect(limited.length).toBeGreaterThanOrEqual(2);
    for (const w of limited) expect(w.budgetBytes).toBe(838_860n); // floor(8 MiB/s ÷ 10 windows)
    expectCountersAddUp(result);
  });

  it('cancels when pass maxPasses ends unconverged, the guest dirtying faster than the link', async () => {
    // Each pass waits for new windows (≥ 100 ms), in which the guest dirties nearly every page;
    // 10 ms of this bandwidth is a few pages: it cannot converge.
    const result = await simulateMigration({
      ramBytes: 2 * MiB,
      dirtyBytesPerSecond: 1024 * MiB,
      bandwidthBytesPerSecond: 1 * MiB,
      downtimeLimitMs: 10,
      // A fixed switch-over bandwidth: a window that moved nothing on a busy machine cannot make
      // the threshold 0 (which converges at once); 1 MiB/s × 10 ms is under 3 pages.
      availSwitchoverBandwidth: 1 * MiB,
      maxPasses: 2,
    });
    expect(result.status).toBe('cancelled');
    expect(result.passes).toBe(2);
    expect(result.verified).toBeUndefined();
    expect(result.message).toMatch(/^migration did not converge in 2 passes/);
    // --max-passes is a migrate_cancel: QEMU's final reply has the status alone.
    expect(result.info).toEqual({ status: 'cancelled' });
    expect(result.cancelledInfo?.status).toBe('cancelling');
    expect(result.cancelledInfo?.ram?.remaining).toBeGreaterThan(0n);
    expectCountersAddUp(result);
  });
});

describe('wire constants', () => {
  it('keeps the main stream record sizes unchangeable, since every migration counts with them', () => {
    expect(Object.isFrozen(MAIN_STREAM)).toBe(true);
    expect(() => Object.assign(MAIN_STREAM, { passEndBytes: 0 })).toThrow(TypeError);
  });
});

describe('multifdPacketBytes', () => {
  it('gives the header plus 4 KiB per normal page, for 0 to 128 pages', () => {
    expect(multifdPacketBytes(0)).toBe(1344);
    expect(multifdPacketBytes(128)).toBe(525_632);
  });

  it('refuses a page count that is not a whole number from 0 to 128', () => {
    for (const bad of [-1, 1.5, 129, NaN]) {
      expect(() => multifdPacketBytes(bad)).toThrow(
        new RangeError(`multifdPacketBytes: normalPages must be a whole number from 0 to 128 (pages in one packet); received ${bad}`),
      );
    }
    expect(() => multifdPacketBytes('3' as never)).toThrow(TypeError);
  });
});

describe('simulateMigration settings', () => {
  it.each([
    [{ ramBytes: 4097 }, RangeError, 'options.ramBytes must be a whole number of 4 KiB pages from 4 KiB to 4 GiB; received 4097'],
    [{ ramBytes: '4MiB' }, TypeError, 'options.ramBytes must be a whole number of 4 KiB pages from 4 KiB to 4 GiB; received "4MiB"'],
    [{ zeroShare: 1.5 }, RangeError, 'options.zeroShare must be a share from 0 to 1; received 1.5'],
    [{ bandwidthBytesPerSecond: 9 }, RangeError, 'options.bandwidthBytesPerSecond must be a whole number of bytes per second: 0 for unlimited, or from 10 to 2^64 − 1; received 9'],
    [{ channels: 0 }, RangeError, 'options.channels must be a whole number from 1 to 64; received 0'],
    [{ backend: 'c' }, TypeError, "options.backend must be 'wasm' or 'js'; received \"c\""],
    [{ passes: 3 }, TypeError, 'options.passes is not a setting'],
    [{ onProgress: 'log' }, TypeError, 'options.onProgress must be a function or undefined; received "log"'],
    [{ workerUrl: 5 }, TypeError, 'options.workerUrl must be a URL or a string naming the worker module; received 5'],
    [{ workerUrl: 'http://[' }, TypeError, 'options.workerUrl must be a URL or a string naming the worker module; received "http://["'],
    [{ signal: { aborted: false } }, TypeError, 'options.signal must be an AbortSignal or undefined; received an object (Object)'],
  ])('refuses %o', async (options, type, message) => {
    const run = simulateMigration(options as never);
    await expect(run).rejects.toThrow(type);
    await expect(run).rejects.toThrow(message);
  });
});
