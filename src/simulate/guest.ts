/**
 * The running guest: once its RAM is filled (boot.ts, by every worker in parallel), it keeps
 * writing to random pages at the configured rate, setting each page's bit in the shared dirty log
 * after the write, as KVM's dirty logging does. It runs in its own worker and never returns until
 * stopped.
 * @packageDocumentation
 */
import { SLOT } from './control.js';
import type { GuestInit } from './protocol.js';
import { PAGE_BYTES } from './wire.js';

/** Writes one catch-up may do at most, in RAM sizes: beyond 4× every page is dirty anyway (98%). */
const CATCH_UP_RAM_MULTIPLE = 4;
/** Pages {@link GuestInit.lastWrites} keeps: the last ones written, most recent at `(count − 1) % 64`. */
export const LAST_WRITES = 64;

/** How long the guest sleeps between bursts of writes when nothing wakes it, ms. */
const BURST_INTERVAL_MS = 1;

/** xorshift32: a small, fast, seeded generator (the guest's writes need no better). */
export function generator(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

/**
 * Runs the guest until the migration thread stops it (or aborts). Its RAM is already filled.
 * @param init - RAM, dirty log, control words and rates
 * @param ready - called once, when the guest is about to start writing
 */
export function runGuest(init: GuestInit, ready: () => void): void {
  const { control, dirtyLog, ramBytes } = init;
  const pages = ramBytes / PAGE_BYTES;
  const pageWords = PAGE_BYTES / 4;
  const bytes = new Uint8Array(init.ram.buffer, 0, ramBytes);
  const words = new Uint32Array(init.ram.buffer, 0, ramBytes / 4);
  const next = generator(init.seed);
  const zeroBelow = init.zeroShare * 2 ** 32;
  const { lastWrites } = init;
  let written = 0;

  const dirtyOne = (): void => {
    const page = next() % pages;
    if (next() < zeroBelow) {
      bytes.fill(0, page * PAGE_BYTES, (page + 1) * PAGE_BYTES);
    } else {
      words[page * pageWords + (next() % pageWords)] = next() | 1;
    }
    // After the write: a sync that clears this bit either sees the new data or sees the bit again.
    Atomics.or(dirtyLog, page >>> 5, 1 << (page & 31));
    // The last pages written, where the destination's vCPUs go on after a postcopy switch.
    lastWrites[1 + (written++ % LAST_WRITES)] = page;
    lastWrites[0] = written;
  };

  const pagesPerMs = init.dirtyPagesPerSecond / 1000;
  const cap = CATCH_UP_RAM_MULTIPLE * pages;
  const startMs = performance.now();
  let done = 0;
  const catchUp = (): void => {
    if (pagesPerMs === 0) return;
    const due = Math.floor((performance.now() - startMs) * pagesPerMs);
    // A guest starved of CPU catches up on its schedule, but no more than `cap` writes at once.
    for (let n = Math.min(due - done, cap); n > 0; n--) dirtyOne();
    done = due;
  };

  ready();
  for (;;) {
    // Read the bell first: a request made after this read changes it, so the wait below returns.
    const bell = Atomics.load(control, SLOT.guestBell);
    const request = Atomics.load(control, SLOT.guestSyncRequest);
    const stop = Atomics.load(control, SLOT.guestStop);
    // Writes due by the time of a sync request are all in the log when it is answered.
    catchUp();
    if (request !== Atomics.load(control, SLOT.guestSyncAck)) {
      Atomics.store(control, SLOT.guestSyncAck, request);
      Atomics.notify(control, SLOT.guestSyncAck);
    }
    if (stop !== 0) {
      Atomics.store(control, SLOT.guestStopped, 1);
      Atomics.notify(control, SLOT.guestStopped);
      return;
    }
    if (Atomics.load(control, SLOT.abort) !== 0) return;
    Atomics.wait(control, SLOT.guestBell, bell, pagesPerMs === 0 ? Infinity : BURST_INTERVAL_MS);
  }
}
