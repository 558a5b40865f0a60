// What a worker terminated in the middle of record() leaves behind. Each worker records one value,
// 2^j, in a loop that never ends, and is terminated once its message says it is recording (no
// timing: where the loop is when the main thread gets there is up to the two threads); 2^j counts
// in bucket j of a log2 histogram, so Σ 2^j × bucket j − sum is the value of the records whose
// bucket was counted and whose value was not summed, read after each termination.
// Wasm: a record is one call into the core, which a termination does not split: never torn.
// JS: V8 can stop a terminated worker between the two Atomics.add of a record (at the call into
// the builtin), so the bound: each termination leaves at most one record torn, its own, and only
// that way round (the count is whole; the sum short by that one value).
// The first workers are terminated in code still interpreted, later ones in optimized code. The
// same for an exponential histogram of scale 0, where 2^j counts in OpenTelemetry's bucket j − 1
// (buckets()[j + 1], after the zero bucket).
import { describe, expect, it } from 'vitest';
import { defineStats, type BackendName, type Histogram } from '../dist/index.js';
import { BACKENDS } from './helpers.js';
import { startFixture } from './workers.js';

const TERMINATIONS = 64;
const HISTOGRAMS = {
  log2: defineStats({ latency: { kind: 'histogram', unit: 'nanoseconds', help: 'Values recorded until terminated', buckets: 24 } }),
  exponential: defineStats({ latency: { kind: 'histogram', unit: 'nanoseconds', help: 'Values recorded until terminated', scale: 0 } }),
};

/** Σ 2^j × the count of 2^j's bucket, minus the sum. */
function unsummed(histogram: Histogram): bigint {
  // Log2: 2^j in bucket j. Exponential, scale 0: in bucket j + 1 (the zero bucket is first).
  const shift = histogram.scale === undefined ? 0 : 1;
  const expected = histogram.buckets().reduce((total, count, i) => (i < shift ? total : total + (count << BigInt(i - shift))), 0n);
  return expected - histogram.sum();
}

/** Starts and terminates the workers; returns, for each termination, what it left unsummed. */
async function terminateWhileRecording(backend: BackendName, histogram: Histogram, handle: unknown): Promise<{ value: bigint; left: bigint }[]> {
  const out: { value: bigint; left: bigint }[] = [];
  let before = unsummed(histogram);
  for (let k = 0; k < TERMINATIONS; k++) {
    const j = k % 20;
    // From 0 records before the message (the loop still cold) to 2^19 (optimized by then).
    const warmup = k < 8 ? 0 : 1 << j;
    const { worker, result } = startFixture<string>('recording-worker.mjs', { handle, backend, value: 2 ** j, warmup });
    try {
      expect(await result).toBe('recording');
    } finally {
      await worker.terminate();
    }
    const now = unsummed(histogram);
    out.push({ value: 2n ** BigInt(j), left: now - before });
    before = now;
  }
  return out;
}

describe.each(BACKENDS.flatMap((backend) => (['log2', 'exponential'] as const).map((kind) => [backend, kind] as const)))('workers terminated while they record, %s backend, %s histogram', (backend, kind) => {
  it(`leave at most their one record torn (none on Wasm), after each of ${TERMINATIONS} terminations`, async () => {
    // The main thread only reads: every lane is left to the workers.
    const stats = await HISTOGRAMS[kind].create({ backend, lane: false });
    const histogram = stats.latency;
    const terminations = await terminateWhileRecording(backend, histogram, stats.handle);
    expect(histogram.count()).toBeGreaterThan(BigInt(TERMINATIONS));
    // Every termination left nothing, or (JS only) exactly its own value unsummed: one record.
    const allowed = (t: { value: bigint }) => (backend === 'js' ? [0n, t.value] : [0n]);
    const outside = terminations.filter((t) => !allowed(t).includes(t.left));
    expect(outside, 'terminations that left more than their own one record torn').toEqual([]);
  });
});
