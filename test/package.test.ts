// The package as a user gets it: `npm pack` of the built project, installed from the tarball into a
// project of its own in a temp folder (from the npm cache that `npm ci` filled), then used
// there the way the README says: the Node quick start and every other example of the README, the
// types of every subpath under both module resolutions, require() from CommonJS, the Wasm file by
// its subpath as docs/api.md loads it, the `migration-stats` command and a Vite build; and the Node
// bundles (dist/node/) that the entries load, one copy of the library across them. The tarball
// holds only what its entries and the README's links reach, and installs nothing else. Nothing
// here resolves anything from this repository but the tools (npm, tsc, vite, semver).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

interface PackageJson {
  name: string;
  version: string;
  engines: { node: string };
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  bundleDependencies?: string[];
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

/** Subpaths whose target is a module with types (not the `.wasm` file or package.json). */
const typedSubpaths = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target !== 'string' && 'types' in target)
  .map(([subpath]) => posix.join(pkg.name, subpath));

/** Subpaths that are a worker script: started with `new Worker(url)`, never imported. */
const WORKER_SUBPATHS = ['./browser/simulate-worker'];

/** Typed subpaths a program imports (a worker script, imported, would start to work as one). */
const importedSubpaths = typedSubpaths.filter((name) => !WORKER_SUBPATHS.some((worker) => posix.join(pkg.name, worker) === name));

/**
 * The installed size at most, in bytes of its files: what the bundles, the browser maps, the types
 * and docs/ take (2.06 MB in 0.2.0's first cut; about 2.52 MB with QMP, the simulator's monitors,
 * `watch` and the reading core; about 2.96 MB with exponential histograms, intervals and the
 * protobuf format, mostly the browser bundles' source maps) and room to grow, not enough for src/
 * (0.8 MB) to come back.
 */
const INSTALLED_BYTES_AT_MOST = 3_200_000;

/** A Markdown file without its fenced code blocks (which hold no links or headings). */
const prose = (markdown: string) => markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');

/** The relative links of a Markdown file: `[text](target)`, not web or mail addresses. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** The anchors of a Markdown file's headings, as GitHub makes them (lower case, punctuation dropped, spaces to dashes). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = heading!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').trim().replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count ? `${base}-${count}` : base);
  }
  return result;
}

/**
 * The `js` blocks of a Markdown file run as a module whose `expression; //=> value` lines record
 * what the expression gave: the module prints `[expression, shown, comment]` rows as JSON.
 * `prelude` comes first (the names a block uses without making them).
 */
function checkedModule(code: string, prelude = ''): string {
  const lines = code.split('\n').map((line) => {
    const match = /^(\s*)(?!const |let |import )(.+?);\s*\/\/=> (.+)$/.exec(line);
    if (!match) return line;
    const [, indent, expression, comment] = match;
    return `${indent}__rows.push([${JSON.stringify(expression)}, __show(${expression}), ${JSON.stringify(comment)}]);`;
  });
  return `import { inspect as __inspect } from 'node:util';
const __rows = [];
const __show = (value) => __inspect(value, { breakLength: Infinity }).replace(/\\[ /g, '[').replace(/ \\]/g, ']');
${prelude}
${lines.join('\n')}
console.log(JSON.stringify(__rows));
`;
}

/** Whether a `//=> comment` says what the expression gave: it starts with the value, then ends or goes on after a space or colon. */
const agrees = ([, shown, comment]: [string, string, string]) => comment === shown || comment.startsWith(`${shown} `) || comment.startsWith(`${shown}:`);

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

/** A path of the installed package, from a tarball path. */
const inPackage = (path: string) => join(app, 'node_modules', pkg.name, path);

