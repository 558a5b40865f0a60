/**
 * Your own statistics in shared memory: `defineStats` turns a schema into a definition whose
 * `create()` makes the memory and whose `attach(handle)` joins it from any thread; `attachStats`
 * joins a memory from a thread that never saw the definition, which the memory carries.
 *
 * Every stats object is a {@link SharedStats}: its metrics are properties named as in the schema
 * ({@link Stat64} for counters and gauges, {@link StatVector} for vectors, {@link Histogram} for
 * histograms), plus the handle, the lane, `close`, `snapshot`, `reset` and, when the definition
 * declares one, QEMU's rate limiter over the sum of some counters.
 * @packageDocumentation
 */
import { definitionBytes } from './backend/header.js';
import { planLayout } from './backend/layout.js';
import { checkDefinition, defaultLanes, firstDifference, type DefineStatsOptions, type Definition, type MetricDefinition, type StatsSchema } from './definition.js';
import { ATTACH_ANY, atEntry, entry, handleError } from './errors.js';
import { exportNames } from './exporters/names.js';
import type { StatsHandle } from './handle.js';
import type { Histogram } from './histogram.js';
import type { TypedReadings } from './interval.js';
import { RateLimitedStats, SharedStats, STATS_TOKEN } from './defined-stats.js';
import type { Stat64 } from './stat64.js';
import { attachParts, checkStatsOptions, createParts, type StatsOptions, type StatsParts } from './stats-parts.js';
import type { StatVector } from './vector.js';

export { canShareMemory, RateLimitedStats, SharedStats, type Metric, type RateLimiter } from './defined-stats.js';
export type { StatsOptions } from './stats-parts.js';


/** The metric a schema entry makes. */
export type MetricOf<M extends MetricDefinition> = M extends { kind: 'histogram' } ? Histogram : M extends { length: number } ? StatVector : Stat64;

/** The stats object a schema makes: its metrics by name, and the rate limiter when declared. */
export type StatsOf<S extends StatsSchema, O extends DefineStatsOptions = DefineStatsOptions> = TypedReadings<S> &
  (O extends { rateLimit: unknown } ? RateLimitedStats : SharedStats) & {
    readonly [K in keyof S]: MetricOf<S[K]>;
  };

/** A definition made by {@link defineStats}: makes and joins its stats. */
export interface StatsDefinition<S extends StatsSchema = StatsSchema, O extends DefineStatsOptions = DefineStatsOptions> {
  /** The canonical definition, as the memory records it. */
  readonly definition: Definition;
  /**
   * Makes new stats, all zero, in a new shared memory.
   * @throws TypeError for unknown options; Error naming `'wasm-unsafe-eval'` when a page's CSP forbids WebAssembly
   */
  create(options?: StatsOptions): Promise<StatsOf<S, O>>;
  /**
   * Joins the stats of a handle made by `create()` of this definition, in this or another thread.
   * @throws TypeError when the handle is not a live one, or its memory holds another definition
   *   (the message names the first difference)
   */
  attach(handle: StatsHandle, options?: StatsOptions): Promise<StatsOf<S, O>>;
}

/** The constructor as this module calls it (it is protected to everyone else). */
type StatsConstructor = new (token: symbol, parts: StatsParts, claim: boolean) => SharedStats;

/**
 * Defines your own statistics: counters, gauges, vectors of them and histograms, in shared memory,
 * optionally with QEMU's rate limiter over the sum of some counters. The definition is checked here,
 * once; every error names the field.
 * @param schema - metric name → `{ kind, unit, help, … }` (see {@link MetricDefinition})
 * @param options - `rateLimit`, `namespace`, `lanes` (see {@link DefineStatsOptions})
 * @returns the definition, whose `create()` and `attach(handle)` make and join its stats
 * @throws TypeError or RangeError naming the first field that is not allowed
 * @example
 * const CopyStats = defineStats({
 *   bytesCopied: { kind: 'counter', unit: 'bytes', help: 'Bytes written to the destination' },
 *   copyLatency: { kind: 'histogram', unit: 'microseconds', help: 'Time to copy one file', buckets: 24 },
 * }, { rateLimit: ['bytesCopied'] });
 * const stats = await CopyStats.create();
 * stats.bytesCopied.add(4096);
 * stats.copyLatency.record(130);
 */
export function defineStats<const S extends StatsSchema, const O extends DefineStatsOptions = Record<never, never>>(
  schema: S,
  options?: O,
): StatsDefinition<S, O> {
  const { definition, lanes } = entry('defineStats', () => {
    const checked = checkDefinition(schema, options);
    // The names the exporters derive are checked here too, where the definition is made.
    exportNames(checked.definition);
    return checked;
  });
  const laneCount = lanes ?? defaultLanes();
  const fits = planLayout(definition, 64, definitionBytes(definition).length);
  if (typeof fits === 'string') throw new RangeError(`defineStats: the schema does not fit in a memory: ${fits}`);
  return Object.freeze({
    definition,
    async create(createOptions?: StatsOptions) {
      try {
        const { backend, lane } = checkStatsOptions(createOptions);
        const parts = await createParts(definition, laneCount, backend);
        return construct(parts, lane) as StatsOf<S, O>;
      } catch (error) {
        throw atEntry('create', error);
      }
    },
    async attach(handle: StatsHandle, attachOptions?: StatsOptions) {
      return entry('attach', () => {
        const { backend, lane } = checkStatsOptions(attachOptions);
        const parts = attachParts('create()', handle, backend);
        const difference = firstDifference(definition, parts.definition);
        if (difference !== undefined) throw handleError(`.memory holds another definition: ${difference}; ${ATTACH_ANY}`);
        return construct(parts, lane) as StatsOf<S, O>;
      });
    },
  });
}

/**
 * Joins the stats of any handle, from a thread that never saw their definition: the memory carries
 * it. Metrics are properties by name as in the definition (and through `metric(name)`).
 * @throws TypeError when the handle is not a live one of this library
 */
export const attachStats = (async function (handle: StatsHandle, options?: StatsOptions): Promise<SharedStats> {
  return entry('attachStats', () => {
    const { backend, lane } = checkStatsOptions(options);
    const parts = attachParts('create()', handle, backend);
    for (const maker of statsMakers) if (maker.matches(parts.definition)) return maker.make(parts, lane);
    return construct(parts, lane);
  });
});

/** The stats object of a definition: with the rate limiter's methods when it declares one. */
const construct = (function (parts: StatsParts, lane: boolean): SharedStats {
  const Class = (parts.definition.rateLimit ? RateLimitedStats : SharedStats) as unknown as StatsConstructor;
  return new Class(STATS_TOKEN, parts, lane);
});

/** Classes with a definition of their own (MigrationStats) that attachStats returns for it. @internal */
const statsMakers: { matches(definition: Definition): boolean; make(parts: StatsParts, lane: boolean): SharedStats }[] = [];

/** Registers a class that attachStats makes for memories of its definition. @internal */
export function registerStatsClass(maker: (typeof statsMakers)[number]): void {
  statsMakers.push(maker);
}
