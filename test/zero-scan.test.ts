import { describe, expect, it } from 'vitest';
import { zeroScanWasm } from '../dist/simulate/scan-binary.js';
import { compileScan, jsZeroScanner, wasmZeroScanner, zeroScanner, type ZeroScanner } from '../dist/simulate/zero-scan.js';

const PAGE = 4096;

describe('zero-page scan', async () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const bytes = new Uint8Array(memory.buffer);
  const module = await compileScan();
  const scanners: ZeroScanner[] = [
    await wasmZeroScanner(module!, memory, PAGE, true),
    await wasmZeroScanner(module!, memory, PAGE, false),
    jsZeroScanner(memory.buffer, PAGE),
  ];

  it('compiles on this engine (Wasm SIMD)', () => {
    expect(module).toBeInstanceOf(WebAssembly.Module);
    expect(scanners.map((s) => s.kind)).toEqual(['wasm-simd', 'wasm-scalar', 'js']);
  });

  it('imports only the memory and has no start function or data to write into guest RAM', () => {
    expect(WebAssembly.Module.imports(module!)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    // Section ids of the binary: 8 is a start function, 11 data segments.
    const wasm = zeroScanWasm();
    const ids: number[] = [];
    for (let at = 8; at < wasm.length; ) {
      ids.push(wasm[at++]!);
      let size = 0;
      for (let shift = 0; ; shift += 7) {
        const byte = wasm[at++]!;
        size |= (byte & 0x7f) << shift;
        if (byte < 0x80) break;
      }
      at += size;
    }
    expect(ids).toEqual([1, 2, 3, 7, 10]); // type, import, function, export, code
  });

  // Every byte position of page 1 (bytes 4096–8191), with pages 0 and 2 full of data around it.
  it.each(scanners.map((s) => [s.kind, s] as const))('%s finds a single non-zero byte anywhere in a page', (_, scanner) => {
    bytes.fill(0xff);
    bytes.fill(0, PAGE, 2 * PAGE);
    expect(scanner.isZeroPage(PAGE)).toBe(true);
    expect(scanner.isZeroPage(0)).toBe(false);
    for (let i = PAGE; i < 2 * PAGE; i++) {
      bytes[i] = 1;
      if (scanner.isZeroPage(PAGE)) throw new Error(`${scanner.kind} missed the byte at offset ${i - PAGE}`);
      bytes[i] = 0;
    }
    expect(scanner.isZeroPage(PAGE)).toBe(true);
  });

  it.each(scanners.map((s) => [s.kind, s] as const))('%s refuses an offset that is not a whole page inside the RAM', (_, scanner) => {
    // The JS loop read past the end as zeros, and the Wasm loops read the next page's bytes.
    for (const bad of [-PAGE, 1, PAGE + 0.5, 65536, 2 ** 32, NaN, Infinity]) expect(() => scanner.isZeroPage(bad)).toThrow(RangeError);
    expect(() => scanner.isZeroPage('0' as never)).toThrow(TypeError);
    expect(() => scanner.isZeroPage(65536)).toThrow(
      new RangeError('isZeroPage: byteOffset must be a multiple of 4096 from 0 to 61440 (a whole page inside the RAM); received 65536'),
    );
  });

  it('refuses a page size that is not a power of two from 64 bytes to the RAM size, and an unknown kind', async () => {
    await expect(wasmZeroScanner(module!, memory, 100)).rejects.toThrow(
      new RangeError('wasmZeroScanner: pageBytes must be a power of two from 64 to 65536 (the RAM size); received 100'),
    );
    expect(() => jsZeroScanner(memory.buffer, 4097)).toThrow(RangeError);
    expect(() => jsZeroScanner(memory.buffer, 2 * 65536)).toThrow(RangeError);
    expect(() => jsZeroScanner(memory.buffer, '4096' as never)).toThrow(TypeError);
    await expect(zeroScanner(memory, PAGE, 'gpu' as never)).rejects.toThrow(
      new TypeError("zeroScanner: kind must be 'wasm-simd', 'wasm-scalar', 'js' or undefined (the best available); received \"gpu\""),
    );
  });

  it('checks the last page of a 4 GiB memory, whose end address wraps to 0', async () => {
    const big = new WebAssembly.Memory({ initial: 65536, maximum: 65536, shared: true });
    const last = 2 ** 32 - PAGE;
    const view = new Uint8Array(big.buffer, last, PAGE);
    for (const scanner of [await wasmZeroScanner(module!, big, PAGE, true), await wasmZeroScanner(module!, big, PAGE, false), jsZeroScanner(big.buffer, PAGE)]) {
      view[PAGE - 1] = 0;
      expect(scanner.isZeroPage(last)).toBe(true);
      view[PAGE - 1] = 1;
      expect(scanner.isZeroPage(last)).toBe(false);
    }
  });
});
