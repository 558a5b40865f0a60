/**
 * QMP's JSON text, byte for byte as QEMU's monitor prints it (compact mode): members in QEMU's
 * hash-table order (qdict.ts), `", "` and `": "` separators, integers exact to 64 bits and typed
 * by QAPI's schema (`int` members print signed), doubles as C's `%.17g` (printf.ts), strings
 * escaped as QEMU's `quoted_str` does.
 * @packageDocumentation
 */
import { describe, entry, INT64_MIN, rangeFault, typeFault, U64_MAX } from '../errors.js';
import { keysOf, readMember, readOptions, unreadableError, type OptionSpec } from '../options.js';
import { printfG } from './printf.js';
import { qdictOrder } from './qdict.js';
import type { MigrationInfo } from './query-migrate.js';

/** A value QMP can carry: integers as bigint, doubles as number. */
export type QmpValue = bigint | number | string | boolean | null | readonly QmpValue[] | { readonly [key: string]: QmpValue | undefined };

/** QAPI member types that matter for printing. */
type MemberType = 'int' | 'uint32' | 'uint64' | 'number' | 'str' | { readonly struct: StructSchema };
/** A QAPI struct: its members in schema (= insertion) order. */
type StructSchema = ReadonlyArray<readonly [name: string, type: MemberType]>;

const MIGRATION_STATS_SCHEMA: StructSchema = [
  ['transferred', 'int'],
  ['remaining', 'int'],
  ['total', 'int'],
  ['duplicate', 'int'],
  ['normal', 'int'],
  ['normal-bytes', 'int'],
  ['dirty-pages-rate', 'int'],
  ['mbps', 'number'],
  ['dirty-sync-count', 'int'],
  ['postcopy-requests', 'int'],
  ['page-size', 'int'],
  ['multifd-bytes', 'uint64'],
  ['pages-per-second', 'uint64'],
  ['precopy-bytes', 'uint64'],
  ['downtime-bytes', 'uint64'],
  ['postcopy-bytes', 'uint64'],
  ['dirty-sync-missed-zero-copy', 'uint64'],
];

const MIGRATION_INFO_SCHEMA: StructSchema = [
  ['status', 'str'],
  ['ram', { struct: MIGRATION_STATS_SCHEMA }],
  ['vfio', { struct: [['transferred', 'int']] }],
  [
    'xbzrle-cache',
    {
      struct: [
        ['cache-size', 'uint64'],
        ['bytes', 'int'],
        ['pages', 'int'],
        ['cache-miss', 'int'],
        ['cache-miss-rate', 'number'],
        ['encoding-rate', 'number'],
        ['overflow', 'int'],
      ],
    },
  ],
  ['total-time', 'int'],
  ['expected-downtime', 'int'],
  ['downtime', 'int'],
  ['setup-time', 'int'],
  ['cpu-throttle-percentage', 'int'],
  ['error-desc', 'str'],
  ['blocked-reasons', 'str'],
  // QEMU 10.1's qapi/migration.json: the destination's postcopy members, lists typed by their items.
  ['postcopy-blocktime', 'uint32'],
  ['postcopy-vcpu-blocktime', 'uint32'],
  ['postcopy-latency', 'uint64'],
  ['postcopy-latency-dist', 'uint64'],
  ['postcopy-vcpu-latency', 'uint64'],
  ['postcopy-non-vcpu-latency', 'uint64'],
  ['socket-address', 'str'],
  ['dirty-limit-throttle-time-per-round', 'uint64'],
  ['dirty-limit-ring-full-time', 'uint64'],
];

const SCHEMAS = {
  MigrationInfo: MIGRATION_INFO_SCHEMA,
  MigrationStats: MIGRATION_STATS_SCHEMA,
} as const;

/** Options of {@link formatQmp}. */
export interface FormatQmpOptions {
  /**
   * The QAPI type of `value`, which fixes how its integers print: `'MigrationInfo'` (default: what
   * {@link queryMigrate} returns), `'MigrationStats'` (its `ram` member alone), or `null` for any
   * other value (each bigint prints as it is).
   */
  type?: keyof typeof SCHEMAS | null;
  /** Wrap the value in QMP's success reply, `{"return": …}`, as the monitor sends it. */
  response?: boolean;
}

const OPTIONS: OptionSpec<FormatQmpOptions> = { names: { type: true, response: true }, example: "{ type: 'MigrationInfo' }" };

