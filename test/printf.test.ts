import { describe, expect, it } from 'vitest';
import { printfF, printfG } from '../dist/qemu/printf.js';
import { doubleOfBits, reference } from './c-reference.js';

describe('printfG (C %.Ng)', () => {
  it('prints doubles as %.17g does', () => {
    expect(printfG(58.153, 17)).toBe('58.152999999999999');
    expect(printfG(1000.0, 17)).toBe('1000');
    expect(printfG(0.4, 17)).toBe('0.40000000000000002');
    expect(printfG(1e-5, 17)).toBe('1.0000000000000001e-05');
  });

  it('switches to exponent notation at 10^precision and below 10^-4', () => {
    expect(printfG(1e16, 17)).toBe('10000000000000000');
    expect(printfG(1e17, 17)).toBe('1e+17');
    expect(printfG(0.0001, 3)).toBe('0.0001');
    expect(printfG(0.00001, 3)).toBe('1e-05');
    expect(printfG(999.999, 3)).toBe('1e+03');
    expect(printfG(1e300, 17)).toBe('1.0000000000000001e+300');
  });

  it('rounds exact ties to even, as glibc does (JavaScript rounds them up)', () => {
    expect(printfG(1000000000000000.25, 17)).toBe('1000000000000000.2');
    expect((1000000000000000.25).toPrecision(17)).toBe('1000000000000000.3');
    expect(printfG(1000000000000000.75, 17)).toBe('1000000000000000.8');
  });

  it('prints zero, negative zero, infinities and NaN as glibc does', () => {
    expect(printfG(0, 17)).toBe('0');
    expect(printfG(-0, 17)).toBe('-0');
    expect(printfG(Infinity, 17)).toBe('inf');
    expect(printfG(-Infinity, 17)).toBe('-inf');
    expect(printfG(NaN, 17)).toBe('nan');
  });

  it('treats precision 0 as 1', () => {
    expect(printfG(123.456, 0)).toBe('1e+02');
  });

  it(`agrees with glibc on ${reference.format.length} doubles for %.17g and %0.3g`, () => {
    const wrong = reference.format.filter((c) => {
      const x = doubleOfBits(c.bits);
      return printfG(x, 17) !== c.g17 || printfG(x, 3) !== c.g3;
    });
    expect(wrong).toEqual([]);
  });
});

describe('printfF (C %.Nf)', () => {
  it('prints two decimals as HMP prints the throughput', () => {
    expect(printfF(58.153, 2)).toBe('58.15');
    expect(printfF(1000, 2)).toBe('1000.00');
    expect(printfF(0, 2)).toBe('0.00');
    expect(printfF(-0.001, 2)).toBe('-0.00');
  });

  it('rounds exact ties to even (0.125 → 0.12) and other halves by their exact value (2.675 → 2.67)', () => {
    expect(printfF(0.125, 2)).toBe('0.12');
    expect(printfF(0.375, 2)).toBe('0.38');
    expect(printfF(2.675, 2)).toBe('2.67');
    expect(printfF(0.5, 0)).toBe('0');
    expect(printfF(1.5, 0)).toBe('2');
  });

  it('prints every integer digit of large values', () => {
    expect(printfF(1e22, 2)).toBe('10000000000000000000000.00');
  });

  it(`agrees with glibc's %0.2f on ${reference.format.filter((c) => c.f2 !== undefined).length} doubles`, () => {
    const wrong = reference.format.filter((c) => c.f2 !== undefined && printfF(doubleOfBits(c.bits), 2) !== c.f2);
    expect(wrong).toEqual([]);
  });
});
