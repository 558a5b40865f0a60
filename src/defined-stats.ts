/**
 * The stats object of any definition: {@link SharedStats}, its metrics as properties built on the
 * memory's cells, and {@link RateLimitedStats}, the same with QEMU's rate limiter on top.
 * @packageDocumentation
 */
import { LAYOUT_VERSION } from './backend/abi.js';
import type { BackendName, Core } from './backend/core.js';
import { claimLane, forgetLane, releaseLane, releaseWhenCollected } from './backend/lanes.js';
import type { Layout } from './backend/layout.js';
import { reserveNames, type Definition } from './definition.js';
import { compileByRefusal } from './compile-now.js';
import { cannotShareError, describe, entry, toU64 } from './errors.js';
import { makeHandle, STATS_BRAND as BRAND, type StatsHandle } from './handle.js';
import type { Histogram } from './histogram.js';
import { kindOf, type Built, type KindDescription } from './kinds.js';
import { Limiter } from './limiter.js';
import { intervalInternals, type StatsInterval } from './interval.js';
import type { Stat64 } from './stat64.js';
import type { StatsParts } from './stats-parts.js';
import type { StatVector } from './vector.js';

/** Any metric of a stats object. */
export type Metric = Stat64 | StatVector | Histogram;

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

/** What the constructor of a stats class must be given: made only here. @internal */
export const STATS_TOKEN = Symbol('SharedStats');
const TOKEN = STATS_TOKEN;

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

  /**
   * Reads every metric: one atomic read per cell, a histogram's `count` the total of the buckets
   * read; not one consistent snapshot of all metrics, as in QEMU (docs/stats.md, "Consistent reads").
   */
  snapshot(): Record<string, bigint | bigint[] | { count: bigint; sum: bigint; buckets: bigint[] }> {
    const out: Record<string, bigint | bigint[] | { count: bigint; sum: bigint; buckets: bigint[] }> = {};
    for (const [name, { metric, kind }] of this.#metrics) out[name] = kind.snapshot(metric);
    return out;
  }

  /**
   * A reader of its own, whose `next()` gives what changed since its previous `next()` (the first:
   * since the reader was made), in the shape of {@link SharedStats.snapshot}: counters' and
   * histograms' changes (mod 2^64), gauges as they are now. It never writes the shared memory, so
   * any number of readers each keep their own interval.
   * @returns the reader (see {@link StatsInterval})
   * @throws TypeError when given an argument: it takes none
   */
  interval(): StatsInterval {
    // eslint-disable-next-line prefer-rest-params
    if (arguments.length > 0) throw new TypeError(`interval() takes no arguments; received ${describe(arguments[0])}`);
    return intervalInternals.open(this.definition.metrics.map((spec) => ({ spec, ...this.#metrics.get(spec.name)! })));
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

// Compiled now, not at a new worker's first attach (compile-now.ts): without the token they throw.
compileByRefusal(() => new (RateLimitedStats as unknown as new () => RateLimitedStats)());

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
