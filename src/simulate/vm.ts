/**
 * A simulated virtual machine that migrates when told to, as a QEMU source does: it boots (its
 * workers start, its RAM is filled, the guest runs), takes migration parameters and capabilities,
 * and waits for `migrate`; then it reports QEMU's statuses and events (`MIGRATION`,
 * `MIGRATION_PASS` with the `events` capability; `STOP`, `RESUME` always), and obeys
 * `migrate_cancel`, `migrate-start-postcopy` and `migrate-continue`. `simulateMigration` drives
 * one (migration.ts); `simulate --qmp` serves one over QMP (qmp-backend.ts).
 * @packageDocumentation
 */
import { qmpTimestamp, type QmpEvent, type QmpObject } from '../qemu/qmp-wire.js';
import type { MigrationInfo } from '../qemu/query-migrate.js';
import { MigrationStats } from '../stats.js';
import type { MigrationHooks } from './core.js';
import type { SimulationSettings } from './settings.js';
import { resultOf, type Ending } from './outcome.js';
import { defaultCapabilities, parametersOf, type MigrationCapabilities, type MigrationParameters } from './parameters.js';
import { Migration, reasonText } from './stages.js';
import type { MigrationProgress, MigrationResult, SimulationStatus } from './types.js';

/** QEMU's run states that the source passes through (`query-status`). */
export type RunState = 'running' | 'finish-migrate' | 'postmigrate';

/** Why a command is refused now: QEMU's words (the QMP backend sends them as `GenericError`). */
export class VmCommandError extends Error {}

/** What {@link SimulatedVm} takes besides the guest's settings. */
export interface SimulatedVmOptions {
  /** URL of the simulator's worker module. */
  readonly workerUrl: URL;
  /** Called with the live figures while a migration runs. */
  readonly onProgress?: (progress: MigrationProgress) => void;
}

