// Writes dist/browser/migration-stats.js: the library and its dependencies in one ES module, for a
// page that imports it by URL with no bundler. The Wasm core is already inside (base64, see
// embed-wasm.mjs), so this one file is all a page needs. Runs after tsc, from dist/index.js.
import { build } from 'esbuild';
import { bundledPackages, pkg, workerNextToBundle } from './bundling.mjs';
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

const bundled = await bundledPackages(options);

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
// simulate.js finds its worker next to itself (workerNextToBundle, in bundling.mjs).
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
