import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as layout from '../dist/layout.js';
import { wasmBytes } from '../dist/loader.js';
import { MigrationStats } from '../dist/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const release = readFileSync(new URL('../build/release.wasm', import.meta.url));

/** Section ids of a Wasm binary, in order (1 type, 2 import, 3 function, 8 start, 11 data, …). */
function sectionIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  let i = 8;
  const leb = () => {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[i++]!;
      result |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return result >>> 0;
  };
  while (i < bytes.length) {
    const id = bytes[i++]!;
    const size = leb();
    ids.push(id);
    i += size;
  }
  return ids;
}

describe('the release Wasm module', () => {
  it('has no start section and no data section', () => {
    const ids = sectionIds(release);
    expect(ids).not.toContain(8);
    expect(ids).not.toContain(11);
    expect(ids).toContain(10); // code, so the parser above did walk the sections
  });

  it('imports nothing but the shared memory', () => {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(release));
    expect(imports).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
  });

  it('is the module embedded in the library', () => {
    expect(Buffer.from(wasmBytes()).equals(release)).toBe(true);
  });

  it('exports the same layout constants as the TypeScript side', async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const { exports } = await WebAssembly.instantiate(new WebAssembly.Module(release), { env: { memory } });
    const value = (name: string) => (exports[name] as WebAssembly.Global).value as number;
    for (const name of ['MAGIC', 'LAYOUT_VERSION', 'LAYOUT_BYTES', 'BASE_OFFSET', 'BASE_STRIDE', 'LANES_OFFSET', 'LANE_STRIDE', 'LANE_COUNT'] as const) {
      expect(value(name), name).toBe(layout[name]);
    }
    expect(value('COUNTER_COUNT')).toBe(layout.COUNTERS.length);
  });

  it('leaves every byte of a memory with non-zero counters as it was when instantiated again', async () => {
    const stats = await MigrationStats.create();
    stats.counters.forEach((c, i) => c.set(BigInt(i + 1) * 0x0101_0101_0101n));
    const before = new Uint8Array(stats.handle.memory.buffer).slice();
    for (let k = 0; k < 3; k++) {
      await WebAssembly.instantiate(stats.handle.module, { env: { memory: stats.handle.memory } });
      await WebAssembly.instantiate(new WebAssembly.Module(release), { env: { memory: stats.handle.memory } });
    }
    expect(new Uint8Array(stats.handle.memory.buffer)).toEqual(before);
  });

  it('is shipped as the package subpath migration-stats/wasm', () => {
    const resolved = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "console.log(import.meta.resolve('migration-stats/wasm'))"],
      { cwd: root, encoding: 'utf8' },
    ).trim();
    expect(fileURLToPath(resolved)).toBe(fileURLToPath(new URL('../build/release.wasm', import.meta.url)));
  });
});
