// The memory's header is not trusted: attach checks every field it relies on against the layout its
// definition gives, and the backends never index past the layout, whatever the memory holds later.
// And the addresses and backend of each value are out of user code's reach.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  HDR_CELLS_END,
  HDR_DEFINITION_BYTES,
  HDR_DEFINITION_HASH,
  HDR_DEFINITION_OFFSET,
  HDR_LANE_BITMAP,
  HDR_LANE_COUNT,
  HDR_LANE_STRIDE,
  HDR_LANES_EVER,
  HDR_LANES_OFFSET,
  HDR_MAGIC,
  MAGIC,
} from '../dist/backend/abi.js';
import { attachStats, defineStats, MigrationStats, type BackendName } from '../dist/index.js';
import { BACKENDS, cellOf, layoutOf, values, word } from './helpers.js';

/** A copy of a fresh MigrationStats memory, with `change` applied to the copy's bytes. */
async function damaged(change: (u32: Uint32Array, u8: Uint8Array) => void) {
  const stats = await MigrationStats.create({ backend: 'js', lane: false });
  stats.zeroPages.add(5);
  const source = new Uint8Array(stats.handle.memory.buffer);
  const memory = new WebAssembly.Memory({ initial: source.length / 65536, maximum: source.length / 65536, shared: true });
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(source);
  change(new Uint32Array(memory.buffer), bytes);
  return { ...stats.handle, memory };
}

const u32 = (offset: number) => offset >> 2;

/** The header's hash, written out here: FNV-1a's step over little-endian 32-bit words of the bytes
 * padded with zeros, starting from the length. */
function headerHash(bytes: Uint8Array): number {
  let hash = Math.imul(0x811c9dc5 ^ bytes.length, 0x01000193) >>> 0;
  for (let i = 0; i < bytes.length; i += 4) {
    const word = (bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24);
    hash = Math.imul(hash ^ word, 0x01000193) >>> 0;
  }
  return hash;
}

