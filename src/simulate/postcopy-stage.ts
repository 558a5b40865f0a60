/**
 * The postcopy stages of the migration thread: the switch (QEMU's `postcopy_start`), at the
 * iteration after `migrate-start-postcopy`, and the postcopy stage that sends the rest while the
 * destination's vCPUs run and fault (postcopy.ts holds what they share).
 * @packageDocumentation
 */
import { waitAsyncWhile } from './control.js';
import { LAST_WRITES } from './guest.js';
import { NO_REQUEST, PAGE, STOPPED_SLOT, stopVcpus, takeRequest } from './postcopy.js';
import type { MigrationCore } from './core.js';
import type { SimulationStatus } from './types.js';
import { MAIN_STREAM, PAGE_BYTES } from './wire.js';
import { BUFFER_DELAY } from '../stats.js';

/** What the postcopy stages take of the migration thread (stages.ts's `Migration`): its means of sending, and its status steps. */
export interface PostcopyMigration extends MigrationCore {
  setStatus(status: SimulationStatus): void;
  /** QEMU's `migration_maybe_pause`. */
  maybePause(next: SimulationStatus): Promise<void>;
  /** When the downtime began (ms on the migration's clock). */
  downtimeStartMs: number;
}

/**
 * The postcopy switch: the status becomes `postcopy-active` and the guest stops (with
 * `pause-before-switchover`: the guest stops, `pre-switchover` until `migrate-continue`, then
 * `postcopy-active`), the limit becomes `max-postcopy-bandwidth` (unlimited by
 * default), a last bitmap sync; every page still dirty (those of the pass it interrupted, and
 * those dirtied since) is discarded on the destination (missing) and left to send; the channels
 * switch to the postcopy stream; the destination's vCPUs start, each first touching a page the
 * guest wrote last (a fault, whose request is on the return path before the vCPU is ready). The
 * downtime ends when every vCPU runs.
 */
export async function startPostcopy(m: PostcopyMigration): Promise<void> {
  const shared = m.postcopyShared!;
  const { settings } = m;
  // A pass the switch interrupted is not counted as done.
  const passesBeforeSwitch = m.bitmap.count === 0 ? m.passes : m.passes - 1;
  // QEMU's postcopy_start: postcopy-active before the guest stops, or after pre-switchover with
  // pause-before-switchover; then the limit, and the sync that finds what is left.
  if (!m.caps.pauseBeforeSwitchover) m.setStatus('postcopy-active');
  await m.stopGuest();
  m.downtimeStartMs = m.clock();
  await m.maybePause('postcopy-active');
  await m.setRateLimit(m.params.maxPostcopyBandwidth);
  await m.sync();
  m.postcopyCounts = { passesBeforeSwitch, missingPages: m.bitmap.count, requestsTaken: 0, requestedPagesSent: 0, normal: 0, zero: 0 };
  m.bitmap.copyTo(shared.toSend, (page) => Atomics.store(shared.state, page, PAGE.MISSING));
  const postcopyStats = m.destinationStats!.handle;
  await Promise.all(m.channels.map((channel) => channel.switchToPostcopy({ type: 'postcopy', shared, postcopyStats })));
  const written = Atomics.load(m.lastWrites, 0);
  const recorded = Math.min(written, LAST_WRITES);
  await Promise.all(
    m.vcpuWorkers.map((worker, vcpu) =>
      worker.init({
        role: 'vcpu',
        vcpu,
        postcopyStats,
        backend: settings.backend,
        shared,
        destination: m.destination,
        control: m.control,
        // vCPU i goes on at the i-th most recent write (the most recent ones again when fewer were made).
        firstPage: recorded === 0 ? -1 : Atomics.load(m.lastWrites, 1 + ((((written - 1 - (vcpu % recorded)) % LAST_WRITES) + LAST_WRITES) % LAST_WRITES)),
        accessesPerSecond: settings.dirtyBytesPerSecond / PAGE_BYTES / settings.vcpus,
        seed: settings.seed,
      }),
    ),
  );
  m.postcopyDowntimeMs = m.clock() - m.downtimeStartMs;
  m.progress();
}

/**
 * The postcopy stage: the background stream, every page left, with requested pages first (the
 * channels take requests before each page); then the vCPUs stop, the requests still on the return
 * path reach the source (their pages were sent already), and the stream ends.
 */
export async function runPostcopy(m: PostcopyMigration): Promise<void> {
  const shared = m.postcopyShared!;
  m.progress();
  await m.sendPass(false);
  stopVcpus(shared);
  for (;;) {
    const stopped = Atomics.load(shared.words, STOPPED_SLOT);
    if (stopped === m.vcpuWorkers.length) break;
    await waitAsyncWhile(shared.words, STOPPED_SLOT, stopped, BUFFER_DELAY);
    if (m.signals.failure) throw m.signals.failure;
  }
  for (let page = takeRequest(shared); page !== NO_REQUEST; page = takeRequest(shared)) {
    m.stats.postcopyRequests.add(1);
    m.postcopyCounts!.requestsTaken++;
  }
  await m.sendMain(MAIN_STREAM.postcopyEndBytes, true);
  await m.sendMain(MAIN_STREAM.streamEndBytes, false);
}
