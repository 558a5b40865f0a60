/**
 * `migration-stats simulate`: flags, usage, and the run with its live view and final report.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import { parseQmpAddress } from '../qemu/qmp-wire.js';
import { simulateMigration, type MigrationResult } from '../simulate/migration.js';
import { DEFAULT_SETTINGS, SETTING_NAMES, SETTINGS, type SettingForm, type SettingName, type SimulationSettings } from '../simulate/settings.js';
import { answerUsage, EXIT, SIGNAL_EXIT, type CommandIo } from './command.js';
import { progressView } from './progress.js';
import { writeReport } from './report.js';
import { serveSimulatedSource } from './simulate-qmp.js';
import { BYTE_UNITS_TEXT, formatBytes, parseBytes, parseCount, parseMs, parseShare, type Parsed } from './units.js';

/** A bigint byte count as a number when it is exact, else left as is (the check then refuses it). */
function narrow(parsed: Parsed<bigint>): Parsed<unknown> {
  if (!parsed.ok) return parsed;
  return { ok: true, value: parsed.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(parsed.value) : parsed.value };
}

/** How a flag's text becomes its value (a byte count as a number where the setting's default is one), by the setting's form. */
const PARSE: { readonly [F in Exclude<SettingForm, 'switch'>]: (text: string, numeric: boolean) => Parsed<unknown> } = {
  size: (t) => narrow(parseBytes(t)),
  rate: (t, numeric) => (numeric ? narrow(parseBytes(t, true)) : parseBytes(t, true)),
  share: parseShare,
  ms: parseMs,
  count: parseCount,
  name: (t) => ({ ok: true, value: t }),
};

/** How the usage names a flag's value, by the setting's form (a `name` setting lists its names). */
const METAVAR: { readonly [F in SettingForm]: string } = { size: 'SIZE', rate: 'RATE', share: 'SHARE', ms: 'MS', count: 'N', name: '', switch: '' };

/** A default as the usage shows it, by the setting's form. */
function shown(form: SettingForm, value: unknown): string {
  switch (form) {
    case 'size':
      return formatBytes(value as number);
    case 'rate':
      return value === 0 || value === 0n ? '0' : `${formatBytes(value as number | bigint)}/s`;
    case 'share':
      return `${(value as number) * 100}%`;
    case 'ms':
      return `${value as number}ms`;
    case 'switch':
      return value ? 'on' : 'off';
    default:
      return String(value);
  }
}

/** The command's usage text. */
export function simulateUsage(): string {
  const rows = SETTING_NAMES.map((name) => {
    const { flag, form, help, names, default: value } = SETTINGS[name];
    const head = `${flag} ${names?.join('|') ?? METAVAR[form]}`.trimEnd();
    // A flag too long for its column gets a line of its own.
    return `  ${head.length < 24 ? head.padEnd(24) : `${head}\n${''.padEnd(26)}`}${help.padEnd(50)}(default ${shown(form, value)})`;
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

const FLAG_TO_SETTING: ReadonlyMap<string, SettingName> = new Map(SETTING_NAMES.map((name) => [SETTINGS[name].flag, name]));

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
    const record = SETTINGS[name];
    if (seen.has(flag)) return error(`${flag} is given twice`);
    seen.add(flag);
    if (record.form === 'switch') {
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
        return error(`${flag} needs a value: ${record.allowed} (such as ${record.example})`);
      }
      text = next;
      i++;
    }
    const value = settingValue(name, text);
    if (typeof value === 'string') return error(value);
    settings[name] = value.value;
  }
  const request = { kind: 'run', settings: settings as unknown as SimulationSettings, json, qmp, incomingQmp, incoming } as const;
  const conflict = conflictOf(request, seen);
  return conflict === undefined ? request : error(conflict);
}

/** A setting's value from its flag's text, or the message refusing the text. */
function settingValue(name: SettingName, text: string): { readonly value: unknown } | string {
  const { flag, form, default: fallback, check, allowed, example } = SETTINGS[name];
  const parsed = PARSE[form as Exclude<SettingForm, 'switch'>](text, typeof fallback === 'number');
  const value = parsed.ok ? check(parsed.value) : undefined;
  if (value !== undefined) return { value };
  const why = parsed.ok ? '' : ` (${parsed.reason})`;
  return `${flag} must be ${allowed}, such as ${example}; received ${describe(text)}${why}`;
}

/**
 * What the flags given refuse together, or `undefined`.
 * @param seen - the settings' flags given, in order
 */
function conflictOf(request: Extract<SimulateRequest, { kind: 'run' }>, seen: ReadonlySet<string>): string | undefined {
  const { settings, qmp, incomingQmp, incoming } = request;
  // Without --postcopy they would be ignored without a word.
  // (With --qmp, --vcpus applies when a client enables postcopy-ram; --postcopy-after is refused below.)
  if (!settings.postcopy && qmp.length === 0) {
    for (const flag of seen) {
      const what = SETTINGS[FLAG_TO_SETTING.get(flag)!].afterPostcopy;
      if (what) return `${flag} takes effect only with --postcopy (${what}); add --postcopy or leave ${flag} out`;
    }
  }
  for (const { flag, notWithQmp } of Object.values(SETTINGS)) {
    if (notWithQmp && qmp.length > 0 && seen.has(flag)) return `${flag} is not taken with --qmp: the QMP client decides (migrate_cancel, migrate-start-postcopy)`;
  }
  if (incoming !== undefined && incomingQmp.length === 0) return "--incoming needs --incoming-qmp, the destination's monitor";
  if (incomingQmp.length > 0 && qmp.length === 0) return "--incoming-qmp needs --qmp, the source's monitor";
  return undefined;
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
  if (request.kind !== 'run') return answerUsage('simulate', request, simulateUsage, io);
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
