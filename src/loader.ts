/**
 * Compiles and instantiates the Wasm core: the one place that does, through `@assemblyscript/loader`.
 *
 * The release `.wasm` is embedded as base64 in `wasm-binary.ts` (generated at build), so Node,
 * browsers and bundlers all get the bytes with no file loading and no configuration. Instances are
 * made with the loader's `instantiateSync` from an already compiled module: its asynchronous
 * `instantiate` first asks whether its argument is a fetch `Response`, and in Node that one
 * question loads the whole fetch stack (measured: 16–19 ms added to a new worker's first attach).
 * The synchronous path skips it; the module is 2.4 KB, well under the 4 KB that browsers allow
 * a page's main thread to instantiate synchronously.
 * @packageDocumentation
 */
import { instantiateSync } from '@assemblyscript/loader';
import type { Core } from './core.js';
import { forgetLane, releaseWhenCollected } from './lane-release.js';
import { BASE_OFFSET, BASE_STRIDE, laneAddr } from './layout.js';
import { WASM_BASE64 } from './wasm-binary.js';

/** The exports of `assembly/index.ts`, typed once: those the core passes on unchanged come from {@link Core}. */
interface WasmExports
  extends Pick<
    Core,
    | 'add' | 'addNum' | 'loadNum' | 'store' | 'storeNum' | 'min' | 'minNum' | 'max' | 'maxNum'
    | 'lanedGetNum' | 'lanedSet' | 'lanedSetNum' | 'lanedMin' | 'lanedMinNum' | 'lanedMax' | 'lanedMaxNum'
    | 'rateSet' | 'rateReset' | 'lanesEverClaimed' | 'initHeader'
  > {
  readonly LAYOUT_VERSION: WebAssembly.Global;
  readonly MAGIC: WebAssembly.Global;
  // i64 results: signed bigints, made unsigned by the wrappers below.
  load(addr: number): bigint;
  lanedGet(counter: number): bigint;
  transferredBytes(): bigint;
  rateGet(): bigint;
  laneBitmap(): bigint;
  // Lanes are tracked in JS; the module only flips bits in the shared bitmap.
  claimLane(): number;
  releaseLane(lane: number): void;
  addPacket(at: number, stride: number, normalPages: number, zeroPages: number, multifdBytes: number): void;
  rateExceeded(): number;
}

/** Names every module in a handle must export, checked by attach. */
export const REQUIRED_EXPORTS = ['LAYOUT_VERSION', 'MAGIC', 'initHeader', 'claimLane', 'lanedGet', 'addNum', 'rateExceeded'];

/** Decodes the embedded release module. */
export function wasmBytes(): Uint8Array<ArrayBuffer> {
  const text = atob(WASM_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

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
    // `abort` is imported only by a debug build (the release build compiles it away).
    const abort = (_message: number, _file: number, line: number, column: number): never => {
      throw new Error(`migration-stats: the Wasm core aborted (assembly/index.ts:${line}:${column})`);
    };
    exports = new Promise<WasmExports>((resolve) => {
      const imports = { env: { memory, abort } };
      // The loader tells a module from bytes with `instanceof`, which is false for a module compiled
      // in another realm (an iframe, a vm context): it would then try to compile the module object
      // as bytes. Such a module is instantiated directly, as the loader would have.
      const instance =
        module instanceof WebAssembly.Module ? instantiateSync(module, imports).instance : new WebAssembly.Instance(module, imports);
      resolve({ ...instance.exports } as unknown as WasmExports);
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
