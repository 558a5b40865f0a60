/**
 * Content negotiation for the `/metrics` handler: which of its three formats (the Prometheus text
 * format, OpenMetrics, Prometheus' protobuf format) a request's `Accept` header asks for, after
 * RFC 9110 (section 12.5.1, proactive negotiation).
 *
 * - The header is a comma-separated list of media ranges (`type/subtype`, `type/*` or `*\/*`), each
 *   with parameters after `;`. Types, subtypes and parameter names are case-insensitive; a parameter
 *   value is a token or a quoted string (which may hold `,` and `;`).
 * - `q` (0 to 1, at most three decimals) weighs a range; it defaults to 1, and `q=0` refuses what the
 *   range matches. Parameters after `q` are extensions and do not take part in matching.
 * - An element that does not parse (no `/`, a bad token, a malformed or repeated `q`) is left out.
 * - Each format takes the q of the most specific range that matches it: `type/subtype` with more of
 *   its parameters, then `type/subtype`, then `type/*`, then `*\/*`. Of the parameters, `version` must
 *   equal the format's (`1.0.0` for OpenMetrics, `0.0.4` for the text format) and `charset` must be
 *   `utf-8`; other parameters (such as Prometheus' `escaping`) do not change what matches, since
 *   every name the library writes is valid in either scheme.
 * - The protobuf format is matched only by its own type with both the parameters that name the
 *   message and its framing, as Prometheus sends them
 *   (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited`):
 *   never by a wildcard, which a scraper of the text formats sends.
 * - The format with the higher q wins, then the one matched more specifically. When formats are
 *   named by their own type at the same q, protobuf wins, then OpenMetrics; when only wildcards
 *   tie, the text format.
 * - A format with q 0, or that no range matches, is not acceptable; when none is, the answer is
 *   406 Not Acceptable.
 * - No header, an empty one, or one where no element parses: the Prometheus text format, as if the
 *   request had sent `Accept: *\/*`.
 * @packageDocumentation
 */

/** The text formats, which `prometheusText` writes too. */
export type ExpositionFormat = 'prometheus' | 'openmetrics';
/** What the handler can answer: a text format, or Prometheus' protobuf format. */
export type NegotiatedFormat = ExpositionFormat | 'protobuf';

/** One media range of an `Accept` header, its names in lower case. */
interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  /** Parameters before `q`, names in lower case, values unquoted. */
  readonly params: ReadonlyMap<string, string>;
  /** The weight, 0 to 1. */
  readonly q: number;
}

/** What an offer requires of a range's parameters: each named one must have this value. */
type RequiredParams = Readonly<Record<string, string>>;

/** The formats as media types, in the order a tie between named types resolves. */
const OFFERS: readonly { readonly format: NegotiatedFormat; readonly type: string; readonly subtype: string; readonly version?: string; readonly requires?: RequiredParams }[] = [
  {
    format: 'protobuf',
    type: 'application',
    subtype: 'vnd.google.protobuf',
    requires: { proto: 'io.prometheus.client.MetricFamily', encoding: 'delimited' },
  },
  { format: 'openmetrics', type: 'application', subtype: 'openmetrics-text', version: '1.0.0' },
  { format: 'prometheus', type: 'text', subtype: 'plain', version: '0.0.4' },
];

/** RFC 9110's `token`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110's `qvalue`. */
const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/** Splits `text` at each `separator` outside a quoted string (where `\` escapes the next character). */
function split(text: string, separator: ',' | ';'): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** A parameter value: a token as it is, or a quoted string without its quotes and escapes. */
function parameterValue(text: string): string | undefined {
  if (TOKEN.test(text)) return text;
  if (text.length < 2 || !text.startsWith('"') || !text.endsWith('"')) return undefined;
  let value = '';
  for (let i = 1; i < text.length - 1; i++) {
    let c = text[i]!;
    if (c === '\\') {
      if (i + 1 >= text.length - 1) return undefined;
      c = text[++i]!;
    } else if (c === '"') {
      return undefined;
    }
    value += c;
  }
  return value;
}

/** Parses one element of the list, or `undefined` when it is not a media range. */
function mediaRange(element: string): MediaRange | undefined {
  const [range = '', ...parameters] = split(element, ';');
  const slash = range.indexOf('/');
  const type = range.slice(0, slash).trim().toLowerCase();
  const subtype = range.slice(slash + 1).trim().toLowerCase();
  if (slash < 0 || !TOKEN.test(type) || !TOKEN.test(subtype) || (type === '*' && subtype !== '*')) return undefined;
  const params = new Map<string, string>();
  let q: number | undefined;
  for (const parameter of parameters) {
    const text = parameter.trim();
    if (text === '') continue;
    const eq = text.indexOf('=');
    const name = text.slice(0, eq).trim().toLowerCase();
    const value = eq < 0 ? undefined : parameterValue(text.slice(eq + 1).trim());
    if (eq < 0 || !TOKEN.test(name) || value === undefined) return undefined;
    if (name === 'q') {
      if (q !== undefined || !QVALUE.test(value)) return undefined;
      q = Number(value);
    } else if (q === undefined) {
      params.set(name, value);
    }
  }
  return { type, subtype, params, q: q ?? 1 };
}

/** How specifically `range` matches `offer`: −1 not at all, 0 `*\/*`, 1 `type/*`, 2 and more `type/subtype`. */
function specificity(range: MediaRange, offer: (typeof OFFERS)[number]): number {
  if (offer.requires !== undefined) {
    // Named only by its type with both its parameters: a wildcard or a bare type may mean another message.
    if (range.type !== offer.type || range.subtype !== offer.subtype) return -1;
    return Object.entries(offer.requires).every(([name, value]) => range.params.get(name) === value) ? 2 + Object.keys(offer.requires).length : -1;
  }
  const version = range.params.get('version');
  const charset = range.params.get('charset');
  if (version !== undefined && version !== offer.version) return -1;
  if (charset !== undefined && charset.toLowerCase() !== 'utf-8') return -1;
  if (range.type === '*') return 0;
  if (range.type !== offer.type) return -1;
  if (range.subtype === '*') return 1;
  if (range.subtype !== offer.subtype) return -1;
  return 2 + (version === undefined ? 0 : 1) + (charset === undefined ? 0 : 1);
}

/**
 * The format a request's `Accept` header asks for (see the rules above).
 * @param accept - the header as Node gives it: a string, several lines as an array, or `undefined`
 * @returns the format to answer, or `undefined` when the header refuses every one (406 Not Acceptable)
 */
export function negotiateFormat(accept: string | readonly string[] | undefined): NegotiatedFormat | undefined {
  const header = typeof accept === 'string' ? accept : Array.isArray(accept) ? accept.filter((line) => typeof line === 'string').join(',') : '';
  const ranges = split(header, ',').flatMap((element) => mediaRange(element) ?? []);
  if (ranges.length === 0) return 'prometheus';
  let chosen: { format: NegotiatedFormat; q: number; specificity: number } | undefined;
  for (const offer of OFFERS) {
    let best = -1;
    let q = 0;
    for (const range of ranges) {
      const s = specificity(range, offer);
      if (s >= 0 && (s > best || (s === best && range.q > q))) [best, q] = [s, range.q];
    }
    if (q === 0) continue;
    // Offers come in the order that wins a tie between named types; a tie between wildcards goes to the text format, the last.
    const wins =
      chosen === undefined || q > chosen.q || (q === chosen.q && (best > chosen.specificity || (best === chosen.specificity && best < 2)));
    if (wins) chosen = { format: offer.format, q, specificity: best };
  }
  return chosen?.format;
}
