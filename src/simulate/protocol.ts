/**
 * Messages between the migration thread and its workers (the guest and the multifd channels).
 * Everything shared (guest RAM, destination, dirty log, control words, counters) is passed once,
 * at start; afterwards messages carry only page numbers and small results.
 * @packageDocumentation
 */
import type { BackendName } from '../backend/core.js';
import type { MigrationStatsHandle } from '../stats.js';

/** What starts the guest: its RAM, where it logs the pages it dirties, and how fast it writes. */
export interface GuestInit {
  readonly role: 'guest';
  /** The guest's RAM (a shared Wasm memory, so the zero scan can read it). */
  readonly ram: WebAssembly.Memory;
  readonly ramBytes: number;
  /** One bit per page, set atomically after every write to the page. */
  readonly dirtyLog: Int32Array<SharedArrayBuffer>;
  readonly control: Int32Array<SharedArrayBuffer>;
  readonly zeroShare: number;
  readonly dirtyPagesPerSecond: number;
  readonly seed: number;
}

/** What starts a multifd channel. */
export interface ChannelInit {
  readonly role: 'channel';
  readonly stats: MigrationStatsHandle;
  readonly backend: BackendName;
  readonly ram: WebAssembly.Memory;
  readonly ramBytes: number;
  /** The destination's RAM. */
  readonly destination: SharedArrayBuffer;
  readonly control: Int32Array<SharedArrayBuffer>;
}

/** Migration thread → channel, after {@link ChannelInit}. */
export type ChannelRequest =
  /** Send these pages (ascending page numbers, at most 128) as one packet. */
  | { readonly type: 'packet'; readonly pages: Uint32Array }
  /** Send a sync packet (end of a pass); answered after every packet asked before it. */
  | { readonly type: 'sync' }
  /** Compare source and destination over a range of pages. */
  | { readonly type: 'verify'; readonly firstPage: number; readonly pageCount: number };

/** Worker → migration thread. */
export type WorkerReply =
  /** The worker listens: send it its init message. */
  | { readonly type: 'alive' }
  /** Init done (a channel has sent its handshake; the guest has filled its RAM and runs). */
  | { readonly type: 'ready'; readonly scan?: string }
  | { readonly type: 'packet'; readonly normalPages: number; readonly zeroPages: number }
  | { readonly type: 'sync' }
  /** `firstMismatchPage` is −1 when the range is identical. */
  | { readonly type: 'verify'; readonly firstMismatchPage: number }
  | { readonly type: 'error'; readonly message: string };
