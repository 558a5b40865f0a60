/**
 * A multifd channel: started at boot, it sends its handshake when the migration connects it,
 * then for each packet checks every page for zeros,
 * waits while the rate-limit window is spent, counts the packet, and copies its pages to the
 * destination as QEMU's receiving side writes them (destination.ts).
 * @packageDocumentation
 */
import { definePostcopyStats } from '../qemu/postcopy.js';
import { MigrationStats } from '../stats.js';
import { lockBlocking, SLOT, unlock } from './control.js';
import { claimPage, landPage, takeRequest, type BlocktimeStats, type PostcopyShared } from './postcopy.js';
import { receivePages, type Destination } from './destination.js';
import type { ChannelInit, ChannelRequest, WorkerReply } from './protocol.js';
import { pageComparer } from './verify.js';
import {
  MULTIFD_HANDSHAKE_BYTES,
  MULTIFD_PACKET_HEADER_BYTES,
  multifdPacketBytes,
  PAGE_BYTES,
  PAGES_PER_PACKET,
  POSTCOPY_PAGE_RECORD_BYTES,
  POSTCOPY_ZERO_RECORD_BYTES,
} from './wire.js';
import { zeroScanner } from './zero-scan.js';

/** A started channel: answers each request of the migration thread (a promise for the postcopy switch, which attaches stats). */
export type ChannelHandler = (request: ChannelRequest) => WorkerReply | null | Promise<WorkerReply>;

/**
 * Starts a channel at boot: attaches to the counters and prepares the zero scan (the handshake
 * waits for the migration's `connect`).
 * @returns the handler of later requests, and what to tell the migration thread now
 */
