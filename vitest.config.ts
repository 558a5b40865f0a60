import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests import the built library (dist/): it is rebuilt first when a source is newer.
    globalSetup: ['test/global-setup.ts'],
    // Safety nets against a hang, never a verdict on speed: the slowest test takes a few seconds with
    // two CPU-bound processes beside the suite on 2 cores. Above test/wait.ts's SAFETY_NET_MS (4 min),
    // so a hung wait fails with its own message first.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // After the default report: one line naming each part skipped for a missing Debian package
    // and the command that installs it (test/requirements.ts), then the totals.
    reporters: ['default', './test/skip-summary.ts'],
  },
});
