/**
 * A multifd channel: started at boot, it sends its handshake when the migration connects it,
 * then for each packet checks every page for zeros,
 * waits while the rate-limit window is spent, counts the packet, and copies its pages to the
 * destination as QEMU's receiving side writes them (destination.ts).
 *
 * Three parts: what a channel works with (`ChannelParts`), its pre-copy sender (multifd packets,
 * or QEMU's main stream without multifd) and, from the postcopy switch, its postcopy sender;
 * `Channel` holds them and answers the migration thread's requests.
 * @packageDocumentation
 */
import type { StatsHandle } from '../handle.js';
import { definePostcopyStats } from '../qemu/postcopy.js';
import { MigrationStats } from '../stats.js';
import { lockBlocking, SLOT, unlock } from './control.js';
import { claimPage, landPage, NO_REQUEST, takeRequest, type BlocktimeStats, type PostcopyShared } from './postcopy.js';
import { receivePages, type Destination } from './destination.js';
import type { ChannelInit, ChannelRequest, WorkerReply } from './protocol.js';
import { pageComparer, type PageComparer } from './verify.js';
import {
  MULTIFD_HANDSHAKE_BYTES,
  MULTIFD_PACKET_HEADER_BYTES,
  multifdPacketBytes,
  PAGE_BYTES,
  PAGES_PER_PACKET,
  POSTCOPY_PAGE_RECORD_BYTES,
  POSTCOPY_ZERO_RECORD_BYTES,
} from './wire.js';
import { zeroScanner, type ZeroScanner } from './zero-scan.js';

/** A started channel: answers each request of the migration thread (a promise for the postcopy switch, which attaches stats). */
export type ChannelHandler = (request: ChannelRequest) => WorkerReply | null | Promise<WorkerReply>;

/** Pages of each kind that a send carried. */
interface PageCounts {
  normalPages: number;
  zeroPages: number;
}

/** What a channel works with, whichever stream it sends on. */
interface ChannelParts {
  readonly stats: MigrationStats;
  readonly scanner: ZeroScanner;
  /** The guest's RAM. */
  readonly source: Uint8Array;
  readonly destination: Destination;
  readonly control: Int32Array<SharedArrayBuffer>;
}

/** Copies pages [from, to) of one kind to the destination: data, or zeros where QEMU writes them. */
function copyRun(parts: ChannelParts, from: number, to: number, zero: boolean): void {
  receivePages(parts.destination, zero ? null : parts.source.subarray(from * PAGE_BYTES, to * PAGE_BYTES), from, to);
}

/**
 * Before the postcopy switch: packets of up to 128 pages, each counted once the rate-limit window
 * allows it. With multifd (the default) a packet is one send; without it (QEMU's main stream) each
 * page is a record (a header, then the page or a zero page's fill byte) and a send of its own,
 * counted as RAM bytes: before the switch-over in `precopyBytes`, after it (the guest stopped) in
 * `downtimeBytes`.
 */
class PrecopySender {
  constructor(
    private readonly parts: ChannelParts,
    /** Multifd, or QEMU's main stream when the `multifd` capability is off: as `connect` says. */
    readonly multifd: boolean,
  ) {}

  /** The migration's start: a multifd channel sends its handshake; the main stream has none. Null when aborted. */
  connect(): WorkerReply | null {
    return !this.multifd || this.send(0, 0, MULTIFD_HANDSHAKE_BYTES) ? { type: 'sync' } : null;
  }

  /** A sync packet, the end of a pass. Null when aborted. */
  sync(): WorkerReply | null {
    return this.send(0, 0, MULTIFD_PACKET_HEADER_BYTES) ? { type: 'sync' } : null;
  }

  /** Sends a request's pages as packets of up to 128 pages, in order; null when the migration was aborted. */
  sendPackets(pages: Uint32Array): WorkerReply | null {
    let normalPages = 0;
    let zeroPages = 0;
    let packets = 0;
    for (let first = 0; first < pages.length; first += PAGES_PER_PACKET, packets++) {
      const sent = this.sendPacket(pages.subarray(first, first + PAGES_PER_PACKET));
      if (!sent) return null;
      normalPages += sent.normalPages;
      zeroPages += sent.zeroPages;
    }
    return { type: 'packets', packets, normalPages, zeroPages };
  }

