#!/usr/bin/env node
// The JavaScript runtimes the project is tested on, each installed from the npm registry as a
// package that has the runtime's binary inside, into a cache folder of this repository (never
// globally, never on PATH). The runtime suite (test/runtimes/) and the runtime benchmark
// (bench/runtimes.mjs) take their binaries from here.
//
//   node scripts/runtimes.mjs install [id…]   install the runtimes not yet in the cache (default: all)
//   node scripts/runtimes.mjs path ID         print one runtime's binary (installs it first)
//   node scripts/runtimes.mjs list            the table below, with what is installed, as JSON
//
// The cache is .cache/runtimes/ (git-ignored); MIGRATION_STATS_RUNTIMES_DIR moves it. A runtime is
// installed once, verified by running `--version`, and kept; changing a version below installs the
// new one next to the old (delete the folder to reclaim the space). Only Linux on x64 and arm64
// (glibc) is supported: the registry has Node's binary packages for those only.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The runtimes, in the order reports list them. `version` is exact, so every machine tests the
 * same builds; bump it here to move on (the suite prints each binary's own `--version`).
 */
export const RUNTIMES = Object.freeze([
  { id: 'node20', name: 'Node 20', kind: 'node', version: '20.20.2' },
  { id: 'node22', name: 'Node 22', kind: 'node', version: '22.23.5' },
  { id: 'node24', name: 'Node 24', kind: 'node', version: '24.22.3' },
  { id: 'node26', name: 'Node 26', kind: 'node', version: '26.12.1' },
  { id: 'bun', name: 'Bun 1', kind: 'bun', version: '1.4.5' },
  { id: 'deno', name: 'Deno 2', kind: 'deno', version: '2.9.6' },
]);

/** Where the runtimes are kept. */
export function cacheDir() {
  return process.env.MIGRATION_STATS_RUNTIMES_DIR || join(ROOT, '.cache', 'runtimes');
}

/** Whether this x64 CPU lacks AVX2, which Bun's default build needs (it has a "baseline" build). */
function lacksAvx2() {
  try {
    return !/^flags\s*:.*\bavx2\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The npm package that holds a runtime's binary for this machine, and the binary's path inside it.
 * @param runtime - an entry of {@link RUNTIMES}
 * @param os - `process.platform`'s value (default this machine's)
 * @param cpu - `process.arch`'s value (default this machine's)
 * @throws RangeError on a platform the registry has no such package for
 */
export function binaryPackage(runtime, os = platform(), cpu = arch()) {
  if (os !== 'linux' || (cpu !== 'x64' && cpu !== 'arm64')) {
    throw new RangeError(`binaryPackage: the registry's runtime binaries are used on Linux x64 and arm64 only; received ${os} ${cpu}`);
  }
  switch (runtime.kind) {
    case 'node':
      return { name: `node-linux-${cpu}`, bin: 'bin/node' };
    case 'bun':
      return { name: `@oven/bun-linux-${cpu === 'arm64' ? 'aarch64' : 'x64'}${cpu === 'x64' && lacksAvx2() ? '-baseline' : ''}`, bin: 'bin/bun' };
    case 'deno':
      return { name: `@deno/linux-${cpu}-glibc`, bin: 'deno' };
    default:
      throw new Error(`scripts/runtimes.mjs: unknown runtime kind ${JSON.stringify(runtime.kind)}`);
  }
}

/**
 * Finds a runtime by id.
 * @throws RangeError naming the value and the ids there are
 */
export function runtimeById(id) {
  const runtime = RUNTIMES.find((r) => r.id === id);
  if (!runtime) throw new RangeError(`runtimeById: id must be one of ${RUNTIMES.map((r) => r.id).join(', ')}; received ${JSON.stringify(id)}`);
  return runtime;
}

/** The environment for a command run here: without what `npm run` adds (`npm_*`), which would steer a nested npm. */
export function cleanEnv(extra = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD'));
  return { ...env, ...extra };
}

/**
 * What a runtime needs in its environment to run here without reaching for the network or writing
 * outside the cache: no update checks, no crash reports, Deno's own cache inside ours.
 */
export function runtimeEnv(runtime, extra = {}) {
  const env = cleanEnv({ DO_NOT_TRACK: '1', NO_COLOR: '1', ...extra });
  delete env.FORCE_COLOR;
  if (runtime.kind === 'deno') {
    Object.assign(env, { DENO_DIR: join(cacheDir(), 'deno-dir'), DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' });
  }
  return env;
}

/**
 * The arguments that make a runtime run a module file with `args`: Deno needs `run` and
 * permissions (all of them: the suite starts workers and processes, reads and writes temp files).
 */
export function runArgs(runtime, file, args = []) {
  return runtime.kind === 'deno' ? ['run', '--allow-all', '--quiet', file, ...args] : [file, ...args];
}

function folderOf(runtime, pkg) {
  return join(cacheDir(), `${runtime.id}-${pkg.name.replace(/^@/, '').replace('/', '-')}-${runtime.version}`);
}

/** The binary's `--version` output, checked against the version asked for. @throws Error if it does not run or differs */
function verify(runtime, binary) {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', env: runtimeEnv(runtime), timeout: 60_000 });
  const out = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.status !== 0 || !out.includes(runtime.version)) {
    throw new Error(`${binary} --version answered ${JSON.stringify(out)} (exit ${result.status}${result.error ? `, ${result.error.message}` : ''}); expected ${runtime.version}`);
  }
  return out.split('\n')[0];
}

/** Where a runtime's binary is once installed (it may not be yet). */
export function binaryPath(runtime) {
  const pkg = binaryPackage(runtime);
  return join(folderOf(runtime, pkg), 'node_modules', pkg.name, pkg.bin);
}

/** Whether a runtime is installed and was verified. */
export function isInstalled(runtime) {
  const pkg = binaryPackage(runtime);
  return existsSync(join(folderOf(runtime, pkg), 'verified.json')) && existsSync(binaryPath(runtime));
}

function npmInstall(folder, spec, log) {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', '--loglevel=error', spec], {
      cwd: folder,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm install ${spec} failed (exit ${code}):\n${output}`))));
    log(`installing ${spec} into ${folder}`);
  });
}

/**
 * Installs a runtime into the cache if it is not there yet.
 * @returns `{ runtime, binary, version }`: the binary's path and the first line of its `--version`
 */
export async function install(runtime, log = (line) => process.stderr.write(`${line}\n`)) {
  const pkg = binaryPackage(runtime);
  const folder = folderOf(runtime, pkg);
  const binary = binaryPath(runtime);
  if (!isInstalled(runtime)) {
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'package.json'), `${JSON.stringify({ private: true, description: `${runtime.name} for the migration-stats runtime suite` })}\n`);
    await npmInstall(folder, `${pkg.name}@${runtime.version}`, log);
    const version = verify(runtime, binary);
    writeFileSync(join(folder, 'verified.json'), `${JSON.stringify({ package: `${pkg.name}@${runtime.version}`, version })}\n`);
  }
  return { runtime, binary, version: verify(runtime, binary) };
}

/**
 * Installs several runtimes at once (the downloads overlap).
 * @param ids - runtime ids; default all
 */
export async function installAll(ids = RUNTIMES.map((r) => r.id), log) {
  const runtimes = ids.map(runtimeById);
  return Promise.all(runtimes.map((runtime) => install(runtime, log)));
}

async function main(argv) {
  const [command = 'install', ...ids] = argv;
  switch (command) {
    case 'install':
      for (const { runtime, binary, version } of await installAll(ids.length ? ids : undefined)) console.log(`${runtime.id}\t${version}\t${binary}`);
      return 0;
    case 'path': {
      if (ids.length !== 1) throw new Error('usage: node scripts/runtimes.mjs path ID');
      console.log((await install(runtimeById(ids[0]))).binary);
      return 0;
    }
    case 'list':
      console.log(JSON.stringify(RUNTIMES.map((r) => ({ ...r, package: `${binaryPackage(r).name}@${r.version}`, installed: isInstalled(r), binary: binaryPath(r) })), null, 2));
      return 0;
    default:
      console.error(`unknown command ${JSON.stringify(command)}; usage: node scripts/runtimes.mjs install [id…] | path ID | list`);
      return 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error) => {
      console.error(error.message);
      process.exitCode = 1;
    },
  );
}
