// The exponential bucket index (OpenTelemetry's exponential histogram: at scale s, base = 2^(2^-s) and
// bucket i holds (base^i, base^(i+1)]) against an exact model that shares nothing with the library:
// v is in bucket i exactly when 2^i < v^(2^s) ≤ 2^(i+1), decided by BigInt arithmetic. Checked at,
// just below and just above every boundary floor(base^i) of every scale 0 … 8 (found here by integer
// roots of our own, not from the library's tables), at powers of two, 2^53 ± 1 and 2^64 − 1, and at
// random values, on the four paths that compute it: the Wasm core and the JS core, each with a
// bigint and with a number. Also: the tables themselves (exact roots; one comparison after the
// 1024-entry lookup always suffices), their bytes in a memory, recordExp's cells and sum on both
// backends, and expBucketRange.
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXP_MAX_SCALE, EXP_TABLE_BYTES, EXP_TABLE_L, EXP_TABLE_T } from '../dist/backend/abi.js';
import { checkExpTable, checkScale, expBucketRange, expTables, writeExpTable } from '../dist/backend/exp-index.js';
import * as jsCoreModule from '../dist/backend/js-core.js';
import { compileCore, wasmCore } from '../dist/backend/wasm-core.js';
import { U64_MAX } from './helpers.js';
import { startAtLine } from './workers.js';

/** The core operations tested here (the library's Core interface is internal to it, so not in dist/'s types). */
interface Core {
  readonly backend: string;
  expIndex(table: number, scale: number, value: bigint): number;
  expIndexNum(table: number, scale: number, value: number): number;
  recordExp(bucket0: number, sumAddr: number, cells: number, table: number, scale: number, low: number, value: bigint): void;
  recordExpNum(bucket0: number, sumAddr: number, cells: number, table: number, scale: number, low: number, value: number): void;
}
const { JsCore } = jsCoreModule as unknown as { JsCore: new (buffer: ArrayBufferLike) => Core };

const { T: EXP_T, L: EXP_L } = expTables();
const SCALES = Array.from({ length: EXP_MAX_SCALE + 1 }, (_, s) => s);
const TWO_53 = 2n ** 53n;
const TWO_63 = 2n ** 63n;
const MAX_SAFE = TWO_53 - 1n;
/** Where the tests' memory holds the tables (a multiple of 8, as the core requires, not of 64). */
const TABLE = 1032;

// ─── the model ─────────────────────────────────────────────────────────────────────────────────

function bitLength(x: bigint): number {
  if (x === 0n) return 0;
  const hex = x.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
}

/** The i with 2^i < v^(2^s) ≤ 2^(i+1), for v ≥ 1: the bit length of v^(2^s) − 1, less one. */
function modelIndex(scale: number, v: bigint): number {
  return bitLength(v ** (1n << BigInt(scale)) - 1n) - 1;
}

/** floor(base^i) for i ≥ 0: the largest x with x^(2^s) ≤ 2^i, by a search bracketed and checked here. */
function floorPower(scale: number, i: number): bigint {
  const e = 1n << BigInt(scale);
  const power = 1n << BigInt(i);
  const fits = (x: bigint) => x ** e <= power;
  const estimate = BigInt(Math.floor(2 ** (i / 2 ** scale)));
  const slack = estimate < TWO_53 / 2n ? 2n : 1n << 14n;
  let lo = estimate > slack ? estimate - slack : 0n;
  let hi = estimate + slack;
  if (!fits(lo) || fits(hi)) throw new Error(`the test's bracket of floor(2^(${i}/2^${scale})) is wrong`);
  while (hi - lo > 1n) {
    const mid = (lo + hi) >> 1n;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** floor(base^i) for i = 0 … 64 · 2^s, per scale, computed once. */
const powers = new Map<number, bigint[]>();
function floorPowers(scale: number): bigint[] {
  let list = powers.get(scale);
  if (!list) powers.set(scale, (list = Array.from({ length: (64 << scale) + 1 }, (_, i) => floorPower(scale, i))));
  return list;
}

/** Each boundary floor(base^i) and its neighbours, powers of two ± 1, 2^53 ± 1 and 2^64 − 1: every u64 ≥ 1 once. */
function edgeValues(scale: number): bigint[] {
  const values = new Set<bigint>();
  for (const b of floorPowers(scale)) for (const v of [b - 1n, b, b + 1n]) values.add(v);
  for (let k = 0; k <= 64; k++) for (const d of [-1n, 0n, 1n]) values.add((1n << BigInt(k)) + d);
  for (const v of [TWO_53 - 1n, TWO_53, TWO_53 + 1n, U64_MAX]) values.add(v);
  return [...values].filter((v) => v >= 1n && v <= U64_MAX).sort((a, b) => (a < b ? -1 : 1));
}

// ─── the cores ─────────────────────────────────────────────────────────────────────────────────

/** A memory with the tables at TABLE, and the Wasm core and the JS core on it. */
async function cores(pages = 1): Promise<{ memory: WebAssembly.Memory; wasm: Core; js: Core }> {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 1024, shared: true });
  writeExpTable(memory.buffer, TABLE);
  return { memory, wasm: wasmCore(await compileCore(), memory) as Core, js: new JsCore(memory.buffer) };
}

