/**
 * `migration-stats watch`: follows a live QEMU's migration over QMP, shows it live, prints QEMU's
 * own `info migrate`, and optionally serves `/metrics` and prints the outcome as JSON.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { createMetricsHandler, type MetricsRequest, type MetricsResponse } from '../exporters/prometheus.js';
import { formatQmp } from '../qemu/qmp-json.js';
import { parseQmpAddress } from '../qemu/qmp-wire.js';
import { formatQemuVersion } from '../qemu/versions.js';
import { defineWatchStats, recordWatchOutcome, recordWatchProgress } from '../qemu/watch-metrics.js';
import { bigintOf, numberOf, ramOf } from '../qemu/watch-mirror.js';
import { watchQemu } from '../qemu/watch.js';
import { QemuWatchError, type QmpConnect, type WatchOutcome, type WatchProgress } from '../qemu/watch-types.js';
import { MigrationStats } from '../stats.js';
import type { MigrationProgress } from '../simulate/types.js';
import { progressView } from './progress.js';
import { answerUsage, EXIT, type CommandIo } from './command.js';
import { parseMs } from './units.js';
import { writeWatchJson } from './watch-json.js';

/** Exit codes of `watch`: simulate's, and one for a watch that could not follow the migration to its end. */
export const WATCH_EXIT = {
  ...EXIT,
  /** No outcome: the monitor could not be reached or was not QMP, QEMU went away, or `--timeout` expired. */
  noOutcome: 3,
} as const;

/** What the command line asked for. */
export type WatchRequest =
  | {
      readonly kind: 'run';
      readonly qmp: string;
      readonly metrics: { readonly host: string; readonly port: number } | undefined;
      readonly intervalMs: number;
      readonly json: boolean;
      readonly timeoutMs: number | undefined;
      readonly last: boolean;
    }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/** The command's usage text. */
export function watchUsage(): string {
  const row = (flag: string, help: string) => `  ${flag.padEnd(26)}${help}`;
  return [
    'Usage: migration-stats watch --qmp unix:PATH|tcp:HOST:PORT [options]',
    '',
    "Follows a live QEMU's migration over its QMP monitor to its end: waits for one to start when",
    "none runs, shows it live, then prints QEMU's own `info migrate`. Turns QEMU's `events`",
    'migration capability on when it is off and no migration runs; changes nothing else.',
    '',
    'Options:',
    row('--qmp ADDRESS', "QEMU's QMP monitor: unix:PATH or tcp:HOST:PORT (required)"),
    row('--metrics [HOST:]PORT', 'serve /metrics there (HOST default 127.0.0.1; PORT 0 picks one)'),
    row('', 'during the migration and after it, until SIGINT or SIGTERM'),
    row('--interval MS', 'query-migrate every MS milliseconds while it runs (default 100)'),
    row('--timeout S', 'give up after S seconds without a final status (default: never)'),
    row('--last', 'report a migration that has already ended instead of waiting'),
    row('--json', 'at the end, print {"last", "passes", …} as JSON on stdout'),
    row('-h, --help', 'show this help'),
    '',
    'Exit codes: 0 the migration completed; 1 it failed or was cancelled; 2 bad flags; 3 no outcome',
    '(no monitor at the address, not QMP, QEMU went away, --timeout expired); 130 or 143 stopped by',
    'SIGINT or SIGTERM while watching (after the migration, with --metrics, they end the serving and',
    "the exit code is the migration's); 141 its output was closed (| head), at once.",
    '',
  ].join('\n');
}

const VALUE_FLAGS = new Set(['--qmp', '--metrics', '--interval', '--timeout']);
const SWITCHES = new Set(['--json', '--last']);
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `[HOST:]PORT` for `--metrics`. */
function parseListen(text: string): { host: string; port: number } | undefined {
  const match = /^(?:(?:\[([^\]]+)\]|([^:]+)):)?(\d{1,5})$/.exec(text);
  if (!match || Number(match[3]) > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port: Number(match[3]) };
}

/**
 * Reads the command's arguments.
 * @param args - the arguments after `watch`
 * @returns what to run, a request for help, or the one-line error for a bad flag
 */
