// The HTTP case: a Node process serving createMetricsHandler over real node:http servers, sent
// thousands of requests with hostile Accept headers and methods, eight at a time on keep-alive
// connections: first as soon as it listens, while its worker threads may still be counting, then
// once they have finished. The process never exits; every
// answer is 200, 405, 406 or 500; a 200 is valid exposition text (read by the tests' strict reader,
// and by `promtool check metrics` for the text format) or Prometheus' protobuf format (decoded)
// holding the exact counts; the same request
// always gets the same kind of answer; and the server whose counters fail answers a bare 500, gives
// the error to its onError, and goes on.
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE } from '../../dist/index.js';
import { readExposition, type ExpositionFormat } from '../exposition.js';
import { decodeFamilies } from '../protobuf-decode.js';
import { gate } from '../requirements.js';
import { requireTool, start, stop } from '../tools.js';
import { waitForJsonLine, waitForOutput } from '../wait.js';
import { acceptHeader } from './arbitraries.js';

/** Requests to the healthy server while the workers count, then after, then to the faulty one. */
const DURING = 1500;
const AFTER = 1500;
const FAULTY = 600;
const IN_FLIGHT = 8;
const WORKERS = 2;
const TIMES = 200_000;
/** Methods, GET most often; all are ones Node's parser takes (it answers 400 itself to unknown ones). */
const METHOD = fc.oneof(
  { weight: 12, arbitrary: fc.constant('GET') },
  { weight: 3, arbitrary: fc.constant('HEAD') },
  { weight: 4, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'PURGE') },
);

interface Sent {
  readonly method: string;
  readonly accept: string | string[] | undefined;
}

interface Got {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The body's bytes (a protobuf answer is not text). */
  readonly bytes: Buffer;
}

/** The requests, the same on every run (seeded): methods, Accept headers of one or more lines, some very long. */
function requests(count: number, seed: number): Sent[] {
  const long = fc.tuple(acceptHeader, fc.nat(400)).map(([header, times]) => `${header}, ${'text/plain;q=0.001, '.repeat(times)}*/*;q=0`);
  const accept = fc.oneof(
    { weight: 6, arbitrary: acceptHeader },
    { weight: 1, arbitrary: fc.array(acceptHeader, { minLength: 2, maxLength: 4 }) },
    { weight: 1, arbitrary: long },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  return fc.sample(fc.record({ method: METHOD, accept }), { seed, numRuns: count });
}

/** Sends one request and reads the whole answer. */
function send(port: number, agent: Agent, { method, accept }: Sent): Promise<Got> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = accept === undefined ? {} : { accept };
    const req = request({ host: '127.0.0.1', port, path: '/metrics', method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends every request, `IN_FLIGHT` at a time, and returns the answers in order. */
async function sendAll(port: number, sent: readonly Sent[]): Promise<Got[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const got: Got[] = new Array(sent.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < sent.length) {
        const i = next++;
        got[i] = await send(port, agent, sent[i]!);
      }
    }),
  );
  agent.destroy();
  return got;
}

/** The format of a 200 answer, by its content type. */
function formatOf(got: Got): ExpositionFormat | 'protobuf' {
  const type = got.headers['content-type'];
  if (type === PROMETHEUS_CONTENT_TYPE) return 'prometheus';
  if (type === OPENMETRICS_CONTENT_TYPE) return 'openmetrics';
  if (type === PROTOBUF_CONTENT_TYPE) return 'protobuf';
  throw new Error(`a 200 answer of content type ${String(type)}`);
}

/** Checks one answer as the header comment says; returns its kind for the consistency check. */
function check(sent: Sent, got: Got, seen: Map<string, string>, textBodies: Set<string>, values?: Readonly<Record<string, string>>): string {
  expect([200, 405, 406, 500], `${sent.method} ${JSON.stringify(sent.accept)}`).toContain(got.status);
  const head = sent.method === 'HEAD';
  let kind = String(got.status);
  if (got.status === 405) {
    expect(got.headers.allow).toBe('GET, HEAD');
    expect(got.body).toBe('Method Not Allowed\n');
  } else if (got.status === 406) {
    expect(got.body).toBe(head ? '' : `Not Acceptable: this endpoint serves ${PROMETHEUS_CONTENT_TYPE}, ${OPENMETRICS_CONTENT_TYPE} and ${PROTOBUF_CONTENT_TYPE}\n`);
  } else if (got.status === 200) {
    const format = formatOf(got);
    kind = format;
    expect(got.headers.vary).toBe('Accept');
    if (head) {
      expect(got.body).toBe('');
      expect(Number(got.headers['content-length'])).toBeGreaterThan(0);
    } else {
      expect(Number(got.headers['content-length'])).toBe(got.bytes.length);
      if (format === 'protobuf') {
        // Delimited MetricFamily messages, one per counter, each with its one sample.
        const families = decodeFamilies(new Uint8Array(got.bytes));
        expect(families).toHaveLength(15);
        if (values !== undefined) {
          const value = (name: string) => families.find((family) => family.name?.includes(name))?.metrics[0]?.counter;
          expect(value('zero_pages')).toBe(Number(values.zeroPages));
          expect(value('normal_pages')).toBe(Number(values.normalPages));
          // 2^64 − 1 as the format's double: 2^64 (documented; the text formats keep it exact).
          expect(value('multifd_bytes')).toBe(2 ** 64);
        }
        return remember(sent, got, seen, kind);
      }
      const families = readExposition(got.body, format);
      expect(families).toHaveLength(15);
      if (values !== undefined) {
        for (const family of families) {
          const [sample] = family.samples;
          const counter = family.name.replace(/^qemu_migration_/, '');
          if (counter === 'multifd_bytes' || counter === 'multifd_bytes_total') expect(sample?.value).toBe('18446744073709551615');
          if (counter.startsWith('zero_pages')) expect(sample?.value).toBe(values.zeroPages);
          if (counter.startsWith('normal_pages')) expect(sample?.value).toBe(values.normalPages);
        }
      }
      if (format === 'prometheus' && textBodies.size < 20) textBodies.add(got.body);
    }
  }
  return remember(sent, got, seen, kind);
}

