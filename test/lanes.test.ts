// Lanes are hints: an instance takes the lowest lane without an owner, and when every lane has one
// it shares a lane, the next in turn. Whatever lanes instances get, every add counts exactly once.
// The lane count depends on the machine (about twice its cores), so these tests read it from the
// memory's header and state their expectations in terms of it.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MigrationStats, type BackendName, type CounterName } from '../dist/index.js';
import { HDR_LANE_BITMAP, HDR_LANES_EVER } from '../dist/backend/abi.js';
import { BACKENDS, cellOf, layoutOf, U64_MAX, word, word32 } from './helpers.js';
import { startFixture as run, untilShared } from './workers.js';

interface AdderReport {
  lanes: number[];
  added: string;
}

/** A start line: workers count themselves in at [0] and wait for [1] to become 1. */
function startLine(): { sab: SharedArrayBuffer; release(workers: readonly { result: Promise<unknown> }[]): Promise<void> } {
  const sab = new SharedArrayBuffer(8);
  const gate = new Int32Array(sab);
  return {
    sab,
    async release(workers) {
      // Waits for the workers without blocking this thread's event loop (workers report errors
      // there), and fails at once when one of them fails before the line.
      await untilShared(() => Atomics.load(gate, 0) >= workers.length, workers.map((w) => w.result));
      Atomics.store(gate, 1, 1);
      Atomics.notify(gate, 1);
    },
  };
}

const lanesMarked = (stats: MigrationStats): number => {
  let bits = word(stats, HDR_LANE_BITMAP);
  let n = 0;
  for (; bits; bits &= bits - 1n) n++;
  return n;
};

/** How many instances got each lane. */
const perLane = (lanes: number[], count: number): number[] => {
  const out = new Array<number>(count).fill(0);
  for (const lane of lanes) out[lane]!++;
  return out;
};

