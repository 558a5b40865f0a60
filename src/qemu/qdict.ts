/**
 * The order in which QEMU prints the members of a JSON object.
 *
 * QEMU builds every QMP reply as a `QDict`: a hash table of 512 buckets, each a linked list to
 * which a new key is added at the head. Serialising walks the buckets from 0 to 511 and each list
 * from its head. So members come out sorted by bucket, and two keys in the same bucket come out
 * newest first. The bucket is `tdb_hash(key) % 512`, where `tdb_hash` is the gdbm/tdb string hash
 * on 32-bit unsigned arithmetic over the key's UTF-8 bytes.
 * @packageDocumentation
 */

/** QEMU's `QDICT_BUCKET_MAX`. */
export const QDICT_BUCKETS = 512;

const utf8 = new TextEncoder();

/**
 * QEMU's `tdb_hash()` of a key (unsigned 32-bit).
 * @example tdbHash('status') % 512 //=> 202
 */
export function tdbHash(key: string): number {
  const bytes = utf8.encode(key);
  // Seeded with the byte length (C's strlen), then each byte shifted by 0, 5, …, 20, 1, 6, … bits.
  let value = Math.imul(0x238f13af, bytes.length) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    value = (value + (bytes[i]! << ((i * 5) % 24))) >>> 0;
  }
  return (Math.imul(1103515243, value) + 12345) >>> 0;
}

/**
 * Orders keys as QEMU prints a QDict into which they were inserted in the given order.
 * @param keysInInsertionOrder - distinct keys, in the order QEMU would insert them
 * @returns the same keys in QEMU's output order
 * @example qdictOrder(['status', 'ram', 'total-time']) //=> ['status', 'total-time', 'ram']
 */
export function qdictOrder(keysInInsertionOrder: readonly string[]): string[] {
  return keysInInsertionOrder
    .map((key, inserted) => ({ key, inserted, bucket: tdbHash(key) % QDICT_BUCKETS }))
    .sort((a, b) => a.bucket - b.bucket || b.inserted - a.inserted)
    .map((entry) => entry.key);
}
