/**
 * The interface both backends implement: raw operations on cells of the shared memory, without
 * argument checks (the public API checks every argument before it gets here, and every address is
 * one the layout planned and `attach` checked).
 *
 * The operations are the Wasm core's exports (their types come from `abi.ts`, generated from the
 * module); the pure-JS backend implements the same signatures with `Atomics`. Where the raw export
 * returns a signed i64, JS gets an unsigned bigint.
 * @packageDocumentation
 */
import type { StatsCoreExports } from './abi.js';

/** Which implementation runs the operations in this thread. */
export type BackendName = 'wasm' | 'js';

/**
 * Operations on the shared memory. `addr`, `base`, `first` are byte offsets from the layout;
 * `geometry` is the lane stride plus the lane count. Number variants take validated safe
 * integers; `…Num` reads return −1 when the value is above 2^53 − 1. The exponential histograms'
 * `table` is where the memory holds the tables of `writeExpTable` (src/backend/exp-index.ts): the
 * Wasm core reads them there, the JS core has its own copy (an attached memory's are checked equal).
 * @internal
 */
export interface Core
  extends Pick<
    StatsCoreExports,
    | 'add' | 'addNum' | 'add3' | 'loadNum' | 'store' | 'storeNum' | 'min' | 'minNum' | 'max' | 'maxNum'
    | 'sumNum' | 'lanedWrite' | 'lanedWriteNum' | 'record' | 'recordNum' | 'rateSet' | 'rateReset'
    | 'bucketIndex' | 'rateExceeded' | 'expIndex' | 'expIndexNum' | 'recordExp' | 'recordExpNum'
  > {
  readonly backend: BackendName;
  /** The cell at `addr`, unsigned. */
  load(addr: number): bigint;
  /** A laned cell (base plus every lane in use), unsigned. */
  sum(base: number, first: number, geometry: number): bigint;
  /** `count` laned cells side by side, summed, unsigned. */
  groupSum(base: number, first: number, count: number, geometry: number): bigint;
}
