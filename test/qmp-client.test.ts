// connectQmp: against our own serveQmp, against sockets that are not QMP, missing and refusing
// ones, and against QEMU itself when qemu-system-x86_64 is installed.
import { spawnSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectQmp, QmpConnectionError } from '../dist/qemu/qmp-client.js';
import { serveQmp, type QmpServerHandle } from '../dist/qemu/qmp-server.js';
import { QmpError, type QmpEvent, type QmpSession } from '../dist/qemu/qmp-wire.js';
import { deferred, requireQemu, ScriptedBackend, socketDir, startQemu } from './qmp-fixtures.js';

let dir: ReturnType<typeof socketDir>;
const cleanups: Array<() => unknown> = [];

beforeEach(() => {
  dir = socketDir();
});

afterEach(async () => {
  try {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  } finally {
    dir.remove();
  }
});

async function served(backend = new ScriptedBackend(), address = `unix:${dir.path('vm.qmp')}`): Promise<{ backend: ScriptedBackend; server: QmpServerHandle }> {
  const server = await serveQmp(address, backend);
  cleanups.push(() => server.close());
  return { backend, server };
}

async function session(address: string): Promise<QmpSession> {
  const opened = await connectQmp(address);
  cleanups.push(() => opened.close());
  return opened;
}

/** A plain server that does what `onConnection` says with each connection. */
async function plainServer(onConnection: (socket: Socket) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  const path = dir.path('plain.qmp');
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  );
  return `unix:${path}`;
}

const failure = (reason: string, message: string | RegExp): unknown =>
  expect.objectContaining({ name: 'QmpConnectionError', reason, message: typeof message === 'string' ? message : expect.stringMatching(message) });

describe('connectQmp against serveQmp', () => {
  it('negotiates, runs commands with exact integers, and rejects with QEMU errors', async () => {
    const { backend, server } = await served();
    backend.commands.echo = (args) => ({ args });
    const qmp = await session(server.address);
    expect(qmp.greeting).toEqual({ version: backend.version, capabilities: ['oob'] });
    expect(await qmp.execute('query-status')).toEqual({ running: true, singlestep: false, status: 'running' });
    const args = { max: 2n ** 64n - 1n, min: -(2n ** 63n), d: 0.5, s: 'é\u0000"', list: [true, null, { x: 1n }] };
    expect(await qmp.execute('echo', args)).toEqual({ args });
    const refused = await qmp.execute('nope').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(QmpError);
    expect(refused).toMatchObject({ errorClass: 'CommandNotFound', desc: 'The command nope has not been found' });
    expect(backend.calls.map((call) => call.command)).toEqual(['query-status', 'echo', 'nope']);
    await expect(qmp.execute('' as string)).rejects.toThrow(TypeError);
    await expect(qmp.execute('echo', [] as never)).rejects.toThrow(/args must be an object/);
  });

  it('matches replies to commands run at once, and hands out events in arrival order', async () => {
    const { backend, server } = await served();
    const gate = deferred<void>();
    backend.commands.slow = async () => {
      await gate.promise;
      backend.emit('STOP', undefined, 5n, 6n);
      return 'slow';
    };
    backend.commands.fast = () => {
      backend.emit('RESUME');
      return 'fast';
    };
    const qmp = await session(server.address);
    const seen: string[] = [];
    const events: QmpEvent[] = [];
    const off = qmp.onEvent((event) => {
      events.push(event);
      seen.push(event.event);
    });
    qmp.onEvent(() => {
      throw new Error('a listener that fails does not stop the others');
    });
    const replies = [qmp.execute('slow').then((r) => seen.push(`reply ${r}`)), qmp.execute('fast').then((r) => seen.push(`reply ${r}`))];
    gate.resolve();
    await Promise.all(replies);
    expect(seen).toEqual(['STOP', 'reply slow', 'RESUME', 'reply fast']);
    expect(events[0]).toEqual({ event: 'STOP', timestamp: { seconds: 5n, microseconds: 6n } });
    off();
    backend.emit('MIGRATION', { status: 'setup' });
    await qmp.execute('query-status');
    expect(seen).toHaveLength(4);
  });

  it('after close(), closed settles with undefined and commands reject', async () => {
    const { server } = await served();
    const qmp = await connectQmp(server.address);
    await qmp.close();
    expect(await qmp.closed).toBeUndefined();
    await expect(qmp.execute('query-status')).rejects.toThrow(QmpConnectionError);
  });

  it('reports QEMU quitting mid-way: pending commands reject and closed resolves with the error', async () => {
    const { backend, server } = await served();
    const started = deferred<void>();
    backend.commands.hang = () => {
      started.resolve();
      return new Promise(() => {});
    };
    const qmp = await connectQmp(server.address);
    const pending = qmp.execute('hang').catch((error: unknown) => error);
    await started.promise;
    await server.close();
    const message = `QEMU closed the QMP connection at ${server.address}`;
    expect(await pending).toEqual(failure('closed', message));
    expect(await qmp.closed).toEqual(failure('closed', message));
    await expect(qmp.execute('query-status')).rejects.toThrow(message);
  });
});

