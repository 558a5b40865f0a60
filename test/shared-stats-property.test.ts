// Random operation sequences, one property per kind of metric, applied through four views of one
// memory (a Wasm instance with a lane, a JS instance with a lane, a Wasm instance without a lane,
// an attachStats view) and to a second memory made by the JS backend, against a BigInt model:
// every view of both memories reads what the model says after every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attachStats, defineStats, type Histogram, type SharedStats, type Stat64, type StatVector } from '../dist/index.js';
import { modelBucket } from './bucket-model.js';
import { U64_MAX } from './helpers.js';

const Mixed = defineStats({
  sent: { kind: 'counter', unit: 'bytes', help: 'Bytes sent' },
  level: { kind: 'gauge', unit: 'files', help: 'Files waiting' },
  perChannel: { kind: 'counter', unit: 'bytes', help: 'Bytes by channel', length: 3, label: 'channel' },
  perQueue: { kind: 'gauge', unit: 'files', help: 'Files by queue', length: 2, label: 'queue' },
  latency: { kind: 'histogram', unit: 'microseconds', help: 'Latency', buckets: 10 },
  sizes: { kind: 'histogram', unit: 'bytes', help: 'Sizes', buckets: 30, subBuckets: 2 },
});
const SPECS = Mixed.definition.metrics;
const VIEWS = 4;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const EDGES = [0n, 1n, 2n, 3n, 0xffff_ffffn, 0x1_0000_0000n, MAX_SAFE, MAX_SAFE + 1n, 1n << 63n, U64_MAX - 1n, U64_MAX];
const value = fc.oneof(fc.constantFrom(...EDGES), fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: U64_MAX }));
const via = fc.nat(VIEWS - 1);

type Op =
  | { kind: 'write'; op: 'add' | 'set' | 'min' | 'max'; name: string; index: number; value: bigint; asNumber: boolean; via: number }
  | { kind: 'record'; name: string; value: bigint; asNumber: boolean; via: number }
  | { kind: 'reset'; via: number }
  | { kind: 'close'; via: number };

/** Writes to the named metrics (element `index` of a vector, reduced to its length). */
const write = (names: string[]) =>
  fc.record({
    kind: fc.constant('write' as const),
    op: fc.constantFrom('add' as const, 'set' as const, 'min' as const, 'max' as const),
    name: fc.constantFrom(...names),
    index: fc.nat(7),
    value,
    asNumber: fc.boolean(),
    via,
  });
const record = fc.record({ kind: fc.constant('record' as const), name: fc.constantFrom('latency', 'sizes'), value, asNumber: fc.boolean(), via });
/** Each kind's operations, with a reset or a close now and then. */
const ops = (main: fc.Arbitrary<Op>) =>
  fc.array(
    fc.oneof(
      { weight: 12, arbitrary: main },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), via }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), via }) },
    ),
    { maxLength: 40 },
  );

/** The BigInt model: each metric's values (one for a scalar), and each histogram's buckets and sum. */
class Model {
  values = new Map<string, bigint[]>();
  histograms = new Map<string, { buckets: bigint[]; sum: bigint }>();
  constructor() {
    this.reset();
  }
  reset(): void {
    for (const spec of SPECS) {
      if (spec.kind === 'histogram') this.histograms.set(spec.name, { buckets: new Array<bigint>(spec.buckets).fill(0n), sum: 0n });
      else this.values.set(spec.name, new Array<bigint>(Math.max(1, spec.length)).fill(0n));
    }
  }
  apply(o: Op): void {
    if (o.kind === 'reset') this.reset();
    else if (o.kind === 'write') {
      const cells = this.values.get(o.name)!;
      const i = o.index % cells.length;
      const cur = cells[i]!;
      cells[i] =
        o.op === 'add' ? BigInt.asUintN(64, cur + o.value)
        : o.op === 'set' ? o.value
        : o.op === 'min' ? (o.value < cur ? o.value : cur)
        : o.value > cur ? o.value : cur;
    } else if (o.kind === 'record') {
      const spec = SPECS.find((s) => s.name === o.name)!;
      const h = this.histograms.get(o.name)!;
      h.buckets[modelBucket(o.value, spec.buckets, spec.subBits)]! += 1n;
      h.sum = BigInt.asUintN(64, h.sum + o.value);
    }
  }
  /** What snapshot() must return. */
  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const spec of SPECS) {
      if (spec.kind === 'histogram') {
        const { buckets, sum } = this.histograms.get(spec.name)!;
        out[spec.name] = { count: buckets.reduce((a, b) => a + b, 0n), sum, buckets: [...buckets] };
      } else {
        const cells = this.values.get(spec.name)!;
        out[spec.name] = spec.length === 0 ? cells[0] : [...cells];
      }
    }
    return out;
  }
}

