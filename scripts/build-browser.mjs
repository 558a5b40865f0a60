// Writes dist/browser/migration-stats.js: the library and its loader in one ES module, for a page that
// imports it by URL with no bundler. The Wasm core is already inside (base64, see embed-wasm.mjs),
// so this one file is all a page needs. Runs after tsc, from dist/index.js.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const loader = JSON.parse(readFileSync(new URL('../node_modules/@assemblyscript/loader/package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: [new URL('../dist/index.js', import.meta.url).pathname],
  outfile: new URL('../dist/browser/migration-stats.js', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // The same language level as tsc's output (tsconfig "target"); every browser with Wasm threads has it.
  target: 'es2022',
  // Minified (about 24 kB, 9 kB gzipped) with a source map that carries the TypeScript sources;
  // keepNames keeps class and function names (stack traces, `constructor.name`) as in dist/.
  minify: true,
  keepNames: true,
  sourcemap: true,
  banner: {
    js:
      `// ${pkg.name} ${pkg.version} (${pkg.license}), browser build: one ES module, no imports, Wasm core included.\n` +
      `// Bundles ${loader.name} ${loader.version} (${loader.license}).`,
  },
  logLevel: 'warning',
});
