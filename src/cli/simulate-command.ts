/**
 * `migration-stats simulate`: flags, usage, and the run with its live view and final report.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { parseQmpAddress } from '../qemu/qmp-wire.js';
import { simulateMigration, type MigrationResult } from '../simulate/migration.js';
import { DEFAULT_SETTINGS, RULES, type SimulationSettings } from '../simulate/options.js';
import { progressView, type TextOut } from './progress.js';
import { writeReport } from './report.js';
import { serveSimulatedSource } from './simulate-qmp.js';
import { BYTE_UNITS_TEXT, formatBytes, parseBytes, parseCount, parseMs, parseShare, type Parsed } from './units.js';

/** Exit codes of the command. */
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
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm };

/** The streams the command writes to, and what stops it. */
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

type SettingName = keyof SimulationSettings;

/** How each flag's text becomes its setting's value. */
const PARSERS: { readonly [K in SettingName]: (text: string) => Parsed<unknown> } = {
  ramBytes: (t) => narrow(parseBytes(t)),
  zeroShare: parseShare,
  dirtyBytesPerSecond: (t) => narrow(parseBytes(t, true)),
  bandwidthBytesPerSecond: (t) => parseBytes(t, true),
  availSwitchoverBandwidth: (t) => parseBytes(t, true),
  channels: parseCount,
  downtimeLimitMs: parseMs,
  backend: (t) => ({ ok: true, value: t }),
  maxPasses: parseCount,
  seed: parseCount,
  postcopy: () => ({ ok: true, value: true }),
  postcopyAfter: parseCount,
  vcpus: parseCount,
};

/** Flags that take no value: given, they set their setting to true. */
const SWITCHES: ReadonlySet<SettingName> = new Set<SettingName>(['postcopy']);

/** Settings that only change what happens after the postcopy switch, and what they are. */
const AFTER_POSTCOPY: { readonly [K in SettingName]?: string } = {
  postcopyAfter: 'the pass at whose end migrate-start-postcopy is asked',
  vcpus: "the destination's vCPUs after the postcopy switch",
};

/** A bigint byte count as a number when it is exact, else left as is (the rule then refuses it). */
function narrow(parsed: Parsed<bigint>): Parsed<unknown> {
  if (!parsed.ok) return parsed;
  return { ok: true, value: parsed.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(parsed.value) : parsed.value };
}

const FLAG_HELP: { readonly [K in SettingName]: [metavar: string, help: string, shown: string] } = {
  ramBytes: ['SIZE', 'guest RAM, whole 4 KiB pages, up to 4GiB', formatBytes(DEFAULT_SETTINGS.ramBytes)],
  zeroShare: ['SHARE', 'share of all-zero pages: 0 to 1, or a percentage', `${DEFAULT_SETTINGS.zeroShare * 100}%`],
  dirtyBytesPerSecond: ['RATE', 'how fast the guest dirties memory', `${formatBytes(DEFAULT_SETTINGS.dirtyBytesPerSecond)}/s`],
  bandwidthBytesPerSecond: ['RATE', 'max-bandwidth; 0 = unlimited', `${formatBytes(DEFAULT_SETTINGS.bandwidthBytesPerSecond)}/s`],
  availSwitchoverBandwidth: ['RATE', 'bandwidth the switch-over counts on; 0 = measured', '0'],
  channels: ['N', 'multifd channels (one worker each), 1 to 64', String(DEFAULT_SETTINGS.channels)],
  downtimeLimitMs: ['MS', 'switch over once the rest fits in this downtime', `${DEFAULT_SETTINGS.downtimeLimitMs}ms`],
  backend: ['wasm|js', 'counters and zero scan in Wasm, or plain JS', DEFAULT_SETTINGS.backend],
  maxPasses: ['N', 'migrate_cancel when pass N ends unconverged', String(DEFAULT_SETTINGS.maxPasses)],
  seed: ['N', "seed of the guest's pseudo-random writes", String(DEFAULT_SETTINGS.seed)],
  postcopy: ['', 'switch to postcopy if pre-copy has not converged', 'off'],
  postcopyAfter: ['N', 'migrate-start-postcopy when pass N ends', String(DEFAULT_SETTINGS.postcopyAfter)],
  vcpus: ['N', "destination vCPUs after the switch, 1 to 64", String(DEFAULT_SETTINGS.vcpus)],
};

