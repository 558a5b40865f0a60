/**
 * Postcopy's shared state across the destination's vCPU workers and the source's sending channels: per-page states, the return path, and QEMU's blocktime accounting.
 *
 * After the switch a page of the destination is `PRESENT`, `MISSING` (discarded: dirty on the
 * source when the guest stopped) or `REQUESTED` (missing, and a vCPU has asked the source for it).
 * A vCPU that touches a page that is not present faults ({@link faultIn}): it takes the blocktime
 * lock, turns `MISSING` into `REQUESTED` with one compare-exchange (the one vCPU that wins sends
 * the page request on the return path: one request per page), records the fault as QEMU's
 * `mark_postcopy_blocktime_begin()` does, and sleeps on the page's state (`Atomics.wait`). Whoever
 * writes a page to the destination ({@link landPage}) makes it `PRESENT`; when it was
 * `REQUESTED` it ends every fault on it under the same lock, as QEMU's
 * `mark_postcopy_blocktime_end()` does, then wakes the sleepers. The lock orders every begin of a
 * fault before its end: a vCPU that saw the page not present holds the lock until its fault is
 * recorded, and a lander that saw `REQUESTED` takes the lock and makes the page present only
 * under it, so a woken vCPU cannot fault again before its fault on that page has ended.
 *
 * Overlapped blocktime (QEMU's `total_blocktime`): a shared count of blocked vCPUs
 * (`smp_cpus_down`) and the time the last of them became blocked (`last_begin`), both under the
 * lock; when a page frees vCPUs while all of them were blocked, the time since `last_begin` is
 * added. Each vCPU blocks on one page at a time, so its count of current faults
 * (`vcpu_faults_current`) is 0 or 1: the page it waits for, or −1.
 *
 * The source's pages to send are a shared bitmap; the background stream and the request path both
 * clear a page's bit atomically before sending it (QEMU's test-and-clear of its dirty bitmap), so
 * each page goes out once, whichever path takes it first.
 * @packageDocumentation
 */

/** A page's state on the destination after the switch. */
export const PAGE = { PRESENT: 0, MISSING: 1, REQUESTED: 2 } as const;

/** Slots of {@link PostcopyShared.words} before the per-vCPU ones. */
const W = {
  lock: 0,
  /** vCPUs blocked right now (QEMU's `smp_cpus_down`). */
  down: 1,
  /** 1: the vCPUs must stop (the migration completed). */
  stop: 2,
  /** vCPUs that have stopped. */
  stopped: 3,
  /** Requests in the mailboxes, not yet taken by the source. */
  pending: 4,
  /**
   * Requests a vCPU's next request replaced in its mailbox before the source took them (their page
   * came by the background stream first): still on the return path, each taken as one request.
   */
  replaced: 5,
  header: 8,
} as const;

/** Everything the postcopy stage shares between threads (passed once, in the messages that start it). */
export interface PostcopyShared {
  readonly vcpus: number;
  readonly pages: number;
  /** Lock, counts, and per vCPU: the page it waits for (−1: none), then its return-path mailbox (page + 1, 0: empty). */
  readonly words: Int32Array<SharedArrayBuffer>;
  /** `last_begin`, then each vCPU's fault time, ns. */
  readonly times: BigInt64Array<SharedArrayBuffer>;
  /** {@link PAGE} of each page. */
  readonly state: Int32Array<SharedArrayBuffer>;
  /** The source's pages still to send after the switch, one bit each (the dirty log's layout). */
  readonly toSend: Int32Array<SharedArrayBuffer>;
  /** Page requests sent for each page (what the tests check: 0 or 1). */
  readonly requests: Int32Array<SharedArrayBuffer>;
  /** vCPU faults on each page. */
  readonly faults: Int32Array<SharedArrayBuffer>;
}