describe.each(BACKENDS)('lanes on a memory made by the %s backend', (creator) => {
  it('gives writers lanes of their own while there are free ones, and loses no add when workers mixing backends share one counter', async () => {
    const stats = await MigrationStats.create({ backend: creator, lane: false });
    const line = startLine();
    const backends: BackendName[][] = [['wasm'], ['js'], ['wasm', 'js'], ['js', 'wasm']];
    const iterations = 100_000;
    const runs = backends.map((b) =>
      run<AdderReport>('lane-adder.mjs', { handle: stats.handle, backends: b, counter: 'zeroPages', iterations, startLine: line.sab }),
    );
    await line.release(runs);
    const reports = await Promise.all(runs.map((r) => r.result));
    const { lanes: laneCount } = layoutOf(stats);
    const lanes = reports.flatMap((r) => r.lanes);
    expect(lanes.every((lane) => lane >= 0 && lane < laneCount)).toBe(true);
    // All 6 instances attached before any added: the first ones took free lanes, any others shared.
    expect(new Set(lanes).size).toBe(Math.min(lanes.length, laneCount));
    const expected = reports.reduce((sum, r) => sum + BigInt(r.added), 0n);
    expect(expected).toBe(6n * BigInt(iterations / 2) * 3n);
    expect(stats.zeroPages.get()).toBe(expected);
    expect(stats.zeroPages.getNumber()).toBe(Number(expected));
    // The adds went into the lanes; the base cell was never written.
    expect(word(stats, cellOf(stats, 'zeroPages').base)).toBe(0n);
    // Every worker closed its instances: all lanes are free again.
    expect(word(stats, HDR_LANE_BITMAP)).toBe(0n);
  });

  it('keeps totals exact while instances close and new ones claim the recycled lanes', async () => {
    const stats = await MigrationStats.create({ backend: creator });
    const line = startLine();
    const steady = [['wasm'], ['js']].map((b) =>
      run<AdderReport>('lane-adder.mjs', { handle: stats.handle, backends: b, counter: 'normalPages', iterations: 60_000, startLine: line.sab }),
    );
    await line.release(steady);
    const cycles = 150;
    const churners = [0, 1, 2].map(() =>
      run<AdderReport>('lane-churner.mjs', { handle: stats.handle, cycles, perCycle: 200, counter: 'normalPages' }),
    );
    const reports = await Promise.all([...steady, ...churners].map((r) => r.result));
    const expected = reports.reduce((sum, r) => sum + BigInt(r.added), 0n);
    expect(stats.normalPages.get()).toBe(expected);
    // Each churner ends every cycle with addMultifdPacket(1, 0, 0): one more normal page, and
    // zeroPages and multifdBytes unchanged.
    expect(stats.zeroPages.get()).toBe(0n);
    expect(stats.multifdBytes.get()).toBe(0n);
    // 450 claims, but never more than 6 instances at once (this one, 2 steady, 3 churners): claims
    // take the lowest free lane, so only the first 6 lanes (or all, when there are fewer) were used.
    const { lanes: laneCount } = layoutOf(stats);
    const churnLanes = reports.slice(steady.length).flatMap((r) => r.lanes);
    expect(churnLanes).toHaveLength(3 * cycles);
    expect(Math.max(...churnLanes)).toBeLessThan(Math.min(6, laneCount));
    expect(churnLanes.every((lane) => lane >= 0)).toBe(true);
    expect(word32(stats, HDR_LANES_EVER)).toBeLessThanOrEqual(Math.min(6, laneCount));
    // Only this instance still owns a lane.
    expect(word(stats, HDR_LANE_BITMAP)).toBe(1n << BigInt(stats.lane));
  });

  it('stays exact with more instances than lanes: the rest share lanes in turn, never all one', async () => {
    const stats = await MigrationStats.create({ backend: creator });
    const { lanes: laneCount } = layoutOf(stats);
    const line = startLine();
    const perWorker = 24;
    const workers = 3;
    const runs = Array.from({ length: workers }, (_, w) =>
      run<AdderReport>('lane-adder.mjs', {
        handle: stats.handle,
        backends: Array.from({ length: perWorker }, (_, i) => ((i + w) & 1 ? 'js' : 'wasm')),
        counter: 'precopyBytes',
        iterations: 4_000,
        startLine: line.sab,
        keepOpen: true,
      }),
    );
    await line.release(runs);
    const reports = await Promise.all(runs.map((r) => r.result));
    // One local add through this instance's lane too.
    stats.precopyBytes.add(U64_MAX);
    const lanes = reports.flatMap((r) => r.lanes);
    expect(lanes).toHaveLength(workers * perWorker);
    expect(lanes.every((lane) => lane >= 0 && lane < laneCount)).toBe(true);
    // laneCount − 1 instances took the lanes left after this instance's; the others were handed out
    // in turn over every lane, so no lane has more than one instance above another.
    expect(lanesMarked(stats)).toBe(laneCount);
    const counts = perLane([stats.lane, ...lanes], laneCount);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    const expected = reports.reduce((sum, r) => sum + BigInt(r.added), 0n);
    expect(expected).toBe(BigInt(workers * perWorker) * 2_000n * 3n);
    // U64_MAX is −1 modulo 2^64.
    expect(stats.precopyBytes.get()).toBe(expected - 1n);
    // The workers exited without close(): their lanes stay marked, counts stay summed, and a late
    // instance shares a lane instead of adding where everyone else does.
    const late = await MigrationStats.attach(stats.handle, { backend: creator });
    expect(late.lane).toBeGreaterThanOrEqual(0);
    late.precopyBytes.add(1);
    expect(stats.precopyBytes.get()).toBe(expected);
    expect(word(stats, cellOf(stats, 'precopyBytes').base)).toBe(0n);
  });

  it.each(BACKENDS)('never reads a smaller value while writers run (reader on %s)', async (readerBackend) => {
    const stats = await MigrationStats.create({ backend: creator });
    const control = new SharedArrayBuffer(8);
    const flags = new Int32Array(control);
    const reader = run<{ reads: number; backwards: string | null; last: string; transferred: string }>('monotone-reader.mjs', {
      handle: stats.handle,
      backend: readerBackend,
      counter: 'multifdBytes',
      control,
    });
    // Writers start only once the reader is reading, and it stops only after they are all done.
    await untilShared(() => Atomics.load(flags, 0) === 1, [reader.result]);
    const writers = [
      run<AdderReport>('lane-adder.mjs', { handle: stats.handle, backends: ['wasm', 'js'], counter: 'multifdBytes', iterations: 80_000 }),
      run<AdderReport>('lane-churner.mjs', { handle: stats.handle, cycles: 100, perCycle: 500, counter: 'multifdBytes' }),
      // No lane: adds into the base slot, which the reader also sums.
      run<AdderReport>('lane-adder.mjs', { handle: stats.handle, backends: ['wasm', 'js'], lane: false, counter: 'multifdBytes', iterations: 40_000 }),
    ];
    const reports = await Promise.all(writers.map((w) => w.result));
    Atomics.store(flags, 1, 1);
    const seen = await reader.result;
    expect(seen.backwards).toBeNull();
    const expected = reports.reduce((sum, r) => sum + BigInt(r.added), 0n);
    expect(BigInt(seen.last)).toBe(expected);
    expect(stats.multifdBytes.get()).toBe(expected);
    expect(BigInt(seen.transferred)).toBe(expected);
    expect(seen.reads).toBeGreaterThanOrEqual(1);
  });

  describe('set, min, max and reset on a laned counter', () => {
    /** A counter at 30 spread over lanes 0–2 (10 + 12 + 8; two of them closed) and a base slot at 0. */
    async function spread(name: CounterName = 'zeroPages') {
      const stats = await MigrationStats.create({ backend: creator });
      const others = [await MigrationStats.attach(stats.handle, { backend: 'wasm' }), await MigrationStats.attach(stats.handle, { backend: 'js' })];
      stats[name].add(10);
      others[0]![name].add(12);
      others[1]![name].add(8n);
      for (const other of others) other.close();
      return { stats };
    }

    it('set(x) makes get() return x and leaves every lane as it was', async () => {
      const { stats } = await spread();
      const inLane = (lane: number) => word(stats, cellOf(stats, 'zeroPages', lane).lane);
      const lanesBefore = [0, 1, 2].map(inLane);
      // Three instances at once, three lanes of their own (a memory has at least 4).
      expect(lanesBefore).toEqual([10n, 12n, 8n]);
      stats.zeroPages.set(5);
      expect(stats.zeroPages.get()).toBe(5n);
      expect([0, 1, 2].map(inLane)).toEqual(lanesBefore);
      // The base cell holds 5 − 30 modulo 2^64.
      expect(word(stats, cellOf(stats, 'zeroPages').base)).toBe(U64_MAX - 24n);
      stats.zeroPages.add(1);
      const other = await MigrationStats.attach(stats.handle, { backend: creator });
      other.zeroPages.add(2n);
      expect(stats.zeroPages.get()).toBe(8n);
      expect(other.zeroPages.getNumber()).toBe(8);
    });

    it('min and max compare with the sum of base and lanes, and adds continue from the result', async () => {
      const { stats } = await spread();
      const counter = stats.zeroPages;
      counter.min(100);
      expect(counter.get()).toBe(30n);
      counter.max(10);
      expect(counter.get()).toBe(30n);
      counter.min(30n);
      expect(counter.get()).toBe(30n);
      counter.min(20);
      expect(counter.get()).toBe(20n);
      counter.max(45n);
      expect(counter.get()).toBe(45n);
      counter.add(1);
      expect(counter.get()).toBe(46n);
      counter.max(U64_MAX);
      expect(counter.get()).toBe(U64_MAX);
      counter.add(2);
      expect(counter.get()).toBe(1n);
      counter.min(0);
      expect(counter.get()).toBe(0n);
    });

    it('reset() zeroes laned counters whatever their lanes hold, and later adds count from 0', async () => {
      const { stats } = await spread('normalPages');
      stats.zeroPages.add(3);
      stats.dirtyPagesRate.set(7);
      stats.reset();
      expect(Object.values(stats.snapshot()).every((v) => v === 0n)).toBe(true);
      const other = await MigrationStats.attach(stats.handle, { backend: creator === 'wasm' ? 'js' : 'wasm' });
      other.addMultifdPacket(2, 3, 4096);
      stats.normalPages.add(1);
      expect(stats.normalPages.get()).toBe(3n);
      expect(stats.zeroPages.get()).toBe(3n);
      expect(stats.migrationTransferredBytes()).toBe(4096n);
    });

    it('set() racing with adds in other lanes keeps each add either before it (overwritten) or after it', async () => {
      const stats = await MigrationStats.create({ backend: creator });
      const line = startLine();
      const iterations = 50_000;
      const writer = run<AdderReport>('lane-adder.mjs', {
        handle: stats.handle,
        backends: ['wasm', 'js'],
        counter: 'postcopyBytes',
        iterations,
        startLine: line.sab,
      });
      await line.release([writer]);
      const start = 1n << 40n;
      stats.postcopyBytes.set(start);
      const { added } = await writer.result;
      const end = stats.postcopyBytes.get();
      // Whatever the interleaving, the result is the set value plus the adds that came after it.
      expect(end >= start && end <= start + BigInt(added)).toBe(true);
    });
  });
});

