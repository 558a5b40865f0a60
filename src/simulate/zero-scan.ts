/**
 * The zero-page check of a multifd channel: Wasm (v128) over the guest RAM's shared memory, or a
 * plain JS loop when the engine has no Wasm SIMD or the caller asks for it.
 * @packageDocumentation
 */
import { describe, entry, rangeFault, typeFault } from '../errors.js';
import type { ZeroScanExports } from './scan-abi.js';
import { zeroScanWasm } from './scan-binary.js';

/** How a channel checks pages for zeros. */
export type ZeroScanKind = 'wasm-simd' | 'wasm-scalar' | 'js';

/** Checks whole guest pages for all-zero bytes. */
export interface ZeroScanner {
  /** Which implementation this is. */
  readonly kind: ZeroScanKind;
  /**
   * Whether the page at `byteOffset` is all zeros.
   * @param byteOffset - offset of the page in guest RAM: a multiple of the page size, inside the RAM
   * @throws TypeError or RangeError for any other offset (nothing is read)
   */
  isZeroPage(byteOffset: number): boolean;
}

const ZERO_SCAN_KINDS: readonly unknown[] = ['wasm-simd', 'wasm-scalar', 'js'];

/**
 * Checks a page size against the RAM: a power of two from 64 bytes (the Wasm loops read 64 bytes a
 * step) to the RAM size (its error is named by the public call, see `fault`).
 * @returns a check of page offsets for the hot loop: integer, page-aligned, inside the RAM
 */
function pageOffsetCheck(ramBytes: number, pageBytes: unknown): (byteOffset: number) => void {
  if (typeof pageBytes !== 'number' || !Number.isInteger(pageBytes) || pageBytes < 64 || pageBytes > ramBytes || (pageBytes & (pageBytes - 1)) !== 0) {
    const head = `pageBytes must be a power of two from 64 to ${ramBytes} (the RAM size); received ${describe(pageBytes)}`;
    throw typeof pageBytes === 'number' ? rangeFault(head) : typeFault(head);
  }
  const lastOffset = ramBytes - pageBytes;
  const mask = pageBytes - 1;
  return (byteOffset) => {
    // Every offset inside a 32-bit memory is below 2^32: `>>> 0` keeps exactly those integers, and
    // `&` then sees their low bits unchanged.
    if ((byteOffset >>> 0) === byteOffset && byteOffset <= lastOffset && (byteOffset & mask) === 0) return;
    const head = `isZeroPage: byteOffset must be a multiple of ${pageBytes} from 0 to ${lastOffset} (a whole page inside the RAM); received ${describe(byteOffset)}`;
    throw typeof byteOffset === 'number' ? new RangeError(head) : new TypeError(head);
  };
}

let compiled: Promise<WebAssembly.Module | null> | undefined;

/**
 * Compiles the embedded scan module once per thread.
 * @returns the module, or `null` when this engine cannot run it (no Wasm SIMD)
 */
export function compileScan(): Promise<WebAssembly.Module | null> {
  compiled ??= (async () => {
    const bytes = zeroScanWasm();
    return WebAssembly.validate(bytes) ? WebAssembly.compile(bytes) : null;
  })();
  return compiled;
}

/**
 * A scanner that reads the guest RAM in Wasm: the module imports `ram` as its memory, so a page
 * check is one call with no copying.
 * @param module - from {@link compileScan}
 * @param ram - the guest RAM's shared memory
 * @param pageBytes - bytes per guest page: a power of two from 64 to the RAM size
 * @param simd - `true` for the v128 loop, `false` for the u64 loop (benchmarks compare them)
 * @throws TypeError or RangeError (the promise rejects) for another page size
 */
export async function wasmZeroScanner(
  module: WebAssembly.Module,
  ram: WebAssembly.Memory,
  pageBytes: number,
  simd = true,
): Promise<ZeroScanner> {
  const checkOffset = entry('wasmZeroScanner', () => pageOffsetCheck(ram.buffer.byteLength, pageBytes));
  const instance = await WebAssembly.instantiate(module, { env: { memory: ram } });
  const x = instance.exports as unknown as ZeroScanExports;
  const check = simd ? x.isZeroPage : x.isZeroPageScalar;
  return {
    kind: simd ? 'wasm-simd' : 'wasm-scalar',
    isZeroPage(byteOffset) {
      checkOffset(byteOffset);
      return check(byteOffset, pageBytes) !== 0;
    },
  };
}

/**
 * A scanner in plain JS: 32-bit loads, four a step, or-ed together.
 * @param ram - the guest RAM's bytes (a `SharedArrayBuffer` or a shared memory's buffer)
 * @param pageBytes - bytes per guest page: a power of two from 64 to the RAM size
 * @throws TypeError or RangeError for another page size
 */
export function jsZeroScanner(ram: ArrayBufferLike, pageBytes: number): ZeroScanner {
  const checkOffset = entry('jsZeroScanner', () => pageOffsetCheck(ram.byteLength, pageBytes));
  const words = new Int32Array(ram);
  const pageWords = pageBytes >>> 2;
  return {
    kind: 'js',
    isZeroPage(byteOffset) {
      checkOffset(byteOffset);
      let i = byteOffset >>> 2;
      const end = i + pageWords;
      for (; i < end; i += 4) {
        if ((words[i]! | words[i + 1]! | words[i + 2]! | words[i + 3]!) !== 0) return false;
      }
      return true;
    },
  };
}

/**
 * The scanner a channel uses: Wasm SIMD when the engine runs it, else the JS loop.
 * @param kind - `'js'` to force the JS loop; otherwise the best available
 */
export async function zeroScanner(ram: WebAssembly.Memory, pageBytes: number, kind?: ZeroScanKind): Promise<ZeroScanner> {
  if (kind !== undefined && !ZERO_SCAN_KINDS.includes(kind)) {
    throw new TypeError(`zeroScanner: kind must be 'wasm-simd', 'wasm-scalar', 'js' or undefined (the best available); received ${describe(kind)}`);
  }
  if (kind !== 'js') {
    const module = await compileScan();
    if (module) return wasmZeroScanner(module, ram, pageBytes, kind !== 'wasm-scalar');
  }
  return jsZeroScanner(ram.buffer, pageBytes);
}
