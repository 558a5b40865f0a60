/**
 * How metrics are named and typed when exported to a monitoring system: the table of QEMU's 15
 * counters (`METRICS`), and the checks every exporter makes of its names and labels, for the
 * metrics of any definition.
 *
 * Prometheus conventions: snake_case under a prefix, the unit as a suffix (`_bytes`), `_total` on
 * monotonic counters, gauges for the figures QEMU sets rather than adds. OpenTelemetry: dotted
 * names after QEMU's C fields, the unit in UCUM (`By`, `{page}`). The names of a definition's
 * metrics are derived from what each metric is, or given in its schema (names.ts).
 * @packageDocumentation
 */
import { describe, typeFault } from '../errors.js';
import { QEMU_DEFINITION, type CounterName } from '../counters.js';
import type { MetricSpec } from '../definition.js';
import { bucketRange } from '../histogram.js';
import { readRecord } from '../options.js';
import { exportNames, KNOWN_UNITS, otelPrefix, promPrefix } from './names.js';
import type { ExpositionFormat } from './negotiate.js';

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
  QEMU_DEFINITION.metrics.map((spec): MetricInfo => {
    const names = exportNames(QEMU_DEFINITION).get(spec.name)!;
    return Object.freeze({
      counter: spec.name as CounterName,
      promName: names.prometheus,
      type: spec.kind === 'counter' ? 'counter' : 'gauge',
      promUnit: promUnitOf(spec, names.prometheus) as 'bytes' | undefined,
      otelName: names.otel,
      otelUnit: names.otelUnit,
      help: spec.help,
    });
  }),
);

/** Default prefix of Prometheus metric names. */
export const DEFAULT_PROM_PREFIX: string = promPrefix(QEMU_DEFINITION.namespace);
/** Default prefix of OpenTelemetry instrument names. */
export const DEFAULT_OTEL_PREFIX: string = otelPrefix(QEMU_DEFINITION.namespace);

/**
 * The unit an OpenMetrics `# UNIT` line gives a family: the metric's unit when it is one the library
 * names metrics after (bytes, seconds and its fractions) and the family name ends with it, as
 * OpenMetrics requires; otherwise none.
 * @param family - the family name (after the prefix, without `_total`)
 */
export function promUnitOf(spec: MetricSpec, family: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(KNOWN_UNITS, spec.unit) && family.endsWith(`_${spec.unit}`) ? spec.unit : undefined;
}

/**
 * Refuses constant labels (or attributes) that would clash with the labels the exporter adds: a
 * vector's label on its elements' samples and, where `le` is true, the `le` of a histogram's buckets.
 * @param path - the option, for the message (`options.labels`)
 * @param names - the constant labels' names
 * @param metrics - the metrics exported
 * @throws TypeError naming the label and the metric it clashes with
 */
export function checkLabelClashes(path: string, names: readonly string[], metrics: readonly MetricSpec[], le: boolean): void {
  for (const spec of metrics) {
    if (spec.length > 0 && names.includes(spec.label)) {
      throw typeFault(
        `${path}.${spec.label} clashes with the label of the vector ${spec.name}, whose elements are exported with ${spec.label}="0" to ${spec.label}="${spec.length - 1}"; give the constant label another name`,
      );
    }
    if (le && spec.kind === 'histogram' && names.includes('le')) {
      throw typeFault(`${path}.le clashes with the label le of the buckets of the histogram ${spec.name}; give the constant label another name`);
    }
  }
}

/**
 * A number as OpenMetrics writes the `le` of a bucket: Go's shortest `%g` rendering of the float64,
 * with `.0` added when it has neither a point nor an exponent (`1023.0`, `1.048575e+06`), as its
 * rules for canonical numbers say.
 */
function canonicalNumber(value: bigint): string {
  const number = Number(value);
  const [mantissa = '', exponent = '0'] = number.toExponential().split('e');
  const power = Number(exponent);
  if (power < -4 || power >= 6) return `${mantissa}e${power < 0 ? '-' : '+'}${String(Math.abs(power)).padStart(2, '0')}`;
  const fixed = String(number);
  return /[.e]/.test(fixed) ? fixed : `${fixed}.0`;
}

/**
 * The highest value each bucket of a log-linear histogram counts (its upper bound − 1), `null` for
 * the last bucket (open above). Exponential histograms are written sparse (kinds-sparse.ts).
 */
export function bucketHighest(spec: MetricSpec): (bigint | null)[] {
  return Array.from({ length: spec.buckets }, (_, i) => {
    const { upper } = bucketRange(i, spec.buckets, spec.subBits);
    return upper === null ? null : upper - 1n;
  });
}

/**
 * The `le` of each bucket of a log-linear histogram: the highest integer value it counts, exact in
 * the text format and as OpenMetrics' canonical number, and `+Inf` for the last bucket.
 */
export function bucketLabels(spec: MetricSpec, format: ExpositionFormat): string[] {
  return bucketHighest(spec).map((highest) => leText(highest, format));
}

/**
 * A bucket's `le` as a format writes it: the highest integer value the bucket counts, exact in the
 * text format and as OpenMetrics' canonical number; `+Inf` for `null` (a bucket open above).
 */
export function leText(highest: bigint | null, format: ExpositionFormat): string {
  if (highest === null) return '+Inf';
  return format === 'openmetrics' ? canonicalNumber(highest) : String(highest);
}

const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Checks a Prometheus name prefix (empty, or a valid start of a metric name).
 * @throws TypeError naming the option and what is allowed
 */
export function checkPromPrefix(prefix: unknown): string {
  if (typeof prefix === 'string' && (prefix === '' || METRIC_PREFIX.test(prefix))) return prefix;
  throw typeFault(`options.prefix must be '' or match ${METRIC_PREFIX} (a Prometheus metric name start); received ${describe(prefix)}`);
}

/**
 * Reads constant labels once and checks them: names valid and not reserved (`__…`), values strings.
 * @param labels - `options.labels` as given (`undefined` for none)
 * @returns a frozen copy, the only object later reads see
 * @throws TypeError naming the label and what is allowed, or naming `options.labels` when it cannot be read
 */
export function checkLabels(labels: unknown): Readonly<Record<string, string>> {
  if (labels === undefined) return Object.freeze({});
  const copy = readRecord('options.labels', labels, 'an object of label name → string value');
  for (const [name, value] of Object.entries(copy)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      throw typeFault(`options.labels has the name ${JSON.stringify(name)}; label names must match ${LABEL_NAME} and not start with "__"`);
    }
    if (typeof value !== 'string') {
      throw typeFault(`options.labels.${name} must be a string; received ${describe(value)}`);
    }
  }
  return copy as Readonly<Record<string, string>>;
}