describe('several instances in one thread', () => {
  it('share one Wasm instance per memory and still keep their own lanes', async () => {
    const a = await MigrationStats.create({ backend: 'wasm' });
    const b = await MigrationStats.attach(a.handle, { backend: 'wasm' });
    expect([a.lane, b.lane]).toEqual([0, 1]);
    const cells = (lane: number) => ['normalPages', 'zeroPages', 'multifdBytes'].map((name) => word(a, cellOf(a, name, lane).lane));
    a.addMultifdPacket(1, 2, 3);
    b.addMultifdPacket(10, 20, 30);
    expect(cells(0)).toEqual([1n, 2n, 3n]);
    expect(cells(1)).toEqual([10n, 20n, 30n]);
    b.close();
    expect(a.lane).toBe(0);
    expect(b.lane).toBe(-1);
    b.addMultifdPacket(100, 0, 0);
    b.zeroPages.add(7);
    a.addMultifdPacket(1, 0, 0);
    // b's adds went to the base cells; a's still to lane 0.
    expect(word(a, cellOf(a, 'normalPages').base)).toBe(100n);
    expect(word(a, cellOf(a, 'zeroPages').base)).toBe(7n);
    expect(cells(0)[0]).toBe(2n);
    expect(a.normalPages.get()).toBe(112n);
    expect(a.zeroPages.get()).toBe(29n);
    // A new instance gets lane 1 back, with b's counts still in it.
    const c = await MigrationStats.attach(a.handle, { backend: 'wasm' });
    expect(c.lane).toBe(1);
    c.addMultifdPacket(0, 0, 1);
    expect(cells(1)[2]).toBe(31n);
    expect(a.multifdBytes.get()).toBe(34n);
  });
});

