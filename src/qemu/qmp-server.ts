/**
 * A QMP monitor over a Unix or TCP socket, as QEMU 7.2's `-qmp …,server=on` behaves on the wire:
 * the greeting, capability negotiation, `id`s, QEMU's error replies for bad input, events to every
 * negotiated connection, each message followed by `\r\n`. What the commands do is a
 * {@link QmpBackend}'s business. Node only (node:net).
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { nodeFs, nodeNet, type NodeFs, type NodeNet, type NodeSocket } from './node-net.js';
import { formatQmp, type QmpValue } from './qmp-json.js';
import { QmpStream } from './qmp-stream.js';
import { parseQmpAddress, QmpError, type QmpBackend, type QmpEvent, type QmpObject } from './qmp-wire.js';
import { qdictOrder } from './qdict.js';

/** Options of {@link serveQmp}. */
export interface ServeQmpOptions {
  /**
   * Told of every error a backend command threw that was not a {@link QmpError} (the client only
   * gets a GenericError saying the command failed), and of a reply that could not be printed.
   */
  readonly onError?: (error: unknown, command: string) => void;
}

/** A running QMP server. */
export interface QmpServerHandle {
  /** Where it listens: `unix:PATH`, or `tcp:HOST:PORT` with the port it got (for port 0). */
  readonly address: string;
  /** Stops listening, ends every connection and removes the socket file it made. */
  close(): Promise<void>;
}

/** How many commands a connection may have waiting before reading pauses (QEMU's `QMP_REQ_QUEUE_LEN_MAX`). */
const QUEUE_MAX = 8;

const NEGOTIATE_FIRST = "Expecting capabilities negotiation with 'qmp_capabilities'";
const ALREADY_NEGOTIATED = 'Capabilities negotiation is already complete, command ignored';

/** What a client is told when a command failed for a reason of the server's own (never its details). */
const failed = (command: string): QmpError => new QmpError('GenericError', `The command ${command} has failed`);

const isObject = (value: QmpValue | undefined): value is QmpObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A command, checked as QEMU's `qmp_dispatch_check_obj` does, or the error it answers with. */
type Request = { readonly id?: QmpValue; readonly command: string; readonly oob: boolean; readonly args: QmpObject } | { readonly id?: QmpValue; readonly error: QmpError };

function checkRequest(input: QmpObject, oobEnabled: boolean): Request {
  const id = Object.prototype.hasOwnProperty.call(input, 'id') ? input.id : undefined;
  const withId = <T extends object>(request: T): T & { id?: QmpValue } => (id === undefined ? request : { ...request, id });
  const generic = (desc: string): Request => withId({ error: new QmpError('GenericError', desc) });
  // QEMU walks the members in its hash table's order, so the first problem it meets is reported.
  for (const key of qdictOrder(Object.keys(input))) {
    const value = input[key];
    if (key === 'execute' || (key === 'exec-oob' && oobEnabled)) {
      if (typeof value !== 'string') return generic(`QMP input member '${key}' must be a string`);
    } else if (key === 'arguments') {
      if (!isObject(value)) return generic("QMP input member 'arguments' must be an object");
    } else if (key !== 'id') {
      return generic(`QMP input member '${key}' is unexpected`);
    }
  }
  const execute = input.execute as string | undefined;
  const execOob = input['exec-oob'] as string | undefined;
  if (execute === undefined && execOob === undefined) return generic("QMP input lacks member 'execute'");
  if (execute !== undefined && execOob !== undefined) return generic("QMP input member 'execute' clashes with 'exec-oob'");
  return withId({ command: (execute ?? execOob)!, oob: execOob !== undefined, args: (input.arguments as QmpObject | undefined) ?? {} });
}

/** `qmp_capabilities`' arguments as its marshaller checks them; returns whether `oob` is enabled. */
function capabilities(args: QmpObject): boolean {
  for (const key of Object.keys(args)) if (key !== 'enable') throw new QmpError('GenericError', `Parameter '${key}' is unexpected`);
  const enable = args.enable;
  if (enable === undefined) return false;
  if (!Array.isArray(enable)) throw new QmpError('GenericError', "Invalid parameter type for 'enable', expected: array");
  for (const [i, item] of (enable as readonly QmpValue[]).entries()) {
    if (typeof item !== 'string') throw new QmpError('GenericError', `Invalid parameter type for 'enable[${i}]', expected: string`);
    if (item !== 'oob') throw new QmpError('GenericError', `Parameter 'null' does not accept value '${item}'`);
  }
  return enable.length > 0;
}

/** One client's monitor: its negotiation state and the commands it is waiting for. */
class Connection {
  negotiated = false;
  oob = false;
  #queue: Array<{ readonly error: string } | { readonly request: QmpObject }> = [];
  #running = false;
  #stream = new QmpStream();
  #decoder = new TextDecoder();