describe('connectQmp: clear errors', () => {
  it('names a missing socket file', async () => {
    const path = dir.path('none.qmp');
    await expect(connectQmp(`unix:${path}`)).rejects.toEqual(failure('missing', `no QMP socket at ${path}`));
  });

  it('names a refused connection, on tcp and on a socket file left by a dead server', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await expect(connectQmp(`tcp:127.0.0.1:${port}`)).rejects.toEqual(failure('refused', `QMP connection to tcp:127.0.0.1:${port} refused: nothing listens there`));
    const stale = dir.path('stale.qmp');
    spawnSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", stale]);
    await expect(connectQmp(`unix:${stale}`)).rejects.toEqual(failure('refused', `QMP socket at ${stale} refused the connection: nothing listens on it`));
  });

  it('names something that is not QMP: another protocol, other JSON, a refusal, silence, a hang-up', async () => {
    let mode = '';
    const address = await plainServer((socket) => {
      if (mode === 'hmp') socket.write("QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ");
      if (mode === 'json') socket.write('{"hello": "world"}\r\n');
      if (mode === 'refuse') {
        socket.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
        socket.on('data', () => socket.write('{"id": 0, "error": {"class": "GenericError", "desc": "no"}}\r\n'));
      }
      if (mode === 'hangup') socket.end();
      if (mode === 'quit' || mode === 'garbage' || mode === 'array') {
        socket.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
        let n = 0;
        socket.on('data', () => {
          if (mode === 'quit') socket.destroy();
          else if (n++ === 0) socket.write('{"return": {}, "id": 0}\r\n');
          else socket.write(mode === 'garbage' ? 'garbage\r\n' : '[123456789012345678901234567890]\r\n');
        });
      }
    });
    mode = 'hmp';
    await expect(connectQmp(address, { timeout: 60_000 })).rejects.toEqual(failure('not-qmp', `${address} is not a QMP monitor: it sent "QEMU 7.2.22 monitor - type 'help' for more information\\r\\n(qem…"`));
    mode = 'json';
    await expect(connectQmp(address)).rejects.toEqual(failure('not-qmp', `${address} is not a QMP monitor: it sent "{\\"hello\\": \\"world\\"}"`));
    mode = 'refuse';
    await expect(connectQmp(address)).rejects.toEqual(failure('not-qmp', `${address} refused qmp_capabilities: no`));
    mode = 'hangup';
    await expect(connectQmp(address)).rejects.toEqual(failure('not-qmp', `${address} closed the connection without a QMP greeting`));
    mode = 'quit';
    await expect(connectQmp(address)).rejects.toEqual(failure('closed', `QEMU closed the QMP connection at ${address}`));
    mode = 'garbage';
    const qmp = await connectQmp(address);
    const pending = qmp.execute('query-status');
    await expect(pending).rejects.toEqual(failure('not-qmp', `${address} sent something that is not QMP: "garbage\\r\\n"`));
    expect(await qmp.closed).toEqual(failure('not-qmp', `${address} sent something that is not QMP: "garbage\\r\\n"`));
    mode = 'array';
    const other = await connectQmp(address);
    await expect(other.execute('query-status')).rejects.toEqual(failure('not-qmp', `${address} sent something that is not QMP: "[123456789012345678901234567890]"`));
    // Silence: whatever the wait, no greeting ever comes.
    mode = 'silent';
    await expect(connectQmp(address, { timeout: 20 })).rejects.toEqual(
      failure('timeout', `no QMP greeting from ${address} within 20 ms (QEMU serves one client per monitor: is another one connected?)`),
    );
  });

  it('reads the qmp_capabilities reply past an event sent before it', async () => {
    const address = await plainServer((socket) => {
      socket.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
      socket.on('data', () => {
        socket.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "EARLY"}\r\n');
        socket.write('{"id": 0, "error": {"class": "GenericError", "desc": "not now"}}\r\n');
      });
    });
    await expect(connectQmp(address)).rejects.toEqual(failure('not-qmp', `${address} refused qmp_capabilities: not now`));
  });

  it('checks its arguments and stops when aborted', async () => {
    await expect(connectQmp('/run/vm.qmp')).rejects.toThrow(new TypeError('address must be unix:PATH or tcp:HOST:PORT (port 0 to 65535); received "/run/vm.qmp"'));
    await expect(connectQmp('unix:/x', { timeout: 0 })).rejects.toThrow(RangeError);
    const address = await plainServer(() => {});
    const controller = new AbortController();
    const connecting = connectQmp(address, { signal: controller.signal });
    controller.abort(new Error('stopped'));
    await expect(connecting).rejects.toThrow('stopped');
    await expect(connectQmp(address, { signal: AbortSignal.abort(new Error('before')) })).rejects.toThrow('before');
    const { server } = await served();
    const after = new AbortController();
    const qmp = await connectQmp(server.address, { signal: after.signal });
    after.abort();
    expect(await qmp.closed).toBeUndefined();
  });
});

