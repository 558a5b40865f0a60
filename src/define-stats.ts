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
import { LAYOUT_VERSION } from './backend/abi.js';
import type { BackendName, Core } from './backend/core.js';
import { writeExpTable } from './backend/exp-index.js';
import { definitionBytes, readHeader, writeHeader } from './backend/header.js';
import { JsCore } from './backend/js-core.js';
import { claimLane, forgetLane, releaseLane, releaseWhenCollected } from './backend/lanes.js';
import { planLayout, type Layout } from './backend/layout.js';
import { compileCore, LayoutVersionError, wasmCore } from './backend/wasm-core.js';
import {
  checkDefinition,
  decodeDefinition,
  defaultLanes,
  firstDifference,
  reserveNames,
  type DefineStatsOptions,
  type Definition,
  type MetricDefinition,
  type StatsSchema,
} from './definition.js';
import { ATTACH_ANY, atEntry, cannotShareError, describe, entry, explainCompileError, handleError, optionError, rangeFault, toU64 } from './errors.js';
import { checkHandle, makeHandle, type StatsHandle } from './handle.js';
import type { Histogram } from './histogram.js';
import { readOptions, type OptionSpec } from './options.js';
import { kindOf, type Built, type KindDescription } from './kinds.js';
import { Limiter } from './limiter.js';
import type { Stat64 } from './stat64.js';
import type { StatVector } from './vector.js';

/** Options of `create` and `attach`. */
export interface StatsOptions {
  /** `'wasm'` (default): the AssemblyScript core; `'js'`: `Atomics` on a `BigUint64Array`. */
  backend?: BackendName;
  /**
   * Claim a lane for this instance's adds (default `true`). A thread that only reads may pass
   * `false` to leave the lanes to writers.
   */
  lane?: boolean;
}

const OPTIONS: OptionSpec<StatsOptions> = { names: { backend: true, lane: true }, example: "{ backend: 'wasm' | 'js' }" };
const BACKENDS: readonly BackendName[] = ['wasm', 'js'];

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/** Checks `create`/`attach` options. @internal */
export const checkStatsOptions = (function (options: unknown): Required<StatsOptions> {
  const { backend = 'wasm', lane = true } = readOptions(options, OPTIONS);
  if (!BACKENDS.includes(backend)) throw optionError('options.backend', backend, "'wasm' or 'js'");
  if (typeof lane !== 'boolean') throw optionError('options.lane', lane, 'true or false');
  return { backend, lane };
});

/** Any metric of a stats object. */
export type Metric = Stat64 | StatVector | Histogram;

/** The metric a schema entry makes. */
export type MetricOf<M extends MetricDefinition> = M extends { kind: 'histogram' } ? Histogram : M extends { length: number } ? StatVector : Stat64;

/** The stats object a schema makes: its metrics by name, and the rate limiter when declared. */
export type StatsOf<S extends StatsSchema, O extends DefineStatsOptions = DefineStatsOptions> = (O extends { rateLimit: unknown }
  ? RateLimitedStats
  : SharedStats) & {
  readonly [K in keyof S]: MetricOf<S[K]>;
};

/** QEMU's rate limiter (`migration-stats.h`) over the sum of the counters a definition names. */
export interface RateLimiter {
  /**
   * `migration_rate_set()`: the limit in bytes per second; stores `floor(bytesPerSecond / 10)` as the
   * budget of one 100 ms window (0 to 9 store 0: unlimited). It does not start a new window.
   * @throws TypeError or RangeError for anything but an unsigned 64-bit integer; the limit is then unchanged
   */
  rateSet(bytesPerSecond: bigint | number): void;
  /** `migration_rate_get()`: the budget of one window in bytes. */
  rateGet(): bigint;
  /** `migration_rate_reset()`: starts a new window at the current {@link RateLimiter.transferredBytes}. */
  rateReset(): void;
  /**
   * `migration_rate_exceeded()`: whether the current window's budget is spent (strictly more used
   * than the budget); `true` when `fileError` says the stream failed, `false` when no limit is set.
   * @param fileError - `undefined`, `0`, `0n`, `null` or `false` mean no error; anything else means the stream failed
   */
  rateExceeded(fileError?: unknown): boolean;
  /** The sum of the limited counters, mod 2^64 (QEMU's `migration_transferred_bytes()`). */
  transferredBytes(): bigint;
}

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

/** What the constructor of a stats class must be given: made only here. @internal */
export const STATS_TOKEN = Symbol('SharedStats');
const TOKEN = STATS_TOKEN;

