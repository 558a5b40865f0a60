/**
 * The simulator's settings: defaults, allowed ranges, and the checks that both the library call
 * and the command line use (one rule per setting, one message per rule).
 * @packageDocumentation
 */
import type { BackendName } from '../backend/core.js';
import { describe, U64_MAX } from '../errors.js';
import { MAX_POSTCOPY_VCPUS } from '../qemu/postcopy.js';
import { MAX_DOWNTIME_LIMIT_MS } from '../qemu/window.js';
import { readOptions, type OptionSpec } from '../options.js';
import type { SimulationOptions } from './types.js';
import { PAGE_BYTES } from './wire.js';

/** Largest guest RAM: a 32-bit Wasm memory (65536 pages of 64 KiB), which the zero scan reads. */
export const MAX_RAM_BYTES = 4 * 1024 ** 3;
/** Most multifd channels: one worker each, and one lane of the counters each (64 lanes). */
export const MAX_CHANNELS = 64;
/** Most passes a user can allow before a migration that does not converge is given up. */
export const MAX_MAX_PASSES = 1_000_000;

/** Settings of one simulated migration; every field has a default. */
export interface SimulationSettings {
  /** Guest RAM in bytes: a whole number of 4 KiB pages, up to 4 GiB. Default 256 MiB. */
  ramBytes: number;
  /** Share of guest pages that are all zeros, from 0 to 1. Default 0.25. */
  zeroShare: number;
  /** How fast the guest dirties memory, bytes/s (÷ 4096 = pages/s). Default 112 MiB/s. */
  dirtyBytesPerSecond: number;
  /** `max-bandwidth`: bytes/s, 0 = unlimited. Default 128 MiB/s (QEMU's default). */
  bandwidthBytesPerSecond: bigint;
  /**
   * `avail-switchover-bandwidth`: bytes/s the switch-over may count on, 0 = the measured bandwidth.
   * Set, the switch-over threshold no longer depends on the machine's speed. Default 0.
   */
  availSwitchoverBandwidth: bigint;
  /** Multifd channels, one worker each. Default 2 (QEMU's default). */
  channels: number;
  /** `downtime-limit` in ms: switch over once the rest fits in it. Default 300 (QEMU's default). */
  downtimeLimitMs: number;
  /** Counters' backend in every thread, and the zero scan with it (`js`: a JS loop). */
  backend: BackendName;
  /**
   * Passes that may end without converging: when pass `maxPasses` ends and what is dirty does not
   * fit the downtime limit, the migration is cancelled (`migrate_cancel`; QEMU never gives up by
   * itself). Default 20.
   */
  maxPasses: number;
  /** Seed of the guest's pseudo-random writes. Default 1. */
  seed: number;
  /**
   * QEMU's `postcopy-ram` capability, with `migrate-start-postcopy` asked when pass
   * `postcopyAfter` ends without converging; the switch comes at the next iteration. Default false.
   */
  postcopy: boolean;
  /** The pass at whose end `migrate-start-postcopy` is asked, 1 to 1000000. Default 1. */
  postcopyAfter: number;
  /** The destination's vCPUs after the postcopy switch (one worker each), 1 to 64. Default 2. */
  vcpus: number;
}

/** The defaults: a 256 MiB guest that converges in a few passes within seconds. */
export const DEFAULT_SETTINGS: Readonly<SimulationSettings> = Object.freeze({
  ramBytes: 256 * 1024 ** 2,
  zeroShare: 0.25,
  dirtyBytesPerSecond: 112 * 1024 ** 2,
  bandwidthBytesPerSecond: 128n * 1024n ** 2n,
  availSwitchoverBandwidth: 0n,
  channels: 2,
  downtimeLimitMs: 300,
  backend: 'wasm',
  maxPasses: 20,
  seed: 1,
  postcopy: false,
  postcopyAfter: 1,
  vcpus: 2,
});

/** One setting's rule: its command-line flag, what it allows, and the check. */
export interface SettingRule {
  /** The command-line flag. */
  readonly flag: string;
  /** What is allowed, in words, for error messages. */
  readonly allowed: string;
  /** A command-line value, for usage and messages. */
  readonly example: string;
  /** Returns the value in the setting's type, or `undefined` when it is not allowed. */
  check(value: unknown): unknown;
}

const isSafeInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
/** An unsigned 64-bit integer given as a bigint or a safe-integer number, as a bigint; `undefined` otherwise. */
const asU64 = (v: unknown): bigint | undefined => {
  const b = typeof v === 'bigint' ? v : isSafeInt(v) ? BigInt(v) : undefined;
  return b !== undefined && b >= 0n && b <= U64_MAX ? b : undefined;
};
const intIn = (lo: number, hi: number) => (v: unknown) => (isSafeInt(v) && v >= lo && v <= hi ? v : undefined);

