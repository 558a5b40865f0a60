// The destination side of the simulator's channels (destination.ts) and the verification's
// comparison (verify.ts), on both of its implementations. From the build.
import { describe, expect, it } from 'vitest';
import { isReceived, receivePages } from '../dist/simulate/destination.js';
import { pageComparer } from '../dist/simulate/verify.js';
import { PAGE_BYTES } from '../dist/simulate/wire.js';

const destinationOf = (pages: number) => ({
  ram: new Uint8Array(new SharedArrayBuffer(pages * PAGE_BYTES)),
  received: new Int32Array(new SharedArrayBuffer(Math.ceil(pages / 32) * 4)),
});

describe("the destination's RAM, as QEMU's multifd receiving side writes it", () => {
  it('copies data pages in and marks them received', () => {
    const destination = destinationOf(40);
    const data = new Uint8Array(3 * PAGE_BYTES).map((_, i) => (i % 251) + 1);
    expect(receivePages(destination, data, 31, 34)).toBe(0);
    expect(Buffer.from(destination.ram.subarray(31 * PAGE_BYTES, 34 * PAGE_BYTES)).equals(Buffer.from(data))).toBe(true);
    expect([30, 31, 32, 33, 34].map((p) => isReceived(destination, p))).toEqual([false, true, true, true, false]);
  });

  it('does not write a zero page into a page never received: it only marks it', () => {
    const destination = destinationOf(4);
    // A marker the simulator never has (fresh memory is zero): it shows that nothing was written.
    destination.ram.fill(0x5a);
    expect(receivePages(destination, null, 1, 3)).toBe(0);
    expect(destination.ram.every((b) => b === 0x5a)).toBe(true);
    expect([0, 1, 2, 3].map((p) => isReceived(destination, p))).toEqual([false, true, true, false]);
  });

  it('writes zeros over a page received before, as data or as a zero page', () => {
    const destination = destinationOf(3);
    receivePages(destination, new Uint8Array(PAGE_BYTES).fill(7), 0, 1);
    receivePages(destination, null, 1, 2);
    destination.ram.fill(0x5a, PAGE_BYTES, 3 * PAGE_BYTES);
    expect(receivePages(destination, null, 0, 3)).toBe(2);
    expect(destination.ram.subarray(0, 2 * PAGE_BYTES).every((b) => b === 0)).toBe(true);
    expect(destination.ram.subarray(2 * PAGE_BYTES).every((b) => b === 0x5a)).toBe(true);
  });
});

describe.each(['wasm-simd', 'js'] as const)('pageComparer (%s)', (kind) => {
  const pages = 70; // more than one 64 KiB chunk of the Wasm comparer, and not a whole number of them
  const make = async () => {
    const source = new WebAssembly.Memory({ initial: 5, maximum: 5, shared: true });
    const destination = new SharedArrayBuffer(pages * PAGE_BYTES);
    new Uint8Array(source.buffer, 0, pages * PAGE_BYTES).forEach((_, i, a) => (a[i] = (i * 7) & 0xff));
    new Uint8Array(destination).set(new Uint8Array(source.buffer, 0, pages * PAGE_BYTES));
    const comparer = await pageComparer(source.buffer, destination, pages * PAGE_BYTES, kind === 'js' ? 'js' : undefined);
    return { comparer, destination: new Uint8Array(destination) };
  };

  it('is the implementation asked for', async () => {
    expect((await make()).comparer.kind).toBe(kind);
  });

  it('finds no mismatch in equal RAMs, over any range', async () => {
    const { comparer } = await make();
    expect(comparer.firstMismatch(0, pages)).toBe(-1);
    expect(comparer.firstMismatch(17, 3)).toBe(-1);
    expect(comparer.firstMismatch(pages, 0)).toBe(-1);
  });

  it.each([
    [0, 0],
    [5, 4095],
    [16, 0],
    [69, 4095],
  ])('finds one differing byte in page %i (byte %i), and the first of two', async (page, byte) => {
    const { comparer, destination } = await make();
    destination[page * PAGE_BYTES + byte]! ^= 1;
    expect(comparer.firstMismatch(0, pages)).toBe(page);
    expect(comparer.firstMismatch(page, 1)).toBe(page);
    expect(comparer.firstMismatch(page + 1, pages - page - 1)).toBe(-1);
    if (page > 0) expect(comparer.firstMismatch(0, page)).toBe(-1);
    destination[(pages - 1) * PAGE_BYTES + 100]! ^= 1;
    expect(comparer.firstMismatch(0, pages)).toBe(page);
  });
});
