/**
 * How the suite waits. A test never waits for a duration and never fails because something was
 * slow: it waits for an event (a message, a line of output, a page's state), and stops at once
 * when the thing it waits on fails (an error, an exit). Only where nothing would ever say "it
 * hangs" is there a limit, {@link SAFETY_NET_MS}: minutes, far above any run on a busy machine,
 * so that reaching it means a hang, never a slow machine.
 */
import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';

/**
 * The limit of a wait that no event can end (a server that never answers, a page that never gets
 * there): 4 minutes. A hung run fails with the wait's own message; a slow one never gets here (the
 * slowest wait of a run with two CPU-bound processes beside `npm test` is a few seconds). It stays
 * under vitest's `testTimeout` (vitest.config.ts), so the message naming what was awaited is the
 * one that is shown.
 */
export const SAFETY_NET_MS = 4 * 60_000;

/**
 * Waits for `event` on `emitter` (with `accept`, the first one it accepts) and resolves with the
 * event's arguments. Fails at once when one of `failOn` comes first (by default `error`, and
 * `exit` as a worker or a child process emits it): with the error an `error` event carries, as it
 * is, or else an Error naming what was awaited and the event that came instead. No time limit:
 * the event, or the failure, ends the wait.
 * @param what - what is awaited, for the error message
 */
export function waitForEvent<A extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  what: string,
  options: { accept?: (...args: A) => boolean; failOn?: readonly string[] } = {},
): Promise<A> {
  const { accept = () => true, failOn = ['error', 'exit'] } = options;
  return new Promise<A>((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      let accepted: boolean;
      try {
        accepted = accept(...(args as A));
      } catch (error) {
        emitter.off(event, listener);
        reject(error);
        return;
      }
      if (!accepted) return;
      emitter.off(event, listener);
      resolve(args as A);
    };
    emitter.on(event, listener);
    // Once each, and left in place when the event came first (then they change nothing): an
    // `error` event after it is not thrown as an unhandled one.
    for (const name of failOn) {
      emitter.once(name, (...args: unknown[]) => {
        emitter.off(event, listener);
        reject(args[0] instanceof Error ? args[0] : new Error(`${what}: '${name}' (${args.map(String).join(', ')}) came first`));
      });
    }
  });
}

/**
 * Waits until `find` finds something in what `child` has written so far (stdout and stderr
 * together, as {@link output} returns it), looking again at each chunk the child writes. Fails at
 * once when the child ends (its streams closed) without writing it, with its output.
 * @param output - everything the child has written so far
 * @param find - returns undefined while what is awaited is not there
 */
export function waitForOutput<T>(child: ChildProcess, output: () => string, what: string, find: (output: string) => T | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const streams = [child.stdout, child.stderr].filter((stream) => stream !== null);
    const done = () => {
      for (const stream of streams) stream.off('data', look);
      child.off('close', ended);
      child.off('error', failed);
    };
    // Called after the test's own 'data' listeners (they were added first), so output() has the chunk.
    function look(): void {
      let found: T | undefined;
      try {
        found = find(output());
      } catch (error) {
        done();
        reject(error);
        return;
      }
      if (found === undefined) return;
      done();
      resolve(found);
    }
    function ended(code: number | null, signal: NodeJS.Signals | null): void {
      look();
      done();
      reject(new Error(`${what}: the program ended (code ${code}, signal ${signal}) without it; its output: ${output() || '(nothing)'}`));
    }
    function failed(error: Error): void {
      done();
      reject(new Error(`${what}: the program failed: ${error.message}`, { cause: error }));
    }
    for (const stream of streams) stream.on('data', look);
    child.once('close', ended);
    child.once('error', failed);
    look();
    // Already over, its streams closed (its 'close' may have been emitted before this wait began).
    const over = (child.exitCode !== null || child.signalCode !== null) && streams.every((stream) => stream.destroyed || stream.readableEnded);
    if (over) ended(child.exitCode, child.signalCode);
  });
}

/**
 * Asks `probe` again and again, `pauseMs` apart, until it returns something other than undefined,
 * for what only a question answers (is the server up yet? has Prometheus scraped the final
 * counts?). A probe that throws counts as "not yet", and its message is kept for the error. Never
 * asserts on how long it took: `limitMs` is a safety net against a hang ({@link SAFETY_NET_MS}),
 * and `stop` ends the wait at once when what it waits on has failed (a process that exited).
 * @param what - what is awaited, for the error message
 * @param stop - returns a reason to give up now (a failure), or undefined to go on
 * @throws Error naming what was awaited and the last thing seen
 */
export async function poll<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { pauseMs?: number; limitMs?: number; stop?: () => string | undefined } = {},
): Promise<T> {
  const { pauseMs = 250, limitMs = SAFETY_NET_MS, stop = () => undefined } = options;
  const started = Date.now();
  let last: unknown = 'not yet';
  for (let tries = 1; ; tries++) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = 'not yet';
    } catch (error) {
      last = error;
    }
    const reason = stop();
    if (reason !== undefined) throw new Error(`${what}: gave up, ${reason}; last: ${describe(last)}`);
    if (Date.now() - started >= limitMs) {
      throw new Error(`${what}: still not there after ${tries} tries over ${Math.round(limitMs / 1000)} s (a hang: this limit is a safety net); last: ${describe(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

function describe(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}

/**
 * Waits for the first whole line of `program`'s output that is a JSON object with the property
 * `key` (the fixtures that serve /metrics report so: `{ "port": … }`, `{ "done": true, … }`), as
 * {@link waitForOutput} does, and resolves with it.
 * @param program - a child and its output so far, as test/tools.ts's `start` returns them
 */
export function waitForJsonLine(program: { child: ChildProcess; output: () => string }, what: string, key: string): Promise<Record<string, unknown>> {
  return waitForOutput(program.child, program.output, what, (text) =>
    text
      .split('\n')
      .slice(0, -1) // whole lines only: the last piece may still be coming
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => key in line),
  );
}
