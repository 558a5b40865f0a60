/**
 * The handle one thread passes to another (`stats.handle`), and the checks `attach` makes of one.
 *
 * A handle is a plain object holding the shared memory and the compiled module, so it survives
 * `postMessage` and `structuredClone`. What arrives is checked before anything reads the memory:
 * the memory and module are recognised by the engine's own checks (the `buffer` getter,
 * `Module.exports`), not `instanceof`, which is false for those made in another realm (an iframe,
 * a `vm` context) although they work the same.
 * @packageDocumentation
 */
import { HDR_MAGIC, HDR_VERSION, LAYOUT_BYTES, LAYOUT_VERSION, MAGIC } from './backend/abi.js';
import { REQUIRED_EXPORTS } from './backend/wasm-core.js';
import { describe, errorReason, handleError } from './errors.js';

/**
 * What one thread passes to another so that both see the same counters. A plain object: it
 * survives `postMessage` and `structuredClone`, and the receiving thread does not recompile.
 */
export interface MigrationStatsHandle {
  /** Always `'migration-stats'`. */
  readonly kind: 'migration-stats';
  /** Version of the memory layout. */
  readonly layoutVersion: number;
  /** The shared memory that holds the counters. */
  readonly memory: WebAssembly.Memory;
  /** The compiled Wasm core. */
  readonly module: WebAssembly.Module;
}

/** A frozen handle for a memory and module. */
export function makeHandle(memory: WebAssembly.Memory, module: WebAssembly.Module): MigrationStatsHandle {
  return Object.freeze({ kind: 'migration-stats', layoutVersion: LAYOUT_VERSION, memory, module });
}

function isSharedBuffer(buffer: unknown): boolean {
  // `SharedArrayBuffer` is not a global on pages that are not cross-origin isolated, yet a shared
  // memory's buffer still is one: ask its tag, not the constructor.
  return Object.prototype.toString.call(buffer) === '[object SharedArrayBuffer]';
}

/** The `buffer` getter of `WebAssembly.Memory`: it throws for anything that is not a memory. */
const memoryBuffer = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, 'buffer')!.get!;

/** Reads `memory` and `module` from a handle, turning an error of a getter or Proxy into ours. */
function readFields(handle: object): { memory: unknown; module: unknown } {
  try {
    const { memory, module } = handle as { memory?: unknown; module?: unknown };
    return { memory, module };
  } catch (error) {
    throw handleError(` could not be read (${errorReason(error)}); pass the plain object from stats.handle`);
  }
}

function checkModule(module: unknown): WebAssembly.Module {
  let exportList: WebAssembly.ModuleExportDescriptor[];
  try {
    exportList = WebAssembly.Module.exports(module as WebAssembly.Module);
  } catch {
    throw handleError(`.module must be the compiled WebAssembly.Module from stats.handle; received ${describe(module)}`);
  }
  const kinds = new Map(exportList.map((e) => [e.name, e.kind]));
  const imports = WebAssembly.Module.imports(module as WebAssembly.Module);
  const missing = REQUIRED_EXPORTS.filter(({ name, kind }) => kinds.get(name) !== kind).map(({ name }) => name);
  if (missing.length > 0 || imports.some((i) => !(i.module === 'env' && i.name === 'memory'))) {
    throw handleError(
      `.module is not this library's Wasm core (${missing.length ? `it lacks the exports ${missing.join(', ')}` : 'it imports more than env.memory'})`,
    );
  }
  return module as WebAssembly.Module;
}

/**
 * Checks that `memory` is a shared `WebAssembly.Memory` holding this library's layout (magic and
 * layout version), reading nothing but its header.
 * @throws TypeError of `attach` saying what is wrong
 */
export function checkMemory(memory: unknown): WebAssembly.Memory {
  let buffer: ArrayBuffer;
  try {
    buffer = memoryBuffer.call(memory) as ArrayBuffer;
  } catch {
    throw handleError(`.memory must be the shared WebAssembly.Memory from stats.handle; received ${describe(memory)}`);
  }
  if (!isSharedBuffer(buffer)) {
    throw handleError('.memory is not shared (made without shared: true); only a shared memory can be seen by other threads');
  }
  if (buffer.byteLength < LAYOUT_BYTES) {
    throw handleError(`.memory is ${buffer.byteLength} bytes, smaller than the ${LAYOUT_BYTES}-byte layout`);
  }
  const header = new Uint32Array(buffer, 0, 2);
  const magic = Atomics.load(header, HDR_MAGIC >> 2);
  if (magic === 0) {
    throw handleError('.memory is blank: it has no migration-stats header, so it was not made by MigrationStats.create()');
  }
  if (magic !== MAGIC) {
    throw handleError(
      `.memory holds something else: its first word is 0x${magic.toString(16)}, not the migration-stats magic 0x${MAGIC.toString(16)}`,
    );
  }
  const version = Atomics.load(header, HDR_VERSION >> 2);
  if (version !== LAYOUT_VERSION) {
    throw handleError(`.memory has layout version ${version}; this version of migration-stats reads layout version ${LAYOUT_VERSION}`);
  }
  return memory as WebAssembly.Memory;
}

/**
 * Checks what `attach` received and returns its memory and module.
 * @throws TypeError saying what is wrong when `handle` is not a live handle of this library
 */
export function checkHandle(handle: unknown): { memory: WebAssembly.Memory; module: WebAssembly.Module } {
  if (handle === null || typeof handle !== 'object') {
    throw handleError(` must be the object from stats.handle ({ memory, module, … }); received ${describe(handle)}`);
  }
  const fields = readFields(handle);
  const memory = checkMemory(fields.memory);
  const module = checkModule(fields.module);
  return { memory, module };
}
