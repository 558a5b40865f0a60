/**
 * A QMP client: connects to a QEMU monitor (`-qmp unix:PATH,server=on` or `tcp:HOST:PORT`), reads
 * the greeting, negotiates with `qmp_capabilities`, then runs commands and hands out events, with
 * integers kept exact. Node only (node:net). Its failures are {@link QmpConnectionError}s whose
 * message is one line a command line can print as it is.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { nodeFs, nodeNet, type NodeSocket } from './node-net.js';
import { formatQmp, type QmpValue } from './qmp-json.js';
import { parseQmp, parseQmpAddress, QmpError, QmpReader, type QmpEvent, type QmpObject, type QmpSession } from './qmp-wire.js';

/** Why a QMP connection failed or ended (see {@link QmpConnectionError}). */
export type QmpConnectionFailure = 'missing' | 'refused' | 'denied' | 'unreachable' | 'not-qmp' | 'timeout' | 'closed';

/**
 * A QMP connection that could not be made or that the other end ended. `message` is one line
 * that names the address: print it as it is.
 */
export class QmpConnectionError extends Error {
  /**
   * @param reason - `missing` (no socket file), `refused` (nothing listens), `denied` (no
   *   permission), `unreachable` (another connect error), `not-qmp` (the other end does not speak
   *   QMP), `timeout` (no greeting in time), `closed` (the other end went away)
   * @param message - the line to print
   */
  constructor(
    readonly reason: QmpConnectionFailure,
    message: string,
  ) {
    super(message);
    this.name = 'QmpConnectionError';
  }
}

/** Options of {@link connectQmp}. */
export interface ConnectQmpOptions {
  /** Aborting it stops a connection being made (the promise rejects with the signal's reason) or closes the session made. */
  readonly signal?: AbortSignal;
  /**
   * The longest wait, in milliseconds, from connecting to the end of `qmp_capabilities` (default
   * 10 000). QEMU greets at once, unless another client holds the monitor: QEMU serves one client
   * per `-qmp` socket, and a second one waits, connected but not greeted, until the first leaves.
   */
  readonly timeout?: number;
}

const DEFAULT_TIMEOUT = 10_000;

/** A short, printable sample of what arrived. */
const sample = (text: string): string => JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);

const isObject = (value: QmpValue | undefined): value is QmpObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The key of a reply's id among the pending commands (ids are sent as integers), or undefined. */
const idKey = (id: QmpValue): string | undefined => (typeof id === 'bigint' ? String(id) : undefined);

/** A connect error in words. */
function connectError(address: string, where: { readonly path: string } | { readonly host: string; readonly port: number }, error: Error & { code?: string }): QmpConnectionError {
  const path = 'path' in where ? where.path : undefined;
  switch (error.code) {
    case 'ENOENT':
      return new QmpConnectionError('missing', `no QMP socket at ${path}`);
    case 'ECONNREFUSED':
      return new QmpConnectionError('refused', path === undefined ? `QMP connection to ${address} refused: nothing listens there` : `QMP socket at ${path} refused the connection: nothing listens on it`);
    case 'EACCES':
    case 'EPERM':
      return new QmpConnectionError('denied', `no permission to connect to the QMP socket at ${path ?? address}`);
    case 'ENOTSOCK':
      return new QmpConnectionError('not-qmp', `${path} is not a socket`);
    default:
      return new QmpConnectionError('unreachable', `cannot connect to QMP at ${address}: ${error.code ?? error.message}`);
  }
}

/** `'a directory'` or `'a regular file'` when `path` is one, else undefined (a socket, a link, gone). */
async function notASocket(path: string): Promise<string | undefined> {
  try {
    const stat = await (await nodeFs()).lstat(path);
    return stat.isDirectory() ? 'a directory' : stat.isFile() ? 'a regular file' : undefined;
  } catch {
    return undefined;
  }
}

/** The open session: commands by id, events in arrival order. */
class Session implements QmpSession {
  readonly greeting: QmpObject;
  readonly closed: Promise<Error | undefined>;
  #settle!: (result: Error | undefined) => void;
  #ended: Error | undefined;
  #done = false;
  #nextId = 1n;
  readonly #pending = new Map<string, { resolve: (value: QmpValue) => void; reject: (error: Error) => void; command: string }>();
  readonly #listeners = new Set<(event: QmpEvent) => void>();

