// The memory layout planned from a definition (src/backend/layout.ts), for QEMU's definition and
// for random ones: no two metrics share a cell, in the base cells or in a lane; every metric
// outside the rate limiter's block starts on a 64-byte line; the limiter's counters are side by
// side with the window's start and budget after them; lanes are multiples of 128 bytes and hold
// every laned cell; the definition's JSON follows the cells inside the memory; and a new memory's
// header says what planLayout says. Writes through the API land in the planned cells and nowhere else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineStats, MigrationStats, type Definition, type Histogram, type MetricDefinition, type RateLimitedStats, type SharedStats, type Stat64, type StatVector } from '../dist/index.js';
import { HDR_CELLS_END, HDR_DEFINITION_BYTES, HDR_DEFINITION_OFFSET, HDR_LANE_COUNT, HDR_LANE_STRIDE, HDR_LANES_OFFSET, HEADER_BYTES, LANE_ALIGN, LINE_BYTES } from '../dist/backend/abi.js';
import { definitionBytes, readHeader } from '../dist/backend/header.js';
import { PAGE_BYTES, planLayout, type Layout } from '../dist/backend/layout.js';
import { decodeDefinition, maxBuckets } from '../dist/definition.js';
import { word32 } from './helpers.js';

/** Half-open byte ranges that must not overlap, each with a label for the message. */
function expectDisjoint(ranges: [label: string, start: number, end: number][]): void {
  const sorted = [...ranges].sort((a, b) => a[1] - b[1]);
  for (let i = 1; i < sorted.length; i++) {
    const [a, , aEnd] = sorted[i - 1]!;
    const [b, bStart] = sorted[i]!;
    expect(bStart >= aEnd, `${a} (ends at ${aEnd}) and ${b} (starts at ${bStart}) overlap`).toBe(true);
  }
}

/** Every rule of the layout, for a definition and its plan. */
function expectLayoutRules(definition: Definition, layout: Layout, lanes: number, jsonBytes: number): void {
  const { metrics, limiter } = layout;
  const { rateLimit } = definition;
  expect(metrics.map((m) => m.spec)).toEqual(definition.metrics);
  for (const m of metrics) expect(m.cells, m.spec.name).toBe(m.spec.kind === 'histogram' ? m.spec.buckets + 1 : Math.max(1, m.spec.length));

  // Base cells: after the header, apart from each other and from the limiter's own cells, before lane 0.
  const base: [string, number, number][] = metrics.map((m) => [m.spec.name, m.base, m.base + 8 * m.cells]);
  if (limiter && rateLimit!.start === '') base.push(["the limiter's start", limiter.startAddr, limiter.startAddr + 8]);
  if (limiter && rateLimit!.max === '') base.push(["the limiter's budget", limiter.maxAddr, limiter.maxAddr + 8]);
  expectDisjoint([['the header', 0, HEADER_BYTES], ...base]);
  for (const [label, , end] of base) expect(end <= layout.lanesOffset, `${label} ends before lane 0`).toBe(true);

  // Outside the limiter's block, each metric starts a cache line.
  const inBlock = new Set(rateLimit ? [...rateLimit.counters, rateLimit.start, rateLimit.max] : []);
  for (const m of metrics) if (!inBlock.has(m.spec.name)) expect(m.base % LINE_BYTES, `${m.spec.name} starts a line`).toBe(0);

  // The limiter: its counters side by side in its order, then the start, then the budget.
  expect(limiter === null).toBe(rateLimit === null);
  if (limiter && rateLimit) {
    expect(limiter.base % LINE_BYTES).toBe(0);
    let at = limiter.base;
    let lane = limiter.lane;
    for (const name of rateLimit.counters) {
      const m = metrics.find((e) => e.spec.name === name)!;
      expect([m.base, m.lane], name).toEqual([at, lane]);
      at += 8 * m.cells;
      lane += 8 * m.cells;
    }
    expect(limiter.count).toBe((at - limiter.base) / 8);
    expect([limiter.startAddr, limiter.maxAddr]).toEqual([at, at + 8]);
    if (rateLimit.start !== '') expect(metrics.find((e) => e.spec.name === rateLimit.start)!.base).toBe(limiter.startAddr);
    if (rateLimit.max !== '') expect(metrics.find((e) => e.spec.name === rateLimit.max)!.base).toBe(limiter.maxAddr);
  }

  // Lanes: gauges have none; counters and histograms have cells apart from each other within a stride.
  for (const m of metrics) expect(m.lane < 0, m.spec.name).toBe(m.spec.kind === 'gauge');
  const laned = metrics.filter((m) => m.lane >= 0);
  expectDisjoint(laned.map((m) => [m.spec.name, m.lane, m.lane + 8 * m.cells]));
  for (const m of laned) expect(m.lane >= 0 && m.lane + 8 * m.cells <= layout.laneStride, `${m.spec.name} fits in a lane`).toBe(true);
  expect(layout.laneStride % LANE_ALIGN).toBe(0);
  expect(layout.laneStride).toBeGreaterThanOrEqual(LANE_ALIGN);
  expect(layout.lanesOffset % LANE_ALIGN).toBe(0);
  expect([layout.lanes, layout.geometry]).toEqual([lanes, layout.laneStride + lanes]);

  // The cells end where the lanes do; the JSON follows, inside the memory.
  expect(layout.cellsEnd).toBe(layout.lanesOffset + lanes * layout.laneStride);
  expect(layout.definitionOffset).toBeGreaterThanOrEqual(layout.cellsEnd);
  expect(layout.definitionBytes).toBe(jsonBytes);
  expect(layout.bytes).toBe(layout.definitionOffset + jsonBytes);
  expect(layout.pages).toBe(Math.ceil(layout.bytes / PAGE_BYTES));
}