/** The index of `v` by each path that computes it: [name, index] (the number paths for safe integers only). */
function indexes(c: { wasm: Core; js: Core }, scale: number, v: bigint): [string, number][] {
  const out: [string, number][] = [
    ['wasm bigint', c.wasm.expIndex(TABLE, scale, v)],
    ['js bigint', c.js.expIndex(TABLE, scale, v)],
  ];
  if (v <= MAX_SAFE) out.push(['wasm number', c.wasm.expIndexNum(TABLE, scale, Number(v))], ['js number', c.js.expIndexNum(TABLE, scale, Number(v))]);
  return out;
}

/** The paths that disagree with the model at `v`, described. */
function mismatches(c: { wasm: Core; js: Core }, scale: number, v: bigint): string[] {
  const expected = modelIndex(scale, v);
  return indexes(c, scale, v).flatMap(([path, got]) => (got === expected ? [] : [`scale ${scale}, ${v}: ${path} gives ${got}, the model ${expected}`]));
}

// ─── the tables ────────────────────────────────────────────────────────────────────────────────

/** The scale-8 boundaries within one power of two that M (in [2^63, 2^64)) is past: #{m in 1 … 255 : M > T[m]}. */
function pastBoundaries(M: bigint): number {
  let count = 0;
  for (let m = 1; m <= 255; m++) if (M > EXP_T[m]!) count++;
  return count;
}

