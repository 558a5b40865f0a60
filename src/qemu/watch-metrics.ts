/**
 * The statistics `migration-stats watch --metrics` serves: QEMU's 15 counters as the mirror holds
 * them (the names a `MigrationStats` exports under), the running migration's other figures, and
 * figures that outlive a migration (how many completed, failed and were cancelled; the last one's
 * times, passes, bytes and pages). One `defineStats` definition, so every exporter takes it.
 * @packageDocumentation
 */
import { COUNTER_NAMES, QEMU_DEFINITION, type CounterName } from '../counters.js';
import { defineStats, type StatsDefinition } from '../define-stats.js';
import type { MetricDefinition } from '../definition.js';
import { describe, entry, typeFault } from '../errors.js';
import { MIGRATION_STATUSES } from './query-migrate.js';
import type { QmpObject } from './qmp-wire.js';
import { qemuBehaviour } from './versions.js';
import { bigintOf, numberOf, ramOf, TERMINAL_STATUSES } from './watch-mirror.js';
import type { WatchOutcome, WatchProgress } from './watch-types.js';

/** The namespace: Prometheus names start `qemu_migration_`, as a `MigrationStats`' do. */
export const WATCH_NAMESPACE = 'qemu.migration';

const gauge = (unit: string, help: string) => ({ kind: 'gauge', unit, help }) as const;
const counter = (unit: string, help: string) => ({ kind: 'counter', unit, help }) as const;

/** QEMU's 15 counters with their own names, kinds and help (from the definition `MigrationStats` is made from). */
const QEMU_COUNTERS = Object.fromEntries(
  QEMU_DEFINITION.metrics.map((spec) => [
    spec.name,
    { kind: spec.kind as 'counter' | 'gauge', unit: spec.unit, help: spec.help, names: { c: spec.cName, ...spec.names } },
  ]),
) as unknown as Record<CounterName, { readonly kind: 'counter' | 'gauge'; readonly unit: string; readonly help: string }>;

const SCHEMA = {
  ...QEMU_COUNTERS,
  active: gauge('migrations', 'Whether a migration is under way (1) or not (0).'),
  status: gauge('status', "The migration's status as its index in QAPI's MigrationStatus (0 none, 4 active, 5 postcopy-active, 9 completed, 10 failed, 3 cancelled)."),
  remaining: gauge('bytes', 'Dirty bytes left to send; query-migrate ram.remaining.'),
  ram: gauge('bytes', "Guest RAM size; query-migrate ram.total."),
  totalTime: gauge('milliseconds', 'Milliseconds since the migration started; query-migrate total-time.'),
  expectedDowntime: gauge('milliseconds', 'Expected downtime in milliseconds while pre-copy runs; query-migrate expected-downtime.'),
  transferRate: gauge('bytes/s', "Bytes per second in QEMU's last window; query-migrate ram.mbps × 10^6 / 8."),
  dirtyToTransferPermille: gauge('permille', 'Dirty rate ÷ transfer rate × 1000 (dirty-pages-rate × page-size × 8 over mbps × 10^6); 1000 or more will not converge.'),
  completed: counter('migrations', 'Migrations that completed since the watch began.'),
  failed: counter('migrations', 'Migrations that failed since the watch began.'),
  cancelled: counter('migrations', 'Migrations that were cancelled since the watch began.'),
  lastStatus: gauge('status', "The last migration's final status, as an index in QAPI's MigrationStatus."),
  lastEndTimestampSeconds: gauge('seconds', 'When the last migration ended: Unix time of its final MIGRATION event, or of the final reply without events.'),
  lastTotalTime: gauge('milliseconds', "The last migration's total-time in milliseconds (from its last reply with figures when it failed or was cancelled)."),
  lastSetupTime: gauge('milliseconds', "The last migration's setup-time in milliseconds."),
  lastDowntime: gauge('milliseconds', "The last migration's downtime in milliseconds (0 unless it completed)."),
  lastPasses: gauge('passes', "The last migration's passes over dirty memory (dirty-sync-count)."),
  lastTransferred: gauge('bytes', "The last migration's ram.transferred."),
  lastNormalPages: gauge('pages', "The last migration's ram.normal."),
  lastDuplicatePages: gauge('pages', "The last migration's ram.duplicate (zero pages)."),
  lastTransferRate: gauge('bytes/s', "The last migration's average bytes per second; its final ram.mbps × 10^6 / 8."),
} satisfies Record<string, MetricDefinition>;

/**
 * The definition of the watch's statistics (`qemu_migration_…` in Prometheus; docs/qemu.md lists
 * them): make them with `.create()`, serve them with `createMetricsHandler`.
 * @returns a `defineStats` definition, a new one each call (each `create()` is new memory)
 */
export function defineWatchStats() {
  return defineStats(SCHEMA, { namespace: WATCH_NAMESPACE });
}

