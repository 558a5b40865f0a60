// The lane-death case: hundreds of workers attach, add, and are terminated without close(), as a
// worker pool recycles them. Nothing is lost, every lane ends marked, later instances still get
// lanes (shared in turn, so two new ones do not share one), and reads still sum only the memory's
// few lanes, on both backends.
import { describe, expect, it } from 'vitest';
import { HDR_LANE_BITMAP, HDR_LANES_EVER } from '../../dist/backend/abi.js';
import { MigrationStats } from '../../dist/index.js';
import { BACKENDS, layoutOf, word, word32 } from '../helpers.js';
import { startFixture } from '../workers.js';

const WORKERS = 200;
const AT_ONCE = 8;
const ADDS = 500;

describe.each(BACKENDS)('workers terminated without close() on a memory made by the %s backend', (creator) => {
  it(`${WORKERS} of them lose no add and leave later instances lanes to share`, async () => {
    const stats = await MigrationStats.create({ backend: creator, lane: false });
    const { lanes } = layoutOf(stats);
    let next = 0;
    const seen: number[] = [];
    const one = async (): Promise<void> => {
      while (next < WORKERS) {
        const i = next++;
        const { worker, result } = startFixture<{ lane: number }>('dying-worker.mjs', { handle: stats.handle, backend: i & 1 ? 'js' : 'wasm', adds: ADDS });
        seen.push((await result).lane);
        await worker.terminate();
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, one));
    expect(seen).toHaveLength(WORKERS);
    expect(seen.every((lane) => lane >= 0 && lane < lanes)).toBe(true);
    expect(stats.zeroPages.get()).toBe(BigInt(WORKERS * ADDS));
    expect(stats.normalPages.get()).toBe(BigInt(WORKERS));
    expect(stats.migrationTransferredBytes()).toBe(BigInt(WORKERS * 4096));
    // Every lane is marked by a worker that is gone; the reads sum no more than the memory has.
    expect(word(stats, HDR_LANE_BITMAP)).toBe((1n << BigInt(lanes)) - 1n);
    expect(word32(stats, HDR_LANES_EVER)).toBe(lanes);
    // Two late instances share lanes in turn: not the same one.
    const late = [await MigrationStats.attach(stats.handle, { backend: 'wasm' }), await MigrationStats.attach(stats.handle, { backend: 'js' })];
    expect(late[0]!.lane).not.toBe(late[1]!.lane);
    late[0]!.zeroPages.add(1);
    late[1]!.zeroPages.add(2n);
    expect(stats.zeroPages.get()).toBe(BigInt(WORKERS * ADDS) + 3n);
  });
});
