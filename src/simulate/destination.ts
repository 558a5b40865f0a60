/**
 * The destination's RAM as the multifd channels write it: pages received as data are copied in; a
 * zero page is written only over a page received before, as QEMU's `multifd_recv_zero_page_process`
 * does, since a page never received is still the zero page of fresh memory and writing zeros would
 * only fault it in. The received-pages bitmap is QEMU's `receivedmap`.
 *
 * (QEMU writes every zero page when postcopy is enabled, since a page left unwritten would not
 * fault on the destination; a simulator with postcopy would do the same.)
 * @packageDocumentation
 */
import { PAGE_BYTES } from './wire.js';

/** The destination side shared by every channel. */
export interface Destination {
  /** The destination's RAM. */
  readonly ram: Uint8Array;
  /** One bit per page, in the dirty log's layout: set once a page has been received. */
  readonly received: Int32Array;
}

/**
 * Whether a page has been received (written, or skipped as a zero page that was still zero).
 * @param destination - the destination's RAM and bitmap
 * @param page - a page number inside the RAM
 */
export function isReceived(destination: Destination, page: number): boolean {
  return (Atomics.load(destination.received, page >>> 5) & (1 << (page & 31))) !== 0;
}

/**
 * Receives pages `[firstPage, endPage)` of one kind and marks them received.
 * @param destination - the destination's RAM and bitmap
 * @param data - the pages' bytes, `(endPage − firstPage) × 4096` of them; `null` for zero pages
 * @param firstPage - first page of the run
 * @param endPage - the page after the last one
 * @returns how many zero pages were written (0 for data)
 */
export function receivePages(destination: Destination, data: Uint8Array | null, firstPage: number, endPage: number): number {
  const { ram, received } = destination;
  if (data) ram.set(data, firstPage * PAGE_BYTES);
  let written = 0;
  for (let page = firstPage; page < endPage; page++) {
    // Other channels set bits of the same words, hence the atomic OR; a page's own bit only
    // changes in the one channel that sends the page.
    const bit = 1 << (page & 31);
    const before = Atomics.or(received, page >>> 5, bit);
    if (!data && (before & bit) !== 0) {
      ram.fill(0, page * PAGE_BYTES, (page + 1) * PAGE_BYTES);
      written++;
    }
  }
  return written;
}
