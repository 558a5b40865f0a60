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
  // Minified (about 87 kB, 31 kB gzipped) with a source map that carries the TypeScript sources;
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

// The live-migration simulator (migration-stats/simulate), as two more files next to it:
//   simulate.js         simulateMigration, one ES module
//   simulate-worker.js  the module Web Worker it starts (the guest and the multifd channels)
// simulate.js finds its worker next to itself: the plugin swaps the Node default
// (dist/simulate/worker.js, see src/simulate/worker-url.ts) for the bundled file's name.
const workerNextToBundle = {
  name: 'simulate-worker-url',
  setup(b) {
    b.onResolve({ filter: /\/worker-url\.js$/ }, () => ({ path: 'worker-url', namespace: 'simulate' }));
    b.onLoad({ filter: /.*/, namespace: 'simulate' }, () => ({
      contents: "export const defaultWorkerUrl = () => new URL('./simulate-worker.js', import.meta.url);",
      loader: 'js',
    }));
  },
};
for (const [entry, out, what] of [
  ['simulate/index.js', 'simulate.js', 'the live-migration simulator'],
  ['simulate/worker.js', 'simulate-worker.js', "the simulator's Web Worker"],
]) {
  await build({
    ...options,
    entryPoints: [new URL(`../dist/${entry}`, import.meta.url).pathname],
    outfile: new URL(`../dist/browser/${out}`, import.meta.url).pathname,
    plugins: [workerNextToBundle],
    banner: { js: `// ${pkg.name} ${pkg.version} (${pkg.license}), browser build of ${what}: one ES module, Wasm included.` },
  });
}
