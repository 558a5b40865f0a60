/**
 * A migration's parameters and capabilities as QEMU names them (`migrate-set-parameters`,
 * `migrate-set-capabilities`), the subset the simulator models, with QEMU's defaults.
 * @packageDocumentation
 */
import type { SimulationSettings } from './settings.js';

/** The migration parameters the simulator models (QEMU's `MigrationParameters`). */
export interface MigrationParameters {
  /** `max-bandwidth`, bytes/s; 0 = unlimited. QEMU's default 128 MiB/s. */
  maxBandwidth: bigint;
  /** `downtime-limit`, ms. QEMU's default 300. */
  downtimeLimitMs: number;
  /** `multifd-channels`. QEMU's default 2. */
  multifdChannels: number;
  /** `max-postcopy-bandwidth`, bytes/s after the postcopy switch; 0 = unlimited (QEMU's default). */
  maxPostcopyBandwidth: bigint;
  /** `avail-switchover-bandwidth`, bytes/s; 0 = the measured bandwidth (QEMU's default). */
  availSwitchoverBandwidth: bigint;
}

/** The migration capabilities the simulator models (all off by default, as in QEMU). */
export interface MigrationCapabilities {
  /** `events`: `MIGRATION` and `MIGRATION_PASS` events. */
  events: boolean;
  /** `multifd`: pages on the channels; without it, on the main stream. */
  multifd: boolean;
  /** `postcopy-ram`: `migrate-start-postcopy` may switch to postcopy. */
  postcopyRam: boolean;
  /** `pause-before-switchover`: stop in `pre-switchover` until `migrate-continue`. */
  pauseBeforeSwitchover: boolean;
}

/** QEMU's capability names, by field. */
export const CAPABILITY_NAMES: { readonly [K in keyof MigrationCapabilities]: string } = {
  events: 'events',
  multifd: 'multifd',
  postcopyRam: 'postcopy-ram',
  pauseBeforeSwitchover: 'pause-before-switchover',
};

/** QEMU's parameter names, by field. */
export const PARAMETER_NAMES: { readonly [K in keyof MigrationParameters]: string } = {
  maxBandwidth: 'max-bandwidth',
  downtimeLimitMs: 'downtime-limit',
  multifdChannels: 'multifd-channels',
  maxPostcopyBandwidth: 'max-postcopy-bandwidth',
  availSwitchoverBandwidth: 'avail-switchover-bandwidth',
};

/** The parameters a simulation's settings give (the command line's and `simulateMigration`'s). */
export function parametersOf(settings: SimulationSettings): MigrationParameters {
  return {
    maxBandwidth: settings.bandwidthBytesPerSecond,
    downtimeLimitMs: settings.downtimeLimitMs,
    multifdChannels: settings.channels,
    maxPostcopyBandwidth: 0n,
    availSwitchoverBandwidth: settings.availSwitchoverBandwidth,
  };
}

/** QEMU's defaults: every capability off. */
export function defaultCapabilities(): MigrationCapabilities {
  return { events: false, multifd: false, postcopyRam: false, pauseBeforeSwitchover: false };
}
