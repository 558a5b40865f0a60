import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createMetricsHandler,
  METRICS,
  MigrationStats,
  OPENMETRICS_CONTENT_TYPE,
  prometheusText,
  PROMETHEUS_CONTENT_TYPE,
  type BackendName,
} from '../dist/index.js';
import { readExposition } from './exposition.js';
import { callHandler } from './helpers.js';
import { BRAND, flippingGetter, throwingGetter } from './hostile.js';
import { gate } from './requirements.js';
import { requireTool } from './tools.js';
import { addInWorkers } from './workers.js';

const U64_MAX = 2n ** 64n - 1n;

/** Runs `promtool check metrics` on a text; returns its exit status and output. */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync(requireTool('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe.each<BackendName>(['wasm', 'js'])('prometheusText (%s backend)', (backend) => {
  it('prints HELP, TYPE and one sample for each of the 15 counters, named by Prometheus conventions', async () => {
    const stats = await MigrationStats.create({ backend });
    stats.zeroPages.add(41);
    const lines = prometheusText(stats).trimEnd().split('\n');
    expect(lines).toHaveLength(45);
    expect(lines.slice(0, 3)).toEqual([
      '# HELP qemu_migration_last_sync_dirty_bytes Dirty bytes found by the last dirty-bitmap sync; QEMU dirty_bytes_last_sync.',
      '# TYPE qemu_migration_last_sync_dirty_bytes gauge',
      'qemu_migration_last_sync_dirty_bytes 0',
    ]);
    expect(lines.slice(-3)).toEqual([
      '# HELP qemu_migration_zero_pages_total All-zero pages (reported as "duplicate"); QEMU zero_pages.',
      '# TYPE qemu_migration_zero_pages_total counter',
      'qemu_migration_zero_pages_total 41',
    ]);
    const samples = lines.filter((line) => !line.startsWith('#')).map((line) => line.split(' ')[0]);
    expect(samples).toEqual(METRICS.map((m) => `qemu_migration_${m.promName}${m.type === 'counter' ? '_total' : ''}`));
    for (const metric of METRICS) {
      if (metric.type === 'counter') expect(stats[metric.counter].kind).toBe('add');
      if (metric.promUnit === 'bytes') expect(metric.promName).toMatch(/_bytes$/);
    }
  });

  it('prints values exactly, up to 2^64 − 1', async () => {
    const stats = await MigrationStats.create({ backend });
    stats.multifdBytes.set(U64_MAX);
    stats.rateLimitMax.set(2n ** 53n + 1n);
    const text = prometheusText(stats);
    expect(text).toContain('\nqemu_migration_multifd_bytes_total 18446744073709551615\n');
    expect(text).toContain('\nqemu_migration_rate_limit_max_bytes 9007199254740993\n');
  });

  it('adds constant labels, escaping their values', async () => {
    const stats = await MigrationStats.create({ backend });
    const text = prometheusText(stats, { labels: { vm: 'a"b\\c\nd', host: 'h1' }, prefix: 'x_' });
    expect(text).toContain('\nx_zero_pages_total{vm="a\\"b\\\\c\\nd",host="h1"} 0\n');
  });

  it('prints OpenMetrics: families without _total, UNIT for bytes, escaped quotes in HELP, and # EOF', async () => {
    const stats = await MigrationStats.create({ backend });
    stats.downtimeBytes.add(4096);
    const text = prometheusText(stats, { format: 'openmetrics' });
    expect(text).toContain(
      '# HELP qemu_migration_downtime_bytes RAM bytes sent while the guest was stopped; QEMU downtime_bytes.\n' +
        '# TYPE qemu_migration_downtime_bytes counter\n# UNIT qemu_migration_downtime_bytes bytes\nqemu_migration_downtime_bytes_total 4096\n',
    );
    expect(text).toContain('# HELP qemu_migration_zero_pages All-zero pages (reported as \\"duplicate\\"); QEMU zero_pages.\n');
    expect(text.endsWith('\n# EOF\n')).toBe(true);
  });

  it('rejects bad options, naming them', async () => {
    const stats = await MigrationStats.create({ backend });
    expect(() => prometheusText(stats, { prefix: '9x' })).toThrow(/options.prefix must be '' or match .*received "9x"/);
    expect(() => prometheusText(stats, { labels: { __name__: 'x' } })).toThrow(/options.labels has the name "__name__"/);
    expect(() => prometheusText(stats, { labels: { vm: 1 as never } })).toThrow(/options.labels.vm must be a string; received 1/);
    expect(() => prometheusText(stats, { format: 'json' as never })).toThrow(/options.format must be 'prometheus' or 'openmetrics'; received "json"/);
    expect(() => prometheusText({} as MigrationStats)).toThrow(/^prometheusText: stats must be a stats object \(from defineStats/);
  });
});

describe('the exposition reader of the tests', () => {
  it('reads both formats as written, with labels and 64-bit values', async () => {
    const stats = await MigrationStats.create();
    stats.multifdBytes.set(U64_MAX);
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const families = readExposition(prometheusText(stats, { format, labels: { vm: 'a"b\\c\nd' } }), format);
      expect(families).toHaveLength(15);
      const multifd = families.find((f) => f.name.startsWith('qemu_migration_multifd_bytes'))!;
      expect(multifd.samples).toEqual([{ name: 'qemu_migration_multifd_bytes_total', labels: { vm: 'a"b\\c\nd' }, value: '18446744073709551615' }]);
      expect(multifd.unit).toBe(format === 'openmetrics' ? 'bytes' : undefined);
    }
  });

  it('refuses texts that break a rule (so it can fail)', async () => {
    const text = prometheusText(await MigrationStats.create());
    const open = prometheusText(await MigrationStats.create(), { format: 'openmetrics' });
    const broken: [string, string, 'prometheus' | 'openmetrics'][] = [
      [text.replace('qemu_migration_zero_pages_total 0', 'qemu_migration_zero_pages_total{vm="a\\x"} 0'), 'escape', 'prometheus'],
      [text.replace('qemu_migration_zero_pages_total 0', 'qemu_migration_zero_pages_total{bad name="x"} 0'), 'bad label name', 'prometheus'],
      [text.replace('qemu_migration_zero_pages_total 0', 'qemu_migration_zero_pages_total{vm="x"}0'), 'no space', 'prometheus'],
      [text.replace('qemu_migration_zero_pages_total 0', 'qemu_migration_zero_pages_total 42a'), 'not a number', 'prometheus'],
      [text.replace('# TYPE qemu_migration_zero_pages_total counter\n', ''), 'before the TYPE', 'prometheus'],
      [text + text, 'after its samples', 'prometheus'],
      [text.replace('# TYPE qemu_migration_zero_pages_total', '# HELP qemu_migration_zero_pages_total again\n# TYPE qemu_migration_zero_pages_total'), 'second HELP', 'prometheus'],
      [open.replace('# EOF\n', ''), 'without # EOF', 'openmetrics'],
      [open + 'x 1\n', 'after # EOF', 'openmetrics'],
      [open.replace('# UNIT qemu_migration_multifd_bytes bytes', '# UNIT qemu_migration_multifd_bytes seconds'), 'unit seconds', 'openmetrics'],
      [text, 'ends in _total', 'openmetrics'],
    ];
    for (const [bad, why, format] of broken) expect(() => readExposition(bad, format), why).toThrow(why);
  });
});

