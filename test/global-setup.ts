// Runs once before any test file: rebuilds dist/ when a source is newer than the last build, so a
// plain `vitest` never tests a stale build (npm test has already built it, and this does nothing).
import { spawnSync } from 'node:child_process';

export default function setup(): void {
  const result = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: new URL('..', import.meta.url), stdio: 'inherit' });
  if (result.status !== 0) throw new Error('the build failed: the tests need a fresh dist/ (run npm run build to see why)');
}
