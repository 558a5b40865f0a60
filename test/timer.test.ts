// Histogram.startTimer(): the elapsed time in the histogram's unit, with integer arithmetic from
// nanoseconds, rounded down. The conversion is checked exactly with an injected clock (nothing
// here depends on how long anything takes); the engine's own clock only for "recorded once, at
// least 0, in the bucket of the value returned".
import { afterEach, describe, expect, it } from 'vitest';
import { defineStats, type BackendName } from '../dist/index.js';
import { timerInternals } from '../dist/timer.js';
import { BACKENDS, U64_MAX } from './helpers.js';
import { startFixture } from './workers.js';

const UNITS = [
  ['nanoseconds', 1n],
  ['microseconds', 1_000n],
  ['milliseconds', 1_000_000n],
  ['seconds', 1_000_000_000n],
] as const;

const Timed = defineStats({
  nanoseconds: { kind: 'histogram', unit: 'nanoseconds', help: 'Timed in ns', buckets: 64 },
  microseconds: { kind: 'histogram', unit: 'microseconds', help: 'Timed in µs', buckets: 64 },
  milliseconds: { kind: 'histogram', unit: 'milliseconds', help: 'Timed in ms', buckets: 40, subBuckets: 4 },
  seconds: { kind: 'histogram', unit: 'seconds', help: 'Timed in s', buckets: 64 },
  sizes: { kind: 'histogram', unit: 'bytes', help: 'Not a time', buckets: 8 },
});

/** A clock the test moves by hand, from a start far from 0. */
function handClock(start = 1n << 62n): { now: bigint } {
  const clock = { now: start };
  timerInternals.useClock(() => clock.now);
  return clock;
}

afterEach(() => timerInternals.useClock(undefined));

describe.each(BACKENDS)('startTimer on the %s backend', (backend: BackendName) => {
  it.each(UNITS)('records the elapsed %s, rounded down from whole nanoseconds', async (unit, per) => {
    const stats = await Timed.create({ backend });
    const h = stats[unit];
    const clock = handClock();
    const elapsed = [0n, 1n, per - 1n, per, per + 1n, 2n * per - 1n, 130n * per + per / 2n, 1n << 40n, (1n << 63n) + 12345n];
    let sum = 0n;
    for (const ns of elapsed) {
      const end = h.startTimer();
      clock.now += ns;
      const value = end();
      expect(value, `${ns} ns`).toBe(ns / per);
      sum += ns / per;
    }
    expect(h.count()).toBe(BigInt(elapsed.length));
    expect(h.sum()).toBe(sum);
    const counts = new Array<bigint>(h.bucketCount).fill(0n);
    for (const ns of elapsed) counts[h.bucketOf(ns / per)]! += 1n;
    expect(h.buckets()).toEqual(counts);
  });

  it('records 2^64 − 1 nanoseconds, the most a u64 clock difference can be, exactly', async () => {
    const stats = await Timed.create({ backend });
    const clock = handClock(0n);
    const end = stats.nanoseconds.startTimer();
    clock.now = U64_MAX;
    expect(end()).toBe(U64_MAX);
    expect(stats.nanoseconds.buckets()[63]).toBe(1n);
  });

  it('records once: a second end() records nothing and returns the same value', async () => {
    const stats = await Timed.create({ backend });
    const clock = handClock();
    const end = stats.microseconds.startTimer();
    clock.now += 2_500n;
    expect(end()).toBe(2n);
    clock.now += 1_000_000n;
    expect(end()).toBe(2n);
    expect([stats.microseconds.count(), stats.microseconds.sum()]).toEqual([1n, 2n]);
  });

  it('keeps timers apart, each with the clock it started with', async () => {
    const stats = await Timed.create({ backend });
    const clock = handClock();
    const a = stats.nanoseconds.startTimer();
    clock.now += 10n;
    const b = stats.nanoseconds.startTimer();
    clock.now += 5n;
    const other = { now: 0n };
    timerInternals.useClock(() => other.now);
    expect([b(), a()]).toEqual([5n, 15n]);
    expect(stats.nanoseconds.count()).toBe(2n);
  });

  it('refuses a clock that went back, recording nothing (only an injected clock can)', async () => {
    const stats = await Timed.create({ backend });
    const clock = handClock();
    const end = stats.seconds.startTimer();
    clock.now -= 7n;
    expect(() => end()).toThrow(new RangeError('seconds.startTimer: end(): the clock went back 7 ns since startTimer(); nothing was recorded'));
    expect(stats.seconds.count()).toBe(0n);
  });

  it('refuses a histogram whose unit is not a time, naming the unit and the allowed ones', async () => {
    const stats = await Timed.create({ backend });
    expect(() => stats.sizes.startTimer()).toThrow(
      new TypeError('sizes.startTimer: the histogram\'s unit must be nanoseconds, microseconds, milliseconds or seconds to time with it; its unit is "bytes"'),
    );
    expect(stats.sizes.count()).toBe(0n);
  });

  it('refuses arguments (prom-client’s labels) to startTimer and to end, naming them, recording nothing', async () => {
    const stats = await Timed.create({ backend });
    const h = stats.microseconds as unknown as { startTimer(...args: unknown[]): (...args: unknown[]) => bigint };
    expect(() => h.startTimer({ route: '/' })).toThrow(new TypeError('microseconds.startTimer() takes no arguments (a histogram has no labels); received an object (Object)'));
    const end = h.startTimer();
    expect(() => end({ code: 200 })).toThrow(new TypeError('microseconds.startTimer: end() takes no arguments (a histogram has no labels); received an object (Object)'));
    expect(stats.microseconds.count()).toBe(0n);
    end();
    expect(stats.microseconds.count()).toBe(1n);
  });

  it.each(UNITS)('with the engine’s clock, records one value in %s, at least 0, in its bucket', async (unit) => {
    const stats = await Timed.create({ backend });
    const h = stats[unit];
    expect(timerInternals.source).toBe('process.hrtime.bigint');
    const end = h.startTimer();
    const value = end();
    expect(value).toBeGreaterThanOrEqual(0n);
    expect(h.count()).toBe(1n);
    expect(h.sum()).toBe(value);
    const bucket = h.bucketOf(value);
    expect(h.buckets()[bucket]).toBe(1n);
    const { lower, upper } = h.bucketRange(bucket);
    expect(value >= lower && (upper === null || value < upper)).toBe(true);
  });
});

describe('startTimer without process.hrtime', () => {
  it('reads performance.now(), recording one value at least 0', async () => {
    const { worker, result } = startFixture<Record<string, string>>('timer-fallback.mjs');
    try {
      const report = await result;
      expect(report.source).toBe('performance.now');
      expect(BigInt(report.value!)).toBeGreaterThanOrEqual(0n);
      expect(report.again).toBe(report.value);
      expect([report.count, report.sum]).toEqual(['1', report.value]);
    } finally {
      await worker.terminate();
    }
  });
});
