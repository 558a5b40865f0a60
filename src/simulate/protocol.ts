/**
 * Messages between the migration thread and its workers (the guest and the multifd channels).
 * Everything shared (guest RAM, destination, dirty log, control words, counters) is passed once,
 * at start (the boot's fill requests, then the init message); afterwards messages carry only page
 * numbers and small results.
 * @packageDocumentation
 */
import type { StatsHandle } from '../handle.js';
import type { MigrationStatsHandle } from '../stats.js';
import type { PostcopyShared } from './postcopy.js';
import type { SimulationSettings } from './settings.js';

/** The settings a worker is given, typed as their records in settings.ts type them. */
type WorkerSettings<K extends keyof SimulationSettings> = Readonly<Pick<SimulationSettings, K>>;

/**
 * Before its role: help fill the booting guest's RAM, claiming chunks of pages from the shared
 * counter `next` until none is left (every worker does, see boot.ts); answered with `filled`.
 */
export interface FillRequest extends WorkerSettings<'ramBytes' | 'zeroShare' | 'seed'> {
  readonly type: 'fill';
  readonly ram: WebAssembly.Memory;
  readonly next: Int32Array<SharedArrayBuffer>;
}

/** What starts the guest: its RAM, where it logs the pages it dirties, and how fast it writes. */
export interface GuestInit extends WorkerSettings<'ramBytes' | 'zeroShare' | 'seed'> {
  readonly role: 'guest';
  /** The guest's RAM (a shared Wasm memory, so the zero scan can read it). */
  readonly ram: WebAssembly.Memory;
  /**
   * The destination's RAM: once the guest has stopped, its worker takes a share of the
   * verification, comparing as the channels do.
   */
  readonly destination: SharedArrayBuffer;
  /** One bit per page, set atomically after every write to the page. */
  readonly dirtyLog: Int32Array<SharedArrayBuffer>;
  readonly control: Int32Array<SharedArrayBuffer>;
  /** `dirtyBytesPerSecond` in pages. */
  readonly dirtyPagesPerSecond: number;
  /**
   * `[count, page × 64]`: how many pages the guest wrote (mod 2^31), and the last 64 of them in a
   * ring; read once the guest has stopped.
   */
  readonly lastWrites: Int32Array<SharedArrayBuffer>;
}

/** What starts a destination vCPU, after the postcopy switch. */
export interface VcpuInit extends WorkerSettings<'backend' | 'seed'> {
  readonly role: 'vcpu';
  readonly vcpu: number;
  readonly postcopyStats: StatsHandle;
  readonly shared: PostcopyShared;
  /** The destination's RAM, which the vCPU reads. */
  readonly destination: SharedArrayBuffer;
  readonly control: Int32Array<SharedArrayBuffer>;
  /** The vCPU's first access (a page the guest wrote last), −1 for none. */
  readonly firstPage: number;
  /** Its share of the guest's rate: accesses per second. */
  readonly accessesPerSecond: number;
}

/** What starts a multifd channel. */
export interface ChannelInit extends WorkerSettings<'backend' | 'ramBytes'> {
  readonly role: 'channel';
  readonly stats: MigrationStatsHandle;
  readonly ram: WebAssembly.Memory;
  /** The destination's RAM. */
  readonly destination: SharedArrayBuffer;
  /**
   * The destination's received-pages bitmap (QEMU's `receivedmap`), in the dirty log's layout:
   * a page's bit is set once a channel has written it, or skipped it as a zero page still zero.
   */
  readonly received: Int32Array<SharedArrayBuffer>;
  readonly control: Int32Array<SharedArrayBuffer>;
}

/** Compare source and destination over a range of pages (a channel, or the stopped guest). */
export interface VerifyRequest {
  readonly type: 'verify';
  readonly firstPage: number;
  readonly pageCount: number;
}

/** Migration thread → channel, after {@link ChannelInit}. */
export type ChannelRequest =
  /**
   * Send these pages (ascending page numbers) as packets of 128 pages, the last one possibly
   * shorter: several packets to a request, so that messages cost little next to the pages.
   */
  | { readonly type: 'packets'; readonly pages: Uint32Array }
  /**
   * The migration starts: with `multifd`, send the channel's handshake; without, later packets
   * are page records of QEMU's main stream. Answered with `sync`.
   */
  | { readonly type: 'connect'; readonly multifd: boolean }
  /** Send a sync packet (end of a pass); answered after every packet asked before it. */
  | { readonly type: 'sync' }
  /**
   * The postcopy switch: later `packets` requests are the background stream, sent page by page
   * on the return path's priority (requested pages first) and counted as postcopy bytes.
   */
  | { readonly type: 'postcopy'; readonly shared: PostcopyShared; readonly postcopyStats: StatsHandle }
  | VerifyRequest;

/** Worker → migration thread. */
export type WorkerReply =
  /** The worker listens: send it fill requests, then its init message. */
  | { readonly type: 'alive' }
  /** A {@link FillRequest} is done. */
  | { readonly type: 'filled' }
  /** Init done (a channel is ready to connect; the guest has filled its RAM and runs). */
  | { readonly type: 'ready'; readonly scan?: string }
  /** A `packets` request is sent: how many packets, and their pages of each kind. */
  | {
      readonly type: 'packets';
      readonly packets: number;
      readonly normalPages: number;
      readonly zeroPages: number;
      /** After the postcopy switch: page requests taken from the return path, and pages sent for them. */
      readonly requestsTaken?: number;
      readonly requestedPagesSent?: number;
    }
  /** The postcopy switch is done (the channel attached the destination's stats). */
  | { readonly type: 'postcopy' }
  | { readonly type: 'sync' }
  /** `firstMismatchPage` is −1 when the range is identical. */
  | { readonly type: 'verify'; readonly firstMismatchPage: number }
  | { readonly type: 'error'; readonly message: string };
