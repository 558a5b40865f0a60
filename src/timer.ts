/**
 * `Histogram.startTimer()`: the time from `startTimer()` to `end()`, from a monotonic clock, in the
 * histogram's unit, with integer arithmetic from nanoseconds.
 *
 * The clock is `process.hrtime.bigint()` where it exists (Node, Bun, Deno), else `performance.now()`
 * (browsers), read as whole nanoseconds. The elapsed nanoseconds are divided by the unit's size and
 * the quotient's floor is recorded: the value is then in the bucket the exact duration d falls in
 * wherever the boundaries are whole units, as log-linear buckets' are (a bucket holds [lower, upper)
 * of the unit, and lower ≤ d < upper exactly when lower ≤ floor(d) < upper). The sum is short by
 * less than one unit per record.
 * @packageDocumentation
 */
import { describe } from './errors.js';

/** A clock: whole nanoseconds from an arbitrary origin, never going back. @internal */
export type Clock = () => bigint;

/** Nanoseconds in one of each unit a timer records in. */
const NS_PER_UNIT: ReadonlyMap<string, bigint> = new Map([
  ['nanoseconds', 1n],
  ['microseconds', 1_000n],
  ['milliseconds', 1_000_000n],
  ['seconds', 1_000_000_000n],
]);

/** The units a histogram must have for `startTimer()`. */
export const TIMER_UNITS: readonly string[] = Object.freeze([...NS_PER_UNIT.keys()]);

const hrtime = (globalThis as { process?: { hrtime?: { bigint?: unknown } } }).process?.hrtime;
/** Which monotonic clock the engine has. */
const SOURCE = typeof hrtime?.bigint === 'function' ? 'process.hrtime.bigint' : 'performance.now';

/** The engine's monotonic clock, in whole nanoseconds. */
const systemClock = ((): Clock => {
  if (SOURCE === 'process.hrtime.bigint') return () => (hrtime as { bigint(): bigint }).bigint();
  return () => {
    // Milliseconds with a fraction: the whole milliseconds and the fraction apart, so that the
    // nanoseconds stay exact past 2^53 ns (104 days) of uptime.
    const ms = performance.now();
    const whole = Math.floor(ms);
    return BigInt(whole) * 1_000_000n + BigInt(Math.floor((ms - whole) * 1e6));
  };
})();

let clock: Clock = systemClock;

/** For tests (not exported by the package's entries). */
export const timerInternals = {
  /** The clock timers started from now on read; `undefined` puts the engine's back. */
  useClock(next: Clock | undefined): void {
    clock = next ?? systemClock;
  },
  /** Which clock the engine's is. */
  source: SOURCE,
};

/** The error for an argument given to `startTimer` or `end`, which take none (prom-client's take labels). */
function noArguments(where: string, value: unknown): TypeError {
  return new TypeError(`${where}() takes no arguments (a histogram has no labels); received ${describe(value)}`);
}

/**
 * Starts a timer for a histogram.
 * @param name - the histogram's name, for messages
 * @param unit - the histogram's unit
 * @param record - records a value in the histogram
 * @param given - the arguments `startTimer` was called with (it takes none)
 * @returns `end()` (see `Histogram.startTimer`)
 * @throws TypeError naming the unit and the allowed ones when `unit` is not a unit of time, or
 *   naming the first argument when one is given
 * @internal
 */
export function startTimer(name: string, unit: string, record: (value: bigint) => void, given: ArrayLike<unknown>): () => bigint {
  if (given.length > 0) throw noArguments(`${name}.startTimer`, given[0]);
  const per = NS_PER_UNIT.get(unit);
  if (per === undefined) {
    throw new TypeError(`${name}.startTimer: the histogram's unit must be ${TIMER_UNITS.slice(0, -1).join(', ')} or ${TIMER_UNITS.at(-1)!} to time with it; its unit is ${describe(unit)}`);
  }
  const read = clock;
  const start = read();
  let recorded: bigint | undefined;
  return function end(...rest: unknown[]): bigint {
    if (rest.length > 0) throw noArguments(`${name}.startTimer: end`, rest[0]);
    if (recorded !== undefined) return recorded;
    const elapsed = read() - start;
    if (elapsed < 0n) throw new RangeError(`${name}.startTimer: end(): the clock went back ${-elapsed} ns since startTimer(); nothing was recorded`);
    const value = elapsed / per;
    record(value);
    return (recorded = value);
  };
}
