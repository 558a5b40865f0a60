/**
 * The `migration-stats` command line: picks the subcommand and runs it.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { EXIT, type CommandIo } from './command.js';
import { simulateCommand } from './simulate-command.js';
import { watchCommand } from './watch-command.js';

export { EXIT } from './command.js';

/** The subcommands, by name. */
const COMMANDS: Record<string, { readonly summary: string; run(args: readonly string[], io: CommandIo): Promise<number> }> = {
  simulate: { summary: "run a live migration on worker threads and report QEMU's statistics", run: simulateCommand },
  watch: { summary: "follow a live QEMU's migration over QMP, report it, serve /metrics", run: (args, io) => watchCommand(args, io) },
};

/** The top-level usage text. */
export function mainUsage(): string {
  return [
    'Usage: migration-stats <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(12)}${summary}`),
    '',
    'Options:',
    '  -h, --help     print this help',
    '  -V, --version  print the version of migration-stats',
    '',
    "Run 'migration-stats <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/**
 * The version of the installed package, from its own package.json: two folders up from this
 * module, which is dist/cli/main.js or the bundle dist/node/cli.js. (The command runs in Node, Bun
 * or Deno, which all have `process.getBuiltinModule`; src/ is typed without Node's types.)
 * @returns the `version` field, such as `0.2.0`
 */
export function packageVersion(): string {
  const { process } = globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } };
  const fs = process?.getBuiltinModule?.('node:fs') as { readFileSync(url: URL, encoding: 'utf8'): string } | undefined;
  if (!fs) throw new Error('migration-stats --version reads package.json through node:fs, which this runtime does not provide');
  const { version } = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return version;
}

/**
 * Runs the command line.
 * @param args - the arguments after the program name
 * @param io - stdout and stderr
 * @returns the exit code: 0 success, 1 failure, 2 bad usage (see {@link EXIT})
 */
export async function main(args: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === '-h' || name === '--help') {
    io.stdout.write(mainUsage());
    return EXIT.ok;
  }
  if (name === '-V' || name === '--version') {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    const what = name === undefined ? 'a command is needed' : `unknown command ${describe(name)}`;
    io.stderr.write(`migration-stats: ${what}\n\n${mainUsage()}`);
    return EXIT.usage;
  }
  return command.run(rest, io);
}
