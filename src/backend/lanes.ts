/**
 * Gives a lane back when the instance that claimed it can no longer add into it.
 *
 * A lane must have one writer at a time. Every counter of an instance calls through the instance's
 * {@link Core}, so the core is what must be unreachable before the lane may be reused; tracking the
 * `MigrationStats` object instead would free the lane while a counter taken from it
 * (`const { zeroPages } = stats`) still adds into it. The release clears the lane's bit straight
 * in the shared bitmap, so it needs nothing from the collected core.
 * @packageDocumentation
 */
import { HDR_LANE_BITMAP, LANE_COUNT } from './abi.js';

/** The ownership bitmap with every lane taken. @internal */
export const ALL_LANES = (1n << BigInt(LANE_COUNT)) - 1n;

interface ClaimedLane {
  readonly buffer: ArrayBufferLike;
  readonly lane: number;
}

/**
 * Clears lane `lane`'s bit in the ownership bitmap of the memory `buffer`: the lane is free again.
 * @internal
 */
export function clearLaneBit(buffer: ArrayBufferLike, lane: number): void {
  Atomics.and(new BigUint64Array(buffer, HDR_LANE_BITMAP, 1), 0, ALL_LANES ^ (1n << BigInt(lane)));
}

const registry =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<ClaimedLane>(({ buffer, lane }) => clearLaneBit(buffer, lane))
    : undefined;

/**
 * Frees `lane` of the memory `buffer` once `owner` has been garbage-collected.
 * @param owner - the core whose adds go to the lane (held weakly)
 * @internal
 */
export function releaseWhenCollected(owner: object, buffer: ArrayBufferLike, lane: number): void {
  registry?.register(owner, { buffer, lane }, owner);
}

/**
 * Cancels {@link releaseWhenCollected}, after the owner gave its lane back itself.
 * @internal
 */
export function forgetLane(owner: object): void {
  registry?.unregister(owner);
}
