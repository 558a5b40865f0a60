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
  Worker: new (url: URL) => NodeWorker;
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
  const worker = new Worker(url);
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
