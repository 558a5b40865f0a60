// Writes dist/node/: the package's Node entry points as ES modules that share their code through
// chunks (esbuild's code splitting), so that a process or worker loads a handful of files instead
// of every module of dist/ (Node's loader resolves, reads and compiles each module on its own,
// and that, not our code, was most of an import's time). Runs after tsc, from dist/.
//
//   index.js            migration-stats                (dist/index.js)
//   simulate.js         migration-stats/simulate       (dist/simulate/index.js)
//   simulate-worker.js  the simulator's worker module  (dist/simulate/worker.js), started by URL
//   prom-client.js      migration-stats/prom-client    (dist/exporters/prom-client.js)
//   otel.js             migration-stats/otel           (dist/exporters/otel.js)
//   qemu.js             migration-stats/qemu           (dist/qemu/index.js): a live QEMU over QMP
//   cli.js              the command (bin/migration-stats.mjs; dist/cli/main.js)
//   chunk-*.js          the code two or more of them share
//
// One build of all the entries, so every module is in exactly one file: a class has one copy
// whichever entry a program imports it through, and the private-field checks
// (`SharedStats.isInstance`) accept a stats object made through one entry in all the others.
// Every file is in this one folder, so the simulator finds its worker next to itself from the
// entry or chunk it ends up in (the plugin below).
//
// prom-client and @opentelemetry/api (optional peers) and Node's own modules stay imports.
// A package that dist/ imported would be inside (named on top of each file): left as an import,
// @assemblyscript/loader, which the library once used, made the main entry take about 2 ms more
// to import in a fresh process (2 vCPU, Node 20), the cost of resolving and loading one more
// package. Not minified: the stack traces of a Node program name
// our functions and lines as written. No source maps: the bundles read much as the TypeScript
// does without its types, and to give `--enable-source-maps` the .ts line numbers the maps (about
// 170 kB) would have to ship src/ (about 470 kB) or carry it, for half a megabyte more installed.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { bundledPackages, pkg, workerNextToBundle } from './bundling.mjs';

const dist = (path) => new URL(`../dist/${path}`, import.meta.url).pathname;

const ENTRIES = {
  index: 'index.js',
  simulate: 'simulate/index.js',
  'simulate-worker': 'simulate/worker.js',
  'prom-client': 'exporters/prom-client.js',
  otel: 'exporters/otel.js',
  qemu: 'qemu/index.js',
  cli: 'cli/main.js',
};

const options = {
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([out, entry]) => [out, dist(entry)])),
  outdir: dist('node'),
  bundle: true,
  splitting: true,
  chunkNames: 'chunk-[hash]',
  format: 'esm',
  platform: 'node',
  // The same language level as tsc's output (tsconfig "target").
  target: 'es2022',
  external: Object.keys(pkg.peerDependencies),
  plugins: [workerNextToBundle],
  sourcemap: false,
  logLevel: 'warning',
};

const bundled = await bundledPackages(options);

rmSync(dist('node'), { recursive: true, force: true });
await build({
  ...options,
  banner: {
    js:
      `// ${pkg.name} ${pkg.version} (${pkg.license}), Node build: ES modules that share chunks, made from dist/.` +
      (bundled.length ? `\n// These files bundle ${bundled.join(', ')}.` : ''),
  },
});
