/**
 * Which lane a stats instance adds into, for both backends (the header words are read and written
 * with `Atomics`).
 *
 * A lane is a hint, not a lock: every add is atomic, so two threads adding into one lane cost some
 * speed, never a count (as cells do in Java's `LongAdder`). An instance takes the lowest lane that
 * has no owner and marks it in the header's bitmap; `close()`, or the garbage collector once the
 * instance is unreachable (when its memory can be reached from elsewhere), clears the mark. A
 * thread that ends without either (terminated, crashed, a closed tab) leaves its mark behind. When every lane is marked, an instance shares one: the next
 * in turn, so that late instances spread over all lanes instead of piling onto one. The lane count
 * is small (about twice the cores), so reads, which sum every lane ever used, stay cheap however
 * many threads came and went.
 * @packageDocumentation
 */
import { HDR_LANE_BITMAP, HDR_LANES_EVER, HDR_NEXT_SHARED, HEADER_BYTES } from './abi.js';

/** The lane an instance got. */
export interface LaneClaim {
  /** 0 to lanes − 1. */
  readonly lane: number;
  /** Whether it owns the lane (its bit is set for it), or shares it because every lane was taken. */
  readonly owned: boolean;
}

const header64 = (function (buffer: ArrayBufferLike) {
  return new BigUint64Array(buffer, 0, HEADER_BYTES >> 3);
});
const header32 = (function (buffer: ArrayBufferLike) {
  return new Uint32Array(buffer, 0, HEADER_BYTES >> 2);
});

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/** Raises the lanes-ever word to at least `count` (readers sum that many lanes). */
const raiseLanesEver = (function (u32: Uint32Array, count: number): void {
  let ever = Atomics.load(u32, HDR_LANES_EVER >> 2);
  while (ever < count) {
    const seen = Atomics.compareExchange(u32, HDR_LANES_EVER >> 2, ever, count);
    // Someone raised it first: keep theirs if it is already high enough.
    if (seen === ever) return;
    ever = seen;
  }
});

/**
 * Claims a lane of a memory with `lanes` lanes: the lowest one without an owner, else a shared one.
 * @returns the lane, and whether this claim owns it
 */
export const claimLane = (function (buffer: ArrayBufferLike, lanes: number): LaneClaim {
  const u64 = header64(buffer);
  const u32 = header32(buffer);
  const all = (1n << BigInt(lanes)) - 1n;
  let bits = Atomics.load(u64, HDR_LANE_BITMAP >> 3);
  while ((bits & all) !== all) {
    let free = 0;
    while ((bits >> BigInt(free)) & 1n) free++;
    // Lanes ever claimed first, then the mark: whoever sees the mark sees a lanes-ever word that
    // covers it (attach checks that). If the mark is lost to another claim, a lane too many is
    // counted as ever claimed, which only costs reads one more zero.
    raiseLanesEver(u32, free + 1);
    const seen = Atomics.compareExchange(u64, HDR_LANE_BITMAP >> 3, bits, bits | (1n << BigInt(free)));
    // Another instance claimed or released a lane in between: look again at what it left.
    if (seen !== bits) {
      bits = seen;
      continue;
    }
    return { lane: free, owned: true };
  }
  const turn = Atomics.add(u32, HDR_NEXT_SHARED >> 2, 1);
  const lane = turn % lanes;
  raiseLanesEver(u32, lanes);
  return { lane, owned: false };
});

/** Clears lane `lane`'s mark: it has no owner any more. */
export function releaseLane(buffer: ArrayBufferLike, lane: number): void {
  Atomics.and(header64(buffer), HDR_LANE_BITMAP >> 3, ~(1n << BigInt(lane)) & 0xffff_ffff_ffff_ffffn);
}

interface OwnedLane {
  readonly buffer: ArrayBufferLike;
  readonly lane: number;
}

/**
 * Most instances watched at once. The registry holds each watched instance's memory until its
 * finalizer has run, which is a task of its own: a loop that never yields to the event loop would
 * otherwise keep every memory it made (gigabytes of address space each). Beyond this many, an
 * instance dropped without `close()` keeps its mark, as a terminated worker's does (a hint lost).
 */
export const MAX_WATCHED = 1024;

let watched = 0;

const registry =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<OwnedLane>(({ buffer, lane }) => {
        watched--;
        releaseLane(buffer, lane);
      })
    : undefined;

/**
 * Releases `lane` once `holder` has been garbage-collected. The holder must be reachable from every
 * object that adds into the lane (each of the instance's metrics keeps it), so that a metric taken
 * from the instance (`const { zeroPages } = stats`) keeps the lane alive. Call it only once the
 * memory can be reached from elsewhere (the instance's handle was read, or it came from one): until
 * then no one else can claim its lanes, and holding the memory would only keep it from being freed.
 * @returns whether the holder is watched (false when {@link MAX_WATCHED} are already)
 */
export const releaseWhenCollected = (function (holder: object, buffer: ArrayBufferLike, lane: number): boolean {
  if (!registry || watched >= MAX_WATCHED) return false;
  registry.register(holder, { buffer, lane }, holder);
  watched++;
  return true;
});

/** Cancels {@link releaseWhenCollected}, after the holder gave its lane back itself. */
export function forgetLane(holder: object): void {
  if (registry?.unregister(holder)) watched--;
}
