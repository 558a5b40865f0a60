/**
 * The QEMU facts that real migrations show (test/qemu/facts.ts, the same checks as
 * qemu-real.test.ts), checked on `migration-stats simulate --qmp` driven by the same harness:
 * statuses and their order, MIGRATION_PASS numbers against dirty-sync-count, the destination's
 * replies, cancel. A destination killed mid-way is not simulated (one process holds both sides).
 * Every wait is on an event; no QEMU is needed.
 */
import { describe, it } from 'vitest';
import { checkScenario } from './qemu/facts.js';
import { runScenario, SCENARIO_NAMES, SCENARIOS } from './qemu/harness.js';
import { startSimulator } from './qemu/simulator.js';

// The bandwidth scenario sends 129 MiB four times at 32 MiB/s; the timeout is a safety net for a loaded machine.
const TIMEOUT = 150_000;

describe('the simulator over QMP, driven as a real QEMU (migration-stats simulate --qmp)', () => {
  for (const name of SCENARIO_NAMES.filter((scenario) => scenario !== 'destination-killed')) {
    it(`${name}: ${SCENARIOS[name].about}`, { timeout: TIMEOUT }, async () => {
      const { record } = await runScenario(name, { start: startSimulator });
      checkScenario(record);
    });
  }
});
