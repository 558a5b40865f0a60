/**
 * Real migrations between two QEMU processes on 127.0.0.1, for tests: a source and a destination
 * started with the test guest (guest.ts), each with a QMP monitor the harness listens for (QEMU
 * connects to it as a client at start-up, so no socket is polled for), the scenarios of
 * {@link SCENARIOS}, and a record of everything QMP said (record.ts).
 *
 * Nothing here waits on a duration: every step waits for an event (a connection, a console line, a
 * QMP event, a reply, a process exit). Each scenario has one generous deadline as a safety net, and
 * both QEMU processes are killed (by pid) at its end whatever happened.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { which } from '../requirements.js';
import { SAFETY_NET_MS } from '../wait.js';
import { buildGuest } from './guest.js';
import { isObject, type Json } from './json.js';
import { QmpClient, QmpError, type QmpEvent } from './qmp-client.js';
import type { ActionRecord, ExitRecord, ScenarioName, ScenarioRecord, SideRecord } from './record.js';

export { SCENARIO_NAMES, type ScenarioName, type ScenarioRecord } from './record.js';

/** The QEMU binary the harness runs. */
export const QEMU_BINARY = 'qemu-system-x86_64';

/** How often `query-migrate` is polled on each side while a migration runs. */
export const POLL_INTERVAL_MS = 20;

/** The guest every scenario runs: 128 MiB of RAM, 16 MiB of it dirtied over and over. */
export const GUEST = { memory: '128M', append: 'dirty=16M' } as const;

/**
 * The bandwidth limit of the scenarios that must not converge by themselves: 32 MiB/s lets at most
 * about 10 MiB go in a 300 ms downtime, less than the 16 MiB the guest dirties between two syncs,
 * so pre-copy goes on pass after pass until the scenario acts.
 */
export const SLOW_BANDWIDTH = 32n << 20n;

/** The QEMU processes running, killed when this process exits whatever way it ends (a safety net). */
const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** The path of qemu-system-x86_64, or undefined when it is not on PATH. */
export function findQemu(): string | undefined {
  return which(QEMU_BINARY);
}

/** One running QEMU. */
export interface Vm {
  readonly role: 'source' | 'destination';
  readonly pid: number;
  /** The main monitor, capabilities negotiated. */
  readonly qmp: QmpClient;
  /** Extra QMP monitors (server sockets) anyone may connect to, e.g. `migration-stats watch --qmp unix:…`. */
  readonly monitors: readonly string[];
  /** The arguments QEMU was started with. */
  readonly argv: readonly string[];
  /** Resolves when the process has ended. */
  readonly exit: Promise<ExitRecord>;
  /** How the process ended, once it has. */
  exited(): ExitRecord | undefined;
  /** What the guest printed on its debug console. */
  console(): string;
  /** What QEMU printed on stderr. */
  stderr(): string;
  /** Kills the process (SIGKILL, by pid) unless it has ended. */
  kill(): void;
}

/** Options of {@link startVm}. */
export interface VmOptions {
  readonly role: 'source' | 'destination';
  /** A folder for the sockets. */
  readonly dir: string;
  /** Extra QMP monitors to open beside the main one (default 0). */
  readonly extraMonitors?: number;
  readonly qemu?: string;
  readonly kernel?: string;
}

/** Rejects when `exit` resolves first, with what QEMU said. */
function beforeExit<T>(promise: Promise<T>, vm: { exit: Promise<ExitRecord>; stderr(): string }, what: string): Promise<T> {
  return Promise.race([
    promise,
    vm.exit.then((how) => {
      throw new Error(`QEMU ended (${how.signal ?? `exit ${how.code}`}) before ${what}: ${vm.stderr().trim()}`);
    }),
  ]);
}

/**
 * Starts one QEMU with the test guest: `-nodefaults -display none -accel tcg`, the guest's debug
 * console on stdout, its main QMP monitor connecting to a socket the harness listens on. A
 * destination waits for `migrate-incoming` (`-incoming defer`); a source returns once its guest
 * is dirtying memory.
 * @param options - the role, the folder and extra monitors
 * @returns the running QEMU
 * @throws Error when QEMU ends or the guest reports an error before it is ready
 */