/** The rules, by setting name. */
export const RULES: { readonly [K in keyof SimulationSettings]: SettingRule } = {
  ramBytes: {
    flag: '--ram',
    allowed: 'a whole number of 4 KiB pages from 4 KiB to 4 GiB',
    example: '256MiB',
    check: (v) => (isSafeInt(v) && v >= PAGE_BYTES && v <= MAX_RAM_BYTES && v % PAGE_BYTES === 0 ? v : undefined),
  },
  zeroShare: {
    flag: '--zero-share',
    allowed: 'a share from 0 to 1',
    example: '25%',
    check: (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? v : undefined),
  },
  dirtyBytesPerSecond: {
    flag: '--dirty-rate',
    allowed: 'a whole number of bytes per second from 0 to 2^53 − 1',
    example: '96MiB/s',
    check: intIn(0, Number.MAX_SAFE_INTEGER),
  },
  bandwidthBytesPerSecond: {
    flag: '--bandwidth',
    allowed: 'a whole number of bytes per second: 0 for unlimited, or from 10 to 2^64 − 1',
    example: '1GiB/s',
    check: (v) => {
      const b = asU64(v);
      // 1 to 9 B/s would be a budget of 0 bytes per window, which QEMU reads as "unlimited".
      return b === 0n || (b !== undefined && b >= 10n) ? b : undefined;
    },
  },
  availSwitchoverBandwidth: {
    flag: '--avail-switchover-bandwidth',
    allowed: 'a whole number of bytes per second from 0 to 2^64 − 1 (0: the measured bandwidth)',
    example: '1GiB/s',
    check: asU64,
  },
  channels: { flag: '--channels', allowed: `a whole number from 1 to ${MAX_CHANNELS}`, example: '2', check: intIn(1, MAX_CHANNELS) },
  downtimeLimitMs: {
    flag: '--downtime-limit',
    allowed: `a whole number of milliseconds from 0 to ${MAX_DOWNTIME_LIMIT_MS}`,
    example: '300ms',
    check: intIn(0, MAX_DOWNTIME_LIMIT_MS),
  },
  backend: { flag: '--backend', allowed: "'wasm' or 'js'", example: 'wasm', check: (v) => (v === 'wasm' || v === 'js' ? v : undefined) },
  maxPasses: { flag: '--max-passes', allowed: `a whole number from 1 to ${MAX_MAX_PASSES}`, example: '20', check: intIn(1, MAX_MAX_PASSES) },
  seed: { flag: '--seed', allowed: 'a whole number from 0 to 4294967295', example: '1', check: intIn(0, 0xffff_ffff) },
  postcopy: { flag: '--postcopy', allowed: 'true or false', example: 'true', check: (v) => (typeof v === 'boolean' ? v : undefined) },
  postcopyAfter: {
    flag: '--postcopy-after',
    allowed: `a whole number of passes from 1 to ${MAX_MAX_PASSES}`,
    example: '1',
    check: intIn(1, MAX_MAX_PASSES),
  },
  vcpus: { flag: '--vcpus', allowed: `a whole number from 1 to ${MAX_POSTCOPY_VCPUS}`, example: '2', check: intIn(1, MAX_POSTCOPY_VCPUS) },
};

/** Every name `simulateMigration` takes: the settings, and what only a library caller passes. */
const OPTIONS: OptionSpec<SimulationOptions> = {
  example: '{ ramBytes: 16777216 }',
  noun: 'setting',
  names: {
  ramBytes: true,
  zeroShare: true,
  dirtyBytesPerSecond: true,
  bandwidthBytesPerSecond: true,
  availSwitchoverBandwidth: true,
  channels: true,
  downtimeLimitMs: true,
  backend: true,
  maxPasses: true,
  seed: true,
  postcopy: true,
  postcopyAfter: true,
  vcpus: true,
  onProgress: true,
  workerUrl: true,
  signal: true,
  },
};

/** What {@link checkSettings} read: the settings with their defaults, and the two callbacks' values. */
export interface CheckedOptions {
  readonly settings: SimulationSettings;
  /** `options.onProgress` as given (checked by the caller). */
  readonly onProgress: unknown;
  /** `options.workerUrl` as given (checked by the caller). */
  readonly workerUrl: unknown;
  /** `options.signal` as given (checked by the caller). */
  readonly signal: unknown;
}

/**
 * Reads a settings object once and fills in the defaults.
 * @param where - the call, for messages
 * @param options - the caller's settings; unknown keys are refused
 * @throws TypeError for a value of the wrong type, an unknown setting or something that is not a
 *   plain object, RangeError for a value out of range; the message names the setting, the value
 *   and what is allowed
 */
export function checkSettings(where: string, options: unknown): CheckedOptions {
  const given = readOptions(where, options, OPTIONS);
  const out: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(RULES) as (keyof SimulationSettings)[]) {
    const value = given[key];
    if (value === undefined) continue;
    const rule = RULES[key];
    const checked = rule.check(value);
    if (checked === undefined) {
      // A value of another type, or a name outside an enumeration, is a TypeError; a number out of range a RangeError.
      const wrongType =
        key === 'backend' ||
        key === 'postcopy' ||
        (typeof value !== typeof DEFAULT_SETTINGS[key] && !(typeof DEFAULT_SETTINGS[key] === 'bigint' && typeof value === 'number'));
      const error = wrongType ? TypeError : RangeError;
      throw new error(`${where}: options.${key} must be ${rule.allowed}; received ${describe(value)}`);
    }
    out[key] = checked;
  }
  return { settings: out as unknown as SimulationSettings, onProgress: given.onProgress, workerUrl: given.workerUrl, signal: given.signal };
}
