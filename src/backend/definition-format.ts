/**
 * A definition as the memory stores it: the canonical form that `defineStats` makes and
 * `attach` decodes (definition-check.ts checks it), its JSON, its hash in the header, and the cells
 * each metric takes. The backend plans layouts and writes headers from these alone.
 * @packageDocumentation
 */

/** The kinds of metric: a `counter` is added to (laned), a `gauge` is set (one cell), a `histogram` records values. */
export type MetricKind = 'counter' | 'gauge' | 'histogram';

/**
 * Export names a schema gave in `names` (the C name aside): only those given. The exporters derive
 * the others from the metric's C name, unit and kind, so the memory holds no exporter's names.
 */
export interface NameOverrides {
  /** Prometheus family name after the prefix, without `_total`; default: the C name, plus the unit (bytes, seconds) when the name does not have it. */
  readonly prometheus?: string;
  /** OpenTelemetry instrument name after the prefix; default: the C name. */
  readonly otel?: string;
  /** OpenTelemetry unit (UCUM); default: derived from `unit` (`bytes` → `By`, `pages` → `{pages}`). */
  readonly otelUnit?: string;
}

/** A metric as a definition fixes it: every field present, the C name resolved. */
export interface MetricSpec {
  readonly name: string;
  readonly kind: MetricKind;
  readonly unit: string;
  readonly help: string;
  /** 0 for one value; N for a vector of N. Histograms: 0. */
  readonly length: number;
  /** The vector's label ('' for one value). */
  readonly label: string;
  /** Histograms: the number of buckets, counting an exponential one's zero bucket (0 otherwise). */
  readonly buckets: number;
  /** Histograms: log2 of the sub-buckets per power of two (0 otherwise). */
  readonly subBits: number;
  /** The C name (`Stat64.cName`). */
  readonly cName: string;
  /** The export names the schema gave, in this order: prometheus, otel, otelUnit (`{}` for none). */
  readonly names: NameOverrides;
  /**
   * Exponential histograms only (absent otherwise, so that other definitions keep their JSON): the
   * scale. `buckets` is then the zero bucket plus one cell per OpenTelemetry index from −1 up.
   */
  readonly scale?: number;
}

/** The limiter as a definition fixes it. */
export interface RateLimitSpec {
  readonly counters: readonly string[];
  /** The gauge holding the window's start, or '' for a cell of the limiter's own. */
  readonly start: string;
  /** The gauge holding the window's budget, or '' for a cell of the limiter's own. */
  readonly max: string;
}

/** A definition in canonical form, as stored in the memory (plain JSON). */
export interface Definition {
  /** Version of this form: 2 (0.2.0 wrote 1, with every export name resolved; attach reads both). */
  readonly format: 2;
  readonly namespace: string;
  readonly metrics: readonly MetricSpec[];
  readonly rateLimit: RateLimitSpec | null;
}

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/** Cells of a metric: one per value; a histogram's buckets and its sum. */
export const cellCount = (function (metric: MetricSpec): number {
  if (metric.kind === 'histogram') return metric.buckets + 1;
  return metric.length === 0 ? 1 : metric.length;
});

/** The definition as JSON text, for the memory. */
export function encodeDefinition(definition: Definition): string {
  return JSON.stringify(definition);
}

/**
 * The header's check that the definition it points at is whole: FNV-1a's step over the bytes taken
 * four at a time (32-bit words in the platform's order, the last padded with zeros), started from
 * the length. A quarter of byte-wise FNV-1a's steps: it runs once per attach, often in a new worker
 * before V8 has optimised anything, where every step of the loop counts.
 */
export const definitionHash = (function (bytes: Uint8Array): number {
  const padded = new Uint8Array((bytes.length + 3) & ~3);
  padded.set(bytes);
  const words = new Uint32Array(padded.buffer);
  // Kept as a 32-bit signed integer, made unsigned once: `Math.imul` and `^` see the same 32 bits
  // either way. Four words a turn: fewer steps of the loop for the interpreter.
  let hash = Math.imul(0x811c9dc5 ^ bytes.length, 0x01000193);
  const n = words.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    hash = Math.imul(hash ^ words[i]!, 0x01000193);
    hash = Math.imul(hash ^ words[i + 1]!, 0x01000193);
    hash = Math.imul(hash ^ words[i + 2]!, 0x01000193);
    hash = Math.imul(hash ^ words[i + 3]!, 0x01000193);
  }
  for (; i < n; i++) hash = Math.imul(hash ^ words[i]!, 0x01000193);
  return hash >>> 0;
});

/**
 * The hashes of definitions this thread has checked or attached, by their JSON (at most
 * `KNOWN_HASHES`, the oldest dropped first). An attach of a memory that holds one compares the
 * header's hash with the one kept here instead of hashing the bytes again: the text is the whole
 * key, and equal text is equal UTF-8 bytes, so the hash is the same. Hashing the JSON of
 * `MigrationStats` cold, in a new worker after the handle arrived, took ~80 µs of its ~1 ms attach.
 */
const knownHashes = new Map<string, number>();
const KNOWN_HASHES = 64;

/**
 * Keeps the hash of a definition's JSON for {@link knownHash}.
 * @param hash - its hash when the caller has it, else computed here
 */
export function rememberHash(json: string, hash?: number): void {
  if (knownHashes.has(json)) return;
  if (knownHashes.size >= KNOWN_HASHES) knownHashes.delete(knownHashes.keys().next().value!);
  knownHashes.set(json, hash ?? definitionHash(new TextEncoder().encode(json)));
}

/** The hash of `json`'s UTF-8 bytes, when this thread has kept it (see {@link rememberHash}). */
export const knownHash = (function (json: string): number | undefined {
  return knownHashes.get(json);
});