export async function startVm(options: VmOptions): Promise<Vm> {
  const { role, dir, extraMonitors = 0 } = options;
  const qemu = options.qemu ?? findQemu();
  if (qemu === undefined) throw new Error(`${QEMU_BINARY} is not on PATH`);
  const kernel = options.kernel ?? buildGuest();
  const mainPath = join(dir, `${role}.qmp`);
  const monitors = Array.from({ length: extraMonitors }, (_, i) => join(dir, `${role}-${i + 2}.qmp`));
  const server = createServer();
  const connected = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(mainPath, resolve);
  });
  const argv = [
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-accel', 'tcg',
    '-m', GUEST.memory,
    '-kernel', kernel,
    '-append', GUEST.append,
    '-chardev', 'stdio,id=console,signal=off',
    '-device', 'isa-debugcon,chardev=console,iobase=0xe9',
    '-qmp', `unix:${mainPath}`,
    ...monitors.flatMap((path) => ['-qmp', `unix:${path},server=on,wait=off`]),
    ...(role === 'destination' ? ['-incoming', 'defer'] : []),
  ];
  const child = spawn(qemu, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let consoleText = '';
  let stderrText = '';
  let exitRecord: ExitRecord | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (consoleText += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderrText += chunk));
  if (child.pid !== undefined) running.add(child.pid);
  const exit = new Promise<ExitRecord>((resolve) => {
    child.once('exit', (code, signal) => {
      if (child.pid !== undefined) running.delete(child.pid);
      exitRecord = { code, signal };
      resolve(exitRecord);
    });
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const partial = { exit, stderr: () => stderrText };
  const kill = (): void => {
    if (exitRecord !== undefined || child.pid === undefined) return;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch (error) {
      // Gone already, its exit not yet reported.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  };
  try {
    await spawned;
    const socket = await beforeExit(connected, partial, 'connecting to its QMP monitor');
    const qmp = await beforeExit(QmpClient.open(socket, `${role} QMP`), partial, 'its QMP greeting');
    if (role === 'source') {
      // The guest prints one line after its first sweep over the range.
      const line = new Promise<void>((resolve, reject) => {
        const check = (): void => {
          const match = /guest: (.*)\n/.exec(consoleText);
          if (match === null) return;
          child.stdout.off('data', check);
          if (match[1]!.startsWith('error')) reject(new Error(`the test guest says: ${match[1]}`));
          else resolve();
        };
        child.stdout.on('data', check);
        check();
      });
      await beforeExit(line, partial, 'the guest started dirtying memory');
    }
    return {
      role,
      pid: child.pid!,
      qmp,
      monitors,
      argv: argv.map((arg) => arg.replaceAll(dir, '$DIR').replace(kernel, 'guest.elf')),
      exit,
      exited: () => exitRecord,
      console: () => consoleText,
      stderr: () => stderrText,
      kill,
    };
  } catch (error) {
    kill();
    throw error;
  } finally {
    server.close();
  }
}

/** What a scenario's driver may do while the migration runs. */
export interface Driver {
  readonly source: Vm;
  readonly destination: Vm;
  /** Waits for an event on one side; `label` names it in the record (`MIGRATION_PASS 2`). */
  on(vm: Vm, label: string, test: (event: QmpEvent) => boolean): Promise<QmpEvent>;
  /** Sends a command on one side and records it as done on the last event waited for. */
  act(vm: Vm, command: string, args?: Record<string, unknown>): Promise<void>;
  /** Kills one side and records it. */
  kill(vm: Vm): Promise<void>;
}

/** One scenario: how both sides are set up, what it does while it runs, how it must end. */
export interface Scenario {
  readonly about: string;
  /** Capabilities besides `events` (always on, on both sides). */
  readonly capabilities?: { readonly source?: readonly string[]; readonly destination?: readonly string[] };
  readonly parameters?: { readonly source?: Record<string, unknown>; readonly destination?: Record<string, unknown> };
  /** The source's last status. */
  readonly ends: 'completed' | 'cancelled' | 'failed';
  /** What it does while the migration runs (after `migrate`). */
  drive?(driver: Driver): Promise<void>;
}

const pass = (n: number) => (event: QmpEvent) => event.name === 'MIGRATION_PASS' && event.data.pass === BigInt(n);
const status = (name: string) => (event: QmpEvent) => event.name === 'MIGRATION' && event.data.status === name;

/** The scenarios, by name. */
export const SCENARIOS: Record<ScenarioName, Scenario> = {
  precopy: {
    about: 'plain pre-copy, no bandwidth limit: converges after a few passes',
    ends: 'completed',
  },
  bandwidth: {
    about:
      'pre-copy limited to 32 MiB/s (max-bandwidth), which cannot converge on a 16 MiB dirty set in a 300 ms downtime; ' +
      'on MIGRATION_PASS 4 the downtime limit is raised to 10 s, and it completes',
    parameters: { source: { 'max-bandwidth': SLOW_BANDWIDTH } },
    ends: 'completed',
    async drive({ source, on, act }) {
      await on(source, 'MIGRATION_PASS 4', pass(4));
      await act(source, 'migrate-set-parameters', { 'downtime-limit': 10_000 });
    },
  },
  multifd: {
    about: 'pre-copy over multifd with 2 channels (multifd capability and multifd-channels on both sides), no bandwidth limit',
    capabilities: { source: ['multifd'], destination: ['multifd'] },
    parameters: { source: { 'multifd-channels': 2 }, destination: { 'multifd-channels': 2 } },
    ends: 'completed',
  },
  postcopy: {
    about: 'pre-copy limited to 32 MiB/s with postcopy-ram on both sides; migrate-start-postcopy on MIGRATION_PASS 2',
    capabilities: { source: ['postcopy-ram'], destination: ['postcopy-ram'] },
    parameters: { source: { 'max-bandwidth': SLOW_BANDWIDTH } },
    ends: 'completed',
    async drive({ source, on, act }) {
      await on(source, 'MIGRATION_PASS 2', pass(2));
      await act(source, 'migrate-start-postcopy');
    },
  },
  'pause-before-switchover': {
    about: 'pre-copy with pause-before-switchover on the source: migrate-continue on MIGRATION pre-switchover',
    capabilities: { source: ['pause-before-switchover'] },
    ends: 'completed',
    async drive({ source, on, act }) {
      await on(source, 'MIGRATION pre-switchover', status('pre-switchover'));
      await act(source, 'migrate-continue', { state: 'pre-switchover' });
    },
  },
  cancel: {
    about: 'pre-copy limited to 32 MiB/s (never converges); migrate_cancel on MIGRATION_PASS 2',
    parameters: { source: { 'max-bandwidth': SLOW_BANDWIDTH } },
    ends: 'cancelled',
    async drive({ source, on, act }) {
      await on(source, 'MIGRATION_PASS 2', pass(2));
      await act(source, 'migrate_cancel');
    },
  },
  'destination-killed': {
    about: 'pre-copy limited to 32 MiB/s (never converges); the destination QEMU is killed (SIGKILL) on MIGRATION_PASS 2',
    parameters: { source: { 'max-bandwidth': SLOW_BANDWIDTH } },
    ends: 'failed',
    async drive({ source, destination, on, kill }) {
      await on(source, 'MIGRATION_PASS 2', pass(2));
      await kill(destination);
    },
  },
};

/**
 * A pre-copy that should converge but has not by this pass (a machine far slower than expected) gets
 * a 10 s downtime limit, so a run always ends; the record shows it as an action.
 */
const CONVERGE_BY_PASS = 30;

/** The statuses after which a source's migration is over. */
const SOURCE_END = new Set(['completed', 'failed', 'cancelled']);

/** Options of {@link runScenario}. */
export interface RunOptions {
  /** Extra QMP monitors on the source (their paths are in `source.monitors`, passed to `during`). */
  readonly extraMonitors?: number;
  /**
   * Called once both QEMUs are set up and awaited before `migrate` (e.g. to attach a client to an
   * extra monitor). It may return a function, called once the migration has ended and before the
   * QEMUs are killed, whose result is returned as `during` (e.g. what a `watch` process printed).
   */
  readonly during?: (vms: { source: Vm; destination: Vm }) => Promise<(() => Promise<unknown>) | void>;
  /** The safety net for the whole run (default test/wait.ts's SAFETY_NET_MS, 4 minutes). */
  readonly deadlineMs?: number;
  /**
   * Starts both sides in `dir` instead of two QEMUs (the destination waiting for
   * `migrate-incoming`), e.g. `migration-stats simulate --qmp` (simulator.ts).
   */
  readonly start?: (dir: string, extraMonitors: number) => Promise<[source: Vm, destination: Vm]>;
}

/**
 * Runs one scenario between two fresh QEMUs and records everything: every `query-migrate` reply
 * polled on both sides, every event, the actions, the final `query-migrate` and `info migrate`
 * (over `human-monitor-command`) of each side still running, and the source's `query-version`.
 * Both QEMUs are killed at the end, also on failure.
 * @param name - one of {@link SCENARIOS}
 * @param options - extra monitors, a hook while it runs, the deadline
 * @returns the record, and what `during` returned
 * @throws Error when QEMU misbehaves, the source ends in another status than the scenario's, or the
 *   deadline passes (the message says where it stood)
 */
export async function runScenario(name: ScenarioName, options: RunOptions = {}): Promise<{ record: ScenarioRecord; during: unknown }> {
  const scenario = SCENARIOS[name];
  const dir = mkdtempSync(join(tmpdir(), 'ms-qemu-'));
  const vms: Vm[] = [];
  let deadlineTimer: NodeJS.Timeout | undefined;
  let where = 'starting QEMU';
  const deadline = new Promise<never>((_, reject) => {
    const deadlineMs = options.deadlineMs ?? SAFETY_NET_MS;
    deadlineTimer = setTimeout(() => reject(new Error(`scenario ${name}: no end after ${deadlineMs} ms (a hang: this limit is a safety net), while ${where}`)), deadlineMs);
  });
  deadline.catch(() => undefined);
  const step = <T>(what: string, promise: Promise<T>): Promise<T> => {
    where = what;
    return Promise.race([promise, deadline]);
  };
  const polling = { stop: false };
  const pollers: Promise<void>[] = [];
  try {
    let source: Vm;
    let destination: Vm;
    if (options.start) {
      [source, destination] = await step('starting both sides', options.start(dir, options.extraMonitors ?? 0));
      vms.push(destination, source);
    } else {
      const kernel = buildGuest();
      destination = await step('starting the destination', startVm({ role: 'destination', dir, kernel }));
      vms.push(destination);
      source = await step('starting the source', startVm({ role: 'source', dir, kernel, extraMonitors: options.extraMonitors }));
      vms.push(source);
    }
    const version = await source.qmp.execute('query-version');
    const qemuVersion = describeVersion(version.value);

    for (const [vm, capabilities, parameters] of [
      [source, scenario.capabilities?.source, scenario.parameters?.source],
      [destination, scenario.capabilities?.destination, scenario.parameters?.destination],
    ] as const) {
      const list = ['events', ...(capabilities ?? [])].map((capability) => ({ capability, state: true }));
      await step(`setting capabilities on the ${vm.role}`, vm.qmp.execute('migrate-set-capabilities', { capabilities: list }));
      if (parameters !== undefined) await step(`setting parameters on the ${vm.role}`, vm.qmp.execute('migrate-set-parameters', parameters));
    }
    await step('migrate-incoming', destination.qmp.execute('migrate-incoming', { uri: 'tcp:127.0.0.1:0' }));
    const listening = await step('reading the destination port', destination.qmp.execute('query-migrate'));
    const port = listeningPort(listening.value);
    const finish = await step('the caller’s set-up', Promise.resolve(options.during?.({ source, destination })));

    for (const vm of [source, destination]) {
      const poller = poll(vm, polling);
      poller.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      pollers.push(poller);
    }
    await step('migrate', source.qmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` }));

    const actions: ActionRecord[] = [];
    let lastEvent = '';
    const driver: Driver = {
      source,
      destination,
      on: async (vm, label, test) => {
        const event = await step(`waiting for ${label} on the ${vm.role}`, vm.qmp.waitForEvent(test, label));
        lastEvent = label;
        return event;
      },
      act: async (vm, command, args) => {
        const { sent, text } = await step(`${command} on the ${vm.role}`, vm.qmp.execute(command, args));
        actions.push({ on: lastEvent, side: vm.role, sent, reply: text });
      },
      kill: async (vm) => {
        vm.kill();
        await step(`the ${vm.role} ending`, vm.exit);
        actions.push({ on: lastEvent, side: vm.role, sent: 'SIGKILL', reply: null });
      },
    };
    const ended = source.qmp.waitForEvent((event) => event.name === 'MIGRATION' && SOURCE_END.has(String(event.data.status)), 'the end of the migration');
    ended.catch(() => undefined); // awaited below, once the scenario has acted
    const driving = scenario.drive?.(driver) ?? Promise.resolve();
    // The safety net of the scenarios that converge by themselves (see CONVERGE_BY_PASS).
    if (scenario.drive === undefined) {
      void source.qmp
        .waitForEvent(pass(CONVERGE_BY_PASS), `MIGRATION_PASS ${CONVERGE_BY_PASS}`)
        .then(async () => {
          lastEvent = `MIGRATION_PASS ${CONVERGE_BY_PASS}`;
          await driver.act(source, 'migrate-set-parameters', { 'downtime-limit': 10_000 });
        })
        .catch(() => undefined);
    }
    await step('driving the scenario', driving);
    const end = await step('waiting for the source to end', ended);
    if (end.data.status !== scenario.ends) {
      throw new Error(`scenario ${name}: the source ended ${String(end.data.status)}, not ${scenario.ends}: ${end.text}`);
    }
    if (scenario.ends === 'completed') {
      await step('waiting for the destination to complete', destination.qmp.waitForEvent(status('completed'), 'the destination completing'));
    } else if (destination.exited() === undefined) {
      // A destination whose incoming stream breaks fails and quits by itself.
      await step('waiting for the destination to fail', Promise.race([destination.exit, destination.qmp.waitForEvent(status('failed'), 'the destination failing')]));
    }
    polling.stop = true;
    await step('stopping the polls', Promise.all(pollers));

    const sides = {} as Record<'source' | 'destination', SideRecord>;
    for (const vm of [source, destination]) {
      let final: string | null = null;
      let hmp: string | null = null;
      if (vm.qmp.isOpen && vm.exited() === undefined) {
        try {
          final = await step(`the final query-migrate on the ${vm.role}`, finalQuery(vm, scenario.ends === 'completed'));
          hmp = (await step(`info migrate on the ${vm.role}`, vm.qmp.execute('human-monitor-command', { 'command-line': 'info migrate' }))).text;
        } catch (error) {
          // A destination that quits by itself may go between two commands.
          if (vm.exited() === undefined && !(error instanceof Error && /monitor closed/.test(error.message))) throw error;
        }
      }
      sides[vm.role] = { argv: vm.argv, greeting: vm.qmp.greeting, log: [...vm.qmp.log], final, infoMigrate: hmp, exitedEarly: vm.exited() ?? null };
    }
    const record: ScenarioRecord = {
      scenario: name,
      about: scenario.about,
      qemu: qemuVersion,
      queryVersion: version.text,
      guest: { ...GUEST },
      actions,
      source: sides.source,
      destination: sides.destination,
    };
    return { record, during: finish ? await step('the caller’s work', finish()) : undefined };
  } catch (error) {
    if (error instanceof Error) {
      const output = vms.map((vm) => `${vm.role} stderr: ${vm.stderr().trim() || '(nothing)'}`).join('\n');
      error.message += `\n${output}`;
    }
    throw error;
  } finally {
    polling.stop = true;
    clearTimeout(deadlineTimer);
    for (const vm of vms) {
      vm.kill();
      vm.qmp.close();
    }
    await Promise.all(vms.map((vm) => vm.exit));
    await Promise.allSettled(pollers);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Connects to a QMP monitor that QEMU listens on (an extra monitor of {@link Vm.monitors}) and
 * negotiates capabilities, so that events reach it.
 * @param path - the monitor's Unix socket
 * @param label - names it in errors
 * @returns the client
 */
export async function connectMonitor(path: string, label: string): Promise<QmpClient> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return QmpClient.open(socket, label);
}

/** Polls `query-migrate` until told to stop or the monitor closes. */
async function poll(vm: Vm, polling: { stop: boolean }): Promise<void> {
  while (!polling.stop && vm.qmp.isOpen) {
    try {
      await vm.qmp.execute('query-migrate');
    } catch (error) {
      if (error instanceof QmpError) throw error;
      return; // the monitor closed: that side is gone
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * The final `query-migrate` of one side. A completed source is asked again until `total-time` is
 * set: QEMU (7.2 at least) announces `completed` before `migration_calculate_complete()` has filled
 * the final figures, and a reply in between says total-time 0, downtime 0 and the last window's mbps.
 */
async function finalQuery(vm: Vm, completed: boolean): Promise<string> {
  for (;;) {
    const { text, value } = await vm.qmp.execute('query-migrate');
    const total = isObject(value) ? value['total-time'] : undefined;
    if (vm.role !== 'source' || !completed || (typeof total === 'bigint' && total > 0n)) return text;
    await sleep(POLL_INTERVAL_MS);
  }
}

/** `7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)` from `query-version`. */
function describeVersion(value: Json): string {
  const qemu = isObject(value) ? value.qemu : undefined;
  if (!isObject(value) || !isObject(qemu)) throw new Error(`query-version: unexpected reply ${String(value)}`);
  const pkg = typeof value.package === 'string' ? value.package.trim() : '';
  return `${String(qemu.major)}.${String(qemu.minor)}.${String(qemu.micro)}${pkg ? ` (${pkg})` : ''}`;
}

/** The port of the destination's listening socket, from its `query-migrate` (`socket-address`). */
function listeningPort(value: Json): string {
  const addresses = isObject(value) ? value['socket-address'] : undefined;
  const first = Array.isArray(addresses) ? addresses[0] : undefined;
  if (!isObject(first) || typeof first.port !== 'string') {
    throw new Error(`the destination reports no listening port: ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v))}`);
  }
  return first.port;
}