describe('connectQmp and serveQmp round trip', () => {
  it.each(['unix', 'tcp'])('carries 2^64 − 1 and a 1 MiB string both ways over %s', async (kind) => {
    const backend = new ScriptedBackend();
    backend.commands.echo = (args) => ({ got: args, big: 2n ** 64n - 1n });
    const { server } = await served(backend, kind === 'unix' ? `unix:${dir.path('rt.qmp')}` : 'tcp:127.0.0.1:0');
    const qmp = await session(server.address);
    const text = 'x"\\é\n'.repeat(1024 * 1024 / 5) + '\u{1F600}';
    const args = { n: 2n ** 64n - 1n, text, nested: { neg: -(2n ** 63n) } };
    expect(await qmp.execute('echo', args)).toEqual({ got: args, big: 2n ** 64n - 1n });
  });
});

describe('connectQmp against QEMU', () => {
  it('talks to qemu-system-x86_64, and sees it quit', async (ctx) => {
    const qemu = await startQemu(requireQemu(ctx), dir);
    cleanups.push(qemu.kill);
    const qmp = await connectQmp(qemu.address);
    expect(qmp.greeting.capabilities).toEqual(['oob']);
    expect(qmp.greeting.version).toMatchObject({ qemu: { major: expect.any(BigInt) } });
    expect(await qmp.execute('query-status')).toMatchObject({ running: true, status: 'running' });
    await expect(qmp.execute('nope')).rejects.toMatchObject({ errorClass: 'CommandNotFound', desc: 'The command nope has not been found' });
    const events: string[] = [];
    qmp.onEvent((event) => events.push(event.event));
    expect(await qmp.execute('stop')).toEqual({});
    expect(events).toEqual(['STOP']);
    await qmp.execute('quit');
    expect(await qmp.closed).toEqual(failure('closed', /^QEMU closed the QMP connection at unix:/));
    expect(events).toEqual(['STOP', 'SHUTDOWN']);
  });
});
