/**
 * What the stress suite throws at the library, as fast-check arbitraries of *recipes*: each is a
 * function that makes the value when the call is made, so that values with state (a getter that
 * answers differently on its second read, a revoked Proxy) are fresh for every call, and replaying
 * a failing case makes the same values again.
 */
import fc from 'fast-check';
import { BRAND, revokedProxy, throwingProxy } from '../hostile.js';

/** Makes a value when a call is made. */
export type Recipe = () => unknown;

/** A recipe for a value made once and shared (it has no state). */
export const just = (value: unknown): Recipe => () => value;

/** Numbers and bigints at and beyond every limit the library has. */
export const HUGE: readonly unknown[] = [
  2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e21, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, NaN, -0, -1,
  2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 63n) - 1n, 10n ** 40n, -1n,
];

/** A nesting of `depth` arrays (or objects with one member `a`) around `inner`. */
export function nest(depth: number, kind: 'array' | 'object', inner: unknown): unknown {
  let value = inner;
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
  return value;
}

/** Deep and wide trees, made once. */
const TREES: readonly unknown[] = [
  nest(5000, 'array', []),
  nest(5000, 'object', 1n),
  nest(3000, 'array', nest(3000, 'object', 'leaf')),
  Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])),
  Array.from({ length: 20000 }, (_, i) => i),
];

/** Primitive values of every type, ordinary and extreme. */
export const primitive: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.nat(),
  fc.bigInt(),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.boolean(),
  fc.constantFrom(null, undefined, Symbol('fuzz'), ''),
  fc.constantFrom(...HUGE),
);

/** Objects that attack the code that reads them. */
const attacker: fc.Arbitrary<Recipe> = fc.constantFrom<Recipe>(
  revokedProxy,
  () => throwingProxy(),
  () => throwingProxy([]),
  () => ({ get x(): never { throw new Error('getter'); } }),
  () => Object.defineProperty({}, 'status', { enumerable: true, get: () => { throw new Error('getter status'); } }),
  () => ({ [Symbol.toStringTag]: 'Object', valueOf: () => 5, toString: () => 'MigrationInfo' }),
  () => ({ get [Symbol.toStringTag](): never { throw new Error('tag'); } }),
  () => ({ [BRAND]: 1 }),
  () => Object.create(null),
  () => new Date(0),
  () => new Map([['vm', 'a']]),
  () => new String('MigrationInfo'),
  () => ['MigrationStats'],
  () => () => 1,
  () => {
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    return sparse;
  },
  ...TREES.map(just),
);

/** Any value the fuzzer throws at an argument: primitives, attackers, and small arrays and objects of them. */
export const hostile: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 4, arbitrary: primitive.map(just) },
  { weight: 3, arbitrary: attacker },
  { weight: 1, arbitrary: fc.array(fc.oneof(primitive.map(just), attacker), { maxLength: 4 }).map((items) => () => items.map((make) => make())) },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(primitive.map(just), attacker), { maxKeys: 4 }).map((members) => () => build(members, 'plain')),
  },
);

/** How an options object is made: plain, through getters (that throw, or answer again differently), as a Proxy, or without a prototype. */
type Build = 'plain' | 'throwing getter' | 'flipping getter' | 'proxy' | 'no prototype';

