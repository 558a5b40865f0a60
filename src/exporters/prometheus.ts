/**
 * The counters in Prometheus' text exposition format (0.0.4) and in OpenMetrics 1.0, and a
 * `/metrics` request handler for Node's `http` server. No dependency: the handler takes Node's
 * request and response objects as they are.
 *
 * Values are printed as exact decimal integers. Prometheus itself stores every sample as a float64,
 * so it keeps them exactly only up to 2^53; above that it rounds (to the nearest even double).
 * @packageDocumentation
 */
import { describe, errorReason } from '../errors.js';
import { checkLabels, checkPromPrefix, DEFAULT_PROM_PREFIX, METRICS } from './metrics.js';
import { negotiateFormat } from './negotiate.js';
import { readOptions, type OptionSpec } from '../options.js';
import { requireStats, type MigrationStats, type StatsReader } from '../stats.js';

/** Options of {@link prometheusText} and {@link createMetricsHandler}. */
export interface PrometheusTextOptions {
  /** Start of every metric name (default `qemu_migration_`); `''` for none. */
  prefix?: string;
  /** Constant labels on every sample, e.g. `{ vm: 'guest1' }`. */
  labels?: Readonly<Record<string, string>>;
  /** `'prometheus'` (default): text format 0.0.4; `'openmetrics'`: OpenMetrics 1.0. */
  format?: 'prometheus' | 'openmetrics';
}

/** Content type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Content type of OpenMetrics text. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string, openMetrics: boolean): string {
  const escaped = text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? escaped.replace(/"/g, '\\"') : escaped;
}

const EXAMPLE = "{ labels: { vm: 'guest1' } }";
const TEXT_OPTIONS: OptionSpec<PrometheusTextOptions> = { names: { prefix: true, labels: true, format: true }, example: EXAMPLE };
const HANDLER_OPTIONS: OptionSpec<Omit<PrometheusTextOptions, 'format'>> = {
  names: { prefix: true, labels: true },
  example: EXAMPLE,
  notTaken: { format: "each response is OpenMetrics when the request's Accept header asks for it, else the Prometheus text format" },
};

/** Reads the options once into a frozen copy (labels included) and checks them. */
function checkOptions(where: string, options: unknown, spec: OptionSpec<PrometheusTextOptions> | typeof HANDLER_OPTIONS): Readonly<Required<PrometheusTextOptions>> {
  const { prefix = DEFAULT_PROM_PREFIX, labels, format = 'prometheus' } = readOptions<PrometheusTextOptions>(where, options, spec as OptionSpec<PrometheusTextOptions>);
  if (format !== 'prometheus' && format !== 'openmetrics') {
    throw new TypeError(`${where}: options.format must be 'prometheus' or 'openmetrics'; received ${describe(format)}`);
  }
  return Object.freeze({ prefix: checkPromPrefix(where, prefix), labels: checkLabels(where, labels), format });
}

function render(where: string, stats: StatsReader, { prefix, labels, format }: Readonly<Required<PrometheusTextOptions>>): string {
  const openMetrics = format === 'openmetrics';
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  const labelText = pairs.length > 0 ? `{${pairs.join(',')}}` : '';
  const lines: string[] = [];
  for (const metric of METRICS) {
    const family = prefix + metric.promName;
    const sample = metric.type === 'counter' ? `${family}_total` : family;
    // Prometheus text names the family after the sample; OpenMetrics names it without `_total`.
    const name = openMetrics ? family : sample;
    lines.push(`# HELP ${name} ${escapeHelp(metric.help, openMetrics)}`);
    lines.push(`# TYPE ${name} ${metric.type}`);
    if (openMetrics && metric.promUnit !== undefined) lines.push(`# UNIT ${name} ${metric.promUnit}`);
    // Read at render time: every thread's adds so far, one atomic read per counter.
    lines.push(`${sample}${labelText} ${stats.get(where, metric.counter)}`);
  }
  if (openMetrics) lines.push('# EOF');
  return lines.join('\n') + '\n';
}

/**
 * The 15 counters in Prometheus' text format (or OpenMetrics), read now.
 * @param stats - the counters (any thread's updates are included)
 * @param options - `prefix` (default `qemu_migration_`), constant `labels`, `format`
 * @returns the exposition text, ending with a newline
 * @throws TypeError for a bad stats, prefix, label name or format, or one whose reading throws (a
 *   getter, a Proxy)
 * @example
 * prometheusText(stats)
 * //=> '# HELP qemu_migration_last_sync_dirty_bytes Dirty bytes found by the last dirty-bitmap sync; QEMU dirty_bytes_last_sync.\n# TYPE qemu_migration_last_sync_dirty_bytes gauge\nqemu_migration_last_sync_dirty_bytes 0\n…'
 */
