#!/usr/bin/env node
// Captures real QEMU replies as test vectors: `node test/qemu/capture.mjs [scenario …]` runs each
// scenario (all by default) between two QEMUs and writes test/fixtures/qemu/<version>/<scenario>.json.
// The harness is TypeScript: esbuild (a dev dependency) bundles it first, next to its sources so
// that the paths it takes from import.meta.url still hold, and the bundle is deleted once loaded.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const outfile = fileURLToPath(new URL(`./.capture-bundle-${process.pid}.mjs`, import.meta.url));
let capture;
try {
  await build({
    entryPoints: [fileURLToPath(new URL('./capture.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
  ({ capture } = await import(pathToFileURL(outfile).href));
} finally {
  rmSync(outfile, { force: true });
}
try {
  for (const file of await capture(process.argv.slice(2))) console.log(`wrote ${file}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
