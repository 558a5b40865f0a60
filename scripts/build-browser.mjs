// Writes dist/browser/migration-stats.js: the library and its dependencies in one ES module, for a
// page that imports it by URL with no bundler. The Wasm core is already inside (base64, see
// embed-wasm.mjs), so this one file is all a page needs. Runs after tsc, from dist/index.js.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const read = (url) => JSON.parse(readFileSync(url, 'utf8'));
const pkg = read(new URL('../package.json', import.meta.url));
const options = {
  entryPoints: [new URL('../dist/index.js', import.meta.url).pathname],
  outfile: new URL('../dist/browser/migration-stats.js', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // The same language level as tsc's output (tsconfig "target").
  target: 'es2022',
  // Minified (about 25 kB, 9 kB gzipped) with a source map that carries the TypeScript sources;
  // keepNames keeps class and function names (stack traces, `constructor.name`) as in dist/.
  minify: true,
  keepNames: true,
  sourcemap: true,
  logLevel: 'warning',
};

// First pass, in memory: which packages end up inside, to name them (and their licences) on top.
const { metafile } = await build({ ...options, write: false, metafile: true });
const bundled = [...new Set(Object.keys(metafile.inputs).map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1]).filter(Boolean))]
  .sort()
  .map((name) => {
    const dep = read(new URL(`../node_modules/${name}/package.json`, import.meta.url));
    return `${dep.name} ${dep.version} (${dep.license})`;
  });

await build({
  ...options,
  banner: {
    js:
      `// ${pkg.name} ${pkg.version} (${pkg.license}), browser build: one ES module, no imports, Wasm core included.` +
      (bundled.length ? `\n// Bundles ${bundled.join(', ')}.` : ''),
  },
});
