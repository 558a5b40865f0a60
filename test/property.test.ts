import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MigrationStats, type CounterName } from '../dist/index.js';
import { U64_MAX } from './helpers.js';

const MASK = U64_MAX;
const EDGES = [0n, 1n, 2n, 9n, 10n, 0xffff_ffffn, 0x1_0000_0000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, U64_MAX - 1n, U64_MAX];
const value = fc.oneof(fc.constantFrom(...EDGES), fc.bigInt({ min: 0n, max: U64_MAX }));
// A laned add-only counter, a gauge, and the three counters the rate limiter sums.
const NAMES: CounterName[] = ['zeroPages', 'dirtyPagesRate', 'qemuFileTransferred', 'multifdBytes', 'rdmaBytes', 'rateLimitStart'];

type Op =
  | { kind: 'add' | 'set' | 'min' | 'max'; name: CounterName; value: bigint; asNumber: boolean; via: number }
  | { kind: 'rateSet'; value: bigint; via: number }
  | { kind: 'rateReset'; via: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('add' as const, 'set' as const, 'min' as const, 'max' as const),
    name: fc.constantFrom(...NAMES),
    value,
    asNumber: fc.boolean(),
    via: fc.nat(3),
  }),
  fc.record({ kind: fc.constant('rateSet' as const), value, via: fc.nat(3) }),
  fc.record({ kind: fc.constant('rateReset' as const), via: fc.nat(3) }),
);

/** The BigInt model of SPEC §2 and §3. */
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
        // Four views: Wasm with a lane, JS with a lane, Wasm without one (base slots), and a
        // separate JS-only memory that replays the same operations.
        const a = await MigrationStats.create({ backend: 'wasm' });
        const shared = [a, await MigrationStats.attach(a.handle, { backend: 'js' }), await MigrationStats.attach(a.handle, { backend: 'wasm', lane: false })];
        const alone = await MigrationStats.create({ backend: 'js' });
        const model = new Model();
        for (const o of ops) {
          const targets = [shared[o.via % 3]!, alone];
          if (o.kind === 'rateSet') {
            for (const s of targets) s.migrationRateSet(o.value);
            model.budget = o.value / 10n;
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
