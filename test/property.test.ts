import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COUNTER_NAMES, MigrationStats, type CounterName } from '../dist/index.js';
import { U64_MAX } from './helpers.js';

const MASK = U64_MAX;
const EDGES = [0n, 1n, 2n, 9n, 10n, 0xffff_ffffn, 0x1_0000_0000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, U64_MAX - 1n, U64_MAX];
const value = fc.oneof(fc.constantFrom(...EDGES), fc.bigInt({ min: 0n, max: U64_MAX }));
// Every counter: the 11 laned add-only ones and the 4 gauges.
const NAMES: readonly CounterName[] = COUNTER_NAMES;
/** Counts addMultifdPacket takes: numbers only, safe integers. */
const count = fc.oneof(fc.constantFrom(0, 1, 0xffff_ffff, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.nat());
/** The views below: a shared memory seen by 6 instances, and a separate JS-only memory. */
const VIEWS = 6;

type Op =
  | { kind: 'add' | 'set' | 'min' | 'max'; name: CounterName; value: bigint; asNumber: boolean; via: number }
  | { kind: 'rateSet'; value: bigint; via: number }
  | { kind: 'rateReset'; via: number }
  | { kind: 'reset'; via: number }
  | { kind: 'close'; via: number }
  | { kind: 'packet'; normal: number; zero: number; bytes: number; via: number };

// Counter operations most often; reset and close rarely, so that values have time to grow.
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constantFrom('add' as const, 'set' as const, 'min' as const, 'max' as const),
      name: fc.constantFrom(...NAMES),
      value,
      asNumber: fc.boolean(),
      via: fc.nat(VIEWS - 1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rateSet' as const), value, via: fc.nat(VIEWS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rateReset' as const), via: fc.nat(VIEWS - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('packet' as const), normal: count, zero: count, bytes: count, via: fc.nat(VIEWS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), via: fc.nat(VIEWS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), via: fc.nat(VIEWS - 1) }) },
);

/** The BigInt model of QEMU's Stat64 operations and rate limiter (stats64.h, migration-stats.c). */
class Model {
  v = new Map<CounterName, bigint>(NAMES.map((n) => [n, 0n]));
  budget = 0n;
  get(n: CounterName): bigint {
    return this.v.get(n)!;
  }
  transferred(): bigint {
    return (this.get('qemuFileTransferred') + this.get('multifdBytes') + this.get('rdmaBytes')) & MASK;
  }
  exceeded(): boolean {
    if (this.budget === 0n) return false;
    return ((this.transferred() - this.get('rateLimitStart')) & MASK) > this.budget;
  }
}

describe('random operation sequences', () => {
  it('give the same results on Wasm, pure JS and a BigInt model, on one memory and on separate ones', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        // Six views of one memory: Wasm and JS, each with a lane and without one (base slots), and
        // Wasm and JS through a cloned handle, whose second Memory object for the same buffer gets
        // its own Wasm instance (as a handle received twice by postMessage does). A separate
        // JS-only memory replays the same operations. `close` moves a view to the base slots.
        const a = await MigrationStats.create({ backend: 'wasm' });
        const clone = structuredClone(a.handle);
        const shared = [
          a,
          await MigrationStats.attach(a.handle, { backend: 'js' }),
          await MigrationStats.attach(a.handle, { backend: 'wasm', lane: false }),
          await MigrationStats.attach(a.handle, { backend: 'js', lane: false }),
          await MigrationStats.attach(clone, { backend: 'wasm' }),
          await MigrationStats.attach(clone, { backend: 'js' }),
        ];
        expect(clone.memory).not.toBe(a.handle.memory);
        const alone = await MigrationStats.create({ backend: 'js' });
        const model = new Model();
        for (const o of ops) {
          const targets = [shared[o.via]!, alone];
          if (o.kind === 'close') {
            shared[o.via]!.close();
          } else if (o.kind === 'reset') {
            for (const s of targets) s.reset();
            for (const n of NAMES) model.v.set(n, 0n);
            model.budget = 0n;
          } else if (o.kind === 'packet') {
            for (const s of targets) s.addMultifdPacket(o.normal, o.zero, o.bytes);
            model.v.set('normalPages', (model.get('normalPages') + BigInt(o.normal)) & MASK);
            model.v.set('zeroPages', (model.get('zeroPages') + BigInt(o.zero)) & MASK);
            model.v.set('multifdBytes', (model.get('multifdBytes') + BigInt(o.bytes)) & MASK);
          } else if (o.kind === 'rateSet') {
            for (const s of targets) s.migrationRateSet(o.value);
            model.budget = o.value / 10n;
            model.v.set('rateLimitMax', model.budget);
          } else if (o.kind === 'rateReset') {
            for (const s of targets) s.migrationRateReset();
            model.v.set('rateLimitStart', model.transferred());
          } else {
            const arg = o.asNumber && o.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(o.value) : o.value;
            for (const s of targets) s[o.name][o.kind](arg);
            const cur = model.get(o.name);
            const next =
              o.kind === 'add' ? (cur + o.value) & MASK
              : o.kind === 'set' ? o.value
              : o.kind === 'min' ? (o.value < cur ? o.value : cur)
              : o.value > cur ? o.value : cur;
            model.v.set(o.name, next);
            if (o.name === 'rateLimitMax') model.budget = next;
          }
          for (const s of [...shared, alone]) {
            for (const n of NAMES) {
              const expected = model.get(n);
              expect(s[n].get()).toBe(expected);
              if (expected <= BigInt(Number.MAX_SAFE_INTEGER)) expect(s[n].getNumber()).toBe(Number(expected));
              else expect(() => s[n].getNumber()).toThrow(RangeError);
            }
            expect(s.migrationRateGet()).toBe(model.budget);
            expect(s.migrationTransferredBytes()).toBe(model.transferred());
            expect(s.migrationRateExceeded()).toBe(model.exceeded());
          }
        }
        for (const s of [...shared, alone]) s.close();
      }),
      { numRuns: 150 },
    );
  });
});
