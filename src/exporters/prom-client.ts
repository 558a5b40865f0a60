/**
 * Adapter for `prom-client` (an optional peer dependency): registers the metrics of any stats in a
 * `Registry`, read from the shared memory each time the registry is collected, so every thread's
 * updates show at scrape time. Import it from `migration-stats/prom-client`; the main entry never
 * loads `prom-client`.
 *
 * Counters and gauges are prom-client `Counter`s and `Gauge`s (a vector's elements are label
 * values of one). A histogram is a metric object of its own that the registry collects as it does
 * its own: prom-client's `Histogram` counts observations itself and cannot take the shared buckets.
 *
 * prom-client keeps numbers: values above 2^53 are rounded to the nearest double when read (as
 * Prometheus would store them anyway).
 * @packageDocumentation
 */
import { Counter, Gauge, register as globalRegistry, Registry, type Metric } from 'prom-client';
import type { MetricSpec } from '../definition.js';
import { atEntry, describe, entry, typeFault } from '../errors.js';
import { bucketLabels, checkLabelClashes, checkLabels, checkPromPrefix, leText } from './metrics.js';
import { namesOfMetric, promPrefix } from './names.js';
import { readMember, readOptions, type OptionSpec } from '../options.js';
import { kindOf, type Exact, type SampleSlot } from '../kinds.js';
import type { AnyKindDescription } from '../kinds-sparse.js';
import { requireAnyStats, type MetricReader, type SharedStats } from '../read/reader.js';

/** Options of {@link registerPromClient}. */
export interface PromClientOptions {
  /** The registry to register in (default: prom-client's global `register`). */
  registry?: Registry;
  /** Start of every metric name (default: the definition's namespace, `qemu_migration_` for `MigrationStats`). */
  prefix?: string;
  /** Constant labels on every sample, e.g. `{ vm: 'guest1' }`. */
  labels?: Readonly<Record<string, string>>;
}

const OPTIONS: OptionSpec<PromClientOptions> = { names: { registry: true, prefix: true, labels: true }, example: '{ registry }' };

/** What {@link registerPromClient} registered. */
export interface PromClientRegistration {
  /** The metric names, in the definition's order (QEMU's struct order for `MigrationStats`). */
  readonly names: readonly string[];
  /** Removes the metrics from the registry again. */
  unregister(): void;
}

/** One sample of a histogram as prom-client's registry takes it from a metric's `get()`. */
interface PromClientSample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A sample's name and labels, as the registry takes them. */
type SampleName = { readonly metricName: string; readonly labels: Readonly<Record<string, string>> };

/**
 * A histogram for prom-client's `Registry`: what the registry uses of a metric (its `name`, `help`,
 * `type` and `aggregator`, `get()` for the samples, `reset()`), over the shared buckets. Each
 * `get()` reads the buckets once; the `+Inf` bucket and `_count` are both their total. An
 * exponential histogram gives only the buckets where the cumulative count changes, and `+Inf`.
 */
class SharedHistogram {
  readonly type = 'histogram';
  /** How prom-client's cluster mode combines the workers' registries: the sum, as for its own histograms. */
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly #read: (out: Exact[], which: number[]) => number | void;
  /**
   * Each sample's name and labels: the buckets (`le` last), `_sum`, `_count`. For an exponential
   * histogram, those made so far, by slot.
   */
  readonly #samples: SampleName[];
  /** An exponential histogram's: makes the sample of slot `i` (kept in `#samples`). */
  readonly #make: ((i: number) => SampleName) | undefined;

  constructor(name: string, spec: MetricSpec, labels: Readonly<Record<string, string>>, openMetrics: boolean, read: (out: Exact[], which: number[]) => number | void) {
    this.name = name;
    this.help = spec.help;
    this.#read = read;
    const format = openMetrics ? 'openmetrics' : 'prometheus';
    const named = ([suffix, sampleLabels]: [string, Readonly<Record<string, string>>]): SampleName => ({ metricName: `${name}${suffix}`, labels: sampleLabels });
    const kind = kindOf(spec) as AnyKindDescription;
    if (kind.sparse) {
      this.#samples = [];
      this.#make = (i) => named(slotLabels(kind.slot(spec, i, (highest) => leText(highest, format)), labels));
    } else {
      this.#samples = sampleLabels(spec, labels, bucketLabels(spec, format)).map(named);
      this.#make = undefined;
    }
  }

  /** The samples now: cumulative `_bucket`s, `_sum`, `_count`. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: PromClientSample[] }> {
    const read: Exact[] = [];
    const which: number[] = [];
    const count = this.#read(read, which);
    const make = this.#make;
    const values =
      make === undefined
        ? this.#samples.map(({ metricName, labels }, i): PromClientSample => ({ metricName, labels, value: Number(read[i]) }))
        : which.slice(0, count as number).map((i, k): PromClientSample => {
            const { metricName, labels } = (this.#samples[i] ??= make(i));
            return { metricName, labels, value: Number(read[k]) };
          });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** What `registry.resetMetrics()` calls: nothing to reset, the values are the shared memory's. */
  reset(): void {}
}

/** A sample's suffix and its labels, the constant ones then the kind's own (frozen). */
function slotLabels({ suffix, label }: SampleSlot, labels: Readonly<Record<string, string>>): [string, Readonly<Record<string, string>>] {
  return [suffix, label === undefined ? labels : Object.freeze({ ...labels, [label[0]]: label[1] })];
}

