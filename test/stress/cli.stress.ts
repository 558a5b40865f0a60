// The command line given bad lines: valid flags and values around one bad token (an unknown flag,
// a stray word, a value out of range or of the wrong unit, a flag without its value, a value to a
// flag that takes none). Every line exits 2 with one message naming what is wrong, then the usage,
// and prints nothing on stdout: in-process through the command's main(), and through the real
// bin/ script in child processes for some of them.
import { execFile } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { main } from '../../dist/cli/main.js';

const LINES = 200;
const THROUGH_BIN = 12;
const BIN = new URL('../../bin/migration-stats.mjs', import.meta.url).pathname;

/** Flags with a value that is valid for them (none of them starts a simulation on its own: the bad token comes later). */
const VALID = fc.constantFrom(
  ['--ram', '4MiB'], ['--ram=64KiB'], ['--zero-share', '25%'], ['--dirty-rate', '0'], ['--bandwidth=1GiB/s'], ['--channels', '2'],
  ['--downtime-limit', '300ms'], ['--backend', 'js'], ['--max-passes=3'], ['--seed', '7'], ['--json'],
);

/** Tokens that make any line bad, wherever they stand (also as the value of the flag before them). */
const BAD = fc.oneof(
  fc.constantFrom('--speed', '--ram=12x', '--ram=8GiB', '--bandwidth=100Mb/s', '--zero-share=120%', '--channels=0', '--channels=65', '--downtime-limit=0.5ms',
    '--backend=c', '--max-passes=0', '--seed=-1', '--json=yes', '--help=me', '--', '---ram', '--RAM=4MiB'),
  fc.stringMatching(/^x[a-zA-Z0-9%./]{0,12}$/),
  fc.stringMatching(/^--z[a-z-]{0,10}$/),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }).map((text) => `x${text}`),
);

/** A bad line: up to three valid flags, the bad token, then anything (never read: parsing stops at the first error). */
const LINE = fc.tuple(fc.array(VALID, { maxLength: 3 }), BAD, fc.array(fc.oneof(VALID, BAD.map((t) => [t])), { maxLength: 2 })).map(([before, bad, after]) => [
  ...before.flat(),
  bad,
  ...after.flat(),
]);

/** What a run printed and returned. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function inProcess(args: string[]): Promise<Run> {
  const run = { code: -1, stdout: '', stderr: '' };
  run.code = await main(['simulate', ...args], { stdout: { write: (text: string) => (run.stdout += text) }, stderr: { write: (text: string) => (run.stderr += text) } });
  return run;
}

function throughBin(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'simulate', ...args], (error, stdout, stderr) => {
      const code = error ? (error as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

function checkRefused(args: string[], run: Run): void {
  const shown = JSON.stringify(args);
  expect(run.code, shown).toBe(2);
  expect(run.stdout, shown).toBe('');
  const [message, blank, usage] = run.stderr.split('\n');
  expect(message, shown).toMatch(/^migration-stats simulate: \S/);
  expect(blank, shown).toBe('');
  expect(usage, shown).toBe('Usage: migration-stats simulate [options]');
}

describe('migration-stats simulate given bad lines', () => {
  const lines = fc.sample(LINE, { seed: 2, numRuns: LINES });

  it(`exits 2 with one message and the usage on each of ${LINES} bad lines`, async () => {
    for (const args of lines) checkRefused(args, await inProcess(args));
  });

  it(`does the same through bin/ in a child process for ${THROUGH_BIN} of them`, async () => {
    // A program's arguments cannot hold a NUL character.
    const passable = lines.filter((args) => args.every((arg) => !arg.includes('\0'))).slice(0, THROUGH_BIN);
    expect(passable).toHaveLength(THROUGH_BIN);
    for (const args of passable) checkRefused(args, await throughBin(args));
  });
});
