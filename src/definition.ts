/**
 * Definitions of shared statistics: what `defineStats` takes, the checks it makes, and the canonical
 * form that is written into the memory so that any thread can rebuild the stats from the memory alone.
 *
 * A definition is checked once, where it is made, and every message names the field; everything
 * else (the memory layout, the exporters' names, the vectors' labels) derives from the canonical
 * form, which is plain JSON. Two definitions are the same stats exactly when their canonical forms
 * are equal; {@link firstDifference} says where two differ.
 * @packageDocumentation
 */
import { MAX_LANES } from './backend/abi.js';
import { encodeDefinition, type Definition, type MetricSpec } from './backend/definition-format.js';
import { checkDefinition, knownDefinition } from './definition-check.js';
import type { MetricNames } from './definition-names.js';
import { encodeV1, overridesV1 } from './definition-v1.js';
import { typeFault } from './errors.js';
import { expMaxValueOf, type ExponentialHistogramDefinition } from './exponential.js';

// The definition as the memory stores it is the backend's (backend/definition-format.ts); named here too.
export {
  cellCount,
  definitionHash,
  encodeDefinition,
  type Definition,
  type MetricKind,
  type MetricSpec,
  type NameOverrides,
  type RateLimitSpec,
} from './backend/definition-format.js';
export { checkDefinition, maxBuckets, reserveNames, MAX_CELLS, MAX_LENGTH, MAX_METRICS } from './definition-check.js';
export { checkDerived, snakeCase, type MetricNames } from './definition-names.js';

/** A counter or a gauge: one value, or a fixed-length vector of them. */
export interface CounterDefinition {
  readonly kind: 'counter' | 'gauge';
  /** Unit of the value, e.g. `bytes`, `files`, `pages/s`. */
  readonly unit: string;
  /** One line saying what it counts. */
  readonly help: string;
  /** A vector of this many values (1 to 1024), each a `Stat64`; absent: one value. */
  readonly length?: number;
  /** The vector's label when exported, e.g. `worker` (default `index`). */
  readonly label?: string;
  readonly names?: MetricNames;
}

/** A histogram: values counted in buckets, with an exact count and sum; log-linear or exponential. */
export type HistogramDefinition = LogLinearHistogramDefinition | ExponentialHistogramDefinition;

export type { ExponentialHistogramDefinition } from './exponential.js';

/** A histogram with QEMU's log2 buckets, or log-linear ones (`subBuckets`). */
export interface LogLinearHistogramDefinition {
  readonly kind: 'histogram';
  readonly unit: string;
  readonly help: string;
  /**
   * Number of buckets. With `subBuckets` 1 (the default), bucket k counts values in [2^k, 2^(k+1))
   * and 0 goes to bucket 0, as QEMU's `postcopy-latency-dist`; anything past the last bucket counts
   * in the last.
   */
  readonly buckets: number;
  /**
   * Finer buckets: each power of two split into this many (a power of two from 1 to 64); values
   * below it get a bucket each. Relative error of a bucket ≤ 1 / subBuckets.
   */
  readonly subBuckets?: number;
  readonly names?: MetricNames;
  readonly scale?: undefined;
}

/** One metric of a schema. */
export type MetricDefinition = CounterDefinition | HistogramDefinition;

/** What `defineStats` takes: metric name → metric. */
export type StatsSchema = { readonly [name: string]: MetricDefinition };

/** QEMU's rate limiter over the sum of some counters, with its window start and budget in named gauges. */
export interface RateLimitDefinition {
  /** Counters whose sum is the transferred total the limit applies to. */
  readonly counters: readonly string[];
  /** A gauge that holds the total when the current window began (default: a cell of its own). */
  readonly start?: string;
  /** A gauge that holds the budget of one window (default: a cell of its own). */
  readonly max?: string;
}

/** Options of `defineStats`. */
export interface DefineStatsOptions {
  /** QEMU's rate limiter over the sum of these counters (scalar or vector counters). */
  readonly rateLimit?: readonly string[] | RateLimitDefinition;
  /**
   * Where exported names start: `copy` gives Prometheus `copy_…` and OpenTelemetry `copy.…`;
   * dots separate words (`qemu.migration`). Default: none.
   */
  readonly namespace?: string;
  /**
   * Lanes for the adds of different threads (1 to 64). Default: twice the engine's
   * `hardwareConcurrency` rounded up to a power of two, from 4 to 64. More lanes than threads that
   * add at once cost reads and memory, and win nothing.
   */
  readonly lanes?: number;
}