export function prometheusText(stats: MigrationStats, options?: PrometheusTextOptions): string {
  const where = 'prometheusText';
  const reader = requireStats(where, stats);
  return render(where, reader, checkOptions(where, options, TEXT_OPTIONS));
}

/** The parts of Node's `http.IncomingMessage` the handler reads. */
export interface MetricsRequest {
  readonly method?: string | undefined;
  readonly headers: { readonly accept?: string | string[] | undefined };
}

/** The parts of Node's `http.ServerResponse` the handler uses. */
export interface MetricsResponse {
  statusCode: number;
  setHeader(name: string, value: string | number): unknown;
  end(body?: string): unknown;
}

/** The content type of the handler's own messages (405, 406, 500). */
const MESSAGE_CONTENT_TYPE = 'text/plain; charset=utf-8';
const NOT_ACCEPTABLE = `Not Acceptable: this endpoint serves ${PROMETHEUS_CONTENT_TYPE} and ${OPENMETRICS_CONTENT_TYPE}\n`;

/** Writes a whole answer; the body is left out for `HEAD`. */
function send(response: MetricsResponse, head: boolean, status: number, headers: Readonly<Record<string, string>>, body: string): void {
  response.statusCode = status;
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  response.setHeader('Content-Length', new TextEncoder().encode(body).length);
  response.end(head ? undefined : body);
}

/** Answers 500 with the error's message; a response that cannot take even that is closed if it can be. */
function sendFailure(response: MetricsResponse, error: unknown): void {
  try {
    send(response, false, 500, { 'Content-Type': MESSAGE_CONTENT_TYPE }, `Internal Server Error: ${errorReason(error)}\n`);
  } catch {
    try {
      (response as { destroy?: () => unknown }).destroy?.();
    } catch {
      // Nothing is left to answer with.
    }
  }
}

/**
 * A request handler that answers with the counters as they are at each request, in the format the
 * `Accept` header asks for (RFC 9110 content negotiation, as Prometheus servers send it): OpenMetrics
 * or the Prometheus text format, by q-value and then by how specifically each is named; the text
 * format without an `Accept` header (or with an empty one). `GET` and `HEAD` only (else 405); 406
 * when the header refuses both formats. A request that fails (the stats cannot be read, a request
 * or response object that throws) gets 500 with the error's message: nothing a request does
 * throws out of the handler. It answers every path: mount it where you serve `/metrics`, or pass it
 * to `http.createServer` as it is.
 * @param stats - the counters
 * @param options - `prefix` and `labels` as for {@link prometheusText} (`format` is negotiated);
 *   read once and copied when the handler is made, so later changes to them change nothing
 * @returns `(request, response) => void` for `node:http`
 * @throws TypeError for a bad stats, prefix or label name, or a `format` option (when called, not per request)
 * @example
 * http.createServer(createMetricsHandler(stats, { labels: { vm: 'guest1' } })).listen(9464);
 */
export function createMetricsHandler(
  stats: MigrationStats,
  options?: Omit<PrometheusTextOptions, 'format'>,
): (request: MetricsRequest, response: MetricsResponse) => void {
  const where = 'createMetricsHandler';
  const reader = requireStats(where, stats);
  const base = checkOptions(where, options, HANDLER_OPTIONS);
  const answer = (request: MetricsRequest, response: MetricsResponse): void => {
    const method = request.method;
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) {
      send(response, false, 405, { Allow: 'GET, HEAD', 'Content-Type': MESSAGE_CONTENT_TYPE }, 'Method Not Allowed\n');
      return;
    }
    const format = negotiateFormat(request.headers.accept);
    if (format === undefined) {
      send(response, head, 406, { Vary: 'Accept', 'Content-Type': MESSAGE_CONTENT_TYPE }, NOT_ACCEPTABLE);
      return;
    }
    const body = render(where, reader, { ...base, format });
    send(response, head, 200, { Vary: 'Accept', 'Content-Type': format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE }, body);
  };
  return (request, response) => {
    try {
      answer(request, response);
    } catch (error) {
      sendFailure(response, error);
    }
  };
}
