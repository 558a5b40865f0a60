// Writes the simulator's browser build, after tsc, next to dist/browser/migration-stats.js:
//   dist/browser/simulate.js         simulateMigration and its types' runtime, one ES module
//   dist/browser/simulate-worker.js  the module Web Worker it starts (guest and multifd channels)
// Both carry the Wasm modules inside (base64). simulate.js finds its worker next to itself: the
// plugin below swaps the Node default (dist/simulate/worker.js) for the bundled file's name.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const dist = (path) => new URL(`../dist/${path}`, import.meta.url).pathname;

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
  ['simulate/index.js', 'browser/simulate.js', 'the live-migration simulator'],
  ['simulate/worker.js', 'browser/simulate-worker.js', "the simulator's Web Worker"],
]) {
  await build({
    entryPoints: [dist(entry)],
    outfile: dist(out),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    keepNames: true,
    sourcemap: true,
    logLevel: 'warning',
    plugins: [workerNextToBundle],
    banner: { js: `// ${pkg.name} ${pkg.version} (${pkg.license}), browser build of ${what}: one ES module, Wasm included.` },
  });
}
