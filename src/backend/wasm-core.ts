/**
 * Compiles and instantiates the Wasm core: the one place that does, through `@assemblyscript/loader`.
 *
 * The release `.wasm` is embedded as base64 (`wasm-binary.js`, written into dist/ at build), so Node,
 * browsers and bundlers all get the bytes with no file loading and no configuration. Instances are
 * made with the loader's `instantiateSync` from an already compiled module: its asynchronous
 * `instantiate` first asks whether its argument is a fetch `Response`, and in Node that one
 * question loads the whole fetch stack (measured: 16–19 ms added to a new worker's first attach).
 * The synchronous path skips it; the module is under 4 KB, the size browsers allow a page's main
 * thread to instantiate synchronously.
 * @packageDocumentation
 */
import { instantiateSync } from '@assemblyscript/loader';
import { BASE_OFFSET, BASE_STRIDE, FUNCTION_NAMES, LAYOUT_VERSION, type StatsCoreExports } from './abi.js';
import type { Core } from './core.js';
import { handleError } from '../errors.js';
import { forgetLane, releaseWhenCollected } from './lanes.js';
import { laneAddr } from './layout.js';
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

/**
 * This thread's instance of each module on each memory. Every `MigrationStats` of a thread on the
 * same memory calls the same export functions, so each call site in `Stat64` sees one target and
 * V8 inlines the JS-to-Wasm call; with a second instance in the thread the call sites turn
 * megamorphic and every `add` costs ~3× more (measured: 3.9 → 13 ns). The key is the `Memory`
 * object: a handle received twice by `postMessage` brings two objects for the same memory, which
 * then get two instances (correct, only slower).
 */
const instances = new WeakMap<WebAssembly.Module, WeakMap<WebAssembly.Memory, Promise<WasmExports>>>();

function exportsFor(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<WasmExports> {
  let byMemory = instances.get(module);
  if (!byMemory) instances.set(module, (byMemory = new WeakMap()));
  let exports = byMemory.get(memory);
  if (!exports) {
    exports = new Promise<WasmExports>((resolve) => {
      const imports = { env: { memory } };
      // The loader tells a module from bytes with `instanceof`, which is false for a module compiled
      // in another realm (an iframe, a vm context): it would then try to compile the module object
      // as bytes. Such a module is instantiated directly, as the loader would have.
      const instance =
        module instanceof WebAssembly.Module ? instantiateSync(module, imports).instance : new WebAssembly.Instance(module, imports);
      const x = { ...instance.exports } as unknown as WasmExports;
      // A module of another layout exports the same names: its version global tells them apart.
      if (x.LAYOUT_VERSION.value !== LAYOUT_VERSION) {
        throw handleError(`.module is built for layout version ${String(x.LAYOUT_VERSION.value)}; this version of migration-stats reads layout version ${LAYOUT_VERSION}`);
      }
      resolve(x);
    });
    byMemory.set(memory, exports);
    // A failed instantiation is not kept: the next attach reports its own error.
    exports.catch(() => byMemory.delete(memory));
  }
  return exports;
}

/** A Wasm core: the thread's shared exports, plus where this core's `addPacket` writes. */
interface WasmCore extends Core {
  /** Counter i of addPacket is at `packetAt + packetStride · i`: this core's lane, or the base slots. */
  packetAt: number;
  packetStride: number;
}

/**
 * Makes one `MigrationStats`' core on a shared memory: this thread's instance of the module on that
 * memory, plus this core's lane. Instantiation writes nothing to the memory: the module has no
 * start function and no data segment.
 */
export async function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<Core> {
  const x = await exportsFor(module, memory);
  // Wrappers call exports held in constants and read this core's state from `this`: through an
  // exports object or variables captured by a closure, each call measured ~1.5 ns slower.
  const { load, lanedGet, addPacket, transferredBytes, rateGet, rateExceeded, laneBitmap } = x;
  let lane = -1;
  const core: WasmCore = {
    backend: 'wasm',
    add: x.add,
    addNum: x.addNum,
    load: (addr) => BigInt.asUintN(64, load(addr)),
    loadNum: x.loadNum,
    store: x.store,
    storeNum: x.storeNum,
    min: x.min,
    minNum: x.minNum,
    max: x.max,
    maxNum: x.maxNum,
    lanedGet: (counter) => BigInt.asUintN(64, lanedGet(counter)),
    lanedGetNum: x.lanedGetNum,
    lanedSet: x.lanedSet,
    lanedSetNum: x.lanedSetNum,
    lanedMin: x.lanedMin,
    lanedMinNum: x.lanedMinNum,
    lanedMax: x.lanedMax,
    lanedMaxNum: x.lanedMaxNum,
    packetAt: BASE_OFFSET,
    packetStride: BASE_STRIDE,
    addPacket(normalPages, zeroPages, multifdBytes) {
      addPacket(this.packetAt, this.packetStride, normalPages, zeroPages, multifdBytes);
    },
    transferredBytes: () => BigInt.asUintN(64, transferredBytes()),
    rateSet: x.rateSet,
    rateGet: () => BigInt.asUintN(64, rateGet()),
    rateReset: x.rateReset,
    rateExceeded: () => rateExceeded() !== 0,
    claimLane: () => {
      if (lane >= 0) return lane;
      lane = x.claimLane();
      if (lane >= 0) {
        core.packetAt = laneAddr(lane, 0);
        core.packetStride = 8;
        releaseWhenCollected(core, memory.buffer, lane);
      }
      return lane;
    },
    releaseLane: () => {
      const had = lane;
      if (had < 0) return -1;
      lane = -1;
      core.packetAt = BASE_OFFSET;
      core.packetStride = BASE_STRIDE;
      forgetLane(core);
      x.releaseLane(had);
      return had;
    },
    currentLane: () => lane,
    lanesEverClaimed: x.lanesEverClaimed,
    laneBitmap: () => BigInt.asUintN(64, laneBitmap()),
    initHeader: x.initHeader,
  };
  return core;
}
