/**
 * Chromium, driven by playwright-core. Which binary: `CHROMIUM_PATH` when set; else Debian's
 * /usr/bin/chromium; else the Chromium inside the @sparticuz/chromium npm package, so that a
 * machine with nothing from apt runs the browser tests too. (`MIGRATION_STATS_NPM_ONLY=1` skips
 * the Debian one.) That package's own `args` are never used: its `--disable-web-security` turns
 * cross-origin isolation off and its `--enable-features=SharedArrayBuffer` exposes
 * SharedArrayBuffer everywhere, which would hide exactly what the tests check.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { systemFile } from '../requirements.js';
import { openDriverPage, type Engine } from './engine.js';
import { SAFETY_NET_MS } from '../wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The flags every Chromium here gets: headless without a sandbox, and no calls home. */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** How descriptions name the Chromium from npm. */
export const NPM_SOURCE = '@sparticuz/chromium from npm';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Chromium binary of @sparticuz/chromium, unpacked once (about 200 MB, a few seconds) into
 * .cache/sparticuz-chromium/VERSION/ of this repository. The package unpacks into `$TMPDIR` and
 * takes whatever it finds there as complete; here it unpacks into a folder of its own, one process
 * at a time (a lock folder holding the unpacker's pid), and a marker file says it finished.
 */
export async function npmChromium(): Promise<string> {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules/@sparticuz/chromium/package.json'), 'utf8')) as { version: string };
  const dir = join(ROOT, '.cache', 'sparticuz-chromium', version);
  const binary = join(dir, 'chromium');
  const done = join(dir, 'unpacked.json');
  const lock = `${dir}.lock`;
  mkdirSync(join(dir, '..'), { recursive: true });
  for (let tries = 0; !existsSync(done); tries++) {
    try {
      mkdirSync(lock);
    } catch {
      // Another process is unpacking, or died doing it.
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // the lock was just released, or its holder has not written its pid yet
      }
      if (Number.isInteger(holder) && holder > 0 && !processAlive(holder)) rmSync(lock, { recursive: true, force: true });
      if (tries >= 1200) throw new Error(`@sparticuz/chromium: ${lock} is still held after ${tries} tries`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    try {
      writeFileSync(join(lock, 'pid'), String(process.pid));
      if (existsSync(done)) break;
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', "const { default: c } = await import('@sparticuz/chromium'); console.log(await c.executablePath());"], {
        cwd: ROOT,
        env: { ...process.env, TMPDIR: dir },
        encoding: 'utf8',
      });
      if (result.status !== 0 || result.stdout.trim() !== binary) {
        throw new Error(`@sparticuz/chromium did not unpack into ${dir} (exit ${result.status}): ${result.stdout}${result.stderr}`);
      }
      writeFileSync(done, `${JSON.stringify({ version })}\n`);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return binary;
}

/** Which Chromium the tests use, and where it came from. */
export async function findChromium(): Promise<{ path: string; source: string }> {
  const explicit = process.env.CHROMIUM_PATH;
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`CHROMIUM_PATH is ${explicit}, which does not exist`);
    return { path: explicit, source: 'CHROMIUM_PATH' };
  }
  const debian = systemFile('/usr/bin/chromium');
  if (debian) return { path: debian, source: "Debian's chromium" };
  return { path: await npmChromium(), source: NPM_SOURCE };
}

/**
 * Launches Chromium headless.
 * @param options - `npm`: the one from @sparticuz/chromium, whatever else is installed
 */
export async function launchChromium(options: { npm: boolean }): Promise<Engine> {
  const { path, source } = options.npm ? { path: await npmChromium(), source: NPM_SOURCE } : await findChromium();
  // The launch's limit is the suite's safety net (test/wait.ts), not playwright's own.
  const browser: Browser = await chromium.launch({ executablePath: path, headless: true, args: ARGS, timeout: SAFETY_NET_MS });
  return {
    id: options.npm ? 'chromium-npm' : 'chromium',
    description: `Chromium ${browser.version()} (${source}, ${path})`,
    async open(url) {
      const context = await browser.newContext();
      return openDriverPage(await context.newPage(), url, () => context.close());
    },
    close: () => browser.close(),
  };
}
