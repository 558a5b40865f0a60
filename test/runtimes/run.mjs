#!/usr/bin/env node
// `npm run test:runtimes`: the runtime-neutral suite in every runtime the project supports (Node 20,
// 22, 24, 26, Bun 1, Deno 2; see scripts/runtimes.mjs, which installs them from npm into
// .cache/runtimes/). Runs under any Node; builds nothing (npm runs the build first).
//
//   npm run test:runtimes               all runtimes
//   npm run test:runtimes -- bun deno   some of them
//
// 1. Packs the built project (npm pack) and installs the tarball into an empty project in a temp
//    folder, with the optional peers, and checks that npm printed no warning.
// 2. In each runtime: runs test/runtimes/suite/main.mjs from that project (so `migration-stats`
//    is the installed package), and the `migration-stats simulate` command of the installed
//    package on a small RAM, with both backends.
// 3. Prints a table, and ends with one line: `runtimes: N passed, N failed`.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, installAll, RUNTIMES, runArgs, runtimeEnv } from '../../scripts/runtimes.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Longest a runtime may take for the suite or one command before it counts as hung (it is then killed). */
const RUN_LIMIT_MS = 10 * 60_000;

const results = []; // { runtime, name, ok, error }
const record = (runtime, name, ok, error) => {
  results.push({ runtime, name, ok, error });
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${runtime.padEnd(7)} ${name}${ok ? '' : `\n       ${String(error).replaceAll('\n', '\n       ')}`}\n`);
};

/** Runs a command to its end; resolves to its exit code and output. Kills it past RUN_LIMIT_MS. */
function runCommand(command, args, options) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, RUN_LIMIT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${error.message}`, hung });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, stdout, stderr, hung });
    });
  });
}

