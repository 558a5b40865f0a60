// Builds bench/native.c with the machine's C compiler into a temporary directory and runs it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./native.c', import.meta.url));
/** Where the build writes stats-core.h, the header constants native.c includes. */
const GENERATED = fileURLToPath(new URL('../build', import.meta.url));

/**
 * The byte offsets native.c needs, from the library's own plan of MigrationStats' memory (64 lanes,
 * so that the threaded runs can give up to 64 threads a lane each).
 */
async function layoutDefines() {
  const { planLayout } = await import('../dist/backend/layout.js');
  const { QEMU_DEFINITION } = await import('../dist/counters.js');
  const layout = planLayout(QEMU_DEFINITION, 64, 0);
  const cell = (name) => layout.metrics.find((m) => m.spec.name === name);
  const { limiter } = layout;
  const defines = {
    LANES: layout.lanes,
    LANES_OFFSET: layout.lanesOffset,
    LANE_STRIDE: layout.laneStride,
    LAYOUT_BYTES: layout.cellsEnd,
    ZERO_PAGES_BASE: cell('zeroPages').base,
    ZERO_PAGES_LANE: cell('zeroPages').lane,
    NORMAL_PAGES_LANE: cell('normalPages').lane,
    MULTIFD_BYTES_LANE: cell('multifdBytes').lane,
    LIMITER_BASE: limiter.base,
    LIMITER_LANE: limiter.lane,
    LIMITER_COUNT: limiter.count,
    RATE_START: limiter.startAddr,
    RATE_MAX: limiter.maxAddr,
  };
  return Object.entries(defines).map(([name, value]) => `-D${name}=${value}u`);
}

/**
 * Compiles the C reference with `cc -O2 -pthread`, against the layout header the build generated.
 * @returns `{ run, compiler, dispose }`, or `{ skipped }` saying why there is no C reference
 */
export async function buildNative() {
  const version = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (version.error) {
    return { skipped: `native C reference skipped: no C compiler (\`cc\`) on PATH (${version.error.code})` };
  }
  const dir = mkdtempSync(join(tmpdir(), 'migration-stats-bench-'));
  const exe = join(dir, 'native');
  const build = spawnSync('cc', ['-O2', '-pthread', '-I', GENERATED, ...(await layoutDefines()), '-o', exe, SOURCE], { encoding: 'utf8' });
  if (build.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skipped: `native C reference skipped: \`cc -O2 -pthread\` failed:\n${build.stderr || build.error}` };
  }
  const run = (...args) => {
    const out = spawnSync(exe, args.map(String), { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`native ${args.join(' ')} failed (${out.status}): ${out.stderr}`);
    return JSON.parse(out.stdout);
  };
  return {
    compiler: version.stdout.split('\n')[0].trim(),
    run,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
