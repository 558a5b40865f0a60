// The bucket of a number as the pure-JS backend's record(number) and the batched writers compute it
// (plain JS numbers, no BigInt), against the independent model of test/bucket-model.ts: at
// 2^k − 1, 2^k and 2^k + 1 for every k up to 53, at 2^53 − 1, and at random safe integers, for
// every sub-bucket count, with the most buckets and with a few.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOfNumber } from '../dist/backend/buckets.js';
import { maxBuckets } from '../dist/definition.js';
import { modelBucket } from './bucket-model.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const EDGES = [
  ...new Set(Array.from({ length: 54 }, (_, k) => [2 ** k - 1, 2 ** k, 2 ** k + 1]).flat().filter((v) => v <= MAX_SAFE)),
  MAX_SAFE,
];

describe.each([0, 1, 2, 3, 4, 5, 6])('bucketOfNumber with %i sub-bits', (subBits) => {
  const configs = [maxBuckets(subBits), 24, 1];
  it('agrees with the model at every power of two and beside it', () => {
    for (const buckets of configs) {
      for (const value of EDGES) expect(bucketOfNumber(value, buckets, subBits), `${value}, ${buckets} buckets`).toBe(modelBucket(BigInt(value), buckets, subBits));
    }
  });
  it('agrees with the model at random safe integers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 32 + 5 }), fc.integer({ min: 0, max: MAX_SAFE })), (value) => {
        for (const buckets of configs) expect(bucketOfNumber(value, buckets, subBits)).toBe(modelBucket(BigInt(value), buckets, subBits));
      }),
      { numRuns: 2000 },
    );
  });
});
