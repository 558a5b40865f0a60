/**
 * `simulateMigration`: one simulated live migration, start to end, as a thin driver over a
 * {@link SimulatedVm} (vm.ts): it boots the machine, sets the parameters and capabilities the
 * settings give (`multifd` always; `postcopy-ram` with `postcopy`), migrates at once, asks for
 * `migrate-start-postcopy` when pass `postcopyAfter` ends without converging, and cancels when
 * pass `maxPasses` does (QEMU never gives up by itself).
 * @packageDocumentation
 */
import { describe, entry } from '../errors.js';
import { checkSettings } from './options.js';
import type { MigrationProgress, MigrationResult, SimulationOptions } from './types.js';
import { SimulatedVm } from './vm.js';
import { defaultWorkerUrl } from './worker-url.js';

export type * from './types.js';

/**
 * Runs one simulated live migration to its end.
 * @param options - settings (see `SimulationSettings`; each has a default) and callbacks
 * @returns the outcome, with the final counters and the `query-migrate` info
 * @throws TypeError or RangeError for a bad setting, `onProgress` or `workerUrl` (nothing is started); Error when shared
 *   memory is not available or a worker fails
 * @example
 * const result = await simulateMigration({ ramBytes: 16 * 1024 * 1024 });
 * result.status; //=> 'completed'
 * result.verified; //=> true
 */
export async function simulateMigration(options?: SimulationOptions): Promise<MigrationResult> {
  const { settings, onProgress, workerUrl: url, signal } = entry('simulateMigration', () => checkSettings(options));
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new TypeError(`simulateMigration: options.onProgress must be a function or undefined; received ${describe(onProgress)}`);
  }
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new TypeError(`simulateMigration: options.signal must be an AbortSignal or undefined; received ${describe(signal)}`);
  }
  const workerUrl = url === undefined ? defaultWorkerUrl() : resolveWorkerUrl(url);
  if (typeof SharedArrayBuffer !== 'function') {
    throw new Error(
      'simulateMigration: SharedArrayBuffer is not available; in a browser the page must be cross-origin isolated ' +
        '(Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)',
    );
  }
  const vm = new SimulatedVm(settings, { workerUrl, ...(onProgress ? { onProgress: onProgress as (progress: MigrationProgress) => void } : {}) });
  const onAbort = (): void => vm.cancel((signal as AbortSignal).reason);
  const abortSignal = signal as AbortSignal | undefined;
  abortSignal?.addEventListener('abort', onAbort);
  try {
    if (abortSignal?.aborted) return await vm.notStarted(abortSignal.reason);
    try {
      await vm.boot();
    } catch (error) {
      if (abortSignal?.aborted) return await vm.notStarted(abortSignal.reason);
      throw error;
    }
    Object.assign(vm.capabilities, { multifd: true, postcopyRam: settings.postcopy });
    vm.passEnded = (passes) => {
      if (settings.postcopy && passes >= settings.postcopyAfter) vm.startPostcopy();
      else if (passes >= settings.maxPasses) vm.cancel(`did not converge in ${passes} passes`, passes);
    };
    return await vm.migrate('exec:simulated');
  } finally {
    abortSignal?.removeEventListener('abort', onAbort);
    await vm.shutDown();
  }
}

/**
 * Boots a simulated machine that waits for `migrate` (`simulate --qmp` serves one): its workers
 * start, its RAM is filled, its guest runs. The migration settings (`bandwidthBytesPerSecond`,
 * `downtimeLimitMs`, `channels`, `availSwitchoverBandwidth`) are its initial parameters; every
 * capability is off, as in QEMU; `maxPasses`, `postcopy` and `postcopyAfter` are not used (a
 * client decides); with `postcopy`, the vCPUs start at boot rather than at `migrate`.
 * @param options - settings, `onProgress` and `workerUrl` as {@link simulateMigration} takes them (no `signal`)
 * @returns the booted machine; stop it with `shutDown()`
 * @throws TypeError or RangeError for a bad setting; Error when shared memory is not available or a worker fails
 */
export async function bootSimulatedVm(options?: Omit<SimulationOptions, 'signal'>): Promise<SimulatedVm> {
  const { settings, onProgress, workerUrl: url, signal } = entry('bootSimulatedVm', () => checkSettings(options));
  if (signal !== undefined) throw new TypeError('bootSimulatedVm: options.signal is not a setting; stop the machine with shutDown()');
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new TypeError(`bootSimulatedVm: options.onProgress must be a function or undefined; received ${describe(onProgress)}`);
  }
  const workerUrl = url === undefined ? defaultWorkerUrl() : resolveWorkerUrl(url);
  const vm = new SimulatedVm(settings, { workerUrl, ...(onProgress ? { onProgress: onProgress as (progress: MigrationProgress) => void } : {}) });
  try {
    await vm.boot();
  } catch (error) {
    await vm.shutDown();
    throw error;
  }
  return vm;
}

/** Whether a value is an `AbortSignal` (false for anything that cannot even be asked). */
function isAbortSignal(value: unknown): value is AbortSignal {
  try {
    return typeof AbortSignal === 'function' && value instanceof AbortSignal;
  } catch {
    return false;
  }
}

/** `options.workerUrl` as a URL, relative ones against the default. */
function resolveWorkerUrl(value: unknown): URL {
  if (value instanceof URL || typeof value === 'string') {
    try {
      return new URL(value, defaultWorkerUrl());
    } catch {
      // not a URL: the message below
    }
  }
  throw new TypeError(`simulateMigration: options.workerUrl must be a URL or a string naming the worker module; received ${describe(value)}`);
}
