// The package as a user gets it: `npm pack` of the built project, installed from the tarball into a
// project of its own in a temp folder (from the npm cache that `npm ci` filled), then used
// there the way the README says: the Node quick start, the types of every subpath under both module
// resolutions, the Wasm file by its subpath, the `migration-stats` command and a Vite build; and
// the Node bundles (dist/node/) that the entries load, one copy of the library across them. Nothing
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

/** The Node entries and the bundle of scripts/build-node.mjs that each must load. */
const NODE_ENTRIES: Record<string, string> = {
  [pkg.name]: 'dist/node/index.js',
  [`${pkg.name}/simulate`]: 'dist/node/simulate.js',
  [`${pkg.name}/prom-client`]: 'dist/node/prom-client.js',
  [`${pkg.name}/otel`]: 'dist/node/otel.js',
};

/**
 * Run in the consumer project: the four Node entries as a user imports them, a stats object made
 * through each passed to the functions of the others. Every worker the simulator starts is
 * recorded (worker_threads' Worker, wrapped before the simulator first asks for it). Prints JSON.
 */
const CROSS_ENTRIES = `
import { createRequire, syncBuiltinESMExports } from 'node:module';
const threads = createRequire(import.meta.url)('node:worker_threads');
const workers = new Set();
const { Worker } = threads;
threads.Worker = class extends Worker {
  constructor(url, options) {
    workers.add(String(url));
    super(url, options);
  }
};
syncBuiltinESMExports();

const { MigrationStats, SharedStats, defineStats, prometheusText } = await import('migration-stats');
const { simulateMigration } = await import('migration-stats/simulate');
const { registerPromClient } = await import('migration-stats/prom-client');
const { observeStats, statsMetricProducer } = await import('migration-stats/otel');
const other = await import('migration-stats/browser');
const { Registry } = await import('prom-client');
const { metrics } = await import('@opentelemetry/api');

// A guest that dirties faster than it is sent: postcopy, whose destination statistics the simulator makes.
const result = await simulateMigration({ ramBytes: 4 << 20, dirtyBytesPerSecond: 1e9, bandwidthBytesPerSecond: 1e7, postcopy: true });
const schema = { copied: { kind: 'counter', unit: 'files', help: 'Files copied.' } };
const made = {
  main: await defineStats(schema, { namespace: 'main' }).create(),
  simulate: result.destinationStats,
  other: await other.defineStats(schema, { namespace: 'other' }).create(),
};
made.main.copied.add(5);
made.other.copied.add(5);

// A thread that cannot share memory (a page that is not cross-origin isolated): a copy of the
// library can no longer read another copy's stats through their memory, only its own.
globalThis.SharedArrayBuffer = undefined;
const accepted = {};
for (const [maker, stats] of Object.entries(made)) {
  accepted[maker] = {};
  for (const [call, use] of Object.entries({
    prometheusText: () => prometheusText(stats).length > 0,
    registerPromClient: () => registerPromClient(stats, { registry: new Registry() }).names.length > 0,
    observeStats: () => observeStats(stats, metrics.getMeter('test')).names.length > 0,
    statsMetricProducer: () => typeof statsMetricProducer(stats).collect === 'function',
  })) {
    try {
      accepted[maker][call] = use();
    } catch (error) {
      accepted[maker][call] = error.message;
    }
  }
}
console.log(JSON.stringify({
  status: result.status,
  verified: result.verified,
  switched: result.postcopy !== undefined,
  isInstance: [SharedStats.isInstance(result.stats), SharedStats.isInstance(result.destinationStats)],
  instanceOf: result.stats instanceof MigrationStats,
  workers: [...workers],
  accepted,
}));
`;