/** The same method and header always get the same kind of answer (500 aside: it comes from a fault). */
function remember(sent: Sent, got: Got, seen: Map<string, string>, kind: string): string {
  const key = `${sent.method} ${JSON.stringify(sent.accept)}`;
  if (got.status !== 500) {
    expect(seen.get(key) ?? kind, key).toBe(kind);
    seen.set(key, kind);
  }
  return kind;
}

describe('createMetricsHandler behind real node:http servers', () => {
  let server: ReturnType<typeof start> | undefined;
  afterAll(async () => stop(server?.child));

  it(`answers ${DURING + AFTER + FAULTY} hostile requests, the process never exits, and 200s are exact exposition text`, async () => {
    const script = fileURLToPath(new URL('../fixtures/stress-metrics-servers.mjs', import.meta.url));
    server = start(process.execPath, [script, String(WORKERS), String(TIMES)]);
    const { healthy, faulty } = (await waitForJsonLine(server, 'the servers listening', 'healthy')) as { healthy: number; faulty: number };

    const seen = new Map<string, string>();
    const textBodies = new Set<string>();
    const kinds = new Map<string, number>();
    const tally = (kind: string) => kinds.set(kind, (kinds.get(kind) ?? 0) + 1);

    // Right away: every answer well-formed, the values whatever they are by then.
    const during = requests(DURING, 1);
    (await sendAll(healthy, during)).forEach((got, i) => tally(check(during[i]!, got, seen, textBodies)));
    const { values } = (await waitForJsonLine(server, 'the workers done', 'done')) as { values: Record<string, string> };
    expect(values.zeroPages).toBe(String(WORKERS * TIMES));
    expect(values.normalPages).toBe(String(WORKERS * TIMES * 3));

    // After: the exact counts in every 200.
    const after = requests(AFTER, 2);
    (await sendAll(healthy, after)).forEach((got, i) => tally(check(after[i]!, got, seen, textBodies, values)));
    expect(kinds.get('500') ?? 0).toBe(0);

    // The faulty server: a bare 500 where the counters failed, the rest as usual; each failure's
    // error went to its onError, not to the client.
    const faults = requests(FAULTY, 3);
    const faultyGot = await sendAll(faulty, faults);
    faultyGot.forEach((got, i) => {
      tally(check(faults[i]!, got, new Map(), new Set()));
      if (got.status === 500) {
        expect(got.headers['content-type']).toBe('text/plain; charset=utf-8');
        expect(got.body).toBe(faults[i]!.method === 'HEAD' ? '' : 'Internal Server Error\n');
      }
    });
    const failed = faultyGot.filter((got) => got.status === 500).length;
    expect(failed).toBeGreaterThan(FAULTY / 20);
    const reported = await waitForOutput(server.child, server.output, 'every failure reported', (text) => {
      const found = text
        .split('\n')
        .slice(0, -1) // whole lines only
        .filter((line) => line.startsWith('{"fault"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      return found.length >= failed ? found : undefined;
    });
    const message = 'createMetricsHandler: stats.zeroPages.get() failed (injected fault); stats must be a MigrationStats (from MigrationStats.create or attach)';
    expect(reported).toEqual(Array.from({ length: failed }, () => ({ fault: message })));

    // Every kind of answer was given, and the process is still up, having printed no error.
    for (const kind of ['prometheus', 'openmetrics', 'protobuf', '405', '406', '500']) expect(kinds.get(kind) ?? 0, kind).toBeGreaterThan(0);
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toMatch(/Error|error/);
    console.log(`sent ${DURING + AFTER + FAULTY} requests: ${[...kinds].map(([kind, n]) => `${kind} ${n}`).join(', ')}`);

    // Checked with promtool where it is installed (CI requires it: MIGRATION_STATS_REQUIRE_ALL=1).
    if (gate('prometheus').available || process.env.MIGRATION_STATS_REQUIRE_ALL === '1') {
      const promtool = requireTool('promtool');
      expect(textBodies.size).toBeGreaterThan(0);
      for (const body of textBodies) {
        const result = spawnSync(promtool, ['check', 'metrics'], { input: body, encoding: 'utf8' });
        expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: '' });
      }
    }
  });
});
