/**
 * End to end with native histograms: a real Prometheus (Debian package `prometheus`, 2.42) started
 * with `--enable-feature=native-histograms` asks for the protobuf format, scrapes one server per
 * backend (test/fixtures/native-server.mjs), and its query API must give back every kind exactly
 * (counters, a gauge above 2^53 as the double it is, a vector, classic buckets) and, for the native
 * histograms, `histogram_count` and `histogram_sum` exactly and `histogram_quantile` inside the
 * bucket where the quantile lies, its bounds computed here with integers. Every wait is for an
 * event (a line of the server's output, the targets' health, a sample's arrival), within
 * test/wait.ts's safety net.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { PROTOBUF_CONTENT_TYPE } from '../dist/index.js';
import { NATIVE_FAMILIES, NATIVE_VALUES, otelIndex } from './fixtures/native-values.mjs';
import { gate } from './requirements.js';
import { startPrometheus } from './prometheus-server.js';
import { requireTool, start, stop } from './tools.js';
import { poll, waitForOutput } from './wait.js';

const BACKENDS = ['wasm', 'js'] as const;

interface Sample {
  metric: Record<string, string>;
  /** A float sample. */
  value?: [number, string];
  /** A native histogram sample. */
  histogram?: [number, { count: string; sum: string }];
}

/** The JSON lines a program has written so far. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .slice(0, -1)
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const bits = new DataView(new ArrayBuffer(8));
/** The next double above (`step` 1) or below (−1) a positive double. */
function adjacent(x: number, step: 1 | -1): number {
  bits.setFloat64(0, x);
  bits.setBigUint64(0, bits.getBigUint64(0) + BigInt(step));
  return bits.getFloat64(0);
}

/** The sign of x^(2^schema) − 2^k, exactly (x a positive double, schema ≥ 0): where x lies against base^k. */
function against(x: number, k: number, schema: number): number {
  let exponent = 0;
  let mantissa = x;
  while (!Number.isInteger(mantissa)) (mantissa *= 2), exponent--;
  const n = 1n << BigInt(schema);
  const power = BigInt(mantissa) ** n;
  const shift = BigInt(exponent) * n - BigInt(k); // x^n / 2^k = power · 2^shift
  const left = shift >= 0n ? power << shift : power;
  const right = shift >= 0n ? 1n : 1n << -shift;
  return left > right ? 1 : left < right ? -1 : 0;
}

/** The doubles around base^k: the largest at or below it and the smallest at or above it. */
function bracket(k: number, schema: number): [number, number] {
  let below = 2 ** (k / 2 ** schema);
  while (against(below, k, schema) > 0) below = adjacent(below, -1);
  while (against(adjacent(below, 1), k, schema) <= 0) below = adjacent(below, 1);
  return [below, against(below, k, schema) === 0 ? below : adjacent(below, 1)];
}

/**
 * Where Prometheus' `histogram_quantile(q, …)` must land for the values served at `scale`, worked
 * out from the values alone: Prometheus walks the zero bucket, then the buckets upwards, to the
 * first where the running count reaches q · count; that bucket holds the value at that rank in
 * sorted order. A 0 there: the zero bucket, answer 0. Else the value's exact bucket at Prometheus'
 * schema (the scale, at most 8), (base^j, base^(j+1)], within which Prometheus interpolates: its
 * bounds as the doubles at or beyond them.
 */
function expectedQuantile(q: number, scale: number): { lower: number; upper: number; value: number } {
  const sorted = [...NATIVE_VALUES].sort((a, b) => a - b);
  const value = sorted[Math.ceil(q * sorted.length) - 1]!;
  if (value === 0) return { lower: 0, upper: 0, value };
  const schema = Math.min(scale, 8);
  const j = otelIndex(value, schema);
  return { lower: bracket(j, schema)[0], upper: bracket(j + 1, schema)[1], value };
}

