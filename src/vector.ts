/**
 * A fixed-length vector of values (per channel, per vCPU, per worker), each element a `Stat64` of
 * its own cells; exported with one label whose value is the element's index.
 * @packageDocumentation
 */
import { describe } from './errors.js';
import type { Stat64 } from './stat64.js';

/** Made only here. */
const TOKEN = Symbol('StatVector');

/** What stats objects use to make vectors; not part of the package's API. @internal */
export let vectorInternals: { make(name: string, label: string, elements: readonly Stat64[]): StatVector };

/** A vector of {@link Stat64}s: `at(i)` is element i, from 0 to `length − 1`. */
export class StatVector implements Iterable<Stat64> {
  /** TS name, e.g. `bytesPerWorker`. */
  readonly name: string;
  /** The label its elements are exported with, e.g. `worker`. */
  readonly label: string;
  /** Number of elements. */
  readonly length: number;
  readonly #elements: readonly Stat64[];

  static {
    vectorInternals = { make: (name, label, elements) => new StatVector(TOKEN, name, label, elements) };
  }

  private constructor(token: typeof TOKEN, name: string, label: string, elements: readonly Stat64[]) {
    if (token !== TOKEN) throw new TypeError('StatVector: vectors are made by the stats objects (defineStats(…).create); there is no constructor');
    this.name = name;
    this.label = label;
    this.length = elements.length;
    this.#elements = elements;
    Object.freeze(this);
  }

  /**
   * Element `index`.
   * @throws RangeError unless `index` is a whole number from 0 to `length − 1`
   * @example stats.bytesPerWorker.at(3).add(4096);
   */
  at(index: number): Stat64 {
    const element = Number.isInteger(index) ? this.#elements[index] : undefined;
    if (element === undefined) {
      const message = `${this.name}.at: index must be a whole number from 0 to ${this.length - 1}; received ${describe(index)}`;
      throw typeof index === 'number' ? new RangeError(message) : new TypeError(message);
    }
    return element;
  }

  /** Every element's value, in index order (one read each). */
  values(): bigint[] {
    return this.#elements.map((element) => element.get());
  }

  /** The sum of the elements, mod 2^64. */
  total(): bigint {
    return BigInt.asUintN(64, this.#elements.reduce((sum, element) => sum + element.get(), 0n));
  }

  [Symbol.iterator](): Iterator<Stat64> {
    return this.#elements[Symbol.iterator]();
  }
}
