/**
 * The destination's QMP monitor of a simulated migration, as far as QEMU's destination answers a
 * migration tool: `query-migrate` gives the listening `socket-address` (and no status) before the
 * source connects, then the status alone (`setup`, `active`, `postcopy-active`, `completed`;
 * `failed` when the source cancelled); `query-status` is `inmigrate` until the guest runs here
 * (`RESUME`: after `postcopy-active`, or before `completed`).
 * Source and destination are one process in the simulator, so this follows the source's machine.
 * @packageDocumentation
 */
import { infoMigrate } from '../qemu/hmp.js';
import type { QmpValue } from '../qemu/qmp-json.js';
import { parseQmpAddress, QmpError, qmpTimestamp, type QmpBackend, type QmpEvent, type QmpObject } from '../qemu/qmp-wire.js';
import type { MigrationInfo } from '../qemu/query-migrate.js';
import { array, bool, generic, object, oneOf, onlyMembers, required, str } from './qmp-args.js';
import { CAPABILITIES, MIGRATION_PARAMETER_NAMES, SIMULATED_QEMU_VERSION } from './qmp-backend.js';
import type { SimulatedVm } from './vm.js';

/** Answers the destination's QMP commands for a simulated migration. */
export class DestinationQmpBackend implements QmpBackend {
  readonly version: QmpObject = SIMULATED_QEMU_VERSION;
  /** Settles after `quit` was answered. */
  readonly quit: Promise<void>;
  #quit!: () => void;
  #socket: QmpObject | undefined;
  readonly #listeners = new Set<(event: QmpEvent) => void>();
  #events = false;
  #running = false;
  #last = '';

  /**
   * @param vm - the source's machine, whose migration this destination receives
   * @param incoming - where the destination listens, as QEMU's `-incoming`: `tcp:HOST:PORT` or
   *   `unix:PATH`; without it, as `-incoming defer`, a client's `migrate-incoming` says where
   * @throws TypeError for another form of address
   */
  constructor(
    readonly vm: SimulatedVm,
    incoming?: string,
  ) {
    if (incoming !== undefined) this.#socket = socketAddress(parseQmpAddress(incoming, 'incoming'));
    this.quit = new Promise((resolve) => (this.#quit = resolve));
    vm.onStatus(() => this.#follow());
  }

  /** The destination's status, from the source's. */
  #status(): string | undefined {
    switch (this.vm.status) {
      case 'none':
        return undefined;
      case 'setup':
      case 'postcopy-active':
      case 'completed':
        return this.vm.status;
      case 'cancelled':
      case 'failed':
        return 'failed';
      default:
        return 'active';
    }
  }

  /** Sends the destination's own events as the source's migration moves on. */
  #follow(): void {
    const status = this.#status();
    if (status === undefined || status === this.#last) return;
    this.#last = status;
    // QEMU's destination: the guest runs (RESUME) after postcopy-active, or before completed.
    const resume = !this.#running && (status === 'postcopy-active' || status === 'completed');
    if (resume && status === 'completed') this.#resume();
    if (this.#events) this.#send('MIGRATION', { status });
    if (resume && status === 'postcopy-active') this.#resume();
  }

  #resume(): void {
    this.#running = true;
    this.#send('RESUME');
  }

  #send(event: string, data?: QmpObject): void {
    const message: QmpEvent = data === undefined ? { event, timestamp: qmpTimestamp() } : { event, data, timestamp: qmpTimestamp() };
    for (const listener of [...this.#listeners]) listener(message);
  }

  /**
   * Subscribes to the monitor's events (`SHUTDOWN` and the machine's).
   * @param listener - called with each event, in order
   * @returns a function that unsubscribes
   */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * Runs one command.
   * @param command - the `execute` member
   * @param args - the `arguments` member, or an empty object
   * @returns the reply's `return` value
   * @throws QmpError: `CommandNotFound` for a command the simulated destination does not have, `GenericError` for bad arguments
   */
  execute(command: string, args: QmpObject): QmpValue {
    const none = (): void => onlyMembers(args, []);
    switch (command) {
      case 'query-migrate': {
        none();
        const status = this.#status();
        if (status !== undefined) return { status };
        return this.#socket ? { 'socket-address': [this.#socket] } : {};
      }
      case 'migrate-incoming': {
        onlyMembers(args, ['uri', 'channels', 'exit-on-error']);
        const uri = str(required(args, 'uri'), 'uri');
        if (this.#socket) throw generic('The incoming migration has already been started');
        let address;
        try {
          address = parseQmpAddress(uri, 'uri');
        } catch {
          throw generic("Parameter 'uri' expects a valid migration protocol");
        }
        // Nothing listens: port 0 gets a port of the dynamic range, named in query-migrate.
        this.#socket = socketAddress('port' in address && address.port === 0 ? { ...address, port: FAKE_PORT } : address);
        return {};
      }
      case 'migrate-set-parameters':
        // Kept by nobody: the destination's parameters change nothing in the simulation.
        onlyMembers(args, MIGRATION_PARAMETER_NAMES);
        return {};
      case 'query-status':
        none();
        return { running: this.#running, status: this.#running ? 'running' : 'inmigrate' };
      case 'query-version':
        none();
        return SIMULATED_QEMU_VERSION;
      case 'migrate-set-capabilities':
        this.#setCapabilities(args);
        return {};
      case 'human-monitor-command': {
        onlyMembers(args, ['command-line', 'cpu-index']);
        const line = str(required(args, 'command-line'), 'command-line').trim();
        if (/^info\s+migrate$/.test(line)) return infoMigrate(this.execute('query-migrate', {}) as MigrationInfo, { lineEnd: '\r\n' });
        if (/^info\s+status$/.test(line)) return `VM status: ${this.#running ? 'running' : 'paused (inmigrate)'}\r\n`;
        return `unknown command: '${line}'\r\n`;
      }
      case 'quit':
        none();
        this.#send('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
        setTimeout(this.#quit, 0);
        return {};
      default:
        throw new QmpError('CommandNotFound', `The command ${command} has not been found`);
    }
  }

  /** Only `events` matters here (the destination's migration events). */
  #setCapabilities(args: QmpObject): void {
    onlyMembers(args, ['capabilities']);
    const list = array(required(args, 'capabilities'), 'capabilities');
    for (const [i, item] of list.entries()) {
      const entry = object(item, `capabilities[${i}]`);
      const name = oneOf(required(entry, 'capability'), 'capability', CAPABILITIES);
      const state = bool(required(entry, 'state'), `capabilities[${i}].state`);
      if (name === 'events') this.#events = state;
    }
  }
}

/** The port a destination asked to listen on port 0 names (nothing listens there). */
const FAKE_PORT = 49152;

/** QEMU's `SocketAddress` of where a destination listens. */
function socketAddress(address: { readonly path: string } | { readonly host: string; readonly port: number }): QmpObject {
  return 'path' in address
    ? { type: 'unix', path: address.path }
    : { type: 'inet', host: address.host, port: String(address.port), ...(address.host.includes(':') ? { ipv6: true } : { ipv4: true }) };
}
