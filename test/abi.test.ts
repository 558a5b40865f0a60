// The Wasm core's ABI is written once, in assembly/stats-core.ts. These tests read the release
// module's own bytes and check that everything derived from it agrees: the generated TypeScript
// constants and export types (src/backend/abi.ts), the C header bench/native.c is built with, and
// the zero-page scan's generated export types.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as abi from '../dist/backend/abi.js';
import { REQUIRED_EXPORTS } from '../dist/backend/wasm-core.js';
import { readWasm } from './wasm-binary.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url));
const TS_TYPES: Record<string, string> = { i32: 'number', f64: 'number', i64: 'bigint' };

/** The interface members of a generated ABI file: name → parameter types and result type. */
function interfaceMembers(source: string, name: string): Map<string, { params: string[]; result: string }> {
  const body = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`).exec(source)?.[1] ?? '';
  const members = new Map<string, { params: string[]; result: string }>();
  for (const [, member, params, result] of body.matchAll(/^ {2}(\w+)\((.*)\): (\w+);$/gm)) {
    members.set(member!, { params: params === '' ? [] : params!.split(', ').map((p) => p.split(': ')[1]!), result: result! });
  }
  return members;
}

const modules = [
  { wasm: 'build/release.wasm', source: 'src/backend/abi.ts', typeName: 'StatsCoreExports', memory: { initial: 1, maximum: 1 } },
  { wasm: 'build/scan.wasm', source: 'src/simulate/scan-abi.ts', typeName: 'ZeroScanExports', memory: { initial: 0, maximum: 65536 } },
] as const;

describe.each(modules)('the generated ABI of $wasm', ({ wasm, source, typeName, memory }) => {
  const parts = readWasm(read(wasm));
  const members = interfaceMembers(read(source).toString(), typeName);

  it(`types every exported function in ${typeName}, parameter by parameter`, () => {
    expect(members.size).toBeGreaterThan(0);
    expect([...members.keys()].sort()).toEqual([...parts.functions.keys()].sort());
    for (const [name, { params, results }] of parts.functions) {
      expect(members.get(name)?.params, name).toEqual(params.map((t) => TS_TYPES[t]));
      expect(members.get(name)?.result, name).toBe(results.length === 0 ? 'void' : TS_TYPES[results[0]!]);
    }
  });

  it('has exactly the constants of the module, with their values', async () => {
    const { instance } = await WebAssembly.instantiate(read(wasm), { env: { memory: new WebAssembly.Memory({ ...memory, shared: true }) } });
    const declared = [...read(source).toString().matchAll(/^export const ([A-Z0-9_]+) = /gm)].map((m) => m[1]!);
    expect(declared.sort()).toEqual([...parts.globals.keys()].sort());
    if (source === 'src/backend/abi.ts') {
      for (const name of declared) {
        expect((abi as Record<string, unknown>)[name], name).toBe((instance.exports[name] as WebAssembly.Global).value);
      }
    }
  });

  it('exports no mutable global (an instance has no state of its own to lose or share)', () => {
    expect([...parts.globals.values()].filter((g) => g.mutable)).toEqual([]);
  });
});

describe('what derives from the core ABI', () => {
  it('requires every export the loader calls, and the layout version', () => {
    const functions = [...readWasm(read('build/release.wasm')).functions.keys()].sort();
    expect(REQUIRED_EXPORTS.filter((e) => e.kind === 'function').map((e) => e.name).sort()).toEqual(functions);
    expect(REQUIRED_EXPORTS.filter((e) => e.kind === 'global').map((e) => e.name)).toEqual(['LAYOUT_VERSION']);
  });

  it('gives bench/native.c the same constants, through the generated header', () => {
    const header = read('build/stats-core.h').toString();
    for (const [name, value] of Object.entries(abi)) {
      if (typeof value === 'number') expect(header, name).toContain(`#define CORE_${name} ${value >= 0x10000 ? `0x${value.toString(16)}` : value}u\n`);
    }
  });

  it('is what scripts/gen-abi.mjs writes from the modules built now (no hand edits)', () => {
    const check = spawnSync(process.execPath, ['scripts/gen-abi.mjs', '--check'], { cwd: new URL('..', import.meta.url), encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});