export function parseWatchArgs(args: readonly string[]): WatchRequest {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  const error = (message: string): WatchRequest => ({ kind: 'error', message });
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (SWITCHES.has(flag) || flag === '--help') {
      if (flag !== arg) return error(`${flag} takes no value; received ${describe(arg)}`);
      if (switches.has(flag)) return error(`${flag} is given twice`);
      switches.add(flag);
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) return error(arg.startsWith('-') ? `unknown flag ${describe(flag)}` : `unexpected argument ${describe(arg)}; flags start with --`);
    if (values.has(flag)) return error(`${flag} is given twice`);
    let text: string;
    if (flag !== arg) text = arg.slice(eq + 1);
    else {
      const next = args[++i];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) return error(`${flag} needs a value`);
      text = next;
    }
    values.set(flag, text);
  }
  const qmp = values.get('--qmp');
  if (qmp === undefined) return error('--qmp is required: unix:PATH or tcp:HOST:PORT, as given to QEMU\'s -qmp');
  try {
    parseQmpAddress(qmp, '--qmp');
  } catch (e) {
    return error((e as Error).message);
  }
  let metrics: { host: string; port: number } | undefined;
  const listen = values.get('--metrics');
  if (listen !== undefined) {
    metrics = parseListen(listen);
    if (!metrics) return error(`--metrics must be [HOST:]PORT with PORT from 0 to 65535, such as 9464 or 0.0.0.0:9464; received ${describe(listen)}`);
  }
  let intervalMs = 100;
  const interval = values.get('--interval');
  if (interval !== undefined) {
    const parsed = parseMs(interval);
    if (!parsed.ok || parsed.value < 1 || parsed.value > MAX_TIMER_MS) {
      return error(`--interval must be a whole number of milliseconds from 1 to 2147483647, such as 100; received ${describe(interval)}${parsed.ok ? '' : ` (${parsed.reason})`}`);
    }
    intervalMs = parsed.value;
  }
  let timeoutMs: number | undefined;
  const timeout = values.get('--timeout');
  if (timeout !== undefined) {
    const parsed = parseMs(/^[\d.]+$/.test(timeout.trim()) ? `${timeout.trim()}s` : timeout);
    if (!parsed.ok || parsed.value < 1 || parsed.value > MAX_TIMER_MS) {
      return error(`--timeout must be a number of seconds from 0.001 to 2147483.647, such as 30; received ${describe(timeout)}`);
    }
    timeoutMs = parsed.value;
  }
  return { kind: 'run', qmp, metrics, intervalMs, json: switches.has('--json'), timeoutMs, last: switches.has('--last') };
}

/** The statuses the simulator's progress view names (postcopy's others are shown as postcopy). */
const VIEW_STATUSES: ReadonlySet<string> = new Set<MigrationProgress['status']>([
  'setup', 'active', 'pre-switchover', 'device', 'postcopy-active', 'completed', 'cancelling', 'cancelled', 'failed',
]);

/**
 * The simulator's progress view of a reply. Stop-and-copy is `active` after the `STOP` event; a
 * reply with no figures (`cancelled`, `failed`) shows the figures reached with its status.
 * @param previous - what the view showed last
 */
function asProgress(progress: WatchProgress, previous: MigrationProgress | undefined): MigrationProgress | undefined {
  const { reply } = progress;
  const status = (progress.status.startsWith('postcopy') ? 'postcopy-active' : progress.status) as MigrationProgress['status'];
  if (!VIEW_STATUSES.has(status)) return undefined;
  const ram = ramOf(reply);
  if (!ram && status !== 'setup') return previous && { ...previous, status, stopAndCopy: false };
  const int = (value: Parameters<typeof bigintOf>[0]) => bigintOf(value) ?? 0n;
  return {
    status,
    stopAndCopy: progress.guestRunning === false && (status === 'active' || status === 'device'),
    pass: Number(int(ram?.['dirty-sync-count'])),
    elapsedMs: Number(int(reply['total-time'])),
    transferredBytes: int(ram?.transferred),
    remainingBytes: Number(int(ram?.remaining)),
    ramBytes: Number(int(ram?.total)),
    mbps: numberOf(ram?.mbps) ?? 0,
    dirtyPagesRate: int(ram?.['dirty-pages-rate']),
    expectedDowntimeMs: Number(int(reply['expected-downtime'])),
    stats: progress.stats,
  };
}

/** The last line: how it ended. */
function verdict(outcome: WatchOutcome): string {
  const { last, status } = outcome;
  const passes = bigintOf(ramOf(last)?.['dirty-sync-count']) ?? bigintOf(ramOf(outcome.lastRunning ?? {})?.['dirty-sync-count']);
  const passText = passes === undefined ? '' : `, ${passes} pass${passes === 1n ? '' : 'es'}`;
  if (status === 'completed') return `Migration completed in ${bigintOf(last['total-time']) ?? '?'} ms, downtime ${bigintOf(last.downtime) ?? '?'} ms${passText}`;
  if (status === 'failed') return `Migration failed${outcome.errorDesc ? `: ${outcome.errorDesc}` : ''}${passText}`;
  return `Migration cancelled${passText}`;
}

