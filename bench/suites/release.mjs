// This build against a previous release, in one run: the hot operations of MigrationStats through
// the public API, each library in worker threads of its own (bench/single-worker.mjs), so that a
// change to the core is measured against what users have now, on the same machine at the same time.
//
// The previous release is taken from git (`--release-ref`, default the tag v0.1.0), extracted into
// a temporary folder and built there with this project's node_modules. Rounds alternate which
// library runs first; every ratio is computed inside a round (this build's ns ÷ the release's: below
// 1× is faster than the release) before its median is taken; both workers check their totals.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { num, times } from '../format.mjs';
import { medianOver } from '../measure.mjs';
import { ask, start } from '../workers.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = new URL('../single-worker.mjs', import.meta.url);
const SCENARIOS = [
  ['addNumber', 'add(1), number argument'],
  ['getNumber', 'getNumber() → number'],
  ['get', 'get() → bigint'],
  ['packetPerUpdate', 'addMultifdPacket(), per counter update (÷3)'],
  ['record', 'histogram record(), number argument'],
  ['vectorAdd', 'vector at(i).add(1)'],
  ['rateExceeded', 'migrationRateExceeded()'],
];

/**
 * Extracts and builds the release `ref` in a temporary folder.
 * @returns `{ library, dir }` (the release's dist/index.js as a URL), or `{ skipped }` saying why not
 */
export function buildRelease(ref, log) {
  const has = spawnSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: ROOT, encoding: 'utf8' });
  if (has.status !== 0) return { skipped: `release ${ref} not found in this clone's git history (fetch its tags, or pass --release-ref)` };
  const dir = mkdtempSync(join(tmpdir(), 'migration-stats-release-'));
  log(`release: building ${ref} in ${dir}…`);
  const archive = spawnSync('sh', ['-c', `git archive --format=tar ${JSON.stringify(ref)} | tar -x -C ${JSON.stringify(dir)}`], { cwd: ROOT, encoding: 'utf8' });
  if (archive.status !== 0) return { skipped: `git archive ${ref} failed: ${archive.stderr}` };
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: dir, encoding: 'utf8' });
  if (build.status !== 0 || !existsSync(join(dir, 'dist', 'index.js'))) {
    rmSync(dir, { recursive: true, force: true });
    return { skipped: `building ${ref} failed: ${(build.stderr || build.stdout).slice(-400)}` };
  }
  return { library: pathToFileURL(join(dir, 'dist', 'index.js')).href, dir };
}

export default {
  name: 'release',
  optIn: true,
  usesNative: false,
  settings: { quick: { releaseMs: 40, releaseRounds: 5 }, full: { releaseMs: 120, releaseRounds: 15 } },
  describe: (config) => `${config.releaseRounds} rounds of ${config.releaseMs} ms per scenario against release ${config.releaseRef}`,
  /**
   * Measures both libraries' scenarios, alternating which goes first.
   * @param config - `warmupMs`, `releaseMs`, `releaseRounds`, `releaseRef`
   * @param context - the bench's `log` and `consume`
   * @returns the table of both libraries and their ratio
   * @throws Error when a worker reports lost adds or fails
   */
  async run(config, { log, consume }) {
    const release = buildRelease(config.releaseRef, log);
    if (release.skipped) return { title: `Against a previous release: skipped (${release.skipped})`, ratios: {}, data: null };
    const libraries = { current: new URL('../../dist/index.js', import.meta.url).href, release: release.library };
    const workers = {};
    try {
      for (const [name, library] of Object.entries(libraries)) workers[name] = (await start(WORKER, { impl: 'wasm', library })).worker;
      for (const name of Object.keys(workers)) for (const [scenario] of SCENARIOS) await ask(workers[name], { scenario, ms: config.warmupMs });
      const rounds = [];
      for (let r = 0; r < config.releaseRounds; r++) {
        log(`release: round ${r + 1}/${config.releaseRounds}`);
        const round = { current: {}, release: {} };
        const order = r % 2 === 0 ? ['current', 'release'] : ['release', 'current'];
        for (const [scenario] of SCENARIOS) {
          for (const name of order) {
            const result = await ask(workers[name], { scenario, ms: config.releaseMs });
            if (result.error) throw new Error(`bench stopped: ${name}: ${result.error}`);
            round[name][scenario] = result.nsPerOp;
            consume(result.sink);
          }
        }
        rounds.push(round);
      }
      const at = (name, scenario) => medianOver(rounds, (round) => round[name][scenario]);
      const ratio = (scenario) => medianOver(rounds, (round) => round.current[scenario] / round.release[scenario]);
      const ratios = Object.fromEntries(SCENARIOS.map(([scenario]) => [`${scenario}CurrentVsRelease`, ratio(scenario)]));
      return {
        title: `This build against release ${config.releaseRef} (Wasm backend, ns per operation; this build's time ÷ the release's, each inside a round: <1× is faster)`,
        table: {
          headers: ['operation', 'this build (ns/op)', `${config.releaseRef} (ns/op)`, 'this ÷ release (×)'],
          rows: SCENARIOS.map(([scenario, title]) => [title, num(at('current', scenario)), num(at('release', scenario)), times(ratio(scenario))]),
        },
        ratios,
        data: rounds,
      };
    } finally {
      await Promise.all(Object.values(workers).map((w) => w.terminate()));
      rmSync(release.dir, { recursive: true, force: true });
    }
  },
};
