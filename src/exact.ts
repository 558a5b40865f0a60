/**
 * Values read exactly: a number up to 2^53 − 1 (no BigInt made), a bigint above; what the readers
 * of the kinds (kinds.ts, kinds-sparse.ts) write their samples as.
 * @packageDocumentation
 */

/** A value read exactly: a number up to 2^53 − 1 (no BigInt made), a bigint above. @internal */
export type Exact = number | bigint;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIGINT = BigInt(MAX_SAFE);

/** A bigint as a number where that is exact. @internal */
export function exact(value: bigint): Exact {
  return value <= MAX_SAFE_BIGINT ? Number(value) : value;
}

/** `a + b` where both are exact, as a number while the sum stays exact. @internal */
export function addExact(a: Exact, b: Exact): Exact {
  if (typeof a === 'number' && typeof b === 'number') {
    const n = a + b;
    if (n <= MAX_SAFE) return n;
  }
  return BigInt(a) + BigInt(b);
}
