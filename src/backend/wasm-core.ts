/**
 * Compiles and instantiates the Wasm core: the one place that does.
 *
 * The release `.wasm` is embedded as base64 (`wasm-binary.js`, written into dist/ at build), so Node,
 * browsers and bundlers all get the bytes with no file loading and no configuration. Instances are
 * made with `new WebAssembly.Instance` from an already compiled module, synchronously: the
 * asynchronous `WebAssembly.instantiate` gains nothing for a module under 4 KB (the size browsers
 * allow a page's main thread to instantiate synchronously), and the core needs no glue: it imports
 * only its memory, and its exports are called as they are. Through `@assemblyscript/loader`'s
 * `instantiateSync`, whose glue (helpers for strings and arrays the core does not use) ran cold in
 * each new worker, an attach took about 0.8 ms more.
 * @packageDocumentation
 */
import { FUNCTION_NAMES, LAYOUT_VERSION, type StatsCoreExports } from './abi.js';
import type { Core } from './core.js';
import { statsCoreWasm } from './wasm-binary.js';

/** The instance's exports: the functions of the ABI, and its layout version as a global. */
interface WasmExports extends StatsCoreExports {
  readonly LAYOUT_VERSION: WebAssembly.Global;
}

/** What a module must export to be this core: every function of the ABI, and the layout version. */
export const REQUIRED_EXPORTS: readonly { readonly name: string; readonly kind: WebAssembly.ImportExportKind }[] = Object.freeze([
  ...FUNCTION_NAMES.map((name) => ({ name, kind: 'function' as const })),
  { name: 'LAYOUT_VERSION', kind: 'global' as const },
]);

/** Decodes the embedded release module. */
export const wasmBytes = statsCoreWasm;

let compiled: Promise<WebAssembly.Module> | undefined;

/** Compiles the embedded module once per thread. */
export function compileCore(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compile(wasmBytes());
  return compiled;
}

/** Thrown when a module exports the core's names but was built for another layout version. */
export class LayoutVersionError extends Error {
  constructor(readonly version: unknown) {
    super(`the module is built for layout version ${String(version)}`);
  }
}

/**
 * This thread's core for each module on each memory. Every stats object of a thread on the same
 * memory calls the same export functions, so each call site in `Stat64` sees one target and V8
 * inlines the JS-to-Wasm call; with a second instance in the thread the call sites turn megamorphic
 * and every `add` costs ~3× more (measured: 3.9 → 13 ns). The key is the `Memory` object: a handle
 * received twice by `postMessage` brings two objects for the same memory, which then get two
 * instances (correct, only slower).
 */
const cores = new WeakMap<WebAssembly.Module, WeakMap<WebAssembly.Memory, Core>>();

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/**
 * The Wasm core of this thread on `memory`. Instantiation writes nothing to the memory: the module
 * has no start function and no data segment.
 * @throws WebAssembly.LinkError when the memory does not fit the module; {@link LayoutVersionError}
 *   when the module is of another layout version
 */
export const wasmCore = (function (module: WebAssembly.Module, memory: WebAssembly.Memory): Core {
  let byMemory = cores.get(module);
  if (!byMemory) cores.set(module, (byMemory = new WeakMap()));
  let core = byMemory.get(memory);
  if (!core) {
    // Also for a module compiled in another realm (an iframe, a vm context), which the engine
    // instantiates the same although `instanceof` says no.
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const x = instance.exports as unknown as WasmExports;
    // A module of another layout exports the same names: its version global tells them apart.
    if (x.LAYOUT_VERSION.value !== LAYOUT_VERSION) throw new LayoutVersionError(x.LAYOUT_VERSION.value);
    core = adapt(x);
    byMemory.set(memory, core);
  }
  return core;
});

/** The exports as a {@link Core}: i64 results made unsigned. */
const adapt = (function (x: WasmExports): Core {
  // Wrappers call exports held in constants: through the exports object each call measured ~1.5 ns slower.
  const { load, sum, groupSum } = x;
  return {
    backend: 'wasm',
    add: x.add,
    addNum: x.addNum,
    add3: x.add3,
    load: (addr) => BigInt.asUintN(64, load(addr)),
    loadNum: x.loadNum,
    store: x.store,
    storeNum: x.storeNum,
    min: x.min,
    minNum: x.minNum,
    max: x.max,
    maxNum: x.maxNum,
    sum: (base, first, geometry) => BigInt.asUintN(64, sum(base, first, geometry)),
    sumNum: x.sumNum,
    lanedWrite: x.lanedWrite,
    lanedWriteNum: x.lanedWriteNum,
    groupSum: (base, first, count, geometry) => BigInt.asUintN(64, groupSum(base, first, count, geometry)),
    record: x.record,
    recordNum: x.recordNum,
    bucketIndex: x.bucketIndex,
    rateSet: x.rateSet,
    rateReset: x.rateReset,
    rateExceeded: x.rateExceeded,
    expIndex: x.expIndex,
    expIndexNum: x.expIndexNum,
    recordExp: x.recordExp,
    recordExpNum: x.recordExpNum,
  };
});