describe('the Node bundles (dist/node/) of the installed package', () => {
  const installed = (path: string) => join(app, 'node_modules', pkg.name, path);
  /** A bundle's static imports and the workers it starts by URL, with its sourceMappingURL. */
  const importsOf = (path: string) => {
    const code = readFileSync(installed(path), 'utf8');
    const specs = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|new URL\(\s*)['"]([^'"]+)['"]/g)].map((match) => match[1]!);
    return { specs, map: /\n\/\/# sourceMappingURL=(\S+)\n?$/.exec(code)?.[1] };
  };

  it('has every Node entry, main and the migration-stats command load a bundle', () => {
    const script = `console.log(JSON.stringify(${JSON.stringify(Object.keys(NODE_ENTRIES))}.map((name) => import.meta.resolve(name))))`;
    const resolved = (JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], app)) as string[]).map((url) => fileURLToPath(url));
    expect(resolved).toEqual(Object.values(NODE_ENTRIES).map(installed));
    const manifest = JSON.parse(readFileSync(installed('package.json'), 'utf8')) as PackageJson;
    expect(posix.normalize(manifest.main)).toBe(NODE_ENTRIES[pkg.name]);
    const bin = posix.normalize(manifest.bin[pkg.name]!);
    expect(importsOf(bin).specs.map((spec) => posix.join(posix.dirname(bin), spec))).toEqual(['dist/node/cli.js']);
  });

  it('loads nothing but dist/node/ and the optional peers, bundles @assemblyscript/loader, and has no file there that no entry reaches', () => {
    const reached = new Set<string>();
    const packages = new Set<string>();
    const maps: string[] = [];
    const visit = (path: string): void => {
      if (reached.has(path)) return;
      reached.add(path);
      const { specs, map } = importsOf(path);
      if (map) maps.push(posix.join(posix.dirname(path), map));
      for (const spec of specs) {
        if (spec.startsWith('.')) visit(posix.join(posix.dirname(path), spec));
        else packages.add(spec);
      }
    };
    for (const entry of [...Object.values(NODE_ENTRIES), 'dist/node/cli.js']) visit(entry);
    expect([...reached].filter((path) => !path.startsWith('dist/node/'))).toEqual([]);
    // The simulator's worker, started by URL, is among them.
    expect(reached).toContain('dist/node/simulate-worker.js');
    expect([...packages].filter((name) => !name.startsWith('node:') && !Object.keys(pkg.peerDependencies).includes(name))).toEqual([]);
    const inNode = [...shipped].filter((path) => path.startsWith('dist/node/'));
    expect(inNode.filter((path) => path.endsWith('.js') && !reached.has(path))).toEqual([]);
    // Each file has its source map, whose sources the package ships or the map carries (the bundled packages').
    expect(maps.sort()).toEqual([...reached].map((path) => `${path}.map`).sort());
    expect(inNode.filter((path) => path.endsWith('.map')).sort()).toEqual(maps);
    const sources = maps.flatMap((map) => {
      const { sources, sourcesContent } = JSON.parse(readFileSync(installed(map), 'utf8')) as { sources: string[]; sourcesContent: (string | null)[] };
      return sources.map((source, i) => ({ path: posix.join(posix.dirname(map), source), carried: typeof sourcesContent[i] === 'string' }));
    });
    expect(sources.filter(({ path, carried }) => !carried && !shipped.has(path))).toEqual([]);
    expect(sources.filter(({ carried }) => carried).map(({ path }) => path).sort()).toEqual(['dist/node/simulate:worker-url', 'node_modules/@assemblyscript/loader/index.js']);
    expect(sources.map(({ path }) => path)).toContain('src/define-stats.ts');
  });

  it('defines each class in one file of the bundles, so every entry uses the same one', () => {
    const defined = new Map<string, string[]>();
    for (const path of [...shipped].filter((file) => file.startsWith('dist/node/') && file.endsWith('.js'))) {
      for (const match of readFileSync(installed(path), 'utf8').matchAll(/^(?:var (\w+) = class\b|class (\w+))/gm)) {
        const name = match[1] ?? match[2]!;
        defined.set(name, [...(defined.get(name) ?? []), path]);
      }
    }
    expect(defined.keys()).toContain('SharedStats');
    expect(defined.keys()).toContain('MigrationStats');
    expect([...defined].filter(([, files]) => files.length > 1)).toEqual([]);
  });

  describe('one stats object across the entries', () => {
    let out: { status: string; verified: boolean; switched: boolean; isInstance: boolean[]; instanceOf: boolean; workers: string[]; accepted: Record<string, Record<string, true | string>> };
    beforeAll(() => {
      writeFileSync(join(app, 'cross-entries.mjs'), CROSS_ENTRIES);
      out = JSON.parse(run(process.execPath, ['cross-entries.mjs'], app));
    }, 60_000);

    it("has the main entry take the simulator's stats as its own, made by the bundled worker", () => {
      expect(out).toMatchObject({ status: 'completed', verified: true, switched: true });
      // The counters and the destination's postcopy statistics: the main entry's classes, private fields included.
      expect(out.isInstance).toEqual([true, true]);
      expect(out.instanceOf).toBe(true);
      expect(out.workers.map((url) => fileURLToPath(url))).toEqual([installed('dist/node/simulate-worker.js')]);
    });

    it('has every entry read stats made through another as its own, where a copy of the library cannot read those of another', () => {
      const calls = ['prometheusText', 'registerPromClient', 'observeStats', 'statsMetricProducer'];
      for (const maker of ['main', 'simulate']) expect(out.accepted[maker], maker).toEqual(Object.fromEntries(calls.map((call) => [call, true])));
      // Those of another copy (the browser build) are refused there: the check tells copies apart.
      expect(Object.keys(out.accepted.other!)).toEqual(calls);
      for (const answer of Object.values(out.accepted.other!)) expect(answer).toMatch(/it is a stats object of another copy of migration-stats, which this copy reads through its shared memory, and this thread cannot share memory/);
    });
  });
});
