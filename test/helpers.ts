import { MigrationStats, type BackendName } from '../dist/index.js';

/** Both backends run every suite that touches counters. */
export const BACKENDS: BackendName[] = ['wasm', 'js'];

export const U64_MAX = 0xffff_ffff_ffff_ffffn;
export const TWO_63 = 1n << 63n;

/** A fresh set of counters on the given backend. */
export function fresh(backend: BackendName): Promise<MigrationStats> {
  return MigrationStats.create({ backend });
}

/** Every counter's value, for "nothing changed" checks. */
export function values(stats: MigrationStats): bigint[] {
  return stats.counters.map((c) => c.get());
}
