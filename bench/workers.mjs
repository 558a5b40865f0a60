// Talking to the bench's worker threads: start one, ask it something, wait for its reply.
//
// Every bench worker posts one message when it is ready and then answers each message it gets
// with exactly one reply, so a request is a postMessage followed by waiting for the next message.
// A worker that fails or exits while a reply is awaited rejects that wait instead of hanging it.
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker and waits until it has posted its first message.
 * @param url - the worker module (a URL, e.g. `new URL('../single-worker.mjs', import.meta.url)`)
 * @param workerData - what the worker receives as `workerData`
 * @returns the worker and its first message
 * @throws Error when the worker fails or exits before its first message
 */
export async function start(url, workerData) {
  const worker = new Worker(url, { workerData });
  const first = await next(worker);
  return { worker, first };
}

/**
 * The next message of a worker.
 * @param worker - a running worker
 * @returns a promise of the message
 * @throws Error (the promise rejects) when the worker fails or exits first
 */
export function next(worker) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      off();
      resolve(m);
    };
    const onError = (e) => {
      off();
      reject(e);
    };
    const onExit = (code) => {
      off();
      reject(new Error(`worker exited (${code})`));
    };
    const off = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Sends a message to a worker and waits for its reply.
 * @param worker - a running worker
 * @param message - the request
 * @returns the worker's next message
 * @throws Error when the worker fails or exits before replying
 */
export async function ask(worker, message) {
  const reply = next(worker);
  worker.postMessage(message);
  return reply;
}

/**
 * Rotates a list by `k` places, so that each round starts with a different implementation.
 * @param list - the implementations, in their usual order
 * @param k - the round number
 * @returns a new list, `list[k % n]` first
 */
export const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);
