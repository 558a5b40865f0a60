/**
 * The JSON a QMP monitor reads, cut and parsed as QEMU 7.2's monitor does (`qobject/json-lexer.c`,
 * `json-streamer.c`, `json-parser.c`), so a server can answer bad input with QEMU's own words.
 *
 * QEMU lexes the byte stream into tokens (strings in double or single quotes, numbers, lower-case
 * keywords, the six punctuation marks), groups tokens until braces and brackets balance (or a
 * closing one has no opening one), and parses each group. A token the lexer cannot read becomes
 * `JSON parse error, stray '…'` (the text it had read, the bad character included), drops the
 * group so far and skips input up to a structural character or a line end; a group that does not
 * parse becomes `JSON parse error, …`. A scalar at the top level is a group of its own, complete
 * once the character after it arrives.
 * @packageDocumentation
 */
import type { QmpValue } from './qmp-json.js';

/** QEMU's `MAX_TOKEN_SIZE`, `MAX_TOKEN_COUNT` and `MAX_NESTING` (json-streamer.c). */
const MAX_TOKEN_SIZE = 64 * 1024 * 1024;
const MAX_TOKEN_COUNT = 2 * 1024 * 1024;
const MAX_NESTING = 1024;

type Token =
  | { readonly kind: '{' | '}' | '[' | ']' | ',' | ':' }
  | { readonly kind: 'string'; readonly raw: string }
  | { readonly kind: 'number'; readonly value: bigint | number }
  | { readonly kind: 'keyword'; readonly text: string };

/** One top-level input: its value, or QEMU's description of why there is none. */
export type QmpInput = { readonly value: QmpValue } | { readonly error: string };

const ESCAPES: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const isDigit = (ch: string): boolean => ch >= '0' && ch <= '9';
const HEX4 = /^[0-9a-fA-F]{4}$/;

/** An integer as QEMU reads it: exact within int64 or uint64, a double beyond (json-parser.c). */
function integer(raw: string): bigint | number {
  const value = BigInt(raw);
  return value < -(2n ** 63n) || value > 2n ** 64n - 1n ? Number(raw) : value;
}

/** A syntax error of a group, in json-parser.c's words. */
class GroupError extends Error {}

/**
 * Cuts a stream of text into QMP inputs as QEMU's monitor does. Feed it chunks as they arrive;
 * it keeps a partial token or group until the rest comes.
 */
export class QmpStream {
  // The token being read: its raw text so far ('' when between tokens).
  #partial = '';
  // For an unfinished string: how far into #partial it was read, and its value so far.
  #resume: number | undefined;
  // After a stray token the lexer skips to a structural character or a control character other
  // than tab (json-lexer.c's recovery), which is read as usual.
  #recovering = false;
  #tokens: Token[] = [];
  #size = 0;
  #braces = 0;
  #brackets = 0;
  #out: QmpInput[] = [];

  /**
   * Adds a chunk and returns every input it completed, in order.
   * @param chunk - text as received (any split)
   */
  push(chunk: string): QmpInput[] {
    this.#out = [];
    let text = this.#partial + chunk;
    this.#partial = '';
    let at = 0;
    const resume = this.#resume;
    this.#resume = undefined;
    while (at < text.length) {
      if (this.#recovering) {
        const ch = text[at]!;
        if (!'{}[],:'.includes(ch) && (ch >= ' ' || ch === '\t')) {
          at++;
          continue;
        }
        this.#recovering = false;
      }
      // An unfinished string goes on from where the last chunk left it (long strings stay linear).
      const read = at === 0 && resume ? this.#string(text, 0, text[0]!, resume) : this.#lex(text, at);
      if (read === undefined) {
        // An unfinished token: keep its text for the next chunk, within QEMU's size limit.
        this.#partial = text.slice(at);
        if (this.#size + this.#partial.length > MAX_TOKEN_SIZE) {
          this.#partial = '';
          this.#resume = undefined;
          this.#fail('JSON token size limit exceeded');
        }
        break;
      }
      at = read;
    }
    text = '';
    return this.#out;
  }

