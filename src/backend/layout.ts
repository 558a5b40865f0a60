/**
 * Where each metric of a definition lives in the shared memory: the layout planned from the
 * canonical definition and a lane count. Every thread plans the same layout from the same
 * definition, and `attach` checks the header against it before anything reads a cell.
 *
 * ```
 *  0                 header (abi.ts: HDR_*)
 *  64                base cells: the rate limiter's block (its counters side by side, the
 *                    window's start, its budget), then each metric from a cache line of its
 *                    own, its cells side by side
 *  lanesOffset       lane 0: every counter and histogram cell, the limiter's counters first
 *  + k·laneStride    lane k (lanes of them, each a multiple of 128 bytes)
 *  cellsEnd          the exponential table (EXP_TABLE_BYTES), when the definition has an
 *                    exponential histogram: written once by create(), checked by attach
 *  definitionOffset  the definition's JSON (definitionBytes), then nothing
 * ```
 * @packageDocumentation
 */
import { EXP_TABLE_BYTES, HEADER_BYTES, LANE_ALIGN, LINE_BYTES, MAX_MEMORY_PAGES } from './abi.js';
import { cellCount, type Definition, type MetricSpec } from './definition-format.js';

/** Bytes of a WebAssembly memory page. */
export const PAGE_BYTES = 65536;

/** Where one metric's cells are. */
export interface MetricLayout {
  readonly spec: MetricSpec;
  /** Cells: one per value, or a histogram's buckets then its sum. */
  readonly cells: number;
  /** Byte offset of its first base cell; the others follow 8 bytes apart. */
  readonly base: number;
  /** Byte offset of its first cell within a lane, or −1 for a gauge (no lanes). */
  readonly lane: number;
}

/**
 * Where the rate limiter's cells are: one block of base cells holding its counters side by side,
 * then the window's start, then its budget (named gauges, or cells of its own); the counters' lane
 * cells are side by side too.
 */
export interface LimiterLayout {
  /** The first counted base cell; `count` cells follow, then the start (`startAddr`) and the budget (`maxAddr`). */
  readonly base: number;
  /** Offset of the first counted cell within a lane. */
  readonly lane: number;
  readonly count: number;
  readonly startAddr: number;
  readonly maxAddr: number;
}

/** The whole layout of a definition. */
export interface Layout {
  readonly lanes: number;
  readonly laneStride: number;
  /** The lane stride plus the lane count: what the backends take as one argument. */
  readonly geometry: number;
  readonly lanesOffset: number;
  readonly cellsEnd: number;
  /**
   * Where the exponential histograms' table is (the core's index tables, a multiple of 8), or 0
   * when the definition has no exponential histogram; {@link Layout.tableBytes} long.
   */
  readonly tableOffset: number;
  /** Bytes of the table: `EXP_TABLE_BYTES`, or 0 without an exponential histogram. */
  readonly tableBytes: number;
  readonly definitionOffset: number;
  readonly definitionBytes: number;
  /** Bytes the memory must have. */
  readonly bytes: number;
  /** WebAssembly pages of the memory. */
  readonly pages: number;
  readonly metrics: readonly MetricLayout[];
  readonly limiter: LimiterLayout | null;
}

const align = (function (n: number, to: number): number {
  return Math.ceil(n / to) * to;
});

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/**
 * Plans the layout of `definition` with `lanes` lanes.
 * @param definitionBytes - length of the definition's UTF-8 JSON
 * @returns the layout, or a reason when it does not fit in the largest memory
 */
export const planLayout = (function (definition: Definition, lanes: number, definitionBytes: number): Layout | string {
  // Loops rather than callbacks: each callback would be one more function to compile in a new worker.
  const byName = new Map<string, MetricSpec>();
  for (const m of definition.metrics) byName.set(m.name, m);
  const placed = new Map<string, MetricLayout>();
  let base = HEADER_BYTES;
  let lane = 0;
  const place = (function (spec: MetricSpec): void {
    const cells = cellCount(spec);
    const laned = spec.kind !== 'gauge';
    placed.set(spec.name, { spec, cells, base, lane: laned ? lane : -1 });
    base += 8 * cells;
    if (laned) lane += 8 * cells;
  });
  let limiter: LimiterLayout | null = null;
  const rateLimit = definition.rateLimit;
  if (rateLimit) {
    // One block, so that the limiter's sum is one run of cells and its window sits right after.
    base = align(base, LINE_BYTES);
    const first = { base, lane };
    for (const name of rateLimit.counters) place(byName.get(name)!);
    const count = (base - first.base) / 8;
    const startAddr = base;
    if (rateLimit.start !== '') place(byName.get(rateLimit.start)!);
    else base += 8;
    if (rateLimit.max !== '') place(byName.get(rateLimit.max)!);
    else base += 8;
    limiter = Object.freeze({ base: first.base, lane: first.lane, count, startAddr, maxAddr: startAddr + 8 });
  }
  // Every other metric starts on a cache line of its own, so that writers of different metrics
  // never share one.
  for (const spec of definition.metrics) {
    if (placed.has(spec.name)) continue;
    base = align(base, LINE_BYTES);
    place(spec);
  }
  const lanesOffset = align(base, LANE_ALIGN);
  const laneStride = Math.max(LANE_ALIGN, align(lane, LANE_ALIGN));
  const cellsEnd = lanesOffset + lanes * laneStride;
  let tableBytes = 0;
  for (const m of definition.metrics) if (m.scale !== undefined) tableBytes = EXP_TABLE_BYTES;
  const bytes = cellsEnd + tableBytes + definitionBytes;
  const pages = Math.ceil(bytes / PAGE_BYTES);
  if (pages > MAX_MEMORY_PAGES) {
    return `it needs ${bytes} bytes with ${lanes} lanes, more than the ${MAX_MEMORY_PAGES * PAGE_BYTES} bytes of the largest memory`;
  }
  const metrics: MetricLayout[] = [];
  for (const m of definition.metrics) metrics.push(placed.get(m.name)!);
  return Object.freeze({
    lanes,
    laneStride,
    geometry: laneStride + lanes,
    lanesOffset,
    cellsEnd,
    tableOffset: tableBytes === 0 ? 0 : cellsEnd,
    tableBytes,
    definitionOffset: cellsEnd + tableBytes,
    definitionBytes,
    bytes,
    pages,
    metrics: Object.freeze(metrics),
    limiter,
  });
});
