/**
 * What the simulated migration puts on the wire, in bytes, as QEMU counts it: multifd channels
 * (`multifd_bytes`) and the main migration stream (`qemu_file_transferred`, and of it the RAM
 * section's bytes in `precopy_bytes` while the guest runs, `downtime_bytes` once it is stopped).
 * @packageDocumentation
 */
import { describe } from '../errors.js';

/** Bytes of a guest page (x86's target page size, `page-size` in `query-migrate`). */
export const PAGE_BYTES = 4096;

/** Pages a multifd packet carries at most: QEMU's 512 KiB packet of 4 KiB pages. */
export const PAGES_PER_PACKET = 128;

/** The handshake each multifd channel sends once when it connects (`MultiFDInit_t`). */
export const MULTIFD_HANDSHAKE_BYTES = 64;

/**
 * The header of every multifd packet of 4 KiB pages, however many pages it carries: the fixed
 * part plus one 8-byte offset slot for each of the 128 pages a packet can hold. A sync packet is a
 * header with no pages.
 */
export const MULTIFD_PACKET_HEADER_BYTES = 1344;

/**
 * Bytes a multifd packet takes on the wire: its header, plus the data of its normal pages. Zero
 * pages travel as offsets in the header only.
 * @param normalPages - pages of the packet that are not all zeros, 0 to 128
 * @throws TypeError or RangeError for any other count
 * @example multifdPacketBytes(128) //=> 525632
 */
export function multifdPacketBytes(normalPages: number): number {
  if (typeof normalPages !== 'number' || !Number.isInteger(normalPages) || normalPages < 0 || normalPages > PAGES_PER_PACKET) {
    const head = `multifdPacketBytes: normalPages must be a whole number from 0 to ${PAGES_PER_PACKET} (pages in one packet); received ${describe(normalPages)}`;
    throw typeof normalPages === 'number' ? new RangeError(head) : new TypeError(head);
  }
  return MULTIFD_PACKET_HEADER_BYTES + normalPages * PAGE_BYTES;
}

/**
 * After the postcopy switch pages travel on the main stream, one record each, as QEMU's
 * `save_page_header()` writes them: an 8-byte offset-and-flags word, then the page's 4096 bytes, or
 * for a zero page (`RAM_SAVE_FLAG_ZERO`) its one fill byte.
 */
export const POSTCOPY_PAGE_RECORD_BYTES = 8 + PAGE_BYTES;
/** A zero page's record after the postcopy switch: the 8-byte header and the fill byte. */
export const POSTCOPY_ZERO_RECORD_BYTES = 8 + 1;

/** The most one send can put on the wire: a full packet of normal pages. */
export const MAX_SEND_BYTES = multifdPacketBytes(PAGES_PER_PACKET);

/**
 * The main stream's records, as the simulator models them (frozen). With multifd, pages travel on
 * the channels; the main stream carries only these.
 */
export const MAIN_STREAM = Object.freeze({
  /** File magic and version at the start of the stream (not RAM bytes). */
  streamHeaderBytes: 8,
  /**
   * The RAM section's set-up: the total RAM size record (8), one RAM block (`pc.ram`: length byte,
   * 6-byte name, 8-byte size) and the end-of-section record (8).
   */
  ramSetupBytes: 8 + 1 + 6 + 8 + 8,
  /** After each pass: the multifd flush record and the end-of-section record. */
  passEndBytes: 8 + 8,
  /** The end of the stream after the last RAM section (not RAM bytes). */
  streamEndBytes: 1,
  /** After the postcopy stream's last page: the end-of-section record (no multifd flush in postcopy). */
  postcopyEndBytes: 8,
} as const);