/** What a stats object is built from. @internal */
export interface StatsParts {
  readonly core: Core;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly definition: Definition;
  readonly layout: Layout;
  /** Whether the memory came from a handle (attach), rather than made here (create). */
  readonly fromHandle: boolean;
}

/** The constructor as this module calls it (it is protected to everyone else). */
type StatsConstructor = new (token: symbol, parts: StatsParts, claim: boolean) => SharedStats;

/** Marks stats objects across copies of this library (a browser bundle carries its own classes). */
const BRAND = Symbol.for('migration-stats.SharedStats');

/** Every JS core of this thread, by memory (one per memory, so call sites stay monomorphic). */
const jsCores = new WeakMap<WebAssembly.Memory, JsCore>();

const makeCore = (function (backend: BackendName, module: WebAssembly.Module, memory: WebAssembly.Memory): Core {
  if (backend === 'js') {
    let core = jsCores.get(memory);
    if (!core) jsCores.set(memory, (core = new JsCore(memory.buffer)));
    return core;
  }
  try {
    return wasmCore(module, memory);
  } catch (error) {
    if (error instanceof WebAssembly.LinkError) throw handleError(`.memory does not fit the Wasm core (${error.message})`);
    if (error instanceof LayoutVersionError) {
      throw handleError(`.module is built for layout version ${String(error.version)}; this version of migration-stats reads layout version ${LAYOUT_VERSION}`);
    }
    // WebKit's CSP lets the module compile and refuses the instance.
    throw explainCompileError(error);
  }
});

/**
 * Makes a new memory for `definition` with `lanes` lanes, writes its header, and returns the parts.
 * @internal
 */
export async function createParts(definition: Definition, lanes: number, backend: BackendName): Promise<StatsParts> {
  const json = definitionBytes(definition);
  const layout = planLayout(definition, lanes, json.length);
  if (typeof layout === 'string') throw rangeFault(`the definition does not fit: ${layout}`);
  const memory = new WebAssembly.Memory({ initial: layout.pages, maximum: layout.pages, shared: true });
  let module: WebAssembly.Module;
  try {
    // Chromium and Firefox reject the compile under a CSP without 'wasm-unsafe-eval' (caught here
    // also if thrown at once); WebKit refuses the instance instead (makeCore).
    module = await compileCore();
  } catch (error) {
    throw explainCompileError(error);
  }
  const core = makeCore(backend, module, memory);
  // Before the header's magic: no thread can attach a memory whose table is not written yet.
  if (layout.tableBytes > 0) writeExpTable(memory.buffer, layout.tableOffset);
  writeHeader(memory.buffer, layout, json);
  return { core, memory, module, definition, layout, fromHandle: false };
}

/**
 * Checks a handle and its memory's header and returns the parts.
 * @param maker - what makes such memories, for the message about a blank one
 * @internal
 */
export const attachParts = (function (maker: string, handle: unknown, backend: BackendName): StatsParts {
  const { memory, module } = checkHandle(handle);
  const { definition, layout } = readHeader(memory.buffer, maker, decodeDefinition);
  const core = makeCore(backend, module, memory);
  return { core, memory, module, definition, layout, fromHandle: true };
});

/**
 * Builds the metrics of `parts` for lane `lane` and defines each as a property of `stats`. Outside
 * the constructor, and parenthesized, so that V8 compiles it when the module loads.
 */
const buildMetrics = (function (stats: object, parts: StatsParts, lane: number, holder: object) {
  const metrics = new Map<string, Built<Metric> & { readonly kind: KindDescription<Metric> }>();
  for (const entry of parts.layout.metrics) {
    const kind = kindOf(entry.spec) as KindDescription<Metric>;
    const built = { ...kind.build(parts, entry, lane, holder), kind };
    metrics.set(entry.spec.name, built);
    Object.defineProperty(stats, entry.spec.name, { value: built.metric, enumerable: true });
  }
  return metrics;
});

/**
 * A stats object: the metrics of its definition as properties, in shared memory that every thread
 * attached to the same handle sees. Made by {@link defineStats}' `create` and `attach`, and by
 * {@link attachStats}.
 */
export class SharedStats {
  /** The backend this instance runs on. */
  readonly backend: BackendName;
  /** The canonical definition the memory holds. */
  readonly definition: Definition;
  readonly #handle: StatsHandle;
  readonly #core: Core;
  readonly #layout: Layout;
  readonly #metrics: ReadonlyMap<string, Built<Metric> & { readonly kind: KindDescription<Metric> }>;
  readonly #holder: object = {};
  /** The rate limiter, or null when the definition declares none. */
  readonly #limiter: Limiter | null;
  #lane: number;
  #ownsLane: boolean;
  /** Whether the garbage collector gives the owned lane back when this instance is dropped. */
  #watched = false;

