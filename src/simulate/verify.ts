/**
 * The byte-for-byte comparison of the destination with the source after a migration: in Wasm
 * (v128) through a small memory of its own, on both backends (the backend is the counters' and the
 * zero scan's; the guest RAM is a Wasm memory either way), or a plain JS loop on engines without
 * Wasm SIMD.
 * @packageDocumentation
 */
import type { ZeroScanExports } from './scan-abi.js';
import { compileScan } from './zero-scan.js';
import { PAGE_BYTES } from './wire.js';

/** Bytes compared per Wasm call: source and destination chunks sit side by side in a 128 KiB memory. */
const CHUNK_BYTES = 65536;

/** Compares ranges of pages of two RAMs of the same size. */
export interface PageComparer {
  /** `'wasm-simd'` or `'js'`. */
  readonly kind: 'wasm-simd' | 'js';
  /**
   * The first page of `[firstPage, firstPage + pageCount)` that differs, or −1 when all are equal.
   * The caller passes a range inside both RAMs.
   */
  firstMismatch(firstPage: number, pageCount: number): number;
}

/**
 * A comparer of `source` with `destination` over their first `ramBytes` bytes.
 * @param kind - `'js'` for the JS loop (tests compare the two); otherwise Wasm SIMD where the
 *   engine runs it, else the JS loop
 */
export async function pageComparer(
  source: ArrayBufferLike,
  destination: ArrayBufferLike,
  ramBytes: number,
  kind?: 'js',
): Promise<PageComparer> {
  const module = kind === 'js' ? null : await compileScan();
  if (!module) return jsComparer(source, destination, ramBytes);
  // Wasm reads one memory: each chunk of both RAMs is copied into this one (memcpy speed), then
  // compared 64 bytes a step while it is still in cache.
  const scratch = new WebAssembly.Memory({ initial: (2 * CHUNK_BYTES) / 65536, maximum: (2 * CHUNK_BYTES) / 65536, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory: scratch } });
  const { firstDifference } = instance.exports as unknown as ZeroScanExports;
  const sides = new Uint8Array(scratch.buffer);
  const from = new Uint8Array(source, 0, ramBytes);
  const to = new Uint8Array(destination, 0, ramBytes);
  return {
    kind: 'wasm-simd',
    firstMismatch(firstPage, pageCount) {
      const end = (firstPage + pageCount) * PAGE_BYTES;
      for (let at = firstPage * PAGE_BYTES; at < end; at += CHUNK_BYTES) {
        const bytes = Math.min(CHUNK_BYTES, end - at);
        sides.set(from.subarray(at, at + bytes), 0);
        sides.set(to.subarray(at, at + bytes), CHUNK_BYTES);
        const offset = firstDifference(0, CHUNK_BYTES, bytes);
        if (offset >= 0) return Math.floor((at + offset) / PAGE_BYTES);
      }
      return -1;
    },
  };
}

/** The JS loop: 32-bit words, one at a time. */
function jsComparer(source: ArrayBufferLike, destination: ArrayBufferLike, ramBytes: number): PageComparer {
  const from = new Int32Array(source, 0, ramBytes / 4);
  const to = new Int32Array(destination, 0, ramBytes / 4);
  const pageWords = PAGE_BYTES / 4;
  return {
    kind: 'js',
    firstMismatch(firstPage, pageCount) {
      const end = (firstPage + pageCount) * pageWords;
      for (let i = firstPage * pageWords; i < end; i++) {
        if (from[i] !== to[i]) return Math.floor(i / pageWords);
      }
      return -1;
    },
  };
}