/** The command's usage text. */
export function simulateUsage(): string {
  const rows = (Object.keys(FLAG_HELP) as SettingName[]).map((name) => {
    const [metavar, help, shown] = FLAG_HELP[name];
    const head = `${RULES[name].flag} ${metavar}`.trimEnd();
    // A flag too long for its column gets a line of its own.
    return `  ${head.length < 24 ? head.padEnd(24) : `${head}\n${''.padEnd(26)}`}${help.padEnd(50)}(default ${shown})`;
  });
  return [
    'Usage: migration-stats simulate [options]',
    '',
    "Runs a pre-copy live migration of a simulated guest's RAM on worker threads, modelled on QEMU's",
    "multifd migration, shows it live, and prints QEMU's `info migrate` report of it. With --postcopy,",
    "the destination's vCPUs start after the switch and fault in the pages they touch first, and the",
    'report is `info migrate -a` with the destination\'s postcopy blocktime.',
    '',
    'Options:',
    ...rows,
    `  ${'--qmp ADDRESS'.padEnd(24)}serve QMP on unix:PATH or tcp:HOST:PORT (repeatable) and wait for`,
    `  ${''.padEnd(24)}a client's migrate; serves until the client's quit`,
    `  ${'--incoming-qmp ADDRESS'.padEnd(24)}serve the destination's QMP too (repeatable), listening at`,
    `  ${''.padEnd(24)}--incoming URI (tcp: or unix:), or where migrate-incoming says`,
    `  ${'--incoming URI'.padEnd(24)}where the destination listens, as QEMU's -incoming (nothing listens)`,
    `  ${'--json'.padEnd(24)}print the query-migrate JSON instead of the report`,
    `  ${'-h, --help'.padEnd(24)}show this help`,
    '',
    `Sizes and rates take these units, spelled exactly so: ${BYTE_UNITS_TEXT};`,
    'rates may end in /s (256MiB, 1GiB/s, 500MB/s).',
    'Exit codes: 0 migrated and verified byte for byte; 1 cancelled after --max-passes passes that',
    'did not converge, or the destination differs; 2 bad flags; 130 or 143 stopped by SIGINT',
    'or SIGTERM (after printing the report so far, marked cancelled); 141 its output was closed',
    '(| head), at once and without a word.',
    '',
  ].join('\n');
}

/** What the command line asked for. */
export type SimulateRequest =
  | {
      readonly kind: 'run';
      readonly settings: SimulationSettings;
      readonly json: boolean;
      /** `--qmp` addresses, and the destination's: `--incoming-qmp` monitors of `--incoming`. */
      readonly qmp: readonly string[];
      readonly incomingQmp: readonly string[];
      readonly incoming: string | undefined;
    }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

const FLAG_TO_SETTING = new Map((Object.keys(RULES) as SettingName[]).map((name) => [RULES[name].flag, name]));

/**
 * Reads the command's arguments.
 * @param args - the arguments after `simulate`
 * @returns the settings to run with, a request for help, or the one-line error for a bad flag
 */