  /** Sends one packet; returns its pages of each kind, or null when the migration was aborted. */
  private sendPacket(pages: Uint32Array): PageCounts | null {
    const { scanner } = this.parts;
    const zero = new Uint8Array(pages.length);
    let zeroPages = 0;
    for (let i = 0; i < pages.length; i++) {
      if (scanner.isZeroPage(pages[i]! * PAGE_BYTES)) {
        zero[i] = 1;
        zeroPages++;
      }
    }
    const normalPages = pages.length - zeroPages;
    if (this.multifd) {
      if (!this.send(normalPages, zeroPages, multifdPacketBytes(normalPages))) return null;
    } else {
      // The main stream sends page by page, each under the rate limit, as QEMU's ram_save_iterate.
      for (let i = 0; i < pages.length; i++) {
        const sent = zero[i] === 1 ? this.send(0, 1, POSTCOPY_ZERO_RECORD_BYTES) : this.send(1, 0, POSTCOPY_PAGE_RECORD_BYTES);
        if (!sent) return null;
      }
    }
    // Runs of consecutive pages of the same kind are copied in one call.
    let runStart = 0;
    for (let i = 1; i <= pages.length; i++) {
      if (i === pages.length || pages[i] !== pages[i - 1]! + 1 || zero[i] !== zero[runStart]) {
        copyRun(this.parts, pages[runStart]!, pages[i - 1]! + 1, zero[runStart] === 1);
        runStart = i;
      }
    }
    return { normalPages, zeroPages };
  }

  /**
   * Counts one send once the window allows it: under the send lock, so that the check and the
   * count are one step for every sender. Returns false when the migration was aborted meanwhile.
   */
  private send(normalPages: number, zeroPages: number, bytes: number): boolean {
    const { stats, control } = this.parts;
    for (;;) {
      lockBlocking(control);
      if (!stats.migrationRateExceeded()) {
        if (this.multifd) stats.addMultifdPacket(normalPages, zeroPages, bytes);
        else this.countOnMainStream(normalPages, zeroPages, bytes);
        unlock(control);
        return true;
      }
      const epoch = Atomics.load(control, SLOT.windowEpoch);
      unlock(control);
      if (Atomics.load(control, SLOT.abort) !== 0) return false;
      Atomics.wait(control, SLOT.windowEpoch, epoch);
    }
  }

  /** A main-stream send, counted as RAM bytes of the stage it belongs to. */
  private countOnMainStream(normalPages: number, zeroPages: number, bytes: number): void {
    const { stats, control } = this.parts;
    stats.normalPages.add(normalPages);
    stats.zeroPages.add(zeroPages);
    stats.qemuFileTransferred.add(bytes);
    (Atomics.load(control, SLOT.guestStopped) === 0 ? stats.precopyBytes : stats.downtimeBytes).add(bytes);
  }
}

/**
 * After the postcopy switch: the background stream, unlimited: each page not sent yet (claimed
 * from the source's bitmap), and before each one every page request waiting on the return path
 * (counted in `postcopyRequests` as the source takes it; its page sent unless some path already
 * took it). Each page lands on the destination, where the faults waiting on it end.
 */
class PostcopySender {
  constructor(
    private readonly parts: ChannelParts,
    /** The return path and the pages' states, shared with the vCPUs. */
    private readonly shared: PostcopyShared,
    /** The destination's stats, where faults end. */
    private readonly blocktime: BlocktimeStats,
  ) {}

