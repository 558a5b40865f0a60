// The stats of the cross-worker total: one counter every worker adds to, and one element per worker.
export const SCHEMA = {
  bytesCopied: { kind: 'counter', unit: 'bytes', help: 'Bytes copied.' },
  bytesPerWorker: { kind: 'counter', unit: 'bytes', help: 'Bytes by worker.', length: 8, label: 'worker' },
};
