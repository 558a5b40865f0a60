// A node:worker_threads worker that takes the Web Lock it is told to, says so, and holds it until
// it is terminated (the runtime suite checks what the other thread sees, and what termination does).
import { parentPort } from 'node:worker_threads';

// `on`, not `once`: a listening port keeps the worker alive. A Node worker with nothing left to
// wait for exits, which frees its locks, and a pending lock callback does not count.
parentPort.on('message', ({ name }) => {
  navigator.locks.request(name, () => {
    parentPort.postMessage('holding');
    return new Promise(() => {}); // never released by this worker
  });
});
