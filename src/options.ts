/**
 * The one reader of option objects (`create`'s options, `queryMigrate`'s context, the exporters'
 * options, the simulator's settings).
 *
 * An options argument is taken once, where it is accepted: it must be a plain object, every key
 * must be a name the call takes (a misspelt name is an error, not a default silently left in
 * force), and each value is read exactly once into a fresh frozen object, so a getter or a Proxy
 * cannot answer one thing to the check and another later. The list of names is checked against the
 * options type by the compiler: see {@link OptionNames}.
 * @packageDocumentation
 */
import { describe } from './errors.js';

/**
 * Every option a call takes, written `{ name: true, … }`. Typed against the options interface, the
 * compiler refuses a list that misses one of its members or names one it does not have.
 */
export type OptionNames<T> = { readonly [K in keyof Required<T>]: true };

/** Why an object could not be read: the engine's message (a revoked Proxy, a throwing trap). */
function reason(error: unknown): string {
  return error instanceof Error ? error.message : describe(error);
}

/**
 * Whether `value` is an object that holds options: not an array, a function, a `Date`, a `Map` or
 * another built-in with its own meaning.
 * @throws TypeError naming the argument when even that cannot be asked (a revoked Proxy)
 */
function isOptionsObject(where: string, what: string, value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  try {
    return Object.prototype.toString.call(value) === '[object Object]';
  } catch (error) {
    throw new TypeError(`${where}: ${what} could not be read (${reason(error)}); pass a plain object`);
  }
}

/**
 * Reads an options argument.
 * @param where - the call, for messages (`MigrationStats.create`)
 * @param what - the argument, for messages (`options`, `context`)
 * @param value - what the caller passed; `undefined` means no options
 * @param names - every option the call takes
 * @param example - an object literal shown when `value` is not an object (`{ backend: 'wasm' }`)
 * @param noun - what the call calls its options in messages (`option`, `setting`)
 * @returns a fresh frozen object with each given option read once (own enumerable keys only)
 * @throws TypeError when `value` is not a plain object, has a key that is not an option, or a key
 *   whose value cannot be read (the getter's or the Proxy's error is named, not passed on)
 */
export function readOptions<T extends object>(
  where: string,
  what: string,
  value: unknown,
  names: OptionNames<T>,
  example: string,
  noun = 'option',
): Readonly<Partial<T>> {
  if (value === undefined) return Object.freeze({});
  if (!isOptionsObject(where, what, value)) {
    throw new TypeError(`${where}: ${what} must be an object such as ${example}; received ${describe(value)}`);
  }
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch (error) {
    throw new TypeError(`${where}: ${what} could not be read (${reason(error)}); pass a plain object`);
  }
  const allowed = Object.keys(names);
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(names, key)) {
      throw new TypeError(`${where}: ${what}.${key} is not ${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}; the ${noun}s are ${allowed.join(', ')}`);
    }
    try {
      out[key] = (value as Record<string, unknown>)[key];
    } catch (error) {
      throw new TypeError(`${where}: ${what}.${key} could not be read (${reason(error)}); pass a plain value`);
    }
  }
  return Object.freeze(out) as Readonly<Partial<T>>;
}
