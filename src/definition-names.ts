/**
 * The names a metric takes outside the schema: its C name, and its Prometheus and OpenTelemetry
 * names and unit, given in `names` or derived from the metric's name and unit; and the check that
 * no two metrics of a definition export under one name.
 * @packageDocumentation
 */
import type { MetricSpec } from './backend/definition-format.js';
import { entries, text } from './definition-fields.js';
import { describe, typeFault } from './errors.js';

/** Names a metric takes elsewhere, when the derived ones do not fit. */
export interface MetricNames {
  /** The C name it mirrors (`Stat64.cName`); default: the name in snake_case. */
  readonly c?: string;
  /** Prometheus family name after the prefix, without `_total`; default: snake_case, plus the unit (bytes, seconds, …) when the name does not have it. */
  readonly prometheus?: string;
  /** OpenTelemetry instrument name after the prefix; default: the C name. */
  readonly otel?: string;
  /** OpenTelemetry unit (UCUM); default: derived from `unit` (`bytes` → `By`, `pages` → `{pages}`). */
  readonly otelUnit?: string;
}

const C_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
const PROM_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]{0,127}$/;
const OTEL_NAME = /^[A-Za-z][A-Za-z0-9_.\-/]{0,127}$/;
const OTEL_UNIT = /^[\x21-\x7e]{1,63}$/;

/** Units Prometheus names carry as a suffix: its base units. */
const BASE_UNITS: ReadonlySet<string> = new Set(['bytes', 'seconds']);

/** Units with a UCUM symbol (the exporters write OpenMetrics `# UNIT` lines where a name ends with one). */
export const KNOWN_UNITS: Readonly<Record<string, string>> = {
  bytes: 'By',
  seconds: 's',
  milliseconds: 'ms',
  microseconds: 'us',
  nanoseconds: 'ns',
};

/** `bytesCopied` → `bytes_copied`. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

/** The Prometheus prefix of a namespace: `qemu.migration` → `qemu_migration_`. */
export function promPrefix(namespace: string): string {
  return namespace === '' ? '' : `${namespace.replace(/\./g, '_')}_`;
}

/** The OpenTelemetry prefix of a namespace: `qemu.migration` → `qemu.migration.`. */
export function otelPrefix(namespace: string): string {
  return namespace === '' ? '' : `${namespace}.`;
}

/** What each name of a metric must be: given or derived, the memory's definition is read back with these. */
const NAME_RULES: Readonly<Record<keyof MetricNames, readonly [pattern: RegExp, what: string, allowed: string]>> = {
  c: [C_NAME, 'C name', 'a C identifier in snake_case (a lowercase letter or _, then lowercase letters, digits, _), at most 64 characters'],
  prometheus: [PROM_NAME, 'Prometheus name', `a Prometheus metric name (matching ${PROM_NAME.source})`],
  otel: [OTEL_NAME, 'OpenTelemetry name', 'an OpenTelemetry instrument name (a letter, then letters, digits, _ . - /), at most 128 characters'],
  otelUnit: [OTEL_UNIT, 'OpenTelemetry unit', 'printable ASCII without spaces, 1 to 63 characters'],
};

/** The names given in a metric's `names`, each checked. */
export function checkNames(path: string, value: unknown): MetricNames {
  if (value === undefined) return {};
  const out: Record<string, string> = {};
  const rules: Record<string, readonly [RegExp, string, string]> = NAME_RULES;
  for (const [key, v] of entries(path, value, "{ prometheus: 'bytes_copied' }")) {
    const rule = rules[key];
    if (!rule) throw typeFault(`${path}.${key} is not a name a metric takes; the names are ${Object.keys(rules).join(', ')}`);
    out[key] = text(`${path}.${key}`, v, rule[0], rule[2]);
  }
  return out;
}

/** The names of metric `name` in `unit`: those given in `names`, the others derived. */
export function resolveNames(path: string, name: string, unit: string, names: MetricNames): Required<MetricNames> {
  const cName = names.c ?? snakeCase(name);
  const known = KNOWN_UNITS[unit];
  // Prometheus wants a base unit in the name (bytes, seconds): added at the end unless the name has it
  // as a word already. Other time units are left out of the name, where promtool would refuse them.
  const suffix = BASE_UNITS.has(unit) && !cName.split('_').includes(unit) ? `_${unit}` : '';
  const resolved: Required<MetricNames> = {
    c: cName,
    prometheus: names.prometheus ?? cName + suffix,
    otel: names.otel ?? cName,
    otelUnit: names.otelUnit ?? known ?? `{${unit}}`,
  };
  // A derived name must pass the rules a given one does, or no thread could read the definition back.
  for (const key of Object.keys(NAME_RULES) as (keyof MetricNames)[]) {
    const [pattern, what, allowed] = NAME_RULES[key];
    if (names[key] === undefined && !pattern.test(resolved[key])) {
      throw typeFault(`${path} derives the ${what} ${describe(resolved[key])}, which is not ${allowed}; give one in ${path}.names.${key}`);
    }
  }
  return resolved;
}

/** Every sample name a metric makes in Prometheus' text format, for clashes between metrics. */
function sampleNames(prefix: string, metric: MetricSpec): string[] {
  const family = prefix + metric.promName;
  if (metric.kind === 'histogram') return [`${family}_bucket`, `${family}_sum`, `${family}_count`, family];
  return metric.kind === 'counter' ? [`${family}_total`, family] : [family];
}

/**
 * Refuses two metrics that export under one name, in Prometheus (every sample name of a family)
 * or in OpenTelemetry (instrument names, case-insensitive).
 */
export function checkExportNames(namespace: string, metrics: readonly MetricSpec[]): void {
  const prefix = promPrefix(namespace);
  const samples = new Map<string, string>();
  for (const metric of metrics) {
    for (const sample of sampleNames(prefix, metric)) {
      const other = samples.get(sample);
      if (other !== undefined && other !== metric.name) {
        throw typeFault(`schema.${metric.name} and schema.${other} both export the Prometheus name ${sample}`);
      }
      samples.set(sample, metric.name);
    }
  }
  // OpenTelemetry instrument names are case-insensitive: two that differ only in case are one.
  const instruments = new Map<string, string>();
  for (const metric of metrics) {
    const instrument = otelPrefix(namespace) + metric.otelName;
    const other = instruments.get(instrument.toLowerCase());
    if (other !== undefined) throw typeFault(`schema.${metric.name} and schema.${other} both export the OpenTelemetry name ${instrument}`);
    instruments.set(instrument.toLowerCase(), metric.name);
  }
}