describe('Prometheus with native histograms scraping the protobuf format', () => {
  const started: ChildProcess[] = [];
  let dataDir: string | undefined;

  afterAll(async () => {
    for (const child of started.reverse()) await stop(child);
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores every kind exactly, and native histograms whose count, sum and quantiles match ours', async (ctx) => {
    gate('prometheus').check(ctx);
    const prometheus = requireTool('prometheus');

    // 1. One server per backend.
    const server = start(process.execPath, [fileURLToPath(new URL('./fixtures/native-server.mjs', import.meta.url))]);
    started.push(server.child);
    const ports = await waitForOutput(server.child, server.output, 'the servers listening', (text) => {
      const lines = jsonLines(text).filter((line) => 'port' in line);
      return lines.length === BACKENDS.length ? Object.fromEntries(lines.map((line) => [line.backend as string, line.port as number])) : undefined;
    });

    // 2. Prometheus, native histograms on (which is what makes it ask for protobuf).
    dataDir = mkdtempSync(join(tmpdir(), 'migration-stats-native-'));
    const { api, exited } = await startPrometheus({
      prometheus,
      dataDir,
      job: 'native',
      targets: BACKENDS.map((backend) => `127.0.0.1:${ports[backend]}`),
      scraped: { name: 'the server', ...server },
      started,
      flags: ['--enable-feature=native-histograms'],
    });

    // 3. Both servers asked for protobuf and answered it; both targets up.
    await waitForOutput(server.child, server.output, 'a protobuf scrape of each server', (text) => {
      const scraped = new Set(jsonLines(text).flatMap((line) => (line.scraped === PROTOBUF_CONTENT_TYPE ? [line.backend] : [])));
      return BACKENDS.every((backend) => scraped.has(backend)) ? true : undefined;
    });
    expect(jsonLines(server.output()).filter((line) => 'scraped' in line && line.scraped !== PROTOBUF_CONTENT_TYPE)).toEqual([]);
    await poll('both targets up', async () => {
      const body = (await (await fetch(`${api}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
      const health = body.data.activeTargets.map((t) => `${t.health} ${t.lastError}`);
      if (health.length === BACKENDS.length && health.every((h) => h === 'up ')) return true;
      throw new Error(`targets: ${JSON.stringify(health)}`);
    }, { stop: exited });

    /** A query's result by backend, once every backend has one. */
    const query = (promql: string): Promise<Record<string, string[]>> =>
      poll(`Prometheus answers ${promql} for both backends`, async () => {
        const body = (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as { status: string; error?: string; data: { result: Sample[] } };
        if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
        const byBackend: Record<string, string[]> = {};
        for (const s of body.data.result) (byBackend[s.metric.backend!] ??= []).push(s.value?.[1] ?? `native histogram: count ${s.histogram?.[1].count}`);
        if (BACKENDS.every((backend) => byBackend[backend] !== undefined)) return byBackend;
        throw new Error(`${promql}: ${JSON.stringify(body.data.result)}`);
      }, { stop: exited });
    const both = (values: string[]) => Object.fromEntries(BACKENDS.map((backend) => [backend, values]));

    // 4. The kinds without native histograms, through the protobuf path (le as a float: "1.0").
    expect(await query('native_requests_total')).toEqual(both(['12345']));
    expect(await query('native_temperature')).toEqual(both(['9007199254740992'])); // 2^53 + 1 as a double
    expect(await query('sort_desc(native_per_worker_bytes_total)')).toEqual(both(['4096', '1', '0']));
    expect(await query('native_latency_count')).toEqual(both(['6']));
    expect(await query('native_latency_sum')).toEqual(both(['5204']));
    expect(await query('native_latency_bucket{le="1.0"}')).toEqual(both(['2']));
    expect(await query('native_latency_bucket{le="+Inf"}')).toEqual(both(['6']));

    // An exponential histogram with nothing recorded is sent with one empty span, which marks it as
    // native for a Prometheus that looks for it; 2.42 does not, and reads it as a classic one (a count,
    // a sum and a +Inf bucket, all 0) until its first record.
    const idle = await query('{__name__=~"native_idle.*"}');
    expect([both(['0', '0', '0']), both(['native histogram: count 0'])]).toContainEqual(idle);

    // 5. The native histograms.
    const sum = NATIVE_VALUES.reduce((a, b) => a + b, 0);
    for (const { name, scale } of NATIVE_FAMILIES) {
      expect(await query(`histogram_count(${name})`)).toEqual(both([String(NATIVE_VALUES.length)]));
      expect(await query(`histogram_sum(${name})`)).toEqual(both([String(sum)]));
      for (const q of [0.5, 0.99]) {
        const { lower, upper, value } = expectedQuantile(q, scale);
        const answers = await query(`histogram_quantile(${q}, ${name})`);
        for (const backend of BACKENDS) {
          const x = Number(answers[backend]![0]);
          const where = `histogram_quantile(${q}, ${name}) = ${x} on ${backend}, expected in [${lower}, ${upper}], the bucket of ${value}`;
          expect(x >= lower && x <= upper, where).toBe(true);
        }
      }
    }
  });
});