  #fail(error: string): void {
    this.#out.push({ error });
    this.#tokens = [];
    this.#size = 0;
    this.#braces = 0;
    this.#brackets = 0;
  }

  /** Reads one token (or whitespace) at `at`; returns where it ended, undefined if the text ends first. */
  #lex(text: string, at: number): number | undefined {
    const ch = text[at]!;
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') return at + 1;
    if ('{}[],:'.includes(ch)) {
      this.#token({ kind: ch as '{' }, 1);
      return at + 1;
    }
    if (ch === '"' || ch === "'") return this.#string(text, at, ch);
    if (ch === '-' || isDigit(ch)) return this.#number(text, at);
    if (ch >= 'a' && ch <= 'z') {
      let end = at + 1;
      while (end < text.length && text[end]! >= 'a' && text[end]! <= 'z') end++;
      if (end === text.length) return undefined;
      this.#token({ kind: 'keyword', text: text.slice(at, end) }, end - at);
      return end;
    }
    this.#fail(`JSON parse error, stray '${ch}'`);
    this.#recovering = true;
    return at + 1;
  }

  /**
   * A string token from `at` (its quote), read from `from` on. The lexer only finds its end (a
   * backslash takes the next character whatever it is); its escapes are checked when parsed.
   */
  #string(text: string, at: number, quote: string, from = at + 1): number | undefined {
    for (let i = from; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === quote) {
        this.#token({ kind: 'string', raw: text.slice(at + 1, i) }, i + 1 - at);
        return i + 1;
      }
      if (ch < ' ') return this.#stray(text, at, i);
      if (ch === '\\') {
        if (i + 1 === text.length) {
          this.#resume = i - at;
          return undefined;
        }
        if (text[i + 1]! < ' ') return this.#stray(text, at, i + 1);
        i++;
      }
    }
    this.#resume = text.length - at;
    return undefined;
  }

  #number(text: string, at: number): number | undefined {
    // The states of json-lexer.c: after a sign, '0', digits, '.', a fraction digit, 'e', an exponent sign, an exponent digit.
    let state: 'sign' | 'zero' | 'int' | 'dot' | 'frac' | 'e' | 'esign' | 'exp' = text[at] === '-' ? 'sign' : text[at] === '0' ? 'zero' : 'int';
    for (let i = at + 1; ; i++) {
      if (i >= text.length) return undefined;
      const ch = text[i]!;
      const digit = isDigit(ch);
      const done = (): number => {
        const raw = text.slice(at, i);
        this.#token({ kind: 'number', value: state === 'int' || state === 'zero' ? integer(raw) : Number(raw) }, i - at);
        return i;
      };
      switch (state) {
        case 'sign':
          if (!digit) return this.#stray(text, at, i);
          state = ch === '0' ? 'zero' : 'int';
          break;
        case 'zero':
        case 'int':
          if (digit && state === 'zero') return this.#stray(text, at, i);
          if (ch === '.') state = 'dot';
          else if (ch === 'e' || ch === 'E') state = 'e';
          else if (!digit) return done();
          break;
        case 'dot':
          if (!digit) return this.#stray(text, at, i);
          state = 'frac';
          break;
        case 'frac':
          if (ch === 'e' || ch === 'E') state = 'e';
          else if (!digit) return done();
          break;
        case 'e':
          if (ch === '+' || ch === '-') state = 'esign';
          else if (digit) state = 'exp';
          else return this.#stray(text, at, i);
          break;
        case 'esign':
          if (!digit) return this.#stray(text, at, i);
          state = 'exp';
          break;
        case 'exp':
          if (!digit) return done();
          break;
      }
    }
  }

  /** A token the lexer cannot read: its text up to and including the character at `bad`. */
  #stray(text: string, at: number, bad: number): number {
    this.#fail(`JSON parse error, stray '${text.slice(at, bad + 1)}'`);
    this.#recovering = true;
    return bad + 1;
  }

  #token(token: Token, size: number): void {
    this.#tokens.push(token);
    this.#size += size;
    if (token.kind === '{') this.#braces++;
    else if (token.kind === '}') this.#braces--;
    else if (token.kind === '[') this.#brackets++;
    else if (token.kind === ']') this.#brackets--;
    if (this.#braces + this.#brackets > MAX_NESTING) return this.#fail('JSON nesting depth limit exceeded');
    if (this.#size > MAX_TOKEN_SIZE) return this.#fail('JSON token size limit exceeded');
    if (this.#tokens.length > MAX_TOKEN_COUNT) return this.#fail('JSON token count limit exceeded');
    if (this.#braces < 0 || this.#brackets < 0 || (this.#braces === 0 && this.#brackets === 0)) {
      const tokens = this.#tokens;
      this.#tokens = [];
      this.#size = 0;
      this.#braces = 0;
      this.#brackets = 0;
      try {
        this.#out.push({ value: parseGroup(tokens) });
      } catch (error) {
        if (!(error instanceof GroupError)) throw error;
        this.#out.push({ error: `JSON parse error, ${error.message}` });
      }
    }
  }
}

/** Parses one balanced group of tokens as json-parser.c does, with its messages. */
function parseGroup(tokens: readonly Token[]): QmpValue {
  let at = 0;
  const value = (): QmpValue => {
    const token = tokens[at++];
    if (token === undefined) throw new GroupError('premature EOI');
    switch (token.kind) {
      case '{':
        return object();
      case '[':
        return array();
      case 'string':
        return unescape(token.raw);
      case 'number':
        return token.value;
      case 'keyword':
        if (token.text === 'true') return true;
        if (token.text === 'false') return false;
        if (token.text === 'null') return null;
        throw new GroupError(`invalid keyword '${token.text}'`);
      default:
        throw new GroupError('expecting value');
    }
  };
  const object = (): QmpValue => {
    const result: Record<string, QmpValue> = {};
    if (tokens[at]?.kind === '}') {
      at++;
      return result;
    }
    for (;;) {
      const key = value();
      if (typeof key !== 'string') throw new GroupError('key is not a string in object');
      if (tokens[at++]?.kind !== ':') throw new GroupError('missing : in object pair');
      const member = value();
      if (Object.prototype.hasOwnProperty.call(result, key)) throw new GroupError('duplicate key');
      Object.defineProperty(result, key, { value: member, enumerable: true, writable: true, configurable: true });
      const next = tokens[at++]?.kind;
      if (next === '}') return result;
      if (next !== ',') throw new GroupError('expected separator in dict');
    }
  };
  const array = (): QmpValue => {
    const result: QmpValue[] = [];
    if (tokens[at]?.kind === ']') {
      at++;
      return result;
    }
    for (;;) {
      result.push(value());
      const next = tokens[at++]?.kind;
      if (next === ']') return result;
      if (next !== ',') throw new GroupError('expected separator in list');
    }
  };
  return value();
}

/** A string token's text without its quotes, its escapes decoded and checked as json-parser.c does. */
function unescape(raw: string): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  let run = 0;
  const hex4 = (at: number): number | undefined => (HEX4.test(raw.slice(at, at + 4)) ? parseInt(raw.slice(at, at + 4), 16) : undefined);
  // QEMU quotes up to four characters after `\u`, the closing quote counted.
  const invalid = (at: number): GroupError => new GroupError(`\\u${(raw + '"').slice(at, at + 4)} is not a valid Unicode character`);
  for (let i = raw.indexOf('\\'); i !== -1; i = raw.indexOf('\\', run)) {
    out += raw.slice(run, i);
    const escape = raw[i + 1]!;
    if (escape !== 'u') {
      const decoded = ESCAPES[escape];
      if (decoded === undefined) throw new GroupError('invalid escape sequence in string');
      out += decoded;
      run = i + 2;
      continue;
    }
    const unit = hex4(i + 2);
    if (unit === undefined || (unit >= 0xdc00 && unit <= 0xdfff)) throw invalid(i + 2);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      // A high surrogate must be followed by an escaped low one.
      const low = raw.startsWith('\\u', i + 6) ? hex4(i + 8) : undefined;
      if (low === undefined || low < 0xdc00 || low > 0xdfff) throw invalid(i + 2);
      out += String.fromCharCode(unit, low);
      run = i + 12;
      continue;
    }
    out += String.fromCharCode(unit);
    run = i + 6;
  }
  return out + raw.slice(run);
}
