/**
 * Every error message of the library, in one place, and the checks that raise them.
 * @packageDocumentation
 */

/** 2^64 − 1, the largest value of a counter. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;
/** -2^63, the smallest value of a C `int64_t`. */
export const INT64_MIN = -0x8000_0000_0000_0000n;
/** 2^63 − 1, the largest value of a C `int64_t`. */
export const INT64_MAX = 0x7fff_ffff_ffff_ffffn;

/**
 * Shows a received value in a message: its type is visible (`12n`, `"12"`, `12`, `null`). Never
 * throws: describing an object runs its code (a `Symbol.toStringTag` getter, a Proxy's traps), and
 * an error from there must not replace the error being built.
 */
export function describe(value: unknown): string {
  try {
    return describeOrThrow(value);
  } catch {
    return typeof value === 'function' ? 'a function' : 'an object';
  }
}

function describeOrThrow(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `${value}n`;
    case 'string':
      return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(value);
    case 'symbol':
      return value.toString();
    case 'function':
      return `a function${value.name ? ` (${value.name})` : ''}`;
    default:
      if (value === null) return 'null';
      return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
  }
}

/**
 * Why a value could not be read, for a message: the error's own message (a revoked Proxy, a throwing
 * trap or getter), or a description of what was thrown. Never throws.
 */
export function errorReason(error: unknown): string {
  try {
    // `instanceof` and `message` run code of their own when what was thrown is a Proxy or has a getter.
    if (error instanceof Error && typeof error.message === 'string') return error.message;
  } catch {
    // described below
  }
  return describe(error);
}

/**
 * Errors made by internal checks whose message still lacks the public call's name. Checks below a
 * public entry do not know which call they serve: they build the message from the argument's path
 * on (`options.lanes must be …`), and the entry puts its name in front once (see {@link atEntry}).
 */
const unnamed = new WeakSet<object>();

/**
 * Marks an error of an internal check: the public entry it passes will put `where: ` in front of
 * its message. Returns the same error.
 * @param error - a TypeError, RangeError or Error whose message starts with what is wrong
 */
export function fault<E extends Error>(error: E): E {
  unnamed.add(error);
  return error;
}

/** A TypeError of an internal check, named by the public entry (see {@link fault}). */
export function typeFault(message: string): TypeError {
  return fault(new TypeError(message));
}

/** The metric name of each error made by {@link reservedNameFault}. */
const reservedNames = new WeakMap<object, string>();

/**
 * The TypeError of a definition with a metric name the stats object uses for its own API (see
 * {@link fault}); {@link reservedNameOf} tells it from other errors, as attach does for a memory
 * made by an earlier version, which allowed the name.
 */
export function reservedNameFault(name: string): TypeError {
  const error = typeFault(`schema has the metric name ${JSON.stringify(name)}, which the stats object uses for its own API`);
  reservedNames.set(error, name);
  return error;
}

/** The reserved metric name an error of {@link reservedNameFault} is about, else `undefined`. */
export function reservedNameOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? reservedNames.get(error) : undefined;
}

/** A RangeError of an internal check, named by the public entry (see {@link fault}). */
export function rangeFault(message: string): RangeError {
  return fault(new RangeError(message));
}

/**
 * What a public entry throws for an error that reached it: an error made by {@link fault} gets
 * `where: ` in front of its message (the same object, so its type stays; only the first entry it
 * passes names it); anything else passes unchanged. Never throws.
 * @param where - the public call, e.g. `defineStats` or `MigrationStats.attach`
 * @param error - what was thrown
 */
export function atEntry(where: string, error: unknown): unknown {
  if (typeof error !== 'object' || error === null || !unnamed.delete(error)) return error;
  const e = error as Error;
  const head = `${e.name}: ${e.message}`;
  e.message = `${where}: ${e.message}`;
  // The stack is usually formatted on first use (then with the new message); fix it if it was read.
  const stack = e.stack;
  if (typeof stack === 'string' && stack.startsWith(head)) e.stack = `${e.name}: ${e.message}${stack.slice(head.length)}`;
  return e;
}

