/**
 * The migration thread's side of its workers: start one, hand it its init message, route its
 * replies, and turn any failure into one error that every pending wait sees.
 * @packageDocumentation
 */
import type { ChannelInit, ChannelRequest, GuestInit, WorkerReply } from './protocol.js';
import { startWorker, type WorkerLike } from './worker-port.js';

/** Wakes waiters when something changed, and fails them all at once when a worker fails. */
export class Signals {
  #waiters: (() => void)[] = [];
  /** The first failure, if any; every wait rejects with it from then on. */
  failure: Error | undefined;

  /** Wakes every waiter so it checks its condition again. */
  changed(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Records the first failure and wakes every waiter. */
  fail(error: Error): void {
    this.failure ??= error;
    this.changed();
  }

  /** Resolves when `condition()` holds; rejects on a failure. */
  async until(condition: () => boolean): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (condition()) return;
      await new Promise<void>((wake) => this.#waiters.push(wake));
    }
  }
}

/** One started worker (the guest or a channel) as the migration thread sees it. */
export class SimWorker {
  readonly name: string;
  /** Requests sent and not yet answered. */
  outstanding = 0;
  /** `ready` and `verify` replies, in arrival order (packet and sync replies go to `onReply`). */
  readonly answers: WorkerReply[] = [];
  readonly #worker: WorkerLike;

  private constructor(name: string, worker: WorkerLike) {
    this.name = name;
    this.#worker = worker;
  }

  /**
   * Starts a worker, waits until it listens, sends it `init` and waits for its `ready`.
   * @param onReply - called with each `packet` and `sync` reply
   */
  static async start(
    url: URL,
    name: string,
    init: GuestInit | ChannelInit,
    signals: Signals,
    onReply: (worker: SimWorker, reply: WorkerReply) => void,
    started: SimWorker[],
  ): Promise<SimWorker> {
    const worker = new SimWorker(name, await startWorker(url));
    started.push(worker);
    let alive = false;
    worker.#worker.listen(
      ({ data }) => {
        const reply = data as WorkerReply;
        switch (reply.type) {
          case 'alive':
            alive = true;
            break;
          case 'error':
            signals.fail(new Error(`${name}: ${reply.message}`));
            return;
          case 'packet':
          case 'sync':
            worker.outstanding--;
            onReply(worker, reply);
            break;
          default:
            worker.answers.push(reply);
        }
        signals.changed();
      },
      (error) => signals.fail(new Error(`${name}: ${error.message}`)),
    );
    await signals.until(() => alive);
    worker.#worker.postMessage(init);
    await signals.until(() => worker.answers.some((a) => a.type === 'ready'));
    return worker;
  }

  /** The `ready` reply. */
  get ready(): WorkerReply | undefined {
    return this.answers.find((a) => a.type === 'ready');
  }

  /** Sends a request to a channel. */
  request(request: ChannelRequest): void {
    this.outstanding++;
    this.#worker.postMessage(request, request.type === 'packet' ? [request.pages.buffer] : []);
  }

  /** Asks for a verification and waits for its answer. */
  async verify(firstPage: number, pageCount: number, signals: Signals): Promise<number> {
    this.#worker.postMessage({ type: 'verify', firstPage, pageCount } satisfies ChannelRequest);
    let at = -1;
    await signals.until(() => (at = this.answers.findIndex((a) => a.type === 'verify')) >= 0);
    const [answer] = this.answers.splice(at, 1);
    return answer?.type === 'verify' ? answer.firstMismatchPage : -1;
  }

  /** Stops the worker. */
  terminate(): Promise<void> {
    return this.#worker.terminate();
  }
}
