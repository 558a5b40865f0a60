/**
 * QMP on the wire, for both ends: JSON values read from a byte stream with integers kept exact
 * (as bigint, whatever their size), the error a command answers with, and the shapes of replies
 * and events. The text a monitor sends is printed by {@link formatQmp} (qmp-json.ts).
 *
 * QEMU's monitor reads JSON as a stream of values, not lines (`json-streamer.c`): a value may span
 * lines and several may share one. {@link QmpReader} does the same: it tracks nesting and strings
 * and hands out each complete top-level value.
 * @packageDocumentation
 */
import type { QmpValue } from './qmp-json.js';

/** An object member of a QMP value, as the parser makes it. */
export type QmpObject = { readonly [key: string]: QmpValue | undefined };

/** QEMU's time of an event: wall-clock seconds and microseconds (`qemu_clock_get_us`, realtime). */
export interface QmpTimestamp {
  readonly seconds: bigint;
  readonly microseconds: bigint;
}

/** An asynchronous event as a monitor sends it. */
export interface QmpEvent {
  readonly event: string;
  readonly data?: QmpObject;
  readonly timestamp: QmpTimestamp;
}

/** The error classes QEMU's QMP replies carry (`QapiErrorClass`). */
export type QmpErrorClass = 'GenericError' | 'CommandNotFound' | 'DeviceNotActive' | 'DeviceNotFound' | 'KVMMissingCap';

/**
 * A command's failure, as QMP reports it: `{"error": {"class": …, "desc": …}}`. A server's
 * command throws it; a client's `execute` rejects with it.
 */
export class QmpError extends Error {
  /** QEMU's error class, e.g. `GenericError`. */
  readonly errorClass: string;
  /** QEMU's human-readable description. */
  readonly desc: string;
  /**
   * @param errorClass - the class, e.g. `'GenericError'` or `'CommandNotFound'`
   * @param desc - the description, as QEMU words it
   */
  constructor(errorClass: QmpErrorClass | (string & {}), desc: string) {
    super(`${errorClass}: ${desc}`);
    this.name = 'QmpError';
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/** The timestamp QEMU puts on an event made now (`epochMs`: milliseconds since the epoch, may be fractional). */
export function qmpTimestamp(epochMs: number = performance.timeOrigin + performance.now()): QmpTimestamp {
  const us = BigInt(Math.floor(epochMs * 1000));
  return { seconds: us / 1_000_000n, microseconds: us % 1_000_000n };
}

/** Raised by {@link parseQmp} and {@link QmpReader} for text that is not JSON. */
export class QmpSyntaxError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = 'QmpSyntaxError';
  }
}

/** A JSON number token: integers exact as bigint, anything with a fraction or exponent as a double. */
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
/** Deepest nesting accepted, as QEMU's parser (`MAX_NESTING` in json-streamer.c). */
const MAX_NESTING = 1024;
const WHITESPACE = /[ \t\r\n]*/y;

/**
 * Parses one JSON text as QMP carries it: integers become bigints (exact, any size), other numbers
 * doubles, objects plain objects, arrays arrays.
 * @param text - one complete JSON value
 * @returns the value
 * @throws QmpSyntaxError when the text is not exactly one JSON value, or nests deeper than 1024
 */
export function parseQmp(text: string): QmpValue {
  const parser = new Parser(text);
  const value = parser.value(0);
  parser.skip();
  if (parser.at < text.length) parser.fail('text after the value');
  return value;
}

/** A recursive-descent reader of one JSON text (nesting is bounded, so is its depth of calls). */
class Parser {
  at = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new QmpSyntaxError(`QMP: ${what} at offset ${this.at}`);
  }

  skip(): void {
    WHITESPACE.lastIndex = this.at;
    WHITESPACE.exec(this.text);
    this.at = WHITESPACE.lastIndex;
  }

  value(depth: number): QmpValue {
    this.skip();
    const ch = this.text[this.at];
    if (ch === '{' || ch === '[') {
      if (depth >= MAX_NESTING) this.fail(`nesting deeper than ${MAX_NESTING}`);
      return ch === '{' ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (ch === '"') return this.string();
    for (const [word, literal] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return literal;
      }
    }
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (!match) this.fail(ch === undefined ? 'end of text where a value was expected' : `unexpected ${JSON.stringify(ch)}`);
    this.at += match[0].length;
    return match[1] === undefined && match[2] === undefined ? BigInt(match[0]) : Number(match[0]);
  }

  string(): string {
    const start = this.at;
    for (let i = start + 1; i < this.text.length; i++) {
      const ch = this.text[i];
      if (ch === '\\') i++;
      else if (ch === '"') {
        this.at = i + 1;
        try {
          return JSON.parse(this.text.slice(start, i + 1)) as string;
        } catch {
          this.at = start;
          this.fail('bad string');
        }
      }
    }
    return this.fail('unterminated string');
  }

  object(depth: number): QmpValue {
    this.at++;
    const object: Record<string, QmpValue> = {};
    this.skip();
    if (this.text[this.at] === '}') {
      this.at++;
      return object;
    }
    for (;;) {
      this.skip();
      if (this.text[this.at] !== '"') this.fail('expected a member name');
      const key = this.string();
      this.skip();
      if (this.text[this.at] !== ':') this.fail("expected ':'");
      this.at++;
      Object.defineProperty(object, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
      this.skip();
      const ch = this.text[this.at++];
      if (ch === '}') return object;
      if (ch !== ',') {
        this.at--;
        this.fail("expected ',' or '}'");
      }
    }
  }

  array(depth: number): QmpValue {
    this.at++;
    const array: QmpValue[] = [];
    this.skip();
    if (this.text[this.at] === ']') {
      this.at++;
      return array;
    }
    for (;;) {
      array.push(this.value(depth));
      this.skip();
      const ch = this.text[this.at++];
      if (ch === ']') return array;
      if (ch !== ',') {
        this.at--;
        this.fail("expected ',' or ']'");
      }
    }
  }
}

