/**
 * The simulator's control words: a small shared `Int32Array` through which the migration thread,
 * the guest and the channels coordinate, and the two ways of waiting on it (blocking in workers,
 * promise-based on any thread, including a page's main thread where `Atomics.wait` throws).
 * @packageDocumentation
 */

/** Named slots of the control array. */
export const SLOT = {
  /** 0 free, 1 held. Held while a sender checks the rate-limit window and counts its bytes, and
   *  while the migration thread closes a window: so no window sends more than its budget plus one
   *  send, whatever the number of channels. */
  sendLock: 0,
  /** +1 each time a window closes or the limit changes; a sender whose window is spent waits on it. */
  windowEpoch: 1,
  /** +1 for every request to the guest; the guest sleeps on it between bursts of writes. */
  guestBell: 2,
  /** Number of the last bitmap sync requested of the guest. */
  guestSyncRequest: 3,
  /** Number of the last bitmap sync the guest has caught up for. */
  guestSyncAck: 4,
  /** 1: the guest must stop (the switch-over). */
  guestStop: 5,
  /** 1: the guest has stopped writing. */
  guestStopped: 6,
  /** 1: the migration is over or failed; every waiter gives up. */
  abort: 7,
} as const;

/** Int32 slots in the control array. */
export const CONTROL_SLOTS = 8;

/** Makes a zeroed control array in shared memory. */
export function createControl(): Int32Array<SharedArrayBuffer> {
  return new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
}

/** Makes a shared counter at 0 (one `Int32Array` slot), for threads that claim work from it. */
export function createCounter(): Int32Array<SharedArrayBuffer> {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** Takes the send lock, sleeping while another thread holds it (workers only). */
export function lockBlocking(control: Int32Array): void {
  while (Atomics.compareExchange(control, SLOT.sendLock, 0, 1) !== 0) {
    Atomics.wait(control, SLOT.sendLock, 1);
  }
}

/** Releases the send lock and wakes one thread waiting for it. */
export function unlock(control: Int32Array): void {
  Atomics.store(control, SLOT.sendLock, 0);
  Atomics.notify(control, SLOT.sendLock, 1);
}

/** `Atomics.waitAsync` (ES2024), typed here because the project's `lib` is ES2022. */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/**
 * Resolves once `control[slot]` is no longer `value`, or after `timeoutMs`. Never blocks the
 * thread: `Atomics.waitAsync` where the engine has it, else a timer poll.
 */
export async function waitAsyncWhile(control: Int32Array, slot: number, value: number, timeoutMs: number): Promise<void> {
  if (Atomics.load(control, slot) !== value) return;
  if (waitAsync) {
    const result = waitAsync(control, slot, value, timeoutMs);
    if (result.async) await result.value;
    return;
  }
  await new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 1)));
}

/** Takes the send lock from a thread that must not block (a page's main thread, the CLI's loop). */
export async function lockAsync(control: Int32Array): Promise<void> {
  for (;;) {
    // The lock is held for a few hundred nanoseconds at a time: a short spin nearly always wins.
    for (let spin = 0; spin < 1000; spin++) {
      if (Atomics.compareExchange(control, SLOT.sendLock, 0, 1) === 0) return;
    }
    await waitAsyncWhile(control, SLOT.sendLock, 1, 5);
  }
}

/** Adds 1 to a slot and wakes every thread waiting on it. */
export function bump(control: Int32Array, slot: number): void {
  Atomics.add(control, slot, 1);
  Atomics.notify(control, slot);
}
