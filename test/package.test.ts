// The package as a user gets it: `npm pack` of the built project, installed from the tarball into a
// project of its own in a temp folder (from the npm cache that `npm ci` filled), then used
// there the way the README says: the Node quick start, the types of every subpath under both module
// resolutions, the Wasm file by its subpath, the `migration-stats` command and a Vite build. Nothing
// here resolves anything from this repository but the tools (npm, tsc, vite).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

interface PackageJson {
  name: string;
  main: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
  files: string[];
  peerDependencies: Record<string, string>;
}

/** What `npm pack --json` says about one tarball. */
interface Packed {
  filename: string;
  files: { path: string }[];
}

/**
 * The environment of every command run here, as in a user's shell: without the `npm_*` variables
 * of `npm test` (one names this repository as npm's local prefix) and with this repository's
 * folders taken off PATH (which `npm test` puts first), so a command found is the consumer
 * project's or the system's.
 */
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD'),
);
env.PATH = (process.env.PATH ?? '').split(delimiter).filter((dir) => !dir.startsWith(ROOT)).join(delimiter);

/** Runs a command to its end and returns its stdout; a failure carries its stderr. */
function run(command: string, args: readonly string[], cwd: string): string {
  return runBoth(command, args, cwd).stdout;
}

/** Runs a command to its end and returns its stdout and stderr; a failure carries both. */
function runBoth(command: string, args: readonly string[], cwd: string): { stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${result.stderr ?? ''}${result.stdout ?? ''}${result.error?.message ?? ''}`);
  return { stdout: result.stdout, stderr: result.stderr };
}

/** Every file path the exports map, `main`, `types` and `bin` point at, as tarball paths. */
function declaredPaths(): string[] {
  const targets = Object.values(pkg.exports).flatMap((target) => (typeof target === 'string' ? [target] : Object.values(target)));
  return [...new Set([...targets, pkg.main, pkg.types, ...Object.values(pkg.bin)].map((path) => posix.normalize(path)))].sort();
}

/** Subpaths whose target is a module with types (not the `.wasm` file, a worker or package.json). */
const typedSubpaths = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target !== 'string' && 'types' in target)
  .map(([subpath]) => posix.join(pkg.name, subpath));

/** The two `js` blocks of the README's "Quick start: Node workers", by the file name each opens with. */
function quickStart(): Record<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Quick start: Node workers\n'));
  if (!section) throw new Error('README.md has no "## Quick start: Node workers" section');
  const blocks = [...section.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
  return Object.fromEntries(blocks.map((code) => [/^\/\/ (\S+)\n/.exec(code)?.[1] ?? '(unnamed)', code]));
}

let temp: string;
let packed: Packed;
/** Tarball paths, as `npm pack` lists them. */
let shipped: Set<string>;
/** The consumer project. */
let app: string;
/** What `npm install` of the tarball printed on stderr (npm's warnings). */
let installWarnings: string;

beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'migration-stats-package-'));
  // The build already ran (pretest): pack what it left, without running `prepare` (a whole build) again.
  packed = (JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', temp], ROOT)) as [Packed])[0];
  shipped = new Set(packed.files.map((file) => posix.normalize(file.path)));

  app = join(temp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // The optional peers too, at the versions this repository tests with (so they are in the cache):
  // a user of migration-stats/prom-client or migration-stats/otel installs them.
  const peers = Object.keys(pkg.peerDependencies).map((name) => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return `${name}@${version}`;
  });
  const install = (mode: string) => runBoth('npm', ['install', mode, '--no-audit', '--no-fund', join(temp, packed.filename), ...peers], app).stderr;
  try {
    installWarnings = install('--offline');
  } catch {
    // `npm ci` caches the tarballs but not the registry's list of versions of each name, which an
    // install by range needs: on a fresh machine --offline fails, and npm then asks the registry
    // for those few lists only (the tarballs still come from the cache).
    installWarnings = install('--prefer-offline');
  }
}, 120_000);

afterAll(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds every file that exports, main, types and bin point at', () => {
    expect(declaredPaths().filter((path) => !shipped.has(path))).toEqual([]);
  });

  it('holds the generated modules that embed the Wasm (made by the build)', () => {
    for (const file of ['dist/backend/wasm-binary.js', 'dist/backend/wasm-binary.d.ts', 'dist/simulate/scan-binary.js']) expect(shipped).toContain(file);
  });

  it('holds every file that a shipped module imports or starts as a worker', () => {
    const missing: string[] = [];
    for (const path of shipped) {
      if (!path.endsWith('.js') && !path.endsWith('.mjs') && !path.endsWith('.d.ts')) continue;
      const code = readFileSync(join(app, 'node_modules', pkg.name, path), 'utf8');
      // `from './x.js'`, `import('./x.js')`, `import './x.js'` and `new URL('./x.js', import.meta.url)`.
      for (const [, spec] of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = posix.normalize(posix.join(posix.dirname(path), spec!));
        if (!shipped.has(target)) missing.push(`${path} → ${spec}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('holds no compiled file without its source (no leftovers of an earlier build)', () => {
    // A module's source is its .ts file, or the .d.ts that declares what the build generates; the
    // bundles (dist/browser/, dist/node/) are checked on their own.
    const source = (path: string, ext: string) => path.replace(/^dist\//, 'src/').replace(/\.js$/, ext);
    const orphans = [...shipped].filter((path) => /^dist\/(?!browser\/|node\/).*\.js$/.test(path) && !shipped.has(source(path, '.ts')) && !shipped.has(source(path, '.d.ts')));
    expect(orphans).toEqual([]);
  });

  it('holds a LICENSE that matches the license package.json names', () => {
    expect(shipped).toContain('LICENSE');
    expect((pkg as { license?: string }).license).toBe('MIT');
    expect(readFileSync(join(app, 'node_modules', pkg.name, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} /);
  });

  it('has no install-time scripts, so installing it runs nothing and npm warns of nothing', () => {
    // npm 11 flags preinstall, install, postinstall and (outside the registry) prepare; the build
    // of a clone runs from postprepare, which npm runs for the root project only.
    const { scripts = {} } = JSON.parse(readFileSync(join(app, 'node_modules', pkg.name, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    expect(Object.keys(scripts).filter((name) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(name))).toEqual([]);
    expect(installWarnings).not.toMatch(/install-scripts|allowScripts/);
    expect(installWarnings.split('\n').filter((line) => /^npm warn/i.test(line))).toEqual([]);
  });

  it('holds no tests, benchmarks, examples, build scripts or debug builds', () => {
    const unwanted = [...shipped].filter((path) => /^(test|bench|examples|scripts|\.ci|node_modules)\/|\.test\.|^build\/debug\.|\.wat$/.test(path));
    expect(unwanted).toEqual([]);
  });
});

describe('the package installed in a project of its own', () => {
  it('runs the README quick start (Node workers) and prints what its comments say', () => {
    const files = quickStart();
    expect(Object.keys(files).sort()).toEqual(['main.mjs', 'worker.mjs']);
    for (const [name, code] of Object.entries(files)) writeFileSync(join(app, name), code);
    const expected = [...files['main.mjs']!.matchAll(/\/\/=> (.+)$/gm)].map((match) => match[1]!.trim());
    expect(expected.length).toBeGreaterThan(0);
    expect(run(process.execPath, ['main.mjs'], app).trim().split('\n')).toEqual(expected);
  });

  it('imports every typed subpath at run time, with the names its types declare', () => {
    const script = `const names = {};
      for (const name of ${JSON.stringify(typedSubpaths)}) names[name] = Object.keys(await import(name)).sort();
      console.log(JSON.stringify(names));`;
    const names = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], app)) as Record<string, string[]>;
    expect(Object.keys(names)).toEqual(typedSubpaths);
    // Subpaths that share a types file (the browser builds and their Node entries) export the same names.
    const byTypes = new Map<string, string[]>();
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string' || !target.types) continue;
      const exported = names[posix.join(pkg.name, subpath)]!;
      expect(exported.length, subpath).toBeGreaterThan(0);
      const first = byTypes.get(target.types);
      if (first) expect(exported, subpath).toEqual(first);
      else byTypes.set(target.types, exported);
    }
  });

  it.each([
    ['NodeNext', 'NodeNext'],
    ['bundler', 'ESNext'],
  ])('has types for every typed subpath under moduleResolution %s', (moduleResolution, module) => {
    const imports = typedSubpaths.map((name, i) => `import * as m${i} from '${name}';`).join('\n');
    writeFileSync(
      join(app, 'consumer.ts'),
      `${imports}
import { MigrationStats, type Stat64 } from 'migration-stats';
import { simulateMigration, type MigrationResult } from 'migration-stats/simulate';
import { registerPromClient } from 'migration-stats/prom-client';
import { observeMigrationStats } from 'migration-stats/otel';

const stats: MigrationStats = await MigrationStats.create({ backend: 'js' });
const zeroPages: Stat64 = stats.zeroPages;
// Fails to compile if the types are missing and the value is any.
// @ts-expect-error: a counter's value is a bigint
const wrong: string = zeroPages.get();
const result: Promise<MigrationResult> = simulateMigration({ ramBytes: 4096 });
export { ${typedSubpaths.map((_, i) => `m${i}`).join(', ')}, wrong, result, registerPromClient, observeMigrationStats };
`,
    );
    const tsconfig = join(app, `tsconfig.${moduleResolution}.json`);
    writeFileSync(
      tsconfig,
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module, moduleResolution, lib: ['ES2022', 'DOM'], types: [], strict: true, noEmit: true, skipLibCheck: false },
        files: ['consumer.ts'],
      }),
    );
    run(TSC, ['-p', tsconfig], app);
  });

  it('resolves migration-stats/wasm to the core: a module compiled from it joins stats the library made', () => {
    const script = `
      import { readFileSync } from 'node:fs';
      import { MigrationStats } from 'migration-stats';
      const url = import.meta.resolve('migration-stats/wasm');
      const module = new WebAssembly.Module(readFileSync(new URL(url)));
      const stats = await MigrationStats.create();
      const mine = await MigrationStats.attach({ ...stats.handle, module });
      mine.zeroPages.add(7);
      stats.zeroPages.add(1);
      console.log(JSON.stringify({ url, read: stats.zeroPages.getNumber(), readMine: mine.zeroPages.getNumber() }));`;
    const out = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], app)) as { url: string; read: number; readMine: number };
    expect(fileURLToPath(out.url)).toBe(join(app, 'node_modules', pkg.name, 'build', 'release.wasm'));
    // The library's embedded module and the user's own compile of the file count into one memory.
    expect([out.read, out.readMine]).toEqual([8, 8]);
  });

  it('runs the migration-stats command with npx and prints query-migrate JSON', () => {
    // No dirtying: the run converges after its first pass and its page counts are exact.
    const reply = JSON.parse(run('npx', ['--no-install', 'migration-stats', 'simulate', '--ram', '4MiB', '--dirty-rate', '0', '--json'], app)) as {
      status: string;
      ram: Record<string, number>;
    };
    expect(reply.status).toBe('completed');
    expect(reply.ram).toMatchObject({ total: 4194304, remaining: 0, normal: 768, duplicate: 256, 'normal-bytes': 768 * 4096 });
  });

  it('is bundled by Vite with no plugin and no config: the Wasm core inside, the simulator worker a file of its own', async () => {
    const page = join(app, 'page');
    mkdirSync(page);
    writeFileSync(join(page, 'index.html'), '<!doctype html>\n<script type="module" src="./main.js"></script>\n');
    writeFileSync(
      join(page, 'main.js'),
      `import { MigrationStats } from 'migration-stats';
import { simulateMigration } from 'migration-stats/simulate';
const stats = await MigrationStats.create();
stats.zeroPages.add(1);
const result = await simulateMigration({ ramBytes: 4194304 });
document.body.textContent = String(stats.zeroPages.get()) + result.status;
`,
    );
    const outDir = join(app, 'page-dist');
    const { build } = await import('vite');
    await build({ root: page, configFile: false, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    const assets = join(outDir, 'assets');
    const bundle = readdirSync(assets)
      .filter((name) => name.endsWith('.js'))
      .map((name) => readFileSync(join(assets, name), 'utf8'))
      .join('\n');
    expect(bundle).toContain(readFileSync(join(ROOT, 'build', 'release.wasm')).toString('base64'));
    // The simulator starts its worker from `new URL(<literal>, import.meta.url)`. A worker module
    // with imports of its own would be emitted alone (or inlined as a data: URL) and fail to load
    // them: the browser condition of migration-stats/simulate gives Vite the one-file worker.
    const workers = [...bundle.matchAll(/new URL\(\s*[`'"]([^`'"]+)[`'"]/g)].map((match) => match[1]!);
    expect(workers.length).toBeGreaterThan(0);
    for (const url of workers) {
      expect(url).toMatch(/^\/assets\/[^/]+\.js$/);
      expect(readFileSync(join(outDir, url), 'utf8')).not.toMatch(/\bfrom\s*['"]|\bimport\s*['"]/);
    }
  });
});
