/**
 * The handle one thread passes to another (`stats.handle`), and the checks `attach` makes of it.
 *
 * A handle is a plain object holding the shared memory and the compiled module, so it survives
 * `postMessage` and `structuredClone`; the memory carries everything else (its header and its
 * definition, which `backend/header.ts` checks). The memory and module are recognised by the
 * engine's own checks (the `buffer` getter, `Module.exports`), not `instanceof`, which is false for
 * those made in another realm (an iframe, a `vm` context) although they work the same.
 * @packageDocumentation
 */
import { LAYOUT_VERSION } from './backend/abi.js';
import { REQUIRED_EXPORTS } from './backend/wasm-core.js';
import { describe, errorReason, handleError } from './errors.js';

/**
 * What one thread passes to another so that both see the same stats. A plain object: it survives
 * `postMessage` and `structuredClone`, and the receiving thread does not recompile.
 */
export interface StatsHandle {
  /** Always `'migration-stats'`. */
  readonly kind: 'migration-stats';
  /** Version of the memory layout. */
  readonly layoutVersion: number;
  /** The shared memory that holds the stats, their header and their definition. */
  readonly memory: WebAssembly.Memory;
  /** The compiled Wasm core. */
  readonly module: WebAssembly.Module;
}

/** The handle of `MigrationStats` (the same as any stats object's). */
export type MigrationStatsHandle = StatsHandle;

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/** A frozen handle for a memory and module. */
export const makeHandle = (function (memory: WebAssembly.Memory, module: WebAssembly.Module): StatsHandle {
  return Object.freeze({ kind: 'migration-stats', layoutVersion: LAYOUT_VERSION, memory, module });
});

const isSharedBuffer = (function (buffer: unknown): boolean {
  // `SharedArrayBuffer` is not a global on pages that are not cross-origin isolated, yet a shared
  // memory's buffer still is one: ask its tag, not the constructor.
  return Object.prototype.toString.call(buffer) === '[object SharedArrayBuffer]';
});

/** The `buffer` getter of `WebAssembly.Memory`: it throws for anything that is not a memory. */
const memoryBuffer = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, 'buffer')!.get!;

/** Reads `memory` and `module` from a handle, turning an error of a getter or Proxy into ours. */
const readFields = (function (handle: object): { memory: unknown; module: unknown } {
  try {
    const { memory, module } = handle as { memory?: unknown; module?: unknown };
    return { memory, module };
  } catch (error) {
    throw handleError(` could not be read (${errorReason(error)}); pass the plain object from stats.handle`);
  }
});

const checkModule = (function (module: unknown): WebAssembly.Module {
  let exportList: WebAssembly.ModuleExportDescriptor[];
  try {
    exportList = WebAssembly.Module.exports(module as WebAssembly.Module);
  } catch {
    throw handleError(`.module must be the compiled WebAssembly.Module from stats.handle; received ${describe(module)}`);
  }
  // Loops rather than callbacks: each callback would be one more function to compile in a new worker.
  const kinds = new Map<string, string>();
  for (const e of exportList) kinds.set(e.name, e.kind);
  const missing: string[] = [];
  for (const { name, kind } of REQUIRED_EXPORTS) if (kinds.get(name) !== kind) missing.push(name);
  let foreign = false;
  for (const i of WebAssembly.Module.imports(module as WebAssembly.Module)) if (!(i.module === 'env' && i.name === 'memory')) foreign = true;
  if (missing.length > 0 || foreign) {
    throw handleError(
      `.module is not this library's Wasm core (${missing.length ? `it lacks the exports ${missing.join(', ')}` : 'it imports more than env.memory'})`,
    );
  }
  return module as WebAssembly.Module;
});

/**
 * Checks that `memory` is a shared `WebAssembly.Memory` (its header is checked by `readHeader`).
 * @throws TypeError of `attach` saying what is wrong
 */
export const checkMemory = (function (memory: unknown): WebAssembly.Memory {
  let buffer: ArrayBuffer;
  try {
    buffer = memoryBuffer.call(memory) as ArrayBuffer;
  } catch {
    throw handleError(`.memory must be the shared WebAssembly.Memory from stats.handle; received ${describe(memory)}`);
  }
  if (!isSharedBuffer(buffer)) {
    throw handleError('.memory is not shared (made without shared: true); only a shared memory can be seen by other threads');
  }
  return memory as WebAssembly.Memory;
});

/** Marks stats objects of every copy of the library, whose classes differ (a browser bundle carries its own): `SharedStats.isStats`. @internal */
export const STATS_BRAND = Symbol.for('migration-stats.SharedStats');

/**
 * Says what `value` is when it is a stats object passed where its handle belongs, or a copy of one
 * (`postMessage(stats)` and `structuredClone(stats)` copy its own properties, `backend` and
 * `definition` among them, and lose the handle's getter). Never throws.
 * @returns the description, or `undefined` when it is neither
 */
function statsInsteadOfHandle(value: object): string | undefined {
  try {
    if ((value as { [STATS_BRAND]?: unknown })[STATS_BRAND] !== undefined) return 'a stats object';
    const { backend, definition } = value as { backend?: unknown; definition?: unknown };
    if ((backend === 'wasm' || backend === 'js') && definition !== null && typeof definition === 'object') {
      return 'a copy of a stats object (from postMessage or structuredClone), which holds no memory';
    }
  } catch {
    // Not something to tell apart: the usual message follows.
  }
  return undefined;
}

/**
 * Checks what `attach` received and returns its memory and module (the memory's header is checked
 * next, by `readHeader`).
 * @throws TypeError saying what is wrong when `handle` is not a handle of this library
 */
export const checkHandle = (function (handle: unknown): { memory: WebAssembly.Memory; module: WebAssembly.Module } {
  if (handle === null || typeof handle !== 'object') {
    throw handleError(` must be the object from stats.handle ({ memory, module, … }); received ${describe(handle)}`);
  }
  const fields = readFields(handle);
  const stats = fields.memory === undefined ? statsInsteadOfHandle(handle) : undefined;
  if (stats) throw handleError(` must be stats.handle, not the stats object; received ${stats}: post stats.handle to the other thread and attach what arrives`);
  const memory = checkMemory(fields.memory);
  const module = checkModule(fields.module);
  return { memory, module };
});
