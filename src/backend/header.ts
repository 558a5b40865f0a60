/**
 * The memory's header: written once by `create`, before any other thread has the memory, and read
 * by every `attach`, which trusts nothing in it that it has not checked.
 *
 * `attach` reads the definition the header points at, plans the layout from it and the header's
 * lane count, and accepts the memory only when every header field is what that plan says: so every
 * address the backends are later given lies inside the memory, whatever else the memory holds.
 * @packageDocumentation
 */
import {
  HDR_CELLS_END,
  HDR_DEFINITION_BYTES,
  HDR_DEFINITION_HASH,
  HDR_DEFINITION_OFFSET,
  HDR_LANE_BITMAP,
  HDR_LANE_COUNT,
  HDR_LANE_STRIDE,
  HDR_LANES_EVER,
  HDR_LANES_OFFSET,
  HDR_MAGIC,
  HDR_VERSION,
  HEADER_BYTES,
  LAYOUT_VERSION,
  MAGIC,
  MAX_LANES,
} from './abi.js';
import { definitionHash, encodeDefinition, knownHash, rememberHash, type Definition } from './definition-format.js';
import { checkExpTable } from './exp-index.js';
import { planLayout, type Layout } from './layout.js';
import { handleError, reservedNameOf } from '../errors.js';

/** The definition's JSON as UTF-8 bytes. */
export function definitionBytes(definition: Definition): Uint8Array {
  return new TextEncoder().encode(encodeDefinition(definition));
}

/** Writes the header and the definition into a new, blank memory laid out as `layout`. */
export function writeHeader(buffer: ArrayBufferLike, layout: Layout, json: Uint8Array): void {
  new Uint8Array(buffer, layout.definitionOffset, json.length).set(json);
  const u32 = new Uint32Array(buffer, 0, HEADER_BYTES >> 2);
  Atomics.store(u32, HDR_LANE_COUNT >> 2, layout.lanes);
  Atomics.store(u32, HDR_LANE_STRIDE >> 2, layout.laneStride);
  Atomics.store(u32, HDR_LANES_OFFSET >> 2, layout.lanesOffset);
  Atomics.store(u32, HDR_CELLS_END >> 2, layout.cellsEnd);
  Atomics.store(u32, HDR_DEFINITION_OFFSET >> 2, layout.definitionOffset);
  Atomics.store(u32, HDR_DEFINITION_BYTES >> 2, json.length);
  Atomics.store(u32, HDR_DEFINITION_HASH >> 2, definitionHash(json));
  Atomics.store(u32, HDR_VERSION >> 2, LAYOUT_VERSION);
  // Last: a memory is ours from the moment its magic is there.
  Atomics.store(u32, HDR_MAGIC >> 2, MAGIC);
}

/** What a checked header says: the memory's definition and its layout. */
export interface MemoryLayout {
  readonly definition: Definition;
  readonly layout: Layout;
}

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/**
 * Checks the header of a shared memory's buffer and returns its definition and layout.
 * @param maker - what makes such memories, for the message about a blank one (`MigrationStats.create()`)
 * @param decode - rebuilds the definition from its JSON, with every check of `defineStats`
 *   (definition.ts's `decodeDefinition`), throwing what is wrong with it
 * @returns the memory's definition and layout
 * @throws TypeError (as `attach`'s handle error) naming the first thing that is not as it must be
 */