/**
 * Cuts a stream of text into top-level JSON values as they complete, whatever the chunks: a value
 * may arrive in pieces and several may arrive in one chunk. Whitespace between values (QEMU ends
 * each with `\r\n`) is skipped.
 */
export class QmpReader {
  #buffer = '';
  #depth = 0;
  #inString = false;
  #escaped = false;
  #scanned = 0;
  /** Most characters one value may hold before the stream is refused (QEMU's limit is 64 MiB). */
  readonly maxValueChars: number;

  /** @param maxValueChars - the longest value accepted, in characters (default 64 Mi) */
  constructor(maxValueChars = 64 * 1024 * 1024) {
    this.maxValueChars = maxValueChars;
  }

  /**
   * Adds a chunk and returns the text of every value it completed, in order (parse each with
   * {@link parseQmp}).
   * @throws QmpSyntaxError when a value grows past {@link maxValueChars} or a top-level token is not an object or array
   */
  push(chunk: string): string[] {
    this.#buffer += chunk;
    const values: string[] = [];
    let start = 0;
    let i = this.#scanned;
    for (; i < this.#buffer.length; i++) {
      const ch = this.#buffer[i]!;
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (ch === '\\') this.#escaped = true;
        else if (ch === '"') this.#inString = false;
        continue;
      }
      if (this.#depth === 0) {
        if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
          start = i + 1;
          continue;
        }
        if (ch !== '{' && ch !== '[') throw new QmpSyntaxError(`QMP: expected an object, found ${JSON.stringify(ch)}`);
      }
      if (ch === '"') this.#inString = true;
      else if (ch === '{' || ch === '[') this.#depth++;
      else if (ch === '}' || ch === ']') {
        this.#depth--;
        if (this.#depth === 0) {
          values.push(this.#buffer.slice(start, i + 1));
          start = i + 1;
        }
      }
    }
    this.#buffer = this.#buffer.slice(start);
    this.#scanned = this.#buffer.length;
    if (this.#buffer.length > this.maxValueChars) throw new QmpSyntaxError(`QMP: a value longer than ${this.maxValueChars} characters`);
    return values;
  }
}

/**
 * A QMP endpoint's address as `-qmp` and our commands take it: `unix:PATH` or `tcp:HOST:PORT`.
 * @param text - the address
 * @param flag - the option it came from, for the message
 * @returns the path, or the host and port
 * @throws TypeError naming the flag and the forms allowed
 */
export function parseQmpAddress(text: string, flag = 'address'): { readonly path: string } | { readonly host: string; readonly port: number } {
  if (text.startsWith('unix:') && text.length > 5) return { path: text.slice(5) };
  const tcp = /^tcp:(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (tcp) {
    const port = Number(tcp[3]);
    if (port <= 65535) return { host: tcp[1] ?? (tcp[2] || '127.0.0.1'), port };
  }
  throw new TypeError(`${flag} must be unix:PATH or tcp:HOST:PORT (port 0 to 65535); received ${JSON.stringify(text)}`);
}

/**
 * What a QMP server serves: the monitor's side of QEMU, whatever produces it (the simulator's
 * virtual machine, a test double). The server handles the transport, the greeting, capability
 * negotiation (`qmp_capabilities`), `id`s and printing; the backend answers commands and emits
 * events, which every connected monitor receives.
 */
export interface QmpBackend {
  /** The greeting's `version` member (`{"qemu": {"major", "minor", "micro"}, "package"}`). */
  readonly version: QmpObject;
  /**
   * Runs one command (never `qmp_capabilities`, which the server answers itself).
   * @param command - the `execute` member
   * @param args - the `arguments` member, or an empty object
   * @returns the reply's `return` value (`{}` for commands that return nothing)
   * @throws QmpError for a command QEMU would refuse (`CommandNotFound`, `GenericError`, …)
   */
  execute(command: string, args: QmpObject): QmpValue | Promise<QmpValue>;
  /**
   * Subscribes to the backend's events.
   * @returns a function that unsubscribes
   */
  onEvent(listener: (event: QmpEvent) => void): () => void;
}

/**
 * A client's open QMP connection, capabilities negotiated (what `connectQmp` in qmp-client.ts
 * returns).
 */
export interface QmpSession {
  /** The greeting's `QMP` member: `version` and `capabilities`. */
  readonly greeting: QmpObject;
  /**
   * Runs a command and waits for its reply.
   * @returns the reply's `return` value, integers exact
   * @throws QmpError when QEMU answers with an error; Error when the connection ends first
   */
  execute(command: string, args?: QmpObject): Promise<QmpValue>;
  /**
   * Subscribes to events, in the order they arrive (interleaved with replies as QEMU sent them).
   * @returns a function that unsubscribes
   */
  onEvent(listener: (event: QmpEvent) => void): () => void;
  /** Settles when the connection ends: with undefined after {@link close}, with an Error when the other end went away. */
  readonly closed: Promise<Error | undefined>;
  /** Ends the connection. */
  close(): Promise<void>;
}
