/**
 * Compiles and instantiates the Wasm core through `@assemblyscript/loader`: the one place that does.
 *
 * The release `.wasm` is embedded as base64 in `wasm-binary.ts` (generated at build), so Node,
 * browsers and bundlers all get the bytes with no file loading and no configuration.
 * @packageDocumentation
 */
import { instantiate } from '@assemblyscript/loader';
import type { Core } from './core.js';
import { WASM_BASE64 } from './wasm-binary.js';

/** The exports of `assembly/index.ts`, typed once. i64 results arrive as signed bigints. */
interface WasmExports {
  readonly LAYOUT_VERSION: WebAssembly.Global;
  readonly MAGIC: WebAssembly.Global;
  initHeader(): number;
  claimLane(): number;
  releaseLane(): number;
  currentLane(): number;
  lanesEverClaimed(): number;
  laneBitmap(): bigint;
  load(addr: number): bigint;
  loadNum(addr: number): number;
  store(addr: number, value: bigint): void;
  storeNum(addr: number, value: number): void;
  add(addr: number, value: bigint): void;
  addNum(addr: number, value: number): void;
  min(addr: number, value: bigint): void;
  minNum(addr: number, value: number): void;
  max(addr: number, value: bigint): void;
  maxNum(addr: number, value: number): void;
  lanedGet(counter: number): bigint;
  lanedGetNum(counter: number): number;
  lanedSet(counter: number, value: bigint): void;
  lanedSetNum(counter: number, value: number): void;
  lanedMin(counter: number, value: bigint): void;
  lanedMinNum(counter: number, value: number): void;
  lanedMax(counter: number, value: bigint): void;
  lanedMaxNum(counter: number, value: number): void;
  addPacket(normalPages: number, zeroPages: number, multifdBytes: number): void;
  transferredBytes(): bigint;
  rateSet(bytesPerSecond: bigint): void;
  rateGet(): bigint;
  rateReset(): void;
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
 * Instantiates the core on a shared memory. Instantiation writes nothing to the memory: the module
 * has no start function and no data segment.
 */
export async function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<Core> {
  const { instance } = await instantiate(module, { env: { memory } });
  const x = instance.exports as unknown as WasmExports;
  const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
  return {
    backend: 'wasm',
    add: x.add,
    addNum: x.addNum,
    load: (addr) => u64(x.load(addr)),
    loadNum: x.loadNum,
    store: x.store,
    storeNum: x.storeNum,
    min: x.min,
    minNum: x.minNum,
    max: x.max,
    maxNum: x.maxNum,
    lanedGet: (counter) => u64(x.lanedGet(counter)),
    lanedGetNum: x.lanedGetNum,
    lanedSet: x.lanedSet,
    lanedSetNum: x.lanedSetNum,
    lanedMin: x.lanedMin,
    lanedMinNum: x.lanedMinNum,
    lanedMax: x.lanedMax,
    lanedMaxNum: x.lanedMaxNum,
    addPacket: x.addPacket,
    transferredBytes: () => u64(x.transferredBytes()),
    rateSet: x.rateSet,
    rateGet: () => u64(x.rateGet()),
    rateReset: x.rateReset,
    rateExceeded: () => x.rateExceeded() !== 0,
    claimLane: x.claimLane,
    releaseLane: x.releaseLane,
    currentLane: x.currentLane,
    lanesEverClaimed: x.lanesEverClaimed,
    laneBitmap: () => u64(x.laneBitmap()),
    initHeader: x.initHeader,
  };
}
