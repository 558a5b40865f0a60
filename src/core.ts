/**
 * The interface both backends implement: raw operations on the shared layout, without argument
 * checks (the public API checks every argument before it gets here).
 * @packageDocumentation
 */

/** Which implementation runs the operations in this thread. */
export type BackendName = 'wasm' | 'js';

/**
 * Operations on the shared memory. `addr` is a byte offset computed by the library from the layout,
 * never taken from a user; `counter` is a counter index 0–14. Number variants take validated safe
 * integers; `…Num` reads return −1 when the value is above 2^53 − 1.
 * @internal
 */
export interface Core {
  readonly backend: BackendName;
  add(addr: number, value: bigint): void;
  addNum(addr: number, value: number): void;
  load(addr: number): bigint;
  loadNum(addr: number): number;
  store(addr: number, value: bigint): void;
  storeNum(addr: number, value: number): void;
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
  rateExceeded(): boolean;
  claimLane(): number;
  releaseLane(): number;
  currentLane(): number;
  lanesEverClaimed(): number;
  laneBitmap(): bigint;
  /** Writes the header into a blank memory: 1 written, 0 already ours, −1 foreign. */
  initHeader(): number;
}