describe.each(BACKENDS)('attach with the %s backend refuses a damaged header', (backend: BackendName) => {
  const cases: [string, (u32v: Uint32Array, u8: Uint8Array) => void, string][] = [
    ['a lane count of 0', (h) => void (h[u32(HDR_LANE_COUNT)] = 0), 'its lane count is 0, not from 1 to 64'],
    ['a lane count of 600', (h) => void (h[u32(HDR_LANE_COUNT)] = 600), 'its lane count is 600, not from 1 to 64'],
    ['600 lanes ever claimed', (h) => void (h[u32(HDR_LANES_EVER)] = 600), '600 lanes were claimed in it, more than its'],
    ['71 lanes ever claimed and a byte in lane 70', (h, b) => {
      h[u32(HDR_LANES_EVER)] = 71;
      const layout = { offset: h[u32(HDR_LANES_OFFSET)]!, stride: h[u32(HDR_LANE_STRIDE)]! };
      if (layout.offset + 70 * layout.stride < b.length) b[layout.offset + 70 * layout.stride] = 1;
    }, '71 lanes were claimed in it, more than its'],
    ['a lane stride that is not the layout\'s', (h) => void (h[u32(HDR_LANE_STRIDE)] = 64), 'its lane stride is 64, but its definition'],
    ['lanes at another offset', (h) => void (h[u32(HDR_LANES_OFFSET)]! += 128), 'its lanes offset is'],
    ['cells that end elsewhere', (h) => void (h[u32(HDR_CELLS_END)]! -= 8), 'its end of the cells is'],
    ['a definition outside the memory', (h) => void (h[u32(HDR_DEFINITION_OFFSET)] = 0xfffff000), 'is not inside the'],
    ['a definition of 0 bytes', (h) => void (h[u32(HDR_DEFINITION_BYTES)] = 0), 'is not inside the'],
    ['a definition that does not match its hash', (h, b) => void (b[h[u32(HDR_DEFINITION_OFFSET)]! + 10]! ^= 1), 'does not match the hash beside it'],
    ['a hash that does not match its definition', (h) => void (h[u32(HDR_DEFINITION_HASH)]! ^= 1), 'does not match the hash beside it'],
    ['a definition that is not UTF-8, with its hash', (h, b) => {
      const at = h[u32(HDR_DEFINITION_OFFSET)]!;
      b[at + 10] = 0xff;
      h[u32(HDR_DEFINITION_HASH)] = headerHash(b.slice(at, at + h[u32(HDR_DEFINITION_BYTES)]!));
    }, 'its definition is not UTF-8'],
    // The hash is checked first, whether or not this thread knows the definition the bytes were.
    ['a definition that is not UTF-8 and does not match its hash', (h, b) => void (b[h[u32(HDR_DEFINITION_OFFSET)]! + 10] = 0xff), 'does not match the hash beside it'],
    ['a definition this thread knows, with another hash beside it', (h) => void (h[u32(HDR_DEFINITION_HASH)]! += 1), 'its definition does not match the hash beside it'],
    ['a definition that is not valid', (h, b) => {
      const at = h[u32(HDR_DEFINITION_OFFSET)]!;
      const json = new TextDecoder().decode(b.slice(at, at + h[u32(HDR_DEFINITION_BYTES)]!)).replace('"kind":"counter"', '"kind":"counted"');
      const bytes = new TextEncoder().encode(json);
      b.set(bytes, at);
      h[u32(HDR_DEFINITION_BYTES)] = bytes.length;
      h[u32(HDR_DEFINITION_HASH)] = headerHash(bytes);
    }, "its definition is not valid"],
    ['a bitmap marking lanes past the lane count', (h) => {
      const lanes = h[u32(HDR_LANE_COUNT)]!;
      const bitmap = new BigUint64Array(h.buffer, HDR_LANE_BITMAP, 1);
      bitmap[0] = 1n << BigInt(lanes);
      h[u32(HDR_LANES_EVER)] = lanes;
    }, 'marks lanes past its'],
    ['a bitmap marking lanes never claimed', (h) => {
      new BigUint64Array(h.buffer, HDR_LANE_BITMAP, 1)[0] = 0b100n;
      h[u32(HDR_LANES_EVER)] = 1;
    }, 'marks lanes past the 1 ever claimed'],
  ];

  it.each(cases)('%s, with a TypeError naming it', async (_, change, message) => {
    const handle = await damaged(change);
    await expect(MigrationStats.attach(handle, { backend })).rejects.toThrow(TypeError);
    await expect(MigrationStats.attach(handle, { backend })).rejects.toThrow('MigrationStats.attach: handle.memory has a damaged header: ');
    await expect(MigrationStats.attach(handle, { backend })).rejects.toThrow(message);
  });

  it('accepts the undamaged copy (so each refusal above is the damage alone)', async () => {
    const stats = await MigrationStats.attach(await damaged(() => {}), { backend });
    expect(stats.zeroPages.get()).toBe(5n);
  });

  it('refuses a memory cut short of its layout', async () => {
    // 64 lanes of 4 KiB: the layout takes several pages; a copy of the first page alone is refused.
    const Big = defineStats({ spread: { kind: 'counter', unit: 'bytes', help: 'Spread.', length: 512 } }, { lanes: 64 });
    const big = await Big.create({ backend });
    expect(layoutOf(big).pages).toBeGreaterThan(1);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    new Uint8Array(memory.buffer).set(new Uint8Array(big.handle.memory.buffer, 0, 65536));
    await expect(Big.attach({ ...big.handle, memory }, { backend })).rejects.toThrow(
      /^attach: handle\.memory has a damaged header: its definition \(\d+ bytes at \d+\) is not inside the 65536-byte memory$/,
    );
  });
});

describe.each(BACKENDS)('the %s backend never reads past the layout', (backend: BackendName) => {
  it('sums only the lanes the header may have, whatever lanes-ever says after attach', async () => {
    const stats = await MigrationStats.create({ backend });
    stats.zeroPages.add(5);
    const other = await MigrationStats.attach(stats.handle, { backend });
    other.zeroPages.add(2);
    // Another thread scribbles over the header after both attached.
    new Uint32Array(stats.handle.memory.buffer)[u32(HDR_LANES_EVER)] = 600;
    expect(stats.zeroPages.get()).toBe(7n);
    expect(stats.zeroPages.getNumber()).toBe(7);
    expect(stats.migrationTransferredBytes()).toBe(0n);
    stats.zeroPages.set(3);
    expect(other.zeroPages.get()).toBe(3n);
  });

  it('keeps a histogram\'s reads inside the memory too', async () => {
    const Stats = defineStats({ latency: { kind: 'histogram', unit: 'microseconds', help: 'Latency.', buckets: 8 } }, { lanes: 4 });
    const stats = await Stats.create({ backend });
    stats.latency.record(3);
    new Uint32Array(stats.handle.memory.buffer)[u32(HDR_LANES_EVER)] = 0xffffffff;
    expect(stats.latency.count()).toBe(1n);
    expect(stats.latency.buckets()[1]).toBe(1n);
  });
});

