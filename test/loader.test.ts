// The release Wasm core is a file users may load themselves (`migration-stats/wasm`). The library
// instantiates it with `new WebAssembly.Instance`; here AssemblyScript's own loader instantiates the
// same file on the memory of a MigrationStats, as a user of the loader would, and its exports
// count into the library's counters, both backends reading them.
import { instantiateSync } from '@assemblyscript/loader';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MigrationStats } from '../dist/index.js';
import type { StatsCoreExports } from '../dist/backend/abi.js';
import { BACKENDS, cellOf, U64_MAX } from './helpers.js';

const wasm = readFileSync(new URL('../build/release.wasm', import.meta.url));

describe.each(BACKENDS)('build/release.wasm through @assemblyscript/loader (%s backend reading)', (backend) => {
  it("adds, stores and reads the library's cells on the shared memory", async () => {
    const stats = await MigrationStats.create({ backend });
    const { exports } = instantiateSync<StatsCoreExports & Record<string, unknown>>(wasm, { env: { memory: stats.handle.memory } });
    const gauge = cellOf(stats, 'dirtyBytesLastSync');
    const counter = cellOf(stats, 'zeroPages');
    expect(gauge.lane).toBe(-1);

    exports.store(gauge.base, 4096n);
    exports.add(counter.base, 7n);
    stats.zeroPages.add(5);
    expect(stats.dirtyBytesLastSync.get()).toBe(4096n);
    expect(stats.zeroPages.get()).toBe(12n);

    // Wraps modulo 2^64, as the library's own adds do; a u64 arrives as a signed i64.
    exports.store(gauge.base, U64_MAX);
    exports.add(gauge.base, 2n);
    expect(stats.dirtyBytesLastSync.get()).toBe(1n);
    stats.dirtyBytesLastSync.set(U64_MAX);
    expect(BigInt.asUintN(64, exports.load(gauge.base))).toBe(U64_MAX);
    expect(exports.loadNum(gauge.base)).toBe(-1); // above 2^53 − 1
  });
});
