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

/** How a call takes its options: every name, and how messages speak of them. */
export interface OptionSpec<T> {
  /** Every option the call takes. */
  readonly names: OptionNames<T>;
  /** An object literal shown when the argument is not an object (`{ backend: 'wasm' }`). */
  readonly example: string;
  /** The argument's name in messages (default `options`; `context` for `queryMigrate`). */
  readonly what?: string;
  /** What the call calls each option in messages (default `option`; `setting` for the simulator). */
  readonly noun?: string;
  /** Whether the argument must be given (default `false`: `undefined` means no options). */
  readonly required?: boolean;
  /** Names a caller may expect but this call does not take, each with the reason the message gives. */
  readonly notTaken?: Readonly<Record<string, string>>;
}

/**
 * Reads an options argument.
 * @param where - the call, for messages (`MigrationStats.create`)
 * @param value - what the caller passed
 * @param spec - the names the call takes and how messages speak of them
 * @returns a fresh frozen object with each given option read once (own enumerable keys only)
 * @throws TypeError when `value` is not a plain object (or is missing where required), has a key
 *   that is not an option, or a key whose value cannot be read (the getter's or the Proxy's error
 *   is named, not passed on)
 */
export function readOptions<T extends object>(where: string, value: unknown, spec: OptionSpec<T>): Readonly<Partial<T>> {
  const { names, example, what = 'options', noun = 'option', required = false, notTaken = {} } = spec;
  if (value === undefined && !required) return Object.freeze({});
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
    const known = Object.prototype.hasOwnProperty.call(names, key);
    if (!known && !Object.prototype.hasOwnProperty.call(notTaken, key)) {
      throw new TypeError(`${where}: ${what}.${key} is not ${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}; the ${noun}s are ${allowed.join(', ')}`);
    }
    try {
      out[key] = (value as Record<string, unknown>)[key];
    } catch (error) {
      throw new TypeError(`${where}: ${what}.${key} could not be read (${reason(error)}); pass a plain value`);
    }
    if (!known && out[key] !== undefined) {
      throw new TypeError(`${where}: ${what}.${key} is not taken here; received ${describe(out[key])}: ${notTaken[key]}`);
    }
    if (!known) delete out[key];
  }
  return Object.freeze(out) as Readonly<Partial<T>>;
}
