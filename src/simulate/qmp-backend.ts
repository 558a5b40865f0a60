/**
 * The QMP monitor of a {@link SimulatedVm}: the commands a migration tool sends to QEMU's source,
 * answered as QEMU answers them, so that a tool written against QEMU (`migration-stats watch`,
 * Python's `qemu.qmp`, an orchestrator's tests) drives the simulator with no virtual machine.
 * `serveQmp` (qmp-server.ts) puts it on a socket; tests call {@link SimulatorQmpBackend.execute}.
 * @packageDocumentation
 */
import { infoMigrate } from '../qemu/hmp.js';
import type { QmpValue } from '../qemu/qmp-json.js';
import { QmpError, qmpTimestamp, type QmpBackend, type QmpEvent, type QmpObject } from '../qemu/qmp-wire.js';
import { MIGRATION_STATUSES } from '../qemu/query-migrate.js';
import { MAX_CHANNELS } from './settings.js';
import { CAPABILITY_NAMES, PARAMETER_NAMES, type MigrationCapabilities, type MigrationParameters } from './parameters.js';
import { array, bool, generic, object, oneOf, onlyMembers, required, str, uint64, uintN } from './qmp-args.js';
import { VmCommandError, type SimulatedVm } from './vm.js';

/** The QEMU version the simulator answers as: its `query-migrate` and `info migrate` are QEMU 10.1's. */
export const SIMULATED_QEMU_VERSION = Object.freeze({ qemu: Object.freeze({ micro: 0n, minor: 1n, major: 10n }), package: 'migration-stats simulate' });

/** QEMU 10.1's migration capabilities, in schema order; only those of {@link CAPABILITY_NAMES} change the simulation. */
export const CAPABILITIES = [
  'xbzrle', 'rdma-pin-all', 'auto-converge', 'events', 'postcopy-ram', 'x-colo', 'release-ram', 'return-path',
  'pause-before-switchover', 'multifd', 'dirty-bitmaps', 'postcopy-blocktime', 'late-block-activate', 'x-ignore-shared',
  'validate-uuid', 'background-snapshot', 'zero-copy-send', 'postcopy-preempt', 'switchover-ack', 'dirty-limit', 'mapped-ram',
] as const;

type Kind = 'uint8' | 'uint32' | 'uint64' | 'bool' | 'str' | readonly string[];
/**
 * QEMU 10.1's migration parameters that the simulator keeps but does not model, in schema order,
 * with their types and defaults; the modelled ones ({@link PARAMETER_NAMES}) go where QEMU has them.
 */
const OTHER_PARAMETERS: readonly (readonly [name: string, kind: Kind, initial: QmpValue])[] = [
  ['announce-initial', 'uint64', 50n], ['announce-max', 'uint64', 550n], ['announce-rounds', 'uint64', 5n], ['announce-step', 'uint64', 100n],
  ['throttle-trigger-threshold', 'uint8', 50n], ['cpu-throttle-initial', 'uint8', 20n], ['cpu-throttle-increment', 'uint8', 10n],
  ['cpu-throttle-tailslow', 'bool', false], ['tls-creds', 'str', ''], ['tls-hostname', 'str', ''], ['tls-authz', 'str', ''],
  ['max-bandwidth', 'uint64', null], ['avail-switchover-bandwidth', 'uint64', null], ['downtime-limit', 'uint64', null],
  ['x-checkpoint-delay', 'uint32', 20000n], ['multifd-channels', 'uint8', null], ['xbzrle-cache-size', 'uint64', 67108864n],
  ['max-postcopy-bandwidth', 'uint64', null], ['max-cpu-throttle', 'uint8', 99n], ['multifd-compression', ['none', 'zlib', 'zstd', 'qpl', 'uadk', 'qatzip'], 'none'],
  ['multifd-zlib-level', 'uint8', 1n], ['multifd-zstd-level', 'uint8', 1n], ['mode', ['normal', 'cpr-reboot', 'cpr-transfer', 'cpr-exec'], 'normal'],
  ['zero-page-detection', ['none', 'legacy', 'multifd'], 'multifd'],
];

