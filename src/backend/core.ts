/**
 * The interface both backends implement: raw operations on the shared layout, without argument
 * checks (the public API checks every argument before it gets here).
 *
 * Most operations are the Wasm core's exports as they are (their types come from `abi.ts`, generated
 * from the module); the JS backend implements the same signatures. The rest differ from the raw
 * exports in what JS gets back: unsigned bigints where the export returns a signed i64, a boolean
 * where it returns an i32, and this instance's lane, which only the JS side tracks.
 * @packageDocumentation
 */
import type { StatsCoreExports } from './abi.js';

/** Which implementation runs the operations in this thread. */
export type BackendName = 'wasm' | 'js';

/**
 * Operations on the shared memory. `addr` is a byte offset computed by the library from the layout,
 * never taken from a user; `counter` is a counter index 0–14. Number variants take validated safe
 * integers; `…Num` reads return −1 when the value is above 2^53 − 1.
 * @internal
 */
export interface Core
  extends Pick<
    StatsCoreExports,
    | 'add' | 'addNum' | 'loadNum' | 'store' | 'storeNum' | 'min' | 'minNum' | 'max' | 'maxNum'
    | 'lanedGetNum' | 'lanedSet' | 'lanedSetNum' | 'lanedMin' | 'lanedMinNum' | 'lanedMax' | 'lanedMaxNum'
    | 'rateSet' | 'rateReset' | 'lanesEverClaimed' | 'initHeader'
  > {
  readonly backend: BackendName;
  /** The slot at `addr`, unsigned. */
  load(addr: number): bigint;
  /** Add-only counter `counter` (base slot plus every lane), unsigned. */
  lanedGet(counter: number): bigint;
  /** The three figures of a multifd packet, into this instance's lane (or the base slots). */
  addPacket(normalPages: number, zeroPages: number, multifdBytes: number): void;
  /** `migration_transferred_bytes()`, unsigned. */
  transferredBytes(): bigint;
  /** `migration_rate_get()`, unsigned. */
  rateGet(): bigint;
  /** `migration_rate_exceeded()` without the stream-error check. */
  rateExceeded(): boolean;
  /** Claims a lane for this instance (or returns the one it has): 0–63, or −1 when none is free. */
  claimLane(): number;
  /** Gives this instance's lane back; returns it, or −1 when it had none. */
  releaseLane(): number;
  /** This instance's lane, or −1. */
  currentLane(): number;
  /** The lane ownership bitmap, unsigned. */
  laneBitmap(): bigint;
}
