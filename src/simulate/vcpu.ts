/**
 * A destination vCPU after the postcopy switch: it runs the guest's access pattern (random pages at its share of the guest's rate) on the destination's RAM, faulting on pages that have not arrived.
 *
 * Its first access is the page the guest wrote last before it stopped on the source (a vCPU goes on
 * where it left off), which is always missing: that fault and its request are made before the
 * vCPU says it is ready, and no page is sent after the switch before every vCPU is ready. The
 * accesses read the page (so the destination stays equal to the source, to be compared at the end).
 * @packageDocumentation
 */
import { definePostcopyStats } from '../qemu/postcopy.js';
import { SLOT } from './control.js';
import { awaitPage, beginFault, faultIn, STOP_SLOT, vcpuStopped, vcpusStopping, type PostcopyShared } from './postcopy.js';
import type { VcpuInit } from './protocol.js';
import { generator } from './guest.js';
import { PAGE_BYTES } from './wire.js';

/** How long a vCPU sleeps between bursts of accesses, ms. */
const BURST_INTERVAL_MS = 1;

/**
 * Starts a vCPU: attaches the destination's postcopy stats and makes its first access.
 * @returns the loop to run once the migration thread has been told the vCPU is ready (it returns when told to stop)
 */
export async function startVcpu(init: VcpuInit): Promise<() => void> {
  const { shared, vcpu } = init;
  const stats = await definePostcopyStats(shared.vcpus).attach(init.postcopyStats, { backend: init.backend });
  const pages = shared.pages;
  const words = new Int32Array(init.destination, 0, init.destination.byteLength / 4);
  const next = generator((init.seed ^ Math.imul(vcpu + 1, 0x9e3779b9)) >>> 0);
  const abort = (): boolean => vcpusStopping(shared) || Atomics.load(init.control, SLOT.abort) !== 0;
  let sink = 0;
  const read = (page: number): void => {
    sink ^= words[page * (PAGE_BYTES / 4) + (next() % (PAGE_BYTES / 4))]!;
  };
  const touch = (page: number): boolean => {
    if (Atomics.load(shared.state, page) !== 0 && !faultIn(shared, stats, vcpu, page, abort)) return false;
    read(page);
    return true;
  };
  const first = init.firstPage >= 0 && init.firstPage < pages ? init.firstPage : -1;
  const waiting = first >= 0 && beginFault(shared, stats, vcpu, first);

  return () => {
    if (waiting && !awaitPage(shared, first, abort)) return stopped(shared, sink);
    if (first >= 0) read(first);
    const pagesPerMs = init.accessesPerSecond / 1000;
    const startMs = performance.now();
    let done = 0;
    while (!abort()) {
      const due = Math.floor((performance.now() - startMs) * pagesPerMs);
      // After a long fault, at most one access per page at once: the rest are of no interest.
      for (let n = Math.min(due - done, pages); n > 0; n--) if (!touch(next() % pages)) return stopped(shared, sink);
      done = due;
      Atomics.wait(shared.words, STOP_SLOT, 0, BURST_INTERVAL_MS);
    }
    stopped(shared, sink);
  };
}

/** Says the vCPU stopped (the value read keeps the reads from being optimised away). */
function stopped(shared: PostcopyShared, sink: number): void {
  if (sink === 0.5) throw new Error('unreachable');
  vcpuStopped(shared);
}