/**
 * Runs the body of a public entry, naming the errors of its internal checks (see {@link atEntry}).
 * For cold paths only: argument checks of creation, attach, definitions, exporters, reports.
 */
export function entry<T>(where: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw atEntry(where, error);
  }
}

const ALLOWED = 'a bigint from 0n to 18446744073709551615n (2^64 − 1) or a non-negative safe-integer number';

/**
 * Builds the error for an argument that is not an unsigned 64-bit integer, on the error path of a
 * public method (the hot ones name themselves here rather than pass through `entry`).
 * @param where - the call, e.g. `zeroPages.add`
 * @param name - the argument's name
 * @param value - what was received
 */
export function u64ArgumentError(where: string, name: string, value: unknown): TypeError | RangeError {
  return u64Error(`${where}: ${name}`, value);
}

/** The error for `subject` (`where: name`, or `name` alone) that is not an unsigned 64-bit integer. */
function u64Error(subject: string, value: unknown): TypeError | RangeError {
  const head = `${subject} must be ${ALLOWED}; received ${describe(value)}`;
  if (typeof value === 'bigint') {
    return new RangeError(`${head}, which is ${value < 0n ? 'negative' : 'above 2^64 − 1'}`);
  }
  if (typeof value !== 'number') return new TypeError(head);
  if (Number.isNaN(value)) return new RangeError(`${head}, which is not a number`);
  if (value < 0) return new RangeError(`${head}, which is negative`);
  if (!Number.isFinite(value)) return new RangeError(`${head}, which is not finite`);
  if (!Number.isInteger(value)) return new RangeError(`${head}, which is not an integer`);
  return new RangeError(
    `${head}, which is 2^53 or more and may already have been rounded: pass a bigint (e.g. ${BigInt(value)}n) for large values`,
  );
}

/**
 * Whether `value` is a number a counter takes as it is: a non-negative safe integer.
 * `(value >>> 0) === value` holds exactly for 0 … 2^32 − 1, the usual sizes of an add, and costs one
 * instruction; the range and integer tests cost more than the add itself (measured in bench/), so
 * they run only for larger numbers.
 */
export function isCount(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    ((value >>> 0) === value || (value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value)))
  );
}

/**
 * Whether `value` is a bigint a counter takes: `asUintN(64)` leaves exactly those in [0, 2^64 − 1]
 * unchanged, and V8 compiles it to 64-bit integer code where two bigint comparisons would not be.
 */
export function isU64(value: unknown): value is bigint {
  return typeof value === 'bigint' && BigInt.asUintN(64, value) === value;
}

/**
 * Checks an unsigned 64-bit argument and returns it as a bigint (for the cold paths).
 * @param name - the argument as messages name it (`context.pageSize`)
 * @throws TypeError or RangeError naming the argument, the value and what is allowed, named by
 *   the public call (see {@link fault})
 */
export function toU64(name: string, value: unknown): bigint {
  if (isU64(value)) return value;
  if (isCount(value)) return BigInt(value);
  throw fault(u64Error(name, value));
}

/**
 * Checks the `every` of a batched writer: a whole number from 1 to 2^20 (so that 2^20 pending
 * adds below 2^32 stay below 2^53 without a check).
 * @throws TypeError or RangeError naming the call and the value
 */
export function checkBatchSize(where: string, every: unknown): asserts every is number {
  if (typeof every !== 'number' || !Number.isInteger(every) || every < 1 || every > 2 ** 20) {
    const message = `${where}: every must be a whole number from 1 to 1048576; received ${describe(every)}`;
    throw typeof every === 'number' ? new RangeError(message) : new TypeError(message);
  }
}

/** The error of `getNumber()` when the value does not fit in a number exactly. */
export function unsafeNumberError(where: string, value: bigint): RangeError {
  return new RangeError(
    `${where}: the value ${value} is above Number.MAX_SAFE_INTEGER (2^53 − 1) and cannot be returned as a number without rounding; use get(), which returns a bigint`,
  );
}

