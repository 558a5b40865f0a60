/**
 * Any stats in Prometheus' protobuf exposition format: a stream of `io.prometheus.client.MetricFamily`
 * messages (client_model's `metrics.proto`), each preceded by its length as a varint
 * (`encoding=delimited`). Prometheus asks for it when its native histograms are on; it is the only
 * format that carries them.
 *
 * Counters are `COUNTER` families (named with `_total`, as in the text format), gauges `GAUGE`s, a
 * vector one `Metric` per element with its label, a histogram with bucket boundaries of its own a
 * `HISTOGRAM` with classic cumulative buckets (`upper_bound` the highest integer a bucket counts,
 * the last bucket left to the `+Inf` a scraper makes of `sample_count`), an exponential histogram a
 * native histogram (native.ts).
 *
 * Counter and gauge values, sums and bucket bounds are `double`s in this format: a value above 2^53
 * is sent as the nearest double (ties to even), which is what Prometheus stores of the same value in
 * the text format too. Counts (`sample_count`, `cumulative_count`, `zero_count`) are `uint64`,
 * exact; the deltas between native bucket counts are `sint64`, exact mod 2^64.
 *
 * What is known before a read (each family's name, help and type, each metric's labels, each bucket's
 * bound) is encoded once per definition and options, as the text formats' plans are.
 * @packageDocumentation
 */
import type { Definition } from '../definition.js';
import { kindOf, type Exact, type HistogramReading, type KindDescription } from '../kinds.js';
import type { MetricReader } from '../read/reader.js';
import { bucketHighest } from './metrics.js';
import { namesOfMetric } from './names.js';
import { nativeHistogram, type ExponentialReading, type NativeHistogram } from './native.js';
import { encode, ProtoWriter, zigzag } from './proto-wire.js';

// Field numbers of metrics.proto.
const FAMILY = { name: 1, help: 2, type: 3, metric: 4 } as const;
const METRIC = { label: 1, gauge: 2, counter: 3, histogram: 7 } as const;
const LABEL = { name: 1, value: 2 } as const;
/** The `value` field of `Gauge` and `Counter`. */
const VALUE = 1;
const HISTOGRAM = {
  sampleCount: 1,
  sampleSum: 2,
  bucket: 3,
  schema: 5,
  zeroThreshold: 6,
  zeroCount: 7,
  positiveSpan: 12,
  positiveDelta: 13,
} as const;
const BUCKET = { cumulativeCount: 1, upperBound: 2 } as const;
const SPAN = { offset: 1, length: 2 } as const;
/** `MetricType` values. */
const TYPE = { counter: 0, gauge: 1, histogram: 4 } as const;

/** One family, laid out before any value is read. */
interface FamilyPlan {
  /** The family's name, help and type, encoded. */
  readonly head: Uint8Array;
  /** The field of `Metric` its values go in. */
  readonly field: (typeof METRIC)[keyof typeof METRIC];
  /** Each `Metric`'s labels, encoded: one per sample of a counter or gauge, one for a histogram. */
  readonly labels: readonly Uint8Array[];
  /**
   * A classic histogram's bucket bounds (`upper_bound` fields), encoded, one per bucket; the last
   * bucket, open above, has none (a scraper makes its `+Inf` of `sample_count`).
   */
  readonly bounds: readonly (Uint8Array | undefined)[] | undefined;
  /** Whether it is an exponential histogram, written as a native one. */
  readonly native: boolean;
}

/** How a definition is written in the format. */
export interface ProtobufPlan {
  readonly families: readonly FamilyPlan[];
  /** Where each read puts its values. */
  readonly values: Exact[];
  /** Reused by every read of the plan (a read is synchronous). */
  readonly writer: ProtoWriter;
}

/**
 * The encoded `label` fields of a `Metric`: a `LabelPair` for each name and value.
 */
export function labelPairs(pairs: readonly (readonly [string, string])[]): Uint8Array {
  return encode((w) => {
    for (const [name, value] of pairs) {
      const start = w.open();
      w.string(LABEL.name, name);
      w.string(LABEL.value, value);
      w.close(start, METRIC.label);
    }
  });
}

/** Plans already laid out, per definition, by prefix and labels: a definition is planned once. */
const plans = new WeakMap<Definition, Map<string, ProtobufPlan>>();
/** The most plans kept per definition (one per set of options in use). */
const MAX_PLANS = 16;

/**
 * The plan of `definition` for a prefix and constant labels, laid out on first use and then kept.
 * @param prefix - the start of every family name
 * @param labels - constant labels, on every metric
 */
export function protobufPlan(definition: Definition, prefix: string, labels: Readonly<Record<string, string>>): ProtobufPlan {
  let cached = plans.get(definition);
  if (cached === undefined) plans.set(definition, (cached = new Map()));
  const key = `${prefix}\n${JSON.stringify(labels)}`;
  let found = cached.get(key);
  if (found === undefined) {
    if (cached.size >= MAX_PLANS) cached.clear();
    cached.set(key, (found = plan(definition, prefix, labels)));
  }
  return found;
}

