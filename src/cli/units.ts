/**
 * Command-line values with units: sizes (`256MiB`), rates (`1GiB/s`), shares (`25%`), times
 * (`300ms`). Parsed exactly (decimal digits times a power of 1024 or 1000, in bigint), so a value
 * that is not a whole number of its unit's base is refused rather than rounded.
 * @packageDocumentation
 */

/**
 * Every unit a size or rate takes, spelled exactly so (case included), with its bytes: the list the
 * usage prints, and nothing else. `K`, `M`, `G`, `T` are the binary units, as in QEMU's sizes.
 */
export const BYTE_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['B', 1n],
  ['KiB', 1024n],
  ['MiB', 1024n ** 2n],
  ['GiB', 1024n ** 3n],
  ['TiB', 1024n ** 4n],
  ['K', 1024n],
  ['M', 1024n ** 2n],
  ['G', 1024n ** 3n],
  ['T', 1024n ** 4n],
  ['kB', 1000n],
  ['MB', 1000n ** 2n],
  ['GB', 1000n ** 3n],
  ['TB', 1000n ** 4n],
]);

/** The units as the usage and messages list them. */
export const BYTE_UNITS_TEXT = 'B, KiB, MiB, GiB, TiB (or K, M, G, T) and kB, MB, GB, TB';

/**
 * Bytes per unit, for a unit as written after the number, or a reason it is refused: only the
 * spellings of {@link BYTE_UNITS} (or none, for bytes). A `b` after a prefix means bits elsewhere,
 * so it is refused with that said, never guessed.
 */
function unitBytes(unit: string): bigint | string {
  if (unit === '') return 1n;
  const bytes = BYTE_UNITS.get(unit);
  if (bytes !== undefined) return bytes;
  const bits = /^([kKmMgGtT])i?b$/.exec(unit);
  if (bits) return `"${unit}" would be bits; this takes bytes (B), such as ${bits[1]!.toUpperCase()}iB or ${bits[1] === 'k' || bits[1] === 'K' ? 'k' : bits[1]!.toUpperCase()}B`;
  return `unknown unit "${unit}"; the units are ${BYTE_UNITS_TEXT}, spelled exactly so`;
}

/** A parsed value, or why it was refused. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const refuse = (reason: string): Parsed<never> => ({ ok: false, reason });

/**
 * Parses a byte count with an optional unit.
 * @param text - such as `256MiB`, `1.5GiB`, `4096`, `64K`
 * @param perSecond - accept (and require nothing more than) a trailing `/s`
 * @returns the exact number of bytes, or the reason it is refused (not a whole number of bytes,
 *   unknown unit, …)
 * @example parseBytes('1.5KiB') //=> { ok: true, value: 1536n }
 */
export function parseBytes(text: string, perSecond = false): Parsed<bigint> {
  const body = perSecond && text.endsWith('/s') ? text.slice(0, -2) : text;
  const match = /^(\d+)(?:\.(\d+))?\s*([A-Za-z]*)$/.exec(body.trim());
  if (!match) return refuse('not a number with an optional unit');
  const [, whole, fraction = '', unit] = match as unknown as [string, string, string | undefined, string];
  const bytesPerUnit = unitBytes(unit);
  if (typeof bytesPerUnit === 'string') return refuse(bytesPerUnit);
  const scale = 10n ** BigInt(fraction.length);
  const numerator = BigInt(whole + fraction) * bytesPerUnit;
  if (numerator % scale !== 0n) return refuse('not a whole number of bytes');
  return { ok: true, value: numerator / scale };
}

/**
 * Parses a share: a fraction from 0 to 1, or a percentage.
 * @example parseShare('25%') //=> { ok: true, value: 0.25 }
 */
export function parseShare(text: string): Parsed<number> {
  const match = /^(\d+(?:\.\d+)?|\.\d+)(%?)$/.exec(text.trim());
  if (!match) return refuse('not a number or a percentage');
  const value = Number(match[1]) / (match[2] ? 100 : 1);
  return { ok: true, value };
}

/**
 * Parses a duration in whole milliseconds: `300`, `300ms`, `0.3s`, `2s`.
 * @example parseMs('1.5s') //=> { ok: true, value: 1500 }
 */
export function parseMs(text: string): Parsed<number> {
  const match = /^(\d+)(?:\.(\d+))?\s*(ms|s)?$/.exec(text.trim());
  if (!match) return refuse('not a number of milliseconds');
  const [, whole, fraction = '', unit = 'ms'] = match as unknown as [string, string, string | undefined, string | undefined];
  const scale = 10n ** BigInt(fraction.length);
  const numerator = BigInt(whole + fraction) * (unit === 's' ? 1000n : 1n);
  if (numerator % scale !== 0n) return refuse('not a whole number of milliseconds');
  const ms = numerator / scale;
  return ms > BigInt(Number.MAX_SAFE_INTEGER) ? refuse('too large') : { ok: true, value: Number(ms) };
}

/** Parses a whole number written in decimal digits. */
export function parseCount(text: string): Parsed<number> {
  if (!/^\d+$/.test(text.trim())) return refuse('not a whole number');
  const value = Number(text.trim());
  return Number.isSafeInteger(value) ? { ok: true, value } : refuse('too large');
}

/**
 * Writes a byte count with the largest binary unit that divides it exactly, as the flags take it.
 * @example formatBytes(268435456n) //=> '256MiB'
 */
export function formatBytes(bytes: bigint | number): string {
  const value = BigInt(bytes);
  for (const [unit, size] of [['TiB', 1024n ** 4n], ['GiB', 1024n ** 3n], ['MiB', 1024n ** 2n], ['KiB', 1024n]] as const) {
    if (value >= size && value % size === 0n) return `${value / size}${unit}`;
  }
  return `${value}B`;
}
