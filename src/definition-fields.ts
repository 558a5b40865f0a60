/**
 * Reading the fields of a definition as given: each value read once (a getter or a Proxy cannot
 * answer twice differently), and every refusal naming the field and what it allows.
 * @packageDocumentation
 */
import { describe, rangeFault, typeFault } from './errors.js';

/** Throws the definition error for `path`. */
export function fail(path: string, value: unknown, allowed: string, range = false): never {
  const message = `${path} must be ${allowed}; received ${describe(value)}`;
  throw range ? rangeFault(message) : typeFault(message);
}

/** The error for a value whose reading threw (a getter, a Proxy): ours, naming the field. */
export function unreadable(path: string, error: unknown): TypeError {
  return typeFault(`${path} could not be read (${error instanceof Error ? error.message : describe(error)})`);
}

/** Reads a plain object's own entries once, refusing anything else. */
export function entries(path: string, value: unknown, example: string): [string, unknown][] {
  let tag: string;
  try {
    tag = Object.prototype.toString.call(value);
  } catch (error) {
    throw unreadable(path, error);
  }
  if (value === null || typeof value !== 'object' || tag !== '[object Object]') fail(path, value, `an object such as ${example}`);
  try {
    return Object.keys(value).map((key) => [key, (value as Record<string, unknown>)[key]]);
  } catch (error) {
    throw unreadable(path, error);
  }
}

/** A copy of an array's first `most + 1` elements, read once, or `undefined` for anything but an array. */
export function arrayHead(path: string, value: unknown, most: number): unknown[] | undefined {
  try {
    if (!Array.isArray(value)) return undefined;
    const array = value as unknown[];
    return Array.from({ length: Math.min(array.length, most + 1) }, (_, i) => array[i]);
  } catch (error) {
    throw unreadable(path, error);
  }
}

/** A whole number from `lo` to `hi`, or the error naming `path`. */
export function wholeIn(path: string, value: unknown, lo: number, hi: number, what: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi) return value;
  return fail(path, value, `${what} from ${lo} to ${hi}`, typeof value === 'number');
}

/** What breaks a line of help text: control characters (C0, DEL, C1), U+2028, U+2029, unpaired surrogates. */
const NOT_IN_A_LINE = /[\0-\x1f\x7f-\x9f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const CHARACTER_NAMES: Readonly<Record<number, string>> = {
  0: 'NUL', 9: 'tab', 10: 'line feed', 13: 'carriage return', 0x85: 'next line', 0x2028: 'line separator', 0x2029: 'paragraph separator',
};

/** Refuses a help text that is not one line, naming the first character that breaks it and where. */
export function checkLine(path: string, help: string): void {
  const found = NOT_IN_A_LINE.exec(help);
  if (!found) return;
  const code = found[0].charCodeAt(0);
  const name = CHARACTER_NAMES[code] ?? (code >= 0xd800 ? 'an unpaired surrogate, which UTF-8 cannot encode' : 'a control character');
  const at = `U+${code.toString(16).toUpperCase().padStart(4, '0')} (${name}) at index ${found.index}`;
  throw typeFault(`${path} must be one line of text, without control characters or line breaks; received ${describe(help)}, which has ${at}`);
}

/** A string matching `pattern`, or the error naming `path`. */
export function text(path: string, value: unknown, pattern: RegExp, allowed: string): string {
  if (typeof value === 'string' && pattern.test(value)) return value;
  return fail(path, value, allowed);
}