/** Applies one operation to one stats object. */
function applyTo(stats: SharedStats, o: Op): void {
  if (o.kind === 'reset') stats.reset();
  else if (o.kind === 'close') stats.close();
  else {
    const arg = o.asNumber && o.value <= MAX_SAFE ? Number(o.value) : o.value;
    if (o.kind === 'record') (stats.metric(o.name) as Histogram).record(arg);
    else {
      const metric = stats.metric(o.name) as Stat64 | StatVector;
      const target = 'at' in metric ? metric.at(o.index % metric.length) : metric;
      target[o.op](arg);
    }
  }
}

/** Every view of both memories reads what the model says, through snapshot and each metric's own reads. */
function expectModel(all: SharedStats[], model: Model, step: string): void {
  const expected = model.snapshot();
  for (const [k, stats] of all.entries()) {
    const where = `${step}, view ${k}`;
    expect(stats.snapshot(), where).toEqual(expected);
    for (const spec of SPECS) {
      const metric = stats.metric(spec.name);
      if ('record' in metric) {
        const e = expected[spec.name] as { count: bigint; sum: bigint };
        expect([metric.count(), metric.sum()], where).toEqual([e.count, e.sum]);
      } else if ('at' in metric) {
        const e = expected[spec.name] as bigint[];
        expect(metric.total(), where).toBe(BigInt.asUintN(64, e.reduce((a, b) => a + b, 0n)));
      } else {
        const e = expected[spec.name] as bigint;
        if (e <= MAX_SAFE) expect(metric.getNumber(), where).toBe(Number(e));
        else expect(() => metric.getNumber(), where).toThrow(RangeError);
      }
    }
  }
}

async function check(sequence: Op[]): Promise<void> {
  const first = await Mixed.create({ backend: 'wasm' });
  const views: SharedStats[] = [
    first,
    await Mixed.attach(first.handle, { backend: 'js' }),
    await Mixed.attach(first.handle, { backend: 'wasm', lane: false }),
    await attachStats(first.handle, { backend: 'js' }),
  ];
  const alone = await Mixed.create({ backend: 'js' });
  const model = new Model();
  for (const [step, o] of sequence.entries()) {
    applyTo(views[o.via]!, o);
    if (o.kind !== 'close') applyTo(alone, o);
    model.apply(o);
    expectModel([...views, alone], model, `step ${step} (${o.kind} via ${o.via})`);
  }
}

describe('random operation sequences against a BigInt model', () => {
  const settings = { numRuns: 100 };
  it('agree on scalar counters', async () => {
    await fc.assert(fc.asyncProperty(ops(write(['sent'])), check), { ...settings, seed: 101 });
  });

  it('agree on scalar gauges', async () => {
    await fc.assert(fc.asyncProperty(ops(write(['level'])), check), { ...settings, seed: 202 });
  });

  it('agree on every element of counter and gauge vectors', async () => {
    await fc.assert(fc.asyncProperty(ops(write(['perChannel', 'perQueue'])), check), { ...settings, seed: 303 });
  });

  it('agree on histograms of one and of two sub-buckets', async () => {
    await fc.assert(fc.asyncProperty(ops(record), check), { ...settings, seed: 404 });
  });
});
