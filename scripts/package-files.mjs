// Writes dist/.npmignore: the package ships only the files of dist/ that a user can reach. npm
// honours a .npmignore inside a folder that package.json's "files" includes, and does not ship
// the .npmignore itself.
//
// Reached means: a path that package.json's main, types, bin or exports (every condition) names,
// and, from there, every relative module a JavaScript file imports or starts as a worker
// (`from './x.js'`, `import('./x.js')`, `new URL('./x.js', import.meta.url)`), the source map it
// names (`//# sourceMappingURL=`), and every declaration file a .d.ts imports. The rest of dist/
// (tsc's modules, which the Node and browser bundles replace, and the declarations of internal
// modules) is what the tests and the bundle builds use in this repository only. Runs last in
// scripts/build.mjs; test/package.test.ts checks the packed result on its own.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Every path a (possibly nested) exports target names. */
const targets = (target) => (typeof target === 'string' ? [target] : Object.values(target ?? {}).flatMap(targets));

/** The package's own entry files, relative to the package root. */
const entries = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {}), ...targets(pkg.exports)].filter(Boolean).map((path) => posix.normalize(path));

const MODULE = /(?:\bfrom\s*|\bimport\s*\(?\s*|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
const MAP = /\n\/\/# sourceMappingURL=(?!data:)(\S+)\s*$/;

/** The files a file reaches directly, relative to the package root. */
function links(path) {
  if (!/\.(?:m?js|d\.ts)$/.test(path)) return [];
  const code = readFileSync(join(root, path), 'utf8');
  const near = (spec) => posix.normalize(posix.join(posix.dirname(path), spec));
  const found = [...code.matchAll(MODULE)].map((match) => near(match[1]));
  if (path.endsWith('.d.ts')) return found.map((file) => file.replace(/\.js$/, '.d.ts'));
  const map = MAP.exec(code)?.[1];
  return map ? [...found, near(map)] : found;
}

const reached = new Set();
const visit = (path) => {
  if (reached.has(path)) return;
  if (!existsSync(join(root, path))) throw new Error(`package-files: ${path} is named (by package.json or a file it reaches) but does not exist`);
  reached.add(path);
  for (const next of links(path)) visit(next);
};
for (const entry of entries) visit(entry);

/** Every file under a folder, relative to the package root. */
const walk = (dir) =>
  readdirSync(join(root, dir)).flatMap((name) => {
    const path = posix.join(dir, name);
    return statSync(join(root, path)).isDirectory() ? walk(path) : [path];
  });

const unreached = walk('dist').filter((path) => !reached.has(path) && path !== 'dist/.npmignore');
const lines = [
  '# Written by scripts/build.mjs (scripts/package-files.mjs): the files of dist/ that no entry of',
  "# package.json reaches, which the package does not ship. Don't edit; rebuild.",
  '/.build-stamp',
  ...unreached.map((path) => `/${posix.relative('dist', path)}`),
];
writeFileSync(join(root, 'dist', '.npmignore'), `${[...new Set(lines)].join('\n')}\n`);
