/**
 * The user definition the schema tests share: the file-copy stats of the README, with a gauge for
 * the rate limiter's window and a log-linear histogram beside the powers-of-two one.
 */
import { defineStats } from '../dist/index.js';

export const COPY_SCHEMA = {
  bytesCopied: { kind: 'counter', unit: 'bytes', help: 'Bytes written to the destination' },
  filesCopied: { kind: 'counter', unit: 'files', help: 'Files finished' },
  queueDepth: { kind: 'gauge', unit: 'files', help: 'Files waiting' },
  bytesPerWorker: { kind: 'counter', unit: 'bytes', help: 'Bytes by worker', length: 8, label: 'worker' },
  copyLatency: { kind: 'histogram', unit: 'microseconds', help: 'Time to copy one file', buckets: 24 },
} as const;

export const CopyStats = defineStats(COPY_SCHEMA, { rateLimit: ['bytesCopied'] });

/** The names of CopyStats' metrics, in schema order. */
export const COPY_NAMES = Object.keys(COPY_SCHEMA);

/** A copy of every word of a stats object's memory, for "nothing changed" checks. */
export function memoryWords(stats: { handle: { memory: WebAssembly.Memory } }): BigUint64Array {
  return new BigUint64Array(stats.handle.memory.buffer).slice();
}

/** The byte offsets of the words that differ between two copies (a loop: toEqual on a whole memory is slow). */
export function changedOffsets(before: BigUint64Array, after: BigUint64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) out.push(8 * i);
  return out;
}