export async function startChannel(init: ChannelInit): Promise<{ handle: ChannelHandler; ready: WorkerReply }> {
  const { control, ramBytes } = init;
  const stats = await MigrationStats.attach(init.stats, { backend: init.backend });
  const scanner = await zeroScanner(init.ram, PAGE_BYTES, init.backend === 'js' ? 'js' : undefined);
  const source = new Uint8Array(init.ram.buffer, 0, ramBytes);
  const destination = new Uint8Array(init.destination, 0, ramBytes);
  const comparer = await pageComparer(init.ram.buffer, init.destination, ramBytes);

  /** Multifd (the default), or QEMU's main stream when the `multifd` capability is off: set by `connect`. */
  let multifd = true;
  /**
   * Without multifd QEMU sends each page on the main stream as a record (a header, then the page
   * or a zero page's fill byte), counted as RAM bytes: before the switch-over in `precopyBytes`,
   * after it (the guest stopped) in `downtimeBytes`.
   */
  const countOnMainStream = (normalPages: number, zeroPages: number, bytes: number): void => {
    stats.normalPages.add(normalPages);
    stats.zeroPages.add(zeroPages);
    stats.qemuFileTransferred.add(bytes);
    (Atomics.load(control, SLOT.guestStopped) === 0 ? stats.precopyBytes : stats.downtimeBytes).add(bytes);
  };

  /**
   * Counts one send once the window allows it: under the send lock, so that the check and the
   * count are one step for every sender. Returns false when the migration was aborted meanwhile.
   */
  const send = (normalPages: number, zeroPages: number, bytes: number): boolean => {
    for (;;) {
      lockBlocking(control);
      if (!stats.migrationRateExceeded()) {
        if (multifd) stats.addMultifdPacket(normalPages, zeroPages, bytes);
        else countOnMainStream(normalPages, zeroPages, bytes);
        unlock(control);
        return true;
      }
      const epoch = Atomics.load(control, SLOT.windowEpoch);
      unlock(control);
      if (Atomics.load(control, SLOT.abort) !== 0) return false;
      Atomics.wait(control, SLOT.windowEpoch, epoch);
    }
  };

  const target: Destination = { ram: destination, received: init.received };
  /** Copies pages [from, to) of one kind to the destination: data, or zeros where QEMU writes them. */
  const copyRun = (from: number, to: number, zero: boolean): void => {
    receivePages(target, zero ? null : source.subarray(from * PAGE_BYTES, to * PAGE_BYTES), from, to);
  };

  /** Sends one packet; returns its pages of each kind, or null when the migration was aborted. */
  const sendPacket = (pages: Uint32Array): { normalPages: number; zeroPages: number } | null => {
    const zero = new Uint8Array(pages.length);
    let zeroPages = 0;
    for (let i = 0; i < pages.length; i++) {
      if (scanner.isZeroPage(pages[i]! * PAGE_BYTES)) {
        zero[i] = 1;
        zeroPages++;
      }
    }
    const normalPages = pages.length - zeroPages;
    if (multifd) {
      if (!send(normalPages, zeroPages, multifdPacketBytes(normalPages))) return null;
    } else {
      // The main stream sends page by page, each under the rate limit, as QEMU's ram_save_iterate.
      for (let i = 0; i < pages.length; i++) {
        const sent = zero[i] === 1 ? send(0, 1, POSTCOPY_ZERO_RECORD_BYTES) : send(1, 0, POSTCOPY_PAGE_RECORD_BYTES);
        if (!sent) return null;
      }
    }
    // Runs of consecutive pages of the same kind are copied in one call.
    let runStart = 0;
    for (let i = 1; i <= pages.length; i++) {
      if (i === pages.length || pages[i] !== pages[i - 1]! + 1 || zero[i] !== zero[runStart]) {
        copyRun(pages[runStart]!, pages[i - 1]! + 1, zero[runStart] === 1);
        runStart = i;
      }
    }
    return { normalPages, zeroPages };
  };

  /** Sends a request's pages as packets of up to 128 pages, in order. */
  const sendPackets = (pages: Uint32Array): WorkerReply | null => {
    let normalPages = 0;
    let zeroPages = 0;
    let packets = 0;
    for (let first = 0; first < pages.length; first += PAGES_PER_PACKET, packets++) {
      const sent = sendPacket(pages.subarray(first, first + PAGES_PER_PACKET));
      if (!sent) return null;
      normalPages += sent.normalPages;
      zeroPages += sent.zeroPages;
    }
    return { type: 'packets', packets, normalPages, zeroPages };
  };

  /** After the postcopy switch: the return path, and the destination's stats where faults end. */
  let postcopy: { shared: PostcopyShared; stats: BlocktimeStats } | undefined;

  /** Sends one page on the postcopy stream and lands it on the destination; true for a zero page. */
  const sendPostcopyPage = (shared: PostcopyShared, blocktime: BlocktimeStats, page: number): boolean => {
    const zero = scanner.isZeroPage(page * PAGE_BYTES);
    (zero ? stats.zeroPages : stats.normalPages).add(1);
    const bytes = zero ? POSTCOPY_ZERO_RECORD_BYTES : POSTCOPY_PAGE_RECORD_BYTES;
    stats.postcopyBytes.add(bytes);
    stats.qemuFileTransferred.add(bytes);
    copyRun(page, page + 1, zero);
    landPage(shared, blocktime, page);
    return zero;
  };

  /**
   * The background stream after the switch, unlimited: each page not sent yet (claimed from the
   * source's bitmap), and before each one every page request waiting on the return path (counted
   * in `postcopyRequests` as the source takes it; its page sent unless some path already took it).
   */
  const sendPostcopy = (pages: Uint32Array): WorkerReply => {
    const { shared, stats: blocktime } = postcopy!;
    let normalPages = 0;
    let zeroPages = 0;
    let requestsTaken = 0;
    let requestedPagesSent = 0;
    const count = (zero: boolean): void => void (zero ? zeroPages++ : normalPages++);
    const serveRequests = (): void => {
      for (let page = takeRequest(shared); page >= 0; page = takeRequest(shared)) {
        requestsTaken++;
        stats.postcopyRequests.add(1);
        if (claimPage(shared, page)) {
          count(sendPostcopyPage(shared, blocktime, page));
          requestedPagesSent++;
        }
      }
    };
    for (const page of pages) {
      serveRequests();
      if (claimPage(shared, page)) count(sendPostcopyPage(shared, blocktime, page));
    }
    serveRequests();
    return { type: 'packets', packets: 0, normalPages, zeroPages, requestsTaken, requestedPagesSent };
  };

  const handle: ChannelHandler = (request) => {
    switch (request.type) {
      case 'connect':
        // The migration's start: a multifd channel sends its handshake; the main stream has none.
        multifd = request.multifd;
        return !multifd || send(0, 0, MULTIFD_HANDSHAKE_BYTES) ? { type: 'sync' } : null;
      case 'postcopy':
        return definePostcopyStats(request.shared.vcpus)
          .attach(request.postcopyStats, { backend: init.backend })
          .then((attached): WorkerReply => {
            postcopy = { shared: request.shared, stats: attached };
            return { type: 'postcopy' };
          });
      case 'packets':
        return postcopy ? sendPostcopy(request.pages) : sendPackets(request.pages);
      case 'sync':
        return send(0, 0, MULTIFD_PACKET_HEADER_BYTES) ? { type: 'sync' } : null;
      case 'verify':
        return { type: 'verify', firstMismatchPage: comparer.firstMismatch(request.firstPage, request.pageCount) };
    }
  };
  return { handle, ready: { type: 'ready', scan: scanner.kind } };
}
