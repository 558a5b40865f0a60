/**
 * What every command shares: its streams, what stops it, and its exit codes.
 * @packageDocumentation
 */
import type { TextOut } from './progress.js';

/** Exit codes of the commands. */
export const EXIT = {
  /** The migration completed and the destination equals the source. */
  ok: 0,
  /** It did not converge within `--max-passes`, or the destination differs, or a worker failed. */
  failed: 1,
  /** Bad flags or values. */
  usage: 2,
  /** Stopped by SIGINT (128 + 2, as a shell reports a process that signal ended). */
  sigint: 130,
  /** Stopped by SIGTERM (128 + 15). */
  sigterm: 143,
  /**
   * Stopped because stdout or stderr was closed (`| head -1`): 128 + 13, as a shell reports a
   * process that SIGPIPE ended (`yes | head -1`), since Node ignores SIGPIPE. Not 0: the migration
   * was not seen through, which `set -o pipefail` scripts should know.
   */
  closed: 141,
} as const;

/** The exit code of a run that a signal stopped, by the signal's name. */
export const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm };

/** The streams a command writes to, and what stops it. */
export interface CommandIo {
  readonly stdout: TextOut;
  readonly stderr: TextOut;
  /**
   * Aborted when the process is asked to stop, with the signal's name as the reason (`'SIGINT'`,
   * `'SIGTERM'`): the migration is cancelled, its report so far printed, and the command returns
   * 130 or 143 (1 for another reason).
   */
  readonly signal?: AbortSignal;
}

/**
 * Answers what a command's parser found that is not a run: `--help` (the usage on stdout, exit 0)
 * or bad flags (one line and the usage on stderr, exit 2).
 * @param name - the command, for the message (`'simulate'`)
 * @returns the exit code
 */
export function answerUsage(
  name: string,
  request: { readonly kind: 'help' } | { readonly kind: 'error'; readonly message: string },
  usage: () => string,
  io: CommandIo,
): number {
  if (request.kind === 'help') {
    io.stdout.write(usage());
    return EXIT.ok;
  }
  io.stderr.write(`migration-stats ${name}: ${request.message}\n\n${usage()}`);
  return EXIT.usage;
}