export const readHeader = (function (buffer: ArrayBufferLike, maker: string, decode: (json: string) => Definition): MemoryLayout {
  if (buffer.byteLength < HEADER_BYTES) {
    throw handleError(`.memory is ${buffer.byteLength} bytes, smaller than the ${HEADER_BYTES}-byte header`);
  }
  const u32 = new Uint32Array(buffer, 0, HEADER_BYTES >> 2);
  const field = (function (offset: number): number {
    return Atomics.load(u32, offset >> 2);
  });
  const magic = field(HDR_MAGIC);
  if (magic === 0) {
    throw handleError(`.memory is blank: it has no migration-stats header, so it was not made by ${maker}`);
  }
  if (magic !== MAGIC) {
    throw handleError(`.memory holds something else: its first word is 0x${magic.toString(16)}, not the migration-stats magic 0x${MAGIC.toString(16)}`);
  }
  const version = field(HDR_VERSION);
  if (version !== LAYOUT_VERSION) {
    throw handleError(`.memory has layout version ${version}; this version of migration-stats reads layout version ${LAYOUT_VERSION}`);
  }
  const bad = (what: string): never => {
    throw handleError(`.memory has a damaged header: ${what}`);
  };
  const lanes = field(HDR_LANE_COUNT);
  if (lanes < 1 || lanes > MAX_LANES) bad(`its lane count is ${lanes}, not from 1 to ${MAX_LANES}`);
  const offset = field(HDR_DEFINITION_OFFSET);
  const length = field(HDR_DEFINITION_BYTES);
  if (offset < HEADER_BYTES || length === 0 || offset + length > buffer.byteLength) {
    bad(`its definition (${length} bytes at ${offset}) is not inside the ${buffer.byteLength}-byte memory`);
  }
  // A copy: the JSON is decoded from bytes that no other thread can change under the decoder.
  const json = new Uint8Array(buffer, offset, length).slice();
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    text = undefined;
  }
  // A definition this thread knows has its hash kept (definition-format.ts): its bytes are not
  // hashed again. The hash is still checked before the UTF-8, so the messages stay as they were.
  const known = text === undefined ? undefined : knownHash(text);
  const hash = known ?? definitionHash(json);
  if (hash !== field(HDR_DEFINITION_HASH)) bad('its definition does not match the hash beside it');
  if (text === undefined) return bad('its definition is not UTF-8');
  // Kept before it is decoded, so that decoding it (which keeps the hashes of what it checks) does not hash it again.
  if (known === undefined) rememberHash(text, hash);
  let definition: Definition;
  try {
    definition = decode(text);
  } catch (error) {
    // A name this version took for the stats object's own API (0.3: `interval`) is no damage.
    const reserved = reservedNameOf(error);
    if (reserved !== undefined) {
      throw handleError(`.memory's definition has a metric named ${JSON.stringify(reserved)}, a name this version of migration-stats reserves for the stats object's own API (made by an earlier version, the memory is read by that version only)`);
    }
    return bad(`its definition is not valid (${error instanceof Error ? error.message : String(error)})`);
  }
  const layout = planLayout(definition, lanes, length);
  if (typeof layout === 'string') return bad(`its definition does not fit: ${layout}`);
  const expect = (function (name: string, at: number, value: number): void {
    if (field(at) !== value) bad(`its ${name} is ${field(at)}, but its definition with ${lanes} lanes puts it at ${value}`);
  });
  expect('lane stride', HDR_LANE_STRIDE, layout.laneStride);
  expect('lanes offset', HDR_LANES_OFFSET, layout.lanesOffset);
  expect('end of the cells', HDR_CELLS_END, layout.cellsEnd);
  expect('definition offset', HDR_DEFINITION_OFFSET, layout.definitionOffset);
  if (buffer.byteLength < layout.bytes) {
    throw handleError(`.memory is ${buffer.byteLength} bytes, smaller than the ${layout.bytes}-byte layout`);
  }
  // Written once by create(), never by an attacher: a memory whose table differs would misplace values.
  if (layout.tableBytes > 0 && !checkExpTable(buffer, layout.tableOffset)) {
    bad(`its exponential histograms' table (${layout.tableBytes} bytes at ${layout.tableOffset}) is not the one create() writes`);
  }
  // The bitmap before the lanes-ever word: a claim raises the word before it marks the bitmap, so a
  // mark seen here is covered by the word read after it, whatever other threads claim meanwhile.
  const bitmap = Atomics.load(new BigUint64Array(buffer, HDR_LANE_BITMAP, 1), 0);
  const ever = field(HDR_LANES_EVER);
  if (ever > lanes) bad(`${ever} lanes were claimed in it, more than its ${lanes} lanes`);
  if (bitmap >> BigInt(lanes) !== 0n) bad(`its lane bitmap 0x${bitmap.toString(16)} marks lanes past its ${lanes} lanes`);
  if (bitmap >> BigInt(ever) !== 0n) bad(`its lane bitmap 0x${bitmap.toString(16)} marks lanes past the ${ever} ever claimed`);
  return { definition, layout };
});
