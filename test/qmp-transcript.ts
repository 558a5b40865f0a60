// A scripted QmpSession that replays a QMP transcript of a real QEMU (test/fixtures/qemu-7.2/):
// each query-migrate takes the next recorded reply and first emits the events QEMU sent before
// it, so the watcher sees events and replies in QEMU's order, whatever its timing. With
// `auto: false` only `advance()` moves the script (the test drives it).
import { readFileSync } from 'node:fs';
import { parseQmp, QmpError, type QmpEvent, type QmpObject, type QmpSession } from '../dist/qemu/qmp-wire.js';
import type { QmpValue } from '../dist/qemu/qmp-json.js';

/** One recorded query-migrate: the events before it and its return, as parsed and as text. */
export interface Step {
  readonly events: readonly QmpEvent[];
  readonly reply: QmpObject;
  readonly text: string;
}

export interface Transcript {
  readonly greeting: QmpObject;
  readonly steps: readonly Step[];
  /** Each other command's first return (human-monitor-command: its last), by name. */
  readonly replies: ReadonlyMap<string, QmpValue>;
  /** Every event, in order. */
  readonly events: readonly QmpEvent[];
}

/** The text of the value under `"return": ` in a reply line, as QEMU wrote it. */
function returnText(line: string): string {
  const start = line.indexOf('"return": ') + '"return": '.length;
  return line.slice(start, -1);
}

export function readTranscript(name: string): Transcript {
  const lines = readFileSync(new URL(`./fixtures/qemu-7.2/${name}.qmp`, import.meta.url), 'utf8').split(/\r?\n/).filter(Boolean);
  const greeting = (parseQmp(lines[0]!) as { QMP: QmpObject }).QMP;
  const steps: Step[] = [];
  const replies = new Map<string, QmpValue>();
  const events: QmpEvent[] = [];
  let pending: QmpEvent[] = [];
  let command = '';
  for (const line of lines.slice(1)) {
    if (line.startsWith('>> ')) {
      command = (JSON.parse(line.slice(3)) as { execute: string }).execute;
      continue;
    }
    const value = parseQmp(line) as QmpObject;
    if (value.event !== undefined) {
      pending.push(value as unknown as QmpEvent);
      events.push(value as unknown as QmpEvent);
    } else if (command === 'query-migrate' && value.return !== undefined) {
      steps.push({ events: pending, reply: value.return as QmpObject, text: returnText(line) });
      pending = [];
    } else if (value.return !== undefined && (!replies.has(command) || command === 'human-monitor-command')) {
      replies.set(command, value.return as QmpValue);
    }
  }
  return { greeting, steps, replies, events };
}

/**
 * The same from a record of the real-QEMU harness (test/fixtures/qemu/<version>/<scenario>.json):
 * the source monitor's log, every command with its reply and every event, as QEMU sent them.
 */
