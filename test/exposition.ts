/**
 * A strict reader of the two exposition formats the library writes, for tests: Prometheus' text
 * format 0.0.4 and OpenMetrics 1.0 (counters, gauges and histograms). It checks the syntax of every
 * line (names, label escapes, values), that metadata comes before a family's samples and only once,
 * that each family's samples are together and named as its type requires, that no series is given
 * twice, OpenMetrics' `# UNIT` and `# EOF`, and each histogram: `_bucket` samples with `le` labels
 * in increasing order ending with `+Inf` (canonical numbers in OpenMetrics), cumulative counts, a
 * `_count` equal to the `+Inf` bucket and a `_sum`. It throws at the first rule broken, naming the
 * line or the family.
 */

/** One sample line, read. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The value as written (exact for integers of any size). */
  readonly value: string;
}

/** One metric family, read. */
export interface Family {
  readonly name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'untyped' | undefined;
  help: string | undefined;
  unit: string | undefined;
  readonly samples: Sample[];
}

export type ExpositionFormat = 'prometheus' | 'openmetrics';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;

/** Reads `"…"` label values with the escapes `\\`, `\"` and `\n`, from `text[at]` on. */
function readLabels(text: string, at: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at + 1;
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`line ${line}: bad label name ${JSON.stringify(name)}`);
    if (Object.prototype.hasOwnProperty.call(labels, name)) throw new Error(`line ${line}: label ${name} given twice`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label ${name} has no opening quote`);
    let value = '';
    let j = eq + 2;
    for (;; j++) {
      const c = text[j];
      if (c === undefined) throw new Error(`line ${line}: label ${name} has no closing quote`);
      if (c === '"') break;
      if (c === '\\') {
        const next = text[++j];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`line ${line}: label ${name} has the escape \\${next ?? ''}`);
      } else value += c;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`line ${line}: labels not separated by ","`);
  }
}

/** The suffixes of a histogram's samples. */
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/** The family a sample belongs to, by its name and the families declared so far. */
function familyOf(sample: string, families: Map<string, Family>, format: ExpositionFormat): Family | undefined {
  const exact = families.get(sample);
  if (exact !== undefined && exact.type !== 'histogram' && (format === 'prometheus' || exact.type !== 'counter')) return exact;
  if (format === 'openmetrics' && sample.endsWith('_total')) {
    const family = families.get(sample.slice(0, -'_total'.length));
    if (family?.type === 'counter') return family;
  }
  for (const suffix of HISTOGRAM_SUFFIXES) {
    const family = sample.endsWith(suffix) ? families.get(sample.slice(0, -suffix.length)) : undefined;
    if (family?.type === 'histogram') return family;
  }
  return undefined;
}

/**
 * Whether `le` is written as OpenMetrics' canonical numbers are: as Go prints a float64 with `%g`
 * (fixed point from 1e-4 up to 1e6, else the shortest mantissa and a two-digit exponent), with
 * `.0` where that has neither a point nor an exponent.
 */
export function isCanonicalNumber(le: string): boolean {
  if (le === '+Inf' || le === '-Inf' || le === 'NaN') return true;
  const value = Number(le);
  if (!Number.isFinite(value) || le.trim() !== le) return false;
  const magnitude = Math.abs(value);
  if (value === 0 || (magnitude >= 1e-4 && magnitude < 1e6)) {
    const shortest = String(value);
    return le === (/[.e]/.test(shortest) ? shortest : `${shortest}.0`);
  }
  const match = /^(-?\d(?:\.\d+)?)e([+-])(\d{2,3})$/.exec(le);
  if (match === null) return false;
  const [, mantissa, sign, digits] = match as unknown as [string, string, string, string];
  // The mantissa must be the shortest one that gives the value back, the exponent at least two digits.
  return Number(`${mantissa}e${sign}${digits}`) === value && mantissa === value.toExponential().split('e')[0] && (digits.length === 2 || !digits.startsWith('0'));
}

/** Compares two sample values that are integers (exactly, as bigints) or else floats. */
function compareValues(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;
  return Number(a) - Number(b);
}

/** Checks one histogram family's samples: per series, its buckets, `_count` and `_sum`. */
function checkHistogram(family: Family, format: ExpositionFormat): void {
  const series = new Map<string, { buckets: Sample[]; count?: Sample; sum?: Sample }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let entry = series.get(key);
    if (entry === undefined) series.set(key, (entry = { buckets: [] }));
    const suffix = sample.name.slice(family.name.length);
    if (suffix === '_bucket') {
      if (le === undefined) throw new Error(`histogram ${family.name}: a bucket without le`);
      if (!/^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|\+Inf)$/.test(le)) throw new Error(`histogram ${family.name}: le ${JSON.stringify(le)} is not a number`);
      if (format === 'openmetrics' && !isCanonicalNumber(le)) throw new Error(`histogram ${family.name}: le ${JSON.stringify(le)} is not a canonical number`);
      if (entry.count !== undefined || entry.sum !== undefined) throw new Error(`histogram ${family.name}: a bucket after _sum or _count`);
      entry.buckets.push(sample);
    } else {
      if (le !== undefined) throw new Error(`histogram ${family.name}: ${sample.name} has an le label`);
      const which = suffix === '_count' ? 'count' : 'sum';
      if (entry[which] !== undefined) throw new Error(`histogram ${family.name}: ${sample.name} twice`);
      entry[which] = sample;
    }
  }
  for (const { buckets, count, sum } of series.values()) {
    const last = buckets[buckets.length - 1];
    if (last === undefined || last.labels.le !== '+Inf') throw new Error(`histogram ${family.name}: the last bucket is not le="+Inf"`);
    for (let i = 1; i < buckets.length; i++) {
      const [before, after] = [buckets[i - 1]!, buckets[i]!];
      const [a, b] = [before.labels.le!, after.labels.le!];
      if (a === '+Inf' || (b !== '+Inf' && !(Number(a) < Number(b)))) throw new Error(`histogram ${family.name}: le ${a} is not below le ${b}`);
      if (compareValues(before.value, after.value) > 0) throw new Error(`histogram ${family.name}: the counts are not cumulative (le ${a}: ${before.value}, le ${b}: ${after.value})`);
    }
    if (count === undefined || count.value !== last.value) throw new Error(`histogram ${family.name}: _count ${count?.value} is not the +Inf bucket's ${last.value}`);
    if (sum === undefined) throw new Error(`histogram ${family.name}: no _sum`);
  }
}

