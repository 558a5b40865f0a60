/**
 * Real migrations between two QEMU processes on 127.0.0.1 (test/qemu/harness.ts), checking the
 * QEMU-side facts that `watch` and the simulator's QMP mode follow (test/qemu/facts.ts): statuses
 * and their order, MIGRATION_PASS numbers against dirty-sync-count, what the destination reports,
 * how a cancel and a lost destination end. Needs qemu-system-x86_64 and gcc (test/requirements.ts).
 * Every wait is on an event; the scenarios that must run several passes get them from a guest that
 * dirties memory faster than the bandwidth limit lets it go.
 */
import { describe, expect, it, type TestContext } from 'vitest';
import { checkScenario } from './qemu/facts.js';
import { connectMonitor, runScenario, SCENARIO_NAMES, SCENARIOS } from './qemu/harness.js';
import type { QmpClient } from './qemu/qmp-client.js';
import { gate } from './requirements.js';

const qemu = gate('qemu');
const compiler = gate('gcc');

function requireQemu(ctx: TestContext): void {
  qemu.check(ctx);
  compiler.check(ctx);
}

// Each scenario takes about a second here, and a second or two with two CPU-bound processes beside
// it; its only limits are safety nets: the harness's deadline (test/wait.ts's SAFETY_NET_MS) and
// vitest's testTimeout above it.

describe('real QEMU migrations (qemu-system-x86_64, TCG, a 128 MiB guest dirtying 16 MiB)', () => {
  for (const name of SCENARIO_NAMES) {
    it(`${name}: ${SCENARIOS[name].about}`, async (ctx) => {
      requireQemu(ctx);
      const { record } = await runScenario(name);
      checkScenario(record);
    });
  }

  it('sends every event to every monitor: a second -qmp monitor on the source sees exactly the main one’s', async (ctx) => {
    requireQemu(ctx);
    let second: QmpClient | undefined;
    try {
      const { record, during } = await runScenario('precopy', {
        extraMonitors: 1,
        during: async ({ source }) => {
          expect(source.monitors).toHaveLength(1);
          second = await connectMonitor(source.monitors[0]!, 'second source monitor');
          return async () => {
            // The last event of a completed source; the other monitor's copy may still be on its way.
            await second!.waitForEvent((event) => event.name === 'MIGRATION' && event.data.status === 'completed', 'MIGRATION completed');
            return second!.events.map((event) => event.text);
          };
        },
      });
      checkScenario(record);
      expect(during).toEqual(record.source.log.flatMap((entry) => ('event' in entry ? [entry.event] : [])));
    } finally {
      second?.close();
    }
  });
});
