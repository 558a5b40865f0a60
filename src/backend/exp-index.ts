/**
 * Exponential histograms' bucket index in JS, and the tables the Wasm core reads it from.
 *
 * At scale s (0 to {@link EXP_MAX_SCALE}) the base is 2^(2^-s) and bucket i holds the values in
 * (base^i, base^(i+1)], as OpenTelemetry's exponential histogram (Prometheus' native histograms
 * number the same bucket i + 1); 0 has a bucket of its own, which is not indexed here. A value
 * v ≥ 1 with top bit k is scaled to M = v · 2^(63 − k), in [2^63, 2^64); with the tables that
 * scripts/gen-exp-table.mjs writes into exp-tables.ts at build (T[m] = floor(2^(63 + m/256)), and
 * L over 1024 equal slices of [2^63, 2^64)) its index is
 *
 *     m = L[top 10 bits of M after the leading 1]; if (M > T[m + 1]) m++
 *     index = ((256·k + m) >> (8 − s)) − (v is a power of two ? 1 : 0)
 *
 * exactly (assembly/exp-index.ts gives the reasons; test/exponential-index.test.ts checks it against
 * v^(2^s) compared with 2^i). For a safe integer, M is exact as a double and a multiple of 2^11,
 * so comparing it with T[m] rounded down to a multiple of 2^11 (exact as a double) gives the same
 * answer: numbers need no BigInt at all.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { EXP_MAX_SCALE, EXP_TABLE_BYTES, EXP_TABLE_L, EXP_TABLE_T } from './abi.js';
import { EXP_TABLES_BASE64 } from './exp-tables.js';

const TWO_32 = 2 ** 32;
const TWO_63 = 2 ** 63;
const TWO_MINUS_53 = 2 ** -53;
const TWO_63_BIG = 1n << 63n;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/** The tables, decoded in a thread at their first use (never at load: most threads never need them). */
interface Tables {
  /** The table's bytes as the Wasm core reads them: T as u64 then L as u16, little-endian, zeros after. */
  readonly image: Uint8Array;
  /**
   * T[m] rounded down to a multiple of 2^11 (T[256] = 2^64 − 1 to 2^64 − 2^11): exact as a double,
   * and as good as T[m] against a safe integer's M.
   */
  readonly num: Float64Array;
  /** L[j]: how many of T[1] … T[255] are below 2^63 + j · 2^53. */
  readonly l: Uint16Array;
}
let tables: Tables | undefined;

/**
 * Decodes exp-tables.ts (the bytes of T and L as a memory holds them): about 0.3 ms in a new
 * thread, paid by the creator of a memory and by the JS core at its first exponential record.
 */
function decode(): Tables {
  const raw = atob(EXP_TABLES_BASE64);
  const image = new Uint8Array(EXP_TABLE_BYTES);
  for (let i = 0; i < raw.length; i++) image[EXP_TABLE_T + i] = raw.charCodeAt(i);
  // Typed arrays are in the host's byte order: little-endian, as the JS core's BigUint64Array assumes too.
  const words = new Uint32Array(image.buffer);
  const num = new Float64Array(257);
  for (let m = 0; m < 257; m++) {
    const lo = words[(EXP_TABLE_T >> 2) + 2 * m]!;
    num[m] = words[(EXP_TABLE_T >> 2) + 2 * m + 1]! * TWO_32 + (lo - (lo % 2048));
  }
  return (tables = { image, num, l: new Uint16Array(image.buffer, EXP_TABLE_L, 1024) });
}

/** 2^0 … 2^63. */
const POW2 = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

/** T exactly, as bigints: made at first use (values above 2^53 − 1, bucket ranges, tests). */
let tBig: readonly bigint[] | undefined;
function bigTable(): readonly bigint[] {
  if (!tBig) {
    const view = new DataView((tables ?? decode()).image.buffer);
    tBig = Object.freeze(Array.from({ length: 257 }, (_, m) => view.getBigUint64(EXP_TABLE_T + 8 * m, true)));
  }
  return tBig;
}

/**
 * The two tables: T (257 bigints, T[m] = floor(2^(63 + m/256)), T[256] = 2^64 − 1) and L (1024
 * numbers, how many of T[1] … T[255] are below 2^63 + j · 2^53), for checks and tests.
 * @returns frozen arrays
 */
export function expTables(): { readonly T: readonly bigint[]; readonly L: readonly number[] } {
  return Object.freeze({ T: bigTable(), L: Object.freeze(Array.from((tables ?? decode()).l)) });
}

/**
 * The cell of exponential index `index` (≥ −1) in a histogram of `cells` cells: the zero bucket is
 * cell 0 and index −1 cell 1, so index + 2, at most cells − 1 (larger indexes count in the last).
 * The core's rule (assembly/exp-index.ts `expCellOf`), for the JS core and the readers.
 */
export function expCellOfIndex(index: number, cells: number): number {
  return index < cells - 3 ? index + 2 : cells - 1;
}

/**
 * The exponential bucket index of a safe integer `value` ≥ 1 at `scale` (0 to 8, unchecked): the i
 * with base^i < value ≤ base^(i+1), from −1 (value 1) up. Numbers only.
 * @internal
 */
export function expIndexOfNumber(scale: number, value: number): number {
  const k = value < TWO_32 ? 31 - Math.clz32(value) : 63 - Math.clz32(Math.floor(value / TWO_32));
  const scaled = value * POW2[63 - k]!;
  const { l, num } = tables ?? decode();
  let m = l[((scaled * TWO_MINUS_53) | 0) & 1023]!;
  if (scaled > num[m + 1]!) m++;
  return (((k << 8) + m) >> (EXP_MAX_SCALE - scale)) - (scaled === TWO_63 ? 1 : 0);
}

