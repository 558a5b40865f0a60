/**
 * The library's reading of a settings object (`simulateMigration`, `bootSimulatedVm`): every
 * name checked, each value by its setting's record (settings.ts), the defaults filled in.
 * @packageDocumentation
 */
import { describe, fault } from '../errors.js';
import { readOptions, type OptionNames, type OptionSpec } from '../options.js';
import { DEFAULT_SETTINGS, SETTING_NAMES, SETTINGS, type SimulationSettings } from './settings.js';
import type { SimulationOptions } from './types.js';

/** Every name `simulateMigration` takes: the settings, and what only a library caller passes. */
const OPTIONS: OptionSpec<SimulationOptions> = {
  example: '{ ramBytes: 16777216 }',
  noun: 'setting',
  names: Object.fromEntries([...SETTING_NAMES, 'onProgress', 'workerUrl', 'signal'].map((name) => [name, true])) as OptionNames<SimulationOptions>,
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
 * Reads a settings object once and fills in the defaults. Its errors are named by the public call
 * (see `fault`).
 * @param options - the caller's settings; unknown keys are refused
 * @throws TypeError for a value of the wrong type, an unknown setting or something that is not a
 *   plain object, RangeError for a value out of range; the message names the setting, the value
 *   and what is allowed
 */
export function checkSettings(options: unknown): CheckedOptions {
  const given = readOptions(options, OPTIONS);
  const out: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const key of SETTING_NAMES) {
    const value = given[key];
    if (value === undefined) continue;
    const record = SETTINGS[key];
    const checked = record.check(value);
    if (checked === undefined) {
      // A value of another type, or a name outside an enumeration, is a TypeError; a number out of range a RangeError.
      const type = typeof record.default;
      const wrongType = record.form === 'name' || record.form === 'switch' || (typeof value !== type && !(type === 'bigint' && typeof value === 'number'));
      const error = wrongType ? TypeError : RangeError;
      throw fault(new error(`options.${key} must be ${record.allowed}; received ${describe(value)}`));
    }
    out[key] = checked;
  }
  return { settings: out as unknown as SimulationSettings, onProgress: given.onProgress, workerUrl: given.workerUrl, signal: given.signal };
}
