import { readdirSync, readFileSync } from 'node:fs';
import { createContext, runInContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { attachStats, defineStats, MigrationStats, type MigrationStatsHandle } from '../dist/index.js';
import { LAYOUT_VERSION } from '../dist/backend/abi.js';
import { compileByRefusal } from '../dist/compile-now.js';
import { BACKENDS, fresh, U64_MAX, values } from './helpers.js';
import { startFixture } from './workers.js';

const sharedMemory = () => new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });

describe.each(BACKENDS)('handles on the %s backend', (backend) => {
  it('is a plain object holding the shared memory and the compiled module', async () => {
    const stats = await fresh(backend);
    const { handle } = stats;
    expect(Object.getPrototypeOf(handle)).toBe(Object.prototype);
    expect(handle.memory).toBeInstanceOf(WebAssembly.Memory);
    expect(handle.module).toBeInstanceOf(WebAssembly.Module);
    expect(Object.prototype.toString.call(handle.memory.buffer)).toBe('[object SharedArrayBuffer]');
    expect(handle.kind).toBe('migration-stats');
    expect(handle.layoutVersion).toBe(LAYOUT_VERSION);
  });

  it.each(BACKENDS)('survives structuredClone and attaches with the %s backend to the same counters', async (other) => {
    const stats = await fresh(backend);
    const twin = await MigrationStats.attach(structuredClone(stats.handle), { backend: other });
    stats.zeroPages.add(5);
    twin.zeroPages.add(7n);
    twin.dirtyPagesRate.set(U64_MAX);
    expect(stats.zeroPages.get()).toBe(12n);
    expect(twin.zeroPages.get()).toBe(12n);
    expect(stats.dirtyPagesRate.get()).toBe(U64_MAX);
    expect(twin.backend).toBe(other);
  });

  it('does not reset counters when another instance attaches', async () => {
    const stats = await fresh(backend);
    stats.counters.forEach((c, i) => c.set(BigInt(i + 1) * 1000003n));
    const before = values(stats);
    for (const b of BACKENDS) {
      const again = await MigrationStats.attach(stats.handle, { backend: b });
      expect(values(again)).toEqual(before);
    }
    expect(values(stats)).toEqual(before);
  });

  it('attaches to a memory and module made in another realm (an iframe, a vm context), whose instanceof fails', async () => {
    const stats = await fresh(backend);
    stats.zeroPages.add(3);
    stats.dirtyPagesRate.set(U64_MAX);
    const realm = createContext({});
    const memory = runInContext('new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })', realm) as WebAssembly.Memory;
    const compile = runInContext('(bytes) => new WebAssembly.Module(bytes)', realm) as (b: Uint8Array) => WebAssembly.Module;
    const module = compile(new Uint8Array(readFileSync(new URL('../build/release.wasm', import.meta.url))));
    expect(memory instanceof WebAssembly.Memory || module instanceof WebAssembly.Module).toBe(false);
    // The other realm's memory, holding these counters.
    new Uint8Array(memory.buffer).set(new Uint8Array(stats.handle.memory.buffer));
    const twins = [];
    for (const other of BACKENDS) twins.push(await MigrationStats.attach({ ...stats.handle, memory, module }, { backend: other }));
    twins[0]!.zeroPages.add(4n);
    twins[1]!.zeroPages.add(5);
    for (const twin of twins) {
      expect(twin.zeroPages.get()).toBe(12n);
      expect(twin.dirtyPagesRate.get()).toBe(U64_MAX);
    }
    // A copy, not the same memory: the original did not move.
    expect(stats.zeroPages.get()).toBe(3n);
  });

  it('survives postMessage to a worker, which attaches and counts without recompiling', async () => {
    const stats = await fresh(backend);
    stats.zeroPages.add(1);
    const { worker, result } = startFixture<{ before: string; moduleIsModule: boolean }>('echo-worker.mjs');
    try {
      worker.postMessage({ handle: stats.handle, backend });
      const reply = await result;
      expect(reply).toEqual({ before: '1', moduleIsModule: true });
      expect(stats.zeroPages.get()).toBe(2n);
    } finally {
      await worker.terminate();
    }
  });
});

