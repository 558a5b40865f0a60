/**
 * C's `printf` conversions of a double (`%.Ng`, `%.Nf`) exactly as glibc prints them.
 *
 * QEMU prints doubles with glibc: `%.17g` in QMP, `%0.2f` and `%0.3g` in HMP. glibc converts the
 * exact binary value of the double to decimal and rounds half to even, whereas JavaScript's
 * `toPrecision`/`toFixed` round half up (`(0.125).toFixed(2)` is `0.13`, glibc prints `0.12`). So
 * the digits are computed here from the double's exact value with BigInt arithmetic.
 * @packageDocumentation
 */

/** A finite non-zero double as `digits × 10^-scale`, exactly (every double is a finite decimal). */
interface ExactDecimal {
  /** Sign bit set (also for -0). */
  readonly negative: boolean;
  /** Decimal digits of the magnitude, no leading zeros ("0" for zero). */
  readonly digits: string;
  /** Digits after the decimal point: value = digits / 10^scale. */
  readonly scale: number;
}

const view = new DataView(new ArrayBuffer(8));

function exactDecimal(x: number): ExactDecimal {
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const negative = hi >>> 31 === 1;
  const biased = (hi >>> 20) & 0x7ff;
  const fraction = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  // value = mantissa × 2^exponent
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = biased === 0 ? -1074 : biased - 1075;
  if (mantissa === 0n) return { negative, digits: '0', scale: 0 };
  if (exponent >= 0) return { negative, digits: (mantissa << BigInt(exponent)).toString(), scale: 0 };
  // m / 2^k = m·5^k / 10^k
  return { negative, digits: (mantissa * 5n ** BigInt(-exponent)).toString(), scale: -exponent };
}

/**
 * Keeps the first `keep` digits of `digits`, rounding the rest half to even (glibc's rule in the
 * default rounding mode). `keep` may be 0 (everything rounds into a possible single carry digit).
 * @returns the kept digits, one longer than `keep` when the rounding carried out ("999" → "1000")
 */
function roundDigits(digits: string, keep: number): string {
  if (keep >= digits.length) return digits + '0'.repeat(keep - digits.length);
  const kept = keep > 0 ? digits.slice(0, keep) : '';
  const first = digits.charCodeAt(keep) - 48;
  const restNonZero = /[1-9]/.test(digits.slice(keep + 1));
  const lastOdd = keep > 0 && (digits.charCodeAt(keep - 1) - 48) % 2 === 1;
  const up = first > 5 || (first === 5 && (restNonZero || lastOdd));
  if (!up) return kept === '' ? '0' : kept;
  return (BigInt(kept === '' ? '0' : kept) + 1n).toString().padStart(Math.max(keep, 1), '0');
}

function special(x: number): string | undefined {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return undefined;
}

/**
 * `%.{precision}f`: fixed notation with `precision` digits after the point.
 * @param x - any double
 * @param precision - digits after the decimal point, 0 or more
 * @returns what glibc's `printf("%.*f", precision, x)` prints
 * @example printfF(58.153, 2) //=> '58.15'
 * @example printfF(0.125, 2) //=> '0.12'
 */
export function printfF(x: number, precision: number): string {
  const s = special(x);
  if (s !== undefined) return s;
  const { negative, digits, scale } = exactDecimal(x);
  let units: string;
  if (scale <= precision) {
    units = digits + '0'.repeat(precision - scale);
  } else {
    const keep = digits.length - (scale - precision);
    units = keep >= 0 ? roundDigits(digits, keep) : '0';
  }
  units = units.padStart(precision + 1, '0');
  const int = units.slice(0, units.length - precision).replace(/^0+(?=\d)/, '');
  const frac = units.slice(units.length - precision);
  return (negative ? '-' : '') + int + (precision > 0 ? '.' + frac : '');
}

/**
 * `%.{precision}g`: the shorter of fixed and exponent notation for `precision` significant digits,
 * trailing zeros removed (C99 7.21.6.1).
 * @param x - any double
 * @param precision - significant digits; 0 counts as 1
 * @returns what glibc's `printf("%.*g", precision, x)` prints
 * @example printfG(58.153, 17) //=> '58.152999999999999'
 * @example printfG(1e-5, 17) //=> '1.0000000000000001e-05'
 * @example printfG(999.999, 3) //=> '1e+03'
 */
export function printfG(x: number, precision: number): string {
  const s = special(x);
  if (s !== undefined) return s;
  const p = precision === 0 ? 1 : precision;
  const { negative, digits, scale } = exactDecimal(x);
  const sign = negative ? '-' : '';
  if (digits === '0') return sign + '0';
  // Round to p significant digits as %e would; the exponent X is taken after rounding.
  let sig = roundDigits(digits, p);
  let exp10 = digits.length - 1 - scale;
  if (sig.length > p) {
    sig = sig.slice(0, p);
    exp10 += 1;
  }
  let body: string;
  if (exp10 < -4 || exp10 >= p) {
    const mantissa = sig.length > 1 ? `${sig[0]}.${sig.slice(1)}` : sig;
    const expDigits = String(Math.abs(exp10)).padStart(2, '0');
    body = `${stripZeros(mantissa)}e${exp10 < 0 ? '-' : '+'}${expDigits}`;
  } else if (exp10 >= 0) {
    body = stripZeros(`${sig.slice(0, exp10 + 1)}.${sig.slice(exp10 + 1)}`);
  } else {
    body = stripZeros(`0.${'0'.repeat(-exp10 - 1)}${sig}`);
  }
  return sign + body;
}

/** Drops trailing zeros of a fraction, and the point when nothing follows it (no `#` flag). */
function stripZeros(text: string): string {
  if (!text.includes('.')) return text;
  return text.replace(/0+$/, '').replace(/\.$/, '');
}