export function readRecord(version: string, scenario: string, side: 'source' | 'destination' = 'source'): Transcript {
  type Side = { greeting: string; log: ({ event: string } | { command: string; reply: string })[] };
  const record = JSON.parse(readFileSync(new URL(`./fixtures/qemu/${version}/${scenario}.json`, import.meta.url), 'utf8')) as Record<typeof side, Side>;
  const greeting = (parseQmp(record[side].greeting) as { QMP: QmpObject }).QMP;
  const steps: Step[] = [];
  const replies = new Map<string, QmpValue>([['query-migrate-capabilities', [{ capability: 'events', state: false }]]]);
  const events: QmpEvent[] = [];
  let pending: QmpEvent[] = [];
  for (const entry of record[side].log) {
    if ('event' in entry) {
      const event = parseQmp(entry.event) as unknown as QmpEvent;
      pending.push(event);
      events.push(event);
      continue;
    }
    const value = parseQmp(entry.reply) as QmpObject;
    if (value.return === undefined) continue;
    if (entry.command === 'query-migrate') {
      steps.push({ events: pending, reply: value.return as QmpObject, text: returnText(entry.reply) });
      pending = [];
    } else if (!replies.has(entry.command) || entry.command === 'human-monitor-command') {
      replies.set(entry.command, value.return as QmpValue);
    }
  }
  return { greeting, steps, replies, events };
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export interface FakeOptions {
  /** Move one step per query-migrate (default true). */
  auto?: boolean;
  /** The step the script starts at (default 0). */
  start?: number;
  /** Whether the events capability starts on (default: as the transcript's capabilities say). */
  events?: boolean;
  /** Close the connection, as a QEMU that quits, when the script reaches this step. */
  closeAt?: number;
  /** Steps to play instead of the transcript's. */
  steps?: readonly Step[];
}

export class FakeSession implements QmpSession {
  readonly greeting: QmpObject;
  readonly closed: Promise<Error | undefined>;
  readonly commands: string[] = [];
  readonly steps: readonly Step[];
  at: number;
  events: boolean;
  #listeners = new Set<(event: QmpEvent) => void>();
  #close!: (error: Error | undefined) => void;
  #isClosed = false;
  #waiters: { name: string; count: number; resolve: () => void }[] = [];

  constructor(readonly transcript: Transcript, readonly options: FakeOptions = {}) {
    this.greeting = transcript.greeting;
    this.steps = options.steps ?? transcript.steps;
    this.at = options.start ?? 0;
    const caps = (transcript.replies.get('query-migrate-capabilities') ?? []) as QmpObject[];
    this.events = options.events ?? caps.some((c) => c.capability === 'events' && c.state === true);
    this.closed = new Promise((resolve) => (this.#close = resolve));
  }

  get current(): Step {
    return this.steps[Math.min(this.at, this.steps.length - 1)]!;
  }

  get running(): boolean {
    const status = this.current.reply.status;
    return typeof status === 'string' && !TERMINAL.has(status);
  }

  /** Moves to the next step: its events (MIGRATION* only with the capability on), then its reply is current. */
  advance(): void {
    if (this.at + 1 >= this.steps.length) return;
    this.at++;
    if (this.options.closeAt !== undefined && this.at >= this.options.closeAt) {
      this.quit();
      return;
    }
    for (const event of this.current.events) {
      if (!this.events && event.event.startsWith('MIGRATION')) continue;
      for (const listener of this.#listeners) listener(event);
    }
  }

  /** The other end goes away. */
  quit(): void {
    this.#isClosed = true;
    this.#close(new Error('the connection was reset'));
  }

  /** Resolves once `count` commands named `name` have been sent. */
  waitFor(name: string, count = 1): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push({ name, count, resolve });
      this.#check();
    });
  }

  #check(): void {
    for (const waiter of this.#waiters.splice(0)) {
      if (this.commands.filter((c) => c === waiter.name).length >= waiter.count) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  }

  async execute(command: string, args?: QmpObject): Promise<QmpValue> {
    if (this.#isClosed) throw new Error('the connection is closed');
    this.commands.push(command);
    this.#check();
    await Promise.resolve();
    switch (command) {
      case 'query-migrate':
        if (this.options.auto !== false) this.advance();
        if (this.#isClosed) throw new Error('the connection was reset');
        return this.current.reply;
      case 'query-migrate-capabilities': {
        const caps = this.transcript.replies.get(command) as QmpObject[];
        return caps.map((c) => (c.capability === 'events' ? { ...c, state: this.events } : c));
      }
      case 'migrate-set-capabilities': {
        if (this.running) throw new QmpError('GenericError', "There's a migration process in progress");
        const list = (args?.capabilities ?? []) as QmpObject[];
        for (const c of list) if (c.capability === 'events') this.events = c.state === true;
        return {};
      }
      default: {
        const reply = this.transcript.replies.get(command);
        if (reply === undefined) throw new QmpError('CommandNotFound', `The command ${command} has not been found`);
        return reply;
      }
    }
  }

  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#isClosed = true;
    this.#close(undefined);
  }
}
