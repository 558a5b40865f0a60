/**
 * Makes Node's `worker_threads` look like the browser's Web Workers, both from the thread that
 * starts a worker ({@link startWorker}) and from inside one ({@link parentPort}), so the simulator
 * runs unchanged in Node and in browsers.
 * @packageDocumentation
 */

/** A message as a listener receives it (the browser's `MessageEvent`, reduced to its data). */
export interface PortMessage {
  readonly data: unknown;
}

/** The part of a browser `Worker` the simulator uses. */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  /** Calls `onMessage` for each message, `onError` once if the worker fails. */
  listen(onMessage: (message: PortMessage) => void, onError: (error: Error) => void): void;
  terminate(): Promise<void>;
}

/** The part of a worker's global scope the simulator uses. */
export interface ParentPort {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  listen(onMessage: (message: PortMessage) => void): void;
}

/** Node's `worker_threads` module, as much of it as is used here. */
interface NodeWorkerThreads {
  Worker: new (url: URL, options?: { execArgv?: string[] }) => NodeWorker;
  parentPort: NodeEmitter | null;
}
interface NodeEmitter {
  on(event: 'message', listener: (data: unknown) => void): void;
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
}
interface NodeWorker extends NodeEmitter {
  on(event: 'message' | 'error' | 'exit', listener: (value: never) => void): void;
  terminate(): Promise<number>;
}

/** Browser globals, looked up without assuming a DOM. */
interface BrowserGlobals {
  Worker?: new (url: URL | string, options: { type: 'module' }) => Worker;
  postMessage?: (message: unknown, transfer?: Transferable[]) => void;
  addEventListener?: (type: 'message', listener: (event: MessageEvent) => void) => void;
  /** Defined in Web Workers only (dedicated, shared, service). */
  WorkerGlobalScope?: unknown;
}

const browser = globalThis as unknown as BrowserGlobals;

/** Imports Node's module by a computed name, so that browser bundlers leave it alone. */
function nodeWorkerThreads(): Promise<NodeWorkerThreads> {
  const name = ['node', 'worker_threads'].join(':');
  return import(/* @vite-ignore */ name) as Promise<NodeWorkerThreads>;
}

/** Node's flags that a worker keeps: how modules resolve, what the process may do, how it reports. */
const KEPT_FLAGS: ReadonlySet<string> = new Set([
  '--experimental-permission', '--permission', '--allow-worker', '--allow-child-process', '--allow-wasi', '--allow-addons',
  '--frozen-intrinsics', '--enable-source-maps', '--no-warnings', '--no-deprecation',
]);
/** The same, for flags with a value (`--flag=value`, or `--flag value` in two elements). */
const KEPT_WITH_VALUE: ReadonlySet<string> = new Set([
  '-C', '--conditions', '--allow-fs-read', '--allow-fs-write', '--experimental-policy', '--policy-integrity', '--disable-warning',
]);
/** Dropped flags whose value is the next element, whatever it looks like (`-e '-1'`). */
const DROPPED_WITH_VALUE: ReadonlySet<string> = new Set([
  '-e', '--eval', '-p', '--print', '-pe', '--input-type', '-r', '--require', '--import', '--loader', '--experimental-loader',
  '--inspect-port', '--debug-port', '--watch-path', '--env-file', '--title',
]);

/**
 * The Node flags a simulator worker is started with, from the process's own (`process.execArgv`).
 * A worker started without `execArgv` takes them all, and the main program's own then break it
 * (`node --input-type=module -e …`: `--input-type` without code to run) or run again in every
 * worker. Kept: `--conditions` (`-C`), so that modules resolve as in the thread that starts it;
 * the permission model (`--permission`, `--experimental-permission`, `--allow-…`), policies and
 * `--frozen-intrinsics`, which a worker does not inherit otherwise; `--enable-source-maps` and the
 * silenced warnings. Dropped: what runs the main program (`-e`, `-p`, `--input-type`, `-i`,
 * `--check`, `--test`, `--watch`), its preloads (`--import`, `--require`, `--loader`: the workers
 * run only this library), the debugger's (`--inspect…`: the process's inspector reaches workers as
 * they are), `--experimental-…` features (the workers use none), and V8's flags and the process's
 * own (`--max-old-space-size`, `--expose-gc`, `--title`), which Node refuses in a worker's
 * `execArgv` and which apply to every thread anyway.
 * @param flags - the process's flags, as `process.execArgv` lists them
 * @returns the flags to start a worker with
 */
