/**
 * Builds the test guest (guest/: a Multiboot kernel that dirties a range of its RAM) with the
 * machine's gcc and ld, once per source version: the ELF goes to .cache/qemu-guest/<hash>/guest.elf,
 * where the hash covers the sources and the flags. Plain gcc compiles 32-bit freestanding code with
 * -m32 without gcc-multilib: nothing here needs a 32-bit libc or libgcc.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_DIR = fileURLToPath(new URL('./guest/', import.meta.url));
const CACHE_DIR = fileURLToPath(new URL('../../.cache/qemu-guest/', import.meta.url));
const SOURCES = ['entry.S', 'guest.c', 'guest.ld'] as const;

/** 32-bit, freestanding, no position-independent code, no stack protector (no libc to back it). */
const CFLAGS = ['-m32', '-march=i686', '-ffreestanding', '-fno-pic', '-fno-pie', '-fno-stack-protector', '-fno-asynchronous-unwind-tables', '-nostdlib', '-O2', '-Wall', '-Wextra', '-Werror'];
const LDFLAGS = ['-m', 'elf_i386', '-nostdlib', '--build-id=none'];

function run(program: string, args: readonly string[], cwd: string): void {
  const result = spawnSync(program, args, { cwd, encoding: 'utf8' });
  if (result.error !== undefined) throw new Error(`building the QEMU test guest: cannot run ${program}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`building the QEMU test guest: ${program} ${args.join(' ')} failed:\n${result.stderr}`);
}

/**
 * The path of the guest kernel, built now unless this version is already in the cache.
 * @returns an ELF32 Multiboot kernel for QEMU's -kernel
 * @throws Error with the compiler's output when the build fails
 */
export function buildGuest(): string {
  const hash = createHash('sha256');
  for (const flag of [...CFLAGS, ...LDFLAGS]) hash.update(`${flag}\0`);
  for (const name of SOURCES) hash.update(`${name}\0`).update(readFileSync(join(SOURCE_DIR, name))).update('\0');
  const dir = join(CACHE_DIR, hash.digest('hex').slice(0, 16));
  const elf = join(dir, 'guest.elf');
  if (existsSync(elf)) return elf;
  mkdirSync(CACHE_DIR, { recursive: true });
  // Built in a folder of its own, then renamed into place: a concurrent build never sees half a file.
  const work = mkdtempSync(join(CACHE_DIR, 'build-'));
  try {
    run('gcc', [...CFLAGS, '-c', join(SOURCE_DIR, 'entry.S'), '-o', 'entry.o'], work);
    run('gcc', [...CFLAGS, '-c', join(SOURCE_DIR, 'guest.c'), '-o', 'guest.o'], work);
    run('ld', [...LDFLAGS, '-T', join(SOURCE_DIR, 'guest.ld'), '-o', 'guest.elf', 'entry.o', 'guest.o'], work);
    try {
      renameSync(work, dir);
    } catch (error) {
      // Another run renamed its own build into place first: the same sources, so the same kernel.
      if (!existsSync(elf)) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return elf;
}