/** The statistics {@link defineWatchStats} makes. */
export type WatchStats = Awaited<ReturnType<StatsDefinition<typeof SCHEMA, { namespace: string }>['create']>>;

/** A double as a u64 gauge: truncated, never negative. */
function whole(value: number): bigint {
  return Number.isFinite(value) && value > 0 ? BigInt(Math.trunc(value)) : 0n;
}

/** Refuses anything but the stats {@link defineWatchStats} makes. */
function checkStats(stats: unknown): asserts stats is WatchStats {
  const named = stats !== null && typeof stats === 'object' && 'lastPasses' in stats && 'completed' in stats && 'normalPages' in stats;
  if (!named) throw typeFault(`stats must be made by defineWatchStats().create(); received ${describe(stats)}`);
}

const statusIndex = (status: string): bigint => BigInt(Math.max(0, (MIGRATION_STATUSES as readonly string[]).indexOf(status)));
const u64 = (value: bigint | undefined): bigint => BigInt.asUintN(64, value ?? 0n);

/**
 * Sets the running migration's figures from one reply.
 * @param stats - made by {@link defineWatchStats}
 * @param progress - what `watchQemu`'s `onProgress` receives
 * @throws TypeError for stats of another definition
 */
export function recordWatchProgress(stats: WatchStats, progress: WatchProgress): void {
  entry('recordWatchProgress', () => checkStats(stats));
  const { reply, stats: mirror, status } = progress;
  for (const name of COUNTER_NAMES) stats[name].set(mirror[name].get());
  stats.active.set(TERMINAL_STATUSES.has(status) ? 0n : 1n);
  stats.status.set(statusIndex(status));
  const ram = ramOf(reply);
  if (!ram) return;
  stats.remaining.set(u64(bigintOf(ram.remaining)));
  stats.ram.set(u64(bigintOf(ram.total)));
  stats.totalTime.set(u64(bigintOf(reply['total-time'])));
  // 7.2 prints expected-downtime in postcopy-active too: it is no estimate there.
  const postcopy = status.startsWith('postcopy');
  const estimate = postcopy && qemuBehaviour(progress.version).postcopyDowntimeMember === 'expected-downtime' ? undefined : bigintOf(reply['expected-downtime']);
  stats.expectedDowntime.set(u64(estimate));
  const mbps = numberOf(ram.mbps) ?? 0;
  stats.transferRate.set(whole((mbps * 1e6) / 8));
  const dirtyBits = Number(u64(bigintOf(ram['dirty-pages-rate'])) * u64(bigintOf(ram['page-size']) ?? 4096n)) * 8;
  stats.dirtyToTransferPermille.set(mbps > 0 ? whole((dirtyBits / (mbps * 1e6)) * 1000) : 0n);
}

/** The figures of a reply's `ram` and times, for the `last…` gauges. */
function lastFigures(stats: WatchStats, reply: QmpObject | undefined): void {
  const ram = reply ? ramOf(reply) : undefined;
  stats.lastTotalTime.set(u64(bigintOf(reply?.['total-time'])));
  stats.lastSetupTime.set(u64(bigintOf(reply?.['setup-time'])));
  stats.lastPasses.set(u64(bigintOf(ram?.['dirty-sync-count'])));
  stats.lastTransferred.set(u64(bigintOf(ram?.transferred)));
  stats.lastNormalPages.set(u64(bigintOf(ram?.normal)));
  stats.lastDuplicatePages.set(u64(bigintOf(ram?.duplicate)));
}

/**
 * Records how a migration ended: its counter, the `last…` gauges (from the final reply, or from
 * the last one with figures when the final one has none: `failed`, `cancelled`), and no running
 * migration.
 * @param stats - made by {@link defineWatchStats}
 * @param outcome - what `watchQemu` resolved with
 * @param endedAtMs - when it ended, ms since the epoch, without a final `MIGRATION` event (default: now)
 * @throws TypeError for stats of another definition
 */
export function recordWatchOutcome(stats: WatchStats, outcome: WatchOutcome, endedAtMs: number = Date.now()): void {
  entry('recordWatchOutcome', () => checkStats(stats));
  const { last, status } = outcome;
  stats[status].add(1);
  stats.active.set(0n);
  stats.status.set(statusIndex(status));
  stats.lastStatus.set(statusIndex(status));
  stats.lastEndTimestampSeconds.set(outcome.endedAt ? u64(outcome.endedAt.seconds) : whole(endedAtMs / 1000));
  lastFigures(stats, ramOf(last) ? last : outcome.lastRunning);
  stats.lastDowntime.set(status === 'completed' ? u64(bigintOf(last.downtime)) : 0n);
  stats.lastTransferRate.set(status === 'completed' ? whole(((numberOf(ramOf(last)?.mbps) ?? 0) * 1e6) / 8) : 0n);
  stats.transferRate.set(0n);
  stats.dirtyToTransferPermille.set(0n);
  stats.expectedDowntime.set(0n);
}
