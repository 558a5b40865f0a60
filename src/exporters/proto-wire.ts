/**
 * The protocol buffers wire format, as much of it as Prometheus' `io.prometheus.client.MetricFamily`
 * needs: varints (unsigned and zigzag-signed), 64-bit doubles, length-delimited strings, bytes and
 * nested messages, packed repeated varints. Written here rather than taken from a package: the
 * library has no runtime dependency, it writes one message type and never reads one, and a general
 * protobuf runtime (with its schema compiler or reflection) is many times the size of this file.
 * Field numbers and wire types follow client_model's `metrics.proto` (see protobuf.ts).
 * @packageDocumentation
 */

/** Wire type of a varint field (`uint64`, `sint32`, `sint64`, enums). */
export const VARINT = 0;
/** Wire type of a `double`. */
export const FIXED64 = 1;
/** Wire type of a string, bytes, a nested message or a packed repeated field. */
export const LENGTH_DELIMITED = 2;

const TWO_32 = 2 ** 32;

/** The bytes of a UTF-8 string. */
const utf8 = new TextEncoder();

/**
 * An append-only buffer of protobuf bytes that grows as it is written. A nested message is written
 * in place and then moved up by the size of its length prefix ({@link ProtoWriter.close}).
 */
export class ProtoWriter {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  /** How many bytes are written. */
  length = 0;

  /** Makes room for `more` bytes after the end. */
  private room(more: number): void {
    const needed = this.length + more;
    if (needed <= this.buffer.length) return;
    const bigger = new Uint8Array(Math.max(needed, this.buffer.length * 2));
    bigger.set(this.buffer.subarray(0, this.length));
    this.buffer = bigger;
    this.view = new DataView(bigger.buffer);
  }

  /** A varint: `value` a non-negative safe integer, or a bigint from 0 to 2^64 − 1. */
  varint(value: number | bigint): void {
    this.room(10);
    const out = this.buffer;
    let at = this.length;
    if (typeof value === 'number') {
      // Above 2^31 the bitwise operators would cut the number to 32 bits: divide instead.
      while (value >= 0x80) {
        out[at++] = (value % 0x80) | 0x80;
        value = Math.floor(value / 0x80);
      }
      out[at++] = value;
    } else {
      while (value >= 0x80n) {
        out[at++] = Number(value & 0x7fn) | 0x80;
        value >>= 7n;
      }
      out[at++] = Number(value);
    }
    this.length = at;
  }

  /** A field's key: its number and wire type. */
  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** A `uint64` field, or an enum. */
  uint(field: number, value: number | bigint): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  /** A `sint32` or `sint64` field (zigzag: 0, −1, 1, −2, … as 0, 1, 2, 3, …). */
  sint(field: number, value: number | bigint): void {
    this.tag(field, VARINT);
    this.varint(zigzag(value));
  }

  /** A `double` field: eight bytes, little-endian. */
  double(field: number, value: number): void {
    this.tag(field, FIXED64);
    this.room(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  /** A `string` field, in UTF-8. */
  string(field: number, text: string): void {
    this.tag(field, LENGTH_DELIMITED);
    const bytes = utf8.encode(text);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  /** Bytes as they are (a part encoded before). */
  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Starts a length-delimited part; returns where it starts, for {@link ProtoWriter.close}. */
  open(): number {
    return this.length;
  }

  /**
   * Ends the part started at `start`: puts its key (for `field`; none for −1, as before each
   * message of a delimited stream) and its length before it.
   */
  close(start: number, field: number): void {
    const size = this.length - start;
    const key = field < 0 ? 0 : varintSize(field * 8 + LENGTH_DELIMITED);
    const prefix = key + varintSize(size);
    this.room(prefix);
    this.buffer.copyWithin(start + prefix, start, this.length);
    const end = this.length + prefix;
    this.length = start;
    if (field >= 0) this.tag(field, LENGTH_DELIMITED);
    this.varint(size);
    this.length = end;
  }

  /** A copy of the bytes written. */
  bytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** How many bytes the varint of a non-negative safe integer takes. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Zigzag encoding of a signed 64-bit value (−2^63 to 2^63 − 1), as protobuf's `sint64` writes it. */
export function zigzag(value: number | bigint): number | bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && Math.abs(value) < TWO_32) {
    return value >= 0 ? value * 2 : -value * 2 - 1;
  }
  const big = BigInt(value);
  return big >= 0n ? big * 2n : -big * 2n - 1n;
}

/** Encodes with a fresh writer: for the parts laid out once. */
export function encode(write: (writer: ProtoWriter) => void): Uint8Array {
  const writer = new ProtoWriter();
  write(writer);
  return writer.bytes();
}
