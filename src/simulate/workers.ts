/**
 * The migration thread's side of its workers: start one, have it fill part of the booting guest's
 * RAM, hand it its init message, route its replies, and turn any failure into one error that every
 * pending wait sees.
 * @packageDocumentation
 */
import type { ChannelInit, ChannelRequest, FillRequest, GuestInit, VcpuInit, WorkerReply } from './protocol.js';
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
  /** `filled`, `ready` and `verify` replies, in arrival order (packets and sync replies go to `onReply`). */
  readonly answers: WorkerReply[] = [];
  readonly #worker: WorkerLike;
  readonly #signals: Signals;

  private constructor(name: string, worker: WorkerLike, signals: Signals) {
    this.name = name;
    this.#worker = worker;
    this.#signals = signals;
  }

  /**
   * Starts a worker and waits until it listens; it has no role until {@link SimWorker.init}.
   * @param onReply - called with each `packets` and `sync` reply
   * @param started - the list of every started worker, which this one joins (to stop them all)
   */
  static async spawn(
    url: URL,
    name: string,
    signals: Signals,
    onReply: (worker: SimWorker, reply: WorkerReply) => void,
    started: SimWorker[],
  ): Promise<SimWorker> {
    const worker = new SimWorker(name, await startWorker(url), signals);
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
          case 'packets':
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
    return worker;
  }

  /** Gives the worker its role and waits for its `ready` (a channel has then sent its handshake). */
  async init(init: GuestInit | ChannelInit | VcpuInit): Promise<void> {
    await this.#ask(init, 'ready');
  }

  /** Fills pages of the booting guest's RAM, before the worker has a role. */
  async fill(request: FillRequest): Promise<void> {
    await this.#ask(request, 'filled');
  }

  /** The `ready` reply. */
  get ready(): WorkerReply | undefined {
    return this.answers.find((a) => a.type === 'ready');
  }

  /** Sends a request to a channel. */
  request(request: ChannelRequest): void {
    this.outstanding++;
    this.#worker.postMessage(request, request.type === 'packets' ? [request.pages.buffer] : []);
  }

  /** Switches a channel to postcopy and waits until it has joined the destination's stats. */
  async switchToPostcopy(request: Extract<ChannelRequest, { type: 'postcopy' }>): Promise<void> {
    await this.#ask(request, 'postcopy');
  }

  /** Asks for a verification (of a channel, or of the stopped guest) and waits for its answer. */
  async verify(firstPage: number, pageCount: number): Promise<number> {
    const answer = await this.#ask({ type: 'verify', firstPage, pageCount } satisfies ChannelRequest, 'verify');
    return answer.type === 'verify' ? answer.firstMismatchPage : -1;
  }

  /** Posts a message and waits for the next reply of type `type` (taken out of the answers, but `ready`). */
  async #ask(message: unknown, type: 'ready' | 'filled' | 'verify' | 'postcopy'): Promise<WorkerReply> {
    this.#worker.postMessage(message);
    let at = -1;
    await this.#signals.until(() => (at = this.answers.findIndex((a) => a.type === type)) >= 0);
    return type === 'ready' ? this.answers[at]! : this.answers.splice(at, 1)[0]!;
  }

  /** Stops the worker. */
  terminate(): Promise<void> {
    return this.#worker.terminate();
  }
}
