// migration-stats zero-page scan: the simulator's hot loop, over the guest's RAM.
//
// This module is separate from the counters' core (index.ts) and imports one thing: the shared
// memory that *is* the guest's RAM, byte 0 = the first byte of guest page 0. It has no data
// segment, no start function and allocates nothing, so instantiating it in a channel worker never
// writes a byte of guest RAM. The caller passes byte offsets of whole pages inside the RAM and
// checks them against the RAM size first: Wasm only traps past the end of the memory itself.
//
// QEMU's multifd sender asks `buffer_is_zero()` of every page before it queues it; a page that is
// all zeros travels as an offset in the packet header, any other page as 4096 bytes of data.
//
// The same module also serves the verification after a migration (`firstDifference`): there its
// memory is a small one of the verifier's own, into which chunks of source and destination are
// copied side by side.

/** Returns 1 when the `bytes` bytes at `addr` are all zero, else 0 (v128 loads, 64 bytes a step). */
export function isZeroPage(addr: usize, bytes: u32): i32 {
  // Counts bytes down rather than comparing with an end address: the last page of a 4 GiB memory
  // ends at 2^32, which wraps to 0 as an address. Pages are a multiple of 64 bytes.
  for (let left = bytes; left != 0; left -= 64) {
    const any = v128.or(
      v128.or(v128.load(addr), v128.load(addr, 16)),
      v128.or(v128.load(addr, 32), v128.load(addr, 48)),
    );
    if (v128.any_true(any)) return 0;
    addr += 64;
  }
  return 1;
}

/** Returns 1 when the `bytes` bytes at `addr` are all zero, else 0 (u64 loads, 32 bytes a step). */
export function isZeroPageScalar(addr: usize, bytes: u32): i32 {
  for (let left = bytes; left != 0; left -= 32) {
    const any = load<u64>(addr) | load<u64>(addr, 8) | load<u64>(addr, 16) | load<u64>(addr, 24);
    if (any != 0) return 0;
    addr += 32;
  }
  return 1;
}


/**
 * Returns the offset (from `a`) of the first 64-byte block in which the `bytes` bytes at `a` and
 * at `b` differ, or -1 when they are all equal (v128 loads). `bytes` is a multiple of 64, below
 * 2^31. The simulator's verification copies source and destination chunks side by side into one
 * small memory and compares them here.
 */
export function firstDifference(a: usize, b: usize, bytes: u32): i32 {
  for (let at: u32 = 0; at < bytes; at += 64) {
    const p = a + at;
    const q = b + at;
    const any = v128.or(
      v128.or(v128.xor(v128.load(p), v128.load(q)), v128.xor(v128.load(p, 16), v128.load(q, 16))),
      v128.or(v128.xor(v128.load(p, 32), v128.load(q, 32)), v128.xor(v128.load(p, 48), v128.load(q, 48))),
    );
    if (v128.any_true(any)) return <i32>at;
  }
  return -1;
}
