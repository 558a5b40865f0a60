/**
 * Where the simulator's worker module is by default: next to this module (`dist/simulate/worker.js`
 * in Node and for unbundled ES modules). The browser build replaces this file with one naming its
 * own worker bundle (see scripts/build-browser.mjs).
 * @packageDocumentation
 */

/** The URL of the worker module that {@link simulateMigration} starts when none is given. */
export const defaultWorkerUrl = (): URL => new URL('./worker.js', import.meta.url);
