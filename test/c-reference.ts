/**
 * Figures printed by C on this kind of machine (test/reference/c-reference.c): glibc's printf of
 * doubles, QEMU's size_to_str rule, and the per-window formulas of migration_update_counters.
 */
import { readFileSync } from 'node:fs';

export interface FormatCase {
  bits: string;
  g17: string;
  g3: string;
  f2?: string;
}

export interface SizeCase {
  bytes: string;
  text: string;
}

export interface WindowCase {
  transferred: string;
  timeSpentMs: number;
  pages: string;
  downtimeLimitMs: number;
  switchover: string;
  dirtyBytes: string;
  bandwidthBits: string;
  thresholdSize: string;
  mbpsBits: string;
  pagesPerSecondBits: string;
  /** The expected downtime C stores, when its conversion to int64_t is defined. */
  expectedDowntimeMs?: string;
  /** Otherwise the double it would convert: `inf` or `nan` (a 0 B/ms switch-over bandwidth). */
  expectedDowntime?: 'inf' | 'nan';
}

export const reference: { format: FormatCase[]; sizeToStr: SizeCase[]; window: WindowCase[] } = JSON.parse(
  readFileSync(new URL('./fixtures/c-reference.json', import.meta.url), 'utf8'),
);

const view = new DataView(new ArrayBuffer(8));

/** The double whose IEEE-754 bits are this hex string. */
export function doubleOfBits(hex: string): number {
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

/** The IEEE-754 bits of a double as 16 hex digits. */
export function bitsOfDouble(x: number): string {
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString(16).padStart(16, '0');
}
