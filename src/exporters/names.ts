/**
 * The names a metric is exported under, derived here from what the definition says the metric is
 * (its C name, unit and kind) unless its schema gave them in `names`: the memory carries no
 * exporter's names, so an exporter of another system derives its own beside these.
 *
 * Prometheus: the C name, plus its base unit (`_bytes`, `_seconds`) when the name does not have it
 * as a word; a counter's samples add `_total`, a histogram's `_bucket`, `_sum`, `_count`.
 * OpenTelemetry: the C name, the unit in UCUM (`By`, `s`, `ms`, `us`, `ns`), or as an annotation
 * (`{files}`) for any other unit.
 * @packageDocumentation
 */
import { checkDerived, type Definition, type MetricSpec } from '../definition.js';
import { typeFault } from '../errors.js';

/** A metric's names in each system, after the prefix. */
export interface ExportNames {
  /** Prometheus family name, without `_total`. */
  readonly prometheus: string;
  /** OpenTelemetry instrument name. */
  readonly otel: string;
  /** OpenTelemetry unit (UCUM). */
  readonly otelUnit: string;
}

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

/** The Prometheus prefix of a namespace: `qemu.migration` → `qemu_migration_`. */
export function promPrefix(namespace: string): string {
  return namespace === '' ? '' : `${namespace.replace(/\./g, '_')}_`;
}

/** The OpenTelemetry prefix of a namespace: `qemu.migration` → `qemu.migration.`. */
export function otelPrefix(namespace: string): string {
  return namespace === '' ? '' : `${namespace}.`;
}

/** The names of one metric: those its schema gave, the others derived (and checked: a derived one may not fit). */
function namesOf(spec: MetricSpec): ExportNames {
  const { cName, unit, names } = spec;
  // Prometheus wants a base unit in the name (bytes, seconds): added at the end unless the name has it
  // as a word already. Other time units are left out of the name, where promtool would refuse them.
  const suffix = BASE_UNITS.has(unit) && !cName.split('_').includes(unit) ? `_${unit}` : '';
  // A unit's own key only: `constructor` is a unit like any other.
  const ucum = Object.prototype.hasOwnProperty.call(KNOWN_UNITS, unit) ? KNOWN_UNITS[unit]! : `{${unit}}`;
  const derived: ExportNames = { prometheus: cName + suffix, otel: cName, otelUnit: ucum };
  for (const key of Object.keys(derived) as (keyof ExportNames)[]) {
    if (names[key] === undefined) checkDerived(`schema.${spec.name}`, key, derived[key]);
  }
  return Object.freeze({ ...derived, ...names });
}

/** Every sample name a metric makes in Prometheus' text format, for clashes between metrics. */
function sampleNames(family: string, kind: MetricSpec['kind']): string[] {
  if (kind === 'histogram') return [`${family}_bucket`, `${family}_sum`, `${family}_count`, family];
  return kind === 'counter' ? [`${family}_total`, family] : [family];
}

/**
 * Refuses two metrics that export under one name, in Prometheus (every sample name of a family)
 * or in OpenTelemetry (instrument names, case-insensitive).
 */
function checkClashes(definition: Definition, names: readonly ExportNames[]): void {
  const prefix = promPrefix(definition.namespace);
  const samples = new Map<string, string>();
  definition.metrics.forEach((metric, i) => {
    for (const sample of sampleNames(prefix + names[i]!.prometheus, metric.kind)) {
      const other = samples.get(sample);
      if (other !== undefined && other !== metric.name) {
        throw typeFault(`schema.${metric.name} and schema.${other} both export the Prometheus name ${sample}`);
      }
      samples.set(sample, metric.name);
    }
  });
  // OpenTelemetry instrument names are case-insensitive: two that differ only in case are one.
  const instruments = new Map<string, string>();
  definition.metrics.forEach((metric, i) => {
    const instrument = otelPrefix(definition.namespace) + names[i]!.otel;
    const other = instruments.get(instrument.toLowerCase());
    if (other !== undefined) throw typeFault(`schema.${metric.name} and schema.${other} both export the OpenTelemetry name ${instrument}`);
    instruments.set(instrument.toLowerCase(), metric.name);
  });
}

/** The names of each definition, by metric name, made and checked once. */
const named = new WeakMap<Definition, ReadonlyMap<string, ExportNames>>();

/**
 * The export names of every metric of `definition`, by metric name: checked on first use (a
 * derived name its system refuses, two metrics under one name), then kept.
 * @throws TypeError naming the metric and the name (`defineStats` asks this of every definition it makes)
 */
export function exportNames(definition: Definition): ReadonlyMap<string, ExportNames> {
  let found = named.get(definition);
  if (found === undefined) {
    const names = definition.metrics.map(namesOf);
    checkClashes(definition, names);
    found = new Map(definition.metrics.map((metric, i) => [metric.name, names[i]!]));
    named.set(definition, found);
  }
  return found;
}

/** The export names of one metric of `definition`. */
export function namesOfMetric(definition: Definition, spec: MetricSpec): ExportNames {
  return exportNames(definition).get(spec.name)!;
}