/** Lays out the families of `definition` (see the module's description). */
function plan(definition: Definition, prefix: string, labels: Readonly<Record<string, string>>): ProtobufPlan {
  const constant = Object.entries(labels);
  const families = definition.metrics.map((spec): FamilyPlan => {
    const family = prefix + namesOfMetric(definition, spec).prometheus;
    const histogram = spec.kind === 'histogram';
    const head = familyHead(spec.kind === 'counter' ? `${family}_total` : family, spec.help, spec.kind);
    if (histogram && spec.scale !== undefined) return { head, field: METRIC.histogram, labels: [labelPairs(constant)], bounds: undefined, native: true };
    if (histogram) {
      const bounds = bucketHighest(spec).map((highest) => (highest === null ? undefined : encode((w) => w.double(BUCKET.upperBound, Number(highest)))));
      return { head, field: METRIC.histogram, labels: [labelPairs(constant)], bounds, native: false };
    }
    // Values and vectors: fixed kinds (only exponential histograms are sparse, planned above).
    const labelled = (kindOf(spec) as KindDescription)
      .slots(spec)
      .map(({ label }) => labelPairs(label === undefined ? constant : [...constant, label]));
    return { head, field: spec.kind === 'counter' ? METRIC.counter : METRIC.gauge, labels: labelled, bounds: undefined, native: false };
  });
  return { families, values: [], writer: new ProtoWriter() };
}

/** Where a sparse read would put its slots: unused, every kind read here is fixed. */
const NO_WHICH: number[] = [];

/** A value as the format's `double`: the nearest one (ties to even) above 2^53. */
function double(value: Exact): number {
  return typeof value === 'number' ? value : Number(value);
}

/** A classic histogram's `Histogram` message from its samples (cumulative buckets, sum, count). */
function classic(w: ProtoWriter, values: readonly Exact[], bounds: readonly (Uint8Array | undefined)[]): void {
  const buckets = bounds.length;
  w.uint(HISTOGRAM.sampleCount, values[buckets + 1]!);
  w.double(HISTOGRAM.sampleSum, double(values[buckets]!));
  for (let i = 0; i < buckets; i++) {
    const bound = bounds[i];
    if (bound === undefined) continue;
    const start = w.open();
    w.uint(BUCKET.cumulativeCount, values[i]!);
    w.raw(bound);
    w.close(start, HISTOGRAM.bucket);
  }
}

/**
 * A native histogram's `Histogram` message.
 */
export function writeNative(w: ProtoWriter, native: NativeHistogram): void {
  w.uint(HISTOGRAM.sampleCount, native.count);
  w.double(HISTOGRAM.sampleSum, Number(native.sum));
  w.sint(HISTOGRAM.schema, native.schema);
  w.double(HISTOGRAM.zeroThreshold, 0);
  w.uint(HISTOGRAM.zeroCount, native.zeroCount);
  for (const span of native.spans) {
    const start = w.open();
    w.sint(SPAN.offset, span.offset);
    w.uint(SPAN.length, span.length);
    w.close(start, HISTOGRAM.positiveSpan);
  }
  if (native.deltas.length > 0) {
    const start = w.open();
    for (const delta of native.deltas) w.varint(zigzag(delta));
    w.close(start, HISTOGRAM.positiveDelta);
  }
}

/**
 * One `MetricFamily` (length-delimited) of a native histogram: for readers that hold an
 * exponential histogram's reading.
 * @param head - the family's name, help and type, encoded ({@link familyHead})
 * @param labels - the metric's labels, encoded ({@link labelPairs})
 */
export function writeNativeFamily(w: ProtoWriter, head: Uint8Array, labels: Uint8Array, reading: ExponentialReading): void {
  const family = w.open();
  w.raw(head);
  const metric = w.open();
  w.raw(labels);
  const histogram = w.open();
  writeNative(w, nativeHistogram(reading));
  w.close(histogram, METRIC.histogram);
  w.close(metric, FAMILY.metric);
  w.close(family, -1);
}

/**
 * The encoded name, help and type of a family.
 */
export function familyHead(name: string, help: string, type: keyof typeof TYPE): Uint8Array {
  return encode((w) => {
    w.string(FAMILY.name, name);
    w.string(FAMILY.help, help);
    w.uint(FAMILY.type, TYPE[type]);
  });
}

/**
 * Reads every metric now (each value, element and bucket once) and encodes them.
 * @returns the body: one length-delimited `MetricFamily` per metric of the definition
 */
export function renderProtobuf(metrics: readonly MetricReader[], { families, values, writer: w }: ProtobufPlan): Uint8Array {
  w.length = 0;
  for (let f = 0; f < families.length; f++) {
    const { head, field, labels, bounds, native } = families[f]!;
    // One read of every cell: an exponential histogram's in its exponential form.
    const exponential = native ? (metrics[f]!.read() as HistogramReading).exponential : undefined;
    if (!native) metrics[f]!.samples(values, NO_WHICH);
    const family = w.open();
    w.raw(head);
    for (let i = 0; i < labels.length; i++) {
      const metric = w.open();
      w.raw(labels[i]!);
      const value = w.open();
      if (exponential !== undefined) writeNative(w, nativeHistogram(exponential));
      else if (bounds !== undefined) classic(w, values, bounds);
      else w.double(VALUE, double(values[i]!));
      w.close(value, field);
      w.close(metric, FAMILY.metric);
    }
    w.close(family, -1);
  }
  return w.bytes();
}