/** Makes the shared state for `pages` pages and `vcpus` vCPUs: every page present, nothing to send. */
export function createPostcopyShared(pages: number, vcpus: number): PostcopyShared {
  const int32 = (length: number): Int32Array<SharedArrayBuffer> => new Int32Array(new SharedArrayBuffer(length * 4));
  const words = int32(W.header + 2 * vcpus);
  words.fill(-1, W.header, W.header + vcpus);
  return {
    vcpus,
    pages,
    words,
    times: new BigInt64Array(new SharedArrayBuffer((1 + vcpus) * 8)),
    state: int32(pages),
    toSend: int32(Math.ceil(pages / 32)),
    requests: int32(pages),
    faults: int32(pages),
  };
}

/** The blocktime accumulators a thread updates: attached postcopy stats (`definePostcopyStats`). */
export interface BlocktimeStats {
  readonly blocktime: { add(value: bigint | number): void };
  readonly vcpuBlocktime: { at(index: number): { add(value: bigint | number): void } };
  readonly vcpuFaults: { at(index: number): { add(value: bigint | number): void } };
  readonly latency: { record(value: bigint | number): void };
}

const hrtime = (globalThis as { process?: { hrtime?: { bigint?: () => bigint } } }).process?.hrtime?.bigint;

/**
 * Now, in ns, on a clock every thread of the process shares (QEMU's `QEMU_CLOCK_REALTIME`): Node's
 * monotonic `hrtime`, else the time origin plus `performance.now()` (a browser's workers).
 */
