/**
 * The migration bitmap: which guest pages the current pass still has to send.
 *
 * One bit a page, 32 pages a word, page `p` at bit `p & 31` of word `p >>> 5`: the layout of the
 * guest's dirty log, so that a sync merges each log word into its bitmap word with one OR. The
 * class counts the set bits as it changes them (marking every page, merging a log, taking pages
 * out), so the number of dirty pages is kept in this one place. Pages come out lowest first, a
 * packet's worth at a time; a cursor below which every word is known to be zero keeps a pass over
 * the bitmap linear however many batches it takes.
 * @packageDocumentation
 */

/** Set bits of a 32-bit word. */
const popcount = (x: number): number => {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

/** A bitmap of dirty pages that knows how many are set. */
export class DirtyBitmap {
  /** Guest pages the bitmap covers. */
  readonly pages: number;
  readonly #words: Uint32Array;
  #count = 0;
  /** Every word below this index is zero. */
  #cursor = 0;

  /**
   * An empty bitmap: no page dirty.
   * @param pages - guest pages to cover, a positive integer
   * @throws RangeError when `pages` is not a positive safe integer
   */
  constructor(pages: number) {
    if (!Number.isSafeInteger(pages) || pages < 1) throw new RangeError(`DirtyBitmap: pages must be a positive integer; received ${pages}`);
    this.pages = pages;
    this.#words = new Uint32Array(Math.ceil(pages / 32));
  }

  /** Words of the bitmap, and of a dirty log that merges into it. */
  get words(): number {
    return this.#words.length;
  }

  /** Dirty pages: how many bits are set. */
  get count(): number {
    return this.#count;
  }

  /** Marks every page dirty (the start of a migration); the bits past the last page stay clear. */
  markAll(): void {
    const words = this.#words;
    words.fill(0xffffffff);
    if (this.pages % 32 !== 0) words[words.length - 1] = 2 ** (this.pages % 32) - 1;
    this.#count = this.pages;
    this.#cursor = 0;
  }

  /**
   * Moves a dirty log into the bitmap: each log word is read and cleared in one atomic exchange
   * (a bit the guest sets meanwhile stays in the log for the next merge), then ORed in.
   * @param log - the dirty log, in the bitmap's layout and of its length
   * @returns the pages that were clean in the bitmap and are dirty now
   * @throws RangeError when the log's length is not the bitmap's
   */
  mergeLog(log: Int32Array): number {
    const words = this.#words;
    if (log.length !== words.length) throw new RangeError(`DirtyBitmap: the log has ${log.length} words, the bitmap ${words.length}`);
    let newlyDirty = 0;
    for (let w = 0; w < log.length; w++) {
      const logged = Atomics.exchange(log, w, 0) >>> 0;
      if (logged === 0) continue;
      newlyDirty += popcount((logged & ~words[w]!) >>> 0);
      words[w] = (words[w]! | logged) >>> 0;
      if (w < this.#cursor) this.#cursor = w;
    }
    this.#count += newlyDirty;
    return newlyDirty;
  }

  /**
   * Copies the bitmap into another of its layout (a shared one that other threads then take pages
   * from), and calls `each` with every dirty page, in ascending order; the bitmap is unchanged.
   * @throws RangeError when `target`'s length is not the bitmap's
   */
  copyTo(target: Int32Array, each: (page: number) => void): void {
    const words = this.#words;
    if (target.length !== words.length) throw new RangeError(`DirtyBitmap: the target has ${target.length} words, the bitmap ${words.length}`);
    for (let w = 0; w < words.length; w++) {
      let bits = words[w]!;
      Atomics.store(target, w, bits | 0);
      while (bits !== 0) {
        each(w * 32 + 31 - Math.clz32(bits & -bits));
        bits &= bits - 1;
      }
    }
  }

  /**
   * Takes the lowest dirty pages out of the bitmap: they are clean in it afterwards.
   * @param max - most pages to take, a non-negative integer
   * @returns a new array of `min(max, count)` page numbers in ascending order (empty when no page
   *   is dirty)
   * @throws RangeError when `max` is not a non-negative safe integer
   */
  take(max: number): Uint32Array {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`DirtyBitmap: take needs a non-negative integer; received ${max}`);
    const words = this.#words;
    const out = new Uint32Array(Math.min(max, this.#count));
    let filled = 0;
    let w = this.#cursor;
    // `count` set bits lie at or after the cursor, so the loop finds `out.length` of them in range.
    while (filled < out.length) {
      let bits = words[w]!;
      while (bits !== 0 && filled < out.length) {
        out[filled++] = w * 32 + 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
      }
      words[w] = bits;
      if (bits === 0) w++;
    }
    this.#cursor = w;
    this.#count -= filled;
    return out;
  }
}