/** Packs the project and installs the tarball into a new empty project; returns that project's folder. */
function installTarball(temp) {
  const npm = (args, cwd) => spawnSync('npm', args, { cwd, env: cleanEnv(), encoding: 'utf8' });
  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', temp], ROOT);
  if (packed.status !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
  const [{ filename }] = JSON.parse(packed.stdout);
  const app = join(temp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'runtime-suite-consumer', private: true, type: 'module' })}\n`);
  // The optional peer the suite uses, at the version this repository tests with (from the npm cache).
  const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules/prom-client/package.json'), 'utf8'));
  const args = (mode) => ['install', mode, '--no-audit', '--no-fund', join(temp, filename), `prom-client@${version}`];
  let installed = npm(args('--offline'), app);
  if (installed.status !== 0) installed = npm(args('--prefer-offline'), app); // a fresh cache lacks the registry's version lists
  if (installed.status !== 0) throw new Error(`npm install of ${filename} failed:\n${installed.stderr}`);
  const warnings = installed.stderr.split('\n').filter((line) => /^npm warn/i.test(line));
  record('npm', `the packed tarball (${filename}) installs into an empty project with no warning`, warnings.length === 0, warnings.join('\n'));
  cpSync(join(ROOT, 'test/runtimes/suite'), join(app, 'suite'), { recursive: true });
  return app;
}

/** Runs the suite in one runtime and records each of its tests. */
async function runSuite(installed, app) {
  const { runtime, binary, version } = installed;
  const bare = runtime.kind === 'deno' ? version.replace(/^deno /, '').split(' ')[0] : version.replace(/^v/, '');
  const args = runArgs(runtime, join(app, 'suite', 'main.mjs'), ['--runtime', runtime.id, '--version', bare, '--app', app]);
  const { code, stdout, stderr, hung } = await runCommand(binary, args, { cwd: app, env: runtimeEnv(runtime) });
  let done;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry.done) done = entry;
    else if (typeof entry.test === 'string') record(runtime.id, entry.test, entry.ok, entry.error);
  }
  if (!done || code !== (done.failed === 0 ? 0 : 1)) {
    record(runtime.id, 'the suite runs to its end', false, `${hung ? 'killed: it hung; ' : ''}exit ${code}; stderr:\n${stderr.trim().slice(-3000)}`);
  }
}

/** Runs the installed package's `migration-stats simulate` in one runtime, as a user would. */
async function runCli(installed, app) {
  const { runtime, binary } = installed;
  const bin = join(app, 'node_modules', 'migration-stats', 'bin', 'migration-stats.mjs');
  const env = runtimeEnv(runtime);
  {
    // No dirtying: the run converges after its first pass and its page counts are exact.
    const { code, stdout, stderr } = await runCommand(binary, runArgs(runtime, bin, ['simulate', '--ram', '4MiB', '--dirty-rate', '0', '--json']), { cwd: app, env });
    let problem;
    try {
      const reply = JSON.parse(stdout);
      const want = { status: 'completed', total: 4194304, remaining: 0, normal: 768, duplicate: 256, 'normal-bytes': 768 * 4096 };
      const got = { status: reply.status, total: reply.ram.total, remaining: reply.ram.remaining, normal: reply.ram.normal, duplicate: reply.ram.duplicate, 'normal-bytes': reply.ram['normal-bytes'] };
      if (code !== 0 || JSON.stringify(got) !== JSON.stringify(want)) problem = `exit ${code}; got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
    } catch (error) {
      problem = `exit ${code}; ${error.message}; stdout: ${stdout.slice(0, 500)}; stderr: ${stderr.slice(-1500)}`;
    }
    record(runtime.id, 'migration-stats simulate --ram 4MiB --dirty-rate 0 --json: query-migrate with exact page counts', problem === undefined, problem);
  }
  {
    const { code, stdout, stderr } = await runCommand(binary, runArgs(runtime, bin, ['simulate', '--ram', '4MiB', '--dirty-rate', '0', '--backend', 'js']), { cwd: app, env });
    const verified = 'migration completed; destination equals source: 4194304 bytes (1024 pages) compared byte for byte';
    const ok = code === 0 && stdout.includes('Status: \t\tcompleted\n') && stdout.includes(verified);
    record(runtime.id, 'migration-stats simulate --ram 4MiB --dirty-rate 0 --backend js: the report, destination verified byte for byte', ok, `exit ${code}; stdout: ${stdout.slice(-800)}; stderr: ${stderr.slice(-1500)}`);
  }
}

async function main(ids) {
  for (const file of ['dist/index.js', 'dist/browser/migration-stats.js']) {
    if (!existsSync(join(ROOT, file))) throw new Error(`${file} is missing: run npm run build (npm run test:runtimes does)`);
  }
  const installed = await installAll(ids.length ? ids : RUNTIMES.map((r) => r.id));
  const temp = mkdtempSync(join(tmpdir(), 'migration-stats-runtimes-'));
  try {
    const app = installTarball(temp);
    for (const runtime of installed) {
      process.stdout.write(`\n${runtime.runtime.name}: ${runtime.version} (${runtime.binary})\n`);
      await runSuite(runtime, app);
      await runCli(runtime, app);
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }

  const rows = [...new Set(results.map((r) => r.runtime))].map((runtime) => {
    const mine = results.filter((r) => r.runtime === runtime);
    const version = installed.find((i) => i.runtime.id === runtime)?.version ?? '';
    return `| ${runtime} | ${version} | ${mine.filter((r) => r.ok).length} | ${mine.filter((r) => !r.ok).length} |`;
  });
  process.stdout.write(`\n| runtime | version | passed | failed |\n|---|---|---:|---:|\n${rows.join('\n')}\n`);
  const failed = results.filter((r) => !r.ok);
  for (const f of failed) process.stdout.write(`failed: ${f.runtime}: ${f.name}\n`);
  process.stdout.write(`\nruntimes: ${results.length - failed.length} passed, ${failed.length} failed\n`);
  return failed.length === 0 && results.length > 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
