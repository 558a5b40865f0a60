/**
 * QEMU's rate limiter (`migration/migration-stats.h`, `migration_rate_*`) over a definition's
 * memory: the one object behind `MigrationStats.migrationRate…` and the `rate…` methods of
 * `defineStats(schema, { rateLimit })` stats.
 * @packageDocumentation
 */
import type { Core } from './backend/core.js';
import type { Layout } from './backend/layout.js';
import type { RateLimitSpec } from './backend/definition-format.js';
import { compileByRefusal } from './compile-now.js';

/**
 * The limiter of one stats object: where its cells are and the operations on them, without
 * argument checks (the stats object checks them). Made by {@link Limiter.of}.
 * @internal
 */
export class Limiter {
  readonly #core: Core;
  /** The first base cell of the limited counters' block. */
  readonly #base: number;
  /** The first lane cell of the same block. */
  readonly #first: number;
  /** How many counters the block holds. */
  readonly #count: number;
  readonly #geometry: number;
  /** The window's start (the transferred total when it began) and, 8 bytes on, its budget. */
  readonly #startAddr: number;
  readonly #maxAddr: number;
  /** Whether the start and the budget are cells of the limiter's own (not gauges a schema named). */
  readonly #ownStart: boolean;
  readonly #ownMax: boolean;

  private constructor(core: Core, layout: Layout, spec: RateLimitSpec) {
    const l = layout.limiter!;
    this.#core = core;
    this.#base = l.base;
    this.#first = layout.lanesOffset + l.lane;
    this.#count = l.count;
    this.#geometry = layout.geometry;
    this.#startAddr = l.startAddr;
    this.#maxAddr = l.maxAddr;
    this.#ownStart = spec.start === '';
    this.#ownMax = spec.max === '';
    const base = this.#base;
    const first = this.#first;
    const count = this.#count;
    const geometry = this.#geometry;
    this.exceeded = (fileError) => {
      if (fileError !== undefined && fileError !== 0 && fileError !== 0n && fileError !== null && fileError !== false) return true;
      return core.rateExceeded(base, first, count, geometry) !== 0;
    };
  }

  /** The limiter of a layout, or null when its definition declares none. */
  static of(core: Core, layout: Layout, spec: RateLimitSpec | null): Limiter | null {
    return layout.limiter && spec ? new Limiter(core, layout, spec) : null;
  }

  /** `migration_rate_set()`: stores `floor(bytesPerSecond / 10)` as one window's budget. */
  set(bytesPerSecond: bigint): void {
    this.#core.rateSet(this.#maxAddr, bytesPerSecond);
  }

  /** `migration_rate_get()`: one window's budget in bytes. */
  get(): bigint {
    return this.#core.load(this.#maxAddr);
  }

  /** `migration_rate_reset()`: starts a new window at the current transferred total. */
  reset(): void {
    this.#core.rateReset(this.#base, this.#first, this.#count, this.#geometry);
  }

  /**
   * `migration_rate_exceeded()`: `true` when `fileError` says the stream failed (anything but
   * `undefined`, `0`, `0n`, `null`, `false`), else whether the window's budget is spent. A function
   * of its own (made in the constructor, its cells in constants), so that a hot caller may keep it.
   */
  readonly exceeded: (fileError: unknown) => boolean;

  /** `migration_transferred_bytes()`: the sum of the limited counters, mod 2^64. */
  transferred(): bigint {
    return this.#core.groupSum(this.#base, this.#first, this.#count, this.#geometry);
  }

  /** Zeroes the limiter's own cells (gauges a schema named are zeroed with the metrics). */
  clear(): void {
    if (this.#ownStart) this.#core.store(this.#startAddr, 0n);
    if (this.#ownMax) this.#core.store(this.#maxAddr, 0n);
  }
}

// Compiled now, not at a new worker's first attach (compile-now.ts): without a layout it throws at its first line.
compileByRefusal(() => new (Limiter as unknown as new () => Limiter)());
