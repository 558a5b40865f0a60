/**
 * migration-stats: QEMU's migration statistics in shared WebAssembly memory.
 * @packageDocumentation
 */
export {
  MigrationStats,
  BUFFER_DELAY,
  RATE_LIMIT_DISABLED,
  XFER_LIMIT_RATIO,
  type MigrationStatsHandle,
  type MigrationStatsOptions,
} from './stats.js';
export { Stat64 } from './stat64.js';
export type { BackendName } from './core.js';
export { COUNTERS, COUNTER_NAMES, type CounterInfo, type CounterKind, type CounterName } from './layout.js';