/** Relative modules: `from './x.js'`, `import('./x.js')`, `import './x.js'` and `new URL('./x.js', import.meta.url)`. */
const RELATIVE_MODULE = /(?:\bfrom\s*|\bimport\s*\(?\s*|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/**
 * The tarball paths a shipped file leads a user to: the modules, workers and source map a script
 * names, the declarations a .d.ts imports, the sources a map names without carrying them, the
 * files a Markdown file links to.
 */
function reachedFrom(path: string): string[] {
  const text = readFileSync(inPackage(path), 'utf8');
  const near = (target: string) => posix.normalize(posix.join(posix.dirname(path), target));
  if (path.endsWith('.md')) return relativeLinks(text).map((link) => link.split('#')[0]!).filter(Boolean).map(near);
  if (path.endsWith('.map')) {
    const { sources, sourcesContent = [] } = JSON.parse(text) as { sources: string[]; sourcesContent?: (string | null)[] };
    return sources.filter((_, i) => typeof sourcesContent[i] !== 'string').map(near);
  }
  const modules = [...text.matchAll(RELATIVE_MODULE)].map((match) => near(match[1]!));
  if (path.endsWith('.d.ts')) return modules.map((module) => module.replace(/\.js$/, '.d.ts'));
  if (!/\.m?js$/.test(path)) return [];
  const map = /\n\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
  return map ? [...modules, near(map)] : modules;
}

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
});