/** A `node:http` server, as much of it as `/metrics` uses. */
interface HttpServer {
  listen(port: number, host: string): this;
  once(event: 'listening', listener: () => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
  close(callback: () => void): this;
  address(): { readonly address: string; readonly family: string; readonly port: number } | string | null;
}

/** `node:http`, imported by a computed name (the library compiles without Node's types, as node-net.ts). */
interface NodeHttp {
  createServer(listener: (request: MetricsRequest & { readonly url?: string }, response: MetricsResponse) => void): HttpServer;
}

/** Starts the `/metrics` server; resolves with it listening. */
async function serveMetrics(handler: ReturnType<typeof createMetricsHandler>, host: string, port: number): Promise<HttpServer> {
  const http = (await import(/* @vite-ignore */ ['node', 'http'].join(':'))) as NodeHttp;
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') handler(request, response);
    else {
      response.statusCode = 404;
      response.setHeader('Content-Type', 'text/plain; charset=utf-8');
      response.end('Not Found: the metrics are at /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve).once('error', reject);
    server.listen(port, host);
  });
  return server;
}

/**
 * Runs `migration-stats watch`.
 * @param args - the arguments after `watch`
 * @param io - where to write: the live view and the report on stdout (the live view on stderr
 *   with `--json`), messages on stderr
 * @param connect - opens the QMP session (default: the package's client)
 * @returns the exit code (see {@link WATCH_EXIT})
 */
export async function watchCommand(args: readonly string[], io: CommandIo, connect?: QmpConnect): Promise<number> {
  const request = parseWatchArgs(args);
  if (request.kind !== 'run') return answerUsage('watch', request, watchUsage, io);
  const { qmp, json } = request;
  const fail = (message: string): number => {
    io.stderr.write(`migration-stats watch: ${message}\n`);
    return WATCH_EXIT.noOutcome;
  };
  const live = json ? io.stderr : io.stdout;
  const stats = await MigrationStats.create();
  const metrics = await defineWatchStats().create();
  let server: HttpServer | undefined;
  if (request.metrics) {
    const { host, port } = request.metrics;
    try {
      server = await serveMetrics(createMetricsHandler(metrics), host, port);
    } catch (error) {
      return fail(`cannot serve /metrics on ${host}:${port}: ${(error as Error).message}`);
    }
    const address = server.address();
    const where = typeof address === 'object' && address ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
    io.stderr.write(`Serving /metrics on http://${where}/metrics\n`);
  }
  const signals = [io.signal, request.timeoutMs !== undefined ? AbortSignal.timeout(request.timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  const view = progressView(live);
  let shown: MigrationProgress | undefined;
  let outcome: WatchOutcome;
  try {
    outcome = await watchQemu({
      qmp,
      ...(connect ? { connect } : {}),
      interval: request.intervalMs,
      stats,
      ended: request.last ? 'report' : 'wait',
      infoMigrate: true,
      ...(signal ? { signal } : {}),
      onReady: ({ version, events, eventsRefused }) => {
        const pkg = version.package ? ` (${version.package})` : '';
        const note = events === 'off' ? `events off${eventsRefused ? ` (${eventsRefused})` : ''}: polling only` : `events ${events === 'on' ? 'on' : 'turned on'}`;
        live.write(`Watching QEMU ${formatQemuVersion(version)}${pkg} on ${qmp}: ${note}\n`);
      },
      onProgress: (progress) => {
        recordWatchProgress(metrics, progress);
        const next = asProgress(progress, shown);
        if (next) view.update((shown = next));
      },
    });
  } catch (error) {
    view.finish();
    const listening = server;
    await new Promise((resolve) => (listening ? listening.close(() => resolve(undefined)) : resolve(undefined)));
    if (error instanceof QemuWatchError && error.reason === 'aborted') {
      const reason: unknown = io.signal?.aborted ? io.signal.reason : undefined;
      if (reason === 'SIGINT' || reason === 'SIGTERM') {
        io.stderr.write(`migration-stats watch: ${error.message.replace(/^stopped/, `stopped by ${reason}`)}\n`);
        return reason === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
      }
      // Connected but never greeted: most often another client holds the monitor.
      const hint = error.message === 'stopped while connecting' ? `: no QMP greeting from ${qmp} (QEMU serves one client per monitor: is another one connected?)` : '';
      return fail(`--timeout ${request.timeoutMs! / 1000} s expired ${error.message.replace(/^stopped /, '')}${hint}`);
    }
    return fail(error instanceof Error ? error.message : String(error));
  } finally {
    stats.close();
  }
  view.finish();
  recordWatchOutcome(metrics, outcome);
  if (json) writeWatchJson(io.stdout, outcome);
  else if (outcome.infoMigrate !== undefined) io.stdout.write(`\n${outcome.infoMigrate}`);
  else io.stdout.write(`\n${formatQmp(outcome.last, { type: null })}\n`);
  if (!json) io.stdout.write('\n');
  (outcome.exitCode === 0 ? live : io.stderr).write(`${verdict(outcome)}\n`);
  if (server) {
    if (io.signal && !io.signal.aborted) {
      io.stderr.write('Still serving /metrics: stop with SIGINT or SIGTERM\n');
      const stop = io.signal;
      await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
    }
    const listening = server;
    await new Promise((resolve) => listening.close(() => resolve(undefined)));
  }
  return outcome.exitCode;
}
