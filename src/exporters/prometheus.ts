/**
 * Any stats in Prometheus' text exposition format (0.0.4) and in OpenMetrics 1.0, and a `/metrics`
 * request handler for Node's `http` server. No dependency: the handler takes Node's request and
 * response objects as they are.
 *
 * Counters are `counter`s (samples end in `_total`), gauges `gauge`s, a vector one sample per
 * element with its label (`{worker="3"}`), a histogram a `histogram` family of cumulative
 * `_bucket{le="…"}` samples, `_sum` and `_count`. Values are printed as exact decimal integers.
 * Prometheus itself stores every sample as a float64, so it keeps them exactly only up to 2^53;
 * above that it rounds (to the nearest even double).
 * @packageDocumentation
 */
import type { Definition } from '../definition.js';
import { atEntry, describe, entry, typeFault } from '../errors.js';
import { bucketLabels, checkLabelClashes, checkLabels, checkPromPrefix, leText, promUnitOf } from './metrics.js';
import { namesOfMetric, promPrefix } from './names.js';
import { negotiateFormat, type ExpositionFormat } from './negotiate.js';
import { protobufPlan, renderProtobuf } from './protobuf.js';
import { readOptions, type OptionSpec } from '../options.js';
import { kindOf, type Exact, type SampleSlot } from '../kinds.js';
import type { AnyKindDescription } from '../kinds-sparse.js';
import { requireAnyStats, type MetricReader, type SharedStats } from '../read/reader.js';