/** The names `migrate-set-parameters` takes, in QEMU 10.1's schema order. */
export const MIGRATION_PARAMETER_NAMES: readonly string[] = OTHER_PARAMETERS.map(([name]) => name);

const FIELD_OF_PARAMETER = new Map(Object.entries(PARAMETER_NAMES).map(([field, name]) => [name, field as keyof MigrationParameters]));
const FIELD_OF_CAPABILITY = new Map(Object.entries(CAPABILITY_NAMES).map(([field, name]) => [name, field as keyof MigrationCapabilities]));

/** Answers QMP commands for a simulated source, as QEMU does. */
export class SimulatorQmpBackend implements QmpBackend {
  readonly version: QmpObject = SIMULATED_QEMU_VERSION;
  /** Settles after `quit` was answered: the command line then stops serving and exits. */
  readonly quit: Promise<void>;
  #quit!: () => void;
  readonly #others = new Map<string, QmpValue>(OTHER_PARAMETERS.filter(([, , v]) => v !== null).map(([n, , v]) => [n, v]));
  readonly #otherCapabilities = new Map<string, boolean>();
  readonly #listeners = new Set<(event: QmpEvent) => void>();

  /** @param vm - the booted machine it speaks for */
  constructor(readonly vm: SimulatedVm) {
    this.quit = new Promise((resolve) => (this.#quit = resolve));
    vm.onEvent((event) => this.#send(event));
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

  #send(event: QmpEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }

  /**
   * Runs one command.
   * @param command - the `execute` member
   * @param args - the `arguments` member, or an empty object
   * @returns the reply's `return` value
   * @throws QmpError: `CommandNotFound` for a command the simulator does not have, `GenericError`
   *   for bad arguments or a command refused in the migration's state (QEMU's texts)
   */
  execute(command: string, args: QmpObject): QmpValue {
    try {
      return this.#run(command, args);
    } catch (error) {
      if (error instanceof VmCommandError) throw generic(error.message);
      throw error;
    }
  }

  #run(command: string, args: QmpObject): QmpValue {
    const vm = this.vm;
    const none = (): void => onlyMembers(args, []);
    switch (command) {
      case 'query-migrate':
        none();
        return vm.queryMigrate() as QmpValue;
      case 'query-migrate-parameters':
        none();
        return this.#parameters();
      case 'migrate-set-parameters':
        this.#setParameters(args);
        return {};
      case 'query-migrate-capabilities':
        none();
        return CAPABILITIES.map((name) => ({ capability: name, state: this.#capability(name) }));
      case 'migrate-set-capabilities':
        this.#setCapabilities(args);
        return {};
      case 'migrate': {
        onlyMembers(args, ['uri', 'channels', 'detach', 'resume']);
        const uri = str(required(args, 'uri'), 'uri');
        if (args.resume !== undefined && bool(args.resume, 'resume')) throw generic('the simulator has no postcopy recovery to resume');
        if (!/^(tcp|unix|exec|fd|rdma|file|vsock):/.test(uri)) throw generic("Parameter 'uri' expects a valid migration protocol");
        // The migration runs on; its end is for query-migrate and the events to tell.
        vm.migrate(uri).catch(() => undefined);
        return {};
      }
      case 'migrate_cancel':
        none();
        if (vm.migrating) vm.cancel('migrate_cancel');
        return {};
      case 'migrate-start-postcopy':
        none();
        vm.startPostcopy();
        return {};
      case 'migrate-continue':
        onlyMembers(args, ['state']);
        vm.continue(oneOf(required(args, 'state'), 'state', MIGRATION_STATUSES));
        return {};
      case 'query-status':
        none();
        return { running: vm.runState === 'running', status: vm.runState };
      case 'query-version':
        none();
        return SIMULATED_QEMU_VERSION;
      case 'human-monitor-command':
        onlyMembers(args, ['command-line', 'cpu-index']);
        return this.#hmp(str(required(args, 'command-line'), 'command-line'));
      case 'quit':
        none();
        this.#send({ event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' }, timestamp: qmpTimestamp() });
        setTimeout(this.#quit, 0);
        return {};
      default:
        throw new QmpError('CommandNotFound', `The command ${command} has not been found`);
    }
  }

  /** HMP over QMP: `info migrate` and `info status`, lines ending `\r\n` as QEMU's `monitor_puts` gives them. */
  #hmp(line: string): string {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'info' && words[1] === 'migrate' && words.length <= 3 && (words[2] === undefined || words[2] === '-a')) {
      return infoMigrate(this.vm.queryMigrate(), { all: words[2] === '-a', lineEnd: '\r\n' });
    }
    if (words[0] === 'info' && words[1] === 'status' && words.length === 2) {
      const state = this.vm.runState;
      return `VM status: ${state === 'running' ? 'running' : `paused (${state})`}\r\n`;
    }
    return `unknown command: '${line.trim()}'\r\n`;
  }

  #parameters(): QmpObject {
    const p = this.vm.parameters;
    const modelled: Record<string, QmpValue> = {
      'max-bandwidth': p.maxBandwidth,
      'avail-switchover-bandwidth': p.availSwitchoverBandwidth,
      'downtime-limit': BigInt(p.downtimeLimitMs),
      'multifd-channels': BigInt(p.multifdChannels),
      'max-postcopy-bandwidth': p.maxPostcopyBandwidth,
    };
    return Object.fromEntries(OTHER_PARAMETERS.map(([name]) => [name, modelled[name] ?? this.#others.get(name)!]));
  }

  /** `migrate-set-parameters`: every member checked before any is set, as QEMU's `migrate_params_check`. */
  #setParameters(args: QmpObject): void {
    const changes: [string, QmpValue][] = [];
    for (const [name, value] of Object.entries(args)) {
      const spec = OTHER_PARAMETERS.find(([n]) => n === name);
      if (!spec || value === undefined) throw generic(`Parameter '${name}' is unexpected`);
      const kind = spec[1];
      if (kind === 'uint64') changes.push([name, uint64(value, name)]);
      else if (kind === 'uint8' || kind === 'uint32') changes.push([name, BigInt(uintN(value, name, kind === 'uint8' ? 8 : 32))]);
      else if (kind === 'bool') changes.push([name, bool(value, name)]);
      else if (kind === 'str') changes.push([name, str(value, name)]);
      else changes.push([name, oneOf(value, name, kind)]);
    }
    for (const [name, value] of changes) {
      if (name === 'downtime-limit' && (value as bigint) > 2_000_000n) {
        throw generic("Parameter 'downtime_limit' expects an integer in the range of 0 to (2000 * 1000) ms");
      }
      if (name === 'multifd-channels' && (value as bigint) < 1n) throw generic("Parameter 'multifd_channels' expects a value between 1 and 255");
      if (name === 'multifd-channels' && (value as bigint) > BigInt(MAX_CHANNELS)) {
        throw generic(`Parameter 'multifd_channels': the simulator runs at most ${MAX_CHANNELS} channels (one worker each)`);
      }
    }
    const p = this.vm.parameters;
    for (const [name, value] of changes) {
      const field = FIELD_OF_PARAMETER.get(name);
      if (field === 'downtimeLimitMs' || field === 'multifdChannels') p[field] = Number(value);
      else if (field) p[field] = value as bigint;
      else this.#others.set(name, value);
    }
    this.vm.parametersChanged();
  }

  #capability(name: string): boolean {
    const field = FIELD_OF_CAPABILITY.get(name);
    return field ? this.vm.capabilities[field] : (this.#otherCapabilities.get(name) ?? false);
  }

  /** `migrate-set-capabilities`: refused while a migration runs, as QEMU refuses it. */
  #setCapabilities(args: QmpObject): void {
    onlyMembers(args, ['capabilities']);
    const list = array(required(args, 'capabilities'), 'capabilities').map((item, i) => {
      const where = `capabilities[${i}]`;
      const entry = object(item, where);
      onlyMembers(entry, ['capability', 'state']);
      const name = oneOf(required(entry, 'capability'), 'capability', CAPABILITIES);
      return [name, bool(required(entry, 'state'), `${where}.state`)] as const;
    });
    if (this.vm.migrating) throw generic("There's a migration process in progress");
    for (const [name, state] of list) {
      const field = FIELD_OF_CAPABILITY.get(name);
      if (field) this.vm.capabilities[field] = state;
      else this.#otherCapabilities.set(name, state);
    }
  }
}