/** QEMU's `quoted_str`: ASCII printable as is, the usual escapes, everything else as `\uXXXX`. */
function quote(text: string): string {
  let out = '"';
  for (const char of text) {
    let cp = char.codePointAt(0)!;
    switch (cp) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
    }
    // A lone surrogate cannot come from valid UTF-8: QEMU prints the replacement character.
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
    if (cp > 0xffff) out += `\\u${hex(0xd800 + ((cp - 0x10000) >> 10))}\\u${hex(0xdc00 + ((cp - 0x10000) & 0x3ff))}`;
    else if (cp < 0x20 || cp >= 0x7f) out += `\\u${hex(cp)}`;
    else out += char;
  }
  return out + '"';
}

function formatInteger(value: bigint, type: MemberType | undefined, path: string): string {
  if (type === 'int') {
    // An int64_t member: C converts a value of 2^63 or more to negative (gcc wraps).
    if (value < INT64_MIN || value > U64_MAX) throw integerRange(path, value, 'from -2^63 to 2^64 − 1 (a schema int)');
    return BigInt.asIntN(64, value).toString();
  }
  if (type === 'uint64') {
    if (value < 0n || value > U64_MAX) throw integerRange(path, value, 'from 0 to 2^64 − 1 (a schema uint64)');
    return value.toString();
  }
  if (type === 'uint32') {
    if (value < 0n || value > 0xffff_ffffn) throw integerRange(path, value, 'from 0 to 2^32 − 1 (a schema uint32)');
    return value.toString();
  }
  if (value < INT64_MIN || value > U64_MAX) throw integerRange(path, value, 'from -2^63 to 2^64 − 1');
  return value.toString();
}

function integerRange(path: string, value: bigint, allowed: string): RangeError {
  return rangeFault(`${path} must be an integer ${allowed}; received ${value}n`);
}

/** A scalar as QMP prints it, checked against its schema type. */
function writeScalar(value: unknown, type: MemberType | undefined, path: string): string {
  switch (typeof value) {
    case 'bigint':
      if (type === 'number') throw typeFault(`${path} is a schema number and must be a JS number; received ${describe(value)}`);
      return formatInteger(value, type, path);
    case 'number':
      if (type === 'int' || type === 'uint32' || type === 'uint64') {
        if (!Number.isSafeInteger(value)) {
          throw typeFault(`${path} is a schema integer and must be a bigint or a safe-integer number; received ${describe(value)}`);
        }
        return formatInteger(BigInt(value), type, path);
      }
      return printfG(value, 17);
    case 'string':
      return quote(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      if (value === null) return 'null';
      throw typeFault(`${path} cannot be printed in QMP; received ${describe(value)}`);
  }
}

/** One array or object being printed: what it holds, read once, and how far it has got. */
interface Open {
  readonly node: object;
  readonly path: string;
  readonly close: ']' | '}';
  /** The items (an array's, read one at a time) or the members (an object's, read when it opened). */
  readonly next: (index: number) => { readonly prefix: string; readonly value: unknown; readonly type: MemberType | undefined; readonly path: string };
  readonly length: number;
  index: number;
}

/** Reads an object's members once, in QEMU's order, without those whose value is `undefined`. */
function members(node: object, type: MemberType | undefined, path: string): Pick<Open, 'next' | 'length'> {
  const schema = type !== undefined && typeof type === 'object' ? type.struct : undefined;
  const present = new Map<string, unknown>();
  for (const key of keysOf(path, node)) {
    const value = readMember(`${path}.${key}`, node, key);
    if (value !== undefined) present.set(key, value);
  }
  // QEMU inserts members in schema order; anything the schema lacks comes after, as given.
  const inserted = schema
    ? [...schema.map(([name]) => name).filter((name) => present.has(name)), ...[...present.keys()].filter((key) => !schema.some(([name]) => name === key))]
    : [...present.keys()];
  const order = qdictOrder(inserted);
  const next = (index: number) => {
    const key = order[index]!;
    return { prefix: `${index > 0 ? ', ' : ''}${quote(key)}: `, value: present.get(key), type: schema?.find(([name]) => name === key)?.[1], path: `${path}.${key}` };
  };
  return { next, length: order.length };
}

/** Opens an array or a plain object for printing; anything else is refused. */
function open(node: object, type: MemberType | undefined, path: string): Open {
  let isArray: boolean;
  let proto: unknown;
  let length = 0;
  try {
    isArray = Array.isArray(node);
    if (isArray) length = (node as unknown[]).length;
    else proto = Object.getPrototypeOf(node);
  } catch (error) {
    throw unreadableError(path, error, 'value');
  }
  if (isArray) {
    const next = (index: number) => ({
      prefix: index > 0 ? ', ' : '',
      value: readMember(`${path}[${index}]`, node, index),
      type,
      path: `${path}[${index}]`,
    });
    return { node, path, close: ']', next, length, index: 0 };
  }
  if (proto !== Object.prototype && proto !== null) {
    throw typeFault(`${path} must be a plain object, array, string, bigint, number, boolean or null; received ${describe(node)}`);
  }
  return { node, path, close: '}', ...members(node, type, path), index: 0 };
}

/**
 * Prints a value without recursion, so that no depth of nesting runs out of stack: each array or
 * object still open is on a list, and its ancestors are a set (a value met again inside itself is a
 * cycle, a value met twice side by side is not).
 */
function write(value: unknown, type: MemberType | undefined, path: string): string {
  let out = '';
  const stack: Open[] = [];
  const ancestors = new Set<object>();
  const enter = (item: unknown, itemType: MemberType | undefined, itemPath: string): void => {
    if (item === null || typeof item !== 'object') {
      out += writeScalar(item, itemType, itemPath);
      return;
    }
    if (ancestors.has(item)) throw typeFault(`${itemPath} refers back to itself; QMP values are trees`);
    const opened = open(item, itemType, itemPath);
    ancestors.add(item);
    stack.push(opened);
    out += opened.close === ']' ? '[' : '{';
  };
  enter(value, type, path);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.index < top.length) {
      const item = top.next(top.index++);
      out += item.prefix;
      enter(item.value, item.type, item.path);
    } else {
      out += top.close;
      ancestors.delete(top.node);
      stack.pop();
    }
  }
  return out;
}

