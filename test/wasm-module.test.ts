import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { wasmBytes } from '../dist/backend/wasm-core.js';
import { MigrationStats } from '../dist/index.js';
import { readWasm } from './wasm-binary.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const release = readFileSync(new URL('../build/release.wasm', import.meta.url));

describe('the release Wasm module', () => {
  it('has no start section and no data section', () => {
    const ids = readWasm(release).sectionIds;
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
