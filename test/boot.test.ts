// The booting guest's RAM (boot.ts): exactly floor(share × pages) zero pages, every other page
// unlike any other, and the same RAM whichever threads fill which pages. From the build.
import { describe, expect, it } from 'vitest';
import { BOOT_CHUNK_PAGES, fillBootChunks, fillBootPages, type BootImage } from '../dist/simulate/boot.js';
import { PAGE_BYTES } from '../dist/simulate/wire.js';

const image = (pages: number, zeroShare: number, seed = 1): BootImage => ({
  ram: new SharedArrayBuffer(pages * PAGE_BYTES),
  ramBytes: pages * PAGE_BYTES,
  zeroShare,
  seed,
});

/** Each page's bytes as a string (for comparing pages). */
const pagesOf = (ram: ArrayBufferLike): string[] =>
  Array.from({ length: ram.byteLength / PAGE_BYTES }, (_, p) => Buffer.from(ram, p * PAGE_BYTES, PAGE_BYTES).toString('base64'));
const isZero = (page: string): boolean => !Buffer.from(page, 'base64').some((b) => b !== 0);

describe('the booting guest RAM', () => {
  it.each([
    [1, 0],
    [1, 1],
    [7, 0.25],
    [1000, 0.25],
    [1000, 0.5],
    [4096 + 3, 0.25],
    [1000, 1],
  ])('has exactly floor(share × pages) zero pages and no two other pages alike: %i pages at %d', (pages, share) => {
    const boot = image(pages, share);
    fillBootPages(boot, 0, pages);
    const all = pagesOf(boot.ram);
    const data = all.filter((page) => !isZero(page));
    expect(all.length - data.length).toBe(Math.floor(share * pages));
    expect(new Set(data).size).toBe(data.length);
  });

  it('is the same RAM whether one thread fills it, ranges of it, or chunks claimed from a counter', () => {
    const pages = 3 * BOOT_CHUNK_PAGES + 17;
    const whole = image(pages, 0.3, 42);
    fillBootPages(whole, 0, pages);
    const split = image(pages, 0.3, 42);
    for (const [first, count] of [[pages - 5, 5], [0, 1000], [1000, pages - 1005]]) fillBootPages(split, first!, count!);
    const claimed = image(pages, 0.3, 42);
    const next = new Int32Array(new SharedArrayBuffer(4));
    fillBootChunks(claimed, next);
    fillBootChunks(claimed, next); // a second thread arriving late finds nothing left
    expect(Atomics.load(next, 0)).toBeGreaterThan(Math.ceil(pages / BOOT_CHUNK_PAGES));
    expect(Buffer.from(split.ram).equals(Buffer.from(whole.ram))).toBe(true);
    expect(Buffer.from(claimed.ram).equals(Buffer.from(whole.ram))).toBe(true);
  });

  it('spreads zero pages and data by the seed: another seed, another RAM', () => {
    const a = image(512, 0.25, 1);
    const b = image(512, 0.25, 2);
    fillBootPages(a, 0, 512);
    fillBootPages(b, 0, 512);
    const zerosA = pagesOf(a.ram).map(isZero);
    const zerosB = pagesOf(b.ram).map(isZero);
    expect(zerosA).not.toEqual(zerosB);
    // Zero pages are not bunched at either end.
    expect(zerosA.slice(0, 256).filter(Boolean).length).toBeGreaterThan(20);
    expect(zerosA.slice(256).filter(Boolean).length).toBeGreaterThan(20);
  });

  it('leaves zero pages unwritten, as fresh memory is zero', () => {
    const boot = image(64, 0.5);
    new Uint8Array(boot.ram).fill(0xa5);
    fillBootPages(boot, 0, 64);
    // Pages the boot wrote start with a random non-zero word and their page number; the others kept 0xa5.
    const words = new Uint32Array(boot.ram);
    const untouched = Array.from({ length: 64 }, (_, p) => words[p * 1024 + 1] === 0xa5a5a5a5);
    expect(untouched.filter(Boolean).length).toBe(32);
    for (let p = 0; p < 64; p++) if (!untouched[p]) expect(words[p * 1024 + 1]).toBe(p);
  });
});
