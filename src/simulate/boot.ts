/**
 * The guest's RAM as it boots: which pages are all zeros and what the others hold, decided page by
 * page from the seed alone, so that any number of threads can fill any ranges of pages in
 * parallel and always produce the same RAM.
 *
 * Exactly `floor(share × pages)` pages are zero: page `p` is zero when `shuffle(p)` falls below
 * that count, `shuffle` being a seeded permutation of the page numbers. Zero pages are not written
 * (fresh memory is zero). Every other page is a page-long slice, at one of 1024 pseudo-random
 * offsets, of a pool of random words, with its first word random and never 0 and its second word
 * the page number, so no two pages are alike and filling runs at memory-copy speed.
 * @packageDocumentation
 */
import { PAGE_BYTES } from './wire.js';

/** Words of the pool that pages are sliced from: 64 KiB and a page. */
const POOL_WORDS = 16384;
/** Where slices may start: every 16th word (64 bytes) of the pool's first 64 KiB. */
const SLICES = 1024;
/** Pages filled per claim of the shared chunk counter ({@link fillBootChunks}). */
export const BOOT_CHUNK_PAGES = 1024;

/** What a filler needs to know: the same for every thread that fills part of one guest's RAM. */
export interface BootImage {
  /** The guest's RAM (a shared memory's buffer), at least `ramBytes` long. */
  readonly ram: ArrayBufferLike;
  readonly ramBytes: number;
  /** Share of pages that are all zeros, 0 to 1. */
  readonly zeroShare: number;
  /** Seed of the choice of zero pages and of the data, 0 to 2^32 − 1. */
  readonly seed: number;
}

/** murmur3's 32-bit finaliser: mixes every bit of `x` into every bit of the result. */
function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * A seeded permutation of `[0, pages)`: rounds of invertible steps on numbers of `bits` bits
 * (an odd multiplier, an added key, a right shift folded in), repeated until the result is below
 * `pages` (cycle walking keeps it a permutation of the smaller range).
 */
function shuffler(pages: number, seed: number): (page: number) => number {
  // At most 2^20 pages (a 4 GiB RAM): `bits` stays far below 31, so `& mask` keeps values unsigned.
  const bits = Math.max(2, 32 - Math.clz32(pages - 1));
  const mask = 2 ** bits - 1;
  const shift = bits >>> 1;
  const keys = [mix(seed ^ 0x1b873593), mix(seed ^ 0xcc9e2d51), mix(seed ^ 0xe6546b64)];
  const round = (x: number, key: number): number => {
    x = (Math.imul(x, (key | 1) >>> 0) >>> 0) & mask;
    x = (x + (key >>> 7)) & mask;
    return (x ^ (x >>> shift)) & mask;
  };
  return (page) => {
    let x = page;
    do {
      for (const key of keys) x = round(x, key);
    } while (x >= pages);
    return x;
  };
}

/** One thread's filler of a booting guest's RAM: fills any range of pages, always alike. */
function filler(image: BootImage): (firstPage: number, pageCount: number) => void {
  const pages = image.ramBytes / PAGE_BYTES;
  const pageWords = PAGE_BYTES / 4;
  const zeroPages = Math.floor(image.zeroShare * pages);
  const shuffle = shuffler(pages, image.seed);
  const seed = mix(image.seed + 0x9e3779b9);
  const pool = new Uint32Array(POOL_WORDS + pageWords);
  let x = seed || 1;
  for (let i = 0; i < pool.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pool[i] = x >>> 0;
  }
  const slices = Array.from({ length: SLICES }, (_, i) => pool.subarray(i * 16, i * 16 + pageWords));
  const words = new Uint32Array(image.ram, 0, image.ramBytes / 4);
  return (firstPage, pageCount) => {
    for (let page = firstPage; page < firstPage + pageCount; page++) {
      if (shuffle(page) < zeroPages) continue;
      const first = page * pageWords;
      words.set(slices[mix(page ^ seed) % SLICES]!, first);
      words[first] = mix(page + seed) | 1;
      words[first + 1] = page;
    }
  };
}

/**
 * Fills pages `[firstPage, firstPage + pageCount)` of a booting guest's RAM. Zero pages are left
 * as they are (fresh memory is zero).
 * @param image - the RAM and what decides its content
 * @param firstPage - first page to fill
 * @param pageCount - pages to fill (the caller keeps the range inside the RAM)
 */
export function fillBootPages(image: BootImage, firstPage: number, pageCount: number): void {
  filler(image)(firstPage, pageCount);
}

/**
 * One thread's part of the boot when several fill the RAM together: it claims chunks of
 * {@link BOOT_CHUNK_PAGES} pages from a shared counter until none is left, so a thread that
 * starts early or runs fast fills more.
 * @param image - the RAM and what decides its content
 * @param next - a shared counter, 0 before the first claim, slot 0 the next chunk to fill
 */
export function fillBootChunks(image: BootImage, next: Int32Array): void {
  const pages = image.ramBytes / PAGE_BYTES;
  const fill = filler(image);
  for (let chunk = Atomics.add(next, 0, 1); chunk * BOOT_CHUNK_PAGES < pages; chunk = Atomics.add(next, 0, 1)) {
    const firstPage = chunk * BOOT_CHUNK_PAGES;
    fill(firstPage, Math.min(BOOT_CHUNK_PAGES, pages - firstPage));
  }
}