afterAll(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds every file that exports, main, types and bin point at', () => {
    expect(declaredPaths().filter((path) => !shipped.has(path))).toEqual([]);
  });

  it('holds only what its entries and the README reach, and all of that', () => {
    const reached = new Set<string>();
    const visit = (path: string): void => {
      if (reached.has(path)) return;
      reached.add(path);
      if (shipped.has(path)) for (const next of reachedFrom(path)) visit(next);
    };
    // npm ships package.json, the README and the LICENSE whatever "files" says.
    for (const path of ['package.json', 'README.md', 'LICENSE', ...declaredPaths()]) visit(path);
    expect([...shipped].filter((path) => !reached.has(path))).toEqual([]);
    expect([...reached].filter((path) => !shipped.has(path))).toEqual([]);
    // The README links to every file of docs/, and docs/ has nothing else.
    expect([...shipped].filter((path) => path.startsWith('docs/')).sort()).toEqual(readdirSync(join(ROOT, 'docs')).map((name) => `docs/${name}`).sort());
  });

  it('holds the Wasm core in the bundles, not the modules of dist/ that they are made from', () => {
    const base64 = readFileSync(join(ROOT, 'build', 'release.wasm')).toString('base64');
    for (const dir of ['dist/node/', 'dist/browser/']) {
      expect([...shipped].some((path) => path.startsWith(dir) && path.endsWith('.js') && readFileSync(inPackage(path), 'utf8').includes(base64)), dir).toBe(true);
    }
    expect([...shipped].filter((path) => /^dist\/(?!node\/|browser\/).*\.js$/.test(path))).toEqual([]);
  });

  it(`installs in at most ${INSTALLED_BYTES_AT_MOST} bytes, and installs no other package`, () => {
    const sizeOf = (path: string): number => (statSync(path).isDirectory() ? readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0) : statSync(path).size);
    expect(sizeOf(inPackage(''))).toBeLessThanOrEqual(INSTALLED_BYTES_AT_MOST);
    const manifest = JSON.parse(readFileSync(inPackage('package.json'), 'utf8')) as PackageJson;
    expect({ ...manifest.dependencies, ...manifest.optionalDependencies, ...Object.fromEntries((manifest.bundleDependencies ?? []).map((name) => [name, ''])) }).toEqual({});
    // The consumer has the package, the optional peers it asked for, and what those need: npm's tree says so.
    const tree = JSON.parse(run('npm', ['ls', '--all', '--json'], app)) as { dependencies: Record<string, { dependencies?: Record<string, unknown> }> };
    expect(Object.keys(tree.dependencies[pkg.name]!.dependencies ?? {}).filter((name) => !(name in pkg.peerDependencies))).toEqual([]);
  });

  it('has types for every subpath but the Wasm file and package.json, the worker script included', () => {
    const untyped = Object.entries(pkg.exports).filter(([subpath, target]) => !['./wasm', './package.json'].includes(subpath) && (typeof target === 'string' || !target.types));
    expect(untyped).toEqual([]);
    for (const subpath of WORKER_SUBPATHS) expect(typedSubpaths).toContain(posix.join(pkg.name, subpath));
  });

  it("has the README give the commands CI runs (.ci/run), and CI run the README's", () => {
    const readme = readFileSync(inPackage('README.md'), 'utf8');
    const section = readme.split(/^## /m).find((part) => part.startsWith('From a clone\n'));
    expect(section).toBeDefined();
    const inReadme = new Set(section!.match(/\bnpm (?:ci|install|test|start|run [\w:-]+)/g));
    const inCi = readFileSync(join(ROOT, '.ci', 'run'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line.startsWith('npm '));
    expect(inCi.length).toBeGreaterThan(0);
    expect(inCi.filter((command) => !inReadme.has(command))).toEqual([]);
    // Every command the README gives but `npm start` (the demo) is one CI runs.
    expect([...inReadme].filter((command) => command !== 'npm start' && !inCi.includes(command))).toEqual([]);
  });

  it('says on its front page when to choose it over prom-client or OpenTelemetry, and when not', () => {
    const front = readFileSync(inPackage('README.md'), 'utf8').split(/^## /m)[0]!;
    const paragraph = front.split(/\n\n/).find((part) => part.startsWith('**When to choose it.**'));
    expect(paragraph).toBeDefined();
    for (const words of ['prom-client', 'OpenTelemetry', 'exact total', 'one\nshared limit', "QEMU's own reports", 'Not across processes', 'cluster', 'share no\nmemory']) {
      expect(paragraph!.replace(/\s+/g, ' '), words).toContain(words.replace(/\s+/g, ' '));
    }
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
    const unwanted = [...shipped].filter((path) => /^(test|bench|examples|scripts|src|assembly|\.ci|node_modules)\/|\.test\.|^build\/debug\.|\.wat$|^dist\/\.|\.npmignore$/.test(path));
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
      for (const name of ${JSON.stringify(importedSubpaths)}) names[name] = Object.keys(await import(name)).sort();
      console.log(JSON.stringify(names));`;
    const names = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], app)) as Record<string, string[]>;
    expect(Object.keys(names)).toEqual(importedSubpaths);
    // Subpaths that share a types file (the browser builds and their Node entries) export the same names.
    const byTypes = new Map<string, string[]>();
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string' || !target.types || WORKER_SUBPATHS.includes(subpath)) continue;
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

  it('runs the Wasm example of docs/api.md (import.meta.resolve and a read) as written', () => {
    const api = readFileSync(inPackage('docs/api.md'), 'utf8');
    const code = [...api.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => match[1]!).find((block) => block.includes("import.meta.resolve('migration-stats/wasm')"));
    expect(code).toBeDefined();
    writeFileSync(join(app, 'wasm-example.mjs'), checkedModule(code!));
    const rows = JSON.parse(run(process.execPath, ['wasm-example.mjs'], app)) as [string, string, string][];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((row) => !agrees(row))).toEqual([]);
  });

  it('runs every other js example of the README, each giving what its //=> comments say', () => {
    const readme = readFileSync(inPackage('README.md'), 'utf8');
    // The quick start's files and the CommonJS example (`// name.mjs` on top) have tests of their own.
    const blocks = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => match[1]!).filter((code) => !/^\/\/ [\w-]+\.[cm]?js\b/.test(code));
    expect(blocks.length).toBeGreaterThan(0);
    let checked = 0;
    blocks.forEach((code, i) => {
      // A block that uses `stats` without making it goes on from the quick start's.
      const prelude = /\bconst stats\b/.test(code) ? '' : "import { MigrationStats } from 'migration-stats';\nconst stats = await MigrationStats.create();";
      writeFileSync(join(app, `readme-${i}.mjs`), checkedModule(code, prelude));
      const rows = JSON.parse(run(process.execPath, [`readme-${i}.mjs`], app)) as [string, string, string][];
      expect(rows.filter((row) => !agrees(row)), code).toEqual([]);
      checked += rows.length;
    });
    expect(checked).toBeGreaterThan(0);
  });

  it('is loaded with require() from CommonJS as the README shows, on this Node', () => {
    const readme = readFileSync(inPackage('README.md'), 'utf8');
    const code = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => match[1]!).find((block) => block.startsWith('// main.cjs\n'));
    expect(code).toBeDefined();
    writeFileSync(join(app, 'main.cjs'), code!);
    const expected = [...code!.matchAll(/\/\/=> (.+)$/gm)].map((match) => match[1]!.trim());
    expect(expected.length).toBeGreaterThan(0);
    expect(run(process.execPath, ['main.cjs'], app).trim().split('\n')).toEqual(expected);
  });

  it('has engines admit the Node versions that can require() it (require(esm) without a flag: 20.19, 22.12), this one among them', () => {
    const semver = createRequire(join(ROOT, 'package.json'))('semver') as { satisfies(version: string, range: string): boolean };
    const { engines } = JSON.parse(readFileSync(inPackage('package.json'), 'utf8')) as PackageJson;
    expect(semver.satisfies(process.versions.node, engines.node)).toBe(true);
    for (const version of ['20.0.0', '20.18.3', '22.0.0', '22.11.0']) expect(semver.satisfies(version, engines.node), version).toBe(false);
    for (const version of ['20.19.0', '22.12.0', '24.0.0', '26.0.0']) expect(semver.satisfies(version, engines.node), version).toBe(true);
  });

  it('has every relative link of its Markdown files lead to a file it holds, and to a heading there', () => {
    const broken: string[] = [];
    let links = 0;
    for (const path of [...shipped].filter((file) => file.endsWith('.md'))) {
      for (const link of relativeLinks(readFileSync(inPackage(path), 'utf8'))) {
        links += 1;
        const [file, anchor] = link.split('#') as [string, string | undefined];
        const target = file ? posix.normalize(posix.join(posix.dirname(path), file)) : path;
        if (!shipped.has(target)) broken.push(`${path}: ${link}`);
        else if (anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(inPackage(target), 'utf8')).has(anchor)) broken.push(`${path}: ${link} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
    expect(relativeLinks(readFileSync(inPackage('README.md'), 'utf8')).filter((link) => link.startsWith('docs/')).length).toBeGreaterThan(0);
    expect(links).toBeGreaterThan(0);
  });

  it('prints its version with migration-stats --version and -V: the one of its package.json, which the CHANGELOG has not released before', () => {
    const semver = createRequire(join(ROOT, 'package.json'))('semver') as { gt(a: string, b: string): boolean };
    const { version } = JSON.parse(readFileSync(inPackage('package.json'), 'utf8')) as PackageJson;
    for (const flag of ['--version', '-V']) expect(run('npx', ['--no-install', 'migration-stats', flag], app)).toBe(`${version}\n`);
    // The newest section is "Unreleased" (what this version adds) or this version's own.
    const sections = [...readFileSync(inPackage('CHANGELOG.md'), 'utf8').matchAll(/^## (.+)$/gm)].map((match) => match[1]!.trim());
    const released = sections.map((title) => /^\[?(\d+\.\d+\.\d+)\b/.exec(title)?.[1]).filter((found) => found !== undefined);
    if (sections[0] === 'Unreleased') expect(semver.gt(version, released[0]!), `${version} after ${released[0]}`).toBe(true);
    else expect(released[0]).toBe(version);
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
  [`${pkg.name}/qemu`]: 'dist/node/qemu.js',
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
const result = await simulateMigration({ ramBytes: 4 << 20, dirtyBytesPerSecond: 1e9, bandwidthBytesPerSecond: 1e7, availSwitchoverBandwidth: 1e7, postcopy: true });
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
    // `import` after a `-` is text (the simulator names Node's `--import` flag), not a statement.
    const specs = [...code.matchAll(/(?:\bfrom\s*|(?<![-\w])import\s*\(?\s*|new URL\(\s*)['"]([^'"]+)['"]/g)].map((match) => match[1]!);
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

  it('loads nothing but dist/node/ and the optional peers, bundles no package, and has no file there that no entry reaches', () => {
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
    // The command reads its version from package.json (new URL('../../package.json', import.meta.url)).
    expect([...reached].filter((path) => !path.startsWith('dist/node/'))).toEqual(['package.json']);
    reached.delete('package.json');
    // The simulator's worker, started by URL, is among them.
    expect(reached).toContain('dist/node/simulate-worker.js');
    expect([...packages].filter((name) => !name.startsWith('node:') && !Object.keys(pkg.peerDependencies).includes(name))).toEqual([]);
    const inNode = [...shipped].filter((path) => path.startsWith('dist/node/'));
    expect(inNode.filter((path) => path.endsWith('.js') && !reached.has(path))).toEqual([]);
    // No source maps: the bundles are not minified, and the maps would need src/ (see scripts/build-node.mjs).
    expect(maps).toEqual([]);
    expect(inNode.filter((path) => !path.endsWith('.js'))).toEqual([]);
    // The Wasm core is instantiated without glue: no package is inside, and none is named on top.
    for (const path of reached) expect(readFileSync(installed(path), 'utf8'), path).not.toMatch(/^\/\/ .*\n\/\/ These files bundle /);
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
    });

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
