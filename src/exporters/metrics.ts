/**
 * How each of the 15 counters is named and typed when exported to a monitoring system.
 *
 * Prometheus conventions: snake_case under a prefix, the unit as a suffix (`_bytes`), `_total` on
 * monotonic counters, gauges for the figures QEMU sets rather than adds. OpenTelemetry: dotted
 * names after QEMU's C fields, the unit in UCUM (`By`, `{page}`).
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { COUNTERS, type CounterName } from '../counters.js';
import { readRecord } from '../options.js';

/** One counter as a metric. */
export interface MetricInfo {
  /** The counter it reads. */
  readonly counter: CounterName;
  /** Prometheus metric family name after the prefix, without `_total`. */
  readonly promName: string;
  /** `counter` for the add-only counters (sample name gets `_total`), `gauge` for set ones. */
  readonly type: 'counter' | 'gauge';
  /** OpenMetrics unit, when the name ends with it (only bytes). */
  readonly promUnit: 'bytes' | undefined;
  /** OpenTelemetry instrument name after the prefix: QEMU's C field name. */
  readonly otelName: string;
  /** OpenTelemetry unit (UCUM). */
  readonly otelUnit: string;
  /** One line: what it counts, and the C field. */
  readonly help: string;
}

const PROM: Record<CounterName, [promName: string, otelUnit: string]> = {
  dirtyBytesLastSync: ['last_sync_dirty_bytes', 'By'],
  dirtyPagesRate: ['dirty_pages_per_second', '{page}/s'],
  dirtySyncCount: ['dirty_syncs', '{sync}'],
  dirtySyncMissedZeroCopy: ['dirty_sync_missed_zero_copy', '{sync}'],
  downtimeBytes: ['downtime_bytes', 'By'],
  multifdBytes: ['multifd_bytes', 'By'],
  normalPages: ['normal_pages', '{page}'],
  postcopyBytes: ['postcopy_bytes', 'By'],
  postcopyRequests: ['postcopy_requests', '{request}'],
  precopyBytes: ['precopy_bytes', 'By'],
  qemuFileTransferred: ['qemu_file_transferred_bytes', 'By'],
  rateLimitStart: ['rate_limit_start_bytes', 'By'],
  rateLimitMax: ['rate_limit_max_bytes', 'By'],
  rdmaBytes: ['rdma_bytes', 'By'],
  zeroPages: ['zero_pages', '{page}'],
};

/** The 15 counters as metrics, in QEMU's struct order. */
export const METRICS: readonly MetricInfo[] = Object.freeze(
  COUNTERS.map((info): MetricInfo => {
    const [promName, otelUnit] = PROM[info.name];
    return Object.freeze({
      counter: info.name,
      promName,
      type: info.kind === 'add' ? 'counter' : 'gauge',
      promUnit: promName.endsWith('_bytes') ? 'bytes' : undefined,
      otelName: info.cName,
      otelUnit,
      help: `${info.help.replace(/\.$/, '')}; QEMU ${info.cName}.`,
    });
  }),
);

/** Default prefix of Prometheus metric names. */
export const DEFAULT_PROM_PREFIX = 'qemu_migration_';
/** Default prefix of OpenTelemetry instrument names. */
export const DEFAULT_OTEL_PREFIX = 'qemu.migration.';

const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Checks a Prometheus name prefix (empty, or a valid start of a metric name).
 * @throws TypeError naming the option and what is allowed
 */
export function checkPromPrefix(where: string, prefix: unknown): string {
  if (typeof prefix === 'string' && (prefix === '' || METRIC_PREFIX.test(prefix))) return prefix;
  throw new TypeError(`${where}: options.prefix must be '' or match ${METRIC_PREFIX} (a Prometheus metric name start); received ${describe(prefix)}`);
}

/**
 * Reads constant labels once and checks them: names valid and not reserved (`__…`), values strings.
 * @param where - the call, for messages
 * @param labels - `options.labels` as given (`undefined` for none)
 * @returns a frozen copy, the only object later reads see
 * @throws TypeError naming the label and what is allowed, or naming `options.labels` when it cannot be read
 */
export function checkLabels(where: string, labels: unknown): Readonly<Record<string, string>> {
  if (labels === undefined) return Object.freeze({});
  const copy = readRecord(where, 'options.labels', labels, 'an object of label name → string value');
  for (const [name, value] of Object.entries(copy)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      throw new TypeError(`${where}: options.labels has the name ${JSON.stringify(name)}; label names must match ${LABEL_NAME} and not start with "__"`);
    }
    if (typeof value !== 'string') {
      throw new TypeError(`${where}: options.labels.${name} must be a string; received ${describe(value)}`);
    }
  }
  return copy as Readonly<Record<string, string>>;
}