/** What a memory holds: its header agrees with the plan, and the JSON at its offset is the definition. */
function expectMemory(stats: SharedStats, lanes: number): Layout {
  const buffer = stats.handle.memory.buffer;
  const json = definitionBytes(stats.definition);
  const plan = planLayout(stats.definition, lanes, json.length) as Layout;
  expect(readHeader(buffer, 'test', decodeDefinition).layout).toEqual(plan);
  expect(buffer.byteLength).toBe(plan.pages * PAGE_BYTES);
  const fields: [number, number][] = [
    [HDR_LANE_COUNT, lanes],
    [HDR_LANE_STRIDE, plan.laneStride],
    [HDR_LANES_OFFSET, plan.lanesOffset],
    [HDR_CELLS_END, plan.cellsEnd],
    [HDR_DEFINITION_OFFSET, plan.definitionOffset],
    [HDR_DEFINITION_BYTES, json.length],
  ];
  for (const [offset, value] of fields) expect(word32(stats, offset), `header word at ${offset}`).toBe(value);
  const stored = new Uint8Array(buffer, plan.definitionOffset, json.length).slice();
  expect(JSON.parse(new TextDecoder().decode(stored))).toEqual(stats.definition);
  return plan;
}

describe("QEMU's definition", () => {
  it('follows every rule of the layout, and its memory says so', async () => {
    const stats = await MigrationStats.create();
    const lanes = readHeader(stats.handle.memory.buffer, 'test', decodeDefinition).layout.lanes;
    const layout = expectMemory(stats, lanes);
    expectLayoutRules(stats.definition, layout, lanes, layout.definitionBytes);
    // The limiter's block: the three counted counters, then rate_limit_start and rate_limit_max.
    const byName = new Map(layout.metrics.map((m) => [m.spec.name, m.base]));
    const block = ['qemuFileTransferred', 'multifdBytes', 'rdmaBytes', 'rateLimitStart', 'rateLimitMax'].map((name) => byName.get(name)! - layout.limiter!.base);
    expect(block).toEqual([0, 8, 16, 24, 32]);
  });

  it.each([1, 4, 64])('plans the same rules with %i lanes', async (lanes) => {
    const { definition } = await MigrationStats.create();
    const layout = planLayout(definition, lanes, definitionBytes(definition).length) as Layout;
    expectLayoutRules(definition, layout, lanes, definitionBytes(definition).length);
  });
});

