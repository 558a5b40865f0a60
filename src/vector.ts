/**
 * A fixed-length vector of values (per channel, per vCPU, per worker), each element a `Stat64` of
 * its own cells; exported with one label whose value is the element's index.
 * @packageDocumentation
 */
import { describe } from './errors.js';
import type { Stat64 } from './stat64.js';

/** Made only here. */
const TOKEN = Symbol('StatVector');

/**
 * What stats objects use to make vectors; not part of the package's API. `element(i)` makes element
 * `i`, called once per element, when it is first used (attach makes none).
 * @internal
 */
export let vectorInternals: { make(name: string, label: string, length: number, element: (index: number) => Stat64): StatVector };

/** A vector of {@link Stat64}s: `at(i)` is element i, from 0 to `length − 1`. */
export class StatVector implements Iterable<Stat64> {
  /** TS name, e.g. `bytesPerWorker`. */
  readonly name: string;
  /** The label its elements are exported with, e.g. `worker`. */
  readonly label: string;
  /** Number of elements. */
  readonly length: number;
  /** The elements made so far (each when first used). */
  readonly #elements: (Stat64 | undefined)[];
  readonly #make: (index: number) => Stat64;

  static {
    vectorInternals = { make: (name, label, length, element) => new StatVector(TOKEN, name, label, length, element) };
  }

  private constructor(token: typeof TOKEN, name: string, label: string, length: number, element: (index: number) => Stat64) {
    if (token !== TOKEN) throw new TypeError('StatVector: vectors are made by the stats objects (defineStats(…).create); there is no constructor');
    this.name = name;
    this.label = label;
    this.length = length;
    this.#elements = new Array<Stat64 | undefined>(length).fill(undefined);
    this.#make = element;
    Object.freeze(this);
  }

  /** Every element, each made if it was not yet. */
  #all(): Stat64[] {
    for (let i = 0; i < this.length; i++) this.#elements[i] ??= this.#make(i);
    return this.#elements as Stat64[];
  }

  /**
   * Element `index`.
   * @throws RangeError unless `index` is a whole number from 0 to `length − 1`
   * @example stats.bytesPerWorker.at(3).add(4096);
   */
  at(index: number): Stat64 {
    const element = Number.isInteger(index) ? this.#elements[index] : undefined;
    return element !== undefined ? element : this.#first(index);
  }

  /** Element `index` on its first use, made now; kept out of `at` so that `at` stays small enough to inline. */
  #first(index: number): Stat64 {
    if (Number.isInteger(index) && index >= 0 && index < this.length) return (this.#elements[index] = this.#make(index));
    const message = `${this.name}.at: index must be a whole number from 0 to ${this.length - 1}; received ${describe(index)}`;
    throw typeof index === 'number' ? new RangeError(message) : new TypeError(message);
  }

  /** Every element's value, in index order (one read each). */
  values(): bigint[] {
    return this.#all().map((element) => element.get());
  }

  /** The sum of the elements, mod 2^64. */
  total(): bigint {
    return BigInt.asUintN(64, this.#all().reduce((sum, element) => sum + element.get(), 0n));
  }

  [Symbol.iterator](): Iterator<Stat64> {
    return this.#all()[Symbol.iterator]();
  }
}