/**
 * Prints a value as QEMU's QMP monitor does (compact mode): members in QEMU's hash-table order,
 * `", "` and `": "` separators, bigints as exact 64-bit integers, numbers as C's `%.17g`, strings
 * escaped as QEMU escapes them (non-ASCII as `\uXXXX`). Members whose value is `undefined` are
 * absent. No trailing newline.
 *
 * With the default `type: 'MigrationInfo'`, members that QEMU's schema types as `int` print as
 * signed 64-bit integers, so an unsigned value of 2^63 or more prints negative, as QEMU's does;
 * `uint64` members print unsigned.
 * @param value - what {@link queryMigrate} returns, or any QMP value with `type: null`
 * @param options - `type` (default `'MigrationInfo'`), `response` (wrap in `{"return": …}`)
 * @returns the JSON text
 * @throws TypeError for values QMP cannot carry (functions, class instances, cycles, `undefined` or a
 *   hole in an array, a bigint where the schema has a double), for an `options.type` that is not one
 *   of its strings or `null`, and for a value whose reading throws (a getter, a Proxy); RangeError
 *   for integers outside 64 bits. Values nest to any depth (the writer does not recurse)
 * @example formatQmp({ status: 'completed', 'total-time': 67n, 'setup-time': 3n }) //=> '{"status": "completed", "setup-time": 3, "total-time": 67}'
 * @example formatQmp({ mbps: 58.153 }, { type: null }) //=> '{"mbps": 58.152999999999999}'
 */
export function formatQmp(value: MigrationInfo | QmpValue, options?: FormatQmpOptions): string {
  return entry('formatQmp', () => formatChecked(value, options));
}

/** `formatQmp` without naming its errors. */
function formatChecked(value: unknown, options: unknown): string {
  const { type = 'MigrationInfo', response = false } = readOptions(options, OPTIONS);
  if (type !== null && !(typeof type === 'string' && Object.prototype.hasOwnProperty.call(SCHEMAS, type))) {
    throw typeFault(`options.type must be 'MigrationInfo', 'MigrationStats' or null; received ${describe(type)}`);
  }
  if (typeof response !== 'boolean') throw typeFault(`options.response must be true or false; received ${describe(response)}`);
  const memberType: MemberType | undefined = type === null ? undefined : { struct: SCHEMAS[type] };
  const text = write(value, memberType, 'value');
  return response ? `{"return": ${text}}` : text;
}