/** Makes an object with the members' values, in the way `how` says. */
function build(members: Readonly<Record<string, Recipe>>, how: Build): object {
  const out: Record<string, unknown> = how === 'no prototype' ? Object.create(null) : {};
  let first = true;
  for (const [key, make] of Object.entries(members)) {
    const value = make();
    if (how === 'throwing getter' && first) {
      Object.defineProperty(out, key, { enumerable: true, get: () => { throw new Error(`getter ${key}`); } });
    } else if (how === 'flipping getter' && first) {
      let reads = 0;
      Object.defineProperty(out, key, { enumerable: true, get: () => (reads++ === 0 ? value : { flipped: true }) });
    } else {
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    first = false;
  }
  return how === 'proxy' ? new Proxy(out, {}) : out;
}

/**
 * An options object for a call: some of the names it takes (and one it does not), each with a value
 * from `values` or anything hostile, made in one of the {@link Build} ways; or anything hostile.
 */
export function optionsOf(names: readonly string[], values: fc.Arbitrary<Recipe>): fc.Arbitrary<Recipe> {
  const member = fc.oneof({ weight: 3, arbitrary: values }, { weight: 1, arbitrary: hostile });
  const object = fc
    .tuple(
      fc.dictionary(fc.constantFrom(...names, 'notAnOption'), member, { maxKeys: names.length + 1 }),
      fc.constantFrom<Build>('plain', 'plain', 'plain', 'throwing getter', 'flipping getter', 'proxy', 'no prototype'),
    )
    .map(([members, how]): Recipe => () => build(members, how));
  return fc.oneof({ weight: 5, arbitrary: object }, { weight: 1, arbitrary: hostile }, { weight: 1, arbitrary: fc.constant(just(undefined)) });
}

/**
 * Options that are valid, or one change away from it: a member left out, replaced by anything
 * hostile, or one more that is not an option; made in one of the {@link Build} ways (mostly plain).
 * @param valid - valid members, each a recipe
 */
export function nearValid(valid: fc.Arbitrary<Record<string, Recipe>>): fc.Arbitrary<Recipe> {
  return fc
    .tuple(valid, fc.constantFrom('keep', 'keep', 'keep', 'drop', 'replace', 'add'), fc.nat(), hostile, fc.constantFrom<Build>('plain', 'plain', 'plain', 'plain', 'throwing getter', 'flipping getter', 'proxy', 'no prototype'))
    .map(([members, change, pick, replacement, how]): Recipe => {
      const keys = Object.keys(members);
      const key = keys[pick % Math.max(keys.length, 1)];
      const changed = { ...members };
      if (change === 'drop' && key !== undefined) delete changed[key];
      if (change === 'replace' && key !== undefined) changed[key] = replacement;
      if (change === 'add') changed.notAnOption = replacement;
      return () => build(changed, how);
    });
}

/** Values of the right type, at and around the limits: what a call should mostly accept. */
export const countish: fc.Arbitrary<Recipe> = fc
  .oneof(
    fc.nat(),
    fc.constantFrom(0, 1, 99, 100, 999, 1000, 0xffff_ffff, 2 ** 32, Number.MAX_SAFE_INTEGER),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.constantFrom(0n, 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n),
  )
  .map(just);

/** Accept headers: media ranges with random case, q-values (valid and not), parameters, quotes, junk, and Prometheus' protobuf type. */
export const acceptHeader: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc
        .tuple(
          fc.constantFrom('application/openmetrics-text', 'text/plain', 'text/*', 'application/*', '*/*', 'image/png', 'text/html', '*/plain', 'text', ''),
          fc.array(fc.constantFrom(';q=0', ';q=1', ';q=0.5', ';q=0.001', ';q=1.000', ';q=2', ';q=.5', ';q=0.5555', ';Q=0.3', ';version=1.0.0', ';version=0.0.4', ';version=0.0.1', ';charset=UTF-8', ';charset=latin1', ';x="a,b;q=0"', ';escaping=allow-utf-8', ';', ';q'), { maxLength: 3 }),
          fc.boolean(),
        )
        .map(([range, params, upper]) => (upper ? range.toUpperCase() : range) + params.join('')),
      fc.string({ maxLength: 30 }).map((text) => text.replace(/[^\x20-\x7e\t]/g, '')),
      // Prometheus' protobuf type, as it asks for it, with another encoding, or without its parameters.
      fc.constantFrom(
        'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited',
        'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited;q=0.7',
        'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text',
        'application/vnd.google.protobuf;proto=io.prometheus.client.Other;encoding=delimited',
        'APPLICATION/VND.GOOGLE.PROTOBUF;PROTO=io.prometheus.client.MetricFamily;ENCODING=delimited',
        'application/vnd.google.protobuf',
      ),
    ),
    { maxLength: 6 },
  )
  .map((elements) => elements.join(', '));
