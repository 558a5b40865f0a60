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
export { Stat64, Stat64Batch } from './stat64.js';
export { StatVector } from './vector.js';
export { Histogram, HistogramBatch, type BucketRange } from './histogram.js';
export {
  defineStats,
  attachStats,
  SharedStats,
  RateLimitedStats,
  type StatsDefinition,
  type StatsOf,
  type StatsOptions,
  type RateLimiter,
  type Metric,
  type MetricOf,
} from './define-stats.js';
export { StatsInterval } from './interval.js';
export type { StatsReading, MetricReading, HistogramSnapshot, ReadingOf, BucketsReading } from './reading.js';
export type { StatsHandle } from './handle.js';
export type {
  MetricKind,
  MetricNames,
  CounterDefinition,
  HistogramDefinition,
  LogLinearHistogramDefinition,
  ExponentialHistogramDefinition,
  MetricDefinition,
  StatsSchema,
  RateLimitDefinition,
  DefineStatsOptions,
  Definition,
  MetricSpec,
  NameOverrides,
  RateLimitSpec,
} from './definition.js';
export type { BackendName } from './backend/core.js';
export { COUNTERS, COUNTER_NAMES, type CounterInfo, type CounterKind, type CounterName } from './counters.js';
export {
  MigrationWindow,
  completedMbps,
  DEFAULT_DOWNTIME_LIMIT_MS,
  MAX_DOWNTIME_LIMIT_MS,
  type MigrationWindowOptions,
  type MigrationWindowResult,
} from './qemu/window.js';
export {
  queryMigrate,
  MIGRATION_STATUSES,
  type MigrationStatus,
  type MigrationInfo,
  type MigrationRamStats,
  type QueryMigrateContext,
} from './qemu/query-migrate.js';
export { formatQmp, type FormatQmpOptions, type QmpValue } from './qemu/qmp-json.js';
export { sizeToStr, infoMigrate, type InfoMigrateOptions } from './qemu/hmp.js';
export {
  definePostcopyStats,
  postcopyBlocktimeInfo,
  POSTCOPY_LATENCY_BUCKETS,
  POSTCOPY_NAMESPACE,
  MAX_POSTCOPY_VCPUS,
  type PostcopyBlocktimeInfo,
  type PostcopyStatsDefinition,
} from './qemu/postcopy.js';
export {
  prometheusText,
  createMetricsHandler,
  PROMETHEUS_CONTENT_TYPE,
  OPENMETRICS_CONTENT_TYPE,
  PROTOBUF_CONTENT_TYPE,
  type PrometheusTextOptions,
  type MetricsHandlerOptions,
  type MetricsRequest,
  type MetricsResponse,
} from './exporters/prometheus.js';
export { METRICS, DEFAULT_PROM_PREFIX, DEFAULT_OTEL_PREFIX, type MetricInfo } from './exporters/metrics.js';