export function nowNs(): bigint {
  return hrtime ? hrtime() : BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

function lock(words: Int32Array): void {
  while (Atomics.compareExchange(words, W.lock, 0, 1) !== 0) Atomics.wait(words, W.lock, 1);
}

function unlock(words: Int32Array): void {
  Atomics.store(words, W.lock, 0);
  Atomics.notify(words, W.lock, 1);
}

/**
 * A vCPU's access to a page that was not present: the fault, its page request (when this vCPU is
 * the first to fault on the page), and the sleep until the page lands. Workers only (it blocks).
 * @returns false when the migration was stopped meanwhile (the page never landed)
 */
export function faultIn(shared: PostcopyShared, stats: BlocktimeStats, vcpu: number, page: number, abort: () => boolean): boolean {
  return !beginFault(shared, stats, vcpu, page) || awaitPage(shared, page, abort);
}

/**
 * Sleeps until a page the vCPU faulted on has landed (the blocking half of {@link faultIn}).
 * @returns false when the migration was stopped meanwhile
 */
export function awaitPage(shared: PostcopyShared, page: number, abort: () => boolean): boolean {
  while (Atomics.load(shared.state, page) !== PAGE.PRESENT) {
    Atomics.wait(shared.state, page, PAGE.REQUESTED, 100);
    if (abort()) return false;
  }
  return true;
}

/**
 * The non-blocking half of {@link faultIn}: records the fault and sends the request, if the page
 * is still not present. QEMU's `migrate_send_rp_req_pages()` with `mark_postcopy_blocktime_begin()`.
 * @returns whether the vCPU now has to wait for the page
 */
export function beginFault(shared: PostcopyShared, stats: BlocktimeStats, vcpu: number, page: number): boolean {
  const { words, times, state } = shared;
  lock(words);
  const before = Atomics.compareExchange(state, page, PAGE.MISSING, PAGE.REQUESTED);
  if (before === PAGE.PRESENT) {
    unlock(words);
    return false;
  }
  if (before === PAGE.MISSING) {
    // The first fault on the page: its request goes to this vCPU's mailbox on the return path. The
    // mailbox may still hold the vCPU's previous request, if that page came by the background
    // stream before the source took it: that request stays on the return path, as `replaced`.
    Atomics.add(shared.requests, page, 1);
    if (Atomics.exchange(words, W.header + shared.vcpus + vcpu, page + 1) !== 0) Atomics.add(words, W.replaced, 1);
    else Atomics.add(words, W.pending, 1);
  }
  const now = nowNs();
  Atomics.add(shared.faults, page, 1);
  stats.vcpuFaults.at(vcpu).add(1);
  words[W.header + vcpu] = page;
  times[1 + vcpu] = now;
  words[W.down]! += 1;
  times[0] = now;
  unlock(words);
  return true;
}

/**
 * A page has been written to the destination: it is present from now on. When vCPUs wait for it,
 * their faults end (QEMU's `mark_postcopy_blocktime_end()`: each fault's latency in its µs bucket
 * and in the vCPU's blocktime; the overlapped time when all vCPUs were blocked) and they wake.
 */
export function landPage(shared: PostcopyShared, stats: BlocktimeStats, page: number): void {
  // No vCPU waits for it: present at once (a vCPU can only start waiting by turning MISSING into REQUESTED).
  if (Atomics.compareExchange(shared.state, page, PAGE.MISSING, PAGE.PRESENT) !== PAGE.REQUESTED) return;
  const { words, times, vcpus } = shared;
  // Present only under the lock: a vCPU that sees it so cannot fault again before its fault here has ended.
  lock(words);
  Atomics.store(shared.state, page, PAGE.PRESENT);
  const now = nowNs();
  let affected = 0;
  for (let vcpu = 0; vcpu < vcpus; vcpu++) {
    if (words[W.header + vcpu] !== page) continue;
    // Threads' clocks may disagree by a little in a browser: a negative time counts as 0.
    const passed = now > times[1 + vcpu]! ? now - times[1 + vcpu]! : 0n;
    stats.latency.record(passed / 1000n);
    stats.vcpuBlocktime.at(vcpu).add(passed);
    words[W.header + vcpu] = -1;
    affected++;
  }
  if (words[W.down] === vcpus && affected > 0) stats.blocktime.add(now > times[0]! ? now - times[0]! : 0n);
  words[W.down]! -= affected;
  unlock(words);
  Atomics.notify(shared.state, page);
}

/** What {@link takeRequest} gives when no request is waiting. */
export const NO_REQUEST = -1;
/** What {@link takeRequest} gives for a request whose page was sent already (and landed). */
export const PAGE_ALREADY_SENT = -2;

/**
 * The source takes one page request from the return path, if there is one (QEMU's source reads
 * every request, also one for a page it has sent since).
 * @returns the page, {@link PAGE_ALREADY_SENT} for a request whose page the background stream sent
 *   before the source took it, or {@link NO_REQUEST}
 */
export function takeRequest(shared: PostcopyShared): number {
  const { words, vcpus } = shared;
  for (let n = Atomics.load(words, W.replaced); n > 0; n = Atomics.load(words, W.replaced)) {
    if (Atomics.compareExchange(words, W.replaced, n, n - 1) === n) return PAGE_ALREADY_SENT;
  }
  if (Atomics.load(words, W.pending) === 0) return NO_REQUEST;
  for (let vcpu = 0; vcpu < vcpus; vcpu++) {
    const slot = Atomics.exchange(words, W.header + vcpus + vcpu, 0);
    if (slot !== 0) {
      Atomics.sub(words, W.pending, 1);
      return slot - 1;
    }
  }
  return NO_REQUEST;
}

/** Takes a page off the source's pages to send: true for the one caller that takes it. */
export function claimPage(shared: PostcopyShared, page: number): boolean {
  const bit = 1 << (page & 31);
  return (Atomics.and(shared.toSend, page >>> 5, ~bit) & bit) !== 0;
}

/** Tells the vCPUs to stop. */
export function stopVcpus(shared: PostcopyShared): void {
  Atomics.store(shared.words, W.stop, 1);
  Atomics.notify(shared.words, W.stop);
}

/** Whether the vCPUs were told to stop. */
export function vcpusStopping(shared: PostcopyShared): boolean {
  return Atomics.load(shared.words, W.stop) !== 0;
}

/** A vCPU says it has stopped. */
export function vcpuStopped(shared: PostcopyShared): void {
  Atomics.add(shared.words, W.stopped, 1);
  Atomics.notify(shared.words, W.stopped);
}

/** The slot the migration thread watches for stopped vCPUs (with `waitAsyncWhile`). */
export const STOPPED_SLOT = W.stopped;
/** The slot vCPUs sleep on between bursts: set when they must stop. */
export const STOP_SLOT = W.stop;