  constructor(
    readonly socket: NodeSocket,
    readonly backend: QmpBackend,
    readonly options: ServeQmpOptions,
  ) {
    socket.on('data', (bytes) => {
      try {
        this.#read(this.#decoder.decode(bytes, { stream: true }));
      } catch (error) {
        // Not expected (bad input is answered): end this connection, not the server.
        this.options.onError?.(error, '');
        socket.destroy();
      }
    });
    // A client that goes away mid-command is not an error of the server's.
    socket.on('error', () => {});
    socket.on('close', () => (this.#queue = []));
  }

  send(text: string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(text + '\r\n');
  }

  #reply(id: QmpValue | undefined, reply: { return: QmpValue } | { error: QmpError }, command: string): void {
    const message = (body: Record<string, QmpValue>): string => formatQmp(id === undefined ? body : { ...body, id }, { type: null });
    const error = (e: QmpError): Record<string, QmpValue> => ({ error: { class: e.errorClass, desc: e.desc } });
    let text: string;
    try {
      text = message('error' in reply ? error(reply.error) : { return: reply.return });
    } catch (cause) {
      // A value QMP cannot carry (the backend's fault): the client learns only that the command failed.
      this.options.onError?.(cause, command);
      text = message(error(failed(command)));
    }
    this.send(text);
  }

  #read(text: string): void {
    for (const input of this.#stream.push(text)) {
      if ('error' in input) this.#queue.push({ error: input.error });
      else if (!isObject(input.value)) this.#queue.push({ error: 'QMP input must be a JSON object' });
      else this.#queue.push({ request: input.value });
    }
    if (this.#queue.length >= QUEUE_MAX) this.socket.pause();
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        if (this.#queue.length < QUEUE_MAX && !this.socket.destroyed) this.socket.resume();
        if ('error' in next) this.#reply(undefined, { error: new QmpError('GenericError', next.error) }, '');
        else await this.#handle(next.request);
      }
    } catch (error) {
      // Not expected (every command's failure is a reply): end this connection, not the server.
      this.options.onError?.(error, '');
      this.socket.destroy();
    } finally {
      this.#running = false;
    }
  }

  async #handle(input: QmpObject): Promise<void> {
    const request = checkRequest(input, this.oob);
    if ('error' in request) return this.#reply(request.id, { error: request.error }, '');
    const { id, command, args } = request;
    try {
      if (command === 'qmp_capabilities') {
        const oob = capabilities(args);
        if (this.negotiated) throw new QmpError('CommandNotFound', ALREADY_NEGOTIATED);
        this.negotiated = true;
        this.oob = oob;
        return this.#reply(id, { return: {} }, command);
      }
      if (!this.negotiated) throw new QmpError('CommandNotFound', NEGOTIATE_FIRST);
      if (request.oob) throw new QmpError('GenericError', `The command ${command} does not support OOB`);
      const result = await this.backend.execute(command, args);
      if (this.socket.destroyed) return;
      this.#reply(id, { return: result === undefined ? {} : result }, command);
    } catch (error) {
      if (this.socket.destroyed) return;
      if (error instanceof QmpError) return this.#reply(id, { error }, command);
      this.options.onError?.(error, command);
      this.#reply(id, { error: failed(command) }, command);
    }
  }
}

/** Removes a socket file nobody listens on; refuses a live socket or a file of another kind. */
async function clearStaleSocket(net: NodeNet, fs: NodeFs, path: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`cannot serve QMP at unix:${path}: the path exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`cannot serve QMP at unix:${path}: another process is listening there`);
  await fs.rm(path, { force: true });
}

/**
 * Serves QMP at an address, answering commands with a backend. Each connection gets the greeting
 * at once and must send `qmp_capabilities` first; the backend's events go to every connection
 * that has. Commands of one connection run one at a time, their replies in order.
 *
 * A socket file left at the path by a server that is gone is replaced (QEMU removes whatever is
 * there; this refuses a path where a server still listens, or that is not a socket).
 * @param address - `unix:PATH` or `tcp:HOST:PORT` (port 0: any free port, named by the handle's `address`)
 * @param backend - what answers the commands and emits the events
 * @param options - {@link ServeQmpOptions}
 * @returns the running server, once it listens
 * @throws TypeError for an address of another form; Error when the address cannot be listened on
 */
export async function serveQmp(address: string, backend: QmpBackend, options: ServeQmpOptions = {}): Promise<QmpServerHandle> {
  const where = parseQmpAddress(address, 'address');
  if (typeof backend !== 'object' || backend === null || typeof backend.execute !== 'function' || typeof backend.onEvent !== 'function') {
    throw new TypeError(`backend must be a QmpBackend (version, execute, onEvent); received ${describe(backend)}`);
  }
  let greeting: string;
  try {
    greeting = formatQmp({ QMP: { version: backend.version, capabilities: ['oob'] } }, { type: null });
  } catch (error) {
    throw new TypeError(`backend.version must be a QMP object such as {qemu: {major, minor, micro}, package}; ${(error as Error).message}`);
  }
  const [net, fs] = await Promise.all([nodeNet(), nodeFs()]);
  if ('path' in where) await clearStaleSocket(net, fs, where.path);
  const connections = new Set<Connection>();
  const server = net.createServer((socket) => {
    const connection = new Connection(socket, backend, options);
    connections.add(connection);
    socket.on('close', () => connections.delete(connection));
    connection.send(greeting);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`cannot serve QMP at ${address}: ${error.code ?? error.message}`)));
    if ('path' in where) server.listen(where.path, resolve);
    else server.listen(where.port, where.host, resolve);
  });
  server.on('error', () => {});
  const unsubscribe = backend.onEvent((event: QmpEvent) => {
    const message: Record<string, QmpValue> = { event: event.event, timestamp: { seconds: event.timestamp.seconds, microseconds: event.timestamp.microseconds } };
    if (event.data !== undefined) message.data = event.data;
    let text: string;
    try {
      text = formatQmp(message, { type: null });
    } catch (error) {
      options.onError?.(error, `event ${event.event}`);
      return;
    }
    for (const connection of connections) if (connection.negotiated) connection.send(text);
  });
  const bound = server.address();
  const actual =
    'path' in where || bound === null || typeof bound === 'string'
      ? address
      : `tcp:${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  let closing: Promise<void> | undefined;
  return {
    address: actual,
    close() {
      closing ??= new Promise<void>((resolve) => {
        unsubscribe();
        server.close(() => {
          if ('path' in where) void fs.rm(where.path, { force: true }).then(resolve, resolve);
          else resolve();
        });
        for (const connection of connections) connection.socket.destroy();
      });
      return closing;
    },
  };
}