/** What the refusal of a memory of another definition points to. */
export const ATTACH_ANY = 'attachStats(handle) joins the stats of whatever definition a memory holds';

/**
 * The error of `attach()` for anything that is not a live handle: `problem` follows the word
 * "handle"; the public entry names the call (see {@link fault}).
 */
export function handleError(problem: string): TypeError {
  return fault(new TypeError(`handle${problem}`));
}

/** The error for an unknown option value, named by the public entry (see {@link fault}). */
export function optionError(name: string, value: unknown, allowed: string): TypeError {
  return typeFault(`${name} must be ${allowed}; received ${describe(value)}`);
}

/**
 * The error of `stats.handle` where the memory cannot be shared: a page (or its worker) that is not
 * cross-origin isolated. Browsers would otherwise throw a bare `DataCloneError` from `postMessage`.
 */
export function notIsolatedError(): Error {
  return new Error(
    'MigrationStats.handle: this page is not cross-origin isolated (self.crossOriginIsolated is false), so the browser ' +
      'refuses to send shared memory to a worker. Serve the page with the response headers ' +
      '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" to share the counters; ' +
      'without them the stats work on this thread only. MigrationStats.canShareMemory() tells beforehand.',
  );
}

/**
 * The error of `stats.handle` in an engine that has no `SharedArrayBuffer` although the page is
 * cross-origin isolated (or that has no notion of isolation at all): no header can help there.
 * WebKitGTK 2.50 is such an engine (SharedArrayBuffer off by default, an open WebKit bug), and
 * posting the memory there throws a bare `DataCloneError`.
 */
export function noSharedMemoryError(): Error {
  const isolation = (globalThis as { crossOriginIsolated?: unknown }).crossOriginIsolated;
  const page = isolation === true ? 'this page is cross-origin isolated (self.crossOriginIsolated is true), but ' : '';
  return new Error(
    `MigrationStats.handle: this JavaScript engine cannot share memory with workers: ${page}it has no SharedArrayBuffer ` +
      '(typeof SharedArrayBuffer is "undefined"), and an engine without it refuses to send shared memory to a worker ' +
      '(postMessage would throw a DataCloneError). Some engines ship with SharedArrayBuffer turned off even on isolated pages: ' +
      'WebKitGTK 2.50 does, and JavaScriptCore turns it on with JSC_useSharedArrayBuffer=1 in the browser\'s environment. ' +
      'The stats work on this thread only. MigrationStats.canShareMemory() tells beforehand.',
  );
}

/**
 * The error of `stats.handle` where `MigrationStats.canShareMemory()` is false: the page lacks
 * isolation (headers can fix it) or the engine lacks `SharedArrayBuffer` (they cannot).
 */
export function cannotShareError(): Error {
  return (globalThis as { crossOriginIsolated?: unknown }).crossOriginIsolated === false ? notIsolatedError() : noSharedMemoryError();
}

/**
 * What `MigrationStats.create()` (or `attach()`) throws when compiling or instantiating the Wasm
 * core fails. The bytes are ours and valid, so a refusal that names the Content-Security-Policy is
 * the page's CSP: it becomes an error saying to allow `'wasm-unsafe-eval'` (browsers' own message
 * names the broader `'unsafe-eval'`), which the public entry names (see {@link fault}). Anything
 * else passes unchanged.
 */
export function explainCompileError(error: unknown): unknown {
  if (!(error instanceof Error && /Content.Security.Polic|\bCSP\b/i.test(error.message))) return error;
  return fault(new Error(
    `this page's Content-Security-Policy forbids compiling WebAssembly. Add 'wasm-unsafe-eval' ` +
      "to its script-src (e.g. script-src 'self' 'wasm-unsafe-eval'); 'unsafe-eval' allows much more than this needs. " +
      `The browser said: ${error.message}`,
    { cause: error },
  ));
}
