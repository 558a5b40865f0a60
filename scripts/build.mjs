// `npm run build`: the Wasm modules, their ABI for TypeScript, dist/, the Node bundles and the
// browser bundle, in order.
//
//   1. asc: assembly/stats-core.ts → build/release.wasm, assembly/zero-scan.ts → build/scan.wasm
//      (with `--bindings raw` declarations next to them)
//   2. scripts/gen-abi.mjs: the modules' constants and export types → src/backend/abi.ts,
//      src/simulate/scan-abi.ts, build/stats-core.h
//   3. scripts/gen-exp-table.mjs: the exponential bucket index's tables → src/backend/exp-tables.ts
//      (exact integer roots; rewritten only when they differ)
//   4. tsc: src/ → dist/ (cleared first)
//   5. scripts/embed-wasm.mjs: the .wasm bytes → dist/backend/wasm-binary.js, dist/simulate/scan-binary.js
//   6. scripts/build-node.mjs: dist/ → dist/node/ (the Node entry points, ES modules that share
//      chunks; what package.json's exports and bin/ load in Node)
//   7. scripts/build-browser.mjs: dist/ → dist/browser/ (one-file ES modules)
//   8. scripts/package-files.mjs: dist/.npmignore, so the package ships only the files of dist/
//      that package.json's entries reach (the bundles, their maps, the public declarations)
//
//   node scripts/build.mjs             build
//   node scripts/build.mjs --if-stale  build only when a source is newer than the last build (what
//                                      `npm test` and the test setup run, so a test never sees a
//                                      stale dist/ and an up-to-date one is not built twice)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const STAMP = join(root, 'dist', '.build-stamp');
/** What the build reads: a change to any of these makes dist/ stale. */
const SOURCES = ['assembly', 'src', 'scripts', 'asconfig.json', 'asconfig.scan.json', 'tsconfig.json', 'package.json'];

/** Newest modification time under `path`, in ms. */
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

function isStale() {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  return SOURCES.some((source) => existsSync(join(root, source)) && newest(join(root, source)) > built);
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`build: ${command} ${args.join(' ')} failed${result.error ? ` (${result.error.message})` : ''}\n`);
    process.exit(result.status ?? 1);
  }
}

if (process.argv.includes('--if-stale') && !isStale()) process.exit(0);

const bin = (name) => join(root, 'node_modules', '.bin', name);
run(bin('asc'), ['assembly/stats-core.ts', '--target', 'release']);
run(bin('asc'), ['assembly/zero-scan.ts', '--config', 'asconfig.scan.json', '--target', 'release']);
run(process.execPath, ['scripts/gen-abi.mjs']);
run(process.execPath, ['scripts/gen-exp-table.mjs']);
rmSync(join(root, 'dist'), { recursive: true, force: true });
run(bin('tsc'), ['-p', 'tsconfig.json']);
run(process.execPath, ['scripts/embed-wasm.mjs']);
run(process.execPath, ['scripts/build-node.mjs']);
run(process.execPath, ['scripts/build-browser.mjs']);
run(process.execPath, ['scripts/package-files.mjs']);
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
