// watchQemu against real migrations between two QEMU processes (test/qemu/harness.ts), and the same
// suite against the simulator's QMP mode: the watch
// connects to a second QMP monitor of the source before `migrate`, and what it reports at the end
// must be QEMU's own: its `last` is the harness's final query-migrate byte for byte, its passes are
// the MIGRATION_PASS events the main monitor received, number and timestamp. Needs
// qemu-system-x86_64 and gcc (test/requirements.ts); every wait is on an event.
import { describe, expect, it, type TestContext } from 'vitest';
import { formatQmp, MigrationStats } from '../dist/index.js';
import { watchQemu, type WatchOutcome } from '../dist/qemu/index.js';
import { runScenario, SCENARIO_NAMES, SCENARIOS } from './qemu/harness.js';
import { startSimulator } from './qemu/simulator.js';
import { eventsOf } from './qemu/record.js';
import { gate } from './requirements.js';
import { BACKENDS } from './helpers.js';

const qemu = gate('qemu');
const compiler = gate('gcc');

function requireQemu(ctx: TestContext): void {
  qemu.check(ctx);
  compiler.check(ctx);
}

/** The same suite on two sources: real QEMUs (when installed) and `migration-stats simulate --qmp`. */
const SOURCES = [
  { about: 'real QEMU migrations (qemu-system-x86_64, TCG)', start: undefined, scenarios: SCENARIO_NAMES, check: requireQemu },
  {
    about: 'the simulator over QMP (migration-stats simulate --qmp), driven as a real QEMU',
    start: startSimulator,
    // One process holds both sides: a destination killed mid-way is not simulated.
    scenarios: SCENARIO_NAMES.filter((scenario) => scenario !== 'destination-killed'),
    check: (): void => undefined,
  },
] as const;

for (const target of SOURCES) {
  describe(`watchQemu on ${target.about}`, () => {
    for (const [i, name] of target.scenarios.entries()) {
      const backend = BACKENDS[i % BACKENDS.length]!;
      it(`${name} (${backend} backend): ${SCENARIOS[name].about}`, async (ctx) => {
        target.check(ctx);
        const stats = await MigrationStats.create({ backend });
        const { record, during } = await runScenario(name, {
          extraMonitors: 1,
          ...(target.start ? { start: target.start } : {}),
          during: async ({ source }) => {
            let ready!: () => void;
            const isReady = new Promise<void>((resolve) => (ready = resolve));
            const watching = watchQemu({ qmp: `unix:${source.monitors[0]}`, interval: 20, stats, onReady: ready });
            // Subscribed to events before it is ready: nothing of the migration can be missed.
            await Promise.race([isReady, watching]);
            return () => watching;
          },
        });
        const outcome = during as WatchOutcome;
        expect(formatQmp(outcome.last, { type: null, response: true })).toBe(record.source.final);
        const passes = eventsOf(record.source).filter((event) => event.name === 'MIGRATION_PASS');
        expect(outcome.passes.map((p) => [p.pass, p.time.seconds * 1_000_000n + p.time.microseconds])).toEqual(
          passes.map((event) => [Number(event.data.pass), event.timestampUs]),
        );
        expect(outcome.exitCode).toBe(outcome.status === 'completed' ? 0 : 1);
        const ram = outcome.last.ram as Record<string, bigint> | undefined;
        if (ram) {
          expect(stats.normalPages.get()).toBe(ram.normal);
          expect(stats.dirtySyncCount.get()).toBe(ram['dirty-sync-count']);
          expect(stats.migrationTransferredBytes()).toBe(ram.transferred);
        }
      });
    }
  });
}