describe('promtool check metrics', () => {
  const prometheus = gate('prometheus');

  it('accepts the exposition, with labels and with 64-bit values', async (ctx) => {
    prometheus.check(ctx);
    const stats = await MigrationStats.create();
    stats.zeroPages.add(1);
    stats.multifdBytes.set(U64_MAX);
    for (const text of [prometheusText(stats), prometheusText(stats, { labels: { vm: 'guest "1"' } })]) {
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    }
  });

  it('rejects an exposition that breaks the conventions (so the check can fail)', async (ctx) => {
    prometheus.check(ctx);
    const stats = await MigrationStats.create();
    const broken = prometheusText(stats).replace(/qemu_migration_zero_pages_total/g, 'qemu_migration_zero_pages');
    const { status, output } = promtoolCheck(broken);
    expect(status).not.toBe(0);
    expect(output).toMatch(/counter metrics should have "_total" suffix/);
  });
});

describe('createMetricsHandler', () => {
  let server: Server | undefined;
  afterEach(async () => {
    // Connections left open (keep-alive, or a request the handler never answered) would keep close() waiting.
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(stats: MigrationStats): Promise<string> {
    server = createServer(createMetricsHandler(stats, { labels: { vm: 'guest1' } }));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    return `http://127.0.0.1:${address.port}/metrics`;
  }

  it('serves what worker threads counted, read at request time', async () => {
    const stats = await MigrationStats.create();
    const url = await serve(stats);
    expect(await (await fetch(url)).text()).toContain('\nqemu_migration_normal_pages_total{vm="guest1"} 0\n');
    await addInWorkers(stats, [['normalPages', 3], ['multifdBytes', 4096]], 5000);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    const text = await response.text();
    expect(text).toContain('\nqemu_migration_normal_pages_total{vm="guest1"} 30000\n');
    expect(text).toContain('\nqemu_migration_multifd_bytes_total{vm="guest1"} 40960000\n');
  });

  it('answers OpenMetrics when the Accept header asks for it, as Prometheus does', async () => {
    const url = await serve(await MigrationStats.create());
    const response = await fetch(url, { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' } });
    expect(response.headers.get('content-type')).toBe(OPENMETRICS_CONTENT_TYPE);
    expect((await response.text()).endsWith('# EOF\n')).toBe(true);
  });

  it('answers HEAD without a body and other methods with 405', async () => {
    const url = await serve(await MigrationStats.create());
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await head.text()).toBe('');
    const post = await fetch(url, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('checks its options when made, not per request', async () => {
    const stats = await MigrationStats.create();
    expect(() => createMetricsHandler(stats, { prefix: 'a-b' })).toThrow(/createMetricsHandler: options.prefix must be/);
  });

  it('copies its options when made: changing the labels object afterwards changes no response, and the server stays up', async () => {
    const stats = await MigrationStats.create();
    const labels: Record<string, unknown> = { vm: 'guest1' };
    const handler = createMetricsHandler(stats, { labels: labels as Record<string, string> });
    labels.vm = 42;
    labels['bad name'] = 'x';
    const answer = callHandler(handler, { method: 'GET', headers: {} });
    expect(answer.status).toBe(200);
    expect(readExposition(answer.body!, 'prometheus')).toHaveLength(15);
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain('\nqemu_migration_zero_pages_total{vm="guest1"} 0\n');
      expect(readExposition(text, 'prometheus')).toHaveLength(15);
    }
  });

  it('reads each label once, when made', async () => {
    const { object, reads } = flippingGetter('vm', 'guest1', 42);
    const handler = createMetricsHandler(await MigrationStats.create(), { labels: object as never });
    const answer = callHandler(handler, { method: 'GET', headers: {} });
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('{vm="guest1"}');
    expect(reads()).toBe(1);
  });

  it('answers 500 with a generic body when a request cannot be answered, and never throws', async () => {
    const real = await MigrationStats.create();
    // Counters of another copy of the library whose zeroPages.get() starts to fail after it was checked.
    let failing = false;
    const zeroPages = {
      name: 'zeroPages', add() {}, set() {}, min() {}, max() {}, getNumber: () => 0,
      get: () => {
        if (failing) throw new Error('the memory is gone');
        return 0n;
      },
    };
    const foreign = { ...real, [BRAND]: (real as unknown as Record<symbol, unknown>)[BRAND], handle: real.handle, zeroPages };
    const errors: unknown[] = [];
    const handler = createMetricsHandler(foreign as unknown as MigrationStats, { onError: (error) => errors.push(error) });
    expect(callHandler(handler, { method: 'GET', headers: {} }).status).toBe(200);
    failing = true;
    const failed = callHandler(handler, { method: 'GET', headers: {} });
    expect(failed.status).toBe(500);
    expect(failed.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(failed.body).toBe('Internal Server Error\n');
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toMatch(/^createMetricsHandler: stats\.zeroPages\.get\(\) failed \(the memory is gone\)/);
    // A request whose headers cannot be read.
    const healthy = createMetricsHandler(real, { onError: () => {} });
    expect(callHandler(healthy, throwingGetter('headers', { method: 'GET' }) as never).status).toBe(500);
    // A response that cannot even take the 500: the handler still returns normally.
    const broken = { statusCode: 0, setHeader: () => { throw new Error('closed'); }, end: () => { throw new Error('closed'); } };
    expect(() => healthy({ method: 'GET', headers: {} }, broken)).not.toThrow();
    // Behind a real server, a failing request leaves the server answering the next ones.
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(500);
    failing = false;
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
  });

  it('gives the error to onError with the request, never to the client (a header getter that throws a secret)', async () => {
    const secret = new Error('SECRET token 8f1e: the vault is at 10.0.0.7');
    const request = Object.defineProperty({ method: 'GET' }, 'headers', {
      get() {
        throw secret;
      },
    });
    const seen: [unknown, unknown][] = [];
    const handler = createMetricsHandler(await MigrationStats.create(), { onError: (error, req) => seen.push([error, req]) });
    const answer = callHandler(handler, request as never);
    expect(answer).toEqual({ status: 500, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '22' }, body: 'Internal Server Error\n' });
    expect(seen).toEqual([[secret, request]]);
  });

  it('logs the error with console.error without onError, and survives an onError that throws', async () => {
    const stats = await MigrationStats.create();
    const request = throwingGetter('headers', { method: 'GET' });
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(callHandler(createMetricsHandler(stats), request as never).body).toBe('Internal Server Error\n');
      expect(log).toHaveBeenCalledTimes(1);
      expect(log.mock.calls[0]).toEqual(['createMetricsHandler: a request failed (answered 500 Internal Server Error):', new Error('getter headers')]);
    } finally {
      log.mockRestore();
    }
    const throwing = createMetricsHandler(stats, {
      onError: () => {
        throw new Error('the logger is down');
      },
    });
    expect(callHandler(throwing, request as never).status).toBe(500);
  });

  it.each([[5], ['log'], [null], [{}]])('refuses onError %j: a function is needed', async (onError) => {
    const stats = await MigrationStats.create();
    expect(() => createMetricsHandler(stats, { onError } as never)).toThrow(
      new TypeError(`createMetricsHandler: options.onError must be a function (error, request) => void; received ${onError === null ? 'null' : typeof onError === 'string' ? '"log"' : typeof onError === 'number' ? '5' : 'an object (Object)'}`),
    );
  });

  it('refuses a format option instead of ignoring it: the format follows each request', async () => {
    const stats = await MigrationStats.create();
    expect(() => createMetricsHandler(stats, { format: 'openmetrics' } as never)).toThrow(
      new TypeError(
        'createMetricsHandler: options.format is not taken here; received "openmetrics": each response is OpenMetrics or Prometheus\' protobuf format when the request\'s Accept header asks for it, else the Prometheus text format',
      ),
    );
  });
});

