/**
 * The names a schema gives a metric: its C name (part of the metric's identity, given or derived
 * from its name) and the export names it overrides, each checked against the rules of its system.
 * The exporters derive the names not given (src/exporters/names.ts), with the same rules.
 * @packageDocumentation
 */
import type { NameOverrides } from './backend/definition-format.js';
import { entries, text } from './definition-fields.js';
import { describe, typeFault } from './errors.js';

/** Names a metric takes elsewhere, when the derived ones do not fit. */
export interface MetricNames extends NameOverrides {
  /** The C name it mirrors (`Stat64.cName`); default: the name in snake_case. */
  readonly c?: string;
}

const C_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
const PROM_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]{0,127}$/;
const OTEL_NAME = /^[A-Za-z][A-Za-z0-9_.\-/]{0,127}$/;
const OTEL_UNIT = /^[\x21-\x7e]{1,63}$/;

/** `bytesCopied` → `bytes_copied`. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

/** What each name of a metric must be, given or derived: pattern, what it is, what is allowed. */
export const NAME_RULES: Readonly<Record<keyof MetricNames, readonly [pattern: RegExp, what: string, allowed: string]>> = {
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

/**
 * Refuses a derived name that its system does not allow, asking for one in `names`.
 * @param path - the metric (`schema.bytesCopied`)
 */
export function checkDerived(path: string, key: keyof MetricNames, derived: string): void {
  const [pattern, what, allowed] = NAME_RULES[key];
  if (!pattern.test(derived)) throw typeFault(`${path} derives the ${what} ${describe(derived)}, which is not ${allowed}; give one in ${path}.names.${key}`);
}

/** The C name of metric `name`: the one given, or its name in snake_case. */
export function resolveCName(path: string, name: string, names: MetricNames): string {
  if (names.c !== undefined) return names.c;
  const derived = snakeCase(name);
  checkDerived(path, 'c', derived);
  return derived;
}

/** The export names given, in canonical order (the C name aside). */
export function overridesOf(names: MetricNames): NameOverrides {
  const { prometheus, otel, otelUnit } = names;
  return Object.freeze({
    ...(prometheus !== undefined ? { prometheus } : {}),
    ...(otel !== undefined ? { otel } : {}),
    ...(otelUnit !== undefined ? { otelUnit } : {}),
  });
}
