/**
 * Adapter for `prom-client` (an optional peer dependency): registers the 15 counters in a
 * `Registry` as `Counter`s and `Gauge`s that read the shared memory each time the registry is
 * collected, so every thread's updates show at scrape time. Import it from
 * `migration-stats/prom-client`; the main entry never loads `prom-client`.
 *
 * prom-client keeps numbers: values above 2^53 are rounded to the nearest double when read (as
 * Prometheus would store them anyway).
 * @packageDocumentation
 */
import { Counter, Gauge, register as globalRegistry, type Registry } from 'prom-client';
import { describe } from '../errors.js';
import { checkLabels, checkPromPrefix, DEFAULT_PROM_PREFIX, METRICS } from './metrics.js';
import { readMember, readOptions, type OptionSpec } from '../options.js';
import { requireStats, type MigrationStats } from '../stats.js';

/** Options of {@link registerPromClient}. */
export interface PromClientOptions {
  /** The registry to register in (default: prom-client's global `register`). */
  registry?: Registry;
  /** Start of every metric name (default `qemu_migration_`). */
  prefix?: string;
  /** Constant labels on every sample, e.g. `{ vm: 'guest1' }`. */
  labels?: Readonly<Record<string, string>>;
}

const OPTIONS: OptionSpec<PromClientOptions> = { names: { registry: true, prefix: true, labels: true }, example: '{ registry }' };

/** What {@link registerPromClient} registered. */
export interface PromClientRegistration {
  /** The metric names, in QEMU's struct order. */
  readonly names: readonly string[];
  /** Removes the 15 metrics from the registry again. */
  unregister(): void;
}

/**
 * Registers the 15 counters with a prom-client registry, read at each collection.
 * @param stats - the counters (any thread's updates are included)
 * @param options - `registry` (default: the global one), `prefix`, constant `labels`
 * @returns the names registered and a way to remove them
 * @throws TypeError for a bad stats or bad options, or options whose reading throws (a getter, a
 *   Proxy); prom-client's own Error when a name is already registered (nothing is then left registered)
 * @example
 * import { Registry } from 'prom-client';
 * import { registerPromClient } from 'migration-stats/prom-client';
 * const registry = new Registry();
 * registerPromClient(stats, { registry, labels: { vm: 'guest1' } });
 * await registry.metrics(); //=> '# HELP qemu_migration_last_sync_dirty_bytes …'
 */
export function registerPromClient(stats: MigrationStats, options?: PromClientOptions): PromClientRegistration {
  const where = 'registerPromClient';
  const reader = requireStats(where, stats);
  const given = readOptions(where, options, OPTIONS);
  const registry = given.registry ?? globalRegistry;
  const isRegistry =
    registry !== null && typeof registry === 'object' && typeof readMember(where, 'options.registry.registerMetric', registry, 'registerMetric') === 'function';
  if (!isRegistry) throw new TypeError(`${where}: options.registry must be a prom-client Registry; received ${describe(registry)}`);
  const prefix = checkPromPrefix(where, given.prefix ?? DEFAULT_PROM_PREFIX);
  const labels = checkLabels(where, given.labels);
  const labelNames = Object.keys(labels);

  const names: string[] = [];
  try {
    for (const metric of METRICS) {
      const read = (): number => Number(reader.get(where, metric.counter));
      if (metric.type === 'counter') {
        const name = `${prefix}${metric.promName}_total`;
        names.push(name);
        new Counter({
          name,
          help: metric.help,
          labelNames,
          registers: [registry],
          collect(this: Counter) {
            // A counter can only be increased: start from zero at each collection.
            this.reset();
            this.inc(labels, read());
          },
        });
      } else {
        const name = prefix + metric.promName;
        names.push(name);
        new Gauge({
          name,
          help: metric.help,
          labelNames,
          registers: [registry],
          collect(this: Gauge) {
            this.set(labels, read());
          },
        });
      }
    }
  } catch (error) {
    // A name was taken: leave the registry as it was.
    for (const name of names.slice(0, -1)) registry.removeSingleMetric(name);
    throw error;
  }
  return Object.freeze({
    names: Object.freeze(names),
    unregister(): void {
      for (const name of names) registry.removeSingleMetric(name);
    },
  });
}