/** Each sample of a metric of a fixed kind: its suffix and its labels. */
function sampleLabels(spec: MetricSpec, labels: Readonly<Record<string, string>>, le?: readonly string[]): [string, Readonly<Record<string, string>>][] {
  return (kindOf(spec) as Extract<AnyKindDescription, { sparse: false }>).slots(spec, le).map((slot) => slotLabels(slot, labels));
}

/** A counter's or a gauge's samples now, with their labels, as numbers (rounded above 2^53). */
function valueSamples(metric: MetricReader, labels: Readonly<Record<string, string>>): () => [Readonly<Record<string, string>>, number][] {
  const slots = sampleLabels(metric.spec, labels);
  return () => {
    const read: Exact[] = [];
    readSamples(metric, read, []);
    return slots.map(([, sampleLabels], i) => [sampleLabels, Number(read[i])]);
  };
}

/** One read of a metric at a collection, its errors named by `registerPromClient` (the registry calls it). */
function readSamples(metric: MetricReader, out: Exact[], which: number[]): number | void {
  try {
    return metric.samples(out, which);
  } catch (error) {
    throw atEntry(WHERE, error);
  }
}

const WHERE = 'registerPromClient';

/** Reads and checks `registerPromClient`'s arguments once (its errors are named by it). */
function checkArguments(stats: unknown, options: unknown) {
  const reader = requireAnyStats(stats);
  const given = readOptions(options, OPTIONS);
  const registry = given.registry ?? globalRegistry;
  const isRegistry =
    registry !== null && typeof registry === 'object' && typeof readMember('options.registry.registerMetric', registry, 'registerMetric') === 'function';
  if (!isRegistry) throw typeFault(`options.registry must be a prom-client Registry; received ${describe(registry)}`);
  const prefix = checkPromPrefix(given.prefix ?? promPrefix(reader.definition.namespace));
  const labels = checkLabels(given.labels);
  const labelNames = Object.keys(labels);
  checkLabelClashes('options.labels', labelNames, reader.definition.metrics, true);
  // The le of the buckets as the registry's format writes numbers: read once, as the registry is made with it.
  const openMetrics = readMember('options.registry.contentType', registry, 'contentType') === Registry.OPENMETRICS_CONTENT_TYPE;
  return { reader, registry, prefix, labels, labelNames, openMetrics };
}

/**
 * Registers the metrics of any stats with a prom-client registry, read at each collection: counters
 * as `Counter`s (names ending in `_total`), gauges as `Gauge`s, a vector's elements as label values
 * (`{worker="3"}`), histograms with their real buckets (`le` the highest value of each, as in
 * `prometheusText`).
 * @param stats - a stats object of any definition (a `MigrationStats` included; any thread's
 *   updates are included)
 * @param options - `registry` (default: the global one), `prefix` (default: the definition's
 *   namespace), constant `labels`
 * @returns the names registered and a way to remove them
 * @throws TypeError for a bad stats or bad options, a constant label named as a vector's label or,
 *   where the stats have a histogram, `le`, or options whose reading throws (a getter, a Proxy);
 *   prom-client's own Error when a name is already registered (nothing is then left registered)
 * @example
 * import { Registry } from 'prom-client';
 * import { registerPromClient } from 'migration-stats/prom-client';
 * const registry = new Registry();
 * registerPromClient(stats, { registry, labels: { vm: 'guest1' } });
 * await registry.metrics(); //=> '# HELP qemu_migration_last_sync_dirty_bytes …'
 */
export function registerPromClient(stats: SharedStats, options?: PromClientOptions): PromClientRegistration {
  const { reader, registry, prefix, labels, labelNames, openMetrics } = entry(WHERE, () => checkArguments(stats, options));

  const names: string[] = [];
  try {
    for (const metric of reader.metrics) {
      const { spec } = metric;
      const family = prefix + namesOfMetric(reader.definition, spec).prometheus;
      if (spec.kind === 'histogram') {
        const name = family;
        names.push(name);
        const histogram = new SharedHistogram(name, spec, labels, openMetrics, (out, which) => readSamples(metric, out, which));
        registry.registerMetric(histogram as unknown as Metric);
        continue;
      }
      // Each collection reads the value, or every element of a vector, once.
      const samples = valueSamples(metric, labels);
      const metricLabels = spec.length > 0 ? [...labelNames, spec.label] : labelNames;
      if (spec.kind === 'counter') {
        const name = `${family}_total`;
        names.push(name);
        new Counter({
          name,
          help: spec.help,
          labelNames: metricLabels,
          registers: [registry],
          collect(this: Counter) {
            // A counter can only be increased: start from zero at each collection.
            this.reset();
            for (const [sampleLabels, value] of samples()) this.inc(sampleLabels, value);
          },
        });
      } else {
        const name = family;
        names.push(name);
        new Gauge({
          name,
          help: spec.help,
          labelNames: metricLabels,
          registers: [registry],
          collect(this: Gauge) {
            for (const [sampleLabels, value] of samples()) this.set(sampleLabels, value);
          },
        });
      }
    }
  } catch (error) {
    // A name was taken: leave the registry as it was.
    for (const name of names.slice(0, -1)) registry.removeSingleMetric(name);
    throw error;
  }
  return Object.freeze({
    names: Object.freeze(names),
    unregister(): void {
      for (const name of names) registry.removeSingleMetric(name);
    },
  });
}
