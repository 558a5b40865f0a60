/**
 * The one worker script of the simulator, in Node and browsers: its first message says whether
 * it is the guest or a multifd channel.
 * @packageDocumentation
 */
import { startChannel, type ChannelHandler } from './channel.js';
import { runGuest } from './guest.js';
import type { ChannelInit, ChannelRequest, GuestInit, WorkerReply } from './protocol.js';
import { parentPort } from './worker-port.js';

const port = await parentPort();
const reply = (message: WorkerReply): void => port.postMessage(message);
const fail = (error: unknown): void => reply({ type: 'error', message: error instanceof Error ? error.message : String(error) });

let channel: ChannelHandler | undefined;
let starting = false;

port.listen(({ data }) => {
  try {
    if (channel) {
      const answer = channel(data as ChannelRequest);
      if (answer) reply(answer);
      return;
    }
    if (starting) throw new Error('a request arrived before the channel was ready');
    const init = data as GuestInit | ChannelInit;
    if (init.role === 'guest') {
      starting = true;
      runGuest(init, () => reply({ type: 'ready' }));
    } else {
      starting = true;
      startChannel(init).then(({ handle, ready }) => {
        channel = handle;
        reply(ready);
      }, fail);
    }
  } catch (error) {
    fail(error);
  }
});
reply({ type: 'alive' });