  /** Stats objects are made by `create` and `attach` (the arguments are internal). */
  protected constructor(...args: unknown[]) {
    const [token, parts, claim] = args as [symbol, StatsParts, boolean];
    if (token !== TOKEN) throw new TypeError('SharedStats: stats are made by create() and attach(); there is no constructor');
    this.backend = parts.core.backend;
    this.definition = parts.definition;
    this.#handle = makeHandle(parts.memory, parts.module);
    this.#core = parts.core;
    this.#layout = parts.layout;
    this.#limiter = Limiter.of(parts.core, parts.layout, parts.definition.rateLimit);
    const buffer = parts.memory.buffer;
    const claimed = claim ? claimLane(buffer, parts.layout.lanes) : undefined;
    this.#lane = claimed?.lane ?? -1;
    this.#ownsLane = claimed?.owned ?? false;
    // Made from a handle, the memory is known elsewhere: watch for this instance being dropped. A
    // new memory is watched once its handle is read (until then no one else can claim its lanes).
    if (parts.fromHandle) this.#watch();
    this.#metrics = buildMetrics(this, parts, this.#lane, this.#holder);
    Object.defineProperty(this, BRAND, { value: LAYOUT_VERSION });
    // A class of its own (MigrationStats) adds its properties, then freezes.
    if (new.target === SharedStats || new.target === RateLimitedStats) Object.freeze(this);
  }

  /**
   * Whether `value` is a stats object of this library (from this copy or another copy of the same
   * layout version, such as a browser bundle, where `instanceof` would say no).
   */
  static isStats(value: unknown): value is SharedStats {
    try {
      return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === LAYOUT_VERSION;
    } catch {
      return false;
    }
  }

  /**
   * Whether `value` is a stats object made by this copy of the library: by its private fields, which
   * a Proxy, a copy or an object of another copy does not have. Never throws.
   * @internal
   */
  static isInstance(value: unknown): value is SharedStats {
    return typeof value === 'object' && value !== null && #holder in value;
  }

  /**
   * Pass this to other threads (`postMessage`) and to `attach`.
   * @throws Error saying why, where this thread cannot send shared memory to another (see
   *   `MigrationStats.canShareMemory`)
   */
  get handle(): StatsHandle {
    if (!canShareMemory()) throw cannotShareError();
    this.#watch();
    return this.#handle;
  }

  /** This instance's lane (0 to lanes − 1), or −1 when its adds go to the shared base cells. */
  get lane(): number {
    return this.#lane;
  }

  /**
   * A metric by name.
   * @throws TypeError naming the metrics when the definition has no such one
   */
  metric(name: string): Metric {
    const built = typeof name === 'string' ? this.#metrics.get(name) : undefined;
    if (!built) throw new TypeError(`metric: name must be one of ${[...this.#metrics.keys()].join(', ')}; received ${describe(name)}`);
    return built.metric;
  }

