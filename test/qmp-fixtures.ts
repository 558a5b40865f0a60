// What the QMP server and client tests share: a scripted backend, a raw socket client that
// collects the monitor's messages, and a temporary folder for socket files.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QmpValue } from '../dist/qemu/qmp-json.js';
import { QmpError, type QmpBackend, type QmpEvent, type QmpObject } from '../dist/qemu/qmp-wire.js';
import { gate, which } from './requirements.js';

/** QEMU 7.2's greeting as Debian's build prints it (observed). */
export const GREETING_7_2 =
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}\r\n';

/** A backend whose commands are scripted by the test; it records what it was asked. */
export class ScriptedBackend implements QmpBackend {
  readonly version: QmpObject = { qemu: { major: 7n, minor: 2n, micro: 22n }, package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' };
  readonly calls: Array<{ command: string; args: QmpObject }> = [];
  readonly #listeners = new Set<(event: QmpEvent) => void>();
  readonly commands: Record<string, (args: QmpObject) => QmpValue | Promise<QmpValue>> = {
    // QEMU's StatusInfo, members inserted in schema order as QEMU's output visitor does.
    'query-status': () => ({ running: true, singlestep: false, status: 'running' }),
  };

  execute(command: string, args: QmpObject): QmpValue | Promise<QmpValue> {
    this.calls.push({ command, args });
    const run = this.commands[command];
    if (!run) throw new QmpError('CommandNotFound', `The command ${command} has not been found`);
    return run(args);
  }

  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  emit(event: string, data?: QmpObject, seconds = 1796647457n, microseconds = 911762n): void {
    for (const listener of this.#listeners) listener({ event, ...(data ? { data } : {}), timestamp: { seconds, microseconds } });
  }
}

/** A promise and its settle functions, for commands that answer when the test says so. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A plain socket to a monitor: what it sent so far, and waits for the n-th message. */
export class RawClient {
  text = '';
  closed = false;
  readonly socket: Socket;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static async open(address: string): Promise<RawClient> {
    const tcp = /^tcp:(?:\[(.+)\]|(.*)):(\d+)$/.exec(address);
    const socket = tcp ? connect({ host: tcp[1] ?? tcp[2]!, port: Number(tcp[3]) }) : connect({ path: address.slice(5) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** The messages received so far, each with its `\r\n`. */
  get messages(): string[] {
    return this.text.match(/[^\n]*\r\n/g) ?? [];
  }

  /** Waits until `count` messages have arrived (or the socket closed) and returns them all. */
  async waitFor(count: number): Promise<string[]> {
    while (this.messages.length < count && !this.closed) {
      await new Promise<void>((resolve) => {
        const waiter = (): void => {
          this.#waiters.delete(waiter);
          resolve();
        };
        this.#waiters.add(waiter);
      });
    }
    return this.messages;
  }

  /** Waits until `text` has arrived (or the socket closed) and returns everything received. */
  async waitForText(text: string): Promise<string> {
    while (!this.text.includes(text) && !this.closed) {
      await new Promise<void>((resolve) => {
        const waiter = (): void => {
          this.#waiters.delete(waiter);
          resolve();
        };
        this.#waiters.add(waiter);
      });
    }
    return this.text;
  }

  /** Waits until the other end closes the connection. */
  async waitClosed(): Promise<void> {
    await this.waitFor(Number.POSITIVE_INFINITY);
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Sends `qmp_capabilities` after the greeting and waits for its reply. */
  async negotiate(): Promise<void> {
    await this.waitFor(1);
    const before = this.messages.length;
    this.write('{"execute": "qmp_capabilities"}');
    await this.waitFor(before + 1);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A fresh folder for socket files, removed by the returned function. */
export function socketDir(): { path: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'qmp-'));
  return { path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Call first in a test that needs QEMU: the `qemu` part's gate (test/requirements.ts) skips it with
 * the one summary line naming the package, or fails under MIGRATION_STATS_REQUIRE_ALL=1.
 * @returns the path of qemu-system-x86_64
 */
export function requireQemu(ctx: { skip(note?: string): void }): string {
  gate('qemu').check(ctx);
  return which('qemu-system-x86_64')!;
}

/**
 * Starts a QEMU with nothing to boot and a QMP monitor at `unix:PATH`. With -daemonize the command
 * returns once QEMU is ready (its socket listens), and the pidfile names the process.
 * @returns the monitor's address and a function that kills that QEMU (if it still runs)
 */
export async function startQemu(qemu: string, dir: ReturnType<typeof socketDir>): Promise<{ address: string; kill: () => void }> {
  const path = dir.path('qemu.qmp');
  const pidfile = dir.path('qemu.pid');
  const args = ['-nodefaults', '-display', 'none', '-m', '64M', '-qmp', `unix:${path},server=on,wait=off`, '-daemonize', '-pidfile', pidfile];
  const started = spawn(qemu, args, { stdio: 'ignore' });
  const code = await new Promise<number | null>((resolve) => started.on('exit', resolve));
  if (code !== 0) throw new Error(`${qemu} ${args.join(' ')} exited with ${code}`);
  const pid = Number(readFileSync(pidfile, 'utf8'));
  return {
    address: `unix:${path}`,
    kill: () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it quit
      }
    },
  };
}