/**
 * {@link expIndexOfNumber} for a u64 `value` ≥ 1 as a bigint (up to 2^64 − 1, unchecked): numbers
 * up to 2^53 − 1, BigInt comparisons above.
 * @internal
 */
export function expIndexOfBigint(scale: number, value: bigint): number {
  if (value <= MAX_SAFE_BIG) return expIndexOfNumber(scale, Number(value));
  const k = 63 - Math.clz32(Number(value >> 32n));
  const scaled = value << BigInt(63 - k);
  let m = (tables ?? decode()).l[Number(scaled >> 53n) & 1023]!;
  if (scaled > (tBig ?? bigTable())[m + 1]!) m++;
  return (((k << 8) + m) >> (EXP_MAX_SCALE - scale)) - (scaled === TWO_63_BIG ? 1 : 0);
}

/** One bucket's integers: from `lower` up to, and not including, `upper`. */
export interface ExpBucketRange {
  readonly lower: bigint;
  /** `null` for the last index (64 · 2^scale − 1), whose bucket reaches 2^64 − 1. */
  readonly upper: bigint | null;
}

/** floor(base^i) for 0 ≤ i < 64 · 2^scale: T[m] >> (63 − k) with base^i = 2^(k + m/256). */
function floorPower(scale: number, i: number): bigint {
  const k = i >> scale;
  const m = (i & ((1 << scale) - 1)) << (EXP_MAX_SCALE - scale);
  return bigTable()[m]! >> BigInt(63 - k);
}

/**
 * The integers exponential bucket `index` at `scale` holds, floor(base^index) + 1 up to
 * floor(base^(index+1)) inclusive, as [lower, upper). Index −1 is [1, 2); at low indexes of fine
 * scales a bucket may hold no integer (lower = upper).
 * @param scale - the histogram's scale: a whole number from 0 to 8
 * @param index - a bucket index: a whole number from −1 to 64 · 2^scale − 1
 * @returns the range, frozen; `upper` is `null` for the last index
 * @throws TypeError when an argument is not a number; RangeError when it is out of its range
 */
export function expBucketRange(scale: number, index: number): ExpBucketRange {
  checkScale('expBucketRange', scale);
  const last = (64 << scale) - 1;
  if (!Number.isInteger(index) || index < -1 || index > last) {
    const message = `expBucketRange: index must be a whole number from -1 to ${last} at scale ${scale}; received ${describe(index)}`;
    throw typeof index === 'number' ? new RangeError(message) : new TypeError(message);
  }
  const lower = index < 0 ? 1n : floorPower(scale, index) + 1n;
  return Object.freeze({ lower, upper: index === last ? null : floorPower(scale, index + 1) + 1n });
}

/**
 * Checks an exponential histogram's scale.
 * @param where - the call, for the message
 * @param scale - what was received
 * @throws TypeError when `scale` is not a number; RangeError when it is not a whole number from 0 to 8
 */
export function checkScale(where: string, scale: unknown): asserts scale is number {
  if (typeof scale === 'number' && Number.isInteger(scale) && scale >= 0 && scale <= EXP_MAX_SCALE) return;
  const message = `${where}: scale must be a whole number from 0 to ${EXP_MAX_SCALE}; received ${describe(scale)}`;
  throw typeof scale === 'number' ? new RangeError(message) : new TypeError(message);
}

/** Where a table fits: a multiple of 8 with EXP_TABLE_BYTES bytes after it in `buffer`. */
function fits(buffer: ArrayBufferLike, at: unknown): at is number {
  return typeof at === 'number' && Number.isInteger(at) && at >= 0 && at % 8 === 0 && at + EXP_TABLE_BYTES <= buffer.byteLength;
}

/**
 * Writes the exponential index's tables ({@link EXP_TABLE_BYTES} bytes) into `buffer` at byte
 * offset `at`, where the Wasm core's `expIndex` and `recordExp` read them (their `table` argument).
 * Only the creator of a memory writes them, once, before any thread records; attachers check them
 * with {@link checkExpTable}.
 * @param buffer - the memory's buffer (a SharedArrayBuffer, or an ArrayBuffer)
 * @param at - the byte offset: a multiple of 8, with EXP_TABLE_BYTES bytes in `buffer` from it
 * @throws RangeError when `at` is not such an offset
 */
export function writeExpTable(buffer: ArrayBufferLike, at: number): void {
  if (!fits(buffer, at)) {
    throw new RangeError(
      `writeExpTable: at must be a multiple of 8 with the table's ${EXP_TABLE_BYTES} bytes from it within the buffer's ${buffer.byteLength}; received ${describe(at)}`,
    );
  }
  new Uint8Array(buffer, at, EXP_TABLE_BYTES).set((tables ?? decode()).image);
}

/**
 * Whether `buffer` holds the exponential index's tables at `at`, byte for byte (padding included),
 * as {@link writeExpTable} writes them: an attacher refuses a memory where they are not.
 * @param buffer - the memory's buffer
 * @param at - the byte offset the memory's layout gives the table
 * @returns `false` also when `at` is not a multiple of 8 with the whole table in `buffer`
 */
export function checkExpTable(buffer: ArrayBufferLike, at: number): boolean {
  if (!fits(buffer, at)) return false;
  // Compared as base64, natively: no decoding, a few microseconds in a new thread.
  const stored = new Uint8Array(buffer, at, EXP_TABLE_BYTES);
  const end = EXP_TABLE_L + 2048;
  if (btoa(String.fromCharCode.apply(null, stored.subarray(EXP_TABLE_T, end) as unknown as number[])) !== EXP_TABLES_BASE64) return false;
  for (let i = end; i < EXP_TABLE_BYTES; i++) if (stored[i] !== 0) return false;
  return true;
}