describe.each(BACKENDS)('internals on the %s backend', (backend: BackendName) => {
  it('cannot be reached to aim an operation anywhere but its own cell', async () => {
    const stats = await MigrationStats.create({ backend });
    const counter = stats.zeroPages as unknown as Record<string, unknown>;
    const before = values(stats);
    const header = new Uint8Array(stats.handle.memory.buffer, 0, 64).slice();
    // What were writable fields of 0.1: none exists, and assigning them changes nothing.
    for (const name of ['addAddr', 'baseAddr', 'index', 'core', 'useLane', 'laned']) {
      expect(name in counter, name).toBe(false);
      expect(() => {
        counter[name] = 0;
      }, name).toThrow(TypeError); // the values are frozen
    }
    for (const name of ['core', 'counters']) {
      expect(() => {
        (stats as unknown as Record<string, unknown>)[name] = 0;
      }).toThrow(TypeError);
    }
    stats.zeroPages.add(1);
    expect(new Uint8Array(stats.handle.memory.buffer, 0, 64)).toEqual(header);
    expect(stats.zeroPages.get()).toBe(before[14]! + 1n);
    expect(word(stats, cellOf(stats, 'zeroPages', stats.lane).lane)).toBe(1n);
    expect(Object.keys(stats.zeroPages)).toEqual(['name', 'cName', 'unit', 'kind']);
  });

  it('cannot be replaced on a stats object: its metrics are read-only properties', async () => {
    const stats = await MigrationStats.create({ backend });
    const original = stats.zeroPages;
    expect(() => {
      (stats as unknown as Record<string, unknown>).zeroPages = { add() {} };
    }).toThrow(TypeError);
    expect(stats.zeroPages).toBe(original);
  });
});

describe('the published types', () => {
  it('hold only the documented API of a value: no addresses, no backend, no constructor', () => {
    const stat64 = readFileSync(new URL('../dist/stat64.d.ts', import.meta.url), 'utf8');
    const shared = ['define-stats', 'defined-stats', 'stats-parts'].map((file) => readFileSync(new URL(`../dist/${file}.d.ts`, import.meta.url), 'utf8')).join('\n');
    const stats = readFileSync(new URL('../dist/stats.d.ts', import.meta.url), 'utf8');
    for (const text of [stat64, shared, stats]) {
      for (const word of ['addAddr', 'baseAddr', 'useLane', 'Core', 'stat64Internals', 'STATS_TOKEN', 'StatsParts', 'createParts', 'attachParts']) {
        expect(text, word).not.toMatch(new RegExp(`\\b${word}\\b`));
      }
    }
    expect(stat64).toContain('private constructor();');
    expect(stats).toContain('private constructor();');
  });
});

describe('a definition this thread already has', () => {
  it('is the one attach returns, and a changed JSON is still decoded and checked', async () => {
    const Known = defineStats({ copied: { kind: 'counter', unit: 'bytes', help: 'Bytes copied' } });
    const stats = await Known.create();
    expect((await Known.attach(stats.handle)).definition).toBe(Known.definition);
    expect((await attachStats(stats.handle)).definition).toBe(Known.definition);
    const migration = await MigrationStats.create();
    expect((await MigrationStats.attach(migration.handle)).definition).toBe(migration.definition);
    // The same definition with another help text in the memory: not the known one.
    const handle = await damaged((h, b) => {
      const at = h[u32(HDR_DEFINITION_OFFSET)]!;
      const length = h[u32(HDR_DEFINITION_BYTES)]!;
      const json = new TextDecoder().decode(b.slice(at, at + length));
      const changed = new TextEncoder().encode(json.replace('QEMU normal_pages.', 'QEMU normal-pages.'));
      expect(changed.length).toBe(length);
      b.set(changed, at);
      h[u32(HDR_DEFINITION_HASH)] = headerHash(changed);
    });
    await expect(MigrationStats.attach(handle)).rejects.toThrow(/other stats than QEMU's migration counters: schema\.normalPages\.help/);
  });
});
