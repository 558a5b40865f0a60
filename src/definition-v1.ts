/**
 * The form 0.2.0 wrote into a memory (`format: 1`): each metric with its export names resolved
 * (`promName`, `otelName`, `otelUnit`). It is read as the names a schema gave where they differ
 * from what 0.2.0 derived, so a memory made by 0.2.0 attaches as the same definition (its C names,
 * units and kinds are the same) and exports under the same names.
 * @packageDocumentation
 */
import type { Definition, MetricSpec, NameOverrides } from './backend/definition-format.js';

/** A metric as 0.2.0 stored it. */
interface MetricV1 extends Omit<MetricSpec, 'names'> {
  readonly promName: string;
  readonly otelName: string;
  readonly otelUnit: string;
}

/** The UCUM symbols 0.2.0 gave units. */
const UNITS_V1: Readonly<Record<string, string>> = { bytes: 'By', seconds: 's', milliseconds: 'ms', microseconds: 'us', nanoseconds: 'ns' };

/**
 * The names 0.2.0 derived for a metric not given any: its rule as it was, kept here with the form
 * it wrote (the exporters' own rule may change; a memory's names may not).
 */
function derivedV1(cName: string, unit: string): Required<NameOverrides> {
  const suffix = (unit === 'bytes' || unit === 'seconds') && !cName.split('_').includes(unit) ? `_${unit}` : '';
  return { prometheus: cName + suffix, otel: cName, otelUnit: Object.prototype.hasOwnProperty.call(UNITS_V1, unit) ? UNITS_V1[unit]! : `{${unit}}` };
}

/** The names of a metric stored by 0.2.0 that its schema must have given: those 0.2.0 would not have derived. */
export function overridesV1(stored: object): Record<string, unknown> {
  const { cName, unit, promName, otelName, otelUnit } = stored as Partial<MetricV1>;
  const derived = derivedV1(String(cName), String(unit));
  return {
    ...(promName !== derived.prometheus ? { prometheus: promName } : {}),
    ...(otelName !== derived.otel ? { otel: otelName } : {}),
    ...(otelUnit !== derived.otelUnit ? { otelUnit } : {}),
  };
}

/** The JSON 0.2.0 wrote for `definition`: what a memory of 0.2.0 holds, byte for byte. */
export function encodeV1(definition: Definition): string {
  const metrics = definition.metrics.map(({ name, kind, unit, help, length, label, buckets, subBits, cName, names }): MetricV1 => {
    const derived = derivedV1(cName, unit);
    const promName = names.prometheus ?? derived.prometheus;
    const otelName = names.otel ?? derived.otel;
    return { name, kind, unit, help, length, label, buckets, subBits, cName, promName, otelName, otelUnit: names.otelUnit ?? derived.otelUnit };
  });
  return JSON.stringify({ format: 1, namespace: definition.namespace, metrics, rateLimit: definition.rateLimit });
}
