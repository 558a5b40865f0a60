/**
 * How each of the 15 counters is named and typed when exported to a monitoring system.
 *
 * Prometheus conventions: snake_case under a prefix, the unit as a suffix (`_bytes`), `_total` on
 * monotonic counters, gauges for the figures QEMU sets rather than adds. OpenTelemetry: dotted
 * names after QEMU's C fields, the unit in UCUM (`By`, `{page}`).
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { QEMU_DEFINITION, type CounterName } from '../counters.js';
import { otelPrefix, promPrefix } from '../definition.js';
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

/** The 15 counters as metrics, in QEMU's struct order: the names of QEMU's definition. */
export const METRICS: readonly MetricInfo[] = Object.freeze(
  QEMU_DEFINITION.metrics.map((spec): MetricInfo =>
    Object.freeze({
      counter: spec.name as CounterName,
      promName: spec.promName,
      type: spec.kind === 'counter' ? 'counter' : 'gauge',
      promUnit: spec.promName.endsWith('_bytes') ? 'bytes' : undefined,
      otelName: spec.otelName,
      otelUnit: spec.otelUnit,
      help: spec.help,
    }),
  ),
);

/** Default prefix of Prometheus metric names. */
export const DEFAULT_PROM_PREFIX: string = promPrefix(QEMU_DEFINITION.namespace);
/** Default prefix of OpenTelemetry instrument names. */
export const DEFAULT_OTEL_PREFIX: string = otelPrefix(QEMU_DEFINITION.namespace);

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