/** The default lane count: twice the cores, rounded up to a power of two, from 4 to 64. */
export function defaultLanes(): number {
  const g = globalThis as { navigator?: { hardwareConcurrency?: unknown }; process?: { getBuiltinModule?: (id: string) => unknown } };
  let cores = g.navigator?.hardwareConcurrency;
  if (typeof cores !== 'number') {
    // Node before 21 has no navigator; its os module says the same.
    const os = g.process?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
    cores = os?.availableParallelism?.();
  }
  const n = typeof cores === 'number' && Number.isInteger(cores) && cores > 0 ? cores : 8;
  let lanes = 4;
  while (lanes < 2 * n && lanes < MAX_LANES) lanes *= 2;
  return lanes;
}

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/**
 * Rebuilds a definition from the JSON a memory holds, with the same checks as `defineStats`: in
 * this version's form, or in 0.2.0's (format 1, see definition-v1.ts).
 * @throws TypeError saying what is wrong with it
 */
export const decodeDefinition = (function (json: string): Definition {
  const seen = knownDefinition(json);
  if (seen !== undefined) return seen;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw typeFault(`the memory's definition is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const stored = parsed as Partial<Omit<Definition, 'format'>> & { format?: unknown } | null;
  const v1 = stored?.format === 1;
  if (stored === null || typeof stored !== 'object' || (stored.format !== 2 && !v1) || !Array.isArray(stored.metrics)) {
    throw typeFault(`the memory's definition is not one this version of migration-stats reads`);
  }
  const schema: Record<string, MetricDefinition> = {};
  for (const m of stored.metrics as MetricSpec[]) {
    if (m === null || typeof m !== 'object' || typeof m.name !== 'string') throw typeFault(`the memory's definition has a metric without a name`);
    const names = { c: m.cName, ...(v1 ? overridesV1(m) : m.names) };
    const maxValue = m.kind === 'histogram' && m.scale !== undefined ? expMaxValueOf(m.buckets, m.scale) : undefined;
    schema[m.name] =
      m.kind === 'histogram' && m.scale !== undefined
        ? { kind: m.kind, unit: m.unit, help: m.help, scale: m.scale, ...(maxValue === undefined ? {} : { maxValue }), names }
        : m.kind === 'histogram'
        ? { kind: m.kind, unit: m.unit, help: m.help, buckets: m.buckets, subBuckets: 2 ** m.subBits, names }
        : { kind: m.kind, unit: m.unit, help: m.help, ...(m.length > 0 ? { length: m.length, label: m.label } : {}), names };
  }
  const options: Record<string, unknown> = {};
  if (stored.namespace) options.namespace = stored.namespace;
  if (stored.rateLimit) {
    const { counters, start, max } = stored.rateLimit;
    options.rateLimit = { counters, ...(start ? { start } : {}), ...(max ? { max } : {}) };
  }
  const { definition } = checkDefinition(schema, options);
  if ((v1 ? encodeV1(definition) : encodeDefinition(definition)) !== json) throw typeFault(`the memory's definition is not in canonical form`);
  return definition;
});

/**
 * Where two definitions first differ, in words ("schema.bytesPerWorker.length is 8 here and 4 in
 * the memory"), or `undefined` when they are the same.
 */
export const firstDifference = (function (here: Definition, there: Definition): string | undefined {
  if (here === there) return undefined;
  if (here.namespace !== there.namespace) return `the namespace is ${JSON.stringify(here.namespace)} here and ${JSON.stringify(there.namespace)} in the memory`;
  const n = Math.max(here.metrics.length, there.metrics.length);
  for (let i = 0; i < n; i++) {
    const a = here.metrics[i];
    const b = there.metrics[i];
    if (!a || !b) {
      return a ? `schema.${a.name} is not in the memory's definition` : `the memory's definition has schema.${b!.name}, which this one has not`;
    }
    if (a.name !== b.name) return `metric ${i + 1} is schema.${a.name} here and schema.${b.name} in the memory`;
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof MetricSpec>) {
      if (key === 'names' ? JSON.stringify(a.names) !== JSON.stringify(b.names) : a[key] !== b[key]) return `schema.${a.name}.${key} is ${JSON.stringify(a[key])} here and ${JSON.stringify(b[key])} in the memory`;
    }
  }
  const ra = JSON.stringify(here.rateLimit);
  const rb = JSON.stringify(there.rateLimit);
  if (ra !== rb) return `options.rateLimit is ${ra} here and ${rb} in the memory`;
  return undefined;
});
