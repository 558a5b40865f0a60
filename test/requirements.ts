/**
 * The parts of the suite that need a program npm cannot install (a Debian package), and what a
 * test does when that program is missing: it is skipped with a note that names the part and the
 * command that installs it, and test/skip-summary.ts prints one line about all such skips at the
 * end of the run. Everything npm can provide (Chromium included) is never skipped.
 *
 * Environment variables:
 * - `MIGRATION_STATS_REQUIRE_ALL=1`: a missing program fails the tests that need it instead of
 *   skipping them (.ci/run sets it, so CI never skips silently).
 * - `MIGRATION_STATS_NPM_ONLY=1`: look for nothing outside npm (no /usr/bin/chromium, no Firefox,
 *   no WebKitGTK, no Prometheus), as on a fresh machine with nothing from apt; Chromium then comes
 *   from the @sparticuz/chromium package.
 * - `MIGRATION_STATS_SKIP_BROWSER=1`: skip every browser test (all engines), noted the same way.
 */
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const REQUIRE_ALL_ENV = 'MIGRATION_STATS_REQUIRE_ALL';
export const NPM_ONLY_ENV = 'MIGRATION_STATS_NPM_ONLY';
export const SKIP_BROWSER_ENV = 'MIGRATION_STATS_SKIP_BROWSER';

/** Whether finders must ignore everything outside npm (see the top of this file). */
export const npmOnly = (): boolean => process.env[NPM_ONLY_ENV] === '1';

/** The note of a test skipped for a missing program: the summary reads the part and the command back. */
export const skipNote = (name: string, enable: string): string => `part: ${name}; enable: ${enable}`;
/** Reads a note made by {@link skipNote}. */
export function parseSkipNote(note: string | undefined): { name: string; enable: string } | undefined {
  const match = /^part: (.+); enable: (.+)$/.exec(note ?? '');
  return match ? { name: match[1]!, enable: match[2]! } : undefined;
}

/**
 * The absolute path of an executable on PATH, or undefined. Under `MIGRATION_STATS_NPM_ONLY=1`
 * only folders inside a node_modules count.
 */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || (npmOnly() && !dir.split(/[\\/]/).includes('node_modules'))) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A system file, or undefined when it is missing or `MIGRATION_STATS_NPM_ONLY=1` hides it. */
export function systemFile(path: string): string | undefined {
  return !npmOnly() && existsSync(path) ? path : undefined;
}

/** WebKitGTK's MiniBrowser, wherever the multiarch folder is (`/usr/lib/x86_64-linux-gnu/…`). */
export function miniBrowser(): string | undefined {
  if (npmOnly()) return undefined;
  let dirs: string[] = [];
  try {
    dirs = readdirSync('/usr/lib');
  } catch {
    return undefined;
  }
  for (const dir of dirs) {
    const path = join('/usr/lib', dir, 'webkit2gtk-4.1', 'MiniBrowser');
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** One part of the suite that needs programs from a Debian package. */
export interface Part {
  /** What the summary calls it. */
  readonly name: string;
  /** The command that installs what it needs. */
  readonly enable: string;
  /** Why it cannot run here, or undefined when it can. */
  missing(): string | undefined;
}

/** The parts, by id. */
export const PARTS = {
  firefox: {
    name: 'Firefox ESR browser tests',
    enable: 'apt-get install firefox-esr',
    missing: () => (systemFile(process.env.FIREFOX_PATH || '/usr/bin/firefox-esr') ? undefined : `no Firefox ESR at ${process.env.FIREFOX_PATH || '/usr/bin/firefox-esr'}`),
  },
  webkit: {
    name: 'WebKitGTK browser tests',
    enable: 'apt-get install webkit2gtk-driver xvfb',
    missing: () => {
      const lacking = [
        which('WebKitWebDriver') ? undefined : 'WebKitWebDriver',
        which('Xvfb') ? undefined : 'Xvfb',
        miniBrowser() ? undefined : 'MiniBrowser (/usr/lib/*/webkit2gtk-4.1/)',
      ].filter((name) => name !== undefined);
      return lacking.length === 0 ? undefined : `${lacking.join(', ')} not found`;
    },
  },
  prometheus: {
    name: 'Prometheus tests (promtool and a real server)',
    enable: 'apt-get install --no-install-recommends prometheus',
    missing: () => {
      const lacking = ['prometheus', 'promtool'].filter((tool) => which(tool) === undefined);
      return lacking.length === 0 ? undefined : `${lacking.join(' and ')} not on PATH`;
    },
  },
  qemu: {
    name: 'real QEMU migration tests',
    enable: 'apt-get install qemu-system-x86',
    missing: () => (which('qemu-system-x86_64') ? undefined : 'qemu-system-x86_64 not on PATH'),
  },
  gcc: {
    name: 'the QEMU test guest build (gcc and ld)',
    enable: 'apt-get install gcc',
    missing: () => {
      const lacking = ['gcc', 'ld'].filter((tool) => which(tool) === undefined);
      return lacking.length === 0 ? undefined : `${lacking.join(' and ')} not on PATH`;
    },
  },
} satisfies Record<string, Part>;

export type PartId = keyof typeof PARTS;

/** What a test context offers for skipping (Vitest's `ctx.skip(note)`). */
interface SkipContext {
  skip(note?: string): void;
}

/** A part's verdict for this run: whether it can run, and what its tests do otherwise. */
export interface Gate {
  readonly available: boolean;
  /** Why it cannot run, when it cannot. */
  readonly reason: string | undefined;
  /**
   * Call first in each test of the part: returns when the part can run; otherwise skips the test
   * with a note naming the part and the command that enables it, or, under
   * `MIGRATION_STATS_REQUIRE_ALL=1`, throws an error saying the same.
   */
  check(ctx: SkipContext): void;
}

function makeGate(name: string, enable: string, reason: string | undefined): Gate {
  return {
    available: reason === undefined,
    reason,
    check(ctx) {
      if (reason === undefined) return;
      if (process.env[REQUIRE_ALL_ENV] === '1') {
        throw new Error(`${name} cannot run here (${reason}): ${enable}. ${REQUIRE_ALL_ENV}=1 makes this a failure instead of a skip.`);
      }
      ctx.skip(skipNote(name, enable));
    },
  };
}

/** The gate of a part that needs a Debian package. */
export function gate(id: PartId): Gate {
  const part: Part = PARTS[id];
  return makeGate(part.name, part.enable, part.missing());
}

/**
 * The gate of the browser tests of one engine: the part's gate, or a skip of every engine when
 * `MIGRATION_STATS_SKIP_BROWSER=1` says so. Chromium needs no part: npm provides one.
 */
export function browserGate(part: PartId | undefined): Gate {
  if (process.env[SKIP_BROWSER_ENV] === '1') {
    return makeGate(`browser tests (${SKIP_BROWSER_ENV}=1)`, `unset ${SKIP_BROWSER_ENV}`, `${SKIP_BROWSER_ENV}=1 is set`);
  }
  return part === undefined ? makeGate('browser tests', '', undefined) : gate(part);
}
