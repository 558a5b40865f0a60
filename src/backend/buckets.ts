/**
 * The log-linear bucket of a value in plain JS numbers: the Wasm core's `bucketIndex` (see
 * `assembly/stats-core.ts`) for safe integers, exact, with no BigInt. The pure-JS backend's
 * `recordNum` and the batched writers use it.
 * @packageDocumentation
 */

const TWO_32 = 2 ** 32;

/** Position of the highest set bit of a positive safe integer. */
function topBit(value: number): number {
  return value < TWO_32 ? 31 - Math.clz32(value) : 63 - Math.clz32(Math.floor(value / TWO_32));
}

/** The bucket of a safe-integer value: the core's rule, in plain JS numbers. @internal */
export function bucketOfNumber(value: number, buckets: number, subBits: number): number {
  let index: number;
  if (subBits === 0) index = value === 0 ? 0 : topBit(value);
  else if (value < 1 << subBits) index = value;
  else {
    const shift = topBit(value) - subBits;
    // Division by a power of two is exact for safe integers, and so is its floor.
    index = ((shift + 1) << subBits) + (Math.floor(value / 2 ** shift) & ((1 << subBits) - 1));
  }
  return index < buckets ? index : buckets - 1;
}