  constructor(
    readonly socket: NodeSocket,
    readonly address: string,
    greeting: QmpObject,
  ) {
    this.greeting = greeting;
    this.closed = new Promise((resolve) => (this.#settle = resolve));
  }

  /** Ends the session once: `error` undefined for our own close. */
  end(error: QmpConnectionError | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#ended = error ?? new QmpConnectionError('closed', `the QMP connection to ${this.address} was closed`);
    for (const { reject } of this.#pending.values()) reject(this.#ended);
    this.#pending.clear();
    this.socket.destroy();
    this.#settle(error);
  }

  /** One message from the monitor, after the greeting (`raw`: its text). */
  receive(message: QmpValue, raw: string): void {
    if (!isObject(message)) return this.end(new QmpConnectionError('not-qmp', `${this.address} sent something that is not QMP: ${sample(raw)}`));
    if (typeof message.event === 'string') {
      const timestamp = isObject(message.timestamp) ? message.timestamp : {};
      const integer = (value: QmpValue | undefined): bigint => (typeof value === 'bigint' ? value : 0n);
      const event: QmpEvent = {
        event: message.event,
        ...(isObject(message.data) ? { data: message.data } : {}),
        timestamp: { seconds: integer(timestamp.seconds), microseconds: integer(timestamp.microseconds) },
      };
      // A microtask, as a reply's resolution is: code awaiting a reply sees the events QEMU sent
      // before that reply first, and those after it later.
      queueMicrotask(() => {
        for (const listener of [...this.#listeners]) {
          try {
            listener(event);
          } catch {
            // A listener's failure is its own: the others and the session go on.
          }
        }
      });
      return;
    }
    // A reply: by its id, or (QEMU answers in order) the oldest command when it has none.
    const key = message.id === undefined ? this.#pending.keys().next().value : idKey(message.id);
    const waiter = key === undefined ? undefined : this.#pending.get(key);
    if (waiter === undefined || key === undefined) return;
    this.#pending.delete(key);
    if ('return' in message) waiter.resolve(message.return as QmpValue);
    else if (isObject(message.error)) waiter.reject(new QmpError(String(message.error.class), String(message.error.desc)));
    else waiter.reject(new QmpConnectionError('not-qmp', `${this.address} answered ${waiter.command} with something that is not QMP: ${sample(raw)}`));
  }

  execute(command: string, args?: QmpObject): Promise<QmpValue> {
    if (typeof command !== 'string' || command === '') return Promise.reject(new TypeError(`command must be a non-empty string; received ${describe(command)}`));
    if (args !== undefined && !isObject(args)) return Promise.reject(new TypeError(`args must be an object; received ${describe(args)}`));
    if (this.#done) return Promise.reject(this.#ended);
    const id = this.#nextId++;
    let text: string;
    try {
      text = formatQmp(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }, { type: null });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<QmpValue>((resolve, reject) => {
      this.#pending.set(String(id), { resolve, reject, command });
      this.socket.write(text + '\r\n');
    });
  }

  onEvent(listener: (event: QmpEvent) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError(`listener must be a function; received ${describe(listener)}`);
    const subscription = (event: QmpEvent): void => listener(event);
    this.#listeners.add(subscription);
    return () => this.#listeners.delete(subscription);
  }

  async close(): Promise<void> {
    this.end(undefined);
    await this.closed;
  }
}

/**
 * Connects to a QMP monitor and negotiates capabilities. The wait for the greeting and for
 * `qmp_capabilities`' reply is bounded by `options.timeout`.
 * @param address - `unix:PATH` or `tcp:HOST:PORT`
 * @param options - {@link ConnectQmpOptions}
 * @returns the session, ready for commands
 * @throws TypeError for an address of another form or a bad option; QmpConnectionError when the
 *   socket is missing, refuses, is not QMP, does not greet in time, or closes; the signal's reason when aborted
 */
export async function connectQmp(address: string, options: ConnectQmpOptions = {}): Promise<QmpSession> {
  const where = parseQmpAddress(address, 'address');
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 2 ** 31 - 1) {
    throw new RangeError(`options.timeout must be a number of milliseconds from 1 to 2^31 − 1; received ${describe(timeout)}`);
  }
  const signal = options.signal;
  signal?.throwIfAborted();
  const net = await nodeNet();
  signal?.throwIfAborted();
  const socket = net.connect('path' in where ? { path: where.path } : { host: where.host, port: where.port });
  const reader = new QmpReader();
  const decoder = new TextDecoder();
  let session: Session | undefined;
  let received = '';

  return new Promise<QmpSession>((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return session?.end(error instanceof QmpConnectionError ? error : undefined);
      settled = true;
      cleanup();
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () =>
        fail(
          new QmpConnectionError(
            received === '' ? 'timeout' : 'not-qmp',
            received === ''
              ? `no QMP greeting from ${address} within ${timeout} ms (QEMU serves one client per monitor: is another one connected?)`
              : `${address} is not a QMP monitor: it sent ${sample(received)}`,
          ),
        ),
      timeout,
    );
    const onAbort = (): void => (settled ? void session?.close() : fail(signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => clearTimeout(timer);

    const gone = (detail: string): QmpConnectionError => new QmpConnectionError('closed', `QEMU closed the QMP connection at ${address}${detail}`);
    let refused = false; // a refusal being looked into: its error, not the close, settles it
    socket.on('error', (error) => {
      if (session === undefined) {
        // Linux refuses a connect() to a file or a directory as to a dead socket: say which it is.
        if (error.code !== 'ECONNREFUSED' || !('path' in where)) return fail(connectError(address, where, error));
        refused = true;
        return void notASocket(where.path).then((kind) =>
          fail(kind ? new QmpConnectionError('not-qmp', `${where.path} is ${kind}, not a QMP socket`) : connectError(address, where, error)),
        );
      }
      if (!settled) return fail(gone(` (${error.code ?? error.message})`));
      session.end(gone(` (${error.code ?? error.message})`));
    });
    socket.on('close', () => {
      signal?.removeEventListener('abort', onAbort);
      if (!settled && !refused) {
        // After a greeting, it was QEMU; before, something that never spoke QMP.
        if (session !== undefined) return fail(gone(''));
        const what = received === '' ? 'closed the connection without a QMP greeting' : `is not a QMP monitor: it sent ${sample(received)} and closed`;
        return fail(new QmpConnectionError('not-qmp', `${address} ${what}`));
      }
      session?.end(gone(''));
    });
    socket.on('data', (bytes) => {
      const text = decoder.decode(bytes, { stream: true });
      if (!settled && received.length < 200) received += text;
      let values: string[];
      try {
        values = reader.push(text);
      } catch {
        return fail(new QmpConnectionError('not-qmp', settled ? `${address} sent something that is not QMP: ${sample(text)}` : `${address} is not a QMP monitor: it sent ${sample(received)}`));
      }
      for (const raw of values) {
        let value: QmpValue;
        try {
          value = parseQmp(raw);
        } catch {
          return fail(new QmpConnectionError('not-qmp', `${address} sent something that is not JSON: ${sample(raw)}`));
        }
        if (settled) {
          session?.receive(value, raw);
          continue;
        }
        if (session === undefined) {
          const greeting = isObject(value) ? value.QMP : undefined;
          if (!isObject(greeting) || !isObject(greeting.version) || !Array.isArray(greeting.capabilities)) {
            return fail(new QmpConnectionError('not-qmp', `${address} is not a QMP monitor: it sent ${sample(raw)}`));
          }
          session = new Session(socket, address, greeting);
          socket.write('{"execute": "qmp_capabilities", "id": 0}\r\n');
          continue;
        }
        // The reply to qmp_capabilities. QEMU sends no event before it; another server's would
        // find no listener yet.
        if (isObject(value) && typeof value.event === 'string') continue;
        if (!isObject(value) || (value.id !== undefined && idKey(value.id) !== '0')) {
          return fail(new QmpConnectionError('not-qmp', `${address} is not a QMP monitor: it answered qmp_capabilities with ${sample(raw)}`));
        }
        if (isObject(value.error)) {
          return fail(new QmpConnectionError('not-qmp', `${address} refused qmp_capabilities: ${String(value.error.desc)}`));
        }
        settled = true;
        cleanup();
        resolve(session);
      }
    });
  });
}