/** A booted simulated machine and its one migration. */
export class SimulatedVm {
  readonly settings: SimulationSettings;
  /** The migration parameters, as `migrate-set-parameters` leaves them (those of the migration under way once it started). */
  readonly parameters: MigrationParameters;
  /** The capabilities, as `migrate-set-capabilities` leaves them. */
  readonly capabilities: MigrationCapabilities = defaultCapabilities();
  /** The `uri` of `migrate`, once given. */
  uri: string | undefined;
  runState: RunState = 'running';
  /** Called when a pass ends without converging (the number of passes so far): see `simulateMigration`. */
  passEnded: ((passes: number) => void) | undefined;
  readonly #migration: Migration;
  readonly #listeners = new Set<(event: QmpEvent) => void>();
  readonly #statusListeners = new Set<(status: SimulationStatus) => void>();
  #run: Promise<MigrationResult> | undefined;
  /** The reason of a cancel asked by `--max-passes`, to word the result. */
  #maxPasses: number | undefined;
  #booted = false;
  #started!: () => void;
  /** Settles when `migrate` started the migration ({@link finished} is then its result). */
  readonly started: Promise<void> = new Promise((resolve) => (this.#started = resolve));

  /**
   * Makes the machine; {@link boot} starts it. `bootSimulatedVm` checks the settings and does both.
   * @param settings - the guest's settings (checked) and the initial migration parameters
   * @param options - the worker module's URL, and a progress callback
   */
  constructor(settings: SimulationSettings, options: SimulatedVmOptions) {
    this.settings = settings;
    this.parameters = parametersOf(settings);
    const hooks: MigrationHooks = {
      status: (status) => {
        this.#migrationEvent('MIGRATION', { status });
        for (const listener of [...this.#statusListeners]) listener(status);
      },
      pass: (pass) => this.#migrationEvent('MIGRATION_PASS', { pass: BigInt(pass) }),
      runState: (running) => {
        this.runState = running ? 'running' : 'finish-migrate';
        this.#emit(running ? 'RESUME' : 'STOP');
      },
      passEnded: (passes) => this.passEnded?.(passes),
    };
    this.#migration = new Migration(settings, options.workerUrl, hooks, options.onProgress);
  }

  /** Boots: every worker starts and fills the guest's RAM, then the guest runs. Rejects when cancelled meanwhile. */
  async boot(): Promise<void> {
    await this.#migration.boot();
    this.#booted = true;
  }

  /**
   * The parameters changed during a migration: as QEMU, `max-bandwidth` applies at once to
   * pre-copy (not to stop-and-copy, unlimited, nor to postcopy, which has
   * `max-postcopy-bandwidth`), and `downtime-limit` to the windows that close from now on. The
   * others take effect at the next `migrate`.
   */
  parametersChanged(): void {
    const m = this.#migration;
    if (!this.migrating || m.status === 'setup') return;
    if (m.window && m.params.downtimeLimitMs !== this.parameters.downtimeLimitMs) {
      m.params.downtimeLimitMs = this.parameters.downtimeLimitMs;
      m.window.setDowntimeLimit(this.parameters.downtimeLimitMs);
    }
    if (m.params.maxBandwidth !== this.parameters.maxBandwidth && m.status === 'active' && !m.stopAndCopy) {
      m.params.maxBandwidth = this.parameters.maxBandwidth;
      void m.setRateLimit(this.parameters.maxBandwidth);
    }
  }

  /** The migration's result once `migrate` was called (rejects when a worker failed); `undefined` before. */
  get finished(): Promise<MigrationResult> | undefined {
    return this.#run;
  }

  /** QEMU's migration status now. */
  get status(): SimulationStatus {
    return this.#migration.status;
  }

  /** The migration's moving parts (tests and the result read them). */
  get migration(): Migration {
    return this.#migration;
  }

  /**
   * Subscribes to the machine's events as QEMU's monitor sends them.
   * @param listener - called with each event, in order
   * @returns a function that unsubscribes
   */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * Subscribes to the migration's status changes, whatever the capabilities.
   * @param listener - called with each new status
   * @returns a function that unsubscribes
   */
  onStatus(listener: (status: SimulationStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => void this.#statusListeners.delete(listener);
  }

  /** Whether a migration is under way (QEMU's `migration_is_running`, `cancelling` included). */
  get migrating(): boolean {
    return this.#migration.cancellable || this.status === 'cancelling';
  }

  /**
   * QEMU's `migrate`: the status becomes `setup` (`MIGRATION` event) before this returns, and
   * the migration runs with the parameters and capabilities of now.
   * @param uri - the destination, as QEMU's `migrate` takes it (recorded; nothing connects)
   * @returns the result, once the migration ended and (when it completed) the destination was
   *   compared with the source
   * @throws VmCommandError when the machine has not booted, or has migrated already
   */
  migrate(uri: string): Promise<MigrationResult> {
    if (!this.#booted) throw new VmCommandError('the machine has not booted');
    if (this.migrating) throw new VmCommandError("There's a migration process in progress");
    if (this.#run) throw new VmCommandError('the simulator migrates its guest once; start it again for another migration');
    this.uri = uri;
    const m = this.#migration;
    const run = m.migrate({ ...this.parameters }, { ...this.capabilities }).then(() => this.#end());
    this.#run = run;
    this.#started();
    return run;
  }

  /** The outcome once the migration ended: verified when completed. */
  async #end(): Promise<MigrationResult> {
    const m = this.#migration;
    if (m.status === 'completed') {
      this.runState = 'postmigrate';
      let firstMismatchPage: number;
      try {
        firstMismatchPage = await m.verify();
      } catch (error) {
        if (m.cancellation && error === m.cancellation) return resultOf(m, this.#cancelled());
        throw error;
      }
      return resultOf(m, { kind: 'completed', firstMismatchPage });
    }
    return resultOf(m, this.#cancelled());
  }

  #cancelled(): Ending {
    const reason = this.#migration.cancellation?.message ?? 'migrate_cancel';
    return this.#maxPasses === undefined ? { kind: 'cancelled', reason } : { kind: 'cancelled', reason, maxPasses: this.#maxPasses };
  }

  /** The result of a migration never started (cancelled before or during boot): zeroed counters. */
  async notStarted(reason: unknown): Promise<MigrationResult> {
    const m = this.#migration;
    m.cancel(reasonText(reason));
    m.stats ??= await MigrationStats.create({ backend: this.settings.backend });
    return resultOf(m, { kind: 'cancelled', reason: reasonText(reason) });
  }

  /**
   * QEMU's `migrate_cancel` (nothing when no migration runs); before the migration or once it
   * completed, it stops the boot or the verification.
   * @param reason - the cause, for the result's message
   * @param maxPasses - set when `--max-passes` asks for it, for the message
   */
  cancel(reason: unknown = 'migrate_cancel', maxPasses?: number): void {
    // A booted machine that has not migrated has nothing to cancel (a later migrate must still run).
    if (this.#booted && this.status === 'none') return;
    if (maxPasses !== undefined) this.#maxPasses = maxPasses;
    this.#migration.cancel(reasonText(reason));
  }

  /**
   * QEMU's `migrate-start-postcopy`: the next iteration switches.
   * @throws VmCommandError without the `postcopy-ram` capability, or before `migrate`
   */
  startPostcopy(): void {
    const m = this.#migration;
    const caps = m.status === 'none' ? this.capabilities : m.caps;
    if (!caps.postcopyRam) throw new VmCommandError('Enable postcopy with migrate_set_capability before the start of migration');
    if (m.status === 'none') throw new VmCommandError('Postcopy must be started after migration has been started');
    m.postcopyRequested = true;
  }

  /**
   * QEMU's `migrate-continue`: lets a migration paused in `state` go on.
   * @param state - the status the migration must be in (`pre-switchover`)
   * @throws VmCommandError when the migration is not in that state
   */
  continue(state: string): void {
    const m = this.#migration;
    if (m.status !== state) throw new VmCommandError(`Migration not in expected state: ${m.status}`);
    m.resume();
  }

  /** QEMU's `query-migrate` of now. */
  queryMigrate(): MigrationInfo {
    return this.#migration.query();
  }

  /** Stops every worker; the counters stay readable. */
  async shutDown(): Promise<void> {
    await this.#migration.shutDown();
  }

  #migrationEvent(event: string, data: QmpObject): void {
    // QEMU sends migration events only with the `events` capability of the migration.
    if (this.#migration.caps.events) this.#emit(event, data);
  }

  #emit(event: string, data?: QmpObject): void {
    const message: QmpEvent = data === undefined ? { event, timestamp: qmpTimestamp() } : { event, data, timestamp: qmpTimestamp() };
    for (const listener of [...this.#listeners]) listener(message);
  }
}