  /** Sends the pages of a `packets` request that no other path sent, serving page requests first. */
  sendPages(pages: Uint32Array): WorkerReply {
    const { shared } = this;
    const counts = { normalPages: 0, zeroPages: 0, requestsTaken: 0, requestedPagesSent: 0 };
    const serveRequests = (): void => {
      for (let page = takeRequest(shared); page !== NO_REQUEST; page = takeRequest(shared)) {
        counts.requestsTaken++;
        this.parts.stats.postcopyRequests.add(1);
        if (page >= 0 && claimPage(shared, page)) {
          this.sendPage(page, counts);
          counts.requestedPagesSent++;
        }
      }
    };
    for (const page of pages) {
      serveRequests();
      if (claimPage(shared, page)) this.sendPage(page, counts);
    }
    serveRequests();
    return { type: 'packets', packets: 0, ...counts };
  }

  /** Sends one page on the postcopy stream, counts it by kind and lands it on the destination. */
  private sendPage(page: number, counts: PageCounts): void {
    const { stats, scanner } = this.parts;
    const zero = scanner.isZeroPage(page * PAGE_BYTES);
    (zero ? stats.zeroPages : stats.normalPages).add(1);
    const bytes = zero ? POSTCOPY_ZERO_RECORD_BYTES : POSTCOPY_PAGE_RECORD_BYTES;
    stats.postcopyBytes.add(bytes);
    stats.qemuFileTransferred.add(bytes);
    copyRun(this.parts, page, page + 1, zero);
    landPage(this.shared, this.blocktime, page);
    if (zero) counts.zeroPages++;
    else counts.normalPages++;
  }
}

/** A started channel: its parts, and the sender of the stage the migration is in. */
class Channel {
  /** Multifd until the migration's `connect` says otherwise. */
  private precopy: PrecopySender;
  /** Set at the postcopy switch; from then on `packets` go on the postcopy stream. */
  private postcopy: PostcopySender | undefined;

  constructor(
    private readonly parts: ChannelParts,
    private readonly init: ChannelInit,
    private readonly comparer: PageComparer,
  ) {
    this.precopy = new PrecopySender(parts, true);
  }

  /** Answers one request of the migration thread (null when the migration was aborted meanwhile). */
  readonly handle: ChannelHandler = (request) => {
    switch (request.type) {
      case 'connect':
        this.precopy = new PrecopySender(this.parts, request.multifd);
        return this.precopy.connect();
      case 'postcopy':
        return this.switchToPostcopy(request.shared, request.postcopyStats);
      case 'packets':
        return this.postcopy ? this.postcopy.sendPages(request.pages) : this.precopy.sendPackets(request.pages);
      case 'sync':
        return this.precopy.sync();
      case 'verify':
        return { type: 'verify', firstMismatchPage: this.comparer.firstMismatch(request.firstPage, request.pageCount) };
    }
  };

  /** The postcopy switch: attaches the destination's stats; later `packets` go on the postcopy stream. */
  private async switchToPostcopy(shared: PostcopyShared, handle: StatsHandle): Promise<WorkerReply> {
    const blocktime = await definePostcopyStats(shared.vcpus).attach(handle, { backend: this.init.backend });
    this.postcopy = new PostcopySender(this.parts, shared, blocktime);
    return { type: 'postcopy' };
  }
}

/**
 * Starts a channel at boot: attaches to the counters and prepares the zero scan (the handshake
 * waits for the migration's `connect`).
 * @returns the handler of later requests, and what to tell the migration thread now
 */
export async function startChannel(init: ChannelInit): Promise<{ handle: ChannelHandler; ready: WorkerReply }> {
  const { ramBytes } = init;
  const stats = await MigrationStats.attach(init.stats, { backend: init.backend });
  const scanner = await zeroScanner(init.ram, PAGE_BYTES, init.backend === 'js' ? 'js' : undefined);
  const parts: ChannelParts = {
    stats,
    scanner,
    source: new Uint8Array(init.ram.buffer, 0, ramBytes),
    destination: { ram: new Uint8Array(init.destination, 0, ramBytes), received: init.received },
    control: init.control,
  };
  const comparer = await pageComparer(init.ram.buffer, init.destination, ramBytes);
  return { handle: new Channel(parts, init, comparer).handle, ready: { type: 'ready', scan: scanner.kind } };
}