export function nodeWorkerFlags(flags: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    const eq = flag.startsWith('--') ? flag.indexOf('=') : -1;
    const name = eq > 0 ? flag.slice(0, eq) : flag;
    if (KEPT_WITH_VALUE.has(name)) {
      kept.push(flag);
      if (eq < 0 && i + 1 < flags.length) kept.push(flags[++i]!);
    } else if (KEPT_FLAGS.has(name)) {
      kept.push(flag);
    } else if (eq < 0 && DROPPED_WITH_VALUE.has(name)) {
      i++;
    }
    // Any other flag is dropped, and so is a value of it in the next element (not a flag, so not kept).
  }
  return kept;
}

/** Starts a `worker_threads` Worker with {@link nodeWorkerFlags} of this process's flags. */
function nodeWorker(Worker: NodeWorkerThreads['Worker'], url: URL): NodeWorker {
  const execArgv = nodeWorkerFlags((globalThis as { process?: { execArgv?: string[] } }).process?.execArgv ?? []);
  try {
    return new Worker(url, { execArgv });
  } catch (error) {
    // A kept flag that this version of Node refuses in a worker (one of the process's own, then):
    // start it as Node does by default, with every flag of the process.
    if ((error as { code?: unknown } | null)?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(url);
  }
}

/**
 * Starts a worker from an ES module URL: a module Web Worker in browsers, a `worker_threads`
 * Worker in Node.
 * @param url - the worker's module (a `file:` URL in Node)
 */
export async function startWorker(url: URL): Promise<WorkerLike> {
  if (typeof browser.Worker === 'function') {
    const worker = new browser.Worker(url, { type: 'module' });
    // Listen from the start and keep what comes before listen(): Deno dispatches a worker's
    // messages as they arrive, between two microtasks, and an event that finds no listener is
    // lost (browsers queue them as tasks). An error's default report is suppressed at once: the
    // error goes to onError.
    const early: Event[] = [];
    let deliver: ((event: Event) => void) | undefined;
    const hold = (event: Event): void => {
      if (event.type === 'error') event.preventDefault();
      if (deliver) deliver(event);
      else early.push(event);
    };
    for (const type of ['message', 'error', 'messageerror']) worker.addEventListener(type, hold);
    return {
      postMessage: (message, transfer) => worker.postMessage(message, transfer ?? []),
      listen(onMessage, onError) {
        deliver = (event) => {
          if (event.type === 'message') onMessage({ data: (event as MessageEvent).data });
          else if (event.type === 'error') onError(new Error(`worker ${url.pathname.split('/').pop()} failed: ${(event as ErrorEvent).message || 'could not load'}`));
          else onError(new Error('a worker message could not be read'));
        };
        for (const event of early.splice(0)) deliver(event);
      },
      terminate: async () => worker.terminate(),
    };
  }
  const { Worker } = await nodeWorkerThreads();
  const worker = nodeWorker(Worker, url);
  let stopping = false;
  return {
    postMessage: (message, transfer) => worker.postMessage(message, transfer),
    listen(onMessage, onError) {
      let failed = false;
      worker.on('message', (data: unknown) => onMessage({ data }));
      worker.on('error', (error: Error) => {
        failed = true;
        onError(error);
      });
      // A worker that ends on its own (process.exit in it, an uncaught exit) sends no 'error': say
      // so, or whoever waits for its replies would wait forever.
      worker.on('exit', (code: number) => {
        if (!stopping && !failed) onError(new Error(`worker ${url.pathname.split('/').pop()} exited (code ${code}) while still needed`));
      });
    },
    terminate: async () => {
      stopping = true;
      await worker.terminate();
    },
  };
}

/** The current worker's link to the thread that started it. */
export async function parentPort(): Promise<ParentPort> {
  if (browser.WorkerGlobalScope !== undefined && browser.postMessage && browser.addEventListener) {
    const post = browser.postMessage.bind(globalThis);
    const on = browser.addEventListener.bind(globalThis);
    return {
      postMessage: (message, transfer) => post(message, transfer ?? []),
      listen: (onMessage) => on('message', (event) => onMessage({ data: event.data })),
    };
  }
  const port = (await nodeWorkerThreads()).parentPort;
  if (!port) throw new Error('parentPort(): this code runs in a worker only');
  return {
    postMessage: (message, transfer) => port.postMessage(message, transfer),
    listen: (onMessage) => port.on('message', (data) => onMessage({ data })),
  };
}
