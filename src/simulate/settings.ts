/**
 * The simulator's settings, one record each: its default, its flag and usage line, what it
 * allows and the check. `SimulationSettings`, `DEFAULT_SETTINGS`, the library's reading of a
 * settings object (options.ts) and the command line's flags and usage (cli/simulate-command.ts)
 * are all derived from these records; a new setting is one more record.
 * @packageDocumentation
 */
import type { BackendName } from '../backend/core.js';
import { U64_MAX } from '../errors.js';
import { MAX_POSTCOPY_VCPUS } from '../qemu/postcopy.js';
import { MAX_DOWNTIME_LIMIT_MS } from '../qemu/window.js';
import { PAGE_BYTES } from './wire.js';

/** Largest guest RAM: a 32-bit Wasm memory (65536 pages of 64 KiB), which the zero scan reads. */
export const MAX_RAM_BYTES = 4 * 1024 ** 3;
/** Most multifd channels: one worker each, and one lane of the counters each (64 lanes). */
export const MAX_CHANNELS = 64;
/** Most passes a user can allow before a migration that does not converge is given up. */
export const MAX_MAX_PASSES = 1_000_000;

/**
 * How a setting is written on the command line: which parser reads its text, and how its usage
 * line names the value and shows the default. `size` and `rate` are byte counts (a rate may end in
 * `/s`), `share` a share or a percentage, `ms` milliseconds, `count` a whole number, `name` one of
 * the record's `names`, and `switch` a flag that takes no value.
 */
export type SettingForm = 'size' | 'rate' | 'share' | 'ms' | 'count' | 'name' | 'switch';

/** One setting: everything the library and the command line know of it. */
export interface Setting<T> {
  readonly default: T;
  /** The command-line flag. */
  readonly flag: string;
  readonly form: SettingForm;
  /** The usage line's text (the range, when the allowed one is long, in short). */
  readonly help: string;
  /** What is allowed, in words, for error messages. */
  readonly allowed: string;
  /** A command-line value, for messages. */
  readonly example: string;
  /** Returns the value in the setting's type, or `undefined` when it is not allowed. */
  check(value: unknown): T | undefined;
  /** `name` settings: the names allowed, the first one the example. */
  readonly names?: readonly string[];
  /** A setting that only changes what follows the postcopy switch: what it is, for the message refusing it without `--postcopy`. */
  readonly afterPostcopy?: string;
  /** Whether `simulate --qmp` refuses it, since there the QMP client decides. */
  readonly notWithQmp?: boolean;
}

const isSafeInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
/** An unsigned 64-bit integer given as a bigint or a safe-integer number, as a bigint; `undefined` otherwise. */
const asU64 = (v: unknown): bigint | undefined => {
  const b = typeof v === 'bigint' ? v : isSafeInt(v) ? BigInt(v) : undefined;
  return b !== undefined && b >= 0n && b <= U64_MAX ? b : undefined;
};
const intIn = (lo: number, hi: number) => (v: unknown) => (isSafeInt(v) && v >= lo && v <= hi ? v : undefined);
/** A `name` setting's allowed words and check, from its names. */
const oneOf = <T extends string>(names: readonly T[]) => ({
  names,
  allowed: names.map((n) => `'${n}'`).join(' or '),
  example: names[0]!,
  check: (v: unknown) => (names as readonly unknown[]).includes(v) ? (v as T) : undefined,
});
const setting = <T>(record: Setting<T>): Setting<T> => Object.freeze(record);

