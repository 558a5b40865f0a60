import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nodeWorkerFlags, startWorker } from '../dist/simulate/worker-port.js';

const ROOT = new URL('..', import.meta.url).pathname;

/** Runs `node ...flags` in the package's directory (where `migration-stats/simulate` is the package itself). */
function node(flags: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, flags, { cwd: ROOT }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A tiny migration that converges whatever the machine's speed (the guest dirties nothing). */
const SIMULATE = [
  "import { simulateMigration } from 'migration-stats/simulate';",
  'const result = await simulateMigration({ ramBytes: 65536, dirtyBytesPerSecond: 0, channels: 2 });',
  'console.log(result.status, result.verified);',
].join('\n');

describe("the simulator's workers and Node's flags", () => {
  it('runs from node --input-type=module -e: the main program\'s flags do not reach the workers', async () => {
    const run = await node(['--input-type=module', '-e', SIMULATE]);
    expect(run).toEqual({ code: 0, stdout: 'completed true\n', stderr: '' });
  });

  it('keeps the permission model and silenced warnings in the workers', async () => {
    const permission = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
    const flags = ['--no-warnings', permission, '--allow-fs-read=*', '--allow-worker'];
    const report = [
      "import { startWorker } from './dist/simulate/worker-port.js';",
      "const worker = await startWorker(new URL('./test/fixtures/flags-worker.mjs', 'file://' + process.cwd() + '/'));",
      'worker.listen(({ data }) => { console.log(JSON.stringify(data)); void worker.terminate(); }, (error) => { throw error; });',
    ].join('\n');
    const started = await node([...flags, '--input-type=module', '-e', report]);
    expect(started).toEqual({ code: 0, stdout: `${JSON.stringify({ execArgv: flags, mayWrite: false })}\n`, stderr: '' });
    // The simulator under it: its workers read their modules and write nothing (a warning would show on stderr).
    const run = await node([...flags, '--input-type=module', '-e', SIMULATE]);
    expect(run).toEqual({ code: 0, stdout: 'completed true\n', stderr: '' });
  });

  it.each([
    [['--input-type=module', '-e', 'code'], []],
    [['--input-type', 'module', '--eval', '-1'], []],
    [['-pe', 'process.execArgv'], []],
    [['--print', 'x', '-i', '--check', '--test', '--watch', '--watch-path', 'src'], []],
    [['--inspect', '--inspect-brk=0', '--inspect-port', '9230', '--debug-port=9231', '--inspect-wait'], []],
    [['--import', 'tsx', '-r', 'dotenv/config', '--require=x', '--loader', 'ts-node/esm', '--experimental-loader=y'], []],
    [['--max-old-space-size=100', '--expose-gc', '--stack-trace-limit=5', '--title=x', '--experimental-vm-modules'], []],
    [['-C', 'dev', '--conditions', 'browser', '--conditions=node'], ['-C', 'dev', '--conditions', 'browser', '--conditions=node']],
    [
      ['--experimental-permission', '--allow-fs-read=/a', '--allow-fs-read', '/b', '--allow-fs-write=/c', '--allow-worker', '--allow-child-process'],
      ['--experimental-permission', '--allow-fs-read=/a', '--allow-fs-read', '/b', '--allow-fs-write=/c', '--allow-worker', '--allow-child-process'],
    ],
    [['--permission', '--allow-wasi', '--allow-addons', '--frozen-intrinsics'], ['--permission', '--allow-wasi', '--allow-addons', '--frozen-intrinsics']],
    [['--experimental-policy', 'p.json', '--policy-integrity=sha384-x'], ['--experimental-policy', 'p.json', '--policy-integrity=sha384-x']],
    [['--enable-source-maps', '--no-warnings', '--disable-warning=ExperimentalWarning', '--no-deprecation'], ['--enable-source-maps', '--no-warnings', '--disable-warning=ExperimentalWarning', '--no-deprecation']],
    [['--expose-gc', '-C', 'dev', '-e', 'x', '--no-warnings', '--import', 'y'], ['-C', 'dev', '--no-warnings']],
  ])('gives a worker %j as %j', (flags, kept) => {
    expect(nodeWorkerFlags(flags)).toEqual(kept);
  });
});

describe('the worker adapter in Node', () => {
  it('reports a worker that exits on its own instead of leaving its caller waiting', async () => {
    const worker = await startWorker(new URL('./fixtures/exiting-worker.mjs', import.meta.url));
    const error = await new Promise<Error>((resolve) => worker.listen(() => {}, resolve));
    expect(error.message).toBe('worker exiting-worker.mjs exited (code 3) while still needed');
  });

  it('stays quiet when its caller terminates the worker', async () => {
    const worker = await startWorker(new URL('./fixtures/echo-worker.mjs', import.meta.url));
    const errors: Error[] = [];
    worker.listen(() => {}, (e) => errors.push(e));
    await worker.terminate();
    // terminate() resolves once the thread is gone; its exit event is emitted by then.
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual([]);
  });
});

describe('the worker adapter with Web Workers', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  /** A Web Worker that posts at once, before the next task, as a Deno worker's messages can arrive. */
  class EarlyWorker extends EventTarget {
    constructor() {
      super();
      queueMicrotask(() => this.dispatchEvent(new MessageEvent('message', { data: 'alive' })));
      queueMicrotask(() => this.dispatchEvent(Object.assign(new Event('error', { cancelable: true }), { message: 'boom' })));
    }
    postMessage(): void {}
    terminate(): void {}
  }

  it('keeps what the worker sends before listen() and delivers it then, errors included', async () => {
    vi.stubGlobal('Worker', EarlyWorker);
    const worker = await startWorker(new URL('file:///tmp/early-worker.js'));
    for (let i = 0; i < 5; i++) await Promise.resolve(); // the simulator awaits before it listens
    const messages: unknown[] = [];
    const errors: string[] = [];
    worker.listen(
      ({ data }) => messages.push(data),
      (error) => errors.push(error.message),
    );
    expect(messages).toEqual(['alive']);
    expect(errors).toEqual(['worker early-worker.js failed: boom']);
  });
});
