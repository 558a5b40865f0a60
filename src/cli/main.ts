/**
 * The `migration-stats` command line: picks the subcommand and runs it.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { EXIT, simulateCommand, type CommandIo } from './simulate-command.js';
import { watchCommand } from './watch-command.js';

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
    "Run 'migration-stats <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/**
 * Runs the command line.
 * @param args - the arguments after the program name
 * @param io - stdout and stderr
 * @returns the exit code: 0 success, 1 failure, 2 bad usage
 */
export async function main(args: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === '-h' || name === '--help') {
    io.stdout.write(mainUsage());
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
