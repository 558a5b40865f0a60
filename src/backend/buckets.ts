/**
 * The log-linear bucket of a value in plain JS numbers: the Wasm core's `bucketIndex` (see
 * `assembly/stats-core.ts`) for safe integers, exact, with no BigInt. The pure-JS backend's
 * `recordNum` and the batched writers use it.
 * @packageDocumentation
 */

const TWO_32 = 2 ** 32;
/** 2^k for k = 0 … 63: a division by one of them is exact for a safe integer, with no `**` call. */
const POW2 = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

/** The bucket of a safe-integer value: the core's rule, in plain JS numbers (not part of the package's API: no entry exports it). */
export function bucketOfNumber(value: number, buckets: number, subBits: number): number {
  let index: number;
  if (value < TWO_32) {
    // 32-bit integer arithmetic: `>>> 0` and `>>>` are exact below 2^32.
    const v = value >>> 0;
    if (subBits === 0) index = v === 0 ? 0 : 31 - Math.clz32(v);
    else if (v < 1 << subBits) index = v;
    else {
      const shift = 31 - Math.clz32(v) - subBits;
      index = ((shift + 1) << subBits) + ((v >>> shift) & ((1 << subBits) - 1));
    }
  } else {
    // The top bit from the high half; the sub-bucket from an exact division by a power of two
    // (its floor may pass 2^31: `&` keeps its low 32 bits, exactly, which hold the ones we want).
    const top = 63 - Math.clz32(Math.floor(value / TWO_32));
    if (subBits === 0) index = top;
    else {
      const shift = top - subBits;
      index = ((shift + 1) << subBits) + (Math.floor(value / POW2[shift]!) & ((1 << subBits) - 1));
    }
  }
  return index < buckets ? index : buckets - 1;
}