describe('the tables', () => {
  it('T[m] is floor(2^(63 + m/256)) exactly, T[256] the sentinel 2^64 − 1', () => {
    expect(EXP_T).toHaveLength(257);
    expect(EXP_T[0]).toBe(TWO_63);
    for (let m = 1; m <= 255; m++) {
      const power = 1n << BigInt(63 * 256 + m);
      const t = EXP_T[m]!;
      expect(t ** 256n <= power && power < (t + 1n) ** 256n, `T[${m}]`).toBe(true);
      expect(t > EXP_T[m - 1]!).toBe(true);
    }
    expect(EXP_T[256]).toBe(U64_MAX);
  });

  it('L[j] counts the boundaries below the start of slice j, and one comparison finds the one slice j may hold', () => {
    expect(EXP_L).toHaveLength(1024);
    const slice = 1n << 53n;
    for (let j = 0; j < 1024; j++) {
      const start = TWO_63 + BigInt(j) * slice;
      const end = start + slice - 1n;
      expect(EXP_L[j], `L[${j}]`).toBe(pastBoundaries(start));
      // The count steps up only just past a T[m]: at the slice's ends and around every T[m] in it,
      // the lookup and one comparison give the count, and the slice holds at most one T[m].
      const inside = EXP_T.slice(1, 256).filter((t) => t >= start && t <= end);
      expect(inside.length, `boundaries in slice ${j}`).toBeLessThanOrEqual(1);
      for (const M of [start, end, ...inside.flatMap((t) => [t, t + 1n])]) {
        let m = EXP_L[Number(M >> 53n) & 1023]!;
        if (M > EXP_T[m + 1]!) m++;
        expect(m, `M = ${M}`).toBe(pastBoundaries(M));
      }
    }
  });

  it('are what scripts/gen-exp-table.mjs writes (no hand edits)', () => {
    const check = spawnSync(process.execPath, ['scripts/gen-exp-table.mjs', '--check'], { cwd: new URL('..', import.meta.url), encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});

describe('the tables in a memory', () => {
  it('are written as T (u64) then L (u16), little-endian, zeros to the end, and checked byte for byte', () => {
    const buffer = new SharedArrayBuffer(8192);
    const at = 2048;
    writeExpTable(buffer, at);
    const view = new DataView(buffer);
    expect(EXP_T.map((_, m) => view.getBigUint64(at + EXP_TABLE_T + 8 * m, true))).toEqual(EXP_T);
    expect(EXP_L.map((_, j) => view.getUint16(at + EXP_TABLE_L + 2 * j, true))).toEqual(EXP_L);
    expect(EXP_TABLE_L).toBe(EXP_TABLE_T + 8 * 257);
    expect(EXP_TABLE_BYTES % 64).toBe(0);
    const bytes = new Uint8Array(buffer);
    expect(bytes.subarray(at + EXP_TABLE_L + 2048, at + EXP_TABLE_BYTES).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(0, at).every((b) => b === 0) && bytes.subarray(at + EXP_TABLE_BYTES).every((b) => b === 0)).toBe(true);
    expect(checkExpTable(buffer, at)).toBe(true);
    for (let i = 0; i < EXP_TABLE_BYTES; i++) {
      bytes[at + i]! ^= 1 << (i % 8);
      if (checkExpTable(buffer, at)) throw new Error(`checkExpTable accepts a table with byte ${i} changed`);
      bytes[at + i]! ^= 1 << (i % 8);
    }
    expect(checkExpTable(buffer, at)).toBe(true);
    for (const elsewhere of [at - 8, at + 8, at + 1, -8, 8192, 8192 - EXP_TABLE_BYTES + 8]) expect(checkExpTable(buffer, elsewhere), `at ${elsewhere}`).toBe(false);
  });

  it('are written nowhere when the offset is not a multiple of 8 with the whole table in the buffer', () => {
    const buffer = new SharedArrayBuffer(8192);
    for (const at of [4, -8, 1.5, 8192 - EXP_TABLE_BYTES + 8, Number.NaN, '0' as unknown as number]) {
      expect(() => writeExpTable(buffer, at)).toThrow(new RegExp(`^writeExpTable: at must be a multiple of 8 with the table's ${EXP_TABLE_BYTES} bytes from it within the buffer's 8192; received `));
      expect(() => writeExpTable(buffer, at)).toThrow(RangeError);
    }
    expect(new Uint8Array(buffer).every((b) => b === 0)).toBe(true);
    writeExpTable(buffer, 8192 - EXP_TABLE_BYTES);
    expect(checkExpTable(buffer, 8192 - EXP_TABLE_BYTES)).toBe(true);
  });

  it('are what the Wasm core reads: another table address gives the same indexes, a changed byte another', async () => {
    const c = await cores();
    const other = 16384;
    writeExpTable(c.memory.buffer, other);
    const v = EXP_T[100]! + 1n; // just past scale-8 boundary 100 within [2^63, 2^64)
    expect(c.wasm.expIndex(other, 8, v)).toBe(modelIndex(8, v));
    expect(c.wasm.expIndex(TABLE, 8, v)).toBe(modelIndex(8, v));
    new DataView(c.memory.buffer).setBigUint64(other + EXP_TABLE_T + 8 * 100, v, true);
    expect(c.wasm.expIndex(other, 8, v)).toBe(modelIndex(8, v) - 1);
    expect(checkExpTable(c.memory.buffer, other)).toBe(false);
    expect(checkExpTable(c.memory.buffer, TABLE)).toBe(true);
  });
});

// ─── the index ─────────────────────────────────────────────────────────────────────────────────

describe.each(SCALES)('the index at scale %i', (scale) => {
  it('agrees with the model at, below and above every boundary floor(base^i), on both backends, as bigint and number', async () => {
    const c = await cores();
    const values = edgeValues(scale);
    expect(values.length).toBeGreaterThan(scale === 8 ? 12_000 : 150);
    const wrong = values.flatMap((v) => mismatches(c, scale, v));
    expect(wrong.slice(0, 20)).toEqual([]);
  });

  it('runs from −1 (value 1) to 64 · 2^scale − 1 (2^64 − 1), and a power of two closes a bucket', async () => {
    const c = await cores();
    for (const [path, index] of indexes(c, scale, 1n)) expect(index, path).toBe(-1);
    for (const [path, index] of indexes(c, scale, U64_MAX)) expect(index, path).toBe((64 << scale) - 1);
    for (let k = 0; k < 64; k++) {
      for (const [path, index] of indexes(c, scale, 1n << BigInt(k))) expect(index, `${path} 2^${k}`).toBe((k << scale) - 1);
    }
  });

  it('gives every bucket the integers of the model: expBucketRange(scale, i) is [floor(base^i) + 1, floor(base^(i+1)) + 1)', () => {
    const floors = floorPowers(scale);
    const last = (64 << scale) - 1;
    const wrong: string[] = [];
    for (let i = -1; i <= last; i++) {
      const { lower, upper } = expBucketRange(scale, i);
      const expectedLower = i < 0 ? 1n : floors[i]! + 1n;
      const expectedUpper = i === last ? null : floors[i + 1]! + 1n;
      if (lower !== expectedLower || upper !== expectedUpper) wrong.push(`${i}: [${lower}, ${upper}) for [${expectedLower}, ${expectedUpper})`);
      const top = upper === null ? U64_MAX : upper - 1n;
      if (lower <= top && (modelIndex(scale, lower) !== i || modelIndex(scale, top) !== i)) wrong.push(`${i}: the model puts ${lower} or ${top} elsewhere`);
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(Object.isFrozen(expBucketRange(scale, 0))).toBe(true);
  });
});

describe('the index at random values', () => {
  const scale = fc.integer({ min: 0, max: EXP_MAX_SCALE });
  const nearPowerOfTwo = fc.tuple(fc.integer({ min: 0, max: 64 }), fc.bigInt({ min: -(1n << 12n), max: 1n << 12n })).map(([k, d]) => (1n << BigInt(k)) + d);
  const value = fc.oneof(fc.bigInt({ min: 1n, max: U64_MAX }), fc.bigInt({ min: 1n, max: MAX_SAFE }), fc.bigInt({ min: 1n, max: 1n << 20n }), nearPowerOfTwo).filter((v) => v >= 1n && v <= U64_MAX);

  it('agrees with the model on both backends, as bigint and number', async () => {
    const c = await cores();
    fc.assert(
      fc.property(scale, value, (s, v) => {
        expect(mismatches(c, s, v)).toEqual([]);
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees with the model near random boundaries', async () => {
    const c = await cores();
    const near = scale.chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: 64 << s }), fc.bigInt({ min: -3n, max: 3n })));
    fc.assert(
      fc.property(near, ([s, i, d]) => {
        const v = floorPower(s, i) + d;
        if (v >= 1n && v <= U64_MAX) expect(mismatches(c, s, v)).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });
});

// ─── recordExp ────────────────────────────────────────────────────────────────────────────────

describe('recordExp', () => {
  const BUCKET0 = 8192;
  /** A histogram's cells from BUCKET0, then its sum. */
  const configs = [
    { scale: 0, low: -1, cells: 66 },
    { scale: 3, low: -1, cells: (64 << 3) + 1 },
    { scale: 8, low: -1, cells: (64 << 8) + 1 },
    { scale: 2, low: 10, cells: 9 },
    { scale: 8, low: 2000, cells: 2 },
    { scale: 5, low: -1, cells: 3 },
  ];
  const EDGES = [0n, 1n, 2n, 3n, 1000n, 1024n, 1025n, MAX_SAFE, TWO_53, TWO_53 + 1n, TWO_63, U64_MAX];

  it.each(configs)('at scale $scale from index $low in $cells cells: each value in its cell, the sum mod 2^64, on both backends', async ({ scale, low, cells }) => {
    const c = await cores(4);
    const u64 = new BigUint64Array(c.memory.buffer);
    const sumAddr = BUCKET0 + 8 * cells;
    const expected = new Array<bigint>(cells).fill(0n);
    let sum = 0n;
    const values = [...EDGES, ...fc.sample(fc.bigInt({ min: 0n, max: U64_MAX }), { numRuns: 200, seed: scale * 1000 + cells })];
    values.forEach((v, n) => {
      const cell = v === 0n ? 0 : 1 + Math.min(Math.max(modelIndex(scale, v) - low, 0), cells - 2);
      expected[cell]! += 1n;
      sum = BigInt.asUintN(64, sum + v);
      // Every value by each backend in turn, as a number where it is a safe integer on every other call.
      const core = n % 2 === 0 ? c.wasm : c.js;
      if (n % 4 < 2 && v <= MAX_SAFE) core.recordExpNum(BUCKET0, sumAddr, cells, TABLE, scale, low, Number(v));
      else core.recordExp(BUCKET0, sumAddr, cells, TABLE, scale, low, v);
      const got = u64.slice(BUCKET0 / 8, BUCKET0 / 8 + cells);
      if (got[cell] !== expected[cell] || u64[sumAddr / 8] !== sum) throw new Error(`${core.backend} recordExp(${v}) did not count in cell ${cell} or sum`);
    });
    expect([...u64.slice(BUCKET0 / 8, BUCKET0 / 8 + cells)]).toEqual(expected);
    expect(u64[sumAddr / 8]).toBe(sum);
    // Nothing written outside the cells and the sum, the table untouched.
    expect(u64.slice(sumAddr / 8 + 1).every((w) => w === 0n)).toBe(true);
    expect(checkExpTable(c.memory.buffer, TABLE)).toBe(true);
  });
});

describe('recordExp from four workers, two on each backend, into the same cells', () => {
  it('counts every record exactly in the cell the model says, and sums every value', async () => {
    const scale = 4;
    const low = 100;
    const cells = 700; // indexes 100 … 797, the zero cell, and those below and above in the end cells
    const bucket0 = 8192;
    const sumAddr = bucket0 + 8 * cells;
    const { memory } = await cores(4);
    const values = [0n, 1n, 2n, 1000n, MAX_SAFE, TWO_53, U64_MAX, ...fc.sample(fc.bigInt({ min: 0n, max: U64_MAX }), { numRuns: 300, seed: 7 })];
    values.push(...floorPowers(scale).flatMap((b) => [b, b + 1n]).filter((_, i) => i % 7 === 0));
    const times = 40;
    const backends = ['wasm', 'js', 'wasm', 'js'];
    const results = await startAtLine<{ records: number }>(
      'exp-recorder.mjs',
      backends.map((backend) => ({ memory, backend, table: TABLE, scale, low, cells, bucket0, sumAddr, values, times })),
    );
    expect(results.map((r) => r.records)).toEqual(backends.map(() => values.length * times));
    const expected = new Array<bigint>(cells).fill(0n);
    let sum = 0n;
    for (const v of values) {
      expected[v === 0n ? 0 : 1 + Math.min(Math.max(modelIndex(scale, v) - low, 0), cells - 2)]! += BigInt(backends.length * times);
      sum += v * BigInt(backends.length * times);
    }
    const u64 = new BigUint64Array(memory.buffer);
    expect([...u64.slice(bucket0 / 8, bucket0 / 8 + cells)]).toEqual(expected);
    expect(u64[sumAddr / 8]).toBe(BigInt.asUintN(64, sum));
    expect(checkExpTable(memory.buffer, TABLE)).toBe(true);
  });
});

describe('argument checks', () => {
  it('expBucketRange names a bad scale or index, and what is allowed', () => {
    expect(() => expBucketRange(9, 0)).toThrow(new RangeError('expBucketRange: scale must be a whole number from 0 to 8; received 9'));
    expect(() => expBucketRange(-1, 0)).toThrow(RangeError);
    expect(() => expBucketRange(1.5, 0)).toThrow(RangeError);
    expect(() => expBucketRange('3' as unknown as number, 0)).toThrow(new TypeError('expBucketRange: scale must be a whole number from 0 to 8; received "3"'));
    expect(() => expBucketRange(3, 512)).toThrow(new RangeError('expBucketRange: index must be a whole number from -1 to 511 at scale 3; received 512'));
    expect(() => expBucketRange(3, -2)).toThrow(RangeError);
    expect(() => expBucketRange(3, 0n as unknown as number)).toThrow(new TypeError('expBucketRange: index must be a whole number from -1 to 511 at scale 3; received 0n'));
    expect(() => checkScale('histogram runTime', 9)).toThrow(new RangeError('histogram runTime: scale must be a whole number from 0 to 8; received 9'));
    expect(() => checkScale('x', 8)).not.toThrow();
  });
});
