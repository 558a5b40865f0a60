import { describe, expect, it } from 'vitest';
import { progressLine, progressView } from '../dist/cli/progress.js';
import type { MigrationProgress } from '../dist/simulate/migration.js';

/** Progress in `status` (`stop-and-copy`: status active, the guest stopped), at pass `pass` (QEMU's dirty-sync-count). */
const at = (status: MigrationProgress['status'] | 'stop-and-copy', pass: number, elapsedMs: number): MigrationProgress =>
  ({
    status: status === 'stop-and-copy' ? 'active' : status,
    stopAndCopy: status === 'stop-and-copy',
    pass,
    elapsedMs,
    transferredBytes: 201326592n,
    remainingBytes: 57671680,
    ramBytes: 268435456,
    mbps: 1077.46,
    dirtyPagesRate: 21633n,
    expectedDowntimeMs: 0,
    stats: undefined,
  }) as unknown as MigrationProgress;

function sink(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, out: { isTTY, columns, write: (text: string) => writes.push(text) } };
}

describe('progress view', () => {
  it('shows pass, stage, time, transferred, remaining, throughput and dirty rate on one line', () => {
    expect(progressLine(at('active', 2, 1500))).toBe(
      'pass 2 · active · 1.5 s · transferred 192 MiB · remaining 55 MiB · 1077.5 Mbps · dirty 21633 pages/s',
    );
    expect(progressLine(at('stop-and-copy', 6, 2700))).toMatch(/^pass 6 · stop-and-copy · 2\.7 s · /);
    // QEMU's statuses of a cancel, and of pause-before-switchover.
    expect(progressLine(at('cancelling', 3, 900))).toMatch(/^pass 3 · cancelling · /);
    expect(progressLine(at('pre-switchover', 6, 900))).toMatch(/^pass 6 · pre-switchover · /);
  });

  it('redraws one line in place on a terminal, cut to its width, and ends it once', () => {
    const { writes, out } = sink(true, 40);
    const view = progressView(out);
    view.update(at('active', 1, 100));
    view.update(at('active', 1, 200));
    view.finish();
    expect(writes).toHaveLength(3);
    for (const w of writes.slice(0, 2)) {
      expect(w.startsWith('\r\x1b[2K')).toBe(true);
      expect(w.length - 5).toBe(39);
      expect(w.endsWith('…')).toBe(true);
    }
    expect(writes[2]).toBe('\n');
  });

  it('keeps every figure on an 80-column terminal, in a shorter form', () => {
    const { writes, out } = sink(true, 80);
    const view = progressView(out);
    view.update(at('stop-and-copy', 6, 3300));
    view.update(at('active', 12, 123_400));
    for (const w of writes) {
      const line = w.slice('\r\x1b[2K'.length);
      expect(line.length).toBeLessThanOrEqual(79);
      expect(line).not.toContain('…');
      for (const figure of ['192 MiB', '55 MiB', '1077.5 Mbps', 'dirty 21633']) expect(line).toContain(figure);
    }
    expect(writes[0]).toMatch(/pass 6 final +3\.3 s/);
    expect(writes[1]).toMatch(/pass 12 +123\.4 s/);
  });

  it('takes a terminal that reports 0 columns (size unknown) as 80 wide', () => {
    const { writes, out } = sink(true, 0);
    progressView(out).update(at('active', 2, 1500));
    expect(writes[0]).toContain('1077.5 Mbps');
    expect(writes[0]).toContain('dirty 21633');
  });

  it('writes plain lines, one per pass and stage, when not a terminal', () => {
    const { writes, out } = sink(false);
    const view = progressView(out);
    for (const p of [at('setup', 0, 0), at('active', 1, 10), at('active', 1, 60), at('active', 2, 900), at('active', 3, 950), at('stop-and-copy', 4, 1000), at('completed', 4, 1010)]) {
      view.update(p);
    }
    view.finish();
    expect(writes.map((w) => w.split(' · ').slice(0, 2).join(' · '))).toEqual([
      'pass 1 · active',
      'pass 2 · active',
      'pass 3 · active',
      'pass 4 · stop-and-copy',
      'pass 4 · completed',
    ]);
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\x1b'))).toBe(true);
  });
});