/** Options of {@link prometheusText} and {@link createMetricsHandler}. */
export interface PrometheusTextOptions {
  /** Start of every metric name (default: the definition's namespace, `qemu_migration_` for `MigrationStats`); `''` for none. */
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
/** Content type of Prometheus' protobuf format: length-delimited `io.prometheus.client.MetricFamily` messages. */
export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string, openMetrics: boolean): string {
  const escaped = text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? escaped.replace(/"/g, '\\"') : escaped;
}

/** Options of {@link createMetricsHandler}. */
export interface MetricsHandlerOptions extends Omit<PrometheusTextOptions, 'format'> {
  /**
   * Called with the error and the request when a request fails (the client gets a bare 500
   * Internal Server Error, never the error's message). Default: `console.error`. An error thrown
   * by it is ignored.
   */
  onError?: (error: unknown, request: MetricsRequest) => void;
}

const EXAMPLE = "{ labels: { vm: 'guest1' } }";
const TEXT_OPTIONS: OptionSpec<PrometheusTextOptions> = { names: { prefix: true, labels: true, format: true }, example: EXAMPLE };
const HANDLER_OPTIONS: OptionSpec<MetricsHandlerOptions> = {
  names: { prefix: true, labels: true, onError: true },
  example: EXAMPLE,
  notTaken: { format: "each response is OpenMetrics or Prometheus' protobuf format when the request's Accept header asks for it, else the Prometheus text format" },
};

/**
 * Reads the options once into a frozen copy (labels included) and checks them: the default prefix
 * is the definition's, and no constant label may clash with a vector's label or a histogram's `le`.
 */
function checkOptions(
  options: unknown,
  spec: OptionSpec<PrometheusTextOptions> | typeof HANDLER_OPTIONS,
  definition: Definition,
): Readonly<Required<PrometheusTextOptions>> & { readonly onError?: unknown } {
  type Given = PrometheusTextOptions & Pick<MetricsHandlerOptions, 'onError'>;
  const given = readOptions<Given>(options, spec as OptionSpec<Given>);
  const { prefix = promPrefix(definition.namespace), format = 'prometheus' } = given;
  if (format !== 'prometheus' && format !== 'openmetrics') {
    throw typeFault(`options.format must be 'prometheus' or 'openmetrics'; received ${describe(format)}`);
  }
  const labels = checkLabels(given.labels);
  checkLabelClashes('options.labels', Object.keys(labels), definition.metrics, true);
  return Object.freeze({ prefix: checkPromPrefix(prefix), labels, format, onError: given.onError });
}

/** One metric family, laid out before any value is read: its metadata lines and each sample's name and labels. */
interface FamilyPlan {
  /** `# HELP`, `# TYPE` (and OpenMetrics' `# UNIT`) lines, each ending with a newline. */
  readonly meta: string;
  /**
   * Each sample of the metric's kind up to its value (`name{labels} `). For a sparse kind, whose
   * reads give some of its slots, the samples made so far, by slot.
   */
  readonly samples: string[];
  /** A sparse kind's: makes the sample of slot `i` (kept in `samples`); `undefined` for the fixed kinds. */
  readonly make: ((i: number) => string) | undefined;
}

/** How the text of one format is written: every family, in the definition's order. */
interface Plan {
  readonly families: readonly FamilyPlan[];
  readonly openMetrics: boolean;
  /** Where each read puts its values: as long as the longest family. */
  readonly values: Exact[];
  /** Where a sparse kind's read puts the slot of each value. */
  readonly which: number[];
}

/** Plans already laid out, per definition, by format, prefix and labels: a definition is planned once. */
const plans = new WeakMap<Definition, Map<string, Plan>>();
/** The most plans kept per definition (one per format and set of options in use). */
const MAX_PLANS = 16;

/** The plan of `definition` for one format and set of options, laid out on first use and then kept. */
function planOf(definition: Definition, options: Readonly<Required<PrometheusTextOptions>>, format: ExpositionFormat): Plan {
  let cached = plans.get(definition);
  if (cached === undefined) plans.set(definition, (cached = new Map()));
  const key = `${format}\n${options.prefix}\n${JSON.stringify(options.labels)}`;
  let found = cached.get(key);
  if (found === undefined) {
    if (cached.size >= MAX_PLANS) cached.clear();
    cached.set(key, (found = plan(definition, options, format)));
  }
  return found;
}

/** Lays out the families of `definition` for one format: everything but the values. */
function plan(definition: Definition, { prefix, labels }: Readonly<Required<PrometheusTextOptions>>, format: ExpositionFormat): Plan {
  const openMetrics = format === 'openmetrics';
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  const families = definition.metrics.map((spec): FamilyPlan => {
    const family = prefix + namesOfMetric(definition, spec).prometheus;
    const type = spec.kind;
    // Prometheus text names a counter's family after its sample; OpenMetrics names it without `_total`.
    const sample = type === 'counter' ? `${family}_total` : family;
    const name = openMetrics || type === 'histogram' ? family : sample;
    const meta = [`# HELP ${name} ${escapeHelp(spec.help, openMetrics)}`, `# TYPE ${name} ${type}`];
    const unit = openMetrics ? promUnitOf(spec, family) : undefined;
    if (unit !== undefined) meta.push(`# UNIT ${name} ${unit}`);
    const text = ({ suffix, label }: SampleSlot): string => {
      const all = label === undefined ? pairs : [...pairs, `${label[0]}="${label[1]}"`];
      // Joined, the string is one flat run of characters rather than a tree of its parts, which every text would walk again.
      return [sample, suffix, all.length > 0 ? `{${all.join(',')}}` : '', ' '].join('');
    };
    const kind = kindOf(spec) as AnyKindDescription;
    const head = meta.map((line) => `${line}\n`).join('');
    if (kind.sparse) return { meta: head, samples: [], make: (i) => text(kind.slot(spec, i, (highest) => leText(highest, format))) };
    const le = type === 'histogram' ? bucketLabels(spec, format) : undefined;
    return { meta: head, samples: kind.slots(spec, le).map(text), make: undefined };
  });
  return { families, openMetrics, values: [], which: [] };
}

/** Reads every metric now (each value, element and bucket once) and writes the text. */
function render(metrics: readonly MetricReader[], { families, openMetrics, values, which }: Plan): string {
  let text = '';
  for (let f = 0; f < families.length; f++) {
    const { meta, samples, make } = families[f]!;
    text += meta;
    // Read at render time: every thread's updates so far, one atomic read per cell.
    if (make === undefined) {
      metrics[f]!.samples(values, which);
      for (let i = 0; i < samples.length; i++) text += `${samples[i]!}${values[i]!}\n`;
    } else {
      const count = metrics[f]!.samples(values, which)!;
      for (let k = 0; k < count; k++) {
        const i = which[k]!;
        text += `${samples[i] ?? (samples[i] = make(i))}${values[k]!}\n`;
      }
    }
  }
  return openMetrics ? `${text}# EOF\n` : text;
}

/**
 * Any stats in Prometheus' text format (or OpenMetrics), read now: every metric of the stats'
 * definition, named after it (its Prometheus name under the prefix).
 * @param stats - a stats object of any definition (a `MigrationStats` included; any thread's
 *   updates are included)
 * @param options - `prefix` (default: the definition's namespace, `qemu_migration_` for a
 *   `MigrationStats`), constant `labels`, `format`
 * @returns the exposition text, ending with a newline
 * @throws TypeError for a bad stats, prefix, label name or format, a constant label named as a
 *   vector's label or, where the stats have a histogram, `le`, or an argument whose reading throws
 *   (a getter, a Proxy)
 * @example
 * prometheusText(stats)
 * //=> '# HELP qemu_migration_last_sync_dirty_bytes Dirty bytes found by the last dirty-bitmap sync; QEMU dirty_bytes_last_sync.\n# TYPE qemu_migration_last_sync_dirty_bytes gauge\nqemu_migration_last_sync_dirty_bytes 0\n…'
 * @example
 * const CopyStats = defineStats({
 *   copiedFiles: { kind: 'counter', unit: 'files', help: 'Files copied.' },
 *   workerBytes: { kind: 'counter', unit: 'bytes', help: 'Bytes copied by each worker.', length: 2, label: 'worker' },
 * }, { namespace: 'copy' });
 * const copy = await CopyStats.create();
 * copy.workerBytes.at(1).add(4096);
 * prometheusText(copy, { labels: { host: 'h1' } }).split('\n').slice(3, 7);
 * //=> ['# HELP copy_worker_bytes_total Bytes copied by each worker.', '# TYPE copy_worker_bytes_total counter',
 * //    'copy_worker_bytes_total{host="h1",worker="0"} 0', 'copy_worker_bytes_total{host="h1",worker="1"} 4096']
 */
export function prometheusText(stats: SharedStats, options?: PrometheusTextOptions): string {
  try {
    const reader = requireAnyStats(stats);
    const checked = checkOptions(options, TEXT_OPTIONS, reader.definition);
    return render(reader.metrics, planOf(reader.definition, checked, checked.format));
  } catch (error) {
    throw atEntry('prometheusText', error);
  }
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
  end(body?: string | Uint8Array): unknown;
}

/** The content type of the handler's own messages (405, 406, 500). */
const MESSAGE_CONTENT_TYPE = 'text/plain; charset=utf-8';
const NOT_ACCEPTABLE = `Not Acceptable: this endpoint serves ${PROMETHEUS_CONTENT_TYPE}, ${OPENMETRICS_CONTENT_TYPE} and ${PROTOBUF_CONTENT_TYPE}\n`;

/** Node's `Buffer`, where there is one: it counts a string's UTF-8 bytes without encoding it. */
const NodeBuffer = (globalThis as { Buffer?: { byteLength(text: string, encoding: 'utf8'): number } }).Buffer;

/** The length of a body in bytes: of a text in UTF-8, which is encoded once, when it is sent. */
function byteLength(text: string | Uint8Array): number {
  if (typeof text !== 'string') return text.length;
  return NodeBuffer !== undefined ? NodeBuffer.byteLength(text, 'utf8') : new TextEncoder().encode(text).length;
}

/** Writes a whole answer; the body is left out for `HEAD`. */
function send(response: MetricsResponse, head: boolean, status: number, headers: Readonly<Record<string, string>>, body: string | Uint8Array): void {
  response.statusCode = status;
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  response.setHeader('Content-Length', byteLength(body));
  response.end(head ? undefined : body);
}

/** What a request that fails is told: nothing of the error, which may hold what the client must not see. */
const INTERNAL_ERROR = 'Internal Server Error\n';

/** The default `onError`: the error on the console. */
function logFailure(error: unknown): void {
  console.error('createMetricsHandler: a request failed (answered 500 Internal Server Error):', error);
}

/** Answers 500 with a bare body; a response that cannot take even that is closed if it can be. */
function sendFailure(response: MetricsResponse): void {
  try {
    send(response, false, 500, { 'Content-Type': MESSAGE_CONTENT_TYPE }, INTERNAL_ERROR);
  } catch {
    try {
      (response as { destroy?: () => unknown }).destroy?.();
    } catch {
      // Nothing is left to answer with.
    }
  }
}

/**
 * A request handler that answers with the stats as they are at each request, in the format the
 * `Accept` header asks for (RFC 9110 content negotiation, as Prometheus servers send it): Prometheus'
 * protobuf format (which alone carries native histograms), OpenMetrics or the Prometheus text
 * format, by q-value and then by how specifically each is named; the text format without an
 * `Accept` header (or with an empty one). `GET` and `HEAD` only (else 405); 406 when the header
 * refuses every format. A request that fails (the stats cannot be read, a request
 * or response object that throws) gets a bare 500 Internal Server Error, and the error goes to
 * `options.onError` (default: `console.error`), never to the client: nothing a request does throws
 * out of the handler. It answers every path: mount it where you serve `/metrics`, or pass it to
 * `http.createServer` as it is.
 * @param stats - a stats object of any definition, as for {@link prometheusText}
 * @param options - `prefix` and `labels` as for {@link prometheusText} (`format` is negotiated),
 *   and `onError(error, request)`; read once and copied when the handler is made, so later changes
 *   to them change nothing
 * @returns `(request, response) => void` for `node:http`
 * @throws TypeError for a bad stats, prefix or label name, a label that clashes as for
 *   {@link prometheusText}, an `onError` that is not a function, or a `format` option (when
 *   called, not per request)
 * @example
 * http.createServer(createMetricsHandler(stats, { labels: { vm: 'guest1' } })).listen(9464);
 */
export function createMetricsHandler(
  stats: SharedStats,
  options?: MetricsHandlerOptions,
): (request: MetricsRequest, response: MetricsResponse) => void {
  const where = 'createMetricsHandler';
  const { reader, base } = entry(where, () => {
    const reader = requireAnyStats(stats);
    return { reader, base: checkOptions(options, HANDLER_OPTIONS, reader.definition) };
  });
  const given = base.onError;
  if (given !== undefined && typeof given !== 'function') {
    throw new TypeError(`${where}: options.onError must be a function (error, request) => void; received ${describe(given)}`);
  }
  const onError = (given as MetricsHandlerOptions['onError']) ?? logFailure;
  const formats: Readonly<Record<ExpositionFormat, Plan>> = { prometheus: planOf(reader.definition, base, 'prometheus'), openmetrics: planOf(reader.definition, base, 'openmetrics') };
  const protobuf = protobufPlan(reader.definition, base.prefix, base.labels);
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
    if (format === 'protobuf') {
      send(response, head, 200, { Vary: 'Accept', 'Content-Type': PROTOBUF_CONTENT_TYPE }, renderProtobuf(reader.metrics, protobuf));
      return;
    }
    const body = render(reader.metrics, formats[format]);
    send(response, head, 200, { Vary: 'Accept', 'Content-Type': format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE }, body);
  };
  return (request, response) => {
    try {
      answer(request, response);
    } catch (error) {
      sendFailure(response);
      try {
        onError(atEntry(where, error), request);
      } catch {
        // The error has nowhere else to go; the server goes on.
      }
    }
  };
}
