/**
 * The one worker script of the simulator, in Node and browsers: it first fills its share of the
 * booting guest's RAM when asked, then its init message says whether it is the guest, a
 * multifd channel or (after a postcopy switch) one of the destination's vCPUs.
 * @packageDocumentation
 */
import { fillBootChunks } from './boot.js';
import { startChannel, type ChannelHandler } from './channel.js';
import { runGuest } from './guest.js';
import type { ChannelInit, ChannelRequest, FillRequest, GuestInit, VcpuInit, WorkerReply } from './protocol.js';
import { startVcpu } from './vcpu.js';
import { pageComparer } from './verify.js';
import { parentPort } from './worker-port.js';

const port = await parentPort();
const reply = (message: WorkerReply): void => port.postMessage(message);
const fail = (error: unknown): void => reply({ type: 'error', message: error instanceof Error ? error.message : String(error) });

/** Answers requests once the role has started: a channel's, or the stopped guest's verification. */
let handler: ChannelHandler | undefined;
let starting = false;

/** Runs the guest; once it has stopped, its worker answers verification requests. */
async function guest(init: GuestInit): Promise<void> {
  const comparer = await pageComparer(init.ram.buffer, init.destination, init.ramBytes);
  runGuest(init, () => reply({ type: 'ready' }));
  handler = (request) => {
    if (request.type !== 'verify') throw new Error(`the stopped guest was sent a ${request.type} request`);
    return { type: 'verify', firstMismatchPage: comparer.firstMismatch(request.firstPage, request.pageCount) };
  };
}

port.listen(({ data }) => {
  try {
    if (handler) {
      const answer = handler(data as ChannelRequest);
      if (answer instanceof Promise) answer.then(reply, fail);
      else if (answer) reply(answer);
      return;
    }
    if (starting) throw new Error('a request arrived before the worker was ready');
    const message = data as FillRequest | GuestInit | ChannelInit | VcpuInit;
    if ('type' in message) {
      fillBootChunks({ ...message, ram: message.ram.buffer }, message.next);
      reply({ type: 'filled' });
    } else if (message.role === 'guest') {
      starting = true;
      guest(message).catch(fail);
    } else if (message.role === 'vcpu') {
      starting = true;
      // The vCPU blocks its thread from here on, until it is told to stop.
      startVcpu(message).then((run) => {
        reply({ type: 'ready' });
        run();
      }, fail);
    } else {
      starting = true;
      startChannel(message).then(({ handle, ready }) => {
        handler = handle;
        reply(ready);
      }, fail);
    }
  } catch (error) {
    fail(error);
  }
});
reply({ type: 'alive' });