/** The records, by setting name, in the order of the command's usage. */
export const SETTINGS = {
  /** Guest RAM in bytes: a whole number of 4 KiB pages, up to 4 GiB. Default 256 MiB. */
  ramBytes: setting({
    default: 256 * 1024 ** 2,
    flag: '--ram',
    form: 'size',
    help: 'guest RAM, whole 4 KiB pages, up to 4GiB',
    allowed: 'a whole number of 4 KiB pages from 4 KiB to 4 GiB',
    example: '256MiB',
    check: (v) => (isSafeInt(v) && v >= PAGE_BYTES && v <= MAX_RAM_BYTES && v % PAGE_BYTES === 0 ? v : undefined),
  }),
  /** Share of guest pages that are all zeros, from 0 to 1. Default 0.25. */
  zeroShare: setting({
    default: 0.25,
    flag: '--zero-share',
    form: 'share',
    help: 'share of all-zero pages: 0 to 1, or a percentage',
    allowed: 'a share from 0 to 1',
    example: '25%',
    check: (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? v : undefined),
  }),
  /** How fast the guest dirties memory, bytes/s (÷ 4096 = pages/s). Default 112 MiB/s. */
  dirtyBytesPerSecond: setting({
    default: 112 * 1024 ** 2,
    flag: '--dirty-rate',
    form: 'rate',
    help: 'how fast the guest dirties memory',
    allowed: 'a whole number of bytes per second from 0 to 2^53 − 1',
    example: '96MiB/s',
    check: intIn(0, Number.MAX_SAFE_INTEGER),
  }),
  /**
   * `max-bandwidth`: bytes/s, 0 = unlimited (in options, a bigint or a safe-integer number).
   * Default 128 MiB/s (QEMU's default).
   */
  bandwidthBytesPerSecond: setting({
    default: 128n * 1024n ** 2n,
    flag: '--bandwidth',
    form: 'rate',
    help: 'max-bandwidth; 0 = unlimited',
    allowed: 'a whole number of bytes per second: 0 for unlimited, or from 10 to 2^64 − 1',
    example: '1GiB/s',
    check: (v) => {
      const b = asU64(v);
      // 1 to 9 B/s would be a budget of 0 bytes per window, which QEMU reads as "unlimited".
      return b === 0n || (b !== undefined && b >= 10n) ? b : undefined;
    },
  }),
  /**
   * `avail-switchover-bandwidth`: bytes/s the switch-over may count on, 0 = the measured bandwidth
   * (in options, a bigint or a safe-integer number). Set, the switch-over threshold no longer
   * depends on the machine's speed. Default 0.
   */
  availSwitchoverBandwidth: setting({
    default: 0n,
    flag: '--avail-switchover-bandwidth',
    form: 'rate',
    help: 'bandwidth the switch-over counts on; 0 = measured',
    allowed: 'a whole number of bytes per second from 0 to 2^64 − 1 (0: the measured bandwidth)',
    example: '1GiB/s',
    check: asU64,
  }),
  /** Multifd channels, one worker each. Default 2 (QEMU's default). */
  channels: setting({
    default: 2,
    flag: '--channels',
    form: 'count',
    help: `multifd channels (one worker each), 1 to ${MAX_CHANNELS}`,
    allowed: `a whole number from 1 to ${MAX_CHANNELS}`,
    example: '2',
    check: intIn(1, MAX_CHANNELS),
  }),
  /** `downtime-limit` in ms: switch over once the rest fits in it. Default 300 (QEMU's default). */
  downtimeLimitMs: setting({
    default: 300,
    flag: '--downtime-limit',
    form: 'ms',
    help: 'switch over once the rest fits in this downtime',
    allowed: `a whole number of milliseconds from 0 to ${MAX_DOWNTIME_LIMIT_MS}`,
    example: '300ms',
    check: intIn(0, MAX_DOWNTIME_LIMIT_MS),
  }),
  /** Counters' backend in every thread, and the zero scan with it (`js`: a JS loop). */
  backend: setting<BackendName>({
    default: 'wasm',
    flag: '--backend',
    form: 'name',
    help: 'counters and zero scan in Wasm, or plain JS',
    ...oneOf<BackendName>(['wasm', 'js']),
  }),
  /**
   * Passes that may end without converging: when pass `maxPasses` ends and what is dirty does not
   * fit the downtime limit, the migration is cancelled (`migrate_cancel`; QEMU never gives up by
   * itself). Default 20.
   */
  maxPasses: setting({
    default: 20,
    flag: '--max-passes',
    form: 'count',
    help: 'migrate_cancel when pass N ends unconverged',
    allowed: `a whole number from 1 to ${MAX_MAX_PASSES}`,
    example: '20',
    check: intIn(1, MAX_MAX_PASSES),
    notWithQmp: true,
  }),
  /** Seed of the guest's pseudo-random writes. Default 1. */
  seed: setting({
    default: 1,
    flag: '--seed',
    form: 'count',
    help: "seed of the guest's pseudo-random writes",
    allowed: 'a whole number from 0 to 4294967295',
    example: '1',
    check: intIn(0, 0xffff_ffff),
  }),
  /**
   * QEMU's `postcopy-ram` capability, with `migrate-start-postcopy` asked when pass
   * `postcopyAfter` ends without converging; the switch comes at the next iteration. Default false.
   */
  postcopy: setting<boolean>({
    default: false,
    flag: '--postcopy',
    form: 'switch',
    help: 'switch to postcopy if pre-copy has not converged',
    allowed: 'true or false',
    example: 'true',
    check: (v) => (typeof v === 'boolean' ? v : undefined),
  }),
  /** The pass at whose end `migrate-start-postcopy` is asked, 1 to 1000000. Default 1. */
  postcopyAfter: setting({
    default: 1,
    flag: '--postcopy-after',
    form: 'count',
    help: 'migrate-start-postcopy when pass N ends',
    allowed: `a whole number of passes from 1 to ${MAX_MAX_PASSES}`,
    example: '1',
    check: intIn(1, MAX_MAX_PASSES),
    afterPostcopy: 'the pass at whose end migrate-start-postcopy is asked',
    notWithQmp: true,
  }),
  /** The destination's vCPUs after the postcopy switch (one worker each), 1 to 64. Default 2. */
  vcpus: setting({
    default: 2,
    flag: '--vcpus',
    form: 'count',
    help: `destination vCPUs after the switch, 1 to ${MAX_POSTCOPY_VCPUS}`,
    allowed: `a whole number from 1 to ${MAX_POSTCOPY_VCPUS}`,
    example: '2',
    check: intIn(1, MAX_POSTCOPY_VCPUS),
    afterPostcopy: "the destination's vCPUs after the postcopy switch",
  }),
} as const;

/** A setting's name. */
export type SettingName = keyof typeof SETTINGS;

/** Settings of one simulated migration; every field has a default (see each record in `SETTINGS`). */
export type SimulationSettings = { -readonly [K in keyof typeof SETTINGS]: (typeof SETTINGS)[K]['default'] };

/** The names, in the records' order. */
export const SETTING_NAMES = Object.freeze(Object.keys(SETTINGS) as SettingName[]);

/** The defaults: a 256 MiB guest that converges in a few passes within seconds. */
export const DEFAULT_SETTINGS: Readonly<SimulationSettings> = Object.freeze(
  Object.fromEntries(SETTING_NAMES.map((name) => [name, SETTINGS[name].default])) as SimulationSettings,
);
