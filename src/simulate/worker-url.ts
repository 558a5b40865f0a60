/**
 * Where the simulator's worker module is by default: next to this module (`dist/simulate/worker.js`
 * for the unbundled ES modules). The package's Node build and the browser build replace this file
 * with one naming their own worker bundle, `simulate-worker.js` next to them (see
 * scripts/build-node.mjs and scripts/build-browser.mjs).
 * @packageDocumentation
 */

/** The URL of the worker module that {@link simulateMigration} starts when none is given. */
export const defaultWorkerUrl = (): URL => new URL('./worker.js', import.meta.url);