  /** Reads every metric (one atomic read per cell; not one consistent snapshot, as in QEMU). */
  snapshot(): Record<string, bigint | bigint[] | { count: bigint; sum: bigint; buckets: bigint[] }> {
    const out: Record<string, bigint | bigint[] | { count: bigint; sum: bigint; buckets: bigint[] }> = {};
    for (const [name, { metric, kind }] of this.#metrics) out[name] = kind.snapshot(metric);
    return out;
  }

  /**
   * Zeroes every cell, as QEMU's `migrate_init` does when a new migration starts. Call it before
   * writers start: an add racing with it counts either before it (lost) or after it (kept).
   */
  reset(): void {
    const { lanesOffset, geometry } = this.#layout;
    for (const entry of this.#layout.metrics) {
      for (let i = 0; i < entry.cells; i++) {
        const base = entry.base + 8 * i;
        if (entry.lane < 0) this.#core.store(base, 0n);
        else this.#core.lanedWrite(base, lanesOffset + entry.lane + 8 * i, geometry, 0n, 0);
      }
    }
    // The limiter's own cells, when it has them (named gauges were zeroed above).
    this.#limiter?.clear();
  }

  /**
   * Gives this instance's lane back for another thread to claim. Its counts stay (they are part of
   * every value's sum); later adds through this instance go to the shared base cells.
   */
  close(): void {
    if (this.#lane < 0) return;
    if (this.#ownsLane) {
      if (this.#watched) forgetLane(this.#holder);
      releaseLane(this.#handle.memory.buffer, this.#lane);
    }
    this.#lane = -1;
    this.#ownsLane = false;
    for (const { useLane } of this.#metrics.values()) useLane(-1);
  }

  /** Has the owned lane given back when this instance and its metrics are garbage-collected. */
  #watch(): void {
    if (this.#ownsLane && !this.#watched) this.#watched = releaseWhenCollected(this.#holder, this.#handle.memory.buffer, this.#lane);
  }

  /**
   * The rate limiter, for the `rate…` methods of the classes that have one.
   * @throws TypeError, reported as `where`, when the definition declares no rate limit
   * @internal
   */
  protected limiter(where: string): Limiter {
    const limiter = this.#limiter;
    if (limiter === null) throw new TypeError(`${where}: this definition declares no rate limit (defineStats(schema, { rateLimit: ['…'] }))`);
    return limiter;
  }
}

/**
 * The stats of a definition with a rate limit (`defineStats(schema, { rateLimit })`): QEMU's rate
 * limiter (`migration-stats.h`) over the sum of the counters it names, on top of the metrics.
 */
export class RateLimitedStats extends SharedStats implements RateLimiter {
  /**
   * `migration_rate_set()`: the limit in bytes per second; stores `floor(bytesPerSecond / 10)` as the
   * budget of one 100 ms window (0 to 9 store 0: unlimited). It does not start a new window.
   * @param bytesPerSecond - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the limit is then unchanged
   * @example stats.rateSet(1073741824); stats.rateGet() //=> 107374182n
   */
  rateSet(bytesPerSecond: bigint | number): void {
    const limiter = this.limiter('rateSet');
    limiter.set(entry('rateSet', () => toU64('bytesPerSecond', bytesPerSecond)));
  }

  /** `migration_rate_get()`: the budget of one window in bytes. */
  rateGet(): bigint {
    return this.limiter('rateGet').get();
  }

  /** `migration_rate_reset()`: starts a new window at the current {@link RateLimitedStats.transferredBytes}. */
  rateReset(): void {
    this.limiter('rateReset').reset();
  }

  /**
   * `migration_rate_exceeded()`: whether the current window's budget is spent.
   * @param fileError - the stream's error: `undefined`, `0`, `0n`, `null` or `false` mean none;
   *   anything else means the stream failed, and the answer is then `true` even with no limit set
   * @returns `true` when the stream failed, else `false` when no limit is set, else whether more
   *   than the budget was sent since the window began
   */
  rateExceeded(fileError?: unknown): boolean {
    return this.limiter('rateExceeded').exceeded(fileError);
  }

  /** The sum of the limited counters, mod 2^64 (QEMU's `migration_transferred_bytes()`). */
  transferredBytes(): bigint {
    return this.limiter('transferredBytes').transferred();
  }
}

reserveNames(['handle', 'lane', 'backend', 'definition', 'metric', 'snapshot', 'reset', 'close']);
reserveNames(Object.getOwnPropertyNames(SharedStats.prototype));
reserveNames(Object.getOwnPropertyNames(RateLimitedStats.prototype));

/**
 * Whether this thread can send shared memory to another one, i.e. whether a stats object's `handle`
 * is available. `true` where the engine exposes `SharedArrayBuffer` (Node, Bun, Deno, and browser
 * pages that are cross-origin isolated, with their workers); single-thread use works either way.
 */
export function canShareMemory(): boolean {
  // Browsers hide the SharedArrayBuffer global exactly where they refuse to post one (a page that
  // is not cross-origin isolated), and expose it where they allow it without isolation (an
  // enterprise policy). An engine with SharedArrayBuffer turned off lacks it even on an isolated
  // page, and refuses the post there too: `crossOriginIsolated` alone says nothing.
  return typeof SharedArrayBuffer === 'function';
}

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
  const { definition, lanes } = entry('defineStats', () => checkDefinition(schema, options));
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
  return new Class(TOKEN, parts, lane);
});

/** Classes with a definition of their own (MigrationStats) that attachStats returns for it. @internal */
const statsMakers: { matches(definition: Definition): boolean; make(parts: StatsParts, lane: boolean): SharedStats }[] = [];

/** Registers a class that attachStats makes for memories of its definition. @internal */
export function registerStatsClass(maker: (typeof statsMakers)[number]): void {
  statsMakers.push(maker);
}
