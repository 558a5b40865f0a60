/**
 * Where each counter lives in the shared memory: address arithmetic over the Wasm core's layout
 * constants (`abi.ts`, generated from `assembly/stats-core.ts`, where the layout is drawn).
 *
 * ```
 *    0  header: magic, layout version, lane count, lane stride, lanes ever claimed, lane bitmap
 *   64  base slot of counter i at 64 + 64·i (one cache line each, 15 counters)
 * 1024  lane k at 1024 + 128·k, counter i at +8·i (two cache lines per lane, 64 lanes)
 * 9216  end
 * ```
 * @packageDocumentation
 */
import { BASE_OFFSET, BASE_STRIDE, LANE_STRIDE, LANES_OFFSET } from './abi.js';

/** Byte offset of counter `index`'s base slot. */
export const baseAddr = (index: number): number => BASE_OFFSET + BASE_STRIDE * index;

/** Byte offset of counter `index` in lane `lane`. */
export const laneAddr = (lane: number, index: number): number => LANES_OFFSET + LANE_STRIDE * lane + 8 * index;