describe('random definitions', () => {
  type Shape = { kind: 'counter' | 'gauge'; length: number } | { kind: 'histogram'; sub: number; buckets: number };
  const shape: fc.Arbitrary<Shape> = fc.oneof(
    fc.record({ kind: fc.constantFrom('counter' as const, 'gauge' as const), length: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })) }),
    fc.constantFrom(1, 2, 4, 8, 64).chain((sub) =>
      fc.record({ kind: fc.constant('histogram' as const), sub: fc.constant(sub), buckets: fc.oneof(fc.integer({ min: 1, max: 30 }), fc.constant(maxBuckets(Math.log2(sub)))) }),
    ),
  );
  type Setup = { shapes: Shape[]; lanes: number; rateLimit: { counters: string[]; start: string | undefined; max: string | undefined } | undefined };
  const setup: fc.Arbitrary<Setup> = fc.array(shape, { minLength: 1, maxLength: 10 }).chain((shapes) => {
    const counters = shapes.flatMap((s, i) => (s.kind === 'counter' ? [`m${i}`] : []));
    const gauges = shapes.flatMap((s, i) => (s.kind === 'gauge' && s.length === 0 ? [`m${i}`] : []));
    const gauge = gauges.length > 0 ? fc.option(fc.constantFrom(...gauges), { nil: undefined }) : fc.constant(undefined);
    const rateLimit =
      counters.length > 0
        ? fc.option(fc.record({ counters: fc.shuffledSubarray(counters, { minLength: 1, maxLength: Math.min(16, counters.length) }), start: gauge, max: gauge }), { nil: undefined })
        : fc.constant(undefined);
    return fc.record({ shapes: fc.constant(shapes), lanes: fc.integer({ min: 1, max: 64 }), rateLimit });
  });

  /** The definition of a setup; a start and max naming one gauge keep only the start. */
  function define({ shapes, lanes, rateLimit }: Setup) {
    const schema: Record<string, MetricDefinition> = {};
    shapes.forEach((s, i) => {
      const common = { unit: 'files', help: `Metric ${i}` };
      schema[`m${i}`] =
        s.kind === 'histogram'
          ? { kind: 'histogram', ...common, buckets: s.buckets, subBuckets: s.sub }
          : { kind: s.kind, ...common, ...(s.length > 0 ? { length: s.length } : {}) };
    });
    const limit = rateLimit && { counters: rateLimit.counters, start: rateLimit.start, max: rateLimit.max === rateLimit.start ? undefined : rateLimit.max };
    return defineStats(schema, { lanes, ...(limit ? { rateLimit: limit } : {}) });
  }

  it('follow every rule of the layout', () => {
    fc.assert(
      fc.property(setup, (s) => {
        const { definition } = define(s);
        const bytes = definitionBytes(definition).length;
        expectLayoutRules(definition, planLayout(definition, s.lanes, bytes) as Layout, s.lanes, bytes);
      }),
      { seed: 64128, numRuns: 300 },
    );
  });

  it('make memories whose header says what planLayout says, and whose writes land in the planned cells only', async () => {
    await fc.assert(
      fc.asyncProperty(setup, fc.constantFrom('wasm' as const, 'js' as const), async (s, backend) => {
        const stats = await define(s).create({ backend });
        const layout = expectMemory(stats, s.lanes);
        const lane = layout.lanesOffset + layout.laneStride * stats.lane;
        // A distinct value for every cell, through the API; then each word must be the one written.
        const expected = new Map<number, bigint>();
        let transferred = 0n;
        layout.metrics.forEach((m, k) => {
          const metric = stats.metric(m.spec.name);
          if (m.spec.kind === 'histogram') {
            const h = metric as Histogram;
            const v = BigInt(k + 2);
            h.record(v);
            expected.set(lane + m.lane + 8 * h.bucketOf(v), 1n);
            expected.set(lane + m.lane + 8 * m.spec.buckets, v);
            return;
          }
          const cells: Stat64[] = m.spec.length > 0 ? [...(metric as StatVector)] : [metric as Stat64];
          cells.forEach((cell, i) => {
            const v = BigInt(1000 * (k + 1) + i);
            if (m.spec.kind === 'gauge') cell.set(v);
            else cell.add(v);
            expected.set(m.spec.kind === 'gauge' ? m.base + 8 * i : lane + m.lane + 8 * i, v);
            if (stats.definition.rateLimit?.counters.includes(m.spec.name)) transferred += v;
          });
        });
        if (layout.limiter) {
          const limited = stats as unknown as RateLimitedStats;
          limited.rateReset();
          limited.rateSet(770);
          expected.set(layout.limiter.startAddr, transferred);
          expected.set(layout.limiter.maxAddr, 77n);
        }
        const words = new BigUint64Array(stats.handle.memory.buffer, HEADER_BYTES, (layout.cellsEnd - HEADER_BYTES) / 8);
        for (let i = 0; i < words.length; i++) {
          const at = HEADER_BYTES + 8 * i;
          if (words[i] !== (expected.get(at) ?? 0n)) expect(words[i], `the word at ${at}`).toBe(expected.get(at) ?? 0n);
        }
        stats.close();
      }),
      { seed: 20261201, numRuns: 80 },
    );
  });
});
