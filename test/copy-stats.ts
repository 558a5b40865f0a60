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

/** A copy of every byte of a stats object's memory, for "nothing changed" checks. */
export function memoryBytes(stats: { handle: { memory: WebAssembly.Memory } }): Uint8Array {
  return new Uint8Array(stats.handle.memory.buffer).slice();
}
