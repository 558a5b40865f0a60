import { describe, expect, it } from 'vitest';
import { BYTE_UNITS, BYTE_UNITS_TEXT, formatBytes, parseBytes, parseCount, parseMs, parseShare } from '../dist/cli/units.js';

describe('command-line units', () => {
  it.each([
    ['4096', 4096n],
    ['256MiB', 268435456n],
    ['256M', 268435456n],
    ['1.5KiB', 1536n],
    ['64K', 65536n],
    ['1GiB', 1073741824n],
    ['2TiB', 2199023255552n],
    ['500MB', 500000000n],
    ['1kB', 1000n],
    ['1 GiB', 1073741824n],
    ['18446744073709551615B', 18446744073709551615n],
  ])('reads the size %s as %s bytes', (text, bytes) => {
    expect(parseBytes(text)).toEqual({ ok: true, value: bytes });
  });

  it('takes exactly the unit spellings the usage lists, and refuses every other spelling', () => {
    expect(BYTE_UNITS_TEXT).toBe('B, KiB, MiB, GiB, TiB (or K, M, G, T) and kB, MB, GB, TB');
    const listed = BYTE_UNITS_TEXT.match(/[A-Za-z]+/g)!.filter((word) => word !== 'or' && word !== 'and');
    expect([...BYTE_UNITS.keys()].sort()).toEqual([...listed].sort());
    for (const unit of listed) expect(parseBytes(`2${unit}`)).toEqual({ ok: true, value: 2n * BYTE_UNITS.get(unit)! });
    // Near misses: another case, a binary prefix without B or with a lowercase i-less B.
    for (const unit of ['k', 'm', 'g', 't', 'Ki', 'Mi', 'ki', 'mi', 'kiB', 'miB', 'mB', 'gB', 'KB', 'Kib', 'MIB', 'mib', 'b', 'KIB', 'bytes']) {
      const parsed = parseBytes(`16${unit}`);
      expect(parsed.ok, unit).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toMatch(/^unknown unit|would be bits/);
    }
    expect(parseBytes('16m')).toEqual({ ok: false, reason: `unknown unit "m"; the units are ${BYTE_UNITS_TEXT}, spelled exactly so` });
    expect(parseBytes('1mb')).toEqual({ ok: false, reason: '"mb" would be bits; this takes bytes (B), such as MiB or MB' });
    expect(parseBytes('1kb')).toEqual({ ok: false, reason: '"kb" would be bits; this takes bytes (B), such as KiB or kB' });
  });

  it('reads rates with or without /s, and sizes only without', () => {
    expect(parseBytes('1GiB/s', true)).toEqual({ ok: true, value: 1073741824n });
    expect(parseBytes('1GiB', true)).toEqual({ ok: true, value: 1073741824n });
    expect(parseBytes('1GiB/s').ok).toBe(false);
  });

  it.each([
    ['0.3B', 'not a whole number of bytes'],
    ['1.0000001KiB', 'not a whole number of bytes'],
    ['12x', `unknown unit "x"; the units are ${BYTE_UNITS_TEXT}, spelled exactly so`],
    ['100Mb', '"Mb" would be bits; this takes bytes (B), such as MiB or MB'],
    ['-1', 'not a number with an optional unit'],
    ['', 'not a number with an optional unit'],
    ['1e6', 'not a number with an optional unit'],
  ])('refuses the size %j: %s', (text, reason) => {
    expect(parseBytes(text)).toEqual({ ok: false, reason });
  });

  it('reads shares as fractions or percentages', () => {
    expect(parseShare('0.25')).toEqual({ ok: true, value: 0.25 });
    expect(parseShare('.5')).toEqual({ ok: true, value: 0.5 });
    expect(parseShare('25%')).toEqual({ ok: true, value: 0.25 });
    expect(parseShare('a%')).toEqual({ ok: false, reason: 'not a number or a percentage' });
  });

  it('reads durations in whole milliseconds', () => {
    expect(parseMs('300')).toEqual({ ok: true, value: 300 });
    expect(parseMs('300ms')).toEqual({ ok: true, value: 300 });
    expect(parseMs('1.5s')).toEqual({ ok: true, value: 1500 });
    expect(parseMs('0.0005s')).toEqual({ ok: false, reason: 'not a whole number of milliseconds' });
  });

  it('reads counts in decimal digits only', () => {
    expect(parseCount('12')).toEqual({ ok: true, value: 12 });
    expect(parseCount('1.0')).toEqual({ ok: false, reason: 'not a whole number' });
    expect(parseCount('99999999999999999')).toEqual({ ok: false, reason: 'too large' });
  });

  it('writes byte counts with the largest unit that divides them', () => {
    expect(formatBytes(268435456)).toBe('256MiB');
    expect(formatBytes(1536n)).toBe('1536B');
    expect(formatBytes(3n * 1024n ** 4n)).toBe('3TiB');
    expect(formatBytes(0)).toBe('0B');
  });
});