describe('a handle received twice by postMessage', () => {
  it('gives two Memory objects for one buffer, and instances on both share the counters exactly', async () => {
    const stats = await MigrationStats.create({ backend: 'wasm' });
    const iterations = 50_000;
    const runs = [0, 1].map(() => run<{ lanes: number[]; distinctMemories: boolean; added: string }>('twice-adder.mjs', { counter: 'postcopyRequests', iterations }));
    for (const { worker } of runs) {
      worker.postMessage({ handle: stats.handle });
      worker.postMessage({ handle: stats.handle });
    }
    const reports = await Promise.all(runs.map((r) => r.result));
    for (const report of reports) expect(report.distinctMemories).toBe(true);
    // Per worker: 2 handles × 2 backends with a lane (the ones without stay at −1). Which lanes they
    // got depends on when the other worker's instances closed: any lane of the memory.
    const lanes = reports.flatMap((r) => r.lanes);
    expect(lanes.filter((lane) => lane === -1)).toHaveLength(8);
    const claimed = lanes.filter((lane) => lane >= 0);
    expect(claimed).toHaveLength(8);
    expect(claimed.every((lane) => lane < layoutOf(stats).lanes)).toBe(true);
    const adds = reports.reduce((sum, r) => sum + BigInt(r.added), 0n);
    expect(adds).toBe(2n * 8n * BigInt(iterations));
    expect(stats.postcopyRequests.get()).toBe(adds);
    expect(stats.normalPages.get()).toBe(adds);
    expect(stats.zeroPages.get()).toBe(2n * adds);
    expect(stats.multifdBytes.get()).toBe(3n * adds);
    // Every instance closed: only this one's lane is still owned.
    expect(word(stats, HDR_LANE_BITMAP)).toBe(1n << BigInt(stats.lane));
    await Promise.all(runs.map(({ worker }) => worker.terminate()));
  });
});

describe.each(BACKENDS)('lane recycling by the garbage collector (%s backend)', (backend) => {
  it('keeps the lane while a counter taken from the instance is reachable, and frees it afterwards', async () => {
    const { result } = run<{ claimed: string; whileHeld: string; afterDrop: string; value: string; createdClaimed: string; createdAfterDrop: string }>(
      'lane-gc.mjs',
      { backend },
    );
    const seen = await result;
    expect(seen.createdClaimed).toBe('1');
    expect(seen.createdAfterDrop).toBe('0');
    expect(seen.claimed).toBe('1');
    expect(seen.whileHeld).toBe('1');
    expect(seen.value).toBe('5');
    expect(seen.afterDrop).toBe('0');
  });
});

describe.each(BACKENDS)('stats dropped without close() in a loop that never yields (%s backend)', (backend) => {
  // Each memory reserves gigabytes of address space: 20,000 of them held at once would not fit.
  // A child process, so that a memory that cannot be allocated cannot take the test runner down.
  it.each([
    ['create', 'MigrationStats.create()'],
    ['define', 'defineStats(…).create()'],
    ['attach', 'MigrationStats.create() and attach(stats.handle) in the same thread'],
  ])('20,000 × %s: every memory is freed as the loop goes (%s)', async (way) => {
    const script = new URL('./fixtures/drop-loop.mjs', import.meta.url).pathname;
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [script, backend, way, '20000'], (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
      });
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('done 20000\n');
    expect(run.code).toBe(0);
  });
});