/**
 * Reads an exposition, checking every rule above.
 * @returns its families in order
 * @throws Error naming the first line that breaks a rule
 */
export function readExposition(text: string, format: ExpositionFormat): Family[] {
  if (!text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const families = new Map<string, Family>();
  const order: Family[] = [];
  let current: Family | undefined;
  const declare = (name: string, line: number): Family => {
    if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: bad metric name ${JSON.stringify(name)}`);
    let family = families.get(name);
    if (family === undefined) {
      family = { name, type: undefined, help: undefined, unit: undefined, samples: [] };
      families.set(name, family);
      order.push(family);
    } else if (family !== current || family.samples.length > 0) {
      throw new Error(`line ${line}: metadata of ${name} after its samples or apart from its other metadata`);
    }
    current = family;
    return family;
  };
  let eof = false;
  const seen = new Set<string>();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (eof) throw new Error(`line ${line}: text after # EOF`);
    if (format === 'openmetrics' && raw === '# EOF') {
      eof = true;
      return;
    }
    const meta = /^# (HELP|TYPE|UNIT) (\S+)(?: (.*))?$/.exec(raw);
    if (meta !== null) {
      const [, kind, name, rest = ''] = meta as unknown as [string, string, string, string | undefined];
      const family = declare(name, line);
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`);
        const escapes = format === 'openmetrics' ? /\\(?![\\n"])/ : /\\(?![\\n])/;
        if (escapes.test(rest)) throw new Error(`line ${line}: HELP of ${name} has an escape the format does not know`);
        family.help = rest;
      } else if (kind === 'TYPE') {
        if (family.type !== undefined) throw new Error(`line ${line}: second TYPE for ${name}`);
        if (rest !== 'counter' && rest !== 'gauge' && rest !== 'histogram' && rest !== 'untyped') throw new Error(`line ${line}: type ${JSON.stringify(rest)} is not counter, gauge, histogram or untyped`);
        if (format === 'prometheus' && rest === 'counter' && !name.endsWith('_total')) throw new Error(`line ${line}: counter ${name} does not end in _total`);
        if (format === 'openmetrics' && name.endsWith('_total')) throw new Error(`line ${line}: OpenMetrics family ${name} ends in _total`);
        family.type = rest;
      } else {
        if (format !== 'openmetrics') throw new Error(`line ${line}: UNIT is OpenMetrics only`);
        if (family.unit !== undefined) throw new Error(`line ${line}: second UNIT for ${name}`);
        if (!name.endsWith(`_${rest}`)) throw new Error(`line ${line}: unit ${rest} is not the end of the family name ${name}`);
        family.unit = rest;
      }
      return;
    }
    if (raw.startsWith('#')) {
      if (format === 'openmetrics') throw new Error(`line ${line}: OpenMetrics has no comment lines`);
      return;
    }
    if (raw === '') throw new Error(`line ${line}: empty line`);
    const nameEnd = raw.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`line ${line}: not a sample`);
    const name = raw.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: bad sample name ${JSON.stringify(name)}`);
    let labels: Record<string, string> = {};
    let at = nameEnd;
    if (raw[at] === '{') ({ labels, end: at } = readLabels(raw, at, line));
    if (raw[at] !== ' ') throw new Error(`line ${line}: no space before the value`);
    const [value = '', timestamp, ...more] = raw.slice(at + 1).split(' ');
    if (!VALUE.test(value)) throw new Error(`line ${line}: value ${JSON.stringify(value)} is not a number`);
    if (more.length > 0 || (timestamp !== undefined && !/^-?\d+(?:\.\d+)?$/.test(timestamp))) throw new Error(`line ${line}: text after the value`);
    const family = familyOf(name, families, format);
    if (family === undefined || family !== current) throw new Error(`line ${line}: sample ${name} is not in the family declared just before it`);
    if (family.type === undefined) throw new Error(`line ${line}: sample ${name} before the TYPE of its family`);
    if (family.type === 'counter' && (value.startsWith('-') || value === 'NaN')) throw new Error(`line ${line}: counter ${name} is ${value}`);
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(id)) throw new Error(`line ${line}: the series ${name}${JSON.stringify(labels)} was given before`);
    seen.add(id);
    family.samples.push({ name, labels, value });
  });
  if (format === 'openmetrics' && !eof) throw new Error('OpenMetrics text without # EOF');
  for (const family of order) {
    if (family.samples.length === 0) throw new Error(`family ${family.name} has no sample`);
    if (family.type === 'histogram') checkHistogram(family, format);
  }
  return order;
}
