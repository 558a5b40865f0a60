// The simulator's migration bitmap (DirtyBitmap): marking every page, merging a dirty log, taking pages out, the count.
//
// Each case builds a bitmap, writes a dirty log the way the guest does (one bit a page, set with
// Atomics.or in a shared Int32Array), and checks both the pages that come out of `take` and the
// count that the migration reports as remaining. A property test then runs random sequences of
// the three operations against a Set of page numbers. From the build, like the other simulator tests.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirtyBitmap } from '../dist/simulate/dirty-bitmap.js';

/** A dirty log for `bitmap` with the given pages set, as the guest writes it. */
function logOf(bitmap: DirtyBitmap, pages: readonly number[]): Int32Array<SharedArrayBuffer> {
  const log = new Int32Array(new SharedArrayBuffer(bitmap.words * 4));
  for (const page of pages) Atomics.or(log, page >>> 5, 1 << (page & 31));
  return log;
}

/** Every page still dirty, taken out in one batch. */
const drain = (bitmap: DirtyBitmap): number[] => Array.from(bitmap.take(bitmap.pages));

/** The numbers from `first` to `last`, both included. */
const range = (first: number, last: number): number[] => Array.from({ length: last - first + 1 }, (_, i) => first + i);

describe('DirtyBitmap', () => {
  it('starts with no page dirty', () => {
    const bitmap = new DirtyBitmap(100);
    expect(bitmap.pages).toBe(100);
    expect(bitmap.words).toBe(4);
    expect(bitmap.count).toBe(0);
    expect(bitmap.take(128)).toEqual(new Uint32Array(0));
  });

  it('marks every page of a RAM whose page count is not a multiple of 32, and none past the last', () => {
    const bitmap = new DirtyBitmap(45);
    expect(bitmap.words).toBe(2);
    bitmap.markAll();
    expect(bitmap.count).toBe(45);
    const pages = bitmap.take(128);
    expect(pages.length).toBe(45);
    expect(Array.from(pages)).toEqual(range(0, 44));
    expect(bitmap.count).toBe(0);
    expect(bitmap.take(128).length).toBe(0);
  });

  it('marks every page of a RAM of whole words, bit 31 included', () => {
    const bitmap = new DirtyBitmap(64);
    bitmap.markAll();
    expect(bitmap.count).toBe(64);
    expect(drain(bitmap)).toEqual(range(0, 63));
  });

  it('marks a one-page RAM', () => {
    const bitmap = new DirtyBitmap(1);
    bitmap.markAll();
    expect(bitmap.count).toBe(1);
    expect(drain(bitmap)).toEqual([0]);
  });

  it('takes the lowest pages in batches that split words, counting down as it goes', () => {
    const bitmap = new DirtyBitmap(100);
    bitmap.markAll();
    const taken: number[] = [];
    for (let left = 100; left > 0; left -= 7) {
      const batch = bitmap.take(7);
      expect(batch.length).toBe(Math.min(7, left));
      expect(bitmap.count).toBe(left - batch.length);
      taken.push(...batch);
    }
    expect(taken).toEqual(range(0, 99));
    expect(bitmap.take(7).length).toBe(0);
  });

  it('takes nothing and changes nothing when asked for 0 pages', () => {
    const bitmap = new DirtyBitmap(40);
    bitmap.markAll();
    expect(bitmap.take(0).length).toBe(0);
    expect(bitmap.count).toBe(40);
  });

  it('merges a log over pages already dirty: only the clean ones are newly dirty, and each page comes out once', () => {
    const bitmap = new DirtyBitmap(45);
    bitmap.markAll();
    expect(Array.from(bitmap.take(10))).toEqual(range(0, 9));
    // 3 and 5 were sent (clean again); 20, 40 and 44, the last page, were never sent (still dirty).
    const log = logOf(bitmap, [3, 5, 20, 40, 44]);
    expect(bitmap.mergeLog(log)).toBe(2);
    expect(bitmap.count).toBe(35 + 2);
    expect(Array.from(log)).toEqual([0, 0]);
    expect(drain(bitmap)).toEqual([3, 5, ...range(10, 44)]);
    expect(bitmap.count).toBe(0);
  });

  it('after a merge, takes pages below the words a pass has already gone through first', () => {
    const bitmap = new DirtyBitmap(45);
    bitmap.markAll();
    expect(bitmap.take(40).length).toBe(40);
    expect(bitmap.mergeLog(logOf(bitmap, [3, 33]))).toBe(2);
    expect(Array.from(bitmap.take(3))).toEqual([3, 33, 40]);
    expect(drain(bitmap)).toEqual(range(41, 44));
  });

  it('counts a page with bit 31 of its word (a negative Int32 in the log)', () => {
    const bitmap = new DirtyBitmap(64);
    const log = logOf(bitmap, [31, 63, 0]);
    expect(log[0]).toBeLessThan(0);
    expect(bitmap.mergeLog(log)).toBe(3);
    expect(bitmap.count).toBe(3);
    expect(drain(bitmap)).toEqual([0, 31, 63]);
  });

  it('merges an empty log, or one already merged, as no newly dirty page', () => {
    const bitmap = new DirtyBitmap(70);
    const log = logOf(bitmap, [1, 2, 69]);
    expect(bitmap.mergeLog(log)).toBe(3);
    expect(bitmap.mergeLog(log)).toBe(0);
    expect(bitmap.mergeLog(logOf(bitmap, [1, 69]))).toBe(0);
    expect(bitmap.count).toBe(3);
    expect(drain(bitmap)).toEqual([1, 2, 69]);
  });

  it('marks every page again after a pass, whatever a log had added', () => {
    const bitmap = new DirtyBitmap(33);
    bitmap.mergeLog(logOf(bitmap, [32]));
    bitmap.markAll();
    expect(bitmap.count).toBe(33);
    expect(bitmap.mergeLog(logOf(bitmap, [0, 32]))).toBe(0);
    expect(drain(bitmap)).toEqual(range(0, 32));
  });

  it('refuses a page count, a batch size or a log it cannot use', () => {
    for (const pages of [0, -1, 1.5, Number.NaN, Infinity]) expect(() => new DirtyBitmap(pages)).toThrow(RangeError);
    const bitmap = new DirtyBitmap(64);
    for (const max of [-1, 0.5, Number.NaN]) expect(() => bitmap.take(max)).toThrow(RangeError);
    expect(() => bitmap.mergeLog(new Int32Array(new SharedArrayBuffer(12)))).toThrow(RangeError);
    expect(() => bitmap.mergeLog(new Int32Array(new SharedArrayBuffer(4)))).toThrow(RangeError);
    expect(bitmap.count).toBe(0);
  });

  it('agrees with a set of page numbers over any sequence of mark-all, merge and take', () => {
    type Op = { kind: 'markAll' } | { kind: 'merge'; pages: number[] } | { kind: 'take'; max: number };
    const op = (pages: number): fc.Arbitrary<Op> =>
      fc.oneof(
        { weight: 1, arbitrary: fc.constant({ kind: 'markAll' as const }) },
        { weight: 4, arbitrary: fc.record({ kind: fc.constant('merge' as const), pages: fc.array(fc.nat(pages - 1), { maxLength: 40 }) }) },
        { weight: 4, arbitrary: fc.record({ kind: fc.constant('take' as const), max: fc.nat(pages + 5) }) },
      );
    const scenario = fc.integer({ min: 1, max: 200 }).chain((pages) => fc.tuple(fc.constant(pages), fc.array(op(pages), { maxLength: 30 })));
    fc.assert(
      fc.property(scenario, ([pages, ops]) => {
        const bitmap = new DirtyBitmap(pages);
        const dirty = new Set<number>();
        for (const o of ops) {
          if (o.kind === 'markAll') {
            bitmap.markAll();
            for (let p = 0; p < pages; p++) dirty.add(p);
          } else if (o.kind === 'merge') {
            const fresh = new Set(o.pages.filter((p) => !dirty.has(p))).size;
            expect(bitmap.mergeLog(logOf(bitmap, o.pages))).toBe(fresh);
            for (const p of o.pages) dirty.add(p);
          } else {
            const expected = [...dirty].sort((a, b) => a - b).slice(0, o.max);
            expect(Array.from(bitmap.take(o.max))).toEqual(expected);
            for (const p of expected) dirty.delete(p);
          }
          expect(bitmap.count).toBe(dirty.size);
        }
      }),
    );
  });
});
