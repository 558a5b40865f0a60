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
export {
  MigrationWindow,
  completedMbps,
  DEFAULT_DOWNTIME_LIMIT_MS,
  MAX_DOWNTIME_LIMIT_MS,
  type MigrationWindowOptions,
  type MigrationWindowResult,
} from './window.js';
export {
  queryMigrate,
  formatQmp,
  MIGRATION_STATUSES,
  type MigrationStatus,
  type MigrationInfo,
  type MigrationRamStats,
  type QueryMigrateContext,
  type FormatQmpOptions,
  type QmpValue,
} from './qmp.js';
export { sizeToStr, infoMigrate } from './hmp.js';
export {
  prometheusText,
  createMetricsHandler,
  PROMETHEUS_CONTENT_TYPE,
  OPENMETRICS_CONTENT_TYPE,
  type PrometheusTextOptions,
  type MetricsRequest,
  type MetricsResponse,
} from './prometheus.js';
export { METRICS, DEFAULT_PROM_PREFIX, DEFAULT_OTEL_PREFIX, type MetricInfo } from './metrics.js';
