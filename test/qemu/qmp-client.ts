/**
 * A small QMP client for the tests that drive a real QEMU: the greeting, `qmp_capabilities`,
 * commands one at a time in order, and events with QEMU's timestamps. Every line is kept as QEMU
 * sent it (without its `\r\n`), in the order it arrived, so that captured replies can serve as test
 * vectors byte for byte; integers are parsed exactly (json.ts).
 */
import type { Socket } from 'node:net';
import { isObject, parseJson, type Json, type JsonObject } from './json.js';

/** One QMP event as received. */
export interface QmpEvent {
  readonly name: string;
  readonly data: JsonObject;
  /** QEMU's timestamp, in microseconds since the epoch. */
  readonly timestampUs: bigint;
  /** The line exactly as QEMU sent it. */
  readonly text: string;
}

/** One entry of a monitor's log: a command with its reply, or an event, in the order received. */
export type LogEntry = { readonly command: string; readonly sent: string; readonly reply: string } | { readonly event: string };

/** A command's reply: the line sent, the line received, and its `return` value. */
export interface Reply {
  readonly sent: string;
  readonly text: string;
  readonly value: Json;
}

/** A reply of the form `{"error": …}`. */
export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
    readonly text: string,
  ) {
    super(`${command}: ${errorClass}: ${desc}`);
  }
}

interface Pending {
  readonly command: string;
  readonly sent: string;
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

interface Waiter {
  readonly test: (event: QmpEvent) => boolean;
  resolve(event: QmpEvent): void;
  reject(error: Error): void;
}

/** A QMP monitor connection, ready for commands once {@link QmpClient.open} resolves. */
export class QmpClient {
  /** The greeting line. */
  greeting = '';
  /** Every command (with its reply) and event, in the order received. */
  readonly log: LogEntry[] = [];
  /** Every event received. */
  readonly events: QmpEvent[] = [];
  /** Resolves when the connection has closed (QEMU quit or was killed). */
  readonly closed: Promise<void>;
  private isClosed = false;
  private buffer = '';
  private readonly pending: Pending[] = [];
  private readonly waiters = new Set<Waiter>();
  private greeted?: (line: string) => void;

  private constructor(
    private readonly socket: Socket,
    readonly label: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', () => {
      // The close that follows settles everything.
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        const error = new Error(`${label}: the QMP monitor closed`);
        for (const pending of this.pending.splice(0)) pending.reject(error);
        for (const waiter of this.waiters) waiter.reject(error);
        this.waiters.clear();
        resolve();
      });
    });
  }

  /**
   * Reads the greeting and negotiates capabilities (`qmp_capabilities`).
   * @param socket - a connected socket to a QMP monitor
   * @param label - names the monitor in errors
   * @returns the client, in command mode
   */
  static async open(socket: Socket, label: string): Promise<QmpClient> {
    const client = new QmpClient(socket, label);
    client.greeting = await new Promise<string>((resolve, reject) => {
      client.greeted = resolve;
      void client.closed.then(() => reject(new Error(`${label}: the monitor closed before its greeting`)));
    });
    await client.execute('qmp_capabilities');
    return client;
  }

  /** Whether the connection has closed. */
  get isOpen(): boolean {
    return !this.isClosed;
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let end = this.buffer.indexOf('\n'); end >= 0; end = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      if (line !== '') this.line(line);
    }
  }

  private line(text: string): void {
    const value = parseJson(text);
    if (!isObject(value)) throw new Error(`${this.label}: not a QMP message: ${text}`);
    if (this.greeted !== undefined && 'QMP' in value) {
      this.greeted(text);
      this.greeted = undefined;
      return;
    }
    if (typeof value.event === 'string') {
      const stamp = value.timestamp;
      const seconds = isObject(stamp) && typeof stamp.seconds === 'bigint' ? stamp.seconds : 0n;
      const micro = isObject(stamp) && typeof stamp.microseconds === 'bigint' ? stamp.microseconds : 0n;
      const event: QmpEvent = { name: value.event, data: isObject(value.data) ? value.data : {}, timestampUs: seconds * 1_000_000n + micro, text };
      this.events.push(event);
      this.log.push({ event: text });
      for (const waiter of [...this.waiters]) {
        if (waiter.test(event)) {
          this.waiters.delete(waiter);
          waiter.resolve(event);
        }
      }
      return;
    }
    const pending = this.pending.shift();
    if (pending === undefined) throw new Error(`${this.label}: a reply to no command: ${text}`);
    this.log.push({ command: pending.command, sent: pending.sent, reply: text });
    const error = value.error;
    if (isObject(error)) pending.reject(new QmpError(pending.command, String(error.class), String(error.desc), text));
    else pending.resolve({ sent: pending.sent, text, value: value.return ?? null });
  }

  /**
   * Sends a command and waits for its reply.
   * @param command - the command's name
   * @param args - its arguments (bigints are written as JSON integers)
   * @returns the line sent, the reply's text as QEMU sent it, and its `return` value
   * @throws QmpError for an error reply; Error when the monitor closes first
   */
  execute(command: string, args?: Record<string, unknown>): Promise<Reply> {
    if (this.isClosed) return Promise.reject(new Error(`${this.label}: the QMP monitor closed`));
    // A bigint goes out as a marked string, then loses its quotes and marks: an exact JSON integer.
    const sent = JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args }, (_key, v: unknown) =>
      typeof v === 'bigint' ? `\u0000${v}\u0000` : v,
    ).replace(/"\\u0000(-?\d+)\\u0000"/g, '$1');
    return new Promise((resolve, reject) => {
      this.pending.push({ command, sent, resolve, reject });
      this.socket.write(`${sent}\n`);
    });
  }

  /**
   * Waits for an event: the first one already received that matches, else the next one.
   * @param test - which event
   * @param what - names it in the error when the monitor closes first
   * @returns the event
   */
  waitForEvent(test: (event: QmpEvent) => boolean, what: string): Promise<QmpEvent> {
    const seen = this.events.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.isClosed) return Promise.reject(new Error(`${this.label}: the monitor closed before ${what}`));
    return new Promise((resolve, reject) => {
      this.waiters.add({ test, resolve, reject: () => reject(new Error(`${this.label}: the monitor closed before ${what}`)) });
    });
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }
}