describe('attach refuses what is not a live handle', () => {
  const cases: [string, () => Promise<unknown>, string][] = [
    ['null', async () => null, 'MigrationStats.attach: handle must be the object from stats.handle ({ memory, module, … }); received null'],
    ['a number', async () => 42, 'received 42'],
    ['an empty object', async () => ({}), 'handle.memory must be the shared WebAssembly.Memory from stats.handle; received undefined'],
    [
      'a handle with a SharedArrayBuffer instead of a memory',
      async () => ({ ...(await fresh('js')).handle, memory: new SharedArrayBuffer(65536) }),
      'handle.memory must be the shared WebAssembly.Memory from stats.handle; received an object (SharedArrayBuffer)',
    ],
    [
      'a non-shared memory',
      async () => ({ ...(await fresh('js')).handle, memory: new WebAssembly.Memory({ initial: 1, maximum: 1 }) }),
      'handle.memory is not shared (made without shared: true)',
    ],
    [
      'a blank shared memory',
      async () => ({ ...(await fresh('js')).handle, memory: sharedMemory() }),
      'handle.memory is blank: it has no migration-stats header, so it was not made by MigrationStats.create()',
    ],
    [
      'a foreign shared memory',
      async () => {
        const memory = sharedMemory();
        new Uint32Array(memory.buffer)[0] = 0xdeadbeef;
        return { ...(await fresh('js')).handle, memory };
      },
      'handle.memory holds something else: its first word is 0xdeadbeef, not the migration-stats magic 0x5347494d',
    ],
    [
      'a memory of another layout version',
      async () => {
        const stats = await fresh('js');
        const memory = sharedMemory();
        new Uint8Array(memory.buffer).set(new Uint8Array(stats.handle.memory.buffer));
        new Uint32Array(memory.buffer)[1] = LAYOUT_VERSION + 1;
        return { ...stats.handle, memory };
      },
      `handle.memory has layout version ${LAYOUT_VERSION + 1}; this version of migration-stats reads layout version ${LAYOUT_VERSION}`,
    ],
    [
      'a memory too small for the layout',
      async () => {
        const memory = new WebAssembly.Memory({ initial: 0, maximum: 1, shared: true });
        return { ...(await fresh('js')).handle, memory };
      },
      'handle.memory is 0 bytes, smaller than the 64-byte header',
    ],
    [
      'a handle without its module',
      async () => ({ memory: (await fresh('js')).handle.memory }),
      'handle.module must be the compiled WebAssembly.Module from stats.handle; received undefined',
    ],
    [
      'a handle with a foreign module',
      async () => ({
        ...(await fresh('js')).handle,
        // The smallest valid module: no imports, no exports.
        module: new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])),
      }),
      "handle.module is not this library's Wasm core (it lacks the exports",
    ],
  ];

  it.each(BACKENDS)('with the %s backend, including a handle that cannot be read (a revoked Proxy, throwing traps)', async (backend) => {
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const throwing = new Proxy({}, { get() { throw new Error('trap'); } });
    for (const [handle, message] of [
      [revoked, "MigrationStats.attach: handle could not be read (Cannot perform 'get' on a proxy that has been revoked)"],
      [throwing, 'MigrationStats.attach: handle could not be read (trap); pass the plain object from stats.handle'],
    ] as const) {
      await expect(MigrationStats.attach(handle as never, { backend })).rejects.toThrow(TypeError);
      await expect(MigrationStats.attach(handle as never, { backend })).rejects.toThrow(message);
    }
  });

  it.each(BACKENDS)('with the %s backend, saying to post stats.handle when given the stats, or a copy of them', async (backend) => {
    const stats = await fresh(backend);
    const copy = structuredClone(stats);
    const defined = await defineStats({ x: { kind: 'counter', unit: 'files', help: 'Files' } }).create({ backend });
    const tail = 'post stats.handle to the other thread and attach what arrives';
    const cases: [unknown, (handle: never) => Promise<unknown>, string][] = [
      [stats, (h) => MigrationStats.attach(h, { backend }), `MigrationStats.attach: handle must be stats.handle, not the stats object; received a stats object: ${tail}`],
      [copy, (h) => MigrationStats.attach(h, { backend }), `MigrationStats.attach: handle must be stats.handle, not the stats object; received a copy of a stats object (from postMessage or structuredClone), which holds no memory: ${tail}`],
      [defined, (h) => attachStats(h, { backend }), `attachStats: handle must be stats.handle, not the stats object; received a stats object: ${tail}`],
      [structuredClone(defined), (h) => attachStats(h, { backend }), `attachStats: handle must be stats.handle, not the stats object; received a copy of a stats object (from postMessage or structuredClone), which holds no memory: ${tail}`],
    ];
    for (const [handle, attach, message] of cases) {
      await expect(attach(handle as never)).rejects.toThrow(new TypeError(message));
    }
  });

  it.each(BACKENDS)('with the %s backend, with a TypeError that says what is wrong', async (backend) => {
    for (const [label, make, message] of cases) {
      const handle = (await make()) as MigrationStatsHandle;
      await expect(MigrationStats.attach(handle, { backend }), label).rejects.toThrow(TypeError);
      await expect(MigrationStats.attach(handle, { backend }), label).rejects.toThrow(message);
    }
  });
});

describe('the attach path in the Node build (dist/node/)', () => {
  it('keeps its functions parenthesized, so that V8 compiles them when the module loads', () => {
    const code = readdirSync('dist/node')
      .filter((file) => file.endsWith('.js'))
      .map((file) => readFileSync(`dist/node/${file}`, 'utf8'))
      .join('\n');
    const names = ['checkStatsOptions', 'checkHandle', 'checkMemory', 'checkModule', 'readHeader', 'definitionHash', 'knownHash', 'decodeDefinition', 'knownDefinition', 'planLayout', 'attachParts', 'makeCore', 'wasmCore', 'claimLane', 'kindOf', 'attachStats'];
    const plain = names.filter((name) => !new RegExp(`(?:var|const) ${name} = \\((?:async )?function ?\\(`).test(code));
    expect(plain).toEqual([]);
  });

  it('compiles the constructors an attach runs when the module loads, by a construction they refuse', () => {
    const code = readdirSync('dist/node')
      .filter((file) => file.endsWith('.js'))
      .map((file) => readFileSync(`dist/node/${file}`, 'utf8'))
      .join('\n');
    const classes = ['Stat64', 'Limiter', 'RateLimitedStats', 'MigrationStats'];
    expect(classes.filter((name) => !code.includes(`compileByRefusal(() => new ${name}())`))).toEqual([]);
  });
});

describe('compileByRefusal', () => {
  it('returns when the construction throws, and throws when it does not, so that a load never makes a stray object', () => {
    class Refusing {
      constructor() {
        throw new TypeError('no token');
      }
    }
    expect(compileByRefusal(() => new Refusing())).toBeUndefined();
    expect(() => compileByRefusal(() => ({}))).toThrow(new Error('compileByRefusal: the construction was not refused'));
  });
});