export function parseSimulateArgs(args: readonly string[]): SimulateRequest {
  const settings: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  const seen = new Set<string>();
  let json = false;
  const qmp: string[] = [];
  const incomingQmp: string[] = [];
  let incoming: string | undefined;
  const error = (message: string): SimulateRequest => ({ kind: 'error', message });
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '--json') {
      json = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === '--json' || flag === '--help') return error(`${flag} takes no value; received ${describe(arg)}`);
    if (flag === '--qmp' || flag === '--incoming-qmp' || flag === '--incoming') {
      // --qmp and --incoming-qmp are repeatable, one monitor per address, as QEMU's -qmp.
      const text = flag !== arg ? arg.slice(eq + 1) : args[++i];
      if (text === undefined) return error(`${flag} needs a value: unix:PATH or tcp:HOST:PORT`);
      try {
        parseQmpAddress(text, flag);
      } catch (bad) {
        return error((bad as Error).message);
      }
      if (flag === '--incoming') {
        if (incoming !== undefined) return error('--incoming is given twice');
        incoming = text;
      } else (flag === '--qmp' ? qmp : incomingQmp).push(text);
      continue;
    }
    const name = FLAG_TO_SETTING.get(flag);
    if (!name) {
      return error(arg.startsWith('-') ? `unknown flag ${describe(flag)}` : `unexpected argument ${describe(arg)}; flags start with --`);
    }
    const rule = RULES[name];
    if (seen.has(flag)) return error(`${flag} is given twice`);
    seen.add(flag);
    if (SWITCHES.has(name)) {
      if (flag !== arg) return error(`${flag} takes no value; received ${describe(arg)}`);
      settings[name] = true;
      continue;
    }
    let text: string;
    if (eq > 0 && flag !== arg) {
      text = arg.slice(eq + 1);
    } else {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        return error(`${flag} needs a value: ${rule.allowed} (such as ${rule.example})`);
      }
      text = next;
      i++;
    }
    const parsed = PARSERS[name](text);
    const value = parsed.ok ? rule.check(parsed.value) : undefined;
    if (value === undefined) {
      const why = parsed.ok ? '' : ` (${parsed.reason})`;
      return error(`${flag} must be ${rule.allowed}, such as ${rule.example}; received ${describe(text)}${why}`);
    }
    settings[name] = value;
  }
  // Without --postcopy they would be ignored without a word.
  // (With --qmp, --vcpus applies when a client enables postcopy-ram; --postcopy-after is refused below.)
  if (settings.postcopy !== true && qmp.length === 0) {
    for (const flag of seen) {
      const what = AFTER_POSTCOPY[FLAG_TO_SETTING.get(flag)!];
      if (what) return error(`${flag} takes effect only with --postcopy (${what}); add --postcopy or leave ${flag} out`);
    }
  }
  for (const flag of ['--max-passes', '--postcopy-after']) {
    if (qmp.length > 0 && seen.has(flag)) return error(`${flag} is not taken with --qmp: the QMP client decides (migrate_cancel, migrate-start-postcopy)`);
  }
  if (incoming !== undefined && incomingQmp.length === 0) return error("--incoming needs --incoming-qmp, the destination's monitor");
  if (incomingQmp.length > 0 && qmp.length === 0) return error("--incoming-qmp needs --qmp, the source's monitor");
  return { kind: 'run', settings: settings as unknown as SimulationSettings, json, qmp, incomingQmp, incoming };
}

/** The first line of a run: what is being migrated, and how. */
function banner(s: SimulationSettings): string {
  const bandwidth = s.bandwidthBytesPerSecond === 0n ? 'unlimited bandwidth' : `${formatBytes(s.bandwidthBytesPerSecond)}/s`;
  const postcopy = s.postcopy
    ? `, postcopy after ${s.postcopyAfter} pass${s.postcopyAfter === 1 ? '' : 'es'} with ${s.vcpus} vCPU${s.vcpus === 1 ? '' : 's'}`
    : '';
  return (
    `Migrating a ${formatBytes(s.ramBytes)} guest (${+(s.zeroShare * 100).toFixed(2)}% zero pages, dirtying ` +
    `${formatBytes(s.dirtyBytesPerSecond)}/s) over ${s.channels} multifd channel${s.channels === 1 ? '' : 's'} at ` +
    `${bandwidth}, downtime limit ${s.downtimeLimitMs} ms${postcopy}, ${s.backend} backend\n`
  );
}

/**
 * Runs `migration-stats simulate`.
 * @param args - the arguments after `simulate`
 * @param io - where to write: the report (or JSON) on stdout; with `--json` the live view and
 *   messages go to stderr
 * @returns the exit code (see {@link EXIT})
 */
export async function simulateCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const request = parseSimulateArgs(args);
  if (request.kind === 'help') {
    io.stdout.write(simulateUsage());
    return EXIT.ok;
  }
  if (request.kind === 'error') {
    io.stderr.write(`migration-stats simulate: ${request.message}\n\n${simulateUsage()}`);
    return EXIT.usage;
  }
  const { settings, json } = request;
  if (request.qmp.length > 0) {
    try {
      const destination = request.incomingQmp.length === 0 ? undefined : { incoming: request.incoming, qmp: request.incomingQmp };
      return await serveSimulatedSource(settings, { qmp: request.qmp, destination }, json, io);
    } catch (error) {
      io.stderr.write(`migration-stats simulate: ${error instanceof Error ? error.message : String(error)}\n`);
      return EXIT.failed;
    }
  }
  const live = json ? io.stderr : io.stdout;
  const view = progressView(live);
  live.write(banner(settings));
  let result: MigrationResult;
  try {
    result = await simulateMigration({ ...settings, onProgress: (p) => view.update(p), ...(io.signal ? { signal: io.signal } : {}) });
  } catch (error) {
    io.stderr.write(`migration-stats simulate: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  } finally {
    view.finish();
  }
  const ok = writeReport(result, json, io);
  if (ok) return EXIT.ok;
  const reason: unknown = io.signal?.aborted ? io.signal.reason : undefined;
  return result.status === 'cancelled' && typeof reason === 'string' ? (SIGNAL_EXIT[reason] ?? EXIT.failed) : EXIT.failed;
}
