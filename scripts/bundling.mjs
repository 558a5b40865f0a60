// What the two bundle builds (build-node.mjs, build-browser.mjs) share: the package's manifest,
// the packages a build puts inside its files (named with their licences on top), and the plugin
// that points the simulator at its bundled worker.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const read = (url) => JSON.parse(readFileSync(url, 'utf8'));

/** The project's package.json. */
export const pkg = read(new URL('../package.json', import.meta.url));

/**
 * The packages from node_modules that a build with `options` puts inside its files, as
 * "name version (licence)", sorted: a first pass in memory.
 */
export async function bundledPackages(options) {
  const { metafile } = await build({ ...options, write: false, metafile: true });
  const names = new Set(Object.keys(metafile.inputs).map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1]).filter(Boolean));
  return [...names].sort().map((name) => {
    const dep = read(new URL(`../node_modules/${name}/package.json`, import.meta.url));
    return `${dep.name} ${dep.version} (${dep.license})`;
  });
}

/**
 * src/simulate/worker-url.ts names `./worker.js` next to itself (dist/simulate/); in a bundle it
 * names `./simulate-worker.js`, next to whichever bundled file holds it.
 */
export const workerNextToBundle = {
  name: 'simulate-worker-url',
  setup(b) {
    b.onResolve({ filter: /\/worker-url\.js$/ }, () => ({ path: 'worker-url', namespace: 'simulate' }));
    b.onLoad({ filter: /.*/, namespace: 'simulate' }, () => ({
      contents: "export const defaultWorkerUrl = () => new URL('./simulate-worker.js', import.meta.url);",
      loader: 'js',
    }));
  },
};
