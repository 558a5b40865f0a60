/**
 * The one reader of option objects (`create`'s options, `queryMigrate`'s context, the exporters'
 * options, the simulator's settings), and of the objects nested in arguments (`options.labels`,
 * `options.attributes`, `infoMigrate`'s info, the values `formatQmp` prints).
 *
 * An options argument is taken once, where it is accepted: it must be a plain object, every key
 * must be a name the call takes (a misspelt name is an error, not a default silently left in
 * force), and each value is read exactly once into a fresh frozen object, so a getter or a Proxy
 * cannot answer one thing to the check and another later. The list of names is checked against the
 * options type by the compiler: see {@link OptionNames}.
 *
 * Its errors start at the argument's path (`options.labels must be …`): the public call that reads
 * the argument puts its own name in front (`entry` and `fault` in errors.ts).
 * @packageDocumentation
 */
import { describe, errorReason, rangeFault, typeFault } from './errors.js';

/**
 * Every option a call takes, written `{ name: true, … }`. Typed against the options interface, the
 * compiler refuses a list that misses one of its members or names one it does not have.
 */
export type OptionNames<T> = { readonly [K in keyof Required<T>]: true };

/**
 * How a member is named in messages: `info.ram`, `options.labels.vm`, and `info['total-time']` for
 * a key that is not an identifier.
 */
export function memberPath(parent: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}['${key.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
}

/**
 * The error for an argument (or a member of one) whose reading threw.
 * @param what - what to pass instead: a plain `object` or a plain `value`
 */
export function unreadableError(path: string, error: unknown, what: 'object' | 'value'): TypeError {
  return typeFault(`${path} could not be read (${errorReason(error)}); pass a plain ${what}`);
}

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/**
 * Reads one member of an argument. Call it once per member and keep what it returns.
 * @param path - the member as messages name it (`options.labels.vm`)
 * @returns `object[key]`
 * @throws TypeError naming `path` when a getter or a Proxy trap throws (its error is named, not passed on)
 */
export const readMember = (function (path: string, object: object, key: string | number): unknown {
  try {
    return (object as Record<string | number, unknown>)[key];
  } catch (error) {
    throw unreadableError(path, error, 'value');
  }
});

/**
 * Whether `value` is an object that holds named values: not an array, a function, a `Date`, a `Map`
 * or another built-in with its own meaning.
 * @throws TypeError naming `path` when even that cannot be asked (a revoked Proxy, a throwing trap)
 */
export const isPlainObject = (function (path: string, value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  try {
    return Object.prototype.toString.call(value) === '[object Object]';
  } catch (error) {
    throw unreadableError(path, error, 'object');
  }
});

/**
 * The own enumerable string keys of an argument.
 * @throws TypeError naming `path` when a Proxy trap throws
 */
export const keysOf = (function (path: string, value: object): string[] {
  try {
    return Object.keys(value);
  } catch (error) {
    throw unreadableError(path, error, 'object');
  }
});

/** Sets `key` on a fresh object even when it is `__proto__`, which plain assignment would not. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Reads a nested object of an argument once (`options.labels`, `options.attributes`): each own
 * enumerable string key, each value read once, into a fresh frozen object that later uses read
 * instead of the caller's.
 * @param allowed - what the message says it must be (`an object of label name → string value`)
 * @returns the frozen copy
 * @throws TypeError naming `path` when `value` is not a plain object or cannot be read
 */
export function readRecord(path: string, value: unknown, allowed: string): Readonly<Record<string, unknown>> {
  if (!isPlainObject(path, value)) throw typeFault(`${path} must be ${allowed}; received ${describe(value)}`);
  const out: Record<string, unknown> = {};
  for (const key of keysOf(path, value)) define(out, key, readMember(memberPath(path, key), value, key));
  return Object.freeze(out);
}

/**
 * Reads an array of an argument once into a frozen copy.
 * @param maxLength - the most items taken (a sparse array may claim 2^32 − 1)
 * @returns the copy, or `undefined` when `value` is not an array
 * @throws TypeError naming `path` when it cannot be read; RangeError when it has more than `maxLength` items
 */
export function readArray(path: string, value: unknown, maxLength: number): readonly unknown[] | undefined {
  let length: unknown;
  try {
    if (!Array.isArray(value)) return undefined;
    length = value.length;
  } catch (error) {
    throw unreadableError(path, error, 'value');
  }
  if (typeof length !== 'number' || length > maxLength) {
    throw rangeFault(`${path} must have at most ${maxLength} items; received an array of ${describe(length)}`);
  }
  const out: unknown[] = [];
  for (let i = 0; i < length; i++) out.push(readMember(`${path}[${i}]`, value as unknown[], i));
  return Object.freeze(out);
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
 * @param value - what the caller passed
 * @param spec - the names the call takes and how messages speak of them
 * @returns a fresh frozen object with each given option read once (own enumerable keys only)
 * @throws TypeError when `value` is not a plain object (or is missing where required), has a key
 *   that is not an option, or a key whose value cannot be read (the getter's or the Proxy's error
 *   is named, not passed on)
 */
export const readOptions = (function <T extends object>(value: unknown, spec: OptionSpec<T>): Readonly<Partial<T>> {
  const { names, example, what = 'options', noun = 'option', required = false, notTaken = {} } = spec;
  if (value === undefined && !required) return Object.freeze({});
  if (!isPlainObject(what, value)) {
    throw typeFault(`${what} must be an object such as ${example}; received ${describe(value)}`);
  }
  const allowed = Object.keys(names);
  const out: Record<string, unknown> = {};
  for (const key of keysOf(what, value)) {
    const known = Object.prototype.hasOwnProperty.call(names, key);
    if (!known && !Object.prototype.hasOwnProperty.call(notTaken, key)) {
      throw typeFault(`${what}.${key} is not ${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}; the ${noun}s are ${allowed.join(', ')}`);
    }
    const given = readMember(`${what}.${key}`, value, key);
    if (!known && given !== undefined) {
      throw typeFault(`${what}.${key} is not taken here; received ${describe(given)}: ${notTaken[key]}`);
    }
    if (known) out[key] = given;
  }
  return Object.freeze(out) as Readonly<Partial<T>>;
});
