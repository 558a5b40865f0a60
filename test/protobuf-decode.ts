/**
 * A decoder of Prometheus' protobuf exposition format for the tests, written from the protobuf
 * encoding rules and client_model's metrics.proto, independently of the library's encoder: a
 * generic reader of the wire format (every wire type, packed or not, unknown fields kept), then
 * the MetricFamily schema over it. Varints are read as BigInt, so nothing is rounded here.
 */

/** Each field of one message: its number → the raw values, in order (varints as bigints, doubles as numbers, the rest as bytes). */
export type Fields = Map<number, (bigint | number | Uint8Array)[]>;

/** Reads one varint at `at`; returns it and where the next byte is. Fails on more than 10 bytes or a value past 2^64. */
export function readVarint(bytes: Uint8Array, at: number): [bigint, number] {
  let value = 0n;
  for (let shift = 0n; ; shift += 7n) {
    if (at >= bytes.length) throw new Error('varint runs past the end');
    if (shift > 63n) throw new Error('varint longer than 10 bytes');
    const byte = bytes[at++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) break;
  }
  if (value >= 1n << 64n) throw new Error(`varint past 2^64: ${value}`);
  return [value, at];
}

/** The fields of one message. */
export function readFields(bytes: Uint8Array): Fields {
  const fields: Fields = new Map();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    let key: bigint;
    [key, at] = readVarint(bytes, at);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value: bigint | number | Uint8Array;
    if (wire === 0) {
      [value, at] = readVarint(bytes, at);
    } else if (wire === 1) {
      if (at + 8 > bytes.length) throw new Error('double runs past the end');
      value = view.getFloat64(at, true);
      at += 8;
    } else if (wire === 2) {
      let size: bigint;
      [size, at] = readVarint(bytes, at);
      if (at + Number(size) > bytes.length) throw new Error(`field ${field}: ${size} bytes run past the end`);
      value = bytes.subarray(at, at + Number(size));
      at += Number(size);
    } else if (wire === 5) {
      value = view.getFloat32(at, true);
      at += 4;
    } else {
      throw new Error(`field ${field}: wire type ${wire}`);
    }
    if (field === 0) throw new Error('field number 0');
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const text = new TextDecoder('utf-8', { fatal: true });

/** Zigzag decoding (sint32, sint64). */
export function unzigzag(value: bigint): bigint {
  return value & 1n ? -(value >> 1n) - 1n : value >> 1n;
}

function one<T>(fields: Fields, field: number, kind: 'varint' | 'double' | 'bytes'): T | undefined {
  const values = fields.get(field);
  if (values === undefined) return undefined;
  const last = values[values.length - 1]!;
  const ok = kind === 'varint' ? typeof last === 'bigint' : kind === 'double' ? typeof last === 'number' : last instanceof Uint8Array;
  if (!ok) throw new Error(`field ${field} is not a ${kind}`);
  return last as T;
}

/** A repeated varint field, packed or not. */
function varints(fields: Fields, field: number): bigint[] {
  const out: bigint[] = [];
  for (const value of fields.get(field) ?? []) {
    if (typeof value === 'bigint') out.push(value);
    else if (value instanceof Uint8Array) for (let at = 0, v: bigint; at < value.length; out.push(v)) [v, at] = readVarint(value, at);
    else throw new Error(`field ${field} is not a varint`);
  }
  return out;
}

function messages(fields: Fields, field: number): Fields[] {
  return (fields.get(field) ?? []).map((value) => {
    if (!(value instanceof Uint8Array)) throw new Error(`field ${field} is not a message`);
    return readFields(value);
  });
}

export interface DecodedHistogram {
  sampleCount?: bigint;
  sampleSum?: number;
  buckets: { cumulativeCount?: bigint; upperBound?: number }[];
  schema?: bigint;
  zeroThreshold?: number;
  zeroCount?: bigint;
  positiveSpans: { offset: bigint; length: bigint }[];
  positiveDeltas: bigint[];
  negativeSpans: number;
}

export interface DecodedMetric {
  labels: Record<string, string>;
  gauge?: number;
  counter?: number;
  untyped?: number;
  histogram?: DecodedHistogram;
}

export interface DecodedFamily {
  name?: string;
  help?: string;
  type?: bigint;
  metrics: DecodedMetric[];
}

function decodeHistogram(h: Fields): DecodedHistogram {
  return {
    sampleCount: one(h, 1, 'varint'),
    sampleSum: one(h, 2, 'double'),
    buckets: messages(h, 3).map((b) => ({ cumulativeCount: one(b, 1, 'varint'), upperBound: one(b, 2, 'double') })),
    schema: ((v?: bigint) => (v === undefined ? undefined : unzigzag(v)))(one(h, 5, 'varint')),
    zeroThreshold: one(h, 6, 'double'),
    zeroCount: one(h, 7, 'varint'),
    negativeSpans: (h.get(9) ?? []).length + (h.get(10) ?? []).length,
    positiveSpans: messages(h, 12).map((s) => ({ offset: unzigzag(one<bigint>(s, 1, 'varint') ?? 0n), length: one<bigint>(s, 2, 'varint') ?? 0n })),
    positiveDeltas: varints(h, 13).map(unzigzag),
  };
}

/** One message's value field (`Gauge`, `Counter`, `Untyped`: field 1, a double). */
function valueOf(fields: Fields, field: number): number | undefined {
  const [message] = messages(fields, field);
  return message === undefined ? undefined : (one<number>(message, 1, 'double') ?? 0);
}

/** Every MetricFamily of a length-delimited stream. */
export function decodeFamilies(bytes: Uint8Array): DecodedFamily[] {
  const families: DecodedFamily[] = [];
  for (let at = 0; at < bytes.length; ) {
    let size: bigint;
    [size, at] = readVarint(bytes, at);
    if (at + Number(size) > bytes.length) throw new Error('a MetricFamily runs past the end');
    const f = readFields(bytes.subarray(at, at + Number(size)));
    at += Number(size);
    const bytesOf = (field: number) => ((v?: Uint8Array) => (v === undefined ? undefined : text.decode(v)))(one(f, field, 'bytes'));
    families.push({
      name: bytesOf(1),
      help: bytesOf(2),
      type: one(f, 3, 'varint'),
      metrics: messages(f, 4).map((m) => {
        const labels: Record<string, string> = {};
        for (const pair of messages(m, 1)) labels[text.decode(one(pair, 1, 'bytes'))] = text.decode(one(pair, 2, 'bytes'));
        const [histogram] = messages(m, 7);
        return { labels, gauge: valueOf(m, 2), counter: valueOf(m, 3), untyped: valueOf(m, 5), histogram: histogram && decodeHistogram(histogram) };
      }),
    });
  }
  return families;
}

/**
 * A native histogram's bucket counts by Prometheus index, from its spans and deltas: each span's
 * offset is from the end of the previous one (the first: an index), each delta is the difference
 * to the previous bucket's count (added mod 2^64, as counts are unsigned).
 */
export function nativeCounts(h: DecodedHistogram): Map<number, bigint> {
  const counts = new Map<number, bigint>();
  let index = 0;
  let count = 0n;
  let d = 0;
  h.positiveSpans.forEach((span) => {
    index += Number(span.offset);
    for (let i = 0n; i < span.length; i++) {
      if (d >= h.positiveDeltas.length) throw new Error('fewer deltas than the spans hold');
      count = BigInt.asUintN(64, count + h.positiveDeltas[d++]!);
      if (count !== 0n) counts.set(index, count);
      index++;
    }
  });
  if (d !== h.positiveDeltas.length) throw new Error(`${h.positiveDeltas.length} deltas for ${d} buckets`);
  return counts;
}
