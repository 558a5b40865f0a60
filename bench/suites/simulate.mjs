// Simulate: how fast the live-migration simulator migrates, against the floor of first-touching
// that much fresh memory in one thread; opt-in (`--only simulate`), as it takes GiBs and a minute.
//
// Every measurement is a process of its own (bench/simulate-run.mjs), so each one starts from fresh
// memory as the command does: the one-thread first-touch copy of the RAM size (the limit), and a
// migration of an idle guest with no bandwidth limit for 1, 2 and 4 channels on each backend, timed
// in three parts (before the migration: workers started and the guest's RAM filled; the migration;
// after it: the verification). Each round runs the limit and every migration in a rotating order;
// the table shows medians over the rounds, and each ratio is computed inside one round (against that
// round's limit) before its median is taken. A migration that does not complete verified stops the
// bench.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { num, times } from '../format.mjs';
import { median, medianOver } from '../measure.mjs';
import { rotate } from '../workers.mjs';

const RUN = fileURLToPath(new URL('../simulate-run.mjs', import.meta.url));
const CHANNELS = [1, 2, 4];
const BACKENDS = ['wasm', 'js'];
const CONFIGS = CHANNELS.flatMap((channels) => BACKENDS.map((backend) => ({ key: `${channels}:${backend}`, channels, backend })));

/**
 * Runs bench/simulate-run.mjs once.
 * @param args - its arguments
 * @returns the JSON it printed
 * @throws Error with its stderr when it fails
 */
function measure(args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [RUN, ...args.map(String)], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${stderr.trim().split('\n').find((l) => l.includes('bench stopped')) ?? `bench/simulate-run.mjs ${args.join(' ')} failed: ${stderr.trim()}`}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

export default {
  name: 'simulate',
  usesNative: false,
  /** Not part of a run without `--only`: it needs 2 × the RAM size free and about a minute. */
  optIn: true,
  settings: { quick: { simulateMiB: 256, simulateRounds: 1 }, full: { simulateMiB: 1024, simulateRounds: 5 } },
  /**
   * @param config - the run's settings
   * @returns what this suite runs, for the report's second line
   */
  describe: (config) => `${config.simulateRounds} rounds of ${config.simulateMiB} MiB migrations and first-touch copies`,
  /**
   * Measures the limit and every migration, `simulateRounds` times.
   * @param config - `simulateMiB`, `simulateRounds`
   * @param context - the bench's `log`
   * @returns the table, its notes, the ratios and every round's figures
   * @throws Error when a migration did not complete verified or a measurement failed
   */
  async run(config, { log }) {
    const bytes = config.simulateMiB * 1024 * 1024;
    const jobs = [{ key: 'copy' }, ...CONFIGS];
    const rounds = [];
    for (let r = 0; r < config.simulateRounds; r++) {
      log(`simulate: round ${r + 1} of ${config.simulateRounds} (${config.simulateMiB} MiB)`);
      const round = {};
      for (const job of rotate(jobs, r)) {
        round[job.key] = await (job.key === 'copy' ? measure(['copy', bytes]) : measure(['migrate', bytes, job.channels, job.backend]));
      }
      for (const { key } of CONFIGS) {
        const m = round[key];
        m.vsLimit = m.migrationMs / round.copy.copyMs;
        m.outsideVsMigration = (m.bootMs + m.verifyMs) / m.migrationMs;
      }
      rounds.push(round);
    }
    const limitMs = medianOver(rounds, (round) => round.copy.copyMs);
    const rows = CONFIGS.map(({ key, channels, backend }) => {
      const of = (f) => medianOver(rounds, (round) => f(round[key]));
      return [
        String(channels),
        backend,
        `${num(of((m) => m.migrationMs), 0)} (${num(of((m) => m.migrationCores), 1)})`,
        times(of((m) => m.vsLimit)),
        num(of((m) => m.bootMs), 0),
        num(of((m) => m.verifyMs), 0),
        num(of((m) => m.outsideVsMigration), 2),
      ];
    });
    const ratios = {};
    for (const { key, channels, backend } of CONFIGS) {
      ratios[`simulate${channels}${backend === 'wasm' ? 'Wasm' : 'Js'}VsFirstTouchCopy`] = medianOver(rounds, (round) => round[key].vsLimit);
      ratios[`simulate${channels}${backend === 'wasm' ? 'Wasm' : 'Js'}OutsideVsMigration`] = medianOver(rounds, (round) => round[key].outsideVsMigration);
    }
    return {
      title: `Simulator, ${config.simulateMiB} MiB idle guest, no bandwidth limit (ms, medians of ${config.simulateRounds} rounds; every run a process of its own)`,
      table: {
        headers: ['channels', 'backend', 'migration (ms, cores)', 'vs limit (×)', 'before: start, fill (ms)', 'after: verify (ms)', '(before + after) ÷ migration'],
        rows,
        textColumns: 2,
      },
      notes: [
        `Limit: one thread copying ${config.simulateMiB} MiB into fresh memory (first touch + copy): ${num(limitMs, 0)} ms` +
          ` (rounds: ${rounds.map((round) => num(round.copy.copyMs, 0)).join(', ')} ms). "vs limit" is the migration's time ÷ that round's limit;` +
          ' "cores" the CPU time of all the process\'s threads ÷ wall time during the migration (other programs had the rest of the machine).',
        `Zero-page scan: ${[...new Set(rounds.flatMap((round) => CONFIGS.map(({ key }) => round[key].scan)))].join(', ')}; ` +
          `migration set-up (inside the migration's time): median ${num(median(rounds.flatMap((round) => CONFIGS.map(({ key }) => round[key].setupMs))), 0)} ms.`,
      ],
      ratios,
      data: { bytes, rounds },
    };
  },
};
